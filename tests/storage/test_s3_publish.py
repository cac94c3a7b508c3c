"""`opendata publish` to a real S3 server (SeaweedFS), through a proxy that counts and fails.

A second run writes zero objects; transient S3 failures are retried with backoff; failures that
persist end in a clear operational error (exit 3) with the catalog untouched; a re-run completes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from opendata.storage import open_store
from tests.conftest import run_cli
from tests.faultproxy import FaultProxy, fault_proxy
from tests.publish.test_faults import correct_a_value
from tests.s3server import S3Server

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    with fault_proxy(s3_server.endpoint_url) as running:
        yield running


def s3_cli(
    args: list[str], workspace: Path, api: str | None, server: S3Server, endpoint: str, store: str
) -> tuple[int, str, str]:
    env = {**server.env(), "AWS_ENDPOINT_URL": endpoint, "OPENDATA_STORE": store}
    env["OPENDATA_RETRY_BACKOFF"] = "0.2"
    result = run_cli(args, workspace, api, **env)
    return result.returncode, result.stdout, result.stderr


def test_publish_to_s3_then_a_second_run_writes_nothing(
    workspace: Path, prefect_api: str, s3_server: S3Server, proxy: FaultProxy
) -> None:
    store = f"s3://{s3_server.new_bucket('publish')}/opendata"
    code, out, err = s3_cli(
        ["publish", "--json", "--offline"], workspace, prefect_api, s3_server, proxy.url, store
    )
    assert code == 0, err
    assert [o["status"] for o in json.loads(out)] == ["published", "skipped", *["published"] * 4]
    assert proxy.counts["PUT"] > 40
    objects = s3_server.client().list_objects_v2(Bucket=store.split("/")[2], Prefix="opendata/")
    keys = {item["Key"] for item in objects.get("Contents", [])}
    assert "opendata/catalog.json" in keys
    assert "opendata/datasets/befolkning/1.0.0/folkmangd.csv" in keys
    head = s3_server.client().head_object(
        Bucket=store.split("/")[2], Key="opendata/datasets/befolkning/1.0.0/folkmangd.csv"
    )
    assert head["ContentType"] == "text/csv; charset=utf-8"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"

    puts = proxy.counts["PUT"] + proxy.counts["POST"]
    code, out, err = s3_cli(
        ["publish", "--json", "--offline"], workspace, prefect_api, s3_server, proxy.url, store
    )
    assert code == 0, err
    assert [o["status"] for o in json.loads(out)] == ["unchanged", "skipped", *["unchanged"] * 4]
    assert proxy.counts["PUT"] + proxy.counts["POST"] == puts  # zero objects written

    code, out, _ = s3_cli(["verify"], workspace, None, s3_server, proxy.url, store)
    assert code == 0 and out.startswith("OK: ")


def test_slow_down_then_success_is_retried(
    workspace: Path, prefect_api: str, s3_server: S3Server, proxy: FaultProxy
) -> None:
    store = f"s3://{s3_server.new_bucket('slowdown')}/opendata"
    proxy.fail("PUT", 503, "SlowDown", skip=3, times=4)
    code, out, err = s3_cli(
        ["publish", "--json", "avfallsplan"], workspace, prefect_api, s3_server, proxy.url, store
    )
    assert code == 0, err
    assert json.loads(out)[0]["version"] == "1.0.0"
    assert proxy.injected["PUT"] == 4


def test_a_failing_server_mid_publish_is_exit_3_and_the_catalog_untouched(
    workspace: Path,
    prefect_api: str,
    s3_server: S3Server,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    store = f"s3://{s3_server.new_bucket('failing')}/opendata"
    code, _, err = s3_cli(
        ["publish", "avfallsplan"], workspace, prefect_api, s3_server, proxy.url, store
    )
    assert code == 0, err
    s3 = open_store(store)
    catalog = s3.read_bytes("catalog.json")
    latest = s3.read_bytes("datasets/avfallsplan/latest/datapackage.json")

    correct_a_value(workspace)
    proxy.fail("PUT", 500, "InternalError", skip=3)  # the claim and two files, then nothing
    code, out, err = s3_cli(
        ["publish", "avfallsplan"], workspace, prefect_api, s3_server, proxy.url, store
    )
    assert code == 3, out + err
    assert "avfallsplan  failed" in out
    assert "InternalError" in err
    assert s3_server.secret_key not in err and s3_server.access_key not in err
    assert "Traceback" not in err
    assert s3.read_bytes("catalog.json") == catalog
    assert s3.read_bytes("datasets/avfallsplan/latest/datapackage.json") == latest

    proxy.clear()
    code, out, err = s3_cli(
        ["publish", "--json", "avfallsplan"], workspace, prefect_api, s3_server, proxy.url, store
    )
    assert code == 0, err
    assert (json.loads(out)[0]["status"], json.loads(out)[0]["version"]) == ("published", "1.0.1")
    history = json.loads(s3.read_bytes("datasets/avfallsplan/versions.json") or b"{}")
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        ("1.0.0", "published"),
        ("1.0.1", "published"),
    ]


def test_an_unreachable_server_is_exit_3(
    workspace: Path, prefect_api: str, s3_server: S3Server
) -> None:
    code, out, err = s3_cli(
        ["publish", "avfallsplan"],
        workspace,
        prefect_api,
        s3_server,
        "http://127.0.0.1:9",
        "s3://gone/opendata",
    )
    assert code == 3, out + err
    assert "avfallsplan  failed" in out
    assert "Traceback" not in err
    assert "127.0.0.1:9" in err
