"""A read-only file object over HTTP Range requests, as a data client reads a remote Parquet file.

pyarrow reads any Python file object with `read`, `seek` and `tell` (pyarrow.PythonFile); this
one answers each `read` with one ranged GET on a single keep-alive connection, and keeps what
it asked and received. DuckDB's httpfs extension would do the same, but it is not installed
and this project never lets DuckDB download extensions; fsspec's HTTP filesystem needs aiohttp,
which is not installed either.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class RangeFile(io.RawIOBase):
    """The file at `http://host:port/path`, read with `Range` and `If-Range` (its ETag), so a
    file replaced on the server mid-read fails the read instead of mixing two versions."""

    def __init__(self, host: str, port: int, path: str, *, timeout: float = 30.0) -> None:
        super().__init__()
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.path = path
        self.lock = threading.Lock()
        self.position = 0
        self.reads: list[tuple[int, int]] = []  # (first byte, length) of every ranged GET
        self.received = 0  # body bytes received by the ranged GETs
        self.sockets: list[socket.socket] = []  # the socket each request went out on
        head = self._request("HEAD", {})
        head.read()
        if head.status != 200 or head.getheader("Accept-Ranges") != "bytes":
            raise OSError(
                f"HEAD {path}: {head.status}, Accept-Ranges {head.getheader('Accept-Ranges')}"
            )
        self.size = int(head.getheader("Content-Length") or "")
        self.etag = head.getheader("ETag") or ""

    def _request(self, method: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        self.connection.request(method, self.path, headers=headers)
        assert self.connection.sock is not None
        self.sockets.append(self.connection.sock)
        return self.connection.getresponse()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(f"seek to {base + offset}")
        self.position = base + offset
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        with self.lock:
            end = self.size if size is None or size < 0 else min(self.size, self.position + size)
            if end <= self.position:
                return b""
            wanted = f"{self.position}-{end - 1}"
            response = self._request("GET", {"Range": f"bytes={wanted}", "If-Range": self.etag})
            data = response.read()
            expected = f"bytes {wanted}/{self.size}"
            if response.status != 206 or response.getheader("Content-Range") != expected:
                raise OSError(f"GET {self.path} bytes={wanted}: {response.status}")
            if len(data) != end - self.position:
                raise OSError(f"GET {self.path} bytes={wanted}: {len(data)} bytes")
            self.reads.append((self.position, len(data)))
            self.received += len(data)
            self.position = end
            return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.connection.close()
        super().close()
