"""An HTTP proxy in front of the S3 server that can answer with injected errors.

It forwards every request unchanged (the Host header too, so SigV4 signatures stay valid),
counts requests by method, and answers chosen requests with an S3 error (503 SlowDown, 500
InternalError) instead of forwarding them: the S3 server failing mid-publish, for real.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


@dataclass
class Fault:
    method: str
    status: int
    code: str
    skip: int = 0  # let this many matching requests through first
    times: int | None = None  # then fail this many (None: every one)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.counts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(
        self, method: str, status: int, code: str, *, skip: int = 0, times: int | None = None
    ) -> None:
        with self.lock:
            self.faults.append(Fault(method, status, code, skip, times))

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def _decide(self, method: str) -> Fault | None:
        with self.lock:
            self.counts[method] += 1
            for fault in self.faults:
                if fault.method != method:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                if fault.times is None or fault.times > 0:
                    if fault.times is not None:
                        fault.times -= 1
                    self.injected[method] += 1
                    return fault
            return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = b""
                    while True:
                        line = self.rfile.readline()
                        raw += line
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while True:
                                trailer = self.rfile.readline()
                                raw += trailer
                                if trailer in (b"\r\n", b"\n", b""):
                                    return raw
                        raw += self.rfile.read(size + 2)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                body = self._body()
                fault = proxy._decide(self.command)
                if fault is not None:
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?>'
                        f"<Error><Code>{fault.code}</Code><Message>injected by the test proxy"
                        "</Message></Error>"
                    ).encode()
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=60
                )
                try:
                    connection.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in self.headers.items():
                        if name.lower() not in HOP_BY_HOP or name.lower() == "transfer-encoding":
                            connection.putheader(name, value)
                    connection.endheaders()
                    if body:
                        connection.send(body)
                    response = connection.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
