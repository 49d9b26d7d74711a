"""dbsync.sqlalchemy with the server database on PostgreSQL: an SQLAlchemy
app (Country 1-n City, City.name unique) owns the server database and
writes it through its sessions, while two SQLite clients sync through a
real server on loopback (SyncServer + make_app on wsgiref, or dbsyncd
--store on the URL postgresql_url() makes).

Each test has a fresh schema of its own in the test database (conftest:
pg_schema, dropped afterwards); PostgreSQL not being reachable fails them.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, List, Optional, Tuple
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import sqlalchemy
from sqlalchemy import (Column, ForeignKey, Integer, MetaData, String, Table,
                        create_engine, event, select, text)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, mapped_column,
                            relationship)
from sqlalchemy.orm.exc import ObjectDeletedError

import dbsync
import dbsync.sqlalchemy as dsa
from dbsync.sqlalchemy import SyncClient, SyncServer

from conftest import PG_URL


class Base(DeclarativeBase):
    pass


class Country(Base):
    __tablename__ = "country"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    cities: Mapped[List["City"]] = relationship(back_populates="country")


class City(Base):
    __tablename__ = "city"
    id: Mapped[str] = mapped_column(String(32), primary_key=True,
                                    default=lambda: uuid.uuid4().hex)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    population: Mapped[int] = mapped_column(default=0)
    # PostgreSQL BOOLEAN on the server, INTEGER 0/1 on the clients.
    capital: Mapped[bool] = mapped_column(default=False)
    country_id: Mapped[int] = mapped_column(ForeignKey("country.id"))
    country: Mapped[Country] = relationship(back_populates="cities")


def pg_sa_url(**query: str) -> sqlalchemy.URL:
    """The test database's URL for SQLAlchemy with psycopg 3."""
    return make_url(PG_URL).set(drivername="postgresql+psycopg") \
        .update_query_dict(query)


def pg_engine(schema: str, how: str = "connect_args") -> Engine:
    """An engine whose connections use ``schema``, set the way an app
    would: connect_args' options, the URL's options, or a connect event
    running SET search_path (SQLAlchemy's documented recipe)."""
    option = "-csearch_path=" + schema
    if how == "connect_args":
        engine = create_engine(pg_sa_url(),
                               connect_args={"options": option})
    elif how == "url":
        engine = create_engine(pg_sa_url(options=option))
    elif how == "translate":
        # No search_path at all: SQLAlchemy qualifies every name.
        engine = create_engine(pg_sa_url()).execution_options(
            schema_translate_map={None: schema})
    elif how == "event":
        engine = create_engine(pg_sa_url())

        @event.listens_for(engine, "connect", insert=True)
        def _search_path(dbapi_connection, _record):
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f'SET search_path TO "{schema}"')
            dbapi_connection.autocommit = autocommit
    else:
        raise AssertionError(how)
    return engine


def sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _fk(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    Base.metadata.create_all(engine)
    return engine


def cities(session: Session) -> List[Tuple[str, str, int, bool]]:
    """What the ORM shows: (city, its country, population, capital)."""
    return [(c.name, c.country.name, c.population, c.capital)
            for c in session.scalars(select(City).order_by(City.name))]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class PgAppServer:
    """The server database on PostgreSQL, owned by the app (its engine,
    its tables made by metadata.create_all), served by SyncServer +
    make_app on wsgiref or by a dbsyncd process on postgresql_url()."""

    def __init__(self, kind: str, schema: str, how: str, workdir: Path,
                 dbsyncd_bin: Optional[str]) -> None:
        self.kind = kind
        self.schema = schema
        self.engine = pg_engine(schema, how)
        Base.metadata.create_all(self.engine)
        self.sync_server: Optional[SyncServer] = None
        self.proc: Optional[subprocess.Popen] = None
        if kind == "wsgi":
            self.sync_server = SyncServer(self.engine, registration="open")
            assert self.sync_server.schema == schema
            assert self.sync_server.track(Country, City) == ["country",
                                                             "city"]
            self.httpd = make_server("127.0.0.1", 0,
                                     self.sync_server.make_app(),
                                     handler_class=_Quiet)
            self.thread = threading.Thread(target=self.httpd.serve_forever,
                                           daemon=True)
            self.thread.start()
            self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        else:
            assert dbsyncd_bin
            store = dsa.postgresql_url(self.engine)
            port_file = workdir / "port"
            self.log_path = workdir / "dbsyncd.log"
            self.log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [dbsyncd_bin, "--store", store, "--track", "country,city",
                 "--registration", "open", "--listen", "127.0.0.1:0",
                 "--port-file", str(port_file)],
                stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 20
            while not (port_file.exists() and port_file.read_text().strip()):
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("dbsyncd did not start: " +
                                       self.log_path.read_text())
                time.sleep(0.02)
            self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def session(self) -> Session:
        return Session(self.engine)

    def stop(self) -> None:
        if self.sync_server is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.sync_server.close()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log.close()
        self.engine.dispose()


@pytest.fixture(params=[("wsgi", "connect_args"), ("wsgi", "url"),
                        ("wsgi", "event"), ("dbsyncd", "connect_args"),
                        ("dbsyncd", "event")],
                ids=lambda p: "-".join(p))
def pg_app_server(request, pg_schema, tmp_path,
                  dbsyncd_bin) -> Iterator[PgAppServer]:
    kind, how = request.param
    s = PgAppServer(kind, pg_schema, how, tmp_path, dbsyncd_bin)
    yield s
    s.stop()


@pytest.fixture
def pg_wsgi_server(pg_schema, tmp_path) -> Iterator[PgAppServer]:
    s = PgAppServer("wsgi", pg_schema, "connect_args", tmp_path, None)
    yield s
    s.stop()


@pytest.fixture
def device(tmp_path):
    """device(name, url) -> (SyncClient, Session): a SQLite client app
    whose session keeps loaded values across commits, so only
    SyncClient's expiry can refresh them."""
    made = []

    def make(name: str, url: str) -> Tuple[SyncClient, Session]:
        engine = sqlite_engine(tmp_path / f"{name}.db")
        sync = SyncClient(engine, url, timeout=10)
        assert sync.track(Country, City) == ["country", "city"]
        sync.register()
        session = Session(engine, expire_on_commit=False)
        made.append((engine, sync, session))
        return sync, session

    yield make
    for engine, sync, session in made:
        session.close()
        sync.close()
        engine.dispose()


def test_two_clients_and_direct_server_writes(pg_app_server, device):
    server = pg_app_server
    with server.session() as s:
        france = Country(name="France")
        s.add_all([france, City(name="Paris", country=france,
                                population=2_100_000, capital=True)])
        s.commit()

    a, sa = device("a", server.url)
    b, sb = device("b", server.url)
    a.sync(sa)
    b.sync(sb)
    assert cities(sa) == cities(sb) == [
        ("Paris", "France", 2_100_000, True)]

    # B loads Paris; then A renames it and the server app updates its
    # population and adds a city, each committed through SQLAlchemy.
    paris = sb.scalars(select(City).filter_by(name="Paris")).one()
    pa = sa.get(City, paris.id)
    pa.name = "Paris (FR)"
    sa.commit()
    a.sync(sa)
    with server.session() as s:
        # A's push reached the server's tables.
        assert s.get(City, paris.id).name == "Paris (FR)"
        s.get(City, paris.id).population = 2_150_000
        france = s.scalars(select(Country)).one()
        s.add(City(name="Lyon", country=france, population=520_000))
        s.commit()

    b.sync(sb)
    # The object loaded before the pull shows the merged row.
    assert sb.get(City, paris.id) is paris
    assert (paris.name, paris.population) == ("Paris (FR)", 2_150_000)
    assert cities(sb) == [("Lyon", "France", 520_000, False),
                          ("Paris (FR)", "France", 2_150_000, True)]
    assert pa.population == 2_100_000  # A has not pulled yet
    a.sync(sa)
    assert pa.population == 2_150_000
    assert cities(sa) == cities(sb)
    with server.session() as s:
        assert cities(s) == cities(sb)

    # A client creates a country and its city (integer key, foreign key:
    # the push inserts the parent first, the server's constraint holds);
    # the other client and the server app see both.
    spain = Country(id=100, name="Spain")
    sb.add(City(name="Madrid", country=spain, population=3_300_000,
                capital=True))
    sb.commit()
    b.sync(sb)
    a.sync(sa)
    with server.session() as s:
        madrid = s.scalars(select(City).filter_by(name="Madrid")).one()
        assert (madrid.country.id, madrid.country.name) == (100, "Spain")
        assert madrid.capital is True
        assert cities(s) == cities(sa) == cities(sb)

    # A delete by the server app: the ORM's object for it is expired and
    # raises on access, as after any delete SQLAlchemy learns of late.
    lyon_b = sb.scalars(select(City).filter_by(name="Lyon")).one()
    with server.session() as s:
        s.delete(s.scalars(select(City).filter_by(name="Lyon")).one())
        s.commit()
    b.sync(sb)
    with pytest.raises(ObjectDeletedError):
        lyon_b.name
    # A delete by a client reaches the server app's table.
    sa.delete(sa.scalars(select(City).filter_by(name="Madrid")).one())
    sa.commit()
    a.sync(sa)
    b.sync(sb)
    with server.session() as s:
        assert s.scalars(select(City).filter_by(name="Madrid")).all() == []
    assert cities(sa) == cities(sb) == [
        ("Paris (FR)", "France", 2_150_000, True)]
    assert a.pending() == b.pending() == []

    # A server transaction rolled back leaves nothing to version.
    version = a.latest_version
    with server.session() as s:
        s.add(City(name="Ghost", country=s.get(Country, 100)))
        s.get(City, paris.id).population = 1
        s.flush()
        s.rollback()
    a.sync(sa)
    assert a.latest_version == version
    assert cities(sa) == [("Paris (FR)", "France", 2_150_000, True)]
    # An update setting a column to its own value is no change either.
    with server.session() as s:
        s.execute(text("UPDATE city SET population = population"))
        s.commit()
    a.sync(sa)
    assert a.latest_version == version

    # The store's tables went into the app's schema, and nothing of it
    # into public.
    with server.session() as s:
        tables = set(s.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :s"),
            {"s": server.schema}))
        assert {"country", "city", "dbsync_log",
                "dbsync_versions"} <= tables


def test_unique_collision_with_server_app(pg_wsgi_server, device):
    server = pg_wsgi_server
    with server.session() as s:
        s.add(Country(id=1, name="France"))
        s.commit()
    a, sa = device("a", server.url)
    a.sync(sa)
    sa.add(City(name="Lyon", country_id=1, population=1))
    sa.commit()
    with server.session() as s:
        s.add(City(name="Lyon", country_id=1, population=2))
        s.commit()
    # The server's Lyon cannot be merged next to A's: the pull stops with
    # UniqueConflictError naming A's row and changes nothing; A's own
    # Lyon is still pending.
    lyon = sa.scalars(select(City)).one()
    with pytest.raises(dbsync.UniqueConflictError) as e:
        a.sync(sa)
    assert e.value.conflicts == [("city", lyon.id, ("name",))]
    assert [(c.kind, c.pk, c.columns) for c in a.conflicts()] == [
        ("unique", lyon.id, ("name",))]
    assert cities(sa) == [("Lyon", "France", 1, False)]
    sa.scalars(select(City)).one().name = "Lyon (A)"
    sa.commit()
    a.sync(sa)
    assert cities(sa) == [("Lyon", "France", 2, False),
                          ("Lyon (A)", "France", 1, False)]
    with server.session() as s:
        assert cities(s) == cities(sa)


def test_serial_keys_do_not_see_pushed_rows(pg_wsgi_server, device):
    """What docs/python.md warns of: a SERIAL key's sequence does not
    advance for rows clients push with their own keys."""
    server = pg_wsgi_server
    a, sa = device("a", server.url)
    sa.add(Country(name="Norway"))  # key 1, from the client's SQLite
    sa.commit()
    a.sync(sa)
    with server.session() as s:
        s.add(Country(name="Sweden"))  # nextval() is 1 too
        with pytest.raises(IntegrityError):
            s.commit()
    # Moving the sequence past the pushed keys lets the app insert.
    with server.session() as s:
        s.execute(text("SELECT setval(pg_get_serial_sequence('country', "
                       "'id'), (SELECT max(id) FROM country))"))
        s.add(Country(name="Sweden"))
        s.commit()
    a.sync(sa)
    assert [c.name for c in sa.scalars(select(Country).order_by(
        Country.id))] == ["Norway", "Sweden"]


def test_binds_and_tables_in_the_schema(pg_schemas, tmp_path):
    schema = pg_schemas()
    other = pg_schemas()
    engine = pg_engine(schema)
    Base.metadata.create_all(engine)
    md = MetaData()
    # A Table naming the store's schema is that schema's table; one in
    # another schema cannot be tracked.
    qualified = Table("city", md, Column("id", String, primary_key=True),
                      schema=schema)
    elsewhere = Table("city", md, Column("id", String, primary_key=True),
                      schema=other)
    with Session(engine) as session:
        with SyncServer(session, registration="open") as server:
            assert server.engine is engine and server.schema == schema
            assert schema in repr(server)
            assert server.track(qualified) == ["city"]
            with pytest.raises(dbsync.InvalidError,
                               match=f"schema '{other}'"):
                server.track(elsewhere)
            with pytest.raises(dbsync.InvalidError, match="direction"):
                dsa.track(server, Country, direction="push")
            assert dsa.track(server, Country) == ["country"]
            missing = Table("missing", md,
                            Column("id", Integer, primary_key=True))
            with pytest.raises(dbsync.NotFound):
                server.track(missing)
        assert "closed" in repr(server)
        with pytest.raises(dbsync.InvalidError, match="closed"):
            server.track(Country)
    with engine.connect() as conn:
        with SyncServer(conn) as server:
            assert server.schema == schema
    engine.dispose()

    # schema_translate_map's None entry is the schema unqualified names
    # go to, whatever the search_path says.
    mapped = create_engine(pg_sa_url()).execution_options(
        schema_translate_map={None: schema, "elsewhere": schema})
    aliased = Table("city", md, Column("id", String, primary_key=True),
                    schema="elsewhere")
    with SyncServer(mapped) as server:
        assert server.schema == schema
        assert server.track(aliased, Country) == ["city", "country"]
    assert f"search_path%3D%22{schema}%22" in dsa.postgresql_url(mapped)
    mapped.dispose()

    # Without a schema the connection's current_schema() is used: public
    # here (checked only, nothing is written there).
    plain = create_engine(pg_sa_url())
    assert dsa.postgresql_url(plain).endswith(
        "options=-csearch_path%3D%22public%22")
    plain.dispose()


def test_postgresql_url():
    # A schema_translate_map gives the schema without connecting, so
    # these hosts need not exist.
    def url(text: str, **kw) -> str:
        engine = create_engine(text, **kw).execution_options(
            schema_translate_map={None: "My Schema"})
        return dsa.postgresql_url(engine)

    opt = "options=-csearch_path%3D%22My%5C%20Schema%22"
    assert url("postgresql+psycopg://u:p%40ss%3Aw%2Frd@db.example:6543/app"
               ) == ("postgresql://u:p%40ss%3Aw%2Frd@db.example:6543/app?"
                     + opt)
    assert url("postgresql+psycopg://app@[::1]/app") == \
        "postgresql://app@[::1]/app?" + opt
    # libpq's connection and SSL parameters go along; the app's session
    # settings do not (its options' search_path is replaced).
    assert url("postgresql+psycopg://app@/app?host=/run/postgresql"
               "&sslmode=verify-full&sslrootcert=/etc/ca.pem"
               "&connect_timeout=3&application_name=web"
               "&options=-csearch_path%3Dx%20-cstatement_timeout%3D5"
               "&client_encoding=latin1") == (
        "postgresql://app@/app?host=%2Frun%2Fpostgresql"
        "&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"
        "&connect_timeout=3&" + opt)
    # Any driver: the URL says the same to libpq.
    for driver in ("pg8000",):
        assert url(f"postgresql+{driver}://u@h/d", module=_FakeDbapi) == \
            "postgresql://u@h/d?" + opt
    # A quote in a schema name is doubled inside the quoted identifier.
    odd = create_engine("postgresql+psycopg://u@h/d").execution_options(
        schema_translate_map={None: 'a"b'})
    assert dsa.postgresql_url(odd).endswith(
        "options=-csearch_path%3D%22a%22%22b%22")

    # Refused: what would change how dbsync connects, and several hosts.
    for bad, message in [
            ("postgresql+psycopg://u@h/d?prepare_threshold=5",
             "'prepare_threshold' is not a libpq connection parameter"),
            ("postgresql+psycopg://u@/d?host=a:5432&host=b:5432",
             "several hosts"),
            ("postgresql+psycopg://u@/d?host=a,b", "several hosts"),
            ("postgresql+psycopg://u@/d?host=a:5433", "host:port")]:
        with pytest.raises(dbsync.InvalidError, match=message):
            url(bad)
    with pytest.raises(dbsync.InvalidError, match="not PostgreSQL"):
        dsa.postgresql_url(create_engine("sqlite:///x.db"))


class _FakeDbapi:
    """Just enough of a DBAPI module for create_engine() to build an
    engine that never connects."""
    paramstyle = "pyformat"

    class Error(Exception):
        pass


def test_refused_engines(pg_schemas, tmp_path):
    with pytest.raises(dbsync.InvalidError,
                       match="mysql; a SyncServer needs SQLite or "
                             "PostgreSQL"):
        SyncServer(create_engine("mysql+pymysql://u@localhost/db",
                                 module=_FakeDbapi))
    pg = create_engine(pg_sa_url())
    # Clients stay SQLite files.
    with pytest.raises(dbsync.InvalidError, match="not SQLite"):
        SyncClient(pg)
    with pytest.raises(dbsync.InvalidError, match="not SQLite"):
        dsa.sqlite_path(pg)
    pg.dispose()
    # A search_path naming no existing schema.
    nowhere = create_engine(pg_sa_url(), connect_args={
        "options": "-csearch_path=dbsync_nowhere_at_all"})
    with pytest.raises(dbsync.InvalidError, match="no existing schema"):
        SyncServer(nowhere)
    nowhere.dispose()
    # Nothing listening: the engine's own connection fails first.
    down = create_engine(
        make_url(PG_URL).set(drivername="postgresql+psycopg", port=1,
                             host="127.0.0.1"),
        connect_args={"connect_timeout": 5})
    with pytest.raises(dbsync.DatabaseError,
                       match="cannot read the engine's schema"):
        SyncServer(down)
    down.dispose()
    # A schema given by schema_translate_map that does not exist: the
    # store says so when it opens.
    schema = pg_schemas()
    missing = create_engine(pg_sa_url()).execution_options(
        schema_translate_map={None: schema + "_missing"})
    with pytest.raises(dbsync.SchemaError, match="no existing schema"):
        SyncServer(missing)
    missing.dispose()


def test_odd_schema_name(pg_schemas, tmp_path, device):
    """A schema name needing quotes (capitals, a space, a quote), named
    by schema_translate_map: dbsync's connections keep to it too."""
    schema = pg_schemas(' Odd "Name"')
    server = PgAppServer("wsgi", schema, "translate", tmp_path, None)
    try:
        assert server.sync_server.schema == schema
        with server.session() as s:
            s.add(Country(id=1, name="France", cities=[City(name="Nice")]))
            s.commit()
        a, sa = device("a", server.url)
        a.sync(sa)
        assert cities(sa) == [("Nice", "France", 0, False)]
        sa.add(City(name="Brest", country_id=1))
        sa.commit()
        a.sync(sa)
        with server.session() as s:
            assert cities(s) == [("Brest", "France", 0, False),
                                 ("Nice", "France", 0, False)]
            assert s.execute(text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = :s AND "
                "tablename = 'dbsync_log'"), {"s": schema}).scalar() == 1
    finally:
        server.stop()
