"""The publisher killed (SIGKILL) after every single write of the protocol, on both stores.

Afterwards readers see the catalog from before or from after, never a mix; the stable latest
descriptor always resolves to one complete version whose files match their hashes; and a re-run
completes the publish with exactly the bytes of an uninterrupted run (no second version).
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from opendata.storage import open_store
from tests.conftest import REPO, copy_home
from tests.fault_publish import kill_points, publish_all, run_forked
from tests.storekit import StoreKit, open_kit, tree

BASE = "http://localhost:8000/"
FIRST = datetime.fromisoformat("2026-11-27T08:00:00+00:00")
SECOND = "2026-11-27T09:00:00+00:00"


def run_publisher(
    home: Path, store: str, kill_after: int, env: dict[str, str], now: str = SECOND
) -> subprocess.CompletedProcess[str]:
    return run_forked([str(home), store, BASE, str(kill_after), now], env, REPO)


def assert_latest_consistent(files: dict[str, bytes], name: str) -> str:
    """The stable descriptor names one version, and each of its files exists with its hash."""
    descriptor = json.loads(files[f"datasets/{name}/latest/datapackage.json"])
    version = descriptor["version"]
    for resource in descriptor["resources"]:
        key = resource["path"].removeprefix(BASE)
        assert key.startswith(f"datasets/{name}/{version}/")
        assert resource["hash"] == "sha256:" + hashlib.sha256(files[key]).hexdigest()
    return str(version)


def make_home(root: Path) -> Path:
    return copy_home(root, "avfallsplan")


def correct_a_value(home: Path) -> None:
    goals = home / "datasets/avfallsplan/sources/mal.csv"
    goals.write_text(
        goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
    )


@pytest.fixture(params=["local", "s3"])
def kit(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StoreKit:
    return open_kit(request.param, tmp_path / "stores", request, monkeypatch)


def test_killed_after_every_write_then_re_run(kit: StoreKit, tmp_path: Path) -> None:
    before_home = make_home(tmp_path / "before-home")
    home = make_home(tmp_path / "home")
    correct_a_value(home)

    before_url = kit.new("before")
    publish_all(before_home, open_store(before_url), BASE, FIRST)
    before = tree(open_store(before_url))

    def fresh_store(name: str) -> str:
        return kit.clone(before_url, name)

    after_url = fresh_store("after")
    reference = run_publisher(home, after_url, 0, kit.env)
    assert reference.returncode == 0, reference.stderr
    after = tree(open_store(after_url))
    writes = int(reference.stdout.split()[0])
    # claim, 7 version files, pointer, 6 latest copies and the latest descriptor, catalog.json,
    # then the files derived from it (index page, the dataset's page, the DCAT files)
    assert writes >= 19
    assert assert_latest_consistent(after, "avfallsplan") == "1.0.1"
    history = json.loads(after["datasets/avfallsplan/versions.json"])
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        ("1.0.0", "published"),
        ("1.0.1", "published"),
    ]

    # On the folder store after every write; on S3 (slower) after every write of the protocol
    # and every third of the derived pages and documents after it.
    for kill_after in kill_points(reference.stdout, 1 if kit.kind == "local" else 3):
        url = fresh_store(f"kill-{kill_after}")
        killed = run_publisher(home, url, kill_after, kit.env)
        assert killed.returncode == -signal.SIGKILL, (kill_after, killed.stderr)
        crashed = tree(open_store(url))
        # Readers see the catalog from before or from after, never anything else.
        assert crashed["catalog.json"] in (before["catalog.json"], after["catalog.json"]), (
            kill_after
        )
        assert assert_latest_consistent(crashed, "avfallsplan") in ("1.0.0", "1.0.1")
        # Nothing of the published version 1.0.0 changed.
        for key, data in before.items():
            if "/1.0.0/" in key:
                assert crashed[key] == data, (kill_after, key)
        # A re-run (here in-process) completes the publish: byte for byte what an
        # uninterrupted run leaves.
        publish_all(home, open_store(url), BASE, datetime.fromisoformat(SECOND))
        assert tree(open_store(url)) == after, kill_after
