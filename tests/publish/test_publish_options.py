"""`opendata publish --message`, `--dry-run` and `--republish`, as a steward types them.

The core records messages and keeps withdrawals (tests/publish/test_change_notes.py); here the CLI passes
them through, in this process and as the Prefect flow, and prints what a dry run would do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import copy_home, run_cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return copy_home(tmp_path, "avfallsplan")


def correct_a_value(home: Path) -> None:
    goals = home / "datasets/avfallsplan/sources/mal.csv"
    goals.write_text(
        goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
    )


def publish(home: Path, *args: str, api: str | None = None) -> tuple[int, str, str]:
    mode = [] if api else ["--no-prefect"]
    done = run_cli(
        ["publish", *mode, "avfallsplan", *args], home, api, OPENDATA_STORE=str(home / "public")
    )
    return done.returncode, done.stdout, done.stderr


def history(home: Path) -> list[dict[str, object]]:
    record = json.loads((home / "public/datasets/avfallsplan/versions.json").read_text("utf-8"))
    return list(record["versions"])


def test_dry_run_message_withdraw_and_republish_through_the_cli(home: Path) -> None:
    assert publish(home)[0] == 0
    correct_a_value(home)

    code, out, _ = publish(home, "--dry-run")
    assert code == 0
    lines = out.splitlines()
    start = lines.index("avfallsplan: would publish 1.0.1 after 1.0.0")
    assert lines[start + 1].startswith("  why: patch")
    assert lines[start + 2 : start + 4] == [
        "  mal: 1 row changed",
        "    changed id=matsvinn-per-portion: malvarde 35 → 30",
    ]
    assert [v["version"] for v in history(home)] == ["1.0.0"]

    code, out, err = publish(home, "--message", "Målvärdet rättat efter beslut")
    assert code == 0, out + err
    assert history(home)[-1]["message"] == "Målvärdet rättat efter beslut"
    catalog = json.loads((home / "public/catalog.json").read_text("utf-8"))
    assert catalog["datasets"][0]["versions"][0]["message"] == "Målvärdet rättat efter beslut"

    withdrawn = run_cli(
        ["withdraw", "avfallsplan", "1.0.1", "--reason", "Fel beslut"],
        home,
        OPENDATA_STORE=str(home / "public"),
    )
    assert withdrawn.returncode == 0, withdrawn.stderr
    code, out, err = publish(home, "--json")
    assert code == 0, err
    (outcome,) = json.loads(out)
    assert (outcome["status"], outcome["version"]) == ("withdrawn", "1.0.0")
    assert "--republish" in outcome["message"]

    code, out, err = publish(home, "--republish", "--json")
    assert code == 0, err
    (outcome,) = json.loads(out)
    assert (outcome["status"], outcome["version"]) == ("published", "1.0.2")


def test_the_flow_takes_the_message_too(home: Path, prefect_api: str) -> None:
    assert publish(home, api=prefect_api)[0] == 0
    correct_a_value(home)
    code, out, err = publish(home, "-m", "Via flödet", api=prefect_api)
    assert code == 0, out + err
    assert history(home)[-1]["message"] == "Via flödet"
