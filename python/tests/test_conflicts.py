"""Conflict policies, the conflict callback and unique collisions, end to
end: two Python clients against dbsyncd and against make_app on wsgiref."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import dbsync


class Boom(Exception):
    pass


def _pair(server, make_client):
    """a and b registered, both holding city Oslo (TEXT key)."""
    a = make_client(server.url, "a")
    b = make_client(server.url, "b")
    a.client.register()
    b.client.register()
    k = a.insert("Oslo")
    a.client.sync()
    b.client.sync()
    return a, b, k


def _both_rename(server, make_client):
    """a renames Oslo and syncs; b renames it too, offline."""
    a, b, k = _pair(server, make_client)
    a.exec("UPDATE city SET name = 'Oslo A' WHERE id = ?", k)
    a.client.sync()
    b.exec("UPDATE city SET name = 'Oslo B' WHERE id = ?", k)
    return a, b, k


def _file_bytes(path: Path) -> bytes:
    return Path(path).read_bytes()


# -- policies ---------------------------------------------------------------

def test_server_wins(any_server, make_client):
    a, b, k = _both_rename(any_server, make_client)
    b.client.set_policy("CITY", "server-wins")  # names match as in SQLite
    b.client.sync()
    assert b.client.conflicts() == [
        dbsync.Conflict("update/update", "city", k, "u", "take-remote")]
    assert b.client.pending() == []
    a.client.sync()
    assert a.rows() == b.rows() == any_server.rows() == [(k, "Oslo A")]


def test_default_policy_and_table_override(wsgi_server, make_client):
    a, b, k = _both_rename(wsgi_server, make_client)
    b.client.set_policy(None, "server-wins")
    b.client.set_policy("city", "local-wins")
    b.client.sync()
    (c,) = b.client.conflicts()
    assert c.resolution == "keep-local"
    a.client.sync()
    assert a.rows() == b.rows() == [(k, "Oslo B")]


def test_policy_arguments(make_client):
    c = make_client(None).client
    with pytest.raises(dbsync.InvalidError, match="policy must be"):
        c.set_policy("city", "remote-wins")
    with pytest.raises(dbsync.InvalidError):
        c.set_policy(None, None)
    with pytest.raises(TypeError):
        c.set_policy(5, "server-wins")
    with pytest.raises(dbsync.InvalidError, match="empty"):
        c.set_policy("", "server-wins")
    # the table need not exist or be tracked yet (policies are per handle)
    c.set_policy("not_yet_created", "server-wins")
    with pytest.raises(dbsync.InvalidError, match="not callable"):
        c.on_conflict("keep-local")
    c.close()
    for call in (lambda: c.set_policy("city", "server-wins"),
                 lambda: c.on_conflict(None),
                 lambda: c.on_conflict(lambda conflict: None),
                 c.conflicts):
        with pytest.raises(dbsync.InvalidError, match="closed"):
            call()


# -- the callback -----------------------------------------------------------

def test_callback_sees_both_rows_and_merges(any_server, make_client):
    a, b, k = _both_rename(any_server, make_client)
    seen = []
    thread = []

    def merge(conflict: dbsync.ConflictInfo):
        seen.append(conflict)
        thread.append(threading.get_ident())
        return {"name": conflict.remote["name"] + "+" +
                conflict.local["name"][-1]}

    b.client.on_conflict(merge)
    b.client.sync()
    assert seen == [dbsync.ConflictInfo(
        kind="update/update", table="city", pk=k, op="u", is_choice=True,
        resolution="keep-local", columns=("id", "name"),
        local={"id": k, "name": "Oslo B"},
        remote={"id": k, "name": "Oslo A"})]
    assert thread == [threading.get_ident()]
    assert b.client.conflicts() == [
        dbsync.Conflict("update/update", "city", k, "u", "merged")]
    a.client.sync()
    assert a.rows() == b.rows() == any_server.rows() == [(k, "Oslo A+B")]


def test_callback_keep_local_take_remote_and_default(wsgi_server,
                                                     make_client):
    a, b, k = _both_rename(wsgi_server, make_client)
    answers = ["take-remote"]
    b.client.on_conflict(lambda conflict: answers[0])
    b.client.sync()
    assert [c.resolution for c in b.client.conflicts()] == ["take-remote"]
    assert b.rows() == [(k, "Oslo A")]

    for answer, expect, resolution in (("keep-local", "B2", "keep-local"),
                                       (None, "B3", "keep-local")):
        a.exec("UPDATE city SET name = 'A' WHERE id = ?", k)
        a.client.sync()
        b.exec("UPDATE city SET name = ? WHERE id = ?", expect, k)
        answers[0] = answer
        b.client.sync()
        assert [c.resolution for c in b.client.conflicts()] == [resolution]
        a.client.sync()
        assert a.rows() == b.rows() == [(k, expect)]


def test_merging_a_row_deleted_here(any_server, make_client):
    """update/delete: the merged row starts as the remote one and becomes
    b's pending update."""
    a, b, k = _pair(any_server, make_client)
    a.exec("UPDATE city SET name = 'Oslo A' WHERE id = ?", k)
    a.client.sync()
    b.exec("DELETE FROM city WHERE id = ?", k)
    seen = []

    def merge(conflict):
        seen.append(conflict)
        return {"name": "Oslo merged"}

    b.client.on_conflict(merge)
    b.client.pull()
    (c,) = seen
    assert (c.kind, c.op, c.local, c.remote) == (
        "update/delete", "u", None, {"id": k, "name": "Oslo A"})
    assert c.pk == k  # the key reads on both sides
    assert b.client.pending() == [("city", k, "u")]
    b.client.sync()
    a.client.sync()
    assert a.rows() == b.rows() == [(k, "Oslo merged")]


def test_remote_delete_meets_local_update(wsgi_server, make_client):
    a, b, k = _pair(wsgi_server, make_client)
    a.exec("DELETE FROM city WHERE id = ?", k)
    a.client.sync()
    b.exec("UPDATE city SET name = 'kept' WHERE id = ?", k)
    seen = []
    b.client.on_conflict(lambda c: seen.append(c) or "take-remote")
    b.client.sync()
    assert [(c.kind, c.op, c.remote, c.local) for c in seen] == [
        ("delete/update", "d", None, {"id": k, "name": "kept"})]
    assert b.rows() == [] and b.client.pending() == []


def test_structural_conflicts_are_seen_not_decided(wsgi_server, make_client):
    a, b, k = _pair(wsgi_server, make_client)
    # delete/delete on city, insert/insert on note's INTEGER key
    a.exec(f"DELETE FROM city WHERE id = '{k}';"
           "INSERT INTO note VALUES (1, 'from a')")
    a.client.sync()
    b.exec(f"DELETE FROM city WHERE id = '{k}';"
           "INSERT INTO note VALUES (1, 'from b')")
    seen = []

    def decide(conflict):
        seen.append(conflict)
        return {"body": "ignored"} if conflict.table == "note" \
            else "keep-local"

    b.client.on_conflict(decide)
    b.client.sync()
    got = {(c.kind, c.table, c.is_choice, c.resolution) for c in seen}
    assert got == {("delete/delete", "city", False, "take-remote"),
                   ("insert/insert", "note", False, "keep-both")}
    dd = next(c for c in seen if c.kind == "delete/delete")
    assert dd.local is None and dd.remote is None and dd.pk == k
    a.client.sync()
    assert a.rows() == b.rows() == []
    assert a.rows("note") == b.rows("note") == [(1, "from a"),
                                                (2, "from b")]


def test_text_key_insert_insert_is_a_choice(any_server, make_client):
    a, b, _ = _pair(any_server, make_client)
    a.insert("from a", key="same")
    a.client.sync()
    b.insert("from b", key="same")
    seen = []
    b.client.on_conflict(lambda c: seen.append(c) or "take-remote")
    b.client.sync()
    assert [(c.kind, c.op, c.is_choice) for c in seen] == [
        ("insert/insert", "i", True)]
    a.client.sync()
    assert ("same", "from a") in a.rows() and a.rows() == b.rows()


def test_values_of_every_type(wsgi_server, make_client):
    a, b, _ = _pair(wsgi_server, make_client)
    a.exec("INSERT INTO note VALUES (7, 'n')")
    a.client.sync()
    b.client.sync()
    a.exec("UPDATE note SET body = x'00ff' WHERE id = 7")
    a.client.sync()
    b.exec("UPDATE note SET body = NULL WHERE id = 7")
    seen = []
    merged = [{"body": 2.5}, {"BODY": None}, {"body": bytearray(b"\x01")},
              {"body": 2 ** 63 - 1}, {"id": 7, "body": "caf\u00e9"}]
    expect = ["2.5", None, b"\x01", str(2 ** 63 - 1), "caf\u00e9"]

    def merge(conflict):
        seen.append(conflict)
        return merged[len(seen) - 1]

    b.client.on_conflict(merge)
    b.client.sync()
    assert seen[0].remote == {"id": 7, "body": b"\x00\xff"}
    assert seen[0].local == {"id": 7, "body": None}
    assert b.rows("note") == [(7, expect[0])]  # TEXT affinity
    for i in range(1, len(merged)):
        a.exec(f"UPDATE note SET body = 'a{i}' WHERE id = 7")
        a.client.sync()
        b.exec(f"UPDATE note SET body = 'b{i}' WHERE id = 7")
        b.client.sync()
        assert seen[i].local["body"] == f"b{i}"
        assert b.rows("note") == [(7, expect[i])]
        a.client.sync()
        assert a.rows("note") == b.rows("note")


def test_callback_exception_comes_out_of_pull_unchanged(any_server,
                                                        make_client):
    a, b, k = _both_rename(any_server, make_client)
    boom = Boom("from the conflict callback")

    def fail(conflict):
        raise boom

    b.client.on_conflict(fail)
    before = _file_bytes(b.path)
    with pytest.raises(Boom) as e:
        b.client.pull()
    assert e.value is boom
    # the page changed nothing, and reported nothing
    assert _file_bytes(b.path) == before
    assert b.client.conflicts() == []
    assert b.client.pending() == [("city", k, "u")]
    # sync() too; then a working callback meets the same conflict again
    with pytest.raises(Boom) as e:
        b.client.sync()
    assert e.value is boom
    calls = []
    b.client.on_conflict(lambda c: calls.append(c) and None)
    b.client.sync()
    assert len(calls) == 1
    a.client.sync()
    assert a.rows() == b.rows() == [(k, "Oslo B")]


@pytest.mark.parametrize("answer, exc, message", [
    ({"population": 5}, dbsync.InvalidError, "does not have"),
    ({"id": "other"}, dbsync.InvalidError, "cannot change the key"),
    ("merge", dbsync.InvalidError, "answered 'merge'"),
    (2, TypeError, "must answer"),
    ({"name": [1]}, TypeError, "must be None, int, float, str or bytes"),
    ({1: "x"}, TypeError, "column names"),
    ({"name": 2 ** 64}, dbsync.InvalidError, "64-bit"),
    # checked by the binding (dbsync_conflict_set_text takes C strings)
    ({"name": "a\0b"}, dbsync.InvalidError, "NUL"),
])
def test_bad_answers_raise_out_of_pull(wsgi_server, make_client, answer,
                                       exc, message):
    a, b, k = _both_rename(wsgi_server, make_client)
    b.client.on_conflict(lambda conflict: answer)
    before = _file_bytes(b.path)
    with pytest.raises(exc, match=message):
        b.client.pull()
    assert _file_bytes(b.path) == before
    b.client.on_conflict(None)  # back to local wins
    b.client.sync()
    assert b.rows() == [(k, "Oslo B")]


def _decide(conflict: dbsync.ConflictInfo):
    """The example of docs/python.md, Conflicts."""
    if conflict.table != "city" or not conflict.is_choice:
        return None                              # the default
    if conflict.local is None:                   # deleted here, updated there:
        return "take-remote"                     # bring it back
    if conflict.remote is None:                  # deleted there, edited here:
        return "keep-local"                      # keep it (re-created on push)
    names = {conflict.local["name"], conflict.remote["name"]}
    return {"name": " / ".join(sorted(names))}   # both renamed it


def test_the_documented_callback(any_server, make_client):
    a, b, k = _pair(any_server, make_client)
    k2 = a.insert("Bergen")
    a.client.sync()
    b.client.sync()
    b.client.on_conflict(_decide)
    # both rename Oslo; a deletes Bergen, which b renames
    a.exec("UPDATE city SET name = 'Oslo A' WHERE id = ?", k)
    a.exec("DELETE FROM city WHERE id = ?", k2)
    a.client.sync()
    b.exec("UPDATE city SET name = 'Oslo B' WHERE id = ?", k)
    b.exec("UPDATE city SET name = 'Bergen B' WHERE id = ?", k2)
    b.client.sync()
    assert sorted((c.kind, c.resolution) for c in b.client.conflicts()) == [
        ("delete/update", "keep-local"), ("update/update", "merged")]
    a.client.sync()
    assert a.rows() == b.rows() == any_server.rows() == sorted(
        [(k, "Oslo A / Oslo B"), (k2, "Bergen B")])


def test_the_key_may_be_given_unchanged(wsgi_server, make_client):
    a, b, k = _both_rename(wsgi_server, make_client)
    b.client.on_conflict(lambda c: dict(c.remote, name="edited"))
    b.client.sync()
    assert b.rows() == [(k, "edited")]


def test_callback_using_its_client_raises_busy(wsgi_server, make_client):
    a, b, k = _both_rename(wsgi_server, make_client)
    b.client.on_conflict(lambda conflict: b.client.pending())
    with pytest.raises(dbsync.BusyError, match="in use"):
        b.client.pull()
    b.client.on_conflict(lambda conflict: b.client.close())
    with pytest.raises(dbsync.BusyError):
        b.client.pull()
    assert not b.client.closed


def test_on_conflict_and_policies(wsgi_server, make_client):
    """on_conflict(fn) makes "callback" the default; a table's own policy
    and an explicit default keep theirs; None restores local wins."""
    a, b, k = _pair(wsgi_server, make_client)
    c = make_client(wsgi_server.url, "c")
    c.client.register()
    c.client.sync()
    calls = []
    rounds = iter(range(1, 100))

    def conflict_on_city(*clients):
        n = next(rounds)
        a.exec("UPDATE city SET name = ? WHERE id = ?", f"A{n}", k)
        a.client.sync()
        for x in clients:
            x.exec("UPDATE city SET name = ? WHERE id = ?", f"X{n}", k)
        return f"A{n}", f"X{n}"

    b.client.on_conflict(lambda conflict: calls.append(conflict) or
                         "take-remote")
    b.client.set_policy("city", "local-wins")  # the table's own, kept
    remote, local = conflict_on_city(b)
    b.client.sync()
    assert calls == [] and b.rows() == [(k, local)]
    b.client.set_policy("city", "callback")
    remote, local = conflict_on_city(b)
    b.client.sync()
    assert len(calls) == 1 and b.rows() == [(k, remote)]

    # an explicit default, set before on_conflict, stays
    c.client.set_policy(None, "server-wins")
    c.client.on_conflict(lambda conflict: calls.append(conflict))
    remote, local = conflict_on_city(c)
    c.client.sync()
    assert len(calls) == 1 and c.rows() == [(k, remote)]
    # ... and one set after it replaces the callback default
    d = make_client(wsgi_server.url, "d")
    d.client.register()
    d.client.sync()
    d.client.on_conflict(lambda conflict: calls.append(conflict))
    d.client.set_policy(None, "server-wins")
    remote, local = conflict_on_city(d)
    d.client.sync()
    assert len(calls) == 1 and d.rows() == [(k, remote)]

    # on_conflict(None): local wins again
    b.client.set_policy("city", "callback")
    b.client.on_conflict(None)
    remote, local = conflict_on_city(b)
    b.client.sync()
    assert len(calls) == 1 and b.rows() == [(k, local)]


def test_no_memory_for_a_merged_value(dbsyncd, make_client):
    """NoMemory through a real allocation failure: the callback answers a
    merged value larger than what the process may still allocate
    (RLIMIT_AS), so libdbsync's copy of it fails."""
    resource = pytest.importorskip("resource")
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc/self/statm")
    a, b, k = _both_rename(dbsyncd, make_client)
    size = 256 << 20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    page = os.sysconf("SC_PAGE_SIZE")

    def huge(conflict):
        big = bytes(size)
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * page
        limit = vm + size // 4
        if hard != resource.RLIM_INFINITY and limit > hard:
            pytest.skip("hard RLIMIT_AS too low")
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        return {"name": big}

    b.client.on_conflict(huge)
    before = _file_bytes(b.path)
    try:
        with pytest.raises(dbsync.NoMemory) as e:
            b.client.pull()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert e.value.code == -2 and isinstance(e.value, MemoryError)
    assert _file_bytes(b.path) == before
    b.client.on_conflict(None)
    b.client.sync()
    assert b.rows() == [(k, "Oslo B")]


# -- unique constraints -----------------------------------------------------

def test_unique_collision_raises_with_conflicts(any_server, make_client):
    a, b, _ = _pair(any_server, make_client)
    a.exec("INSERT INTO member VALUES (5, 'dup@', 'd5')")
    a.client.sync()
    b.exec("INSERT INTO member VALUES (7, 'dup@', 'd7');"
           "INSERT INTO note VALUES (3, 'more pending work')")
    with pytest.raises(dbsync.UniqueConflictError) as e:
        b.client.sync()
    assert e.value.code == -14 and e.value.name == "UNIQUE_CONFLICT"
    assert "before changing anything" in e.value.message
    assert e.value.conflicts == [("member", 7, ("email",))]
    (u,) = e.value.conflicts
    assert (u.table, u.pk, u.columns) == ("member", 7, ("email",))
    # pull alone: the same, and the file is byte for byte what it was
    before = _file_bytes(b.path)
    with pytest.raises(dbsync.UniqueConflictError) as e:
        b.client.pull()
    assert e.value.conflicts == [("member", 7, ("email",))]
    assert _file_bytes(b.path) == before
    # the report keeps them too, once
    assert b.client.conflicts() == [
        dbsync.Conflict("unique", "member", 7, "i", None, ("email",))] * 2
    assert b.client.conflicts() == []
    # the application renames its row; sync goes through
    b.exec("UPDATE member SET email = 'dup2@' WHERE id = 7")
    b.client.sync()
    a.client.sync()
    assert a.rows("member") == b.rows("member") == any_server.rows(
        "member") == [(5, "dup@", "d5"), (7, "dup2@", "d7")]
    assert b.rows("note") == a.rows("note") == [(3, "more pending work")]


def test_unique_swap_applies(wsgi_server, make_client):
    a, b, _ = _pair(wsgi_server, make_client)
    a.exec("INSERT INTO member VALUES (1, 'x@', 'ex'), (2, 'y@', 'why')")
    a.client.sync()
    b.client.sync()
    a.exec("BEGIN; UPDATE member SET email = 'tmp' WHERE id = 1;"
           "UPDATE member SET email = 'x@' WHERE id = 2;"
           "UPDATE member SET email = 'y@' WHERE id = 1; COMMIT")
    a.client.sync()
    b.client.pull()
    assert b.client.conflicts() == []
    assert b.rows("member") == [(1, "y@", "ex"), (2, "x@", "why")]


def test_collision_on_an_expression_index_is_conflict_error(any_server,
                                                            make_client):
    a, b, _ = _pair(any_server, make_client)
    a.exec("INSERT INTO tag VALUES ('a', 'Blue')")
    a.client.sync()
    b.exec("INSERT INTO tag VALUES ('b', 'BLUE')")
    with pytest.raises(dbsync.ConflictError) as e:
        b.client.sync()
    assert e.value.code == -15 and "expression" in e.value.message
    b.exec("UPDATE tag SET label = 'navy' WHERE code = 'b'")
    b.client.sync()
    a.client.sync()
    assert a.rows("tag") == b.rows("tag") == [("a", "Blue"), ("b", "navy")]


def test_close_lets_go_of_callbacks_that_refer_to_the_client(tmp_path):
    import gc
    import weakref
    c = dbsync.Client(str(tmp_path / "c.db"))
    c.on_conflict(lambda conflict: c.pending())
    c.on_progress(lambda *args: c.pending())
    ref = weakref.ref(c)
    c.close()
    del c
    gc.collect()
    assert ref() is None
