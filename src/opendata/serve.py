"""`opendata serve`: a static HTTP server for a local store, with the catalog's content types.

Every request is decided on the decoded, normalised path, never on the raw one: a request that
could mean different files to different layers (percent-encoded separators or dots, double
encoding, backslashes, NUL, dot segments, empty segments) is refused outright rather than
cleaned up. What remains is resolved against the store root with symlinks followed, and served
only when it is a regular file inside the root whose every segment is public: nothing starting
with `.` or `_` (the private area `_private/`, dot-files, LocalStore's `.tmp-*` partial files)
and no `*.tmp`. There are no directory listings; a folder answers with its index.html.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from opendata.storage.base import content_type_for

# Idle connections (no request line, half a header, a reader that stops reading) are dropped
# after this many seconds, so a handful of silent sockets cannot hold the server's threads.
TIMEOUT = 15.0
INDEX = "index.html"
ALLOWED = "GET, HEAD"


@dataclass(frozen=True)
class Redirect:
    """A folder asked for without its trailing slash: relative links on its page need one."""

    location: str


def request_segments(target: str) -> tuple[list[str], bool] | None:
    """The decoded path segments of a request target and whether it names a folder, or None.

    None for anything but a plain absolute path of visible ASCII whose single percent-decoding
    is valid UTF-8 without a further `%` (double encoding is refused, not decoded again), and
    whose every segment is a public name (see `public_name`). Query and fragment are ignored.
    """
    if not target.startswith("/") or any(not "\x21" <= char <= "\x7e" for char in target):
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    try:
        decoded = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "%" in decoded:
        return None
    parts = decoded[1:].split("/")
    folder = parts[-1] == ""
    if folder:
        parts.pop()
    if not all(public_name(part) for part in parts):
        return None
    return parts, folder


def public_name(segment: str) -> bool:
    """Whether one path segment may be served: never the private area, dot-files or temp files.

    Also refuses `.` and `..` (they start with a dot), empty segments (`//`), and characters
    a filesystem or another layer could read differently: backslash, NUL and the rest of the
    control and format characters, and whitespace.
    """
    return (
        segment != ""
        and not segment.startswith((".", "_"))
        and not segment.endswith(".tmp")
        and "\\" not in segment
        and segment.isprintable()
        and not any(char.isspace() for char in segment)
    )


def public_file(root: Path, candidate: Path) -> Path | None:
    """The real path of `candidate` when it is a public regular file inside the real `root`."""
    real = _public_real_path(root, candidate)
    return real if real is not None and real.is_file() else None


def _public_real_path(root: Path, candidate: Path) -> Path | None:
    """`candidate` with every symlink resolved, if that stays inside `root` and is public."""
    real = Path(os.path.realpath(candidate))
    if real == root:
        return real
    if not real.is_relative_to(root):
        return None
    if not all(public_name(part) for part in real.relative_to(root).parts):
        return None
    return real if real.exists() else None


def locate(root: Path, target: str) -> Path | Redirect | None:
    """What a request target answers with: a file's real path, a redirect, or None (404).

    `root` must be a real path (symlinks resolved): links inside the store are followed only
    while they stay inside it and out of its private names.
    """
    found = request_segments(target)
    if found is None:
        return None
    parts, folder = found
    real = _public_real_path(root, root.joinpath(*parts))
    if real is None:
        return None
    if real.is_dir():
        if not folder:
            return Redirect(quote("/" + "/".join(parts)) + "/")
        return public_file(root, real / INDEX)
    if folder or not real.is_file():
        return None
    return real


class StoreRequestHandler(BaseHTTPRequestHandler):
    """GET and HEAD of the public files of a store; everything else is 404 or 405."""

    server_version = "opendata"
    sys_version = ""

    def __init__(self, *args: Any, root: Path, timeout: float = TIMEOUT, **kwargs: Any) -> None:
        # Set before the base class's __init__, which handles the whole connection.
        self.root = root
        self.idle_timeout = timeout
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        """Every read and write on the connection gives up after `idle_timeout` seconds."""
        super().setup()
        self.connection.settimeout(self.idle_timeout)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _refuse_method(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", ALLOWED)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    def end_headers(self) -> None:
        """Browsers must not guess another type (HTML, script) than the one sent."""
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def _answer(self, body: bool) -> None:
        found = locate(self.root, self.path)
        if isinstance(found, Redirect):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", found.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if found is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        try:
            # O_NOFOLLOW and O_NONBLOCK: a file swapped for a symlink or a FIFO since `locate`
            # fails here or is refused below, instead of leaking or hanging the thread.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            descriptor = os.open(found, flags)
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with os.fdopen(descriptor, "rb") as stream:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            if self._not_modified(status.st_mtime):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.end_headers()
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type_for(found.name))
            self.send_header("Content-Length", str(status.st_size))
            self.send_header("Last-Modified", self.date_time_string(status.st_mtime))
            self.end_headers()
            if body:
                shutil.copyfileobj(stream, self.wfile)

    def _not_modified(self, modified: float) -> bool:
        """If-Modified-Since, as SimpleHTTPRequestHandler answers it (ignored when malformed)."""
        since = self.headers.get("If-Modified-Since")
        if since is None or "If-None-Match" in self.headers:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, IndexError, OverflowError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        last = datetime.datetime.fromtimestamp(modified, datetime.UTC).replace(microsecond=0)
        return last <= when

    def log_message(self, format: str, *args: object) -> None:
        """Quiet by default: a steward does not need a line per request."""


class StoreServer(ThreadingHTTPServer):
    """One daemon thread per connection; clients that hang up or time out are not errors."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def make_server(
    root: Path, host: str, port: int, *, timeout: float = TIMEOUT
) -> ThreadingHTTPServer:
    handler = functools.partial(
        StoreRequestHandler, root=Path(os.path.realpath(root)), timeout=timeout
    )
    return StoreServer((host, port), handler)


def serve_folder(root: Path, host: str, port: int) -> None:
    run_server(make_server(root, host, port))


def run_server(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C, then release the port."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
