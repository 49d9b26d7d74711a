"""dbsync.sqlalchemy: an SQLAlchemy app (Country 1-n City, City.name unique)
on two clients, synced through a real server whose database the app also
writes through SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import sqlalchemy
from sqlalchemy import (Column, ForeignKey, Integer, MetaData, String, Table,
                        create_engine, event, select)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, mapped_column,
                            registry, relationship, scoped_session,
                            sessionmaker)
from sqlalchemy.orm.exc import ObjectDeletedError
from sqlalchemy.pool import StaticPool

import dbsync
import dbsync.sqlalchemy as dsa
from dbsync.sqlalchemy import SyncClient, SyncServer

ROOT = Path(__file__).resolve().parents[2]


class Base(DeclarativeBase):
    pass


class Country(Base):
    __tablename__ = "country"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    cities: Mapped[List["City"]] = relationship(back_populates="country")


class City(Base):
    __tablename__ = "city"
    id: Mapped[str] = mapped_column(String(32), primary_key=True,
                                    default=lambda: uuid.uuid4().hex)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    population: Mapped[int] = mapped_column(default=0)
    country_id: Mapped[int] = mapped_column(ForeignKey("country.id"))
    country: Mapped[Country] = relationship(back_populates="cities")


def sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _fk(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    Base.metadata.create_all(engine)
    return engine


def cities(session: Session) -> List[Tuple[str, str, int]]:
    """What the ORM shows: (city, its country, population), by name."""
    return [(c.name, c.country.name, c.population)
            for c in session.scalars(select(City).order_by(City.name))]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class AppServer:
    """The server database, written by the app through SQLAlchemy and
    served either by a real dbsyncd process or by SyncServer + make_app on
    wsgiref (both on loopback)."""

    def __init__(self, kind: str, workdir: Path, start_dbsyncd) -> None:
        self.kind = kind
        # conftest's dbsyncd serves workdir/server.db; the app creates its
        # tables first (that fixture's schema, CREATE TABLE IF NOT EXISTS
        # city, then leaves this city table alone).
        self.engine = sqlite_engine(workdir / "server.db")
        self.sync_server = None
        self.dbsyncd = None
        if kind == "dbsyncd":
            self.dbsyncd = start_dbsyncd("--track", "country")
            self.url = self.dbsyncd.url
        else:
            self.sync_server = SyncServer(self.engine, registration="open")
            assert self.sync_server.track(Country, City) == ["country",
                                                             "city"]
            self.httpd = make_server("127.0.0.1", 0,
                                     self.sync_server.make_app(),
                                     handler_class=_Quiet)
            self.thread = threading.Thread(target=self.httpd.serve_forever,
                                           daemon=True)
            self.thread.start()
            self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def session(self) -> Session:
        return Session(self.engine)

    def stop(self) -> None:
        if not self.dbsyncd:  # start_dbsyncd stops its own
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.sync_server.close()
        self.engine.dispose()


@pytest.fixture(params=["dbsyncd", "wsgi"])
def app_server(request, tmp_path, start_dbsyncd) -> Iterator[AppServer]:
    s = AppServer(request.param, tmp_path, start_dbsyncd)
    yield s
    s.stop()


@pytest.fixture
def wsgi_app_server(tmp_path) -> Iterator[AppServer]:
    s = AppServer("wsgi", tmp_path, None)
    yield s
    s.stop()


@pytest.fixture
def device(tmp_path):
    """device(name, url) -> (engine, SyncClient, Session): a client app
    whose session keeps loaded values across commits, so only
    SyncClient's expiry can refresh them."""
    made = []

    def make(name: str, url: str) -> Tuple[Engine, SyncClient, Session]:
        engine = sqlite_engine(tmp_path / f"{name}.db")
        sync = SyncClient(engine, url, timeout=10)
        assert sync.track(Country, City) == ["country", "city"]
        sync.register()
        session = Session(engine, expire_on_commit=False)
        made.append((engine, sync, session))
        return engine, sync, session

    yield make
    for engine, sync, session in made:
        session.close()
        sync.close()
        engine.dispose()


def test_two_clients_and_direct_server_writes(app_server, device):
    with app_server.session() as s:
        france = Country(name="France")
        s.add_all([france, City(name="Paris", country=france,
                                population=2_100_000)])
        s.commit()

    _, a, sa = device("a", app_server.url)
    _, b, sb = device("b", app_server.url)
    a.sync(sa)
    b.sync(sb)
    assert cities(sa) == cities(sb) == [("Paris", "France", 2_100_000)]

    # B loads Paris; then A renames it and the server app updates its
    # population and adds a city, each committed through SQLAlchemy.
    paris = sb.scalars(select(City).filter_by(name="Paris")).one()
    assert paris.population == 2_100_000
    pa = sa.get(City, paris.id)
    pa.name = "Paris (FR)"
    sa.commit()
    a.sync(sa)
    with app_server.session() as s:
        s.get(City, paris.id).population = 2_150_000
        france = s.scalars(select(Country)).one()
        s.add(City(name="Lyon", country=france, population=520_000))
        s.commit()

    b.sync(sb)
    # The object loaded before the pull shows the merged row: same
    # identity, both the client's and the server app's changes.
    assert sb.get(City, paris.id) is paris
    assert (paris.name, paris.population) == ("Paris (FR)", 2_150_000)
    assert cities(sb) == [("Lyon", "France", 520_000),
                          ("Paris (FR)", "France", 2_150_000)]
    assert pa.population == 2_100_000  # A has not pulled yet
    a.sync(sa)
    assert pa.population == 2_150_000
    assert cities(sa) == cities(sb)
    with app_server.session() as s:
        assert cities(s) == cities(sb)

    # A delete by the server app: the ORM's object for it is expired and
    # raises on access, as after any delete SQLAlchemy learns of late.
    lyon_b = sb.scalars(select(City).filter_by(name="Lyon")).one()
    with app_server.session() as s:
        s.delete(s.scalars(select(City).filter_by(name="Lyon")).one())
        s.commit()
    b.sync(sb)
    with pytest.raises(ObjectDeletedError):
        lyon_b.name
    a.sync(sa)
    assert cities(sa) == cities(sb) == [("Paris (FR)", "France", 2_150_000)]
    assert a.pending() == b.pending() == []

    # A server transaction rolled back leaves nothing to version.
    version = a.latest_version
    with app_server.session() as s:
        s.add(City(name="Ghost", country=s.scalars(select(Country)).one()))
        s.flush()
        s.rollback()
    a.sync(sa)
    assert a.latest_version == version
    assert cities(sa) == [("Paris (FR)", "France", 2_150_000)]


def test_integer_keys_renumbered(wsgi_app_server, device):
    _, a, sa = device("a", wsgi_app_server.url)
    _, b, sb = device("b", wsgi_app_server.url)
    # Offline, both create a country with its cities: both get key 1.
    norway = Country(name="Norway", cities=[City(name="Oslo")])
    sa.add(norway)
    sa.commit()
    sweden = Country(name="Sweden", cities=[City(name="Stockholm")])
    sb.add(sweden)
    sb.commit()
    assert norway.id == sweden.id == 1
    stockholm = sweden.cities[0]

    a.sync(sa)
    b.sync(sb)
    # B's pull moved its Sweden to a new key; the object that named key 1
    # would now load Norway, so it is detached, keeping its last values.
    assert b.conflicts() == [dbsync.Conflict("insert/insert", "country", 1,
                                             "i", "keep-both")]
    assert b.conflicts() == []
    assert sqlalchemy.inspect(sweden).detached
    assert sweden.name == "Sweden"
    assert sb.get(Country, 1).name == "Norway"
    # The city followed its country (foreign key rewritten), and its
    # object, still attached, reloads the new key.
    assert stockholm.country.name == "Sweden"
    assert stockholm.country_id != 1
    a.sync(sa)
    assert cities(sa) == cities(sb) == [("Oslo", "Norway", 0),
                                        ("Stockholm", "Sweden", 0)]
    with wsgi_app_server.session() as s:
        assert cities(s) == cities(sa)


def test_unique_collision_with_server_app(wsgi_app_server, device):
    with wsgi_app_server.session() as s:
        s.add(Country(id=1, name="France"))
        s.commit()
    _, a, sa = device("a", wsgi_app_server.url)
    a.sync(sa)
    sa.add(City(name="Lyon", country_id=1, population=1))
    sa.commit()
    with wsgi_app_server.session() as s:
        s.add(City(name="Lyon", country_id=1, population=2))
        s.commit()
    # The server's Lyon cannot be merged next to A's: the pull stops with
    # UniqueConflictError naming A's row, and changes nothing here; A's own
    # Lyon is still pending.
    lyon = sa.scalars(select(City)).one()
    with pytest.raises(dbsync.UniqueConflictError) as e:
        a.sync(sa)
    assert e.value.conflicts == [("city", lyon.id, ("name",))]
    assert cities(sa) == [("Lyon", "France", 1)]
    assert [op[0] for op in a.pending()] == ["city"]
    # SyncClient's report has the collision too.
    assert [(c.kind, c.pk, c.columns) for c in a.conflicts()] == [
        ("unique", lyon.id, ("name",))]
    # The app fixes its data; the next sync goes through.
    sa.scalars(select(City)).one().name = "Lyon (A)"
    sa.commit()
    a.sync(sa)
    assert cities(sa) == [("Lyon", "France", 2), ("Lyon (A)", "France", 1)]
    with wsgi_app_server.session() as s:
        assert cities(s) == cities(sa)


def test_session_transactions(wsgi_app_server, device):
    with wsgi_app_server.session() as s:
        s.add(Country(id=1, name="France"))
        s.commit()
    _, a, sa = device("a", wsgi_app_server.url)
    a.sync(sa)

    # Objects not yet flushed: refused, nothing synchronized.
    sa.add(City(name="Nice", country_id=1))
    with pytest.raises(dbsync.InvalidError, match="not yet committed"):
        a.sync(sa)
    assert sa.new and a.pending() == []
    # Flushed but not committed: the session holds SQLite's write lock.
    sa.flush()
    with pytest.raises(dbsync.InvalidError, match="open database"):
        a.pull(sa)
    with pytest.raises(dbsync.InvalidError, match="open database"):
        a.push(sa)
    assert a.pending() == []  # the flushed row is invisible to the client
    # commit=True commits it, then syncs.
    a.sync(sa, commit=True)
    assert not sa.in_transaction() and a.pending() == []
    with wsgi_app_server.session() as s:
        assert [c.name for c in s.scalars(select(City))] == ["Nice"]

    # A session that only read is let through, its transaction ended.
    sa.scalars(select(City)).all()
    assert sa.in_transaction()
    a.sync(sa)
    assert not sa.in_transaction()

    # A modified attribute set back to its value is no change.
    nice = sa.scalars(select(City)).one()
    nice.name = "Nice"
    a.pull(sa)


def test_session_bound_client_and_scoped_session(wsgi_app_server, tmp_path):
    with wsgi_app_server.session() as s:
        s.add(Country(id=1, name="France"))
        s.commit()
    engine = sqlite_engine(tmp_path / "c.db")
    Scoped = scoped_session(sessionmaker(engine, expire_on_commit=False))
    with SyncClient(Scoped, wsgi_app_server.url, timeout=10) as sync:
        assert sync.engine is engine
        sync.track(Country, City)
        sync.register()
        sync.sync()  # the scoped session's current session is used
        france = Scoped.scalars(select(Country)).one()
        with wsgi_app_server.session() as s:
            s.get(Country, 1).name = "République française"
            s.commit()
        sync.pull()
        assert france.name == "République française"
        # Explicit sessions replace the default one.
        other = Session(engine, expire_on_commit=False)
        mine = other.get(Country, 1)
        with wsgi_app_server.session() as s:
            s.get(Country, 1).name = "France"
            s.commit()
        sync.pull(other)
        assert mine.name == "France"
        other.close()
    Scoped.remove()
    engine.dispose()


def test_without_the_helper_the_orm_is_stale(wsgi_app_server, device):
    """Why SyncClient expires: a raw dbsync.Client pull is invisible to
    objects already loaded."""
    with wsgi_app_server.session() as s:
        s.add(Country(id=1, name="France"))
        s.commit()
    _, a, sa = device("a", wsgi_app_server.url)
    a.sync(sa)
    france = sa.get(Country, 1)
    sa.commit()
    with wsgi_app_server.session() as s:
        s.get(Country, 1).name = "FR"
        s.commit()
    a.client.pull()
    assert france.name == "France"  # stale: the identity map was kept
    sa.expire_all()
    assert france.name == "FR"


def test_table_names():
    assert dsa.table_names(City, Country) == ["city", "country"]
    assert dsa.table_names(sqlalchemy.inspect(City)) == ["city"]
    assert dsa.table_names(City.__table__, City) == ["city"]

    md = MetaData()
    plain = Table("plain", md, Column("id", Integer, primary_key=True))
    assert dsa.table_names(plain) == ["plain"]

    reg = registry()

    class Imperative:
        pass

    reg.map_imperatively(Imperative, plain)
    assert dsa.table_names(Imperative) == ["plain"]

    class IBase(DeclarativeBase):
        pass

    class Animal(IBase):
        __tablename__ = "animal"
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str]
        __mapper_args__ = {"polymorphic_on": "kind",
                           "polymorphic_identity": "animal"}

    class Dog(Animal):  # joined-table inheritance
        __tablename__ = "dog"
        id: Mapped[int] = mapped_column(ForeignKey("animal.id"),
                                        primary_key=True)
        __mapper_args__ = {"polymorphic_identity": "dog"}

    class Puppy(Dog):  # single-table inheritance below it
        __mapper_args__ = {"polymorphic_identity": "puppy"}

    assert dsa.table_names(Dog) == ["animal", "dog"]
    assert dsa.table_names(Puppy, Animal) == ["animal", "dog"]


def test_bad_targets_and_binds(tmp_path, monkeypatch):
    # Were a refusal below to fail, the file it opened lands here.
    monkeypatch.chdir(tmp_path)

    class NotMapped:
        pass

    md = MetaData()
    attached = Table("t", md, Column("id", Integer, primary_key=True),
                     schema="other")
    joined = registry()

    class OverJoin:
        pass

    a = Table("a", md, Column("id", Integer, primary_key=True))
    b = Table("b", md, Column("id", Integer, ForeignKey("a.id"),
                              primary_key=True))
    joined.map_imperatively(OverJoin, a.join(b),
                            properties={"id": [a.c.id, b.c.id]})

    cases = [
        (NotMapped, "is not mapped"),
        (Base, "is not mapped"),
        (City(name="x"), "is an instance; pass its class"),
        ("city", "is a name"),
        (object(), "expected a mapped class, a Mapper or a Table"),
        (42, "expected a mapped class"),
        (attached, "schema 'other'"),
        (OverJoin, "mapped to Join, not a table"),
    ]
    for target, message in cases:
        with pytest.raises(dbsync.InvalidError, match=message) as e:
            dsa.table_names(target)
        assert e.value.code == -3 and e.value.name == "INVALID"
        assert isinstance(e.value, ValueError)

    # Engines dbsync cannot share: in memory, or not a file.
    for url in ("sqlite://", "sqlite:///:memory:",
                "sqlite:///file:mem?mode=memory&uri=true"):
        with pytest.raises(dbsync.InvalidError, match="in memory"):
            SyncClient(create_engine(url, poolclass=StaticPool))
    # Clients are SQLite files (servers may be PostgreSQL too:
    # test_sqlalchemy_pg.py).
    with pytest.raises(dbsync.InvalidError, match="not SQLite"):
        SyncClient(create_engine("postgresql+pg8000://u@localhost/db",
                                 module=_FakeDbapi))
    with pytest.raises(dbsync.InvalidError, match="no bind"):
        SyncClient(Session())
    with pytest.raises(dbsync.InvalidError, match="expected an Engine"):
        SyncClient(str(tmp_path / "x.db"))
    uri = create_engine(f"sqlite:///file:{tmp_path / 'u.db'}?uri=true")
    assert dsa.sqlite_path(uri) == str(tmp_path / "u.db")
    assert dsa.sqlite_path(Session(uri)) == str(tmp_path / "u.db")

    # Resolution happens before anything is tracked.
    engine = sqlite_engine(tmp_path / "c.db")
    with SyncClient(engine) as sync:
        with pytest.raises(dbsync.InvalidError):
            sync.track(City, NotMapped)
        assert sync.tracked(City) is None
        with pytest.raises(dbsync.InvalidError, match="direction"):
            sync.track(City, direction="sideways")
        missing = Table("missing", md, Column("id", Integer,
                                              primary_key=True))
        with pytest.raises(dbsync.NotFound):
            sync.track(missing)
        sync.track(Country, City, direction="pull")
        assert sync.tracked(City) == "pull"
        assert sync.untrack(City) == ["city"]
        assert sync.tracked(City) is None
        with pytest.raises(dbsync.InvalidError, match="Session"):
            sync.pull("not a session")
        with pytest.raises(dbsync.InvalidError, match="dbsync.Client"):
            dsa.track(engine, City)
    server_engine = sqlite_engine(tmp_path / "s.db")
    with SyncServer(server_engine) as server:
        with pytest.raises(dbsync.InvalidError, match="direction"):
            dsa.track(server.server, City, direction="push")
        assert dsa.track(server.server, City) == ["city"]
        assert dsa.track(server, Country) == ["country"]
    with SyncClient(engine) as sync:
        assert dsa.track(sync, Country, direction="push") == ["country"]
        assert sync.tracked(Country) == "push"
    engine.dispose()
    server_engine.dispose()


class _FakeDbapi:
    """Just enough of a DBAPI module for create_engine() to build a
    PostgreSQL engine that never connects."""
    paramstyle = "pyformat"

    class Error(Exception):
        pass


def test_closed_client_and_server(tmp_path):
    engine = sqlite_engine(tmp_path / "c.db")
    sync = SyncClient(engine, "http://127.0.0.1:9")
    sync.track(Country)
    sync.close()
    sync.close()  # harmless
    assert sync.closed and "closed" in repr(sync)
    session = Session(engine)
    session.add(Country(name="Atlantis"))
    for call in (sync.sync, sync.pull, sync.push, sync.repair):
        with pytest.raises(dbsync.InvalidError, match="closed"):
            call(session, commit=True)
    # Nothing was committed on the closed client's account.
    assert session.new
    session.rollback()
    with Session(engine) as other:
        assert other.scalars(select(Country)).all() == []
    with pytest.raises(dbsync.InvalidError, match="closed"):
        sync.track(City)
    with pytest.raises(dbsync.InvalidError, match="closed"):
        sync.register()
    raw = dbsync.Client(str(tmp_path / "c.db"))
    raw.close()
    with pytest.raises(dbsync.InvalidError, match="closed"):
        dsa.track(raw, Country)

    server = SyncServer(sqlite_engine(tmp_path / "s.db"))
    server.close()
    assert server.closed
    with pytest.raises(dbsync.InvalidError, match="closed"):
        server.track(Country)
    session.close()
    engine.dispose()


def test_import_dbsync_does_not_need_sqlalchemy(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = None  # as if not installed\n"
        "import dbsync, dbsync.wsgi\n"
        "try:\n"
        "    import dbsync.sqlalchemy\n"
        "except ImportError as e:\n"
        "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         capture_output=True, text=True, cwd=tmp_path)
    assert "pip install 'dbsync[sqlalchemy]'" in out.stdout


def test_example_app_runs(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "python/examples/sqlalchemy_app.py"),
         str(tmp_path)], check=True, capture_output=True, text=True,
        timeout=120)
    assert out.stdout.splitlines()[-1] == "ok"
    assert "Paris object: 2150000" in out.stdout
