"""Issue 18, item 6: `opendata serve` speaks HTTP/1.1 to data clients.

Keep-alive (several requests on one connection, also pipelined), a strong ETag with
`If-None-Match` → 304, `Range` → 206 with Content-Range, 416 for a range past the end, and
`If-Range`; status codes and headers are checked exactly. Then a real client: pyarrow reads a
multi-megabyte Parquet file over HTTP through ranged GETs, and the bytes the server wrote to
its sockets are counted: opening the file (its footer) and reading one column of one row group
transfer a small fraction of the file, and the whole table read over HTTP equals the file.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import os
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opendata.serve import StoreRequestHandler, StoreServer, byte_range, entity_tag
from tests.httprange import RangeFile

CSV = b"kommun,ar,varde\nBoras,2024,1\nUlricehamn,2024,2\n"
SIZE = len(CSV)
SECRET = b"s3cr3t-do-not-serve-7f1c"
ROWS = 200_000
ROW_GROUP = 50_000


@dataclass
class Tally:
    """What the server wrote to its sockets: every byte (status lines, headers and bodies)."""

    sent: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: int = 0, connections: int = 0) -> None:
        with self.lock:
            self.sent += sent
            self.connections += connections

    def take(self) -> tuple[int, int]:
        """The counts so far, and zero again."""
        with self.lock:
            counts = (self.sent, self.connections)
            self.sent = self.connections = 0
            return counts


class CountingWriter:
    """The handler's socket writer, counting what it writes."""

    def __init__(self, inner: Any, tally: Tally) -> None:
        self.inner = inner
        self.tally = tally

    def write(self, data: bytes) -> int:
        # Counted before it goes out: once the client has the bytes, they are in the count.
        self.tally.add(sent=len(data))
        written: int = self.inner.write(data)
        return written

    def flush(self) -> None:
        self.inner.flush()

    @property
    def closed(self) -> bool:
        return bool(self.inner.closed)

    def close(self) -> None:
        self.inner.close()


class CountingHandler(StoreRequestHandler):
    """serve.py's handler with its writes counted (the test's instrument, nothing else)."""

    def __init__(self, *args: Any, tally: Tally, **kwargs: Any) -> None:
        self.tally = tally
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        super().setup()
        self.tally.add(connections=1)
        self.wfile = CountingWriter(self.wfile, self.tally)  # type: ignore[assignment]


@dataclass
class Served:
    port: int
    root: Path
    tally: Tally


def big_table() -> pa.Table:
    """Four row groups of numbers and text that compress poorly: a file of a few megabytes."""
    rng = random.Random(18)
    return pa.table(
        {
            "id": pa.array(range(ROWS), pa.int64()),
            "varde": pa.array([rng.random() for _ in range(ROWS)], pa.float64()),
            "kod": pa.array([f"{rng.getrandbits(40):010x}" for _ in range(ROWS)], pa.string()),
        }
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("store")
    version = root / "datasets" / "avfall" / "1.0.0"
    version.mkdir(parents=True)
    (version / "data.csv").write_bytes(CSV)
    (version / "tom.csv").write_bytes(b"")
    pq.write_table(big_table(), version / "stor.parquet", row_group_size=ROW_GROUP)
    (root / "index.html").write_bytes(b"<!doctype html><title>Katalog</title>")
    (root / "_private").mkdir()
    (root / "_private" / "secret.json").write_bytes(SECRET)
    tally = Tally()
    handler = functools.partial(CountingHandler, root=root.resolve(), timeout=2.0, tally=tally)
    server = StoreServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Served(server.server_address[1], root, tally)
    finally:
        server.shutdown()
        server.server_close()


DATA = "/datasets/avfall/1.0.0/data.csv"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def ask(port: int, target: str, method: str = "GET", **headers: str) -> Answer:
    """One request on a fresh connection (header names with `_` for `-`)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            method, target, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def exchange(port: int, request: bytes) -> bytes:
    """Bytes sent as they are, everything answered until the server closes the connection (a
    server that kept it open would time the generous socket timeout out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def read_answer(stream: Any, head: bool = False) -> tuple[str, dict[str, str], bytes]:
    """One answer from a socket's file: status line, headers (names lower case), body by its
    Content-Length (none after a HEAD)."""
    status = stream.readline().decode("latin-1").rstrip("\r\n")
    headers: dict[str, str] = {}
    while (line := stream.readline().decode("latin-1").rstrip("\r\n")) != "":
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b"" if head else stream.read(int(headers.get("content-length", "0")))
    return status, headers, body


def test_a_whole_file_is_200_with_its_validators_and_accept_ranges(served: Served) -> None:
    answer = ask(served.port, DATA)
    assert answer.status == 200
    assert answer.body == CSV
    assert answer.headers["Content-Length"] == str(SIZE)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["Server"] == "opendata"
    etag = answer.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34  # strong, opaque
    status = os.stat(served.root / DATA.lstrip("/"))
    assert etag == entity_tag(status)
    assert answer.headers["Last-Modified"] == email.utils.formatdate(status.st_mtime, usegmt=True)
    assert ask(served.port, DATA).headers["ETag"] == etag  # the same file, the same tag


RANGES = [
    # (Range, status, Content-Range, body)
    ("bytes=0-4", 206, f"bytes 0-4/{SIZE}", CSV[0:5]),
    ("bytes=0-0", 206, f"bytes 0-0/{SIZE}", CSV[0:1]),
    ("bytes=16-", 206, f"bytes 16-{SIZE - 1}/{SIZE}", CSV[16:]),
    ("bytes=-6", 206, f"bytes {SIZE - 6}-{SIZE - 1}/{SIZE}", CSV[-6:]),
    ("bytes=-1000", 206, f"bytes 0-{SIZE - 1}/{SIZE}", CSV),
    ("bytes=10-1000", 206, f"bytes 10-{SIZE - 1}/{SIZE}", CSV[10:]),
    (f"bytes={SIZE - 1}-{SIZE - 1}", 206, f"bytes {SIZE - 1}-{SIZE - 1}/{SIZE}", CSV[-1:]),
    ("bytes= 3-7 ", 206, f"bytes 3-7/{SIZE}", CSV[3:8]),
    ("bytes=3-7,", 206, f"bytes 3-7/{SIZE}", CSV[3:8]),  # empty list elements are allowed
    (f"bytes={SIZE}-", 416, f"bytes */{SIZE}", b""),
    (f"bytes={SIZE}-{SIZE + 9}", 416, f"bytes */{SIZE}", b""),
    ("bytes=-0", 416, f"bytes */{SIZE}", b""),
    (f"bytes={SIZE + 5}-, -0", 416, f"bytes */{SIZE}", b""),
    ("bytes=99999999999999999999999-", 416, f"bytes */{SIZE}", b""),
    # Several ranges are answered whole; so are malformed headers (HTTP says to ignore them).
    ("bytes=0-1,4-5", 200, None, CSV),
    (f"bytes=0-1, {SIZE}-", 200, None, CSV),
    ("bytes=5-2", 200, None, CSV),
    ("bytes=abc", 200, None, CSV),
    ("bytes=1-2-3", 200, None, CSV),
    ("bytes=-", 200, None, CSV),
    ("bytes=+1-2", 200, None, CSV),
    ("bytes=", 200, None, CSV),
    ("items=0-4", 200, None, CSV),
    ("0-4", 200, None, CSV),
]


@pytest.mark.parametrize(("wanted", "status", "content_range", "body"), RANGES)
def test_ranges_are_206_416_or_the_whole_file(
    served: Served, wanted: str, status: int, content_range: str | None, body: bytes
) -> None:
    answer = ask(served.port, DATA, Range=wanted)
    assert (answer.status, answer.headers["Content-Range"], answer.body) == (
        status,
        content_range,
        body,
    )
    assert answer.headers["Content-Length"] == str(len(body))
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["ETag"] == ask(served.port, DATA).headers["ETag"]
    if status != 416:
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    head = exchange(served.port, f"HEAD {DATA} HTTP/1.0\r\nRange: {wanted}\r\n\r\n".encode())
    lines, _, rest = head.partition(b"\r\n\r\n")
    assert rest == b""  # HEAD: the same headers, no body
    assert lines.startswith(f"HTTP/1.1 {status} ".encode())
    assert f"\r\nContent-Length: {len(body)}\r\n".encode() in lines + b"\r\n"
    if content_range is not None:
        assert f"\r\nContent-Range: {content_range}\r\n".encode() in lines + b"\r\n"


def test_an_empty_file_is_answered_whole_whatever_the_range(served: Served) -> None:
    for wanted in ["bytes=0-", "bytes=-5", "bytes=0-0"]:
        answer = ask(served.port, "/datasets/avfall/1.0.0/tom.csv", Range=wanted)
        assert (answer.status, answer.body, answer.headers["Content-Length"]) == (200, b"", "0")
    assert byte_range("bytes=0-", 0) is None


def test_the_byte_range_rules() -> None:
    assert byte_range("bytes=0-99", 100) == byte_range("bytes=0-", 100)
    assert byte_range("bytes=-100", 50) == byte_range("bytes=0-49", 50)
    assert byte_range("bytes=50-", 50) == "unsatisfiable"
    assert byte_range("bytes=0-1,2-3", 50) is None
    assert byte_range("BYTES=0-1", 50) == byte_range("bytes=0-1", 50)  # units are case-blind
    assert byte_range("bytes=" + "9" * 5000 + "-", 50) is None  # too many digits: ignored


def test_if_none_match_answers_304_for_the_current_tag(served: Served) -> None:
    etag = ask(served.port, DATA).headers["ETag"]
    modified = ask(served.port, DATA).headers["Last-Modified"]
    for tags in [etag, f'"nej", {etag}', f"W/{etag}", "*", f'"a,b", W/"x",{etag}']:
        for method in ["GET", "HEAD"]:
            answer = ask(served.port, DATA, method, If_None_Match=tags)
            assert (answer.status, answer.body) == (304, b""), tags
            assert answer.headers["ETag"] == etag
            assert answer.headers["Last-Modified"] == modified
            assert answer.headers["Content-Length"] is None
    for tags in ['"nej"', 'W/"nej"', etag.strip('"'), "", etag[:-2] + '"']:
        assert ask(served.port, DATA, If_None_Match=tags).status == 200, tags
    # If-None-Match decides alone: a date that would say 304 is not looked at.
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert ask(served.port, DATA, If_None_Match='"nej"', If_Modified_Since=later).status == 200
    assert ask(served.port, DATA, If_Modified_Since=later).status == 304
    # A condition before a range: an unchanged file is 304 whatever part was asked for.
    assert ask(served.port, DATA, If_None_Match=etag, Range="bytes=0-4").status == 304


def test_if_range_serves_the_range_only_of_the_same_file(served: Served) -> None:
    path = served.root / "datasets" / "avfall" / "1.0.0" / "gammal.csv"
    path.write_bytes(CSV)
    old = 1_700_000_000  # long enough ago for its Last-Modified to be a strong validator
    os.utime(path, (old, old))
    target = "/datasets/avfall/1.0.0/gammal.csv"
    whole = ask(served.port, target)
    etag, modified = whole.headers["ETag"], whole.headers["Last-Modified"]
    assert modified == "Tue, 14 Nov 2023 22:13:20 GMT"
    for validator, status in [
        (etag, 206),
        (modified, 206),
        ('"nej"', 200),
        (f"W/{etag}", 200),  # If-Range compares strongly: a weak tag never holds
        ("Wed, 15 Nov 2023 22:13:20 GMT", 200),
        ("i går", 200),
    ]:
        answer = ask(served.port, target, Range="bytes=0-4", If_Range=validator)
        assert (answer.status, answer.body) == (status, CSV[:5] if status == 206 else CSV)
    # The file replaced (as LocalStore does, by renaming a new file over it): a new tag, and a
    # range asked with the old one gets the whole new file, never a part of it.
    replacement = path.with_name("ny.tmp")
    replacement.write_bytes(CSV.upper())
    os.utime(replacement, (old, old))
    os.replace(replacement, path)
    answer = ask(served.port, target, Range="bytes=0-4", If_Range=etag)
    assert (answer.status, answer.body) == (200, CSV.upper())
    assert answer.headers["ETag"] != etag
    assert ask(served.port, target, If_None_Match=etag).status == 200


def test_two_requests_share_one_connection(served: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("GET", DATA)
        first = connection.getresponse()
        assert (first.status, first.version, first.read()) == (200, 11, CSV)
        assert first.getheader("Connection") is None  # HTTP/1.1: kept open by default
        sock = connection.sock
        connection.request("GET", DATA, headers={"Range": "bytes=0-6"})
        second = connection.getresponse()
        assert (second.status, second.read()) == (206, CSV[:7])
        assert connection.sock is sock  # http.client reconnects when the server closes
        connection.request("HEAD", "/")
        third = connection.getresponse()
        assert (third.status, third.read()) == (200, b"")
        assert connection.sock is sock
    finally:
        connection.close()


def test_pipelined_requests_are_answered_in_order_and_close_closes(served: Served) -> None:
    requests = (
        f"GET {DATA} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-5\r\n\r\n"
        f"HEAD {DATA} HTTP/1.1\r\nHost: x\r\n\r\n"
        f"GET {DATA} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as connection:
        connection.sendall(requests)
        stream = connection.makefile("rb")
        first = read_answer(stream)
        second = read_answer(stream, head=True)
        third = read_answer(stream)
        assert stream.read() == b""  # closed after the third: nothing more, no hang
    assert (first[0], first[2]) == ("HTTP/1.1 206 Partial Content", CSV[:6])
    assert (second[0], second[1]["content-length"], second[2]) == (
        "HTTP/1.1 200 OK",
        str(SIZE),
        b"",
    )
    assert (third[0], third[1]["connection"], third[2]) == ("HTTP/1.1 200 OK", "close", CSV)


def test_http_1_0_keeps_the_connection_only_when_asked(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as connection:
        stream = connection.makefile("rb")
        connection.sendall(f"GET {DATA} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
        status, headers, body = read_answer(stream)
        assert (status, headers["connection"], body) == ("HTTP/1.1 200 OK", "keep-alive", CSV)
        connection.sendall(f"GET {DATA} HTTP/1.0\r\n\r\n".encode())
        status, headers, body = read_answer(stream)
        assert (status, "connection" in headers, body) == ("HTTP/1.1 200 OK", False, CSV)
        assert stream.read() == b""  # HTTP/1.0 without keep-alive: closed


def test_errors_and_requests_with_a_body_close_the_connection(served: Served) -> None:
    """A 404 closes the connection; so does a GET with a body, which is never read as the next
    request (here a second GET hidden in it: one answer only)."""
    missing = exchange(served.port, b"GET /finns-inte.csv HTTP/1.1\r\nHost: x\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 404 ")
    assert b"\r\nConnection: close\r\n" in missing
    hidden = b"GET /_private/secret.json HTTP/1.1\r\nHost: x\r\n\r\n"
    smuggled = exchange(
        served.port,
        f"GET {DATA} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(hidden)}\r\n\r\n".encode()
        + hidden,
    )
    assert smuggled.count(b"HTTP/1.1 ") == 1
    assert smuggled.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in smuggled
    assert smuggled.endswith(b"\r\n\r\n" + CSV)
    chunked = exchange(
        served.port,
        f"GET {DATA} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode(),
    )
    assert chunked.count(b"HTTP/1.1 ") == 1 and b"\r\nConnection: close\r\n" in chunked
    for method in [b"POST", b"PUT"]:
        refused = exchange(
            served.port, method + b" " + DATA.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert refused.startswith(b"HTTP/1.1 405 ") and b"\r\nConnection: close\r\n" in refused
    private = ask(served.port, "/_private/secret.json", Range="bytes=0-4")
    assert private.status == 404 and SECRET[:5] not in private.body


def test_a_kept_connection_that_falls_silent_is_closed(served: Served) -> None:
    """The fixture's server drops idle connections after 2 s, between requests too (a server
    that kept it would time the generous 30 s `recv` out)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as connection:
        connection.sendall(f"GET {DATA} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        stream = connection.makefile("rb")
        assert read_answer(stream)[2] == CSV
        assert stream.read() == b""


def test_pyarrow_reads_a_parquet_footer_and_one_column_chunk_not_the_file(
    served: Served,
) -> None:
    path = served.root / "datasets" / "avfall" / "1.0.0" / "stor.parquet"
    size = path.stat().st_size
    local = pq.ParquetFile(path)
    assert size > 2_000_000 and local.metadata.num_row_groups == ROWS // ROW_GROUP
    served.tally.take()

    remote = RangeFile("127.0.0.1", served.port, "/datasets/avfall/1.0.0/stor.parquet")
    parquet = pq.ParquetFile(remote)
    assert parquet.metadata.num_rows == ROWS
    assert parquet.schema_arrow == local.schema_arrow
    footer_sent, connections = served.tally.take()
    # The footer: pyarrow reads the file's last 64 KiB at most, in one ranged GET.
    assert len(remote.reads) == 1 and remote.reads[0][0] + remote.reads[0][1] == size
    assert remote.received <= 64 * 1024
    assert footer_sent < size // 20
    assert connections == 1

    chunk = local.metadata.row_group(2).column(1)
    column = parquet.read_row_group(2, columns=["varde"])
    assert column.equals(local.read_row_group(2, columns=["varde"]))
    column_sent, connections = served.tally.take()
    assert chunk.total_compressed_size <= column_sent < chunk.total_compressed_size + 4096
    assert column_sent < size // 5
    assert connections == 0  # the same keep-alive connection

    assert parquet.read().equals(local.read())  # every range right: the whole table is equal
    assert len({id(sock) for sock in remote.sockets}) == 1
    assert all(length > 0 for _, length in remote.reads)
    remote.close()
