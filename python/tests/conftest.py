"""Fixtures: a real dbsyncd, a WSGI-served Server, client databases."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

import dbsync
import dbsync.wsgi

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = """
CREATE TABLE IF NOT EXISTS city(id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS note(id INTEGER PRIMARY KEY, body TEXT);
CREATE TABLE IF NOT EXISTS member(id INTEGER PRIMARY KEY, email TEXT UNIQUE,
                                  nick TEXT);
CREATE TABLE IF NOT EXISTS tag(code TEXT PRIMARY KEY, label TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS tag_label ON tag(lower(label));
"""
#: The tables of SCHEMA, tracked by every server and client of these tests
#: (member: a UNIQUE column; tag: a unique index on an expression).
TABLES = ("city", "note", "member", "tag")


@pytest.fixture(scope="session")
def dbsyncd_bin(tmp_path_factory) -> str:
    """$DBSYNCD if set (a dbsyncd built elsewhere), else
    build/tools/dbsyncd as ./dev build leaves it, else built here."""
    if os.environ.get("DBSYNCD"):
        return os.environ["DBSYNCD"]
    built = ROOT / "build" / "tools" / "dbsyncd"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    out = tmp_path_factory.mktemp("cmake")
    subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(out),
                           "-DDBSYNC_BUILD_TESTS=OFF",
                           "-DDBSYNC_BUILD_BENCH=OFF"],
                          stdout=subprocess.DEVNULL)
    subprocess.check_call(["cmake", "--build", str(out), "--target",
                           "dbsyncd", "-j", str(os.cpu_count() or 2)],
                          stdout=subprocess.DEVNULL)
    return str(out / "tools" / "dbsyncd")


class Dbsyncd:
    def __init__(self, binary: str, workdir: Path, *extra: str) -> None:
        self.store = workdir / "server.db"
        schema = workdir / "schema.sql"
        schema.write_text(SCHEMA)
        port_file = workdir / "port"
        self.log = open(workdir / "dbsyncd.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--store", f"sqlite:{self.store}", "--schema",
             str(schema), "--track", ",".join(TABLES), "--registration",
             "open",
             "--listen", "127.0.0.1:0", "--port-file", str(port_file),
             *extra], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dbsyncd did not start: " +
                                   (workdir / "dbsyncd.log").read_text())
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def rows(self, table: str = "city") -> list:
        con = sqlite3.connect(self.store)
        try:
            return sorted(con.execute(f"SELECT * FROM {table}").fetchall())
        finally:
            con.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class WsgiServer:
    """A dbsync.Server behind make_app, served by wsgiref on loopback."""

    def __init__(self, workdir: Path, app_wrapper=None) -> None:
        self.store = workdir / "server.db"
        self.server = dbsync.Server(f"sqlite:{self.store}", "open")
        self.server.exec(SCHEMA)
        for table in TABLES:
            self.server.track(table)
        self.errors: list = []
        app = dbsync.wsgi.make_app(self.server)

        def recording_app(environ, start_response):
            try:
                return app(environ, start_response)
            except Exception as e:  # what a framework would log
                self.errors.append(e)
                raise

        self.httpd = make_server("127.0.0.1", 0, recording_app,
                                 handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
        self.server.close()

    def rows(self, table: str = "city") -> list:
        con = sqlite3.connect(self.store)
        try:
            return sorted(con.execute(f"SELECT * FROM {table}").fetchall())
        finally:
            con.close()


@pytest.fixture
def wsgi_server(tmp_path) -> Iterator[WsgiServer]:
    s = WsgiServer(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def dbsyncd(dbsyncd_bin, tmp_path) -> Iterator[Dbsyncd]:
    d = Dbsyncd(dbsyncd_bin, tmp_path)
    yield d
    d.stop()


@pytest.fixture
def start_dbsyncd(dbsyncd_bin, tmp_path):
    """start_dbsyncd(*extra_args) -> a Dbsyncd on tmp_path/server.db (which
    the test may have created first), stopped after the test."""
    started = []

    def start(*extra: str) -> Dbsyncd:
        d = Dbsyncd(dbsyncd_bin, tmp_path, *extra)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture(params=["dbsyncd", "wsgi"])
def any_server(request, dbsyncd_bin, tmp_path):
    """Each end-to-end test runs against dbsyncd and against make_app."""
    if request.param == "dbsyncd":
        s = Dbsyncd(dbsyncd_bin, tmp_path)
    else:
        s = WsgiServer(tmp_path)
    yield s
    s.stop()


class ClientDb:
    """A client database file with the schema, plus a dbsync.Client."""

    def __init__(self, path: Path, url: str | None) -> None:
        self.path = path
        con = sqlite3.connect(path)
        con.executescript(SCHEMA)
        con.close()
        self.client = dbsync.Client(str(path), url, timeout=10)
        for table in TABLES:
            self.client.track(table)

    def insert(self, name: str, key: str | None = None) -> str:
        key = key or uuid.uuid4().hex
        con = sqlite3.connect(self.path)
        with con:
            con.execute("INSERT INTO city VALUES (?, ?)", (key, name))
        con.close()
        return key

    def rows(self, table: str = "city") -> list:
        con = sqlite3.connect(self.path)
        try:
            return sorted(con.execute(f"SELECT * FROM {table}").fetchall())
        finally:
            con.close()

    def exec(self, sql: str, *params) -> None:
        """Write through a sqlite3 connection of its own, committed."""
        con = sqlite3.connect(self.path)
        try:
            with con:
                if params:
                    con.execute(sql, params)
                else:
                    con.executescript(sql)
        finally:
            con.close()


# -- PostgreSQL ---------------------------------------------------------------
#
# As the C tests (tests/harness_pg.c): the server at $DBSYNC_TEST_PG_URL
# (default postgresql://postgres@127.0.0.1:5432/test, trust auth), a fresh
# schema dbsync_t_<pid>_<n> per test, dropped after it, nothing else in the
# database touched. Tests that need it fail, never skip, when it cannot be
# reached: ./dev test starts it.

PG_URL = (os.environ.get("DBSYNC_TEST_PG_URL") or
          "postgresql://postgres@127.0.0.1:5432/test")


def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PgAdmin:
    """An autocommit psycopg connection that makes and drops the tests'
    schemas."""

    def __init__(self) -> None:
        try:
            import psycopg
        except ImportError as e:
            problem = (f"the PostgreSQL tests need psycopg "
                       f"(requirements-dev.txt): {e}")
        else:
            try:
                self.conn = psycopg.connect(PG_URL, autocommit=True,
                                            connect_timeout=10)
                problem = ""
            except psycopg.Error as e:
                problem = (f"PostgreSQL is needed by this test and cannot "
                           f"be reached at {PG_URL} (start it: ./dev test "
                           f"does): {e}")
        if problem:  # failed, never skipped
            pytest.fail(problem, pytrace=False)
        # A schema some connection still uses must not hang the run.
        self.conn.execute("SET lock_timeout = '20s'")
        self.counter = 0
        self._sweep()

    def _sweep(self) -> None:
        """Drop schemas left by test processes that died."""
        rows = self.conn.execute(
            "SELECT nspname FROM pg_namespace"
            " WHERE nspname LIKE 'dbsync\\_t\\_%'").fetchall()
        for (name,) in rows:
            pid = name[len("dbsync_t_"):].split("_", 1)[0]
            if not pid.isdigit() or int(pid) <= 0:
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                self.drop(name)
            except OSError:
                pass  # alive, another user's

    def new_schema(self, suffix: str = "") -> str:
        self.counter += 1
        name = f"dbsync_t_{os.getpid()}_{self.counter}{suffix}"
        self.drop(name)
        self.conn.execute(f"CREATE SCHEMA {_pg_quote(name)}")
        return name

    def drop(self, name: str) -> None:
        self.conn.execute(f"DROP SCHEMA IF EXISTS {_pg_quote(name)} CASCADE")

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[PgAdmin]:
    admin = PgAdmin()
    yield admin
    admin.close()


@pytest.fixture
def pg_schemas(pg_admin):
    """pg_schemas(suffix="") -> the name of a new, empty schema in the
    test database; every schema made is dropped after the test."""
    made = []

    def make(suffix: str = "") -> str:
        name = pg_admin.new_schema(suffix)
        made.append(name)
        return name

    yield make
    for name in made:
        pg_admin.drop(name)


@pytest.fixture
def pg_schema(pg_schemas) -> str:
    """A fresh schema of this test's own (dropped after it)."""
    return pg_schemas()


@pytest.fixture
def make_client(tmp_path):
    made = []

    def make(url: str | None, name: str | None = None) -> ClientDb:
        c = ClientDb(tmp_path / f"{name or uuid.uuid4().hex}.db", url)
        made.append(c)
        return c

    yield make
    for c in made:
        c.client.close()
