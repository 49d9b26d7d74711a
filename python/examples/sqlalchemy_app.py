"""An SQLAlchemy application synchronized with dbsync (docs/python.md).

Two devices keep countries and cities in their own SQLite files and sync
them through a server whose database the "head office" also edits through
SQLAlchemy. Run it from anywhere; it works in a temporary directory (or in
the directory given as its argument) and prints what each side sees:

    python python/examples/sqlalchemy_app.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, List
from wsgiref.simple_server import WSGIRequestHandler, make_server

from sqlalchemy import ForeignKey, String, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, mapped_column,
                            relationship)

from dbsync.sqlalchemy import SyncClient, SyncServer


class Base(DeclarativeBase):
    pass


class Country(Base):
    __tablename__ = "country"
    # INTEGER keys work: two devices that both create country 3 offline
    # keep both, the later one renumbered by its pull.
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    cities: Mapped[List["City"]] = relationship(back_populates="country")


class City(Base):
    __tablename__ = "city"
    # A UUID is one identity everywhere: never renumbered.
    id: Mapped[str] = mapped_column(String(32), primary_key=True,
                                    default=lambda: uuid.uuid4().hex)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    population: Mapped[int] = mapped_column(default=0)
    country_id: Mapped[int] = mapped_column(ForeignKey("country.id"))
    country: Mapped[Country] = relationship(back_populates="cities")


def sqlite_engine(path: Path) -> Engine:
    """An engine on a SQLite file, with foreign keys enforced and a busy
    timeout long enough to wait out a dbsync pull page."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    Base.metadata.create_all(engine)
    return engine


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def cities(session: Session) -> List[str]:
    return [f"{c.name} ({c.country.name}, {c.population})"
            for c in session.scalars(select(City).order_by(City.name))]


def main(workdir: Path) -> None:
    # The server: the head office's database, served over HTTP.
    office = sqlite_engine(workdir / "server.db")
    server = SyncServer(office, registration="open")
    server.track(Country, City)
    httpd = make_server("127.0.0.1", 0, server.make_app(),
                        handler_class=_Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}"

    with Session(office) as s:  # a direct write: versioned for the clients
        france = Country(name="France")
        s.add_all([france, City(name="Paris", country=france,
                                population=2_100_000)])
        s.commit()

    devices = {}
    for name in ("laptop", "phone"):
        engine = sqlite_engine(workdir / f"{name}.db")
        sync = SyncClient(engine, url, timeout=10)
        sync.track(Country, City)
        if not sync.registered:
            sync.register()
        devices[name] = (engine, sync)

    laptop_engine, laptop = devices["laptop"]
    phone_engine, phone = devices["phone"]
    with Session(laptop_engine) as ls, Session(phone_engine) as ps:
        laptop.sync(ls)
        phone.sync(ps)
        paris = ps.scalars(select(City).filter_by(name="Paris")).one()
        print("phone sees:  ", cities(ps))

        # The laptop adds a city; the head office updates Paris directly.
        france = ls.scalars(select(Country).filter_by(name="France")).one()
        ls.add(City(name="Lyon", country=france, population=520_000))
        ls.commit()
        laptop.sync(ls)
        with Session(office) as s:
            s.scalars(select(City).filter_by(name="Paris")).one() \
                .population = 2_150_000
            s.commit()

        phone.sync(ps)  # expires ps: `paris` reloads the merged row
        print("phone sees:  ", cities(ps))
        print("Paris object:", paris.population)
        laptop.sync(ls)
        print("laptop sees: ", cities(ls))
        with Session(office) as s:
            print("server sees: ", cities(s))
        assert cities(ls) == cities(ps)

    httpd.shutdown()
    httpd.server_close()
    for engine, sync in devices.values():
        sync.close()
        engine.dispose()
    server.close()
    office.dispose()
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
