"""Issue 10, requirement 8: `opendata serve` and an s3:// store, as a steward meets them.

`serve` listens where OPENDATA_BASE_URL says (so the pages' links work), says how to fix a
mismatch, and a busy port is one clear line; `setup-bucket` creates the bucket and its
public-read policy; publishing to S3 warns about the default base URL and ends by saying where
the catalog is.
"""

from __future__ import annotations

import fnmatch
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from opendata.layout import PUBLIC_AREAS
from opendata.storage.s3 import S3Store
from tests.conftest import copy_home, run_cli
from tests.httprange import RangeFile
from tests.s3server import S3Server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store with avfallsplan published into it."""
    home = copy_home(tmp_path_factory.mktemp("home"), "avfallsplan")
    done = run_cli(["publish", "--no-prefect"], home, OPENDATA_STORE=str(home / "public"))
    assert done.returncode == 0, done.stdout + done.stderr
    return home


def start_serve(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
    environment.update({"OPENDATA_STORE": str(home / "public"), **env})
    return subprocess.Popen(
        [sys.executable, "-m", "opendata", "serve", *args],
        cwd=home,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def test_serve_listens_where_the_base_url_points(published: Path) -> None:
    port = free_port()
    server = start_serve(published, OPENDATA_BASE_URL=f"http://localhost:{port}/")
    try:
        assert (
            first_line(server)
            == f"Serving {published / 'public'} at http://localhost:{port}/ (Ctrl-C to stop)"
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json", timeout=10) as reply:
            assert json.loads(reply.read())["datasets"][0]["name"] == "avfallsplan"
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=10)
    assert "Note:" not in err


def test_serve_on_another_port_says_how_to_make_the_links_match(published: Path) -> None:
    port = free_port()
    server = start_serve(published, "--port", str(port))
    try:
        assert first_line(server).endswith(f"at http://localhost:{port}/ (Ctrl-C to stop)")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=10)
    assert (
        "Note: the published pages and files link to http://localhost:8000/ (OPENDATA_BASE_URL)."
        f" To browse them here, publish with OPENDATA_BASE_URL=http://localhost:{port}/ and "
        "serve with the same setting." in err
    )


def test_a_published_parquet_file_is_read_over_http_in_ranges(published: Path) -> None:
    """pyarrow reads a Parquet file of a published version from `opendata serve` the way a data
    client does: a HEAD, then ranged GETs (footer first) on one kept-alive connection."""
    root = published / "public"
    path = min(
        p for p in root.glob("datasets/avfallsplan/*/*.parquet") if p.parent.name != "latest"
    )
    target = "/" + path.relative_to(root).as_posix()
    port = free_port()
    server = start_serve(published, "--port", str(port))
    try:
        assert first_line(server).startswith("Serving ")
        remote = RangeFile("127.0.0.1", port, target)
        parquet = pq.ParquetFile(remote)
        first, length = remote.reads[0]
        assert (len(remote.reads), first + length) == (1, remote.size)  # the footer
        assert parquet.read().equals(pq.read_table(path))
        assert remote.size == path.stat().st_size
        assert len({id(sock) for sock in remote.sockets}) == 1
        remote.close()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{target}", headers={"If-None-Match": remote.etag}
        )
        with pytest.raises(urllib.error.HTTPError) as unchanged:
            urllib.request.urlopen(request, timeout=10)
        assert unchanged.value.code == 304
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_a_busy_port_is_one_clear_line(published: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(
            ["serve", "--port", str(port)], published, OPENDATA_STORE=str(published / "public")
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use (another `opendata serve`?): stop "
        f"that server or choose another port, e.g. --port {port + 1}\n"
    )


def test_everything_a_publish_writes_outside_the_private_area_is_in_the_public_policy(
    published: Path,
) -> None:
    root = published / "public"
    keys = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    public = [k for k in keys if not k.startswith("_private/")]
    assert public and all(any(fnmatch.fnmatch(k, area) for area in PUBLIC_AREAS) for k in public)
    private = [k for k in keys if k.startswith("_private/")]
    assert not any(fnmatch.fnmatch(k, area) for k in private for area in PUBLIC_AREAS)


def test_setup_bucket_creates_the_bucket_with_a_public_read_policy(
    s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = f"fresh-{free_port()}"
    env = {**s3_server.env(), "AWS_EC2_METADATA_DISABLED": "true"}
    done = run_cli(["setup-bucket"], tmp_path, OPENDATA_STORE=f"s3://{bucket}/site", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"created the bucket {bucket}",
        "anyone may now read index.html, catalog.json, dcat/*, datasets/*, kommuner/*, "
        "region/* (not _private/, no listing)",
        f"Ready: s3://{bucket}/site; publish with `opendata publish`.",
    ]
    assert "Warning: OPENDATA_BASE_URL is the default" in done.stderr
    client = s3_server.client()
    stored = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    expected = S3Store(bucket, "site", client=client).public_read_policy()
    assert stored["Statement"][0]["Resource"] == expected["Statement"][0]["Resource"]
    again = run_cli(["setup-bucket"], tmp_path, OPENDATA_STORE=f"s3://{bucket}/site", **env)
    assert again.returncode == 0 and "created" not in again.stdout


def test_setup_bucket_refuses_a_store_that_has_no_bucket(tmp_path: Path) -> None:
    """A folder store has nothing to set up: one line says so, exit 2, nothing created."""
    done = run_cli(["setup-bucket"], tmp_path, OPENDATA_STORE=str(tmp_path / "site"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"Error: setup-bucket is for an s3:// store; OPENDATA_STORE is {tmp_path / 'site'}"
    )
    assert not (tmp_path / "site").exists()


def test_publishing_to_s3_warns_about_the_default_base_url_and_ends_with_the_catalog(
    s3_server: S3Server, tmp_path: Path
) -> None:
    copy_home(tmp_path, "avfallsplan")
    bucket = s3_server.new_bucket("publish")
    env = {**s3_server.env(), "AWS_EC2_METADATA_DISABLED": "true"}
    done = run_cli(["publish", "--no-prefect"], tmp_path, OPENDATA_STORE=f"s3://{bucket}", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.startswith(
        "Warning: OPENDATA_BASE_URL is the default http://localhost:8000/"
    )
    assert done.stdout.rstrip().splitlines()[-1] == (
        "Catalog: http://localhost:8000/catalog.json  ·  "
        "DCAT-AP-SE: http://localhost:8000/dcat/catalog.rdf"
    )
    configured = run_cli(
        ["publish", "--no-prefect"],
        tmp_path,
        OPENDATA_STORE=f"s3://{bucket}",
        OPENDATA_BASE_URL="https://data.example.se/",
        **env,
    )
    assert configured.returncode == 0
    assert "Warning" not in configured.stderr


def test_the_flow_runs_only_on_a_server_that_keeps_running(tmp_path: Path) -> None:
    """No temporary Prefect server is ever started by the CLI (a killed command would leave it
    running): --prefect without a configured API is refused before any work."""
    (tmp_path / "datasets").mkdir()
    (tmp_path / "schemas").mkdir()
    done = run_cli(["publish", "--prefect"], tmp_path, HOME=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("Error: --prefect needs a Prefect server: start one")
