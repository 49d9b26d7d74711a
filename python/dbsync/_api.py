"""Client and Server: the idiomatic layer over the private SWIG module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import (Any, Callable, Iterable, List, Mapping, Optional,
                    Sequence, Tuple, Union)

from . import _core
from ._errors import InvalidError

PrimaryKey = Union[int, float, str, bytes]
Operation = Tuple[str, PrimaryKey, str]
Headers = List[Tuple[str, str]]

_CONFLICT_KINDS = {1: "update/update", 2: "update/delete",
                   3: "delete/update", 4: "delete/delete", 5: "dependency",
                   6: "reversed dependency", 7: "insert/insert",
                   8: "unique"}
_RESOLUTIONS = {1: "keep-local", 2: "take-remote", 3: "keep-both"}


@dataclass(frozen=True)
class Conflict:
    """One conflict a pull met (docs/conflicts.md): its kind, the row, the
    remote operation ("i", "u", "d", or "p" for a restored parent) and how
    it was resolved ("keep-local", "take-remote", "keep-both")."""
    kind: str
    table: str
    pk: "PrimaryKey"
    op: str
    resolution: str
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
        if self._h is not None:
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
        is reported once)."""
        ops = self._h.conflicts()
        return [Conflict(_CONFLICT_KINDS.get(ops.conflict_kind(i), "?"),
                         ops.table(i), ops.pk(i), ops.command(i),
                         _RESOLUTIONS.get(ops.resolution(i), "?"))
                for i in range(ops.count())]

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
        self._h.push()

    def pull(self) -> None:
        """Fetch and merge every version after this node's."""
        self._h.pull()

    def sync(self, max_rounds: int = 0) -> None:
        """Push; on PullRequired pull and push again (``max_rounds``
        rounds; 0 means the library's default of 5)."""
        self._h.sync(max_rounds)

    def repair(self) -> None:
        """Replace the tracked tables' contents with the server's copy
        (rows with pending local operations keep their local state)."""
        self._h.repair()

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
