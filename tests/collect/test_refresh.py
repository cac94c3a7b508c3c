"""`opendata publish --refresh befolkning`: the population collected live from SCB's PxWeb API.

The local server answers in PxWeb v2's JSON-stat2 with the figures of SCB's own spreadsheets
(the same real numbers), so a refresh that finds the same figures publishes nothing new, and a
revised figure becomes a patch version. Offline runs keep using the spreadsheets.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opendata.config import load_settings
from opendata.engine.outputs import text_rows
from opendata.preparing import collect_tables, load
from tests.conftest import run_cli
from tests.fakeapis import FakeApis, PxTable

pytestmark = pytest.mark.integration


def serve_population(fake: FakeApis, workspace: Path, revise: bool = False) -> None:
    """TAB638 in the fake with the spreadsheets' figures (Civilstand, Alder, Kon eliminated)."""
    settings = load_settings(home=workspace)
    table = next(
        t for t in collect_tables(settings, load(settings, "befolkning")) if t.name == "folkmangd"
    )
    cells: dict[tuple[str, ...], float | None] = {}
    for code, _name, year, population in text_rows(table):
        cells[(code, "BE0101N1", year)] = float(population)
    if revise:
        cells[("1490", "BE0101N1", "2024")] = float(cells[("1490", "BE0101N1", "2024")] or 0) + 1
    regions = sorted({key[0] for key in cells})
    years = sorted({key[2] for key in cells})
    fake.pxweb_tables["TAB638"] = PxTable(
        label="Folkmängden efter region, civilstånd, ålder och kön. År 1968 - 2024",
        dimensions=[
            ("Region", "region", [(r, r) for r in regions]),
            ("ContentsCode", "tabellinnehåll", [("BE0101N1", "Folkmängd")]),
            ("Tid", "år", [(y, y) for y in years]),
        ],
        cells=cells,
    )
    definition = workspace / "datasets/befolkning/dataset.yaml"
    text = definition.read_text("utf-8").replace('Tid: ["FROM(2015)"]', f"Tid: {json.dumps(years)}")
    definition.write_text(text, "utf-8")


def publish(
    workspace: Path, api: str, fake: FakeApis, *extra: str
) -> tuple[int, list[dict[str, object]], str]:
    env = {"OPENDATA_PXWEB_URL": fake.pxweb, "OPENDATA_RETRY_BACKOFF": "0.05"}
    result = run_cli(["publish", "--json", "befolkning", *extra], workspace, api, **env)
    return result.returncode, json.loads(result.stdout or "[]"), result.stderr


def test_refresh_from_pxweb(workspace: Path, prefect_api: str, fake_apis: FakeApis) -> None:
    serve_population(fake_apis, workspace)
    code, outcomes, err = publish(workspace, prefect_api, fake_apis, "--offline")
    assert code == 0, err
    assert outcomes[0]["version"] == "1.0.0"
    assert fake_apis.requests == []

    # The same real figures live: nothing new.
    code, outcomes, err = publish(workspace, prefect_api, fake_apis, "--refresh")
    assert code == 0, err
    assert (outcomes[0]["status"], outcomes[0]["version"]) == ("unchanged", "1.0.0")
    assert [r.path for r in fake_apis.requests] == ["/v2beta/api/v2/tables/TAB638/data"]

    # A revised figure: a patch version naming the changed row.
    fake_apis.requests.clear()
    serve_population(fake_apis, workspace, revise=True)
    shutil.rmtree(workspace / "public/_private")  # the cached answer would hide the revision
    code, outcomes, err = publish(workspace, prefect_api, fake_apis, "--refresh")
    assert code == 0, err
    assert (outcomes[0]["status"], outcomes[0]["version"], outcomes[0]["changes"]) == (
        "published",
        "1.0.1",
        "folkmangd: 1 row changed",
    )

    result = run_cli(["publish", "--offline", "--refresh", "befolkning"], workspace)
    assert result.returncode == 2
    assert "--refresh asks the public APIs and --offline forbids it" in result.stderr
