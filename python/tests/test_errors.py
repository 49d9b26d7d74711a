"""Exceptions, bad arguments, closed handles, Server.handle, packaging."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import venv
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest

import dbsync
from dbsync import _core

ROOT = Path(__file__).resolve().parents[2]

CLASSES = {
    -1: "InternalError", -2: "NoMemory", -3: "InvalidError",
    -4: "DatabaseError", -5: "SchemaError", -6: "NetworkError",
    -7: "HttpError", -8: "ProtocolError", -9: "AuthError",
    -10: "NotRegistered", -11: "RegistrationRefused", -12: "PullRequired",
    -13: "PushRejected", -14: "UniqueConflictError", -15: "ConflictError",
    -16: "RepairRequired", -17: "BusyError", -18: "TlsError",
    -19: "CallbackError", -20: "TooLarge", -21: "NotFound",
}


def test_one_class_per_code():
    # every code the loaded library knows has its class
    assert _core.dbsync_error_name(-len(CLASSES) - 1) == "UNKNOWN"
    for code, name in CLASSES.items():
        cls = getattr(dbsync, name)
        assert issubclass(cls, dbsync.Error)
        assert cls.CODE == code
        assert dbsync.error_class(code) is cls
        e = cls("msg")
        assert e.code == code and e.message == "msg"
        assert e.name == _core.dbsync_error_name(code)
    assert dbsync.error_class(-999) is dbsync.Error
    assert dbsync.UniqueConflictError("x").conflicts == []
    assert dbsync.UniqueConflictError(
        "x", conflicts=[("t", 1, ["c"])]).conflicts == [("t", 1, ["c"])]
    assert issubclass(dbsync.NotFound, LookupError)
    assert issubclass(dbsync.InvalidError, ValueError)
    assert dbsync.strerror(-12)


def test_version():
    assert dbsync.__version__ == dbsync.library_version() == "0.1.0"
    assert dbsync.sqlite_version()


def test_invalid_arguments(make_client, tmp_path):
    with pytest.raises(dbsync.InvalidError) as e:
        dbsync.Client("")
    assert e.value.code == -3 and e.value.name == "INVALID"
    a = make_client(None)
    with pytest.raises(dbsync.InvalidError):
        a.client.track("city", direction="sideways")
    with pytest.raises(dbsync.InvalidError):
        a.client.set_server("ftp://example.com")
    with pytest.raises(dbsync.InvalidError):
        dbsync.Client(str(tmp_path / "x.db"), "not a url")
    with pytest.raises(dbsync.InvalidError):
        a.client.push()  # no server set
    with pytest.raises(dbsync.InvalidError):
        a.client.on_progress(42)
    with pytest.raises(dbsync.InvalidError):
        dbsync.Server("nosuchkind:x")
    with pytest.raises(dbsync.InvalidError):
        dbsync.Server(f"sqlite:{tmp_path / 's.db'}", registration="maybe")


def test_wrong_types(make_client):
    a = make_client(None)
    with pytest.raises(TypeError):
        dbsync.Client(123)
    with pytest.raises(TypeError):
        a.client.track(None)
    with pytest.raises(TypeError):
        a.client.untrack(b"city")
    with pytest.raises(TypeError):
        a.client.sync("many")
    with pytest.raises(TypeError):
        a.client.register(token=5)
    with pytest.raises(TypeError):
        dbsync.Client(str(a.path), page_size="big")
    with pytest.raises(TypeError):
        dbsync.Client(str(a.path), timeout="soon")
    # the raw SWIG layer checks too
    with pytest.raises(TypeError):
        a.client._h.track(123, 0)
    with pytest.raises(TypeError):
        a.client._h.set_page_size("x")


def test_closed_client_raises(make_client):
    a = make_client(None)
    c = a.client
    with c:
        pass
    assert c.closed
    c.close()  # twice is fine
    for call in (lambda: c.track("city"), lambda: c.untrack("city"),
                 c.pending, c.compact, c.push, c.pull, c.sync, c.repair,
                 c.register, lambda: c.node_id, lambda: c.latest_version,
                 lambda: c.on_progress(None),
                 lambda: c.add_header("X-A", "b")):
        with pytest.raises(dbsync.InvalidError) as e:
            call()
        assert "closed" in e.value.message
    assert c.path is None


def test_closed_server_raises(tmp_path):
    s = dbsync.Server(str(tmp_path / "s.db"), "open")
    s.close()
    for call in (lambda: s.exec("SELECT 1"), lambda: s.track("t"),
                 s.track_all, lambda: s.trim(1),
                 lambda: s.on_push(None, None),
                 lambda: s.handle("GET", "/", [], b"")):
        with pytest.raises(dbsync.InvalidError):
            call()


def test_not_found_and_schema(make_client):
    a = make_client(None)
    with pytest.raises(dbsync.NotFound) as e:
        a.client.track("nope")
    assert e.value.code == -21 and "nope" in e.value.message
    with pytest.raises(dbsync.NotFound):
        a.client.untrack("nope")
    import sqlite3
    con = sqlite3.connect(a.path)
    con.executescript("CREATE VIEW v AS SELECT * FROM city;"
                      "CREATE TABLE nopk(a, b);")
    con.close()
    with pytest.raises(dbsync.SchemaError):
        a.client.track("v")
    with pytest.raises(dbsync.SchemaError):
        a.client.track("nopk")


def test_database_error(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(dbsync.DatabaseError) as e:
        dbsync.Client(str(p))
    assert e.value.code == -4


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_network_error(make_client):
    a = make_client(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(dbsync.NetworkError) as e:
        a.client.register()
    assert isinstance(e.value, ConnectionError)


def _serve(app):
    httpd = make_server("127.0.0.1", 0, app)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    return httpd


def test_tls_protocol_http_errors(make_client):
    def garbage(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"garbage"]

    def fail(environ, start_response):
        start_response("500 Oops", [("Content-Type", "text/plain")])
        return [b"oops"]

    def newer(environ, start_response):
        # a newer server's error code this library does not know
        start_response("500 Internal Server Error",
                       [("Content-Type", "application/json")])
        return [b'{"error":{"code":-99,"name":"FROM_THE_FUTURE",'
                b'"message":"not yet invented"}}']

    for app, exc, scheme, message in (
            (garbage, dbsync.ProtocolError, "http", None),
            (fail, dbsync.HttpError, "http", None),
            (newer, dbsync.InternalError, "http", "FROM_THE_FUTURE"),
            (garbage, dbsync.TlsError, "https", None)):
        httpd = _serve(app)
        try:
            a = make_client(f"{scheme}://127.0.0.1:{httpd.server_port}")
            with pytest.raises(exc, match=message):
                a.client.register()
        finally:
            httpd.shutdown()
            httpd.server_close()


def test_internal_error_from_a_corrupt_push_in_flight(wsgi_server,
                                                       make_client):
    """The id of the push in flight (kept so that a lost answer can be
    recognized) is damaged in the file: InternalError, nothing sent."""
    a = make_client(wsgi_server.url)
    a.client.register()
    a.insert("x")
    a.exec("INSERT OR REPLACE INTO dbsync_meta(key, value)"
           " VALUES ('push_in_flight', 'not-a-push-id')")
    with pytest.raises(dbsync.InternalError) as e:
        a.client.push()
    assert e.value.code == -1 and e.value.name == "ERROR"
    assert "corrupt" in e.value.message
    assert wsgi_server.rows() == []


def test_every_exception_class_is_raised_by_a_test():
    """A guard on the suite: each class of CLASSES is expected by some
    test of this directory, in ``pytest.raises(dbsync.X`` or in a
    ``(app, dbsync.X, ...)`` row that a loop hands to pytest.raises. Those
    tests provoke it through a real path (docs/python.md, Errors)."""
    import re
    text = "".join(p.read_text() for p in Path(__file__).parent.glob(
        "test_*.py"))
    raised = set(re.findall(r"raises\(dbsync\.(\w+)", text))
    raised |= set(re.findall(r"\(\w+, dbsync\.(\w+), ", text))
    missing = sorted(set(CLASSES.values()) - raised)
    assert missing == []


def test_handle_directly(tmp_path):
    with dbsync.Server(f"sqlite:{tmp_path / 's.db'}", "open") as s:
        s.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
               "CREATE TABLE u(id TEXT PRIMARY KEY);")
        assert s.track_all() == 2
        status, headers, body = s.handle("GET", "/nowhere", {}, b"")
        assert status == 404
        assert headers[0] == ("Content-Type", "application/json")
        assert b"NOT_FOUND" in body
        status, headers, body = s.handle(
            "POST", "/v1/register", [("Content-Type", "application/json")],
            b"{}")
        assert status == 400 and b"PROTOCOL" in body
        with pytest.raises(TypeError):
            s.handle("GET", "/", {}, "text body")
        with pytest.raises(dbsync.InvalidError):
            s.handle("GET", "/", [("a", 1)], b"")
        with pytest.raises(TypeError):
            s.handle("GET", "/", 5, b"")
        with pytest.raises(dbsync.NotFound):
            s.track("missing")


def test_wsgi_header_names():
    from dbsync.wsgi import _header_name
    assert _header_name("HTTP_X_DBSYNC_NODE") == "X-Dbsync-Node"
    assert _header_name("HTTP_HOST") == "Host"


@pytest.mark.slow
def test_pip_install_in_fresh_venv(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)],
                   check=True, env=env, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [str(py), "-c", "import dbsync; print(dbsync.__version__)"],
        check=True, capture_output=True, text=True, cwd=elsewhere)
    assert out.stdout.strip() == dbsync.__version__
    wheels = tmp_path / "wheels"
    subprocess.run([str(py), "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(wheels), str(ROOT)],
                   check=True, env=env, cwd=tmp_path)
    assert list(wheels.glob("dbsync-*.whl"))
