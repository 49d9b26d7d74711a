"""dbsync: offline-first synchronization of SQLite databases.

    import dbsync
    with dbsync.Client("app.db", "http://127.0.0.1:8080") as client:
        client.track("city")
        client.register()
        client.sync()

Every failure raises a subclass of :class:`dbsync.Error` (one per error
code: PullRequired, PushRejected, UniqueConflictError, NotFound...). An
exception raised by a callback (conflict, progress, server hooks) comes out
of the call unchanged.
"""

from . import _core
from ._api import Client, Conflict, ConflictInfo, Server
from ._errors import *  # noqa: F401,F403 - the exception classes
from ._errors import Error, UniqueConflict, error_class, _make
from ._errors import __all__ as _error_names

_core._set_error_factory(_make)

#: The version of this package (the C library's release version).
__version__: str = _core.DBSYNC_VERSION


def library_version() -> str:
    """The version of the libdbsync actually loaded."""
    return _core.dbsync_version()


def sqlite_version() -> str:
    """The version of SQLite libdbsync runs on."""
    return _core.dbsync_sqlite_version()


def strerror(code: int) -> str:
    """One-line description of an error code."""
    return _core.dbsync_strerror(code)


__all__ = ["Client", "Conflict", "ConflictInfo", "Server", "UniqueConflict",
           "error_class", "library_version", "sqlite_version", "strerror",
           "__version__"] + list(_error_names)
