"""The `opendata` command end to end: output, files, exit codes (0, 1, 2, 3)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from opendata.config import load_settings
from opendata.engine.outputs import text_rows
from opendata.preparing import collect_tables, load
from tests.conftest import OFFLINE_DATASETS, run_cli, snapshot

DATASETS = OFFLINE_DATASETS
ROWS = {
    "avfallsplan": 9,
    "befolkning": 88,
    "handlingsplan": 15,
    "personbilar-drivmedel": 88,
    "vaxthusgasutslapp": 808,
}

pytestmark = pytest.mark.integration


FIRST_RUN = [
    "dataset                  status     version  rows",
    "avfallsplan              published  1.0.0    9",
    "avfallsplan-uppfoljning  skipped    -        -",
    "befolkning               published  1.0.0    88",
    "handlingsplan            published  1.0.0    15",
    "personbilar-drivmedel    published  1.0.0    88",
    "vaxthusgasutslapp        published  1.0.0    808",
]


def test_publish_all_then_rerun_is_a_no_op(workspace: Path, prefect_api: str) -> None:
    first = run_cli(["publish", "--offline"], workspace, prefect_api)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:7] == FIRST_RUN
    assert "avfallsplan-uppfoljning: collected from a public API; skipped offline" in first.stderr
    assert f"Published to {workspace / 'public'}" in first.stdout
    assert "Browse it: opendata serve  →  http://localhost:8000/" in first.stdout
    public = workspace / "public"
    for name in DATASETS:
        descriptor = json.loads((public / f"datasets/{name}/1.0.0/datapackage.json").read_bytes())
        assert descriptor["version"] == "1.0.0"
        latest = json.loads((public / f"datasets/{name}/latest/datapackage.json").read_bytes())
        assert latest["version"] == "1.0.0"
        for resource in latest["resources"]:
            assert resource["path"].startswith(f"http://localhost:8000/datasets/{name}/1.0.0/")
            copy = public / f"datasets/{name}/latest" / resource["path"].rsplit("/", 1)[1]
            assert copy.read_bytes() == (public / f"datasets/{name}/1.0.0" / copy.name).read_bytes()
    catalog = json.loads((public / "catalog.json").read_bytes())
    assert [d["name"] for d in catalog["datasets"]] == DATASETS
    assert {d["latest"] for d in catalog["datasets"]} == {"1.0.0"}

    before = snapshot(public)
    second = run_cli(["publish", "--json", "--offline"], workspace, prefect_api)
    assert second.returncode == 0, second.stderr
    outcomes = json.loads(second.stdout)
    assert [(o["dataset"], o["status"], o["version"]) for o in outcomes] == [
        ("avfallsplan", "unchanged", "1.0.0"),
        ("avfallsplan-uppfoljning", "skipped", None),
        *((name, "unchanged", "1.0.0") for name in DATASETS[1:]),
    ]
    assert outcomes[2]["url"] == "http://localhost:8000/datasets/befolkning/1.0.0/datapackage.json"
    assert snapshot(public) == before

    listing = run_cli(["list"], workspace)
    assert listing.returncode == 0
    assert listing.stdout.splitlines() == [
        "dataset                  latest  title",
        "avfallsplan              1.0.0   Gemensam avfallsplan 2021–2030 – målområden och mål",
        "avfallsplan-uppfoljning  -       Uppföljning av avfallsplanen – avfallsnyckeltal per kommun",
        "befolkning               1.0.0   Folkmängd i Boråsregionens kommuner 2015–2024",
        "handlingsplan            1.0.0   Miljöstrategisk handlingsplan – projekt och mätbara mål",
        "personbilar-drivmedel    1.0.0   Personbilar efter drivmedel och laddinfrastruktur i Boråsregionens kommuner",
        "vaxthusgasutslapp        1.0.0   Växthusgasutsläpp i Boråsregionens kommuner",
    ]


def write_broken_copy(workspace: Path, breakage: str) -> tuple[str, int]:
    """A copy of befolkning (real rows, as a plain CSV source) with one broken row.

    Returns the name of the copy and the CSV row number (header = 1) that is broken.
    """
    settings = load_settings(home=workspace)
    folkmangd = next(
        t for t in collect_tables(settings, load(settings, "befolkning")) if t.name == "folkmangd"
    )
    rows = [list(row) for row in text_rows(folkmangd)]
    broken_index = 5
    if breakage == "duplicate-key":
        rows[broken_index] = list(rows[broken_index - 1])
    elif breakage == "not-a-number":
        rows[broken_index][3] = "elvatusen"
    elif breakage == "unknown-kommunkod":
        rows[broken_index][0] = "1499"
    name = "befolkning-kopia"
    folder = workspace / "datasets" / name
    (folder / "sources").mkdir(parents=True)
    with open(folder / "sources/folkmangd.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(folkmangd.fields)
        writer.writerows(rows)
    definition = (workspace / "datasets/befolkning/dataset.yaml").read_text("utf-8")
    head = definition.split("resources:")[0]
    (folder / "dataset.yaml").write_text(
        head
        + """resources:
  - name: kommuner
    title: {sv: Medlemskommuner}
    schema: kommuner.json
    sources:
      - {kind: dataset, dataset: befolkning, resource: kommuner}
  - name: folkmangd
    title: {sv: Folkmängd}
    schema: befolkning-folkmangd.json
    sources:
      - {kind: csv, path: sources/folkmangd.csv}
""",
        "utf-8",
    )
    return name, broken_index + 2


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            "duplicate-key",
            "row 7: row 6 already has 'kommunkod' = '1442' and 'ar' = '2019'; no two rows may "
            "have the same 'kommunkod' and 'ar'. [primary-key]",
        ),
        (
            "not-a-number",
            "row 7, column 'folkmangd': 'elvatusen' is not a whole number. [type-error]",
        ),
        (
            "unknown-kommunkod",
            "row 7, column 'kommunkod': table 'kommuner' has no row with kommunkod = '1499'. "
            "[foreign-key]",
        ),
    ],
)
def test_a_broken_row_fails_its_dataset_only(
    workspace: Path, prefect_api: str, breakage: str, expected: str
) -> None:
    name, row = write_broken_copy(workspace, breakage)
    result = run_cli(["publish", "--offline"], workspace, prefect_api)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{name:<23}  invalid" in result.stdout
    assert row == 7
    assert f"    {name}/sources/folkmangd.csv, {expected}\n" in result.stderr
    assert "nothing published" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workspace / "public/datasets" / name).exists()
    for other in DATASETS:
        assert (workspace / f"public/datasets/{other}/1.0.0/datapackage.json").is_file()
    catalog = json.loads((workspace / "public/catalog.json").read_bytes())
    assert name not in [d["name"] for d in catalog["datasets"]]


def test_validate_reports_file_row_and_field(workspace: Path) -> None:
    name, row = write_broken_copy(workspace, "not-a-number")
    result = run_cli(["validate", name], workspace)
    assert result.returncode == 1
    assert (
        result.stdout.splitlines()[0]
        == f"{name}: invalid (1 problem; kommuner 8 rows, folkmangd 80 rows)"
    )
    assert result.stdout.splitlines()[1:] == [
        f"{name}/sources/folkmangd.csv, rad {row}, kolumn 'folkmangd': 'elvatusen' är inte ett "
        "heltal.",
        f"    {name}/sources/folkmangd.csv, row {row}, column 'folkmangd': 'elvatusen' is not a "
        "whole number. [type-error]",
    ]
    good = run_cli(["validate", "befolkning"], workspace)
    assert good.returncode == 0
    assert good.stdout == "befolkning: valid (kommuner 8 rows, folkmangd 80 rows)\n"


def test_unknown_dataset_is_a_usage_error(workspace: Path) -> None:
    result = run_cli(["publish", "befolkningen"], workspace)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "Error: no such dataset: befolkningen (datasets: avfallsplan, avfallsplan-uppfoljning, befolkning,"
    )
    assert not (workspace / "public").exists()


def test_a_typo_in_a_definition_names_file_and_key(workspace: Path) -> None:
    path = workspace / "datasets/avfallsplan/dataset.yaml"
    path.write_text(
        path.read_text("utf-8")
        .replace("header", "x")
        .replace("schema: avfallsplan-mal.json", "schema: avfallsplan-mal.json\n    shema: x"),
        "utf-8",
    )
    result = run_cli(["validate", "avfallsplan"], workspace)
    assert result.returncode == 2
    assert result.stderr == f"Error: {path}: resources.1.shema: unknown key\n"


def test_dry_run_writes_nothing(workspace: Path, prefect_api: str) -> None:
    result = run_cli(["publish", "--dry-run", "befolkning"], workspace, prefect_api)
    assert result.returncode == 0, result.stderr
    assert "befolkning  would publish  1.0.0    88" in result.stdout
    assert not (workspace / "public").exists()


def test_unwritable_store_is_an_operational_failure(workspace: Path, prefect_api: str) -> None:
    blocker = workspace / "not-a-folder"
    blocker.write_text("a file where the store should be")
    result = run_cli(
        ["publish", "--store", str(blocker / "store"), "avfallsplan"], workspace, prefect_api
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "avfallsplan  failed" in result.stdout
    store = blocker / "store"
    # The first thing a run reads from the store: the files stewards delivered for it.
    assert (
        f"avfallsplan: cannot read _private/deliveries/current/avfallsplan.json from {store}: "
        "Not a directory" in result.stderr
    )
    catalog_line = (
        f"Error: catalog not updated: cannot read catalog.json from {store}: Not a directory"
    )
    assert result.stderr.count("catalog not updated") == 1, result.stderr  # said once
    assert catalog_line in result.stderr
    assert "was not updated, so it does not show these versions yet" in result.stdout
    assert "Published to" not in result.stdout and "Browse it" not in result.stdout
    assert "Traceback" not in result.stderr


def test_s3_store_without_credentials_is_a_configuration_error(workspace: Path) -> None:
    result = run_cli(
        ["list", "--store", "s3://bucket/prefix"],
        workspace,
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
        AWS_SHARED_CREDENTIALS_FILE=str(workspace / "none"),
        AWS_CONFIG_FILE=str(workspace / "none"),
    )
    assert result.returncode == 2, result.stderr
    assert "no complete S3 credentials found" in result.stderr
