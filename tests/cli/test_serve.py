"""`opendata serve` against hostile request paths, over raw sockets so no client normalises them.

A real server runs on 127.0.0.1 over a store folder holding a secret in every place that must
stay unserved: the private area, a dot-file, LocalStore's partial `.tmp-*` file, a `*.tmp` file,
a file behind a symlink that leaves the store, and one behind a symlink into the private area.
Every encoding of those paths gets 404 and the secret's bytes never appear in any answer.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata.serve import Redirect, locate, make_server

SECRET = b"s3cr3t-do-not-serve-7f1c"
PAGE = b"<!doctype html><title>Avfall</title>"
HOME = b"<!doctype html><title>Katalog</title>"
CSV = b"kommun,ar,varde\nBoras,2024,1\n"


def build_store(root: Path, outside: Path) -> None:
    """The published tree of a small store, and every kind of file that must stay private."""
    (root / "index.html").write_bytes(HOME)
    dataset = root / "datasets" / "avfall"
    (dataset / "1.0.0").mkdir(parents=True)
    (dataset / "latest").mkdir()
    (dataset / "index.html").write_bytes(PAGE)
    (dataset / "1.0.0" / "data.csv").write_bytes(CSV)
    (dataset / "latest" / "datapackage.json").write_bytes(b'{"name": "avfall"}')
    (root / "datasets" / "utan-sida" / "1.0.0").mkdir(parents=True)
    (root / "datasets" / "utan-sida" / "1.0.0" / "data.csv").write_bytes(CSV)
    (root / "_private" / "cache").mkdir(parents=True)
    (root / "_private" / "secret.json").write_bytes(SECRET)
    (root / "_private" / "cache" / "index.html").write_bytes(SECRET)
    (root / ".private").mkdir()
    (root / ".private" / "secret.json").write_bytes(SECRET)
    (root / ".hidden").write_bytes(SECRET)
    (dataset / "latest" / ".tmp-k2j4h1x9").write_bytes(SECRET)  # LocalStore's mkstemp name
    (dataset / "latest" / "data.csv.tmp").write_bytes(SECRET)
    (outside / "secret.json").write_bytes(SECRET)
    (outside / "index.html").write_bytes(SECRET)
    (root / "datasets" / "ute").symlink_to(outside, target_is_directory=True)
    (root / "datasets" / "ute.json").symlink_to(outside / "secret.json")
    (root / "datasets" / "privat").symlink_to(root / "_private", target_is_directory=True)
    (root / "datasets" / "privat.json").symlink_to(root / "_private" / "secret.json")
    (root / "datasets" / "sida").mkdir()
    (root / "datasets" / "sida" / "index.html").symlink_to(outside / "index.html")
    os.mkfifo(root / "datasets" / "ror.csv")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    build_store(root, tmp_path_factory.mktemp("outside"))
    return root


@pytest.fixture(scope="module")
def port(store: Path) -> Iterator[int]:
    server = make_server(store, "127.0.0.1", 0, timeout=2.0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def raw(port: int, target: bytes, method: bytes = b"GET", headers: bytes = b"") -> bytes:
    """The server's whole answer to one request whose target is sent byte for byte (a server
    that hangs fails the test when the generous socket timeout runs out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(method + b" " + target + b" HTTP/1.0\r\nHost: x\r\n" + headers + b"\r\n")
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def header(answer: bytes, name: str) -> str | None:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def body_of(answer: bytes) -> bytes:
    return answer.split(b"\r\n\r\n", 1)[1]


PRIVATE = "/_private/secret.json"
# The families of issue 9 (percent-encoded `_` and `.`, dot segments, empty segments, encoded and
# back slashes, double encoding, NUL) and what other servers have been caught by (overlong UTF-8,
# `;` path parameters, absolute-form targets, trailing dots and spaces, look-alike characters).
HOSTILE = [
    b"/_private/secret.json",
    b"/_private/",
    b"/_private",
    b"/_private/cache/",
    b"/_private/cache",
    b"/%5Fprivate/secret.json",
    b"/%5fprivate/secret.json",
    b"/%5F%70rivate/secret.json",
    b"/./_private/secret.json",
    b"/_private/./secret.json",
    b"/datasets/../_private/secret.json",
    b"/datasets/avfall/../../_private/secret.json",
    b"/datasets/../../../_private/secret.json",
    b"/%2e/_private/secret.json",
    b"/%2E/_private/secret.json",
    b"/datasets/%2e%2e/_private/secret.json",
    b"/datasets/%2E%2E/%5Fprivate/secret.json",
    b"/datasets/.%2e/_private/secret.json",
    b"//_private/secret.json",
    b"//_private/",
    b"///_private/secret.json",
    b"/datasets//../_private/secret.json",
    b"/_private%2Fsecret.json",
    b"/_private%2fsecret.json",
    b"/%2F_private/secret.json",
    b"/%2F%2F_private%2Fsecret.json",
    b"/datasets%2F..%2F_private%2Fsecret.json",
    b"/_private\\secret.json",
    b"\\_private\\secret.json",
    b"/datasets\\..\\_private\\secret.json",
    b"/datasets/..\\_private/secret.json",
    b"/%5C_private%5Csecret.json",
    b"/datasets/..%5C_private/secret.json",
    b"/datasets/..%5c_private%5csecret.json",
    b"/%255Fprivate/secret.json",
    b"/%252e/_private/secret.json",
    b"/datasets/%252e%252e/_private/secret.json",
    b"/_private%252Fsecret.json",
    b"/%25%35%46private/secret.json",
    b"/%25252e/_private/secret.json",
    b"/_private/secret.json%00",
    b"/_private/secret.json%00.csv",
    b"/datasets%00/../_private/secret.json",
    b"/_private/secret.json\x00",
    b"/datasets/\x00/../_private/secret.json",
    b"/%C0%AE%C0%AE/_private/secret.json",
    b"/datasets/%C0%AE%C0%AE/_private/secret.json",
    b"/datasets/..%C0%AF_private/secret.json",
    b"/datasets/..%E0%80%AF_private/secret.json",
    b"/%EF%BC%BFprivate/secret.json",
    b"/datasets/%E2%80%A4%E2%80%A4/_private/secret.json",
    b"/_private;/secret.json",
    b"/datasets/..;/_private/secret.json",
    b"/_private/secret.json;.csv",
    b"/_private/secret.json?x=1",
    b"/_private/secret.json#frag",
    b"/datasets/..?/_private/secret.json",
    b"/_private./secret.json",
    b"/_private%20/secret.json",
    b"/_private%09/secret.json",
    b"/_PRIVATE/secret.json",
    b"/.private/secret.json",
    b"/%2Eprivate/secret.json",
    b"/.hidden",
    b"/%2ehidden",
    b"/datasets/avfall/latest/.tmp-k2j4h1x9",
    b"/datasets/avfall/latest/%2Etmp-k2j4h1x9",
    b"/datasets/avfall/latest/data.csv.tmp",
    b"/datasets/avfall/latest/data.csv%2Etmp",
    b"/datasets/avfall/latest/",  # no index.html: 404, never a listing of the partial file
    b"/datasets/ute/secret.json",
    b"/datasets/ute/",
    b"/datasets/ute.json",
    b"/datasets/privat/secret.json",
    b"/datasets/privat.json",
    b"/datasets/privat/cache/",
    b"/datasets/sida/",
    b"http://127.0.0.1/_private/secret.json",
    b"http://127.0.0.1//_private/secret.json",
    b"*",
    b"_private/secret.json",
    b"/datasets/\xc3\xa5/../../_private/secret.json",
    b"/_private/secret.json\xff",
]


@pytest.mark.parametrize("target", HOSTILE, ids=[repr(t)[2:-1] for t in HOSTILE])
@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
def test_private_files_are_404_however_the_path_is_encoded(
    port: int, target: bytes, method: bytes
) -> None:
    answer = raw(port, target, method)
    assert status_of(answer) == 404, answer[:200]
    assert SECRET not in answer
    assert b"Directory listing" not in answer
    assert header(answer, "X-Content-Type-Options") == "nosniff"


def test_the_published_files_are_served_with_the_catalog_content_types(port: int) -> None:
    answer = raw(port, b"/datasets/avfall/1.0.0/data.csv")
    assert status_of(answer) == 200
    assert body_of(answer) == CSV
    assert header(answer, "Content-Type") == "text/csv; charset=utf-8"
    assert header(answer, "Content-Length") == str(len(CSV))
    assert header(answer, "X-Content-Type-Options") == "nosniff"
    answer = raw(port, b"/datasets/avfall/latest/datapackage.json?v=2")
    assert (status_of(answer), header(answer, "Content-Type")) == (200, "application/json")
    head = raw(port, b"/datasets/avfall/1.0.0/data.csv", b"HEAD")
    assert status_of(head) == 200
    assert header(head, "Content-Length") == str(len(CSV))
    assert body_of(head) == b""


def test_folders_answer_with_their_index_page_and_are_never_listed(port: int) -> None:
    home = raw(port, b"/")
    assert (status_of(home), body_of(home)) == (200, HOME)
    assert header(home, "Content-Type") == "text/html; charset=utf-8"
    page = raw(port, b"/datasets/avfall/")
    assert (status_of(page), body_of(page)) == (200, PAGE)
    assert status_of(raw(port, b"/datasets/%61vfall/index.html")) == 200
    moved = raw(port, b"/datasets/avfall")
    assert status_of(moved) == 301
    assert header(moved, "Location") == "/datasets/avfall/"
    for folder in [b"/datasets/", b"/datasets/utan-sida/", b"/datasets/utan-sida/1.0.0/"]:
        answer = raw(port, folder)
        assert status_of(answer) == 404
        assert b"data.csv" not in answer
        assert b"Directory listing" not in answer
    assert status_of(raw(port, b"/datasets/avfall/1.0.0/data.csv/")) == 404


def test_only_get_and_head_are_answered(port: int) -> None:
    for method in [b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE"]:
        answer = raw(port, b"/index.html", method)
        assert status_of(answer) == 405
        assert header(answer, "Allow") == "GET, HEAD"
    assert status_of(raw(port, b"/index.html", b"PROPFIND")) == 501


def test_a_fifo_in_the_store_is_refused_without_hanging(port: int) -> None:
    assert status_of(raw(port, b"/datasets/ror.csv")) == 404  # a hang would time `raw` out


def test_unchanged_files_answer_304(port: int, store: Path) -> None:
    later = b"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n"
    assert status_of(raw(port, b"/index.html", headers=later)) == 304
    earlier = b"If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    assert status_of(raw(port, b"/index.html", headers=earlier)) == 200
    malformed = b"If-Modified-Since: yesterday\r\n"
    assert status_of(raw(port, b"/index.html", headers=malformed)) == 200


@pytest.mark.parametrize("sent", [b"", b"GET /index.html HTTP/1.0\r\n", b"GE"])
def test_an_idle_connection_is_closed_within_the_timeout(port: int, sent: bytes) -> None:
    """The fixture's server times out after 2 s; meanwhile other requests are answered. A
    server that never closed the idle connection would time the generous 30 s `recv` out."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as idle:
        idle.sendall(sent)
        assert status_of(raw(port, b"/index.html")) == 200  # threaded: not blocked by `idle`
        while idle.recv(65536):
            pass


SEGMENTS = [
    "_private",
    "secret.json",
    "private",
    "datasets",
    "avfall",
    "privat",
    "ute",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2e%2e",
    "%5f",
    "%5F",
    "%2f",
    "%2F",
    "%252e",
    "%255f",
    "%252f",
    "%25",
    "%00",
    "\\",
    "%5c",
    "/",
    "//",
    ";",
    "?",
    ".private",
    ".hidden",
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=8), st.booleans())
def test_no_mix_of_segments_and_encodings_reaches_the_secret(
    port: int, parts: list[str], slashes: bool
) -> None:
    target = "/" + ("/" if slashes else "").join(parts)
    answer = raw(port, target.encode("latin-1"))
    assert SECRET not in answer
    assert b"Directory listing" not in answer
    assert status_of(answer) in (200, 301, 404)


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.characters(codec="utf-8") | st.sampled_from(SEGMENTS), max_size=20).map("".join))
def test_locate_never_leaves_the_public_files(store: Path, target: str) -> None:
    """Any request target, however odd, gives a public file inside the store, a redirect or 404."""
    root = Path(os.path.realpath(store))
    found = locate(root, "/" + target)
    if isinstance(found, Redirect):
        assert found.location.startswith("/") and found.location.endswith("/")
        assert not found.location.startswith("//")
    elif found is not None:
        assert found.is_relative_to(root)
        assert found.read_bytes() != SECRET


def test_a_symlinked_store_root_is_served(tmp_path: Path) -> None:
    """The root itself may be a symlink (a mounted volume): only links out of it are refused."""
    real = Path(tempfile.mkdtemp(dir=tmp_path))
    (real / "index.html").write_bytes(HOME)
    link = tmp_path / "store"
    link.symlink_to(real, target_is_directory=True)
    server = make_server(link, "127.0.0.1", 0, timeout=2.0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = raw(server.server_address[1], b"/")
    finally:
        server.shutdown()
        server.server_close()
    assert (status_of(answer), body_of(answer)) == (200, HOME)


@pytest.mark.parametrize(
    "target",
    [
        b"/datasets%2Favfall/index.html",
        b"/datasets%2favfall/1.0.0/data.csv",
        b"/datasets/avfall%2F1.0.0/data.csv",
        b"/datasets%5Cavfall/index.html",
        b"//datasets/avfall/index.html",
        b"///datasets/avfall/1.0.0/data.csv",
        b"//index.html",
    ],
)
def test_encoded_separators_and_a_leading_double_slash_are_refused_not_folded(
    port: int, target: bytes
) -> None:
    """Files that exist, asked for with an encoded separator or a leading `//` (which the
    standard library folds into `/` before a handler sees it): 404, as the docstring says."""
    answer = raw(port, target)
    assert status_of(answer) == 404, answer[:200]
    assert CSV not in answer and PAGE not in answer


def test_a_burst_of_two_hundred_connections_is_answered(store: Path) -> None:
    """200 clients connect while the server is busy (not accepting yet): the listen queue holds
    them all (the standard library's queue of 5 left the rest waiting on SYN retries), and
    each is answered once the server gets to it."""
    server = make_server(store, "127.0.0.1", 0, timeout=5.0)
    port = server.server_address[1]
    connections: list[socket.socket] = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    try:
        for _ in range(200):
            connections.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        for connection in connections:
            connection.sendall(b"GET /datasets/avfall/1.0.0/data.csv HTTP/1.0\r\nHost: x\r\n\r\n")
        thread.start()
        answers = []
        for connection in connections:
            connection.settimeout(30)
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
            answers.append(b"".join(chunks))
    finally:
        for connection in connections:
            connection.close()
        if thread.is_alive():
            server.shutdown()
        server.server_close()
    assert [status_of(answer) for answer in answers] == [200] * 200
    assert all(body_of(answer) == CSV for answer in answers)
