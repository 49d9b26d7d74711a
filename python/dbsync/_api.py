"""Client and Server: the idiomatic layer over the private SWIG module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, List, Mapping,
                    Optional, Sequence, Tuple, Union)

from . import _core
from ._errors import (Error, InvalidError, UniqueConflict,
                      UniqueConflictError)

PrimaryKey = Union[int, float, str, bytes]
Operation = Tuple[str, PrimaryKey, str]
Headers = List[Tuple[str, str]]
#: A column value as SQLite stores it.
Value = Union[None, int, float, str, bytes]

_CONFLICT_KINDS = {1: "update/update", 2: "update/delete",
                   3: "delete/update", 4: "delete/delete", 5: "dependency",
                   6: "reversed dependency", 7: "insert/insert",
                   8: "unique"}
_RESOLUTIONS = {_core.DBSYNC_RESOLUTION_KEEP_LOCAL: "keep-local",
                _core.DBSYNC_RESOLUTION_TAKE_REMOTE: "take-remote",
                _core.DBSYNC_RESOLUTION_KEEP_BOTH: "keep-both",
                _core.DBSYNC_RESOLUTION_MERGED: "merged"}
_POLICIES = {"local-wins": _core.DBSYNC_POLICY_LOCAL_WINS,
             "server-wins": _core.DBSYNC_POLICY_SERVER_WINS,
             "callback": _core.DBSYNC_POLICY_CALLBACK}
_ANSWERS = {"keep-local": _core.DBSYNC_RESOLUTION_KEEP_LOCAL,
            "take-remote": _core.DBSYNC_RESOLUTION_TAKE_REMOTE}
_INT64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class Conflict:
    """One conflict a pull met (docs/conflicts.md): its kind, the row, the
    remote operation ("i", "u", "d", or "p" for a restored parent) and how
    it was resolved ("keep-local", "take-remote", "keep-both", "merged").

    A ``"unique"`` entry is a collision that stopped the pull (see
    :class:`dbsync.UniqueConflictError`): it names the *local* row holding
    the values the pulled row needs, its ``op`` is that row's pending
    operation, ``columns`` are the columns of the UNIQUE constraint or
    index, and ``resolution`` is None (nothing was changed)."""
    kind: str
    table: str
    pk: "PrimaryKey"
    op: str
    resolution: Optional[str]
    columns: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ConflictInfo:
    """What a conflict callback (:meth:`Client.on_conflict`) is asked
    about, met while a pull merges a remote operation with a pending local
    one on the same row.

    ``kind`` is "update/update", "update/delete", "delete/update",
    "delete/delete", "dependency", "reversed dependency" or
    "insert/insert"; ``op`` the remote operation ("i", "u", "d", or "p" for
    a parent row restored to undo a local delete). ``is_choice`` is False
    for the structural kinds whose resolution is fixed (delete/delete,
    dependency, reversed dependency, insert/insert on an INTEGER key): the
    callback sees them but its answer is ignored, unless it raises.
    ``resolution`` is what happens when it answers None (what "local-wins"
    does). ``columns`` are the table's columns, the key first; ``local``
    and ``remote`` map each column to that side's value, or are None when
    that side deleted the row. ``pk`` reads on both sides."""
    kind: str
    table: str
    pk: "PrimaryKey"
    op: str
    is_choice: bool
    resolution: str
    columns: Tuple[str, ...]
    local: Optional[Dict[str, Value]]
    remote: Optional[Dict[str, Value]]


#: A conflict callback's answer: None (the default resolution),
#: "keep-local", "take-remote", or a merged row as {column: value}.
ConflictAnswer = Union[None, str, Mapping[str, Value]]
ConflictFn = Callable[[ConflictInfo], ConflictAnswer]
ProgressFn = Callable[[int, int, int, int], Optional[bool]]
PushHook = Callable[[int, int, int], Union[None, bool, str]]

_DIRECTIONS = {
    "both": _core.DBSYNC_DIRECTION_BOTH,
    "push": _core.DBSYNC_DIRECTION_PUSH,
    "pull": _core.DBSYNC_DIRECTION_PULL,
}
_DIRECTION_NAMES = {v: k for k, v in _DIRECTIONS.items()}


def _str(value: Any, what: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    return value


def _sql_value(value: Any, where: str) -> Value:
    """A merged value as the binding passes it on (bool is an int, any
    bytes-like object bytes)."""
    if value is None or isinstance(value, (float, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InvalidError(f"{where}: {value} does not fit SQLite's "
                               f"64-bit integers")
        return int(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{where} must be None, int, float, str or bytes, not "
                    f"{type(value).__name__}")


def _merge_changes(info: ConflictInfo, row: Mapping[Any, Any]
                   ) -> List[Tuple[int, Value]]:
    """The (column index, value) pairs of a merged row. Column names match
    as SQLite matches them (case-insensitively); the key may be given
    with its current value (``dict(conflict.local)`` edited), not
    changed."""
    index = {name.lower(): k for k, name in enumerate(info.columns)}
    changes: List[Tuple[int, Value]] = []
    for name, value in row.items():
        if not isinstance(name, str):
            raise TypeError(f"merged row keys must be column names (str), "
                            f"not {type(name).__name__}")
        k = index.get(name.lower())
        if k is None:
            raise InvalidError(
                f"the merged row names column {name!r}, which table "
                f"{info.table!r} does not have (columns: "
                f"{', '.join(info.columns)})")
        value = _sql_value(value, f"merged value of {name!r}")
        if k == 0:
            if value == info.pk and type(value) is type(info.pk):
                continue
            raise InvalidError(
                f"the merged row cannot change the key {name!r} of "
                f"{info.table!r} ({info.pk!r} to {value!r})")
        changes.append((k, value))
    return changes


def _conflict_wrapper(fn: ConflictFn) -> Callable[..., Any]:
    """What the binding calls (dbs_conflict_cb in bindings/dbsync.i): it
    builds the ConflictInfo, asks ``fn`` and turns its answer into 0, a
    resolution code, or the merged row's (column index, value) pairs.
    Exceptions, the user's or ours, come out of the pull unchanged."""

    def call(kind: int, table: str, op: str, is_choice: int,
             resolution: int, columns: Tuple[str, ...], pk: PrimaryKey,
             local: Optional[tuple], remote: Optional[tuple]) -> Any:
        info = ConflictInfo(
            _CONFLICT_KINDS.get(kind, "?"), table, pk, op, bool(is_choice),
            _RESOLUTIONS.get(resolution, "?"), columns,
            None if local is None else dict(zip(columns, local)),
            None if remote is None else dict(zip(columns, remote)))
        answer = fn(info)
        if answer is None:
            return 0
        if isinstance(answer, str):
            if answer not in _ANSWERS:
                raise InvalidError(
                    f"conflict callback answered {answer!r}: expected "
                    f"None, 'keep-local', 'take-remote' or a dict of "
                    f"column values")
            code: Any = _ANSWERS[answer]
        elif isinstance(answer, Mapping):
            code = _merge_changes(info, answer)
        else:
            raise TypeError(
                f"conflict callback must answer None, 'keep-local', "
                f"'take-remote' or a dict of column values, not "
                f"{type(answer).__name__}")
        # The structural kinds keep their fixed resolution (the answer was
        # still checked, so a mistake shows on the first conflict).
        return code if info.is_choice else 0

    return call


class Client:
    """A local SQLite database that synchronizes with a dbsync server.

    ``Client(path, server_url)`` opens (creating) the database; it is a
    context manager and ``close()`` frees it early. A client may be used by
    one thread at a time; a call made while another thread is inside one
    raises :class:`dbsync.BusyError`. Other connections (``sqlite3``) may
    read and write the same file freely: capture is done by triggers.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"],
                 server_url: Optional[str] = None, *,
                 ca_file: Optional[str] = None,
                 timeout: Optional[float] = None,
                 page_size: Optional[int] = None) -> None:
        self._h = None
        self._progress: Optional[ProgressFn] = None
        self._conflict_fn: Optional[ConflictFn] = None
        self._default_policy: Optional[str] = None  # set_policy(None, ...)
        self._report: List[Conflict] = []  # read early by a failed pull
        self._h = _core.Client.open(_str(path, "path"))
        try:
            if server_url is not None:
                self._h.set_server(_str(server_url, "server_url"))
            if ca_file is not None:
                self._h.set_ca_file(_str(ca_file, "ca_file"))
            if timeout is not None:
                if isinstance(timeout, bool) or not isinstance(
                        timeout, (int, float)):
                    raise TypeError("timeout must be a number of seconds")
                ms = max(1, int(timeout * 1000))
                self._h.set_timeouts(ms, ms)
            if page_size is not None:
                self._h.set_page_size(page_size)
        except BaseException:
            self.close()
            raise

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Close the database; later calls raise :class:`InvalidError`.
        Closing twice is harmless."""
        if self._h is not None and not self._h.closed():
            # Drop the callbacks first: the binding holds them where the
            # garbage collector cannot see, so a callback referring to this
            # client would keep both alive (BusyError while in use).
            self._h.on_progress(None)
            self._h.on_conflict(None)
            self._progress = self._conflict_fn = None
            self._h.close()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._h is None or bool(self._h.closed())

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else repr(self.path)
        return f"<dbsync.Client {state}>"

    @property
    def path(self) -> Optional[str]:
        """The database path given to the constructor (None once closed)."""
        return self._h.path()

    # -- tables -----------------------------------------------------------
    def track(self, table: str, direction: str = "both") -> None:
        """Track ``table`` ("both", "push" or "pull"): its committed
        changes are logged by triggers. Tracking again changes the
        direction. Raises NotFound, SchemaError, InvalidError, BusyError."""
        table = _str(table, "table")
        if direction not in _DIRECTIONS:
            raise InvalidError(
                f"direction must be 'both', 'push' or 'pull', not "
                f"{direction!r}")
        self._h.track(table, _DIRECTIONS[direction])

    def untrack(self, table: str) -> None:
        """Stop tracking ``table`` (its pending operations are dropped)."""
        self._h.untrack(_str(table, "table"))

    def tracked(self, table: str) -> Optional[str]:
        """The direction ``table`` is tracked in, or None."""
        d = self._h.is_tracked(_str(table, "table"))
        return None if d < 0 else _DIRECTION_NAMES.get(d, "both")

    def pending(self) -> List[Operation]:
        """The operations not yet acknowledged by the server, at most one
        per row, in push order: ``[(table, pk, "i"|"u"|"d"), ...]``."""
        return self._h.pending().to_list()

    def conflicts(self) -> List[Conflict]:
        """The conflicts this client's pulls met since the last call (each
        is reported once), whatever the policy; also the ``"unique"``
        collisions that stopped a pull (those a UniqueConflictError
        listed)."""
        out = self._report + self._read_report()
        self._report = []
        return out

    def _read_report(self) -> List[Conflict]:
        ops = self._h.conflicts()
        return [Conflict(_CONFLICT_KINDS.get(ops.conflict_kind(i), "?"),
                         ops.table(i), ops.pk(i), ops.command(i),
                         _RESOLUTIONS.get(ops.resolution(i)),
                         ops.conflict_columns(i))
                for i in range(ops.count())]

    # -- conflicts ----------------------------------------------------------
    def set_policy(self, table: Optional[str], policy: str) -> None:
        """How conflicts on ``table`` are decided: "local-wins" (the
        default), "server-wins" or "callback" (the function given to
        :meth:`on_conflict`; without one, as "local-wins"). ``table`` None
        sets the default of tables without a policy of their own, and then
        also overrides the "callback" default that :meth:`on_conflict`
        brings. Kept for this handle's lifetime (not in the database); the
        table need not be tracked yet. Policies decide the direct
        conflicts (update/update, update/delete, delete/update,
        insert/insert on a TEXT or BLOB key); the structural ones always
        resolve so that no row is orphaned and no insert lost
        (docs/conflicts.md)."""
        if table is not None:
            table = _str(table, "table")
        if not isinstance(policy, str) or policy not in _POLICIES:
            raise InvalidError(
                f"policy must be 'local-wins', 'server-wins' or "
                f"'callback', not {policy!r}")
        self._h.set_policy(table, _POLICIES[policy])
        if table is None:
            self._default_policy = policy

    def on_conflict(self, fn: Optional[ConflictFn]) -> None:
        """Decide conflicts with ``fn(conflict)``, called during a pull for
        every conflict in a table whose policy is "callback" — which
        becomes the default policy (tables with their own
        :meth:`set_policy`, and a default set with ``set_policy(None,
        ...)``, keep theirs). ``conflict`` is a :class:`ConflictInfo`;
        ``fn`` answers None (the default resolution), "keep-local",
        "take-remote", or a merged row: a dict of the column values to
        change (the rest stay as in the local row, or the remote one when
        the local side deleted it; the key cannot change). The merged row
        is written and pushed.

        ``fn`` runs inside the pull's write transaction: it must not use
        this client (BusyError) nor write the database. An exception it
        raises stops the pull, whose current page changes nothing, and
        comes out of pull()/sync() unchanged; so do InvalidError/TypeError
        for an answer that is not one of the above (an unknown column, a
        changed key, a value of another type). None removes the callback
        and restores the "local-wins" default."""
        if fn is not None and not callable(fn):
            raise InvalidError("conflict callback is not callable")
        self._h.on_conflict(None if fn is None else _conflict_wrapper(fn))
        self._conflict_fn = fn
        default = self._default_policy or (
            "local-wins" if fn is None else "callback")
        self._h.set_policy(None, _POLICIES[default])

    def compact(self) -> None:
        """Rewrite the pending log in its compressed form."""
        self._h.compact()

    # -- server settings --------------------------------------------------
    def set_server(self, url: str) -> None:
        """The server's http:// or https:// base URL."""
        self._h.set_server(_str(url, "url"))

    def add_header(self, name: str, value: str) -> None:
        """An extra header sent with every request (e.g. for a proxy)."""
        self._h.add_header(_str(name, "name"), _str(value, "value"))

    def set_auto_repair(self, on: bool) -> None:
        """Whether sync() repairs by itself on RepairRequired (default on)."""
        self._h.set_auto_repair(1 if on else 0)

    def on_progress(self, fn: Optional[ProgressFn]) -> None:
        """Call ``fn(bytes_done, bytes_total, ops_done, ops_total)`` during
        transfers; returning False aborts the call (CallbackError). An
        exception raised by ``fn`` comes out of the call unchanged. None
        removes the callback."""
        self._h.on_progress(fn)
        self._progress = fn

    # -- synchronization --------------------------------------------------
    def register(self, token: Optional[str] = None) -> int:
        """Register with the server (sending ``token`` if its policy wants
        one) and return the new node id."""
        if token is not None:
            token = _str(token, "token")
        self._h.register_node(token)
        node = self.node_id
        assert node is not None
        return node

    @property
    def node_id(self) -> Optional[int]:
        """This node's id, or None before register()."""
        n = self._h.node_id()
        return None if n < 0 else n

    @property
    def registered(self) -> bool:
        """Whether register() succeeded on this database."""
        return self.node_id is not None

    @property
    def latest_version(self) -> Optional[int]:
        """The latest server version fully merged here, or None."""
        v = self._h.latest_version()
        return None if v < 0 else v

    def push(self) -> None:
        """Push the pending operations (PullRequired if the server moved
        on). The GIL is released during the exchange."""
        self._run(self._h.push)

    def pull(self) -> None:
        """Fetch and merge every version after this node's. A pulled row
        colliding with a local one on a UNIQUE constraint stops it before
        its page changes anything: :class:`UniqueConflictError`, whose
        ``conflicts`` name the local rows to fix. An exception raised by a
        callback (conflict, progress) comes out unchanged."""
        self._run(self._h.pull)

    def sync(self, max_rounds: int = 0) -> None:
        """Push; on PullRequired pull and push again (``max_rounds``
        rounds; 0 means the library's default of 5). Raises as push() and
        pull() do."""
        self._run(self._h.sync, max_rounds)

    def repair(self) -> None:
        """Replace the tracked tables' contents with the server's copy
        (rows with pending local operations keep their local state)."""
        self._run(self._h.repair)

    def _run(self, call: Callable[..., None], *args: Any) -> None:
        try:
            call(*args)
        except UniqueConflictError as e:
            # The report holds the collisions (and what earlier pages of
            # this pull met): keep it all for conflicts(), hand over the
            # collisions with the exception.
            try:
                met = self._read_report()
            except Error:  # closed or busy meanwhile: the error stands
                met = []
            self._report.extend(met)
            e.conflicts = [UniqueConflict(c.table, c.pk, c.columns)
                           for c in met if c.kind == "unique"]
            raise

    @property
    def error_message(self) -> str:
        """The message of the most recent failed call ("" if it worked)."""
        return self._h.error_message()


class Server:
    """The central database: answers the dbsync HTTP API through
    :meth:`handle` (see :func:`dbsync.wsgi.make_app`).

    ``store`` is "sqlite:PATH" (a bare path means a SQLite file);
    ``registration`` is "open", "closed" or "token:SECRET". A server may be
    used from several threads at once.
    """

    def __init__(self, store: Union[str, "os.PathLike[str]"],
                 registration: str = "closed") -> None:
        self._h = None
        self._hooks: Tuple[Any, ...] = ()
        store = _str(store, "store")
        if ":" not in store.split("/")[0]:
            store = "sqlite:" + store
        self._h = _core.Server.open(store)
        try:
            self.set_registration(registration)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the store; later calls raise :class:`InvalidError`."""
        if self._h is not None:
            self._h.close()

    @property
    def closed(self) -> bool:
        return self._h is None or bool(self._h.closed())

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def exec(self, sql: str) -> None:
        """Run SQL (DDL, several statements allowed) in one transaction."""
        self._h.exec_sql(_str(sql, "sql"))

    def track(self, table: str) -> None:
        """Synchronize ``table`` (direct writes to it are versioned)."""
        self._h.track(_str(table, "table"))

    def track_all(self) -> int:
        """Track every table with a single-column primary key; returns how
        many are tracked."""
        return self._h.track_all()

    def set_registration(self, policy: str) -> None:
        """"open", "closed" or "token:SECRET"."""
        self._h.set_registration(_str(policy, "registration"))

    def on_register(self, fn: Optional[Callable[[Optional[str]], Any]]
                    ) -> None:
        """Ask ``fn(token)`` after the policy accepts a node: a falsy
        result refuses it. An exception comes out of :meth:`handle`."""
        self._h.on_register(fn)

    def on_push(self, before: Optional[PushHook] = None,
                after: Optional[PushHook] = None) -> None:
        """Push hooks, called ``hook(node_id, version, operations)``.
        ``before`` runs inside the push's transaction: None/True lets it
        through, False or a str (the reason) vetoes it (the node gets
        PushRejected). ``after`` runs once it is committed. An exception
        raised by either comes out of :meth:`handle`."""
        self._h.on_push(before, after)
        self._hooks = (before, after)

    def trim(self, version: int) -> None:
        """Forget the operations of versions up to ``version``."""
        self._h.trim(version)

    def handle(self, method: str, path: str,
               headers: Union[Mapping[str, str], Iterable[Tuple[str, str]]],
               body: bytes = b"") -> Tuple[int, Headers, bytes]:
        """Answer one HTTP request of the dbsync API: returns ``(status,
        headers, body)`` with headers as (name, value) pairs, Content-Type
        first. Errors of the protocol are responses, not exceptions."""
        if isinstance(headers, Mapping):
            pairs = list(headers.items())
        else:
            pairs = list(headers)
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        if not isinstance(body, bytes):
            raise TypeError("body must be bytes")
        resp = self._h.handle(_str(method, "method"), _str(path, "path"),
                              pairs, body)
        out: Headers = [("Content-Type", resp.content_type())]
        for i in range(resp.header_count()):
            out.append((resp.header_name(i), resp.header_value(i)))
        return resp.status(), out, resp.body()
