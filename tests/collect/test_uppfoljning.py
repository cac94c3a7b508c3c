"""avfallsplan-uppfoljning collected from Kolada — here a local server in Kolada's wire format.

`opendata publish avfallsplan-uppfoljning` publishes exactly what the server holds, survives
injected faults, asks nothing on a re-run within the cache expiry, is `skipped` offline, and
never publishes an empty answer; a lost municipality is published as a new version with a note.
TEST DATA: the fake's values are made up (tests/fakeapis.py); only the wire format is real.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.fakeapis import MEMBERS, MUNICIPALITIES, FakeApis, _kpi

pytestmark = pytest.mark.integration

WASTE_KPIS = {
    "U07801": ("Insamlat kommunalt avfall totalt, kg/invånare", False),
    "U07482": ("Insamlat mat- och restavfall, kg/person", False),
    "U07483": ("Insamlade förpackningar och returpapper, kg/person", False),
    "U07484": ("Insamlat grovavfall, kg/person", False),
    "U07485": ("Insamlat farligt avfall inkl. elavfall, kg/person", False),
    "U07414": (
        "Hushållsavfall till materialåtervinning inkl. biologisk behandling, andel (%)",
        True,
    ),
}
YEARS = [2019, 2020, 2021, 2022, 2023, 2024]


def serve_waste_kpis(fake: FakeApis) -> None:
    """Test data in Kolada's shape: every waste KPI × municipality × year (one split by gender)."""
    fake.kolada_kpis = {kpi: _kpi(kpi, title, split) for kpi, (title, split) in WASTE_KPIS.items()}
    entries: list[dict[str, Any]] = []
    for k, (kpi, (_, split)) in enumerate(WASTE_KPIS.items()):
        for m, municipality in enumerate(MUNICIPALITIES):
            for year in YEARS:
                value = round(100 + k * 50 + m * 3.25 + (year - 2019) * 1.5, 2)
                values = [
                    {"gender": "T", "count": 1, "status": "", "value": value, "isdeleted": False}
                ]
                if split:
                    values += [
                        {
                            "gender": "K",
                            "count": 1,
                            "status": "",
                            "value": value + 1,
                            "isdeleted": False,
                        },
                        {
                            "gender": "M",
                            "count": 1,
                            "status": "",
                            "value": value - 1,
                            "isdeleted": False,
                        },
                    ]
                if kpi == "U07485" and municipality == "1466" and year == 2020:
                    values = [
                        {
                            "gender": "T",
                            "count": 0,
                            "status": "Missing",
                            "value": None,
                            "isdeleted": False,
                        }
                    ]
                entries.append(
                    {"kpi": kpi, "municipality": municipality, "period": year, "values": values}
                )
    fake.kolada_values = entries
    fake.kolada_page_size = 100  # several pages


def publish(
    workspace: Path, api: str, fake: FakeApis, *extra: str, url: str | None = None
) -> tuple[int, list[dict[str, Any]], str]:
    env = {"OPENDATA_KOLADA_URL": url or fake.kolada, "OPENDATA_RETRY_BACKOFF": "0.05"}
    result = run_cli(
        ["publish", "--json", "avfallsplan-uppfoljning", *extra], workspace, api, **env
    )
    outcomes = json.loads(result.stdout) if result.stdout.strip().startswith("[") else []
    return result.returncode, outcomes, result.stderr


def published_values(workspace: Path, version: str) -> dict[tuple[str, str, str, str], str]:
    data = (workspace / f"public/datasets/avfallsplan-uppfoljning/{version}/varden.csv").read_text(
        "utf-8"
    )
    return {
        (row["kommunkod"], row["ar"], row["kpi"], row["kon"]): row["varde"]
        for row in csv.DictReader(io.StringIO(data, newline=""))
    }


def served_values(
    fake: FakeApis, without: str | None = None
) -> dict[tuple[str, str, str, str], str]:
    expected = {}
    for entry in fake.kolada_values:
        if entry["municipality"] not in MEMBERS or entry["municipality"] == without:
            continue
        for value in entry["values"]:
            text = "" if value["value"] is None else repr(float(value["value"]))
            text = text[:-2] if text.endswith(".0") else text
            expected[
                (entry["municipality"], str(entry["period"]), entry["kpi"], value["gender"])
            ] = text
    return expected


def test_publishes_exactly_what_kolada_serves_and_survives_faults(
    workspace: Path, prefect_api: str, fake_apis: FakeApis
) -> None:
    serve_waste_kpis(fake_apis)
    fake_apis.fail("/v3/data", "429", times=1, retry_after="1")
    fake_apis.fail("/v3/data", "500", times=2)
    code, outcomes, err = publish(workspace, prefect_api, fake_apis)
    assert code == 0, err
    assert (outcomes[0]["status"], outcomes[0]["version"]) == ("published", "1.0.0")
    assert published_values(workspace, "1.0.0") == served_values(fake_apis)
    assert len(published_values(workspace, "1.0.0")) == 6 * 8 * 6 + 2 * 8 * 6
    data_requests = fake_apis.requests_to("/v3/data")
    assert len(data_requests) > 3  # pages, and the retried ones
    assert all(
        len(r.path.split("/municipality/")[1].split("/")[0].split(",")) <= 25 for r in data_requests
    )
    descriptor = json.loads(
        (workspace / "public/datasets/avfallsplan-uppfoljning/1.0.0/datapackage.json").read_bytes()
    )
    assert [r["name"] for r in descriptor["resources"]][::3] == [
        "kommuner",
        "malomraden",
        "nyckeltal",
        "varden",
    ]
    rows = list(
        csv.DictReader(
            io.StringIO(
                (workspace / "public/datasets/avfallsplan-uppfoljning/1.0.0/varden.csv").read_text(
                    "utf-8"
                ),
                newline="",
            )
        )
    )
    first = next(r for r in rows if r["kpi"] == "U07414" and r["kon"] == "K")
    assert first["enhet"] == "%" and first["kpi_namn"].startswith(
        "Hushållsavfall till materialåtervinning"
    )
    missing = next(
        r for r in rows if (r["kommunkod"], r["ar"], r["kpi"]) == ("1466", "2020", "U07485")
    )
    assert missing["varde"] == ""

    # A second run within the cache expiry asks the server nothing at all.
    fake_apis.requests.clear()
    code, outcomes, err = publish(workspace, prefect_api, fake_apis)
    assert code == 0, err
    assert outcomes[0]["status"] == "unchanged"
    assert fake_apis.requests == []

    # Offline: skipped, and the last published version stays latest.
    code, outcomes, err = publish(workspace, prefect_api, fake_apis, "--offline")
    assert code == 0, err
    assert (outcomes[0]["status"], outcomes[0]["version"]) == ("skipped", "1.0.0")
    assert fake_apis.requests == []


def test_unreachable_empty_and_lost_municipality(
    workspace: Path, prefect_api: str, fake_apis: FakeApis
) -> None:
    serve_waste_kpis(fake_apis)
    code, outcomes, err = publish(workspace, prefect_api, fake_apis)
    assert code == 0, err
    cache = workspace / "public/_private/cache"
    assert any(cache.iterdir())

    # Unreachable (and nothing cached): skipped, not failed; exit 3 (a public API out of
    # reach); the message names the source, what failed and that 1.0.0 stays latest.
    shutil.rmtree(cache)
    code, outcomes, err = publish(workspace, prefect_api, fake_apis, url="http://127.0.0.1:9/v3")
    assert code == 3, err
    assert (outcomes[0]["status"], outcomes[0]["version"]) == ("skipped", "1.0.0")
    message = outcomes[0]["message"]
    assert message.startswith(
        "Kolada http://127.0.0.1:9/v3 cannot be reached (GET http://127.0.0.1:9/v3/kpi/"
    )
    assert "ConnectError" in message and "gave up after 5 attempts" in message
    assert message.endswith(
        "not collected in this run, its last published version 1.0.0 stays latest; "
        "the next run collects it once the source answers"
    )
    assert outcomes[0]["url"] == (
        "http://localhost:8000/datasets/avfallsplan-uppfoljning/1.0.0/datapackage.json"
    )
    latest = json.loads(
        (workspace / "public/datasets/avfallsplan-uppfoljning/latest/datapackage.json").read_bytes()
    )
    assert latest["version"] == "1.0.0"

    # An empty answer is never published; the source answered, so it is no skip: failed.
    fake_apis.fail("/v3/data", "empty")
    code, outcomes, err = publish(workspace, prefect_api, fake_apis)
    assert code == 3, err
    assert outcomes[0]["status"] == "failed" and "answered no data" in outcomes[0]["message"]
    fake_apis.faults.clear()

    # A municipality lost: a new version, and the run says which rows are gone.
    shutil.rmtree(cache)
    fake_apis.fail("/v3/data", "missing_municipality", municipality="1443")
    code, outcomes, err = publish(workspace, prefect_api, fake_apis)
    assert code == 0, err
    assert (outcomes[0]["status"], outcomes[0]["version"]) == ("published", "1.0.1")
    assert outcomes[0]["message"].startswith("note: rows that 1.0.0 had are gone in 1.0.1")
    assert "varden: 48 rows removed" in outcomes[0]["changes"]
    assert published_values(workspace, "1.0.1") == served_values(fake_apis, without="1443")
