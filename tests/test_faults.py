"""The publisher killed (SIGKILL) after every single write of the protocol.

Afterwards readers see the catalog from before or from after, never a mix; the stable latest
descriptor always resolves to one complete version whose files match their hashes; and a re-run
completes the publish with exactly the bytes of an uninterrupted run (no second version).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from opendata.storage import LocalStore
from tests.conftest import REPO
from tests.fault_publish import publish_all

BASE = "http://localhost:8000/"
FIRST = datetime.fromisoformat("2026-11-27T08:00:00+00:00")
SECOND = "2026-11-27T09:00:00+00:00"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_killed(home: Path, store: Path, kill_after: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fault_publish",
            str(home),
            str(store),
            BASE,
            str(kill_after),
            SECOND,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_latest_consistent(files: dict[str, bytes], name: str) -> str:
    """The stable descriptor names one version, and each of its files exists with its hash."""
    descriptor = json.loads(files[f"datasets/{name}/latest/datapackage.json"])
    version = descriptor["version"]
    for resource in descriptor["resources"]:
        key = resource["path"].removeprefix(BASE)
        assert key.startswith(f"datasets/{name}/{version}/")
        assert resource["hash"] == "sha256:" + hashlib.sha256(files[key]).hexdigest()
    return str(version)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The store before the publish, the source edit, and the store after an uninterrupted one."""
    root = tmp_path_factory.mktemp("faults")
    home = root / "repo"
    (home / "datasets").mkdir(parents=True)
    shutil.copytree(REPO / "datasets/avfallsplan", home / "datasets/avfallsplan")
    shutil.copytree(REPO / "schemas", home / "schemas")
    before = root / "before"
    publish_all(home, LocalStore(before), BASE, FIRST)
    goals = home / "datasets/avfallsplan/sources/mal.csv"
    goals.write_text(
        goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
    )
    after = root / "after"
    shutil.copytree(before, after)
    reference = run_killed(home, after, 0)
    assert reference.returncode == 0, reference.stderr
    return {
        "home": home,
        "before": tree(before),
        "before_path": before,
        "after": tree(after),
        "writes": int(reference.stdout.strip()),
    }


def test_the_reference_publish_made_one_new_version(scenario: dict[str, object]) -> None:
    after = scenario["after"]
    assert isinstance(after, dict)
    assert assert_latest_consistent(after, "avfallsplan") == "1.0.1"
    history = json.loads(after["datasets/avfallsplan/versions.json"])
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        ("1.0.0", "published"),
        ("1.0.1", "published"),
    ]
    # claim, 7 version files, pointer, 4 changed latest copies (mal.csv, mal.json, changes.json,
    # the descriptor), catalog, index
    assert scenario["writes"] == 15


def test_killed_after_every_write_then_re_run(scenario: dict[str, object], tmp_path: Path) -> None:
    before, after = scenario["before"], scenario["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    writes = scenario["writes"]
    assert isinstance(writes, int)
    for kill_after in range(1, writes + 1):
        store = tmp_path / f"store-{kill_after}"
        shutil.copytree(scenario["before_path"], store)  # type: ignore[arg-type]
        killed = run_killed(scenario["home"], store, kill_after)  # type: ignore[arg-type]
        assert killed.returncode == -signal.SIGKILL, (kill_after, killed.stderr)
        crashed = tree(store)
        # Readers see the catalog from before or from after, never anything else.
        assert crashed["catalog.json"] in (before["catalog.json"], after["catalog.json"]), (
            kill_after
        )
        assert assert_latest_consistent(crashed, "avfallsplan") in ("1.0.0", "1.0.1")
        # Nothing of the published version 1.0.0 changed.
        for key, data in before.items():
            if "/1.0.0/" in key:
                assert crashed[key] == data, (kill_after, key)
        # A re-run completes the publish: byte for byte what an uninterrupted run leaves.
        survived = run_killed(scenario["home"], store, 0)  # type: ignore[arg-type]
        assert survived.returncode == 0, (kill_after, survived.stderr)
        assert tree(store) == after, kill_after
