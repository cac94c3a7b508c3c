"""`opendata serve`: a static HTTP server for a local store, with the catalog's content types."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opendata.storage.base import CONTENT_TYPES

PRIVATE = {"_private", ".private"}


class StoreRequestHandler(SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 (the base class declares it as an instance variable)
        **SimpleHTTPRequestHandler.extensions_map,
        **CONTENT_TYPES,
    }

    def send_head(self):  # type: ignore[no-untyped-def]
        """The store's private area (API response cache) is never served."""
        if self.path.lstrip("/").split("/", 1)[0] in PRIVATE:
            self.send_error(404)
            return None
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet by default: a steward does not need a line per request."""


def make_server(root: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = functools.partial(StoreRequestHandler, directory=str(root))
    return ThreadingHTTPServer((host, port), handler)


def serve_folder(root: Path, host: str, port: int) -> None:
    server = make_server(root, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
