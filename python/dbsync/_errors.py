"""The exception classes: dbsync.Error and one subclass per error code."""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple, Type, Union

__all__ = ["Error"]


class Error(Exception):
    """A dbsync failure: the library's error ``code`` (negative int), its
    ``name`` ("PULL_REQUIRED") and the one-line ``message``."""

    #: The code this class stands for (None on the base class).
    CODE: Optional[int] = None

    def __init__(self, message: str = "", code: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        if code is None:
            code = self.CODE if self.CODE is not None else -1
        if name is None:
            name = _NAMES.get(code, "UNKNOWN")
        super().__init__(message)
        self.code: int = code
        self.name: str = name
        self.message: str = message

    def __str__(self) -> str:
        if self.message:
            return f"{self.name}: {self.message}"
        return self.name

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(message={self.message!r}, "
                f"code={self.code}, name={self.name!r})")


# (code, constant name, class name, extra bases) - SPEC §7 and §8.
_TABLE: List[Tuple[int, str, str, tuple]] = [
    (-1, "ERROR", "InternalError", ()),
    (-2, "NOMEM", "NoMemory", (MemoryError,)),
    (-3, "INVALID", "InvalidError", (ValueError,)),
    (-4, "DB", "DatabaseError", ()),
    (-5, "SCHEMA", "SchemaError", ()),
    (-6, "NETWORK", "NetworkError", (ConnectionError,)),
    (-7, "HTTP", "HttpError", ()),
    (-8, "PROTOCOL", "ProtocolError", ()),
    (-9, "AUTH", "AuthError", ()),
    (-10, "NOT_REGISTERED", "NotRegistered", ()),
    (-11, "REGISTRATION_REFUSED", "RegistrationRefused", ()),
    (-12, "PULL_REQUIRED", "PullRequired", ()),
    (-13, "PUSH_REJECTED", "PushRejected", ()),
    (-14, "UNIQUE_CONFLICT", "UniqueConflictError", ()),
    (-15, "CONFLICT", "ConflictError", ()),
    (-16, "REPAIR_REQUIRED", "RepairRequired", ()),
    (-17, "BUSY", "BusyError", ()),
    (-18, "TLS", "TlsError", ()),
    (-19, "CALLBACK", "CallbackError", ()),
    (-20, "TOO_LARGE", "TooLarge", ()),
    (-21, "NOT_FOUND", "NotFound", (LookupError,)),
]

_NAMES: Dict[int, str] = {code: name for code, name, _, _ in _TABLE}
_BY_CODE: Dict[int, Type[Error]] = {}


def _define(code: int, name: str, cls_name: str, bases: tuple) -> type:
    doc = f"Raised for DBSYNC_{name} ({code})."
    cls = type(cls_name, (Error,) + bases,
               {"CODE": code, "__doc__": doc, "__module__": "dbsync"})
    _BY_CODE[code] = cls
    return cls


for _code, _name, _cls_name, _bases in _TABLE:
    if _code == -14:
        continue  # defined below, with .conflicts
    globals()[_cls_name] = _define(_code, _name, _cls_name, _bases)
    __all__.append(_cls_name)

# Statically visible names for type checkers and readers.
InternalError: Type[Error]
NoMemory: Type[Error]
InvalidError: Type[Error]
DatabaseError: Type[Error]
SchemaError: Type[Error]
NetworkError: Type[Error]
HttpError: Type[Error]
ProtocolError: Type[Error]
AuthError: Type[Error]
NotRegistered: Type[Error]
RegistrationRefused: Type[Error]
PullRequired: Type[Error]
PushRejected: Type[Error]
ConflictError: Type[Error]
RepairRequired: Type[Error]
BusyError: Type[Error]
TlsError: Type[Error]
CallbackError: Type[Error]
TooLarge: Type[Error]
NotFound: Type[Error]


class UniqueConflict(NamedTuple):
    """A local row in the way of a pulled one (UniqueConflictError): its
    table, its primary key, and the columns of the UNIQUE constraint or
    index they collide on."""
    table: str
    pk: Union[int, float, str, bytes]
    columns: Tuple[str, ...]


UniqueConflict.__module__ = "dbsync"


class UniqueConflictError(Error):
    """Raised for DBSYNC_UNIQUE_CONFLICT (-14) by pull() and sync(): a
    pulled row collides with a local row on a UNIQUE constraint or unique
    index, and the pull stopped before its page changed anything.
    ``conflicts`` lists the local rows in the way as ``(table, pk,
    columns)`` tuples (:class:`UniqueConflict`), e.g. ``("member", 7,
    ("email",))``; change or delete them, commit, and sync again."""

    CODE = -14

    def __init__(self, message: str = "", code: Optional[int] = None,
                 name: Optional[str] = None,
                 conflicts: Optional[list] = None) -> None:
        super().__init__(message, code, name)
        self.conflicts: List[UniqueConflict] = list(conflicts or [])


UniqueConflictError.__module__ = "dbsync"
_BY_CODE[-14] = UniqueConflictError
__all__.append("UniqueConflictError")


def error_class(code: int) -> Type[Error]:
    """The exception class for an error code (Error for unknown codes)."""
    return _BY_CODE.get(code, Error)


def _make(code: int, name: str, message: str) -> Error:
    """The factory the C binding calls for a negative status."""
    return error_class(code)(message, code, name)
