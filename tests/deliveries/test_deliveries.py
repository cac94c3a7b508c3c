"""Stewards deliver files: the steward command, the delivery API's answers, a delivery checked,
published and recorded, the same bytes twice, pattern sources.

The app runs as a steward's IT department runs it: `opendata deliveries serve` in its own
process (no Prefect API: it runs the delivery steps itself), on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opendata import delivery_records
from opendata.config import load_settings
from opendata.definitions import load_dataset
from opendata.deliveries import DeliveryRefused, match_source
from opendata.layout import Deliveries
from opendata.preparing import collect_tables
from tests.conftest import copy_home, run_cli

PASSWORD = "ett-långt-lösenord-2026"


@dataclass
class Served:
    home: Path
    store: Path
    url: str
    token: str
    other_token: str
    process: subprocess.Popen[str]

    def log(self) -> str:
        return (self.home / "serve.log").read_text("utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_steward(
    home: Path, name: str, organisation: str, datasets: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "PREFECT_"))}
    env |= {
        "OPENDATA_HOME": str(home),
        "OPENDATA_STORE": str(home / "public"),
        "PREFECT_API_URL": "",
    }
    args = [
        sys.executable,
        "-m",
        "opendata",
        "steward",
        "add",
        name,
        "--organisation",
        organisation,
        "--datasets",
        datasets,
    ]
    if password is not None:
        args.append("--password-stdin")
    return subprocess.run(
        args,
        cwd=home,
        env=env,
        input=(password or "") + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_server(home: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "PREFECT_"))}
    env |= {
        "OPENDATA_HOME": str(home),
        "OPENDATA_STORE": str(home / "public"),
        "OPENDATA_INBOX_INTERVAL": "1",
        "OPENDATA_DELIVERIES_MAX_BYTES": str(2**20),  # the app's own cap: 1 MiB here
        "PREFECT_API_URL": "",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = (home / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "opendata", "deliveries", "serve", "--port", str(port), "--offline"],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the delivery app did not start: " + (home / "serve.log").read_text())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home = copy_home(tmp_path / "home", "avfallsplan", "handlingsplan", "befolkning")
    # The goals file may be 64 KiB at most (limits.bytes): what a bigger delivery meets.
    definition = home / "datasets/avfallsplan/dataset.yaml"
    text = definition.read_text("utf-8")
    assert text.count("        path: sources/mal.csv\n") == 1
    definition.write_text(
        text.replace(
            "        path: sources/mal.csv\n",
            "        path: sources/mal.csv\n        limits: {bytes: 65536}\n",
        ),
        "utf-8",
    )
    published = run_cli(
        ["publish", "avfallsplan", "--offline", "--no-prefect"], home, OPENDATA_HOME=str(home)
    )
    assert published.returncode == 0, published.stdout + published.stderr
    first = add_steward(home, "anna", "Borås stad", "avfallsplan", PASSWORD)
    assert first.returncode == 0, first.stderr
    second = add_steward(home, "bert", "Marks kommun", "handlingsplan")
    assert second.returncode == 0, second.stderr
    process, url = start_server(home)
    try:
        yield Served(
            home, home / "public", url, first.stdout.strip(), second.stdout.strip(), process
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def deliver(
    served: Served,
    path: Path,
    token: str | None = None,
    dataset: str = "avfallsplan",
    filename: str | None = None,
    **fields: str,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or served.token}"}
    files = {"file": (filename or path.name, path.read_bytes(), "text/csv")}
    return httpx.post(
        f"{served.url}/api/datasets/{dataset}/deliveries",
        headers=headers,
        files=files,
        data=fields,
        timeout=60,
    )


def wait_for(served: Served, delivery_id: str, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{served.url}/api/deliveries/{delivery_id}",
            headers={"Authorization": f"Bearer {served.token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        if record["state"] in states:
            return record
        time.sleep(0.3)
    raise AssertionError(f"delivery {delivery_id} never reached {states}: {served.log()}")


def changed_goals(served: Served, tmp_path: Path) -> Path:
    original = (served.home / "datasets/avfallsplan/sources/mal.csv").read_text("utf-8")
    lines = original.splitlines(keepends=True)
    assert ",35,g per portion" in lines[1]
    changed = tmp_path / "mal.csv"
    changed.write_text(
        "".join([lines[0], lines[1].replace(",35,g per portion", ",30,g per portion"), *lines[2:]]),
        "utf-8",
    )
    return changed


def test_steward_add_prints_a_token_once_and_keeps_only_hashes(served: Served) -> None:
    assert served.token.startswith("odt_") and "\n" not in served.token
    registry = (served.store / "_private/stewards.json").read_text("utf-8")
    # odt_<16 hex digits>_<secret>: the secret may itself hold "_" (URL-safe base64)
    secret = served.token.split("_", 2)[2]
    assert len(secret) == 43
    assert secret not in registry and PASSWORD not in registry
    assert "$argon2id$" in registry
    listed = run_cli(["steward", "list"], served.home, OPENDATA_HOME=str(served.home))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == [
        "steward",
        "organisation",
        "datasets",
        "password",
        "updated",
    ]
    assert "anna     Borås stad    avfallsplan    yes" in listed.stdout
    assert secret not in listed.stdout and "argon2" not in listed.stdout
    unknown = add_steward(served.home, "carl", "Tranemo kommun", "nosuch")
    assert (unknown.returncode, unknown.stderr.strip().splitlines()[-1]) == (
        2,
        "Error: no such dataset: nosuch (datasets: avfallsplan, befolkning, handlingsplan)",
    )
    removed = run_cli(["steward", "remove", "bert"], served.home, OPENDATA_HOME=str(served.home))
    assert removed.returncode == 0, removed.stderr
    answer = deliver(
        served,
        served.home / "datasets/handlingsplan/sources/projekt.csv",
        served.other_token,
        "handlingsplan",
    )
    assert answer.status_code == 401


def test_the_api_refuses_what_it_must(served: Served, tmp_path: Path) -> None:
    goals = served.home / "datasets/avfallsplan/sources/mal.csv"
    url = f"{served.url}/api/datasets/avfallsplan/deliveries"
    files = {"file": ("mal.csv", goals.read_bytes(), "text/csv")}
    assert httpx.post(url, files=files).status_code == 401
    wrong = served.token[:-4] + "AAAA"
    refused = httpx.post(url, files=files, headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    other = deliver(
        served, served.home / "datasets/handlingsplan/sources/projekt.csv", dataset="handlingsplan"
    )
    assert (other.status_code, other.json()) == (
        403,
        {"error": "you do not hold the dataset handlingsplan"},
    )
    assert (
        "refused: steward anna (Borås stad) asked for dataset handlingsplan: POST /api/datasets/handlingsplan/deliveries"
        in served.log()
    )
    assert deliver(served, goals, dataset="nosuch").status_code == 404
    unmatched = deliver(served, goals, filename="mål 2026.csv")
    assert unmatched.status_code == 422
    assert unmatched.json()["error"] == (
        "'mål 2026.csv' matches no declared source of avfallsplan: name the file as one of "
        "sources/malomraden.csv, sources/mal.csv, or say which it replaces with the field `source`"
    )
    named = deliver(served, goals, filename="anything.csv", source="sources/nosuch.csv")
    assert (
        named.status_code == 422
        and "sources/malomraden.csv, sources/mal.csv" in named.json()["error"]
    )
    huge = tmp_path / "mal.csv"
    huge.write_bytes(goals.read_bytes() + b"#" * (2 * 65536))
    too_large = deliver(served, huge)
    assert too_large.status_code == 413
    assert too_large.json() == {
        "error": "the file is 131,816 bytes; avfallsplan takes at most 65,536 per file"
    }
    assert not (served.store / Deliveries.ROOT).exists() or not list(
        (served.store / Deliveries.ROOT).rglob("files/*")
    )
    assert not (served.store / Deliveries.ROOT / "records").exists()


def test_a_valid_delivery_is_previewed_then_published_and_recorded(
    served: Served, tmp_path: Path
) -> None:
    changed = changed_goals(served, tmp_path)
    answer = deliver(served, changed, message="Nytt målvärde")
    assert answer.status_code == 202
    body = answer.json()
    assert set(body) == {"id", "url", "state"} and body["state"] == "received"
    assert body["url"] == f"/api/deliveries/{body['id']}"
    record = wait_for(served, body["id"], "ready", "invalid", "failed")
    assert record["state"] == "ready", record
    assert (record["version"], record["previous_version"], record["bump"]) == (
        "1.0.1",
        "1.0.0",
        "patch",
    )
    goals = next(r for r in record["diff"]["resources"] if r["name"] == "mal")
    assert goals["rows_changed"] == 1
    assert goals["changed_values"] == [
        {
            "key": ["matsvinn-per-portion"],
            "cells": [{"field": "malvarde", "old": "35", "new": "30"}],
        }
    ]
    # Checked, not published: nothing new in the store's public part.
    assert not (served.store / "datasets/avfallsplan/1.0.1").exists()

    digest = hashlib.sha256(changed.read_bytes()).hexdigest()
    kept = served.store / Deliveries.file(digest)
    assert kept.read_bytes() == changed.read_bytes()
    # The same bytes again: the same delivery, no new run.
    again = deliver(served, changed)
    assert again.status_code == 202 and again.json()["id"] == body["id"]
    assert len(list((served.store / Deliveries.records("avfallsplan")).iterdir())) == 1

    published = httpx.post(
        f"{served.url}/api/deliveries/{body['id']}/publish",
        json={"message": "Nämndens beslut"},
        headers={"Authorization": f"Bearer {served.token}"},
    )
    assert published.status_code == 202, published.text
    record = wait_for(served, body["id"], "published", "failed")
    assert record["state"] == "published", record
    assert record["version"] == "1.0.1"
    assert record["page"].endswith("/datasets/avfallsplan/index.html#v1.0.1")
    history = json.loads((served.store / "datasets/avfallsplan/versions.json").read_text("utf-8"))
    entry = history["versions"][-1]
    assert (history["latest"], entry["message"]) == ("1.0.1", "Nämndens beslut")
    assert entry["deliveries"] == [
        {
            "id": body["id"],
            "source": "sources/mal.csv",
            "file": "mal.csv",
            "steward": "anna",
            "organisation": "Borås stad",
            "delivered": record["received"],
            "sha256": digest,
        }
    ]
    descriptor = json.loads(
        (served.store / "datasets/avfallsplan/1.0.1/datapackage.json").read_text("utf-8")
    )
    assert descriptor["sources"][-1]["opendata:delivery"]["sha256"] == digest
    page = (served.store / "datasets/avfallsplan/index.html").read_text("utf-8")
    assert "<code>mal.csv</code> levererad av anna (Borås stad) den" in page
    # Every later run reads the delivered file: a plain publish finds nothing new.
    again_run = run_cli(
        ["publish", "avfallsplan", "--offline", "--no-prefect"],
        served.home,
        OPENDATA_HOME=str(served.home),
    )
    assert again_run.returncode == 0, again_run.stderr
    assert "avfallsplan  unchanged  1.0.1" in again_run.stdout
    # A published delivery is not published twice.
    twice = httpx.post(
        f"{served.url}/api/deliveries/{body['id']}/publish",
        headers={"Authorization": f"Bearer {served.token}"},
    )
    assert twice.status_code == 409


def test_an_invalid_delivery_reports_what_opendata_validate_says(
    served: Served, tmp_path: Path
) -> None:
    original = (served.home / "datasets/avfallsplan/sources/mal.csv").read_text("utf-8")
    broken = tmp_path / "mal.csv"
    broken.write_text(original.replace(",35,g per portion", ",trettiofem,g per portion"), "utf-8")
    answer = deliver(served, broken)
    assert answer.status_code == 202
    record = wait_for(served, answer.json()["id"], "invalid", "ready", "failed")
    assert record["state"] == "invalid"
    assert record["problem_count"] == 1
    # The same words as `opendata validate` on a home holding the same file.
    (served.home / "datasets/avfallsplan/sources/mal.csv").write_text(
        broken.read_text("utf-8"), "utf-8"
    )
    validated = run_cli(
        ["validate", "avfallsplan", "--store", str(tmp_path / "empty")],
        served.home,
        OPENDATA_HOME=str(served.home),
    )
    assert validated.returncode == 1
    (problem,) = record["problems"]
    assert problem["text"] in validated.stdout
    assert problem["field"] == "malvarde" and problem["code"] == "type-error"
    assert "'trettiofem'" in problem["message_sv"]
    assert not (served.store / "datasets/avfallsplan/1.0.1").exists()
    refused = httpx.post(
        f"{served.url}/api/deliveries/{record['id']}/publish",
        headers={"Authorization": f"Bearer {served.token}"},
    )
    assert refused.status_code == 409
    # Another steward cannot see it.
    hidden = httpx.get(
        f"{served.url}/api/deliveries/{record['id']}",
        headers={"Authorization": f"Bearer {served.other_token}"},
    )
    assert hidden.status_code == 404


def test_a_hostile_file_name_never_becomes_a_path(served: Served) -> None:
    goals = served.home / "datasets/avfallsplan/sources/mal.csv"
    answer = deliver(served, goals, filename="../../../etc/mal.csv", source="sources/mal.csv")
    assert answer.status_code == 202
    record = wait_for(served, answer.json()["id"], "unchanged", "ready", "invalid", "failed")
    assert record["file"] == "mal.csv"
    assert record["state"] == "unchanged"
    escape = deliver(served, goals, source="../../schemas/avfallsplan-mal.json")
    assert escape.status_code == 422


def write_pattern_home(root: Path) -> Path:
    folder = root / "datasets" / "matning"
    (folder / "sources").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "schemas" / "matning.json").write_text(
        json.dumps(
            {
                "fields": [
                    {"name": "ar", "type": "integer"},
                    {"name": "plats", "type": "string"},
                    {"name": "varde", "type": "number"},
                ],
                "primaryKey": ["ar", "plats"],
            }
        ),
        "utf-8",
    )
    (folder / "dataset.yaml").write_text(
        "title: {sv: Mätningar}\ndescription: {sv: Mätningar per år}\n"
        "contact_point: {name: Anna, email: anna@example.se}\n"
        "sources: [{title: Mätningar, publisher: Borås stad}]\n"
        "resources:\n  - name: matning\n    title: {sv: Mätning}\n    schema: matning.json\n"
        "    sources:\n      - kind: csv\n        path: sources/matning-{ar}.csv\n        columns: {plats: plats, varde: varde}\n",
        "utf-8",
    )
    for year, value in (("2023", "1.5"), ("2024", "2.5")):
        (folder / "sources" / f"matning-{year}.csv").write_text(
            f"plats,varde\nTorget,{value}\n", "utf-8"
        )
    return folder


def test_a_pattern_source_reads_every_file_it_matches_and_takes_next_years_delivery(
    tmp_path: Path,
) -> None:
    folder = write_pattern_home(tmp_path)
    settings = load_settings(home=tmp_path)
    dataset = load_dataset(folder, settings.schemas_dir)
    assert match_source(dataset, "matning-2025.csv") == "sources/matning-2025.csv"
    with pytest.raises(DeliveryRefused) as refused:
        match_source(dataset, "matning.csv")
    assert refused.value.status == 422 and refused.value.declared == ["sources/matning-{ar}.csv"]
    delivered = tmp_path / "delivered.csv"
    delivered.write_text("plats,varde\nTorget,3.5\n", "utf-8")
    with_delivery = load_dataset(
        folder, settings.schemas_dir, {"sources/matning-2025.csv": delivered}
    )
    (table,) = collect_tables(settings, with_delivery, workspace=tmp_path / "work")
    rows = sorted(
        table.to_pylist_for_tests() if hasattr(table, "to_pylist_for_tests") else _rows(table)
    )
    assert rows == [(2023, "Torget", "1.5"), (2024, "Torget", "2.5"), (2025, "Torget", "3.5")]


def _rows(table: Any) -> list[tuple[Any, ...]]:
    import pyarrow as pa

    batches = list(table.batches(["ar", "plats", "varde"]))
    data = pa.Table.from_batches(batches).to_pylist()
    return [(int(r["ar"]), r["plats"], r["varde"]) for r in data]


def test_a_placeholder_must_be_a_field(tmp_path: Path) -> None:
    folder = write_pattern_home(tmp_path)
    text = (folder / "dataset.yaml").read_text("utf-8").replace("matning-{ar}", "matning-{year}")
    (folder / "dataset.yaml").write_text(text, "utf-8")
    checked = run_cli(["validate", "matning", "--offline"], tmp_path, OPENDATA_HOME=str(tmp_path))
    assert checked.returncode == 2
    assert checked.stderr.strip() == (
        f"Error: {folder}/dataset.yaml: resources.0.sources.0.path: the placeholder {{year}} is "
        "not a field of schema matning.json (its fields: 'ar', 'plats', 'varde')"
    )


def test_one_delivery_run_of_a_dataset_at_a_time(tmp_path: Path) -> None:
    import threading

    from opendata.contention import Patience
    from opendata.deliveries import dataset_lease
    from opendata.liveness import current_owner
    from opendata.storage import LocalStore

    store = LocalStore(tmp_path / "store")
    order: list[str] = []
    first_in = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        with dataset_lease(store, "avfallsplan"):
            order.append("first in")
            first_in.set()
            release_first.wait(60)
            order.append("first out")

    def second() -> None:
        first_in.wait(60)
        with dataset_lease(store, "avfallsplan", Patience(first_pause=0.01, longest_pause=0.05)):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait(60)
    # Another dataset is not held up.
    with dataset_lease(store, "handlingsplan"):
        order.append("other dataset")
    release_first.set()
    for thread in threads:
        thread.join(60)
    assert order == ["first in", "other dataset", "first out", "second in"]
    assert not (store.root / Deliveries.lease("avfallsplan")).exists()

    # A lease left by a run that died (its process is gone) is taken over at once.
    me = current_owner().to_record()
    dead = {**me, "pid": 999_999_999, "started": "1"}
    key = store.root / Deliveries.lease("avfallsplan")
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(json.dumps({"token": "x", "owner": dead, "taken": "2099-01-01T00:00:00Z"}))
    with dataset_lease(store, "avfallsplan", Patience(seconds=0.5)):
        assert json.loads(key.read_text())["token"] != "x"


def test_a_delivery_left_validating_by_a_killed_run_is_checked_again(tmp_path: Path) -> None:
    from opendata import deliveries
    from opendata.storage import LocalStore

    home = copy_home(tmp_path / "home", "avfallsplan")
    settings = load_settings(home=home, store=str(home / "public"))
    store = LocalStore(home / "public")
    dataset = load_dataset(home / "datasets/avfallsplan", settings.schemas_dir)
    goals = home / "datasets/avfallsplan/sources/mal.csv"
    record, created = deliveries.receive(
        store, dataset, goals, "mal.csv", steward="anna", organisation="Borås stad", via="api"
    )
    assert created
    # A run took it and was killed: the record says `validating`, no run holds the lease.
    delivery_records.change_record(
        store, "avfallsplan", record.id, delivery_records.ending("validating")
    )
    assert deliveries.pending_datasets(store, ["avfallsplan"], stuck_only=True) == ["avfallsplan"]
    (done,) = deliveries.process_dataset(settings, store, "avfallsplan")
    assert (done.id, done.state, done.version) == (record.id, "ready", "1.0.0")
    assert [t.state for t in done.history] == ["received", "validating", "validating", "ready"]
    assert deliveries.pending_datasets(store, ["avfallsplan"]) == []


def test_next_years_delivery_to_a_pattern_source_warns_of_the_title_s_years(
    tmp_path: Path,
) -> None:
    from opendata import deliveries
    from opendata.storage import LocalStore

    folder = write_pattern_home(tmp_path)
    definition = folder / "dataset.yaml"
    definition.write_text(
        definition.read_text("utf-8").replace("{sv: Mätningar}", "{sv: Mätningar 2023–2024}"),
        "utf-8",
    )
    schema = tmp_path / "schemas/matning.json"
    schema.write_text(schema.read_text("utf-8").replace('"integer"', '"year"'), "utf-8")
    settings = load_settings(home=tmp_path, store=str(tmp_path / "public"))
    store = LocalStore(tmp_path / "public")
    dataset = load_dataset(folder, settings.schemas_dir)
    next_year = tmp_path / "matning-2025.csv"
    next_year.write_text("plats,varde\nTorget,3.5\n", "utf-8")
    record, _ = deliveries.receive(
        store,
        dataset,
        next_year,
        "matning-2025.csv",
        steward="anna",
        organisation="Borås stad",
        via="api",
    )
    assert record.source == "sources/matning-2025.csv"
    (done,) = deliveries.process_dataset(settings, store, "matning")
    assert (done.state, done.version, done.rows) == ("ready", "1.0.0", 3)
    (warning,) = done.warnings
    assert warning.startswith("Varning: matning/dataset.yaml, title.sv: ")
    assert "2023–2024" in warning and "2023–2025" in warning


def test_a_body_without_a_length_is_cut_off_at_the_cap(served: Served) -> None:
    """A chunked upload (no Content-Length) is counted as it streams and refused past the
    app's cap, before anything is stored."""
    boundary = "opendata-test-boundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="malomraden.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        for _ in range(64):  # 4 MiB in all, never announced
            yield b"#" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = httpx.post(
        f"{served.url}/api/datasets/avfallsplan/deliveries",
        content=body(),
        headers={
            "Authorization": f"Bearer {served.token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=60,
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "the file is larger than 1,048,576 bytes, the most avfallsplan takes"
    }
    assert not (served.store / Deliveries.ROOT / "records").exists()


@pytest.mark.parametrize(
    ("hostile", "code"),
    [
        (
            lambda text: text.replace(",35,g per portion", ",1e-400,g per portion"),
            "number-underflow",
        ),
        (
            lambda text: text.replace(",35,g per portion", ",\u202e35,g per portion"),
            "format-character",
        ),
    ],
)
def test_a_hostile_delivery_is_refused_as_opendata_validate_refuses_it(
    served: Served, tmp_path: Path, hostile: Callable[[str], str], code: str
) -> None:
    """Issue 19, item 10: what the CLI refuses, the delivery API refuses the same way."""
    original = (served.home / "datasets/avfallsplan/sources/mal.csv").read_text("utf-8")
    broken = tmp_path / "mal.csv"
    broken.write_text(hostile(original), "utf-8")
    answer = deliver(served, broken)
    assert answer.status_code == 202
    record = wait_for(served, answer.json()["id"], "invalid", "ready", "failed")
    assert record["state"] == "invalid"
    (served.home / "datasets/avfallsplan/sources/mal.csv").write_text(
        broken.read_text("utf-8"), "utf-8"
    )
    validated = run_cli(
        ["validate", "avfallsplan", "--store", str(tmp_path / "empty")],
        served.home,
        OPENDATA_HOME=str(served.home),
    )
    assert validated.returncode == 1
    (problem,) = record["problems"]
    assert problem["code"] == code
    assert problem["text"] in validated.stdout
    assert not (served.store / "datasets/avfallsplan/1.0.1").exists()
