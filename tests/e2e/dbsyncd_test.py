#!/usr/bin/env python3
"""tests/e2e/dbsyncd_test.py - a real `dbsyncd` on a loopback port.

    python3 dbsyncd_test.py PATH/TO/dbsyncd WORKDIR

Starts dbsyncd on fresh SQLite stores (port 0 + --port-file) and checks what
docs/operations.md and docs/protocol.md promise from the outside: health,
metrics, error answers (404, 405, 413, 401, 403), registration with a token,
a signed push and pull, the request log (one line per request, never a
secret), clean shutdown on SIGTERM/SIGINT, exit codes for bad command lines
and unusable stores, and HTTPS with a certificate made by `openssl`.

Only the standard library. Every check is counted and the run goes on, so one
run reports every broken expectation; the last line is "N passed, N failed"
and the exit status is non-zero when anything failed.
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
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

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
"""
TOKEN = "s3cret"
MAX_BODY = 4096
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\S+) "
    r"(\d{3}) (\d+) (\d+(?:\.\d+)?)ms$")


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

    def __init__(self, exe, work, name, args, listen=True):
        self.name = name
        self.log_path = os.path.join(work, name + ".log")
        self.port_file = os.path.join(work, name + ".port")
        self.port = None
        argv = [exe] + list(args)
        if listen:
            argv += ["--listen", "127.0.0.1:0", "--port-file", self.port_file]
        self.argv = argv
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)

    def wait_listening(self, timeout=10.0):
        """The bound port, or None if the process died or never wrote it."""
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

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """(exit code or None if it did not stop in time, seconds)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class Client:
    """Requests to one server; remembers each one for the log checks."""

    def __init__(self, port, context=None):
        self.port = port
        self.context = context
        self.made = []  # (method, path, status or None, response bytes)

    def request(self, method, path, body=None, headers=None):
        if self.context is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                               timeout=10,
                                               context=self.context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            self.made.append((method, path, resp.status, len(data)))
            return resp.status, hdrs, data
        except (OSError, http.client.HTTPException) as e:
            self.made.append((method, path, None, None))
            return None, {}, repr(e).encode()
        finally:
            conn.close()

    def post_json(self, path, doc, headers=None):
        body = json.dumps(doc).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", path, body, h)


def parse_json(data):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def check_error_body(name, status, hdrs, data, want_status, want_name):
    """The protocol's error shape: {"error": {code, name, message}}."""
    doc = parse_json(data)
    err = doc.get("error") if isinstance(doc, dict) else None
    shape = (isinstance(err, dict) and isinstance(err.get("code"), int)
             and err.get("code") < 0 and isinstance(err.get("name"), str)
             and isinstance(err.get("message"), str)
             and "\n" not in err.get("message"))
    T.check(f"{name}: status {want_status}", status == want_status,
            f"got {status}, body {data[:200]!r}")
    T.check(f"{name}: JSON error body", shape, f"body {data[:200]!r}")
    if want_name is not None:
        T.check(f"{name}: error name {want_name}",
                shape and err.get("name") == want_name,
                f"body {data[:200]!r}")
    T.check(f"{name}: content type JSON",
            hdrs.get("content-type", "").startswith("application/json"),
            f"got {hdrs.get('content-type')!r}")
    return err if shape else None


def sign(secret, node_id, method, path, body):
    """The headers of docs/protocol.md "Authentication"."""
    ts = str(int(time.time()))
    nonce = secrets.token_hex(16)
    msg = "\n".join([method, path, ts, nonce,
                     hashlib.sha256(body).hexdigest()]).encode()
    sig = hmac.new(secret, msg, hashlib.sha256).hexdigest()
    return {"X-Dbsync-Node": str(node_id), "X-Dbsync-Timestamp": ts,
            "X-Dbsync-Nonce": nonce, "X-Dbsync-Signature": sig,
            "Content-Type": "application/json"}


# ---- the main server: HTTP API, registration, push/pull, the log ---------

def test_main_server(exe, work):
    store = os.path.join(work, "main.db")
    schema = os.path.join(work, "schema.sql")
    with open(schema, "w") as f:
        f.write(SCHEMA)
    args = ["--store", "sqlite:" + store, "--schema", schema,
            "--track", "city,person", "--registration", "token:" + TOKEN,
            "--max-body", str(MAX_BODY), "--threads", "2"]
    d = Dbsyncd(exe, work, "main", args)
    port = d.wait_listening()
    if not T.check("main: dbsyncd starts and writes --port-file",
                   port is not None and 0 < port < 65536,
                   f"log: {d.log()[-1000:]!r}"):
        d.kill()
        return
    c = Client(port)
    startup = d.log()
    T.check("main: startup line",
            re.search(r"^dbsyncd: listening on http://127\.0\.0\.1:%d "
                      r"\(store sqlite:%s, 2 tables tracked\)$"
                      % (port, re.escape(store)), startup, re.M),
            f"log: {startup!r}")

    # health
    status, hdrs, data = c.request("GET", "/v1/health")
    doc = parse_json(data)
    T.check("health: 200", status == 200, f"got {status} {data[:200]!r}")
    T.check("health: JSON with status ok and protocol 1",
            isinstance(doc, dict) and doc.get("status") == "ok"
            and doc.get("protocol") == 1, f"body {data[:200]!r}")
    T.check("health: content type JSON",
            hdrs.get("content-type", "").startswith("application/json"),
            f"got {hdrs.get('content-type')!r}")
    # urllib too, the way a monitoring script would ask
    try:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/v1/health", timeout=10) as r:
            ok = r.status == 200 and parse_json(r.read()) is not None
        c.made.append(("GET", "/v1/health", 200, None))
    except (urllib.error.URLError, OSError) as e:
        ok = False
        c.made.append(("GET", "/v1/health", None, None))
        print(f"     urllib: {e!r}")
    T.check("health: urllib GET 200 JSON", ok)

    # metrics
    status, hdrs, data = c.request("GET", "/metrics")
    text = data.decode("utf-8", "replace")
    T.check("metrics: 200", status == 200, f"got {status} {text[:200]!r}")
    T.check("metrics: text/plain",
            hdrs.get("content-type", "").startswith("text/plain"),
            f"got {hdrs.get('content-type')!r}")
    counter = re.search(r"^(\w*request\w*)(\{[^}]*\})? (\d+(\.\d+)?(e\+?\d+)?)$",
                        text, re.M)
    T.check("metrics: a request counter with a value", counter,
            f"body {text[:400]!r}")
    if counter:
        T.check("metrics: the request counter has a TYPE line",
                re.search(r"^# TYPE %s counter$" % re.escape(
                    counter.group(1)), text, re.M)
                or re.search(r"^# TYPE %s counter$" % re.escape(
                    re.sub(r"_total$", "", counter.group(1))), text, re.M),
                f"body {text[:400]!r}")

    # routing errors
    status, hdrs, data = c.request("GET", "/v1/nope")
    check_error_body("unknown path", status, hdrs, data, 404, "NOT_FOUND")
    status, hdrs, data = c.request("GET", "/v1/push")
    check_error_body("GET /v1/push", status, hdrs, data, 405, None)
    T.check("GET /v1/push: Allow: POST",
            "POST" in hdrs.get("allow", ""),
            f"headers {hdrs!r}")
    status, hdrs, data = c.request("POST", "/v1/health", b"{}")
    check_error_body("POST /v1/health", status, hdrs, data, 405, None)
    # a path that would forge a second log line if logged raw
    status, hdrs, data = c.request("GET", "/v1/x%0A2026-01-01T00:00:00.000Z"
                                   "%20forged")
    check_error_body("unknown path with an encoded newline", status, hdrs,
                     data, 404, "NOT_FOUND")

    # body limit: over it 413 before the server reads it; at it, not 413
    status, hdrs, data = c.request("POST", "/v1/push", b"x" * (MAX_BODY + 1),
                                   {"Content-Type": "application/json"})
    check_error_body("body over --max-body", status, hdrs, data, 413,
                     "TOO_LARGE")
    status, hdrs, data = c.request("POST", "/v1/register", b"x" * MAX_BODY,
                                   {"Content-Type": "application/json"})
    T.check("body of exactly --max-body: not 413 (malformed: 400)",
            status == 400, f"got {status} {data[:200]!r}")
    status, hdrs, data = c.request("POST", "/v1/register", b"{not json",
                                   {"Content-Type": "application/json"})
    check_error_body("malformed register", status, hdrs, data, 400, None)

    # registration with the token policy
    status, hdrs, data = c.post_json("/v1/register",
                                     {"protocol": 1, "token": "wrong"})
    err = check_error_body("register, wrong token", status, hdrs, data, 403,
                           "REGISTRATION_REFUSED")
    T.check("register, wrong token: message names no token",
            err is None or ("wrong" not in err["message"]
                            and TOKEN not in err["message"]),
            f"{err!r}")
    status, hdrs, data = c.post_json("/v1/register", {"protocol": 1})
    check_error_body("register, no token", status, hdrs, data, 403,
                     "REGISTRATION_REFUSED")
    status, hdrs, data = c.post_json("/v1/register",
                                     {"protocol": 1, "token": TOKEN})
    doc = parse_json(data)
    T.check("register, right token: 200", status == 200,
            f"got {status} {data[:200]!r}")
    node_id = doc.get("node_id") if isinstance(doc, dict) else None
    secret_b64 = doc.get("secret") if isinstance(doc, dict) else None
    secret = None
    try:
        secret = base64.b64decode(secret_b64, validate=True)
    except (TypeError, ValueError):
        pass
    T.check("register: node_id is an integer",
            isinstance(node_id, int) and not isinstance(node_id, bool),
            f"body {data[:200]!r}")
    T.check("register: secret is base64 of >= 32 bytes",
            secret is not None and len(secret) >= 32, f"body {data[:200]!r}")
    status, hdrs, data = c.post_json("/v1/register",
                                     {"protocol": 1, "token": TOKEN})
    doc2 = parse_json(data)
    T.check("register twice: a different node and secret",
            status == 200 and isinstance(doc2, dict)
            and doc2.get("node_id") != node_id
            and doc2.get("secret") != secret_b64, f"got {status}")
    other_secret = doc2.get("secret") if isinstance(doc2, dict) else None

    # authentication
    push = {"protocol": 1, "push_id": secrets.token_hex(16),
            "base_version": None, "tables": {}, "operations": []}
    status, hdrs, data = c.post_json("/v1/push", push)
    check_error_body("push, unsigned", status, hdrs, data, 401, "AUTH")
    if secret is not None and isinstance(node_id, int):
        body = json.dumps(push).encode()
        h = sign(b"\0" * 32, node_id, "POST", "/v1/push", body)
        status, hdrs, data = c.request("POST", "/v1/push", body, h)
        check_error_body("push, wrong secret", status, hdrs, data, 401,
                         "AUTH")
        push_and_pull(c, node_id, secret)

    # SIGTERM: clean stop, then the log
    rc, took = d.stop(signal.SIGTERM)
    log = d.log()
    T.check("SIGTERM: exit 0", rc == 0, f"exit {rc}; log tail "
            f"{log[-500:]!r}")
    T.check("SIGTERM: stopped within 5 s", rc is not None and took < 5.0,
            f"{took:.2f} s")
    T.check("SIGTERM: 'dbsyncd: stopped' is the last line",
            log.rstrip("\n").endswith("dbsyncd: stopped"),
            f"log tail {log[-300:]!r}")
    T.check("SIGTERM: port file removed", not os.path.exists(d.port_file))
    check_log(log, c.made, [TOKEN, secret_b64, other_secret])


def push_and_pull(c, node_id, secret):
    """A signed push of two related rows, replay and stale-base refusals,
    and a pull that brings them back."""
    def signed(path, doc):
        body = json.dumps(doc).encode()
        return c.request("POST", path, body,
                         sign(secret, node_id, "POST", path, body))

    empty = {"protocol": 1, "push_id": secrets.token_hex(16),
             "base_version": None, "tables": {}, "operations": []}
    status, _, data = signed("/v1/push", empty)
    doc = parse_json(data)
    T.check("push, empty: 200 (success, not an error)", status == 200,
            f"got {status} {data[:200]!r}")

    push = {"protocol": 1, "push_id": secrets.token_hex(16),
            "base_version": None,
            "tables": {"city": {"columns": ["id", "name"]},
                       "person": {"columns": ["id", "name", "city_id"]}},
            # the child first: the server orders by foreign key
            "operations": [
                {"table": "person", "pk": 1, "op": "i",
                 "row": [1, "Ada", 1]},
                {"table": "city", "pk": 1, "op": "i", "row": [1, "Oslo"]}]}
    body = json.dumps(push).encode()
    h = sign(secret, node_id, "POST", "/v1/push", body)
    status, _, data = c.request("POST", "/v1/push", body, h)
    doc = parse_json(data)
    version = doc.get("version") if isinstance(doc, dict) else None
    T.check("push, city + person: 200 with a version",
            status == 200 and isinstance(version, int),
            f"got {status} {data[:200]!r}")

    status, hdrs, data = c.request("POST", "/v1/push", body, h)
    check_error_body("push, replayed nonce", status, hdrs, data, 401, "AUTH")

    status, _, data = signed("/v1/push", push)
    doc = parse_json(data)
    T.check("push, same push id again: the same version (idempotent)",
            status == 200 and isinstance(doc, dict)
            and doc.get("version") == version,
            f"got {status} {data[:200]!r}")

    stale = dict(push, push_id=secrets.token_hex(16), base_version=None,
                 operations=[{"table": "city", "pk": 2, "op": "i",
                              "row": [2, "Bergen"]}])
    status, hdrs, data = signed("/v1/push", stale)
    check_error_body("push on a stale base", status, hdrs, data, 409,
                     "PULL_REQUIRED")

    unknown = dict(push, push_id=secrets.token_hex(16), base_version=version,
                   tables={"nope": {"columns": ["id"]}},
                   operations=[{"table": "nope", "pk": 1, "op": "i",
                                "row": [1]}])
    status, hdrs, data = signed("/v1/push", unknown)
    check_error_body("push to an untracked table", status, hdrs, data, 422,
                     None)

    pull = {"protocol": 1, "after_version": None, "target_version": None,
            "cursor": None, "max_operations": 1000, "max_bytes": 1048576}
    status, _, data = signed("/v1/pull", pull)
    doc = parse_json(data)
    ops = doc.get("operations") if isinstance(doc, dict) else None
    got = sorted((o.get("table"), o.get("pk"), o.get("op"))
                 for o in ops or [] if isinstance(o, dict))
    T.check("pull: 200", status == 200, f"got {status} {data[:200]!r}")
    T.check("pull: the pushed rows come back",
            got == [("city", 1, "i"), ("person", 1, "i")],
            f"operations {ops!r}")
    T.check("pull: city before person (foreign-key order)",
            bool(ops) and [o.get("table") for o in ops] == ["city", "person"],
            f"operations {ops!r}")


def check_log(log, made, hidden):
    lines = [l for l in log.splitlines() if not l.startswith("dbsyncd: ")]
    parsed = [LOG_LINE.match(l) for l in lines]
    T.check("log: every request line has the documented format",
            all(parsed), f"{[l for l, m in zip(lines, parsed) if not m]!r}")
    parsed = [m for m in parsed if m]

    # Requests answered 413 never reach the handler (httpd.c answers them),
    # so they are checked apart.
    want = [(m, p, s, n) for m, p, s, n in made if s != 413]
    have = [m for m in parsed if m.group(5) != "413"]
    T.check("log: one line per request", len(have) == len(want),
            f"{len(have)} lines for {len(want)} requests")
    mismatch = []
    for (method, path, status, nbytes), m in zip(want, have):
        # The path as sent, or percent-decoded with unsafe bytes as \xHH.
        decoded = "".join(
            c if 0x20 < ord(c) < 0x7f and c != "\\" else "\\x%02x" % ord(c)
            for c in urllib.parse.unquote(path))
        if (m.group(3), m.group(5)) != (method, str(status)) \
                or m.group(4) not in (path, decoded) \
                or (nbytes is not None and m.group(6) != str(nbytes)) \
                or m.group(2) != "127.0.0.1":
            mismatch.append((method, path, status, nbytes, m.group(0)))
    T.check("log: method, path, status, bytes and peer of each request",
            not mismatch, f"{mismatch[:3]!r}")
    n413 = sum(1 for _, _, s, _ in made if s == 413)
    got413 = sum(1 for m in parsed if m.group(5) == "413")
    T.check("log: requests answered 413 are logged too", got413 == n413,
            f"{got413} lines for {n413} requests")
    for h in hidden:
        if h:
            T.check(f"log: never contains the secret {h[:3]}...",
                    h not in log)
    T.check("log: no request header is logged",
            "X-Dbsync" not in log and "x-dbsync" not in log.lower())


# ---- command line ---------------------------------------------------------

def run(exe, args, timeout=20):
    p = subprocess.run([exe] + args, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def test_command_line(exe, work):
    store = "sqlite:" + os.path.join(work, "cli.db")
    rc, out, err = run(exe, ["--help"])
    T.check("--help: exit 0 with usage on stdout",
            rc == 0 and "usage: dbsyncd" in out and "--store" in out,
            f"exit {rc} {out[:200]!r} {err[:200]!r}")
    rc, out, err = run(exe, ["--version"])
    T.check("--version: exit 0, 'dbsyncd VERSION'",
            rc == 0 and re.match(r"^dbsyncd \d+\.\d+\.\d+", out),
            f"exit {rc} {out!r}")

    usage_cases = [
        ("no arguments (missing --store)", []),
        ("missing --store", ["--track", "city"]),
        ("unknown option", ["--store", store, "--bogus"]),
        ("stray argument", ["--store", store, "extra"]),
        ("--store without a value", ["--store"]),
        ("--listen without a port", ["--store", store, "--listen", "x"]),
        ("--listen port too big", ["--store", store, "--listen",
                                   "127.0.0.1:70000"]),
        ("--registration unknown", ["--store", store, "--registration",
                                    "maybe"]),
        ("--registration token: empty", ["--store", store, "--registration",
                                         "token:"]),
        ("--tls-cert without --tls-key", ["--store", store, "--tls-cert",
                                          "c.pem"]),
        ("--tls-key without --tls-cert", ["--store", store, "--tls-key",
                                          "k.pem"]),
        ("--max-body not a number", ["--store", store, "--max-body", "lots"]),
        ("--max-body 0", ["--store", store, "--max-body", "0"]),
        ("--threads 0", ["--store", store, "--threads", "0"]),
        ("--track with an empty name", ["--store", store, "--track",
                                        "city,,person"]),
        ("--track and --track-all", ["--store", store, "--track", "city",
                                     "--track-all"]),
        ("--store given twice", ["--store", store, "--store", store]),
    ]
    for name, args in usage_cases:
        rc, out, err = run(exe, args)
        T.check(f"usage error, {name}: exit 2 with a message",
                rc == 2 and err.startswith("dbsyncd: ") and out == "",
                f"exit {rc} stdout {out[:100]!r} stderr {err[:200]!r}")
    rc, out, err = run(exe, ["--store", store, "--registration",
                             "t0ken-typo"])
    T.check("usage error: a bad --registration value is not echoed",
            rc == 2 and "t0ken-typo" not in err, f"stderr {err!r}")

    # the store, schema and tracking: the library's message, exit 1
    schema = os.path.join(work, "cli-schema.sql")
    with open(schema, "w") as f:
        f.write(SCHEMA)
    bad_sql = os.path.join(work, "bad.sql")
    with open(bad_sql, "w") as f:
        f.write("CREATE TABLE broken (;\n")
    failure_cases = [
        ("unknown store kind", ["--store", "nosuch:" + work]),
        ("store in a missing directory",
         ["--store", "sqlite:" + os.path.join(work, "no", "dir", "x.db")]),
        ("--schema file missing", ["--store", store, "--schema",
                                   os.path.join(work, "missing.sql")]),
        ("--schema with bad SQL", ["--store", store, "--schema", bad_sql]),
        ("--track an unknown table", ["--store", store, "--track", "nosuch"]),
        ("--track a table after a good one",
         ["--store", store, "--schema", schema, "--track", "city,nosuch"]),
    ]
    for name, args in failure_cases:
        rc, out, err = run(exe, args + ["--listen", "127.0.0.1:0"])
        T.check(f"store error, {name}: exit 1 with a message",
                rc == 1 and err.startswith("dbsyncd: ")
                and len(err.strip().splitlines()) == 1,
                f"exit {rc} stderr {err[:300]!r}")

    # the port is taken: exit 1
    holder = Dbsyncd(exe, work, "holder", ["--store", store])
    port = holder.wait_listening()
    if port:
        rc, out, err = run(exe, ["--store", store, "--listen",
                                 f"127.0.0.1:{port}"])
        T.check("listen error, port in use: exit 1 with a message",
                rc == 1 and err.startswith("dbsyncd: "),
                f"exit {rc} stderr {err[:300]!r}")
    else:
        T.check("listen error: a first server starts", False, holder.log())
    rc, _ = holder.stop(signal.SIGINT)
    T.check("SIGINT: exit 0", rc == 0, f"exit {rc}; log {holder.log()!r}")
    T.check("SIGINT: 'dbsyncd: stopped'", "dbsyncd: stopped" in holder.log())

    # a restart on the same store with the same schema and tables works
    for i in (1, 2):
        d = Dbsyncd(exe, work, f"restart{i}",
                    ["--store", store, "--schema", schema,
                     "--track", "city,person"])
        port = d.wait_listening()
        ok = port is not None
        if ok:
            status, _, _ = Client(port).request("GET", "/v1/health")
            ok = status == 200
        rc, _ = d.stop()
        T.check(f"restart {i} on the same store and schema: serves, exit 0",
                ok and rc == 0, f"port {port} exit {rc} log {d.log()!r}")

    # --track-all counts the tables
    d = Dbsyncd(exe, work, "trackall", ["--store", store, "--track-all"])
    port = d.wait_listening()
    T.check("--track-all: starts, '2 tables tracked'",
            port is not None and "2 tables tracked" in d.log(),
            f"log {d.log()!r}")
    d.stop()

    # the token from a file; neither form of the token is ever printed
    tokfile = os.path.join(work, "token.txt")
    with open(tokfile, "w") as f:
        f.write("fil3-t0ken\n")
    d = Dbsyncd(exe, work, "tokfile",
                ["--store", store, "--registration", "token-file:" + tokfile])
    port = d.wait_listening()
    if T.check("token-file: starts", port is not None, d.log()):
        c = Client(port)
        st_bad, _, _ = c.post_json("/v1/register",
                                   {"protocol": 1, "token": TOKEN})
        st_ok, _, _ = c.post_json("/v1/register",
                                  {"protocol": 1, "token": "fil3-t0ken"})
        T.check("token-file: wrong token 403, the file's token 200",
                (st_bad, st_ok) == (403, 200), f"{st_bad} {st_ok}")
    d.stop()
    T.check("token-file: the token is not logged",
            "fil3-t0ken" not in d.log())
    rc, out, err = run(exe, ["--store", store, "--registration",
                             "token-file:" + os.path.join(work, "nofile")])
    T.check("token-file missing: exit 1", rc == 1, f"exit {rc} {err!r}")


# ---- TLS ------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_certs(tdir):
    os.makedirs(tdir, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=dbsync test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=tdir)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost", cwd=tdir)
    with open(os.path.join(tdir, "ext.cnf"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext.cnf", "-out", "server.pem", cwd=tdir)


def test_tls(exe, work):
    if not shutil.which("openssl"):
        print("skip TLS: no openssl command")
        return
    tdir = os.path.join(work, "tls")
    try:
        make_certs(tdir)
    except subprocess.CalledProcessError as e:
        T.check("TLS: openssl makes a CA and a server certificate", False,
                e.stderr.decode(errors="replace")[-500:])
        return
    ca = os.path.join(tdir, "ca.pem")
    d = Dbsyncd(exe, work, "tls",
                ["--store", "sqlite:" + os.path.join(work, "tls.db"),
                 "--tls-cert", os.path.join(tdir, "server.pem"),
                 "--tls-key", os.path.join(tdir, "server.key")])
    port = d.wait_listening()
    if not T.check("TLS: dbsyncd starts with --tls-cert/--tls-key",
                   port is not None, d.log()):
        d.kill()
        return
    T.check("TLS: startup line says https",
            f"listening on https://127.0.0.1:{port} " in d.log(), d.log())

    ctx = ssl.create_default_context(cafile=ca)
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/v1/health",
                                    timeout=10, context=ctx) as r:
            ok, detail = r.status == 200, ""
    except (urllib.error.URLError, OSError) as e:
        ok, detail = False, repr(e)
    T.check("TLS: HTTPS with the CA verifies, health 200", ok, detail)

    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/v1/health",
                                    timeout=10,
                                    context=ssl.create_default_context()) as r:
            failed, detail = False, f"status {r.status}"
    except urllib.error.URLError as e:
        failed = isinstance(e.reason, ssl.SSLCertVerificationError)
        detail = repr(e)
    except ssl.SSLError as e:
        failed, detail = isinstance(e, ssl.SSLCertVerificationError), repr(e)
    T.check("TLS: HTTPS without the CA fails certificate verification",
            failed, detail)

    status, _, data = Client(port).request("GET", "/v1/health")
    T.check("TLS: plain HTTP on the TLS port gets no answer",
            status is None, f"got {status} {data[:100]!r}")
    status, _, _ = Client(port, ctx).request("GET", "/v1/health")
    T.check("TLS: the server still answers afterwards", status == 200,
            f"got {status}")

    rc, _ = d.stop()
    T.check("TLS: SIGTERM exit 0", rc == 0, f"exit {rc} log {d.log()!r}")

    rc, out, err = run(exe, ["--store", "sqlite:" + os.path.join(work,
                                                                 "tls.db"),
                             "--listen", "127.0.0.1:0",
                             "--tls-cert", os.path.join(tdir, "nope.pem"),
                             "--tls-key", os.path.join(tdir, "server.key")])
    T.check("TLS: an unreadable certificate: exit 1 with a message",
            rc == 1 and err.startswith("dbsyncd: "),
            f"exit {rc} {err[:300]!r}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: dbsyncd_test.py PATH/TO/dbsyncd WORKDIR")
    exe = os.path.abspath(sys.argv[1])
    work = os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for test in (test_main_server, test_command_line, test_tls):
        try:
            test(exe, work)
        except Exception as e:  # report, count, and go on with the rest
            T.check(f"{test.__name__} ran to the end", False, repr(e))
    print(f"{T.passed} passed, {T.failed} failed")
    sys.exit(1 if T.failed else 0)


if __name__ == "__main__":
    main()
