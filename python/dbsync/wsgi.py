"""A WSGI application serving the dbsync HTTP API (SPEC §4).

    app = dbsync.wsgi.make_app(dbsync.Server("sqlite:server.db", "open"))

Mount it in any WSGI server, or under a Flask app::

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    flask_app.wsgi_app = DispatcherMiddleware(flask_app.wsgi_app,
                                              {"/sync": make_app(server)})

(the client's server URL is then ``http://host/sync``).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable, Iterable, List, Tuple

from ._api import Server

__all__ = ["make_app"]

_NO_HTTP_PREFIX = {"CONTENT_TYPE": "Content-Type",
                   "CONTENT_LENGTH": "Content-Length"}


def _header_name(key: str) -> str:
    # HTTP_X_DBSYNC_NODE -> X-Dbsync-Node
    return "-".join(p.capitalize() for p in key[5:].split("_"))


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def make_app(server: Server) -> Callable[..., Iterable[bytes]]:
    """A WSGI application answering every request with ``server.handle``.
    The path is relative to the mount point (PATH_INFO)."""

    def app(environ: dict, start_response: Callable[..., Any]
            ) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers: List[Tuple[str, str]] = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers.append((_header_name(key), value))
            elif key in _NO_HTTP_PREFIX and value:
                headers.append((_NO_HTTP_PREFIX[key], value))
        path = environ.get("PATH_INFO") or "/"
        status, out, data = server.handle(environ["REQUEST_METHOD"], path,
                                          headers, body)
        out = out + [("Content-Length", str(len(data)))]
        start_response(_reason(status), out)
        return [data]

    return app
