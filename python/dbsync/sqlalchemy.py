"""dbsync for SQLAlchemy applications on SQLite (needs SQLAlchemy >= 2.0).

Client side: :class:`SyncClient` opens a :class:`dbsync.Client` on the file
of an SQLAlchemy engine, tracks mapped classes or ``Table`` objects, and
around every push/pull/sync/repair takes care of the ORM sessions: it
refuses (or commits, with ``commit=True``) a session that holds uncommitted
work, and afterwards expires the sessions' identity maps so objects loaded
before a pull show the merged rows::

    engine = create_engine("sqlite:///app.db")
    Base.metadata.create_all(engine)
    with SyncClient(engine, "http://127.0.0.1:8080") as sync:
        sync.track(Country, City)           # parents first is not required
        if not sync.registered:
            sync.register()
        with Session(engine) as session:
            ...
            session.commit()
            sync.sync(session)               # session sees the merged rows

Server side: :class:`SyncServer` opens a :class:`dbsync.Server` on the
database an application writes through SQLAlchemy -- a SQLite file or a
PostgreSQL database (in the schema the engine's connections use); writes
to the tables it tracks are versioned by triggers and reach the clients on
their next pull (SPEC section 4, "Direct writes")::

    server_engine = create_engine("postgresql+psycopg://app@db/app")
    Base.metadata.create_all(server_engine)
    server = SyncServer(server_engine, registration="open")
    server.track(Country, City)
    app = server.make_app()                  # WSGI

Anything that is not a mapped class, a ``Mapper`` or a ``Table`` is refused
with :class:`dbsync.InvalidError`, and so is a client engine that is not a
SQLite file or a server engine that is neither SQLite nor PostgreSQL.
``import dbsync`` itself never imports SQLAlchemy; only this module does
(``pip install 'dbsync[sqlalchemy]'``).
"""

from __future__ import annotations

import urllib.parse
from typing import (Any, Callable, Iterable, List, Mapping, Optional,
                    Sequence, Set, Tuple, Union)

try:
    import sqlalchemy
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.exc import UnboundExecutionError
    from sqlalchemy.orm import InstanceState, Mapper, Session, scoped_session
    from sqlalchemy.sql.expression import TableClause
except ImportError as _e:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "dbsync.sqlalchemy needs SQLAlchemy: pip install "
        "'dbsync[sqlalchemy]' (or pip install sqlalchemy)") from _e

from . import wsgi as _wsgi
from ._api import Client, Conflict, Headers, Operation, Server
from ._errors import DatabaseError, Error, InvalidError

__all__ = ["SyncClient", "SyncServer", "postgresql_url", "sqlite_path",
           "table_names", "track"]

#: What :func:`table_names` accepts: a mapped class, a Mapper or a Table.
Target = Union[type, "Mapper[Any]", TableClause]
#: What a session argument may be: a Session or a scoped_session registry
#: (whose current session is used).
SessionLike = Union[Session, "scoped_session[Any]"]
#: What a SyncClient is built on.
Bind = Union[Engine, Connection, Session, "scoped_session[Any]"]


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    return f"{type(obj).__name__} object {obj!r:.60}"


def _mapper_tables(mapper: "Mapper[Any]") -> List[TableClause]:
    # Base class first: with joined-table inheritance a subclass's row
    # lives in its own table and its parent's, and the parent's row must
    # exist first. Single-table inheritance repeats the parent's table;
    # the caller drops the duplicate.
    tables = []
    for m in reversed(list(mapper.iterate_to_root())):
        local = m.local_table
        if not isinstance(local, TableClause):
            raise InvalidError(
                f"dbsync.sqlalchemy: {_describe(mapper.class_)} is mapped "
                f"to {type(local).__name__}, not a table; track its Table "
                f"objects instead")
        tables.append(local)
    return tables


def _tables_of(target: Any) -> List[TableClause]:
    if isinstance(target, TableClause):
        return [target]
    if isinstance(target, Mapper):
        return _mapper_tables(target)
    if isinstance(target, type):
        mapper: Any = sqlalchemy.inspect(target, raiseerr=False)
        if isinstance(mapper, Mapper):
            return _mapper_tables(mapper)
        raise InvalidError(
            f"dbsync.sqlalchemy: {_describe(target)} is not mapped (expected "
            f"a mapped class, a Mapper or a Table)")
    if isinstance(target, str):
        raise InvalidError(
            f"dbsync.sqlalchemy: {target!r} is a name; pass a mapped class, "
            f"a Mapper or a Table (dbsync.Client.track takes names)")
    if isinstance(sqlalchemy.inspect(target, raiseerr=False),
                  InstanceState):
        raise InvalidError(
            f"dbsync.sqlalchemy: {_describe(target)} is an instance; pass "
            f"its class")
    raise InvalidError(
        f"dbsync.sqlalchemy: expected a mapped class, a Mapper or a Table, "
        f"not {_describe(target)}")


def table_names(*targets: Target) -> List[str]:
    """The names of the tables behind ``targets`` (mapped classes,
    ``Mapper`` objects or ``Table`` objects), in order, without repeats.

    A class mapped with joined-table inheritance gives its base table
    first, then its own. Raises :class:`dbsync.InvalidError` for anything
    else (an unmapped class, an instance, a string, a class mapped to a
    join or a select) and for a table in another schema (an attached
    database): dbsync tracks tables of the main database only.
    (:meth:`SyncServer.track` on PostgreSQL also takes tables that name
    the store's own schema.)
    """
    return _table_names(targets, None)


def _table_names(targets: Sequence[Any],
                 pg: Optional[Tuple[str, Mapping[Any, Any]]]
                 ) -> List[str]:
    # pg: (the PostgreSQL store's schema, the engine's
    # schema_translate_map), or None for SQLite.
    names: List[str] = []
    seen: Set[str] = set()
    for target in targets:
        for table in _tables_of(target):
            schema = getattr(table, "schema", None)
            if pg is not None:
                store_schema, translate = pg
                if schema in translate:
                    schema = translate[schema]
                if schema not in (None, store_schema):
                    raise InvalidError(
                        f"dbsync.sqlalchemy: table {table.name!r} is in "
                        f"schema {schema!r}; the store keeps to schema "
                        f"{store_schema!r} (the one the engine's "
                        f"connections use), and so must the tables it "
                        f"tracks")
            elif schema not in (None, "main"):
                raise InvalidError(
                    f"dbsync.sqlalchemy: table {table.name!r} is in schema "
                    f"{schema!r}; only tables of the main database can be "
                    f"tracked")
            # SQLite matches names ASCII case-insensitively.
            key = table.name.lower()
            if key not in seen:
                seen.add(key)
                names.append(table.name)
    return names


def track(target: Union[Client, Server, "SyncClient", "SyncServer"],
          *models: Target, direction: str = "both") -> List[str]:
    """Track the tables of ``models`` on a :class:`dbsync.Client` (in
    ``direction``) or a :class:`dbsync.Server` (or the one a SyncClient or
    SyncServer wraps); returns their names.

    The names are all resolved before anything is tracked, so a bad model
    changes nothing. The tables must already exist in the database
    (``metadata.create_all(engine)``), or :class:`dbsync.NotFound` is
    raised.
    """
    if isinstance(target, SyncServer):
        names = _table_names(models, target._pg)
        target = target.server
    else:
        names = table_names(*models)
    if isinstance(target, SyncClient):
        target = target.client
    if isinstance(target, Client):
        for name in names:
            target.track(name, direction)
    elif isinstance(target, Server):
        if direction != "both":
            raise InvalidError(
                "dbsync.sqlalchemy: a server tracks tables in both "
                "directions; direction is a client setting")
        for name in names:
            target.track(name)
    else:
        raise InvalidError(
            f"dbsync.sqlalchemy: expected a dbsync.Client or dbsync.Server, "
            f"not {_describe(target)}")
    return names


# -- engines ----------------------------------------------------------------

def _engine_of(bind: Any) -> Engine:
    if isinstance(bind, Engine):
        return bind
    if isinstance(bind, Connection):
        return bind.engine
    if isinstance(bind, (Session, scoped_session)):
        try:
            inner = bind.get_bind()
        except UnboundExecutionError as e:
            raise InvalidError(
                "dbsync.sqlalchemy: the session has no bind (create it "
                "with Session(engine))") from e
        return _engine_of(inner)
    raise InvalidError(
        f"dbsync.sqlalchemy: expected an Engine, a Connection or a "
        f"Session, not {_describe(bind)}")


def sqlite_path(bind: Union[Engine, Connection, Session]) -> str:
    """The file of the SQLite database an engine (or a session's or a
    connection's engine) opens, as dbsync needs it.

    Raises :class:`dbsync.InvalidError` for another database, for an
    in-memory database (dbsync opens its own connection, which would see
    another, empty database) and for a URI with ``mode=memory``.
    """
    engine = _engine_of(bind)
    if engine.dialect.name != "sqlite":
        raise InvalidError(
            f"dbsync.sqlalchemy: the engine is {engine.dialect.name}, not "
            f"SQLite")
    database = engine.url.database or ""
    query = engine.url.query
    if str(query.get("uri", "")).lower() in ("true", "1") and \
            database.startswith("file:"):
        # pysqlite's URI form: sqlite:///file:PATH?mode=ro&uri=true, the
        # SQLite parameters either in the URL's query or in the file URI.
        parts = urllib.parse.urlsplit(database)
        modes = urllib.parse.parse_qs(parts.query).get("mode", [])
        mode = query.get("mode", ())
        modes += [mode] if isinstance(mode, str) else list(mode)
        database = ("" if "memory" in modes
                    else urllib.parse.unquote(parts.path))
    if not database or database == ":memory:":
        raise InvalidError(
            "dbsync.sqlalchemy: the engine's database is in memory; dbsync "
            "opens its own connection and needs a database file")
    return database


#: libpq parameters of an engine URL's query that say how to reach and
#: authenticate to the server: passed on to dbsync's URL as they are.
_LIBPQ_CONNECT = frozenset((
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile",
    "require_auth", "channel_binding", "connect_timeout", "keepalives",
    "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "sslmode", "requiressl", "sslnegotiation",
    "sslcompression", "sslcert", "sslkey", "sslpassword", "sslcertmode",
    "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
    "ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode",
    "krbsrvname", "gsslib", "gssdelegation", "service",
    "target_session_attrs", "load_balance_hosts"))
#: Settings of the application's own sessions: dbsync's connections make
#: their own (the schema in ``options`` is read from a connection instead).
_LIBPQ_SESSION = frozenset((
    "options", "application_name", "fallback_application_name",
    "client_encoding"))


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _search_path_option(schema: str) -> str:
    """libpq's ``options`` value setting the search_path to exactly
    ``schema``: a quoted identifier (any name), its backslashes and spaces
    escaped for libpq's splitting of options into arguments."""
    ident = '"' + schema.replace('"', '""') + '"'
    return "-csearch_path=" + ident.replace("\\", "\\\\").replace(
        " ", "\\ ")


def _engine_schema(engine: Engine) -> str:
    """The schema unqualified names of ``engine`` resolve to: the
    ``schema_translate_map``'s entry for None, else the current_schema()
    of a connection from the engine (whatever set its search_path: the
    URL's or connect_args' ``options``, a ``connect`` event, the role's or
    database's defaults)."""
    translate = engine.get_execution_options().get("schema_translate_map")
    if translate and translate.get(None):
        return str(translate[None])
    try:
        with engine.connect() as conn:
            schema = conn.exec_driver_sql(
                "SELECT current_schema()").scalar()
    except sqlalchemy.exc.SQLAlchemyError as e:
        orig = getattr(e, "orig", None) or e
        raise DatabaseError(
            f"dbsync.sqlalchemy: cannot read the engine's schema: "
            f"{str(orig).strip()}") from e
    if not schema:
        raise InvalidError(
            "dbsync.sqlalchemy: the engine's search_path names no existing "
            "schema (current_schema() is NULL); create the schema first")
    return str(schema)


def _postgresql_store(engine: Engine) -> Tuple[str, str]:
    if engine.dialect.name != "postgresql":
        raise InvalidError(
            f"dbsync.sqlalchemy: the engine is {engine.dialect.name}, not "
            f"PostgreSQL")
    url = engine.url
    params: List[Tuple[str, str]] = []
    for key, value in url.query.items():
        if key in _LIBPQ_SESSION:
            continue
        if key not in _LIBPQ_CONNECT:
            raise InvalidError(
                f"dbsync.sqlalchemy: the engine URL's parameter {key!r} is "
                f"not a libpq connection parameter dbsync can pass on; "
                f"SyncServer takes user, password, host, port, database, "
                f"libpq's connection and SSL parameters (sslmode, "
                f"connect_timeout...) and the schema")
        if not isinstance(value, str) or (
                key in ("host", "hostaddr", "port") and "," in value) or (
                key == "host" and ":" in value and
                not value.startswith("/")):
            raise InvalidError(
                f"dbsync.sqlalchemy: the engine URL names several hosts "
                f"or a host:port in {key}={value!r}; SyncServer takes "
                f"one host (and the port as port=), or give dbsyncd a "
                f"libpq URL yourself")
        params.append((key, value))
    schema = _engine_schema(engine)
    params.append(("options", _search_path_option(schema)))

    netloc = ""
    if url.username:
        netloc = _quote(url.username)
    if url.password is not None:
        netloc += ":" + _quote(str(url.password))
    if netloc:
        netloc += "@"
    if url.host:
        netloc += (f"[{url.host}]" if ":" in url.host
                   else _quote(url.host))
    if url.port:
        netloc += f":{int(url.port)}"
    text = f"postgresql://{netloc}/{_quote(url.database or '')}"
    text += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote,
                                         safe="")
    return text, schema


def postgresql_url(bind: Union[Engine, Connection, Session]) -> str:
    """The libpq URL dbsync opens for the PostgreSQL database of an engine
    (or a session's or a connection's engine): ``dbsync.Server(url)`` and
    ``dbsyncd --store URL`` then keep the store in the schema the engine's
    connections use. It holds the password if the engine's URL does.

    User, password, host, port and database come from the engine's URL,
    and so do libpq's connection and SSL parameters in its query
    (``sslmode``, ``connect_timeout``, ``host=/socket/dir``...). The
    schema is the ``schema_translate_map``'s entry for None if the engine
    has one, else the ``current_schema()`` of a connection from the
    engine -- so this connects once -- and the URL sets ``search_path`` to
    exactly it. The application's other session settings (the rest of
    ``options``, ``application_name``, ``client_encoding``) are not passed
    on; ``connect_args`` are not visible to this function: credentials
    given there must reach libpq another way (the URL, ``PGPASSWORD``,
    ``~/.pgpass``).

    Raises :class:`dbsync.InvalidError` for an engine that is not
    PostgreSQL, for a query parameter that is none of those (a driver's
    own, which would change how dbsync connects) and for several hosts;
    :class:`dbsync.DatabaseError` when the database cannot be reached.
    """
    return _postgresql_store(_engine_of(bind))[0]


# -- sessions ---------------------------------------------------------------

def _session(obj: Any) -> Session:
    if isinstance(obj, scoped_session):
        obj = obj()  # the current scope's session
    if not isinstance(obj, Session):
        raise InvalidError(
            f"dbsync.sqlalchemy: expected a Session or a scoped_session, "
            f"not {_describe(obj)}")
    return obj


def _has_changes(session: Session) -> bool:
    # session.dirty is optimistic (setting an attribute to its own value
    # lists the object); is_modified() tells a real change.
    return bool(session.new or session.deleted or
                any(session.is_modified(o) for o in session.dirty))


def _database_transaction_open(session: Session, engine: Engine) -> bool:
    """Whether the session's connection to ``engine`` (or to its default
    bind) is inside a database transaction: after a flush wrote rows, a
    SAVEPOINT, or an explicit BEGIN."""
    binds: List[Any] = [engine]
    try:
        binds.append(session.get_bind())
    except UnboundExecutionError:
        pass
    for bind in binds:
        if bind.dialect.name != "sqlite":
            continue  # not a file the dbsync client shares
        if isinstance(bind, Connection):
            # A session joined to an external transaction: that
            # transaction is the application's to end.
            if bind.in_transaction():
                return True
            continue
        conn = session.connection(bind_arguments={"bind": bind})
        driver = conn.connection.driver_connection
        # sqlite3.Connection.in_transaction is SQLite's own "not in
        # autocommit" flag; drivers without it cannot be checked.
        if getattr(driver, "in_transaction", False):
            return True
    return False


def _release(session: Session, engine: Engine, commit: bool) -> None:
    """End the session's transaction so the dbsync client, which writes
    through its own connection, is neither blocked by the session's locks
    (it would wait for its busy timeout and raise BusyError) nor hidden
    from it by an old snapshot."""
    if commit:
        session.commit()
        return
    if _has_changes(session):
        raise InvalidError(
            "dbsync.sqlalchemy: the session has changes not yet committed; "
            "commit() or rollback() it first, or pass commit=True")
    if not session.in_transaction():
        return
    if _database_transaction_open(session, engine):
        raise InvalidError(
            "dbsync.sqlalchemy: the session holds an open database "
            "transaction (flushed writes, a SAVEPOINT or a BEGIN); "
            "commit() or rollback() it first, or pass commit=True")
    # Only reads happened: ending the ORM transaction writes nothing and
    # hands its connection back to the pool.
    session.commit()


def _refresh(session: Session, conflicts: Sequence[Conflict]) -> None:
    """Make the session see what a pull or repair merged."""
    # An insert/insert conflict on an INTEGER key moved the local row to
    # a new key, and the old key now holds the remote row. An object
    # loaded under the old key would silently reload as that other row,
    # so it is detached instead (its attributes keep the values last
    # loaded; query it again, e.g. by a unique column).
    moved = {(c.table.lower(), c.pk) for c in conflicts
             if c.resolution == "keep-both"}
    if moved:
        for obj in list(session.identity_map.values()):
            state = sqlalchemy.inspect(obj)
            identity = state.identity
            if not identity or len(identity) != 1:
                continue
            if any((t.name.lower(), identity[0]) in moved
                   for t in state.mapper.tables
                   if isinstance(t, TableClause)):
                session.expunge(obj)
    # Everything else is expired, as Session.commit() does: the next
    # attribute access reloads the row (ObjectDeletedError if a pull
    # deleted it).
    session.expire_all()


class SyncClient:
    """A :class:`dbsync.Client` on the SQLite file of an SQLAlchemy engine.

    ``bind`` is an Engine, a Connection, a Session or a scoped_session (the
    engine it is bound to is used); ``server_url`` and ``options``
    (``timeout``, ``ca_file``, ``page_size``) go to :class:`dbsync.Client`.
    When ``bind`` is a session, push/pull/sync/repair called without
    sessions take care of that one.

    Every synchronizing call first ends the given sessions' transactions:
    a session with changes not yet committed, or with an open database
    transaction (rows flushed, a SAVEPOINT), raises
    :class:`dbsync.InvalidError` and nothing is synchronized -- unless
    ``commit=True``, which commits it first. A session that only read has
    its ORM transaction ended (nothing is written). After a pull, sync or
    repair, even a failed one (its completed pages stay applied), the
    sessions' identity maps are expired, so objects loaded earlier reload
    the merged rows on their next attribute access; an object whose row a
    pull moved to a new INTEGER key (an insert/insert conflict) is
    detached from its session instead.

    Like :class:`dbsync.Client` it is used by one thread at a time; it is
    a context manager and ``close()`` closes the dbsync client (not the
    engine).
    """

    def __init__(self, bind: Bind, server_url: Optional[str] = None,
                 **options: Any) -> None:
        self.engine: Engine = _engine_of(bind)
        self._default: Tuple[SessionLike, ...] = ()
        if isinstance(bind, (Session, scoped_session)):
            self._default = (bind,)
        self._conflicts: List[Conflict] = []
        #: The underlying dbsync.Client (register, on_progress, pending,
        #: add_header... everything else is there).
        self.client: Client = Client(sqlite_path(self.engine), server_url,
                                     **options)

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Close the dbsync client; later calls raise InvalidError."""
        self.client.close()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self.client.closed

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else repr(self.client.path)
        return f"<dbsync.sqlalchemy.SyncClient {state}>"

    # -- tables -----------------------------------------------------------
    def track(self, *models: Target, direction: str = "both") -> List[str]:
        """Track the tables of mapped classes, Mappers or Tables in
        ``direction`` ("both", "push", "pull"); returns their names. The
        tables must exist (``metadata.create_all(engine)``)."""
        self._check_open()
        return track(self.client, *models, direction=direction)

    def untrack(self, *models: Target) -> List[str]:
        """Stop tracking the tables of ``models`` (their pending operations
        are dropped); returns their names."""
        self._check_open()
        names = table_names(*models)
        for name in names:
            self.client.untrack(name)
        return names

    def tracked(self, model: Target) -> Optional[str]:
        """The direction the (first) table of ``model`` is tracked in, or
        None."""
        self._check_open()
        return self.client.tracked(table_names(model)[0])

    # -- the client's state -----------------------------------------------
    def register(self, token: Optional[str] = None) -> int:
        """Register with the server; returns the node id."""
        return self.client.register(token)

    @property
    def registered(self) -> bool:
        """Whether this database is registered."""
        return self.client.registered

    @property
    def latest_version(self) -> Optional[int]:
        """The latest server version merged here, or None."""
        return self.client.latest_version

    def pending(self) -> List[Operation]:
        """The compressed pending operations ``[(table, pk, op), ...]``."""
        return self.client.pending()

    def conflicts(self) -> List[Conflict]:
        """The conflicts pulls met since the last call, each reported once
        (this wrapper reads the client's list after every pull to find
        renumbered rows, and keeps them here for you)."""
        out = self._conflicts + self.client.conflicts()
        self._conflicts = []
        return out

    # -- synchronization --------------------------------------------------
    def push(self, *sessions: SessionLike, commit: bool = False) -> None:
        """Push the pending operations, after ending the sessions'
        transactions (see the class). A push changes no row, so nothing is
        expired."""
        self._run(sessions, commit, self.client.push, refresh=False)

    def pull(self, *sessions: SessionLike, commit: bool = False) -> None:
        """Pull and merge, then expire the sessions."""
        self._run(sessions, commit, self.client.pull)

    def sync(self, *sessions: SessionLike, commit: bool = False,
             max_rounds: int = 0) -> None:
        """Push, pulling when needed (``max_rounds``: 0 is the library's
        default), then expire the sessions."""
        self._run(sessions, commit, lambda: self.client.sync(max_rounds))

    def repair(self, *sessions: SessionLike, commit: bool = False) -> None:
        """Replace the tracked tables with the server's copy, then expire
        the sessions."""
        self._run(sessions, commit, self.client.repair)

    def _check_open(self) -> None:
        if self.client.closed:
            raise InvalidError("client is closed")

    def _run(self, sessions: Sequence[SessionLike], commit: bool,
             call: Callable[[], None], refresh: bool = True) -> None:
        # Checked before any session is touched: a closed client must not
        # commit or end the caller's transactions for nothing.
        self._check_open()
        resolved = [_session(s) for s in (sessions or self._default)]
        for session in resolved:
            _release(session, self.engine, commit)
        try:
            call()
        finally:
            if refresh:
                self._after_pull(resolved)

    def _after_pull(self, sessions: Sequence[Session]) -> None:
        try:
            met = self.client.conflicts()
        except Error:
            # The client is busy in another thread or was closed: its
            # conflicts stay with it, and the sessions are still expired.
            met = []
        self._conflicts.extend(met)
        for session in sessions:
            _refresh(session, met)


class SyncServer:
    """A :class:`dbsync.Server` on the database an application writes
    through SQLAlchemy: a SQLite file or PostgreSQL.

    ``bind`` is an Engine, a Connection or a Session whose engine is a
    SQLite file or a PostgreSQL database (dialect "postgresql", any
    driver); ``registration`` is "open", "closed" or "token:SECRET".

    On SQLite the store adds its ``dbsync_*`` tables to that file and
    switches it to WAL. On PostgreSQL it opens its own libpq connections
    (:func:`postgresql_url`) and keeps its tables and the tracked ones in
    the schema the engine's connections use (:attr:`schema`). Rows the
    application commits to a tracked table, through any session or
    connection, are logged by triggers in the same transaction and folded
    into a version (node id NULL) before the next pull or push is
    answered, so they reach every client.

    Like :class:`dbsync.Server` it may be used from several threads; it is
    a context manager and ``close()`` closes the store (not the engine).
    """

    def __init__(self, bind: Union[Engine, Connection, Session],
                 registration: str = "closed") -> None:
        self.engine: Engine = _engine_of(bind)
        #: The PostgreSQL schema the store keeps to (None on SQLite).
        self.schema: Optional[str] = None
        self._pg: Optional[Tuple[str, Mapping[Any, Any]]] = None
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            store = "sqlite:" + sqlite_path(self.engine)
        elif dialect == "postgresql":
            store, self.schema = _postgresql_store(self.engine)
            translate = self.engine.get_execution_options().get(
                "schema_translate_map") or {}
            self._pg = (self.schema, dict(translate))
        else:
            raise InvalidError(
                f"dbsync.sqlalchemy: the engine is {dialect}; a SyncServer "
                f"needs SQLite or PostgreSQL")
        #: The underlying dbsync.Server (hooks, trim, handle...).
        self.server: Server = Server(store, registration)

    def close(self) -> None:
        """Close the store; later calls raise InvalidError."""
        self.server.close()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self.server.closed

    def __enter__(self) -> "SyncServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            state = "closed"
        elif self.schema is not None:
            state = repr(self.engine.url.render_as_string(
                hide_password=True)) + f" schema {self.schema!r}"
        else:
            state = repr(self.engine.url.database)
        return f"<dbsync.sqlalchemy.SyncServer {state}>"

    def track(self, *models: Target) -> List[str]:
        """Synchronize the tables of mapped classes, Mappers or Tables;
        returns their names. The tables must exist (on PostgreSQL in
        :attr:`schema`: a Table may name it, or none)."""
        if self.server.closed:
            raise InvalidError("server is closed")
        return track(self, *models)

    def make_app(self) -> Callable[..., Iterable[bytes]]:
        """A WSGI application serving this server (dbsync.wsgi.make_app)."""
        return _wsgi.make_app(self.server)

    def handle(self, method: str, path: str,
               headers: Union[Mapping[str, str], Iterable[Tuple[str, str]]],
               body: bytes = b"") -> Tuple[int, Headers, bytes]:
        """Answer one HTTP request of the dbsync API (Server.handle)."""
        return self.server.handle(method, path, headers, body)
