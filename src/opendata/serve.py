"""`opendata serve`: a static HTTP server for a local store, with the catalog's content types.

Every request is decided on the decoded, normalised path, never on the raw one: a request that
could mean different files to different layers (percent-encoded separators or dots, double
encoding, backslashes, NUL, dot segments, empty segments) is refused outright rather than
cleaned up. What remains is resolved against the store root with symlinks followed, and served
only when it is a regular file inside the root whose every segment is public: nothing starting
with `.` or `_` (the private area `_private/`, dot-files, LocalStore's `.tmp-*` partial files)
and no `*.tmp`. There are no directory listings; a folder answers with its index.html.

It speaks HTTP/1.1 as data clients expect (DuckDB, pyarrow, fsspec, browsers):

- Keep-alive: an HTTP/1.1 connection stays open for the next request (an HTTP/1.0 one when it
  asks with `Connection: keep-alive`), every answer has a Content-Length (but 304, which has
  no body), and a connection that says nothing for `TIMEOUT` seconds is closed. Errors (404,
  405, 501) close it, and so does a GET or HEAD that carries a body: the body is left unread
  and never taken for the next request.
- Validators: a strong ETag per file (see `entity_tag`) and Last-Modified; `If-None-Match`
  (a list, weak or strong tags, or `*`) and, without it, `If-Modified-Since` answer 304.
- Ranges: `Accept-Ranges: bytes`; one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) is answered
  206 with Content-Range, so a Parquet reader fetches the footer and the column chunks it needs
  instead of the whole file. A range set that no byte of the file satisfies is 416 with
  `Content-Range: bytes */<size>`. Several ranges are answered with the whole file (200, which
  HTTP allows for any Range): data clients ask for one range at a time, and multipart answers
  are code that nothing here needs. A malformed Range, another unit or an empty file is also
  answered whole. `If-Range` is honoured: the range is served only while the client's ETag
  (strong comparison) or date (exactly Last-Modified, and only once that is a strong validator)
  still names this file, else the whole new file is sent, never a mix of two versions.
- HEAD answers exactly the headers GET would (status, Content-Length, Content-Range), no body.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import hashlib
import os
import re
import stat
import sys
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote, unquote_to_bytes

from opendata import layout
from opendata.storage.base import content_type_for

# Idle connections (no request line, half a header, a reader that stops reading) are dropped
# after this many seconds, so a handful of silent sockets cannot hold the server's threads.
TIMEOUT = 15.0
INDEX = layout.INDEX  # a folder's page
ALLOWED = "GET, HEAD"
CHUNK = 64 * 1024  # bytes read from the file and written to the socket at a time


@dataclass(frozen=True)
class Redirect:
    """A folder asked for without its trailing slash: relative links on its page need one."""

    location: str


ENCODED_SEPARATOR = re.compile(r"%(?:2f|5c)", re.IGNORECASE)


def request_segments(target: str) -> tuple[list[str], bool] | None:
    """The decoded path segments of a request target and whether it names a folder, or None.

    None for anything but a plain absolute path of visible ASCII whose single percent-decoding
    is valid UTF-8 without a further `%` (double encoding is refused, not decoded again), and
    whose every segment is a public name (see `public_name`). Query and fragment are ignored.
    """
    if not target.startswith("/") or any(not "\x21" <= char <= "\x7e" for char in target):
        return None
    path = target.split("?", 1)[0].split("#", 1)[0]
    if ENCODED_SEPARATOR.search(path):
        return None  # `%2F` is a slash inside a name to some layers, a separator to others
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


def entity_tag(status: os.stat_result) -> str:
    """A strong ETag for the file `status` describes, from its identity rather than its bytes.

    Cheap: a stat, not a read (hashing a 150 MB catalog.json on every request would not be).
    Strong, because the same identity means the same bytes in a store: no file is changed in
    place. LocalStore writes every file to a temporary file that is linked or renamed into
    place (a new inode with new times), and a published version's files are created once and
    never rewritten. Even an edit in place by hand changes the modification and change times
    (the change time cannot be set back). So (device, inode, size, mtime_ns, ctime_ns) changes
    whenever the bytes do, which is what a strong validator needs; it may also change when the
    bytes do not (a file copied back, a store moved to another disk), which only costs a client
    one download. Strong matters for ranges: `If-Range` accepts strong tags only, and it is what
    keeps a client from joining parts of two versions of a file. The identity is hashed, so the
    tag says nothing about the disk (the SHA-256 of the bytes is in datapackage.json for data
    files; it would cost a full read of every file to use it here).
    """
    identity = (
        f"{status.st_dev}:{status.st_ino}:{status.st_size}:"
        f"{status.st_mtime_ns}:{status.st_ctime_ns}"
    )
    return '"' + hashlib.blake2b(identity.encode(), digest_size=16).hexdigest() + '"'


ENTITY_TAG = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"')


def none_match(header: str, etag: str) -> bool:
    """Whether `If-None-Match: header` matches the file whose ETag is `etag` (then 304).

    `*` matches any existing file; otherwise any tag of the list does, compared weakly (RFC 9110
    13.1.2: `W/"x"` matches `"x"`). A header with no tag in it matches nothing.
    """
    if header.strip() == "*":
        return True
    return any(tag.removeprefix("W/") == etag for tag in ENTITY_TAG.findall(header))


@dataclass(frozen=True)
class ByteRange:
    """The bytes `first` to `last` (both included) of a file, as a 206 answers them."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


def byte_range(header: str, size: int) -> ByteRange | Literal["unsatisfiable"] | None:
    """What a `Range` header asks of a file of `size` bytes (RFC 9110 14.1-14.2).

    A ByteRange for one satisfiable range (206); "unsatisfiable" when no range of the set
    starts inside the file (416); None to send the whole file (200): a malformed header
    (which HTTP says to ignore), a unit other than bytes, an empty file, or several ranges.
    """
    unit, equals, ranges = header.partition("=")
    if not equals or unit.lower() != "bytes" or size == 0:
        return None
    specs = [spec.strip() for spec in ranges.split(",")]
    specs = [spec for spec in specs if spec]  # a list may have empty elements
    if not specs:
        return None
    satisfiable: list[ByteRange] = []
    for spec in specs:
        match = RANGE_SPEC.fullmatch(spec)
        if match is None or match[1] == match[2] == "":
            return None
        try:
            first = int(match[1]) if match[1] else None
            last = int(match[2]) if match[2] else None
        except ValueError:  # more digits than int() accepts: not a range any file satisfies
            return None
        if first is None:
            assert last is not None
            if last > 0:  # the final `last` bytes, or the whole file when it is shorter
                satisfiable.append(ByteRange(max(size - last, 0), size - 1))
        elif last is not None and last < first:
            return None
        elif first < size:
            satisfiable.append(ByteRange(first, size - 1 if last is None else min(last, size - 1)))
    if not satisfiable:
        return "unsatisfiable"
    return satisfiable[0] if len(specs) == 1 else None


class StoreRequestHandler(BaseHTTPRequestHandler):
    """GET and HEAD of the public files of a store; everything else is 404 or 405."""

    server_version = "opendata"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return self.server_version  # not "opendata " with the empty sys_version after it

    def __init__(self, *args: Any, root: Path, timeout: float = TIMEOUT, **kwargs: Any) -> None:
        # Set before the base class's __init__, which handles the whole connection.
        self.root = root
        self.idle_timeout = timeout
        self.connection_said = False  # whether this answer has sent a Connection header
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

    def parse_request(self) -> bool:
        """As the base class, but `self.path` stays the target the client sent: the base class
        folds a leading `//` into `/` (against open redirects), and a target this server would
        answer differently from what the client asked for is refused instead (404)."""
        self.connection_said = False
        parsed = super().parse_request()
        words = self.requestline.split()
        if parsed and len(words) >= 2:
            self.path = words[1]
        return parsed

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection":
            self.connection_said = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        """Browsers must not guess another type (HTML, script) than the one sent. The client
        is told when the connection closes after this answer although HTTP/1.1 would keep it,
        and when it is kept although HTTP/1.0 would close it (the client asked to keep it)."""
        self.send_header("X-Content-Type-Options", "nosniff")
        if not self.connection_said:
            if self.close_connection and self.request_version != "HTTP/1.0":
                self.send_header("Connection", "close")
            elif not self.close_connection and self.request_version == "HTTP/1.0":
                self.send_header("Connection", "keep-alive")
        super().end_headers()

    def _carries_body(self) -> bool:
        """Whether a GET or HEAD came with a body, which HTTP gives no meaning to."""
        length = self.headers.get("Content-Length", "0").strip()
        return "Transfer-Encoding" in self.headers or length not in ("", "0")

    def _answer(self, body: bool) -> None:
        if self._carries_body():  # left unread: never taken for the next request
            self.close_connection = True
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
            self._answer_file(stream, status, content_type_for(found.name), body)

    def _answer_file(
        self, stream: IO[bytes], status: os.stat_result, content_type: str, body: bool
    ) -> None:
        """200, 206, 304 or 416 for an open regular file, by its validators and the Range."""
        size = status.st_size
        etag = entity_tag(status)
        modified = self.date_time_string(status.st_mtime)
        if self._not_modified(etag, status.st_mtime):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            self.end_headers()
            return
        asked = self.headers.get("Range")
        wanted = None
        if asked is not None and self._if_range_holds(etag, modified, status.st_mtime):
            wanted = byte_range(asked, size)
        if wanted == "unsatisfiable":
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self._validators(etag, modified)
            self.end_headers()
            return
        part = wanted if isinstance(wanted, ByteRange) else ByteRange(0, size - 1)
        if isinstance(wanted, ByteRange):
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", wanted.content_range(size))
        else:
            self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(part.length))
        self._validators(etag, modified)
        self.end_headers()
        if body:
            self._send_bytes(stream, part)

    def _validators(self, etag: str, modified: str) -> None:
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)

    def _send_bytes(self, stream: IO[bytes], part: ByteRange) -> None:
        """The bytes of `part`; a file cut short meanwhile closes the connection instead of
        leaving the client waiting for the Content-Length it was promised."""
        stream.seek(part.first)
        remaining = part.length
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                self.close_connection = True
                return
            self.wfile.write(chunk)
            remaining -= len(chunk)

    def _not_modified(self, etag: str, modified: float) -> bool:
        """If-None-Match, else If-Modified-Since (RFC 9110 13.2.2); a malformed date is ignored."""
        tags = self.headers.get("If-None-Match")
        if tags is not None:
            return none_match(tags, etag)
        since = self._date("If-Modified-Since")
        if since is None:
            return False
        last = datetime.datetime.fromtimestamp(modified, datetime.UTC).replace(microsecond=0)
        return last <= since

    def _if_range_holds(self, etag: str, modified: str, mtime: float) -> bool:
        """Whether the Range applies: no If-Range, or one still naming this file. An entity tag
        is compared strongly (a weak one never holds); a date must be exactly Last-Modified,
        and only counts once the file is more than a second old, when a date with whole
        seconds is a strong validator (RFC 9110 8.8.2.2, 13.1.5)."""
        value = self.headers.get("If-Range")
        if value is None:
            return True
        value = value.strip()
        if value.startswith(('"', "W/")):
            return value == etag
        return value == modified and time.time() - mtime > 1

    def _date(self, name: str) -> datetime.datetime | None:
        value = self.headers.get(name)
        if value is None:
            return None
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, IndexError, OverflowError, ValueError):
            return None
        return when.replace(tzinfo=datetime.UTC) if when.tzinfo is None else when

    def log_message(self, format: str, *args: object) -> None:
        """Quiet by default: a steward does not need a line per request."""


class StoreServer(ThreadingHTTPServer):
    """One daemon thread per connection; clients that hang up or time out are not errors.
    The listen queue holds a burst of connections (the standard library's 5 dropped most of
    200 simultaneous ones)."""

    daemon_threads = True
    request_queue_size = 1024

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
