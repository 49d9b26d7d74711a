"""End-to-end: Python clients against dbsyncd and against make_app."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

import dbsync


def test_register_push_pull_sync(any_server, make_client):
    a = make_client(any_server.url, "a")
    b = make_client(any_server.url, "b")
    assert not a.client.registered and a.client.node_id is None
    na, nb = a.client.register(), b.client.register()
    assert isinstance(na, int) and na != nb
    assert a.client.registered and a.client.node_id == na

    k = a.insert("Paris")
    assert a.client.pending() == [("city", k, "i")]
    a.client.push()
    assert a.client.pending() == []
    assert any_server.rows() == [(k, "Paris")]

    b.client.pull()
    assert b.rows() == [(k, "Paris")]
    assert isinstance(b.client.latest_version, int)

    k2 = b.insert("Oslo")
    b.client.sync()
    a.client.sync(max_rounds=3)
    assert a.rows() == b.rows() == sorted([(k, "Paris"), (k2, "Oslo")])


def test_pull_required_from_bare_push(any_server, make_client):
    a = make_client(any_server.url)
    b = make_client(any_server.url)
    a.client.register()
    b.client.register()
    a.insert("one")
    a.client.push()
    b.insert("two")
    with pytest.raises(dbsync.PullRequired) as e:
        b.client.push()
    assert e.value.code == -12 and e.value.name == "PULL_REQUIRED"
    assert e.value.message
    b.client.sync()
    assert len(any_server.rows()) == 2


def test_repair_after_trim(wsgi_server, make_client):
    a = make_client(wsgi_server.url)
    a.client.register()
    a.insert("x")
    a.client.push()
    a.insert("y")
    a.client.push()
    wsgi_server.server.trim(a.client.latest_version)
    b = make_client(wsgi_server.url)
    b.client.register()
    with pytest.raises(dbsync.RepairRequired):
        b.client.pull()
    b.client.repair()
    assert b.rows() == a.rows()
    b.client.pull()
    # sync repairs by itself (auto-repair on by default)
    c = make_client(wsgi_server.url)
    c.client.register()
    c.client.sync()
    assert c.rows() == a.rows()


def test_repair_against_dbsyncd(dbsyncd, make_client):
    a = make_client(dbsyncd.url)
    a.client.register()
    a.insert("x")
    a.client.push()
    b = make_client(dbsyncd.url)
    b.client.register()
    b.insert("local")
    b.client.repair()  # keeps the pending local row
    assert len(b.rows()) == 2
    assert [op[2] for op in b.client.pending()] == ["i"]


def test_writer_thread_while_syncing(any_server, make_client):
    """A writer inserts through sqlite3 while another thread syncs in a
    loop: every row reaches the server (the GIL is released in sync())."""
    a = make_client(any_server.url)
    a.client.register()
    n = 150
    done = threading.Event()
    errors: list = []
    ticks = [0]

    def writer():
        try:
            for i in range(n):
                a.insert(f"row{i}", key=f"k{i:04d}")
                ticks[0] += 1
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            done.set()

    def syncer():
        try:
            while not done.is_set():
                a.client.sync()
            a.client.sync()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer),
               threading.Thread(target=syncer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert a.client.pending() == []
    assert len(any_server.rows()) == n


def test_gil_released_during_network_call(wsgi_server, make_client):
    """While pull() waits for a slow server, another Python thread runs."""
    a = make_client(wsgi_server.url)
    a.client.register()
    started = threading.Event()

    def slow_before(node, version, ops):
        return None

    wsgi_server.server.on_push(before=slow_before)
    counter = [0]
    stop = threading.Event()

    def count():
        started.set()
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    started.wait()
    before = counter[0]
    for i in range(20):
        a.insert(f"r{i}")
        a.client.sync()
    stop.set()
    t.join()
    assert counter[0] > before


def test_progress_callback(any_server, make_client):
    a = make_client(any_server.url)
    a.client.register()
    for i in range(5):
        a.insert(f"c{i}")
    a.client.push()
    b = make_client(any_server.url)
    b.client.register()
    calls = []
    b.client.on_progress(lambda *args: calls.append(args))
    b.client.pull()
    assert calls and all(len(c) == 4 for c in calls)
    assert len(b.rows()) == 5


class Boom(Exception):
    pass


def test_progress_exception_comes_out_of_pull_unchanged(any_server,
                                                        make_client):
    a = make_client(any_server.url)
    a.client.register()
    a.insert("x")
    a.client.push()
    b = make_client(any_server.url)
    b.client.register()
    boom = Boom("from the callback")

    def progress(*args):
        raise boom

    b.client.on_progress(progress)
    with pytest.raises(Boom) as e:
        b.client.pull()
    assert e.value is boom
    # the client still works afterwards
    b.client.on_progress(None)
    b.client.pull()
    assert b.rows() == a.rows()


def test_progress_false_aborts_with_callback_error(wsgi_server, make_client):
    a = make_client(wsgi_server.url)
    a.client.register()
    a.insert("x")
    a.client.push()
    b = make_client(wsgi_server.url)
    b.client.register()
    b.client.on_progress(lambda *args: False)
    with pytest.raises(dbsync.CallbackError) as e:
        b.client.pull()
    assert e.value.code == -19


def test_reentrant_call_from_callback_raises_busy(wsgi_server, make_client):
    a = make_client(wsgi_server.url)
    a.client.register()
    a.insert("x")
    a.client.push()
    b = make_client(wsgi_server.url)
    b.client.register()
    b.client.on_progress(lambda *args: b.client.pending())
    with pytest.raises(dbsync.BusyError) as e:
        b.client.pull()
    assert "in use" in e.value.message


def test_push_hook_veto_and_after(wsgi_server, make_client):
    seen = []
    wsgi_server.server.on_push(
        before=lambda node, version, ops: "no pushes on Sunday",
        after=lambda node, version, ops: seen.append((node, version, ops)))
    a = make_client(wsgi_server.url)
    node = a.client.register()
    a.insert("x")
    with pytest.raises(dbsync.PushRejected) as e:
        a.client.push()
    assert "no pushes on Sunday" in e.value.message
    assert seen == []
    wsgi_server.server.on_push(
        before=lambda *args: None,
        after=lambda node, version, ops: seen.append((node, version, ops)))
    a.client.push()
    assert len(seen) == 1 and seen[0][0] == node and seen[0][2] == 1


def test_push_hook_exception_comes_out_of_handle(wsgi_server, make_client):
    boom = Boom("hook failed")

    def before(*args):
        raise boom

    wsgi_server.server.on_push(before=before)
    a = make_client(wsgi_server.url)
    a.client.register()
    a.insert("x")
    # the WSGI server answers 500; the exception itself left handle()
    with pytest.raises(dbsync.HttpError):
        a.client.push()
    assert wsgi_server.errors and wsgi_server.errors[0] is boom
    assert wsgi_server.rows() == []


def test_registration_policy(wsgi_server, make_client):
    tokens = []

    def policy(token):
        tokens.append(token)
        return token == "good"

    wsgi_server.server.on_register(policy)
    a = make_client(wsgi_server.url)
    with pytest.raises(dbsync.RegistrationRefused):
        a.client.register("bad")
    assert a.client.register("good") > 0
    assert tokens == ["bad", "good"]

    wsgi_server.server.on_register(None)
    wsgi_server.server.set_registration("closed")
    with pytest.raises(dbsync.RegistrationRefused):
        make_client(wsgi_server.url).client.register()


def test_registration_callback_exception(wsgi_server, make_client):
    boom = Boom("policy failed")

    def policy(token):
        raise boom

    wsgi_server.server.on_register(policy)
    with pytest.raises(dbsync.HttpError):
        make_client(wsgi_server.url).client.register()
    assert wsgi_server.errors[0] is boom


def test_not_registered(any_server, make_client):
    a = make_client(any_server.url)
    a.insert("x")
    with pytest.raises(dbsync.NotRegistered):
        a.client.push()


def test_auth_error(wsgi_server, tmp_path, make_client):
    from conftest import WsgiServer
    a = make_client(wsgi_server.url)
    a.client.register()
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = WsgiServer(other_dir)
    try:
        a.client.set_server(other.url)
        a.insert("x")
        with pytest.raises(dbsync.AuthError) as e:
            a.client.push()
        assert e.value.code == -9
    finally:
        other.stop()


def test_too_large(dbsyncd_bin, tmp_path, make_client):
    from conftest import Dbsyncd
    d = Dbsyncd(dbsyncd_bin, tmp_path, "--max-body", "1K")
    try:
        a = make_client(d.url)
        a.client.register()
        for i in range(40):
            a.insert("x" * 100)
        with pytest.raises(dbsync.TooLarge):
            a.client.push()
    finally:
        d.stop()


def test_compact_and_untrack(make_client):
    a = make_client(None)
    k = a.insert("x")
    import sqlite3
    con = sqlite3.connect(a.path)
    with con:
        con.execute("UPDATE city SET name='y' WHERE id=?", (k,))
        con.execute("INSERT INTO note(id, body) VALUES (7, 'n')")
    con.close()
    a.client.compact()
    assert a.client.pending() == [("city", k, "i"), ("note", 7, "i")]
    assert a.client.tracked("note") == "both"
    a.client.untrack("note")
    assert a.client.tracked("note") is None
    assert a.client.pending() == [("city", k, "i")]
    a.client.track("note", direction="pull")
    assert a.client.tracked("note") == "pull"


def test_conflicts_are_reported(any_server, make_client):
    a = make_client(any_server.url, "a")
    b = make_client(any_server.url, "b")
    a.client.register()
    b.client.register()
    k = a.insert("Oslo")
    a.client.sync()
    b.client.sync()
    assert b.client.conflicts() == []

    # Both rename the same city offline; a first.
    for db, name in ((a, "Oslo A"), (b, "Oslo B")):
        con = sqlite3.connect(db.path)
        with con:
            con.execute("UPDATE city SET name = ? WHERE id = ?", (name, k))
        con.close()
    a.client.sync()
    b.client.sync()
    (c,) = b.client.conflicts()
    assert c == dbsync.Conflict("update/update", "city", k, "u", "keep-local")
    assert b.client.conflicts() == []  # handed over once
    a.client.sync()
    assert a.rows() == b.rows() == [(k, "Oslo B")]
