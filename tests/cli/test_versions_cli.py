"""A steward's edits give the recipe's versions; history, diff, withdraw and verify show them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def publish(workspace: Path, api: str, *extra: str) -> dict[str, object]:
    result = run_cli(["publish", "--json", "avfallsplan", *extra], workspace, api)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]  # type: ignore[no-any-return]


def test_edits_history_diff_withdraw_verify(workspace: Path, prefect_api: str) -> None:
    sources = workspace / "datasets/avfallsplan/sources"
    goals = sources / "mal.csv"
    assert publish(workspace, prefect_api)["version"] == "1.0.0"

    # A corrected value: patch.
    goals.write_text(
        goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
    )
    outcome = publish(workspace, prefect_api)
    assert (outcome["status"], outcome["version"], outcome["previous_version"]) == (
        "published",
        "1.0.1",
        "1.0.0",
    )
    assert outcome["changes"] == "mal: 1 row changed"

    # Added rows: minor.
    with goals.open("a", encoding="utf-8") as stream:
        stream.write("ny-mal,2,Ett nytt mål,,,,,https://example.org/\n")
    assert publish(workspace, prefect_api)["version"] == "1.1.0"

    # A field removed: major.
    schema_path = workspace / "schemas/avfallsplan-mal.json"
    schema = json.loads(schema_path.read_text("utf-8"))
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "giltighet"]
    schema_path.write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
    lines = goals.read_text("utf-8").splitlines()
    goals.write_text(
        "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 6) for line in lines)
        + "\n",
        "utf-8",
    )
    assert publish(workspace, prefect_api)["version"] == "2.0.0"

    store = workspace / "public/datasets/avfallsplan"
    changes = json.loads((store / "2.0.0/changes.json").read_bytes())
    assert (changes["from"], changes["to"], changes["bump"]) == ("1.1.0", "2.0.0", "major")
    mal = next(r for r in changes["resources"] if r["name"] == "mal")
    assert [(c["kind"], c["field"]) for c in mal["schema_changes"]] == [
        ("field-removed", "giltighet")
    ]
    first = json.loads((store / "1.0.0/changes.json").read_bytes())
    assert first["summary"] == "first version"

    history = run_cli(["history", "avfallsplan"], workspace)
    assert history.returncode == 0
    assert [
        line.split("  ")[0] for line in history.stdout.splitlines() if not line.startswith(" ")
    ] == [
        "2.0.0 (latest)",
        "1.1.0",
        "1.0.1",
        "1.0.0",
    ]
    assert "[major] mal: field giltighet removed" in history.stdout
    assert (
        "[minor] mal: 1 row added\n    mal: added id=ny-mal: malomrade_nummer=2, "
        "mal=Ett nytt mål, kalla_url=https://example.org/\n" in history.stdout
    )
    assert (
        "[patch] mal: 1 row changed\n    mal: changed id=matsvinn-per-portion: malvarde 35 → 30\n"
        in history.stdout
    )

    diff = run_cli(["diff", "avfallsplan", "1.0.0", "1.0.1"], workspace)
    assert diff.stdout.splitlines() == [
        "avfallsplan 1.0.0 → 1.0.1: patch change (values changed)",
        "  mal: 1 row changed",
        "    changed id=matsvinn-per-portion: malvarde 35 → 30",
    ]
    latest_diff = run_cli(["diff", "avfallsplan"], workspace)
    assert latest_diff.stdout.splitlines()[0] == (
        "avfallsplan 1.1.0 → 2.0.0: major change (schema changed)"
    )

    # Withdraw the newest version: it stays listed as a tombstone, latest moves back.
    withdrawn = run_cli(
        ["withdraw", "avfallsplan", "2.0.0", "--reason", "Fältet behövs"], workspace
    )
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert withdrawn.stdout.splitlines() == [
        "avfallsplan 2.0.0 withdrawn (its files kept); latest is now 1.1.0",
        "The same data will not be published again (publish and the schedule report avfallsplan "
        "as withdrawn); to publish it anyway: opendata publish avfallsplan --republish",
    ]
    latest = json.loads((store / "latest/datapackage.json").read_bytes())
    assert latest["version"] == "1.1.0"
    catalog = json.loads((workspace / "public/catalog.json").read_bytes())
    entry = catalog["datasets"][0]
    assert entry["latest"] == "1.1.0"
    assert [(v["version"], v["status"]) for v in entry["versions"]][:2] == [
        ("2.0.0", "withdrawn"),
        ("1.1.0", "published"),
    ]
    history = run_cli(["history", "avfallsplan"], workspace)
    assert (
        "2.0.0  " in history.stdout
        and "withdrawn" in history.stdout
        and "Fältet behövs" in history.stdout
    )

    verified = run_cli(["verify"], workspace)
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.startswith("OK: ")

    # Someone alters a published file: verify says which and exits 1.
    altered = store / "1.0.1/mal.csv"
    altered.write_bytes(altered.read_bytes().replace(b"30", b"31"))
    (store / "1.0.0/malomraden.json").unlink()
    broken = run_cli(["verify"], workspace)
    assert broken.returncode == 1
    assert "datasets/avfallsplan/1.0.0/malomraden.json: missing" in broken.stdout
    assert "datasets/avfallsplan/1.0.1/mal.csv: sha256 " in broken.stdout
    assert broken.stdout.splitlines()[-1].startswith("2 problems in ")


def test_withdraw_refuses_unknown_versions(workspace: Path, prefect_api: str) -> None:
    publish(workspace, prefect_api)
    result = run_cli(["withdraw", "avfallsplan", "9.9.9", "--reason", "x"], workspace)
    assert result.returncode == 2
    assert "avfallsplan has no version 9.9.9" in result.stderr
