#!/usr/bin/env python3
"""tests/e2e/hostile_test.py - hostile and malformed requests to a real dbsyncd.

    python3 hostile_test.py PATH/TO/dbsyncd WORKDIR

Starts dbsyncd on a fresh SQLite store (port 0 + --port-file, --max-body
65536), registers a node, pushes a few rows with a correctly signed push and
takes a hash of the store's logical content. Then it sends well over a
hundred malformed or hostile requests - broken JSON, wrong types in every
field of push and pull, out-of-range numbers, SQL in table names, deep
nesting, oversized bodies, wrong methods and paths, forged or replayed
signatures, bad cursors - and checks that each one gets the status
docs/protocol.md documents with the error body
{"error": {"code": int, "name": str, "message": str}} whose message is one
line and leaks nothing (no SQL, stack, file path or secret).

Afterwards the server must still answer /v1/health and a signed pull, the
logical content must be unchanged (nothing was half-applied), and the log
must hold exactly one line per request sent.

Only the standard library. Every check is counted and the run goes on; the
last line is "N passed, N failed" and the exit status is non-zero when
anything failed.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS city (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS person (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    city_id INTEGER REFERENCES city(id)
);
CREATE TABLE IF NOT EXISTS untracked (
    id INTEGER PRIMARY KEY,
    v TEXT
);
"""
MAX_BODY = 65536
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\S+) "
    r"(\d{3}) (\d+) (\d+(?:\.\d+)?)ms$")

# docs/c-api.md: the stable codes and their names.
CODES = {
    "ERROR": -1, "NOMEM": -2, "INVALID": -3, "DB": -4, "SCHEMA": -5,
    "NETWORK": -6, "HTTP": -7, "PROTOCOL": -8, "AUTH": -9,
    "NOT_REGISTERED": -10, "REGISTRATION_REFUSED": -11,
    "PULL_REQUIRED": -12, "PUSH_REJECTED": -13, "UNIQUE_CONFLICT": -14,
    "CONFLICT": -15, "REPAIR_REQUIRED": -16, "BUSY": -17, "TLS": -18,
    "CALLBACK": -19, "TOO_LARGE": -20, "NOT_FOUND": -21,
}
# docs/protocol.md "Errors": the names each status may carry.
NAMES_FOR_STATUS = {
    400: {"PROTOCOL", "INVALID"},
    401: {"AUTH"},
    404: {"NOT_FOUND"},
    405: {"INVALID"},
    409: {"PULL_REQUIRED"},
    410: {"REPAIR_REQUIRED"},
    413: {"TOO_LARGE"},
    422: {"SCHEMA", "CONFLICT", "PUSH_REJECTED"},
}

# What an error message must never show: SQL (upper-case keywords as SQL is
# written, or SQLite's own words), a stack trace, a file path.
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|PRAGMA|FROM|WHERE|"
    r"VALUES|BEGIN|COMMIT|ROLLBACK|TABLE|INTO|UNION)\b")
# SQLite's own words (a table the client named, like sqlite_master, may be
# echoed: that is the client's text, not the server's internals).
SQLITE_WORDS = re.compile(
    r"sqlite3|SQLITE_[A-Z]|syntax error|near \"|no such (table|column)|"
    r"database is locked|disk I/O|malformed")
STACK_WORDS = re.compile(
    r"Traceback|\bat 0x[0-9a-f]+|#\d+ +0x|\.c:\d+|\.py\b|segmentation|"
    r"abort|assert", re.I)
PATH_WORDS = re.compile(r"(^|[^\w])/(tmp|work|home|usr|etc|var|proc|root)/")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok


T = Checks()


class Dbsyncd:
    """One dbsyncd process; its stderr (the log) goes to NAME.log."""

    def __init__(self, exe, work, name, args):
        self.log_path = os.path.join(work, name + ".log")
        self.port_file = os.path.join(work, name + ".port")
        self.port = None
        argv = [exe] + list(args) + ["--listen", "127.0.0.1:0",
                                     "--port-file", self.port_file]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)

    def wait_listening(self, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return None
            try:
                with open(self.port_file) as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.port = int(text)
                    return self.port
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.02)
        return None

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class Client:
    """Requests to one server; remembers each (method, path, status)."""

    def __init__(self, port):
        self.port = port
        self.made = []
        self.hidden = []  # the node's secret in every form, once known

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            # skip_accept_encoding: send only the headers we choose.
            conn.putrequest(method, path, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            if body is not None and "Content-Length" not in hdrs:
                hdrs["Content-Length"] = str(len(body))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            self.made.append((method, path, resp.status))
            return resp.status, rh, data
        except (OSError, http.client.HTTPException) as e:
            self.made.append((method, path, None))
            return None, {}, repr(e).encode()
        finally:
            conn.close()

    def raw(self, method, path, raw_bytes):
        """Send raw bytes (a whole request) and parse the answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=20) as s:
                s.sendall(raw_bytes)
                chunks = []
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
            data = b"".join(chunks)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            rh = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                rh[k.strip().lower()] = v.strip()
            if "content-length" in rh:
                body = body[:int(rh["content-length"])]
            self.made.append((method, path, status))
            return status, rh, body
        except (OSError, ValueError, IndexError) as e:
            self.made.append((method, path, None))
            return None, {}, repr(e).encode()


def parse_json(data):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def sign_headers(secret, node_id, method, path, body, ts=None, nonce=None):
    """The headers of docs/protocol.md "Authentication"."""
    ts = str(int(time.time())) if ts is None else str(ts)
    nonce = secrets.token_hex(16) if nonce is None else nonce
    msg = "\n".join([method, path, ts, nonce,
                     hashlib.sha256(body).hexdigest()]).encode()
    sig = hmac.new(secret, msg, hashlib.sha256).hexdigest()
    return {"X-Dbsync-Node": str(node_id), "X-Dbsync-Timestamp": ts,
            "X-Dbsync-Nonce": nonce, "X-Dbsync-Signature": sig,
            "Content-Type": "application/json"}


def logical_dump(db_path):
    """SHA-256 of `sqlite3 server.db .dump` (Python's iterdump is the same
    dump): every table's schema and rows, the dbsync_* tables included.
    dbsync_nonces is the one exception: every correctly signed request,
    even one then refused for its body, legitimately records its nonce
    there (replay protection), so its rows change with every signed
    request and are left out; its schema stays in."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        lines = [l for l in con.iterdump()
                 if not re.match(r'INSERT INTO "?dbsync_nonces"? ', l)]
    finally:
        con.close()
    text = "\n".join(lines)
    return hashlib.sha256(text.encode()).hexdigest(), text


def message_problems(msg, hidden):
    """Why an error message is not a clean one-liner, or []."""
    bad = []
    if not msg.strip():
        bad.append("empty")
    if "\n" in msg or "\r" in msg:
        bad.append("more than one line")
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in msg):
        bad.append("control characters")
    m = SQL_WORDS.search(msg) or SQLITE_WORDS.search(msg)
    if m:
        bad.append(f"SQL ({m.group(0)!r})")
    m = STACK_WORDS.search(msg)
    if m:
        bad.append(f"stack trace ({m.group(0)!r})")
    m = PATH_WORDS.search(msg)
    if m:
        bad.append(f"file path ({m.group(0)!r})")
    for h in hidden:
        if h and h in msg:
            bad.append("a secret")
    if len(msg) > 300:
        bad.append(f"{len(msg)} characters long")
    return bad


class Hostile:
    """Sends the hostile requests and checks every answer."""

    def __init__(self, c, node_id, secret, hidden):
        self.c = c
        self.node_id = node_id
        self.secret = secret
        self.hidden = hidden
        self.count = 0
        self.auth_messages = set()

    def check_answer(self, name, status, hdrs, data, want, names=None,
                     allow=None):
        """`want`: a status or a set of them; `names`: allowed error names
        (default: what protocol.md allows for the status)."""
        self.count += 1
        wants = want if isinstance(want, (set, frozenset)) else {want}
        doc = parse_json(data)
        err = doc.get("error") if isinstance(doc, dict) else None
        shape = (isinstance(doc, dict) and set(doc) == {"error"}
                 and isinstance(err, dict)
                 and set(err) == {"code", "name", "message"}
                 and isinstance(err.get("code"), int)
                 and not isinstance(err.get("code"), bool)
                 and isinstance(err.get("name"), str)
                 and isinstance(err.get("message"), str))
        problems = []
        if status not in wants:
            problems.append(f"status {status}, want {sorted(wants)}")
        if not shape:
            problems.append("not the JSON error body")
        else:
            allowed = names or NAMES_FOR_STATUS.get(status, set())
            if err["name"] not in allowed:
                problems.append(f"name {err['name']!r}, want one of "
                                f"{sorted(allowed)}")
            if CODES.get(err["name"]) != err["code"]:
                problems.append(f"code {err['code']} does not match name "
                                f"{err['name']!r}")
            bad = message_problems(err["message"], self.hidden)
            if bad:
                problems.append("message " + ", ".join(bad))
        if not hdrs.get("content-type", "").startswith("application/json"):
            problems.append(f"content type {hdrs.get('content-type')!r}")
        if allow is not None and allow not in hdrs.get("allow", ""):
            problems.append(f"Allow {hdrs.get('allow')!r}, want {allow!r}")
        if any(h and h.encode() in data for h in self.hidden):
            problems.append("the answer contains the node secret")
        if status == 401 and shape:
            self.auth_messages.add(err["message"])
        T.check(f"{name}: {sorted(wants)[0] if len(wants) == 1 else sorted(wants)}"
                + (f" {err['name']}" if shape else ""),
                not problems,
                "; ".join(problems) + f"; body {data[:300]!r}")

    # -- senders --------------------------------------------------------

    def plain(self, name, method, path, body, want, names=None, allow=None,
              headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        status, hdrs, data = self.c.request(method, path, body, h)
        self.check_answer(name, status, hdrs, data, want, names, allow)

    def signed(self, name, path, body, want, names=None, mutate=None,
               sign_path=None, sign_body=None, secret=None, node_id=None,
               method="POST"):
        """A request signed with the node's secret; `mutate(headers)` can
        then break the headers."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h = sign_headers(secret or self.secret,
                         self.node_id if node_id is None else node_id,
                         method, sign_path or path,
                         body if sign_body is None else sign_body)
        if mutate:
            mutate(h)
        status, hdrs, data = self.c.request(method, path, body, h)
        self.check_answer(name, status, hdrs, data, want, names)

    def raw(self, name, method, path, raw_bytes, want, names=None):
        status, hdrs, data = self.c.raw(method, path, raw_bytes)
        self.check_answer(name, status, hdrs, data, want, names)


def push_doc(base, ops=None, tables=None, **over):
    doc = {"protocol": 1, "push_id": secrets.token_hex(16),
           "base_version": base,
           "tables": tables if tables is not None else {
               "city": {"columns": ["id", "name"]},
               "person": {"columns": ["id", "name", "city_id"]}},
           "operations": ops if ops is not None else [
               {"table": "city", "pk": 50, "op": "i",
                "row": [50, "Hostile"]}]}
    doc.update(over)
    return doc


def without(doc, key):
    d = dict(doc)
    del d[key]
    return d


def pull_doc(**over):
    doc = {"protocol": 1, "after_version": 0, "target_version": None,
           "cursor": None, "max_operations": 1000, "max_bytes": 1048576}
    doc.update(over)
    return doc


def deep(n):
    return b"[" * n + b"]" * n


def run_hostile(h, latest):
    """The hostile requests. `latest` is the server's latest version."""
    # Bodies that would change data if accepted: a wrong answer shows up
    # in the dump hash too.
    good_push = push_doc(latest)
    good_pull = pull_doc()
    R = "/v1/register"

    # ---- not JSON / not an object (register: no authentication) ----
    for name, body in [
            ("register, invalid JSON", b"{not json"),
            ("register, truncated JSON", b'{"protocol": 1, "tok'),
            ("register, truncated after a comma", b'{"protocol": 1,'),
            ("register, JSON array at top level", b'[{"protocol": 1}]'),
            ("register, JSON string at top level", b'"protocol"'),
            ("register, JSON number at top level", b"1"),
            ("register, JSON null at top level", b"null"),
            ("register, body of 0 bytes", b""),
            ("register, only whitespace", b" \r\n\t "),
            ("register, non-UTF-8 bytes", b'{"protocol": 1, "token": "\xff\xfe\xc0\xaf"}'),
            ("register, a lone surrogate escape",
             b'{"protocol": 1, "token": "\\ud800"}'),
            ("register, NUL byte in a string",
             b'{"protocol": 1, "token": "a\x00b"}'),
            ("register, NUL byte outside strings", b'{"protocol": 1}\x00'),
            ("register, escaped NUL in a string",
             b'{"protocol": 1, "token": "a\\u0000b"}'),
            ("register, 10,000-deep array nesting", deep(10000)),
            ("register, 10,000-deep nesting inside a field",
             b'{"protocol": 1, "token": ' + deep(10000) + b"}"),
            ("register, 10,000-deep object nesting",
             b'{"a":' * 10000 + b"1" + b"}" * 10000),
            ("register, trailing garbage", b'{"protocol": 1} {"x": 1}'),
            ("register, duplicate keys", b'{"protocol": 1, "protocol": 1}'),
            ("register, missing protocol", b'{"token": "x"}'),
            ("register, protocol 2", b'{"protocol": 2}'),
            ("register, protocol \"1\"", b'{"protocol": "1"}'),
            ("register, protocol 0", b'{"protocol": 0}'),
            ("register, protocol 1.0", b'{"protocol": 1.0}'),
            ("register, protocol null", b'{"protocol": null}'),
            ("register, protocol 1e400", b'{"protocol": 1e400}'),
            ("register, token a number", b'{"protocol": 1, "token": 5}'),
            ("register, token an object", b'{"protocol": 1, "token": {}}'),
    ]:
        h.plain(name, "POST", R, body, 400)

    # ---- push: protocol and every field with a wrong type ----
    P = "/v1/push"
    body_cases = [
        ("push, invalid JSON", b"{not json"),
        ("push, truncated JSON", json.dumps(good_push).encode()[:-7]),
        ("push, JSON array at top level", json.dumps([good_push]).encode()),
        ("push, JSON string at top level", b'"push"'),
        ("push, JSON number at top level", b"42"),
        ("push, body of 0 bytes", b""),
        ("push, non-UTF-8 bytes in a row",
         json.dumps(good_push).encode().replace(b"Hostile", b"Ho\xffst")),
        ("push, NUL bytes in the body",
         json.dumps(good_push).encode().replace(b"Hostile", b"Ho\x00st")),
        ("push, 10,000-deep nesting in a row",
         json.dumps(good_push).encode().replace(
             b'"Hostile"', deep(10000))),
    ]
    for name, body in body_cases:
        h.signed(name, P, body, 400)
    push_fields = {
        "protocol": ["1", 1.0, True, None, [], {}, 2, 0, -1],
        "push_id": [1, True, None, [], {}],
        "base_version": ["1", 1.5, True, [], {}],
        "tables": [1, "city", True, None, []],
        "operations": [1, "x", True, None, {}],
    }
    for field, values in push_fields.items():
        for v in values:
            h.signed(f"push, {field} = {json.dumps(v)}", P,
                     dict(good_push, **{field: v}), 400)
    for field in ("protocol", "push_id", "base_version", "tables",
                  "operations"):
        h.signed(f"push, missing {field}", P, without(good_push, field), 400)
    for name, pid in [("31 chars", secrets.token_hex(16)[:31]),
                      ("33 chars", secrets.token_hex(16) + "a"),
                      ("upper case", secrets.token_hex(16).upper()),
                      ("not hex", "g" * 32), ("empty", ""),
                      ("SQL", "'; DROP TABLE city; --" + "0" * 10)]:
        h.signed(f"push, push_id {name}", P,
                 dict(good_push, push_id=pid), 400)
    for text in [b"-1", b"1e400", b"99999999999999999999",
                 b"9223372036854775808", b"-9223372036854775809", b"1.0",
                 b"1e3"]:
        body = json.dumps(dict(good_push, base_version=12345)).encode()
        body = body.replace(b"12345", text)
        h.signed(f"push, base_version {text.decode()}", P, body, 400)

    # inside "tables"
    city_op = [{"table": "city", "pk": 50, "op": "i", "row": [50, "H"]}]
    for name, tables in [
            ("tables.city not an object", {"city": ["id", "name"]}),
            ("tables.city = null", {"city": None}),
            ("tables.city.columns missing", {"city": {}}),
            ("tables.city.columns a string", {"city": {"columns": "id"}}),
            ("tables.city.columns empty", {"city": {"columns": []}}),
            ("tables.city.columns[1] a number",
             {"city": {"columns": ["id", 2]}}),
            ("tables.city.columns[1] null",
             {"city": {"columns": ["id", None]}}),
            ("tables.city.columns duplicate",
             {"city": {"columns": ["id", "id"]}}),
            ("tables.city.columns an empty name",
             {"city": {"columns": ["id", ""]}}),
            ("tables.city.columns a 10,000-char name",
             {"city": {"columns": ["id", "n" * 10000]}}),
            ("tables.city.pk a number",
             {"city": {"columns": ["id", "name"], "pk": 1}}),
            ("tables.city.pk not a column",
             {"city": {"columns": ["id", "name"], "pk": "nope"}}),
            ("tables: an empty table name", {"": {"columns": ["id"]}}),
    ]:
        h.signed(f"push, {name}", P,
                 push_doc(latest, ops=city_op, tables=tables), 400)

    # inside "operations"
    T_ = {"city": {"columns": ["id", "name"]},
          "person": {"columns": ["id", "name", "city_id"]}}
    for name, op in [
            ("operations[0] a number", 5),
            ("operations[0] a string", "i"),
            ("operations[0] null", None),
            ("operations[0] an array", ["city", 50, "i"]),
            ("operations[0].table missing", {"pk": 50, "op": "i",
                                             "row": [50, "H"]}),
            ("operations[0].table a number", {"table": 1, "pk": 50,
                                              "op": "i", "row": [50, "H"]}),
            ("operations[0].table null", {"table": None, "pk": 50,
                                          "op": "i", "row": [50, "H"]}),
            ("operations[0].table not in tables",
             {"table": "country", "pk": 50, "op": "i", "row": [50, "H"]}),
            ("operations[0].pk missing", {"table": "city", "op": "i",
                                          "row": [50, "H"]}),
            ("operations[0].pk null", {"table": "city", "pk": None,
                                       "op": "i", "row": [None, "H"]}),
            ("operations[0].pk true", {"table": "city", "pk": True,
                                       "op": "i", "row": [True, "H"]}),
            ("operations[0].pk an array", {"table": "city", "pk": [50],
                                           "op": "i", "row": [50, "H"]}),
            ("operations[0].pk an unknown value object",
             {"table": "city", "pk": {"int": 50}, "op": "i",
              "row": [50, "H"]}),
            ("operations[0].pk infinite",
             {"table": "city", "pk": {"real": "inf"}, "op": "d"}),
            ("operations[0].pk a blob with bad base64",
             {"table": "city", "pk": {"blob": "!!!"}, "op": "d"}),
            ("operations[0].op missing", {"table": "city", "pk": 50,
                                          "row": [50, "H"]}),
            ("operations[0].op a number", {"table": "city", "pk": 50,
                                           "op": 1, "row": [50, "H"]}),
            ("operations[0].op 'x'", {"table": "city", "pk": 50, "op": "x",
                                      "row": [50, "H"]}),
            ("operations[0].op 'ii'", {"table": "city", "pk": 50,
                                       "op": "ii", "row": [50, "H"]}),
            ("operations[0].op 'I'", {"table": "city", "pk": 50, "op": "I",
                                      "row": [50, "H"]}),
            ("operations[0].op empty", {"table": "city", "pk": 50, "op": "",
                                        "row": [50, "H"]}),
            ("operations[0].row missing on an insert",
             {"table": "city", "pk": 50, "op": "i"}),
            ("operations[0].row a string", {"table": "city", "pk": 50,
                                            "op": "i", "row": "50,H"}),
            ("operations[0].row an object", {"table": "city", "pk": 50,
                                             "op": "u", "row": {"id": 50}}),
            ("operations[0].row too short", {"table": "city", "pk": 50,
                                             "op": "i", "row": [50]}),
            ("operations[0].row too long", {"table": "city", "pk": 50,
                                            "op": "i",
                                            "row": [50, "H", "extra"]}),
            ("operations[0].row empty", {"table": "city", "pk": 50,
                                         "op": "u", "row": []}),
            ("operations[0].row on a delete", {"table": "city", "pk": 1,
                                               "op": "d", "row": [1, "O"]}),
            ("operations[0].row on a tombstone", {"table": "city", "pk": 1,
                                                  "op": "t", "row": []}),
            ("operations[0].row[1] an array", {"table": "city", "pk": 50,
                                               "op": "i",
                                               "row": [50, ["H"]]}),
            ("operations[0].row[1] true", {"table": "city", "pk": 50,
                                           "op": "i", "row": [50, True]}),
            ("operations[0].row[1] an object with two keys",
             {"table": "city", "pk": 50, "op": "i",
              "row": [50, {"real": "inf", "blob": ""}]}),
            ("operations[0].pk differs from the row's key",
             {"table": "city", "pk": 50, "op": "i", "row": [51, "H"]}),
            ("operations[0].pk of another type than the row's key",
             {"table": "city", "pk": "50", "op": "u", "row": [50, "H"]}),
    ]:
        h.signed(f"push, {name}", P, push_doc(latest, ops=[op], tables=T_),
                 400)
    # a bad operation after a good one: nothing of the push is applied
    h.signed("push, a good insert then a bad operation", P,
             push_doc(latest, tables=T_, ops=[
                 {"table": "city", "pk": 60, "op": "i", "row": [60, "A"]},
                 {"table": "city", "pk": 61, "op": "i",
                  "row": [62, "B"]}]), 400)
    big = b'{"protocol": 1, "push_id": "' + secrets.token_hex(16).encode() + \
        b'", "base_version": ' + str(latest).encode() + \
        b', "tables": {}, "operations": [' + b",".join(
            [b'{"table":"city","pk":1,"op":"d"}'] * 1500) + b"]}"
    h.signed("push, 1500 operations on a table not in tables", P, big, 400)

    # well-formed but not applicable: 422
    h.signed("push, unknown table", P,
             push_doc(latest, tables={"country": {"columns": ["id"]}},
                      ops=[{"table": "country", "pk": 1, "op": "i",
                            "row": [1]}]), 422, {"SCHEMA"})
    h.signed("push, a table that exists but is not tracked", P,
             push_doc(latest, tables={"untracked": {"columns": ["id", "v"]}},
                      ops=[{"table": "untracked", "pk": 1, "op": "i",
                            "row": [1, "v"]}]), 422, {"SCHEMA"})
    for tname in ["city; DROP TABLE city", '"city"', "city--",
                  "city WHERE 1=1 --", "dbsync_nodes", "sqlite_master",
                  "city\x00x", "c\u00eft\u00ff"]:
        h.signed(f"push, table name {tname!r}", P,
                 push_doc(latest, tables={tname: {"columns": ["id", "name"]}},
                          ops=[{"table": tname, "pk": 1, "op": "d"}]),
                 {400, 422} if "\x00" in tname else 422,
                 None if "\x00" in tname else {"SCHEMA"})
    h.signed("push, SQL in an operation's table name not in tables", P,
             push_doc(latest, tables=T_,
                      ops=[{"table": "city; DROP TABLE city", "pk": 1,
                            "op": "d"}]), 400)
    h.signed("push, unknown column", P,
             push_doc(latest, tables={"city": {"columns": ["id", "nope"]}},
                      ops=[{"table": "city", "pk": 50, "op": "i",
                            "row": [50, "H"]}]), 422, {"SCHEMA"})
    h.signed("push, SQL in a column name", P,
             push_doc(latest, tables={"city": {
                 "columns": ["id", "name) VALUES (1, 'x'); DROP TABLE city;--"]}},
                 ops=[{"table": "city", "pk": 50, "op": "i",
                       "row": [50, "H"]}]), 422, {"SCHEMA"})
    h.signed("push, too few columns for the table", P,
             push_doc(latest, tables={"city": {"columns": ["id"]}},
                      ops=[{"table": "city", "pk": 50, "op": "i",
                            "row": [50]}]), 422, {"SCHEMA"})
    h.signed("push, NOT NULL violated", P,
             push_doc(latest, tables=T_,
                      ops=[{"table": "city", "pk": 50, "op": "i",
                            "row": [50, None]}]), 422, {"CONFLICT"})
    h.signed("push, foreign key to a missing row", P,
             push_doc(latest, tables=T_,
                      ops=[{"table": "person", "pk": 50, "op": "i",
                            "row": [50, "Eve", 999]}]), 422, {"CONFLICT"})
    h.signed("push, delete of a parent that has children", P,
             push_doc(latest, tables=T_,
                      ops=[{"table": "city", "pk": 1, "op": "d"}]),
             422, {"CONFLICT"})
    h.signed("push, text key on an INTEGER PRIMARY KEY", P,
             push_doc(latest, tables=T_,
                      ops=[{"table": "city", "pk": "abc", "op": "i",
                            "row": ["abc", "H"]}]), {400, 422})
    h.signed("push, stale base_version", P,
             push_doc(max(latest - 1, 0) if latest > 1 else None), 409)
    h.signed("push, base_version ahead of the server", P,
             push_doc(latest + 1000), 409)

    # ---- pull: every field with a wrong type, bad cursors, versions ----
    Q = "/v1/pull"
    for name, body in [("pull, invalid JSON", b"{not json"),
                       ("pull, JSON array at top level", b"[]"),
                       ("pull, body of 0 bytes", b""),
                       ("pull, 10,000-deep nesting", deep(10000))]:
        h.signed(name, Q, body, 400)
    pull_fields = {
        "protocol": ["1", 2, None, 1.0],
        "after_version": ["0", 1.5, True, [], {}, -1],
        "target_version": ["1", 1.5, False, [], {}, -1],
        "cursor": [5, True, [], {}],
        "max_operations": ["10", 1.5, True, [], 0, -1],
        "max_bytes": ["10", 1.5, False, {}, 0, -5],
    }
    for field, values in pull_fields.items():
        for v in values:
            h.signed(f"pull, {field} = {json.dumps(v)}", Q,
                     dict(good_pull, **{field: v}), 400)
    h.signed("pull, missing protocol", Q, without(good_pull, "protocol"), 400)
    h.signed("pull, missing after_version", Q,
             without(good_pull, "after_version"), 400)
    for text in [b"1e400", b"99999999999999999999"]:
        body = json.dumps(dict(good_pull, after_version=12345)).encode()
        h.signed(f"pull, after_version {text.decode()}", Q,
                 body.replace(b"12345", text), 400)
    for cur in ["garbage", "", "-1", "0", "0x10", " 1", "1 ", "1e3",
                "99999999999999999999999", "c" * 300,
                "1; DROP TABLE city"]:
        h.signed(f"pull, a cursor the server did not issue ({cur[:20]!r})",
                 Q, dict(good_pull, cursor=cur), 400)
    # ---- repair: cursors the server did not issue (table:type:key) ----
    RP = "/v1/repair"
    good_repair = dict(good_pull, target_version=latest)
    for cur in ["garbage", "", "-1", "01", "+0", "0:", "0:x:1", "0:i:",
                "0:i:1x", "0:i:-", "0:i:99999999999999999999", "0:t:zz",
                "0:t:abc", "0:b:0g", "0:f:7ff8000000000000", "0:f:12",
                "100001", "99999999999999999999:i:1", "0;DROP TABLE city",
                "c" * 300]:
        h.signed(f"repair, a cursor the server did not issue ({cur[:20]!r})",
                 RP, dict(good_repair, cursor=cur), 400)
    h.signed("repair, a cursor without target_version", RP,
             dict(good_pull, cursor="0:i:1"), 400)
    h.signed("pull, after_version beyond the latest", Q,
             dict(good_pull, after_version=latest + 1), 410)
    h.signed("pull, after_version far beyond the latest", Q,
             dict(good_pull, after_version=2 ** 62), 410)
    h.signed("pull, target_version beyond the latest", Q,
             dict(good_pull, target_version=latest + 1), 400)
    h.signed("pull, target_version below after_version", Q,
             dict(good_pull, after_version=latest, target_version=0), 400)

    # ---- oversized bodies: 413 before the server reads them ----
    h.plain("push, body over --max-body", "POST", P,
            b"[" + b" " * MAX_BODY + b"]", 413)
    h.plain("register, body over --max-body", "POST", R,
            b'{"protocol": 1, "token": "' + b"t" * MAX_BODY + b'"}', 413)
    body = json.dumps(dict(good_push, pad="p" * MAX_BODY)).encode()
    h.signed("push, signed, body over --max-body", P, body, 413)
    h.raw("pull, Content-Length of 10^18 without a body", "POST", Q,
          b"POST /v1/pull HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Content-Type: application/json\r\n"
          b"Content-Length: 1000000000000000000\r\nConnection: close\r\n\r\n",
          413)
    chunk = b"x" * 10000
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk)
                       for _ in range(MAX_BODY // len(chunk) + 2))
    h.raw("push, chunked body over --max-body", "POST", P,
          b"POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Content-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          + chunked + b"0\r\n\r\n", 413)
    h.plain("register, body of exactly --max-body is read (then 400)",
            "POST", R, b"{" + b" " * (MAX_BODY - 2) + b"}", 400)

    # ---- methods and paths ----
    for method, path, allow in [("GET", P, "POST"), ("PUT", Q, "POST"),
                                ("DELETE", R, "POST"), ("PATCH", P, "POST"),
                                ("OPTIONS", Q, "POST"),
                                ("POST", "/v1/health", "GET"),
                                ("DELETE", "/metrics", "GET"),
                                ("GET", P + "?x=1", "POST")]:
        h.plain(f"{method} {path}", method, path,
                None if method in ("GET", "OPTIONS", "DELETE") else b"{}",
                405, {"INVALID"}, allow)
    for path in ["/v2/push", "/v1/push/", "/../etc/passwd",
                 "/v1/../v1/push", "/%2e%2e/etc/passwd", "/v1//push",
                 "/V1/PUSH", "/v1/push%00", "/v1/push;x", "/", "/v1",
                 "/v1/repair/../push", "/" + "a" * 5000,
                 "/v2/push?x=1", "/v1/%0d%0aX-Injected:%20yes"]:
        h.plain(f"POST {path[:40]}", "POST", path, b"{}", 404)
    h.plain("GET /v1/nope?a=b&c", "GET", "/v1/nope?a=b&c", None, 404)
    h.plain("register with a query string, invalid body", "POST",
            R + "?token=x&protocol=1", b"{not json", 400)
    h.plain("push with a query string, unsigned", "POST",
            P + "?node=1&signature=x", json.dumps(good_push).encode(), 401)
    status, hdrs, data = h.c.request("GET", "/v1/health?verbose=1&x=%00")
    doc = parse_json(data)
    T.check("GET /v1/health with a query string: 200 ok",
            status == 200 and isinstance(doc, dict)
            and doc.get("status") == "ok", f"got {status} {data[:200]!r}")

    # ---- authentication: every failure is 401 AUTH, same message ----
    push_body = json.dumps(push_doc(latest)).encode()

    def drop(name):
        return lambda hd: hd.pop(name)

    def setv(name, value):
        return lambda hd: hd.__setitem__(name, value)

    h.plain("push, no auth headers", "POST", P, push_body, 401)
    h.plain("pull, no auth headers", "POST", Q,
            json.dumps(good_pull).encode(), 401)
    for hdr in ("X-Dbsync-Node", "X-Dbsync-Timestamp", "X-Dbsync-Nonce",
                "X-Dbsync-Signature"):
        h.signed(f"push, missing {hdr}", P, push_body, 401, mutate=drop(hdr))
    for hdr in ("X-Dbsync-Node", "X-Dbsync-Timestamp", "X-Dbsync-Nonce",
                "X-Dbsync-Signature"):
        h.signed(f"push, empty {hdr}", P, push_body, 401,
                 mutate=setv(hdr, ""))

    def flip(hd):
        s = hd["X-Dbsync-Signature"]
        hd["X-Dbsync-Signature"] = ("0" if s[0] != "0" else "1") + s[1:]
    h.signed("push, bad signature (one digit changed)", P, push_body, 401,
             mutate=flip)
    h.signed("push, signature too short", P, push_body, 401,
             mutate=lambda hd: hd.__setitem__(
                 "X-Dbsync-Signature", hd["X-Dbsync-Signature"][:63]))
    h.signed("push, signature not hex", P, push_body, 401,
             mutate=setv("X-Dbsync-Signature", "z" * 64))
    h.signed("push, signed with another secret", P, push_body, 401,
             secret=b"\0" * 32)
    h.signed("push, signed over another body", P, push_body, 401,
             sign_body=b"{}")
    h.signed("push, signed for another path", P, push_body, 401,
             sign_path=Q)
    h.signed("pull, signed for another method", Q,
             json.dumps(good_pull).encode(), 401,
             mutate=lambda hd: hd.update(sign_headers(
                 h.secret, h.node_id, "GET", Q,
                 json.dumps(good_pull).encode(),
                 ts=hd["X-Dbsync-Timestamp"], nonce=hd["X-Dbsync-Nonce"])))
    now = int(time.time())
    for name, ts in [("stale timestamp (-1000 s)", now - 1000),
                     ("future timestamp (+1000 s)", now + 1000),
                     ("timestamp 0", 0),
                     ("timestamp 10^15", 10 ** 15)]:
        h.signed(f"push, {name}", P, push_body, 401,
                 mutate=lambda hd, ts=ts: hd.update(sign_headers(
                     h.secret, h.node_id, "POST", P, push_body, ts=ts)))
    for name, ts in [("negative timestamp", "-5"),
                     ("non-numeric timestamp", "now"),
                     ("timestamp with a fraction", f"{now}.5"),
                     ("overlong timestamp", "1" * 4000)]:
        h.signed(f"push, {name}", P, push_body, 401,
                 mutate=lambda hd, ts=ts: hd.update(sign_headers(
                     h.secret, h.node_id, "POST", P, push_body, ts=ts)))
    for name, nonce in [("nonce of 31 hex chars", secrets.token_hex(16)[:31]),
                        ("nonce not hex", "x" * 32),
                        ("nonce with SQL", "'; DROP TABLE dbsync_nonces;--"),
                        ("overlong nonce", "a" * 4000)]:
        h.signed(f"push, {name}", P, push_body, 401,
                 mutate=lambda hd, n=nonce: hd.update(sign_headers(
                     h.secret, h.node_id, "POST", P, push_body, nonce=n)))
    for name, node in [("unknown node", 999999),
                       ("node 0", 0), ("node -1", "-1"),
                       ("non-numeric node id", "abc"),
                       ("node id with SQL", "1 OR 1=1"),
                       ("node id in hex", "0x1"),
                       ("node id beyond int64", "99999999999999999999"),
                       ("overlong node id", "1" * 4000)]:
        h.signed(f"push, {name}", P, push_body, 401, node_id=node)
    h.signed("push, overlong signature header", P, push_body, 401,
             mutate=setv("X-Dbsync-Signature", "a" * 8000))
    # replays: the exact bytes and headers of a request already accepted
    hd = sign_headers(h.secret, h.node_id, "POST", Q,
                      json.dumps(good_pull).encode())
    status, _, data = h.c.request("POST", Q, json.dumps(good_pull).encode(),
                                  hd)
    T.check("pull, signed: 200 (the request replayed next)", status == 200,
            f"got {status} {data[:200]!r}")
    status, rh, data = h.c.request("POST", Q, json.dumps(good_pull).encode(),
                                   hd)
    h.check_answer("pull, replayed nonce", status, rh, data, 401)
    h.signed("push, replayed nonce (a new body, a used nonce)", P, push_body,
             401, mutate=lambda d: d.update(sign_headers(
                 h.secret, h.node_id, "POST", P, push_body,
                 nonce=hd["X-Dbsync-Nonce"])))


def test_hostile(exe, work):
    store = os.path.join(work, "server.db")
    schema = os.path.join(work, "schema.sql")
    with open(schema, "w") as f:
        f.write(SCHEMA)
    d = Dbsyncd(exe, work, "server",
                ["--store", "sqlite:" + store, "--schema", schema,
                 "--track", "city,person", "--registration", "open",
                 "--max-body", str(MAX_BODY)])
    port = d.wait_listening()
    if not T.check("dbsyncd starts and writes --port-file", port is not None,
                   f"log: {d.log()[-1000:]!r}"):
        d.kill()
        return
    c = Client(port)
    try:
        hostile_run(c, d, store, work)
    finally:
        rc = d.stop()
    T.check("SIGTERM after the hostile requests: exit 0", rc == 0,
            f"exit {rc}; log tail {d.log()[-500:]!r}")
    check_log(d.log(), c.made, c.hidden)


def hostile_run(c, d, store, work):
    # register a node and push some rows with a correctly signed push
    status, _, data = c.request("POST", "/v1/register", b'{"protocol": 1}',
                                {"Content-Type": "application/json"})
    doc = parse_json(data)
    ok = (status == 200 and isinstance(doc, dict)
          and isinstance(doc.get("node_id"), int)
          and isinstance(doc.get("secret"), str))
    if not T.check("register: 200 with node_id and secret", ok,
                   f"got {status} {data[:200]!r}"):
        return
    node_id = doc["node_id"]
    secret_b64 = doc["secret"]
    secret = base64.b64decode(secret_b64)
    hidden = [secret_b64, secret.hex(), secret_b64.rstrip("=")]
    c.hidden = hidden

    ops = [{"table": "city", "pk": i, "op": "i", "row": [i, n]}
           for i, n in [(1, "Oslo"), (2, "Bergen"), (3, "Turku")]]
    ops += [{"table": "person", "pk": 1, "op": "i", "row": [1, "Ada", 1]},
            {"table": "person", "pk": 2, "op": "i", "row": [2, "Bo", 3]}]
    versions = []
    for batch in (ops[:3], ops[3:]):
        body = json.dumps(push_doc(versions[-1] if versions else None,
                                   ops=batch)).encode()
        status, _, data = c.request(
            "POST", "/v1/push", body,
            sign_headers(secret, node_id, "POST", "/v1/push", body))
        doc = parse_json(data)
        v = doc.get("version") if isinstance(doc, dict) else None
        if not T.check("setup push: 200 with a version",
                       status == 200 and isinstance(v, int),
                       f"got {status} {data[:200]!r}"):
            return
        versions.append(v)
    latest = versions[-1]

    before, dump = logical_dump(store)
    T.check("the dump holds the pushed rows",
            "Oslo" in dump and "Turku" in dump and "Ada" in dump
            and "dbsync_versions" in dump and "dbsync_nodes" in dump,
            dump[:500])

    h = Hostile(c, node_id, secret, hidden)
    run_hostile(h, latest)
    T.check(f"at least 40 hostile requests sent ({h.count})", h.count >= 40)
    T.check("every 401 has the same message (a prober learns nothing)",
            len(h.auth_messages) == 1, f"{sorted(h.auth_messages)!r}")

    # the server is still fine, and nothing changed
    status, _, data = c.request("GET", "/v1/health")
    doc = parse_json(data)
    T.check("after the hostile requests: /v1/health 200",
            status == 200 and isinstance(doc, dict)
            and doc.get("status") == "ok"
            and doc.get("latest_version") == latest,
            f"got {status} {data[:200]!r}")
    body = json.dumps(pull_doc()).encode()
    status, _, data = c.request(
        "POST", "/v1/pull", body,
        sign_headers(secret, node_id, "POST", "/v1/pull", body))
    doc = parse_json(data)
    got = sorted((o.get("table"), o.get("pk"), tuple(o.get("row") or ()))
                 for o in (doc or {}).get("operations", [])
                 if isinstance(o, dict)) if isinstance(doc, dict) else None
    want = sorted((o["table"], o["pk"], tuple(o["row"])) for o in ops)
    T.check("after the hostile requests: a signed pull returns exactly the "
            "pushed rows", status == 200 and got == want,
            f"got {status} {got!r}")
    after, dump2 = logical_dump(store)
    if before != after:
        import difflib
        diff = "\n".join(difflib.unified_diff(dump.splitlines(),
                                              dump2.splitlines(),
                                              lineterm="", n=0))
    else:
        diff = ""
    T.check("the logical dump (except dbsync_nonces rows) is unchanged",
            before == after, diff[:2000])


def check_log(log, made, hidden):
    lines = [l for l in log.splitlines() if not l.startswith("dbsyncd: ")]
    parsed = [LOG_LINE.match(l) for l in lines]
    T.check("log: every request line has the documented format",
            all(parsed),
            f"{[l[:200] for l, m in zip(lines, parsed) if not m][:5]!r}")
    T.check(f"log: exactly one line per request sent ({len(made)})",
            len(lines) == len(made),
            f"{len(lines)} lines for {len(made)} requests")
    mismatch = []
    for k, ((method, path, status), m) in enumerate(zip(made, parsed)):
        if not m:
            continue
        if (m.group(3), m.group(5)) != (method, str(status)):
            mismatch.append((k, method, path[:60], status, m.group(0)[:200]))
    T.check("log: the lines are the requests in order (method, status)",
            not mismatch, f"{mismatch[:5]!r}")
    too_long = [l[:80] for l in lines if len(l) > 3000]
    T.check("log: a very long path is cut", not too_long, repr(too_long))
    for hsec in hidden:
        if hsec:
            T.check(f"log: never contains the node secret ({hsec[:3]}...)",
                    hsec not in log)
    T.check("log: no request header is logged",
            "x-dbsync" not in log.lower())


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: hostile_test.py PATH/TO/dbsyncd WORKDIR")
    exe = os.path.abspath(sys.argv[1])
    work = os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        test_hostile(exe, work)
    except Exception as e:  # report, count, and end with the summary
        import traceback
        traceback.print_exc()
        T.check("test_hostile ran to the end", False, repr(e))
    print(f"{T.passed} passed, {T.failed} failed")
    sys.exit(1 if T.failed else 0)


if __name__ == "__main__":
    main()
