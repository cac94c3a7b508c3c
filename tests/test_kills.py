"""A publisher killed mid-version, then a corrected re-run: published at once, no gap, no litter.

Issue 9 (class 8): a killed claim used to block a corrected re-run for 15 minutes, then the
version number was skipped and the killed run's partial files stayed public. The claim now
records its owner (boot id, pid, start time), so a later run on this machine sees at once that
the owner is gone and takes the claim over, clearing what the dead run wrote.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from opendata.config import load_settings
from opendata.errors import ConflictError
from opendata.liveness import Owner, _start_time, current_owner
from opendata.package import dump_json
from opendata.publish import prepare, publish_package, read_history, require_valid, verify
from opendata.storage import open_store
from tests.fault_publish import publish_all
from tests.storekit import StoreKit, open_kit, tree
from tests.test_concurrency import home_with
from tests.test_faults import BASE, FIRST, SECOND, make_home, run_publisher


@pytest.fixture(params=["local", "s3"])
def kit(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StoreKit:
    return open_kit(request.param, tmp_path / "stores", request, monkeypatch)


@pytest.mark.parametrize("kill_after", [2, 4])
def test_a_corrected_re_run_right_after_a_killed_claim_publishes_at_once(
    kit: StoreKit, tmp_path: Path, kill_after: int
) -> None:
    url = kit.new(f"killed-claim-{kill_after}")
    publish_all(make_home(tmp_path / "base"), open_store(url), BASE, FIRST)
    # The killed run adds a row (a minor version, 1.1.0): killed right after its claim (its
    # writes: the journal's mark, the claim, then the version's files) or after two files.
    killed = run_publisher(home_with(tmp_path / "added", "add"), url, kill_after, kit.env, "now")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = open_store(url)
    pending = json.loads(store.read_bytes("datasets/avfallsplan/versions.json") or b"")
    assert [v["status"] for v in pending["versions"]] == ["published", "pending"]
    assert pending["versions"][1]["owner"]["pid"] > 0

    # The steward corrects a value instead (a patch) and publishes again, at once.
    corrected = run_publisher(home_with(tmp_path / "fixed", "correct"), url, 0, kit.env, SECOND)
    assert corrected.returncode == 0, corrected.stdout + corrected.stderr

    history = json.loads(store.read_bytes("datasets/avfallsplan/versions.json") or b"")
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        ("1.0.0", "published"),
        ("1.0.1", "published"),
    ]
    keys = set(tree(store))
    assert not [k for k in keys if k.startswith("datasets/avfallsplan/1.1.0/")]
    assert "datasets/avfallsplan/1.0.1/datapackage.json" in keys
    checked, problems = verify(store, BASE)
    assert problems == [] and checked > 0
    assert list(store.leftovers()) == []


def test_a_live_claim_blocks_until_its_owner_dies(kit: StoreKit, tmp_path: Path) -> None:
    """The liveness check never lets two live runs write one dataset: a claim whose owner is a
    live process blocks another content; once that process is gone, the claim gives way."""
    url = kit.new("live-claim")
    store = open_store(url)
    publish_all(make_home(tmp_path / "base"), store, BASE, FIRST)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        me = current_owner()
        owner = Owner(me.host, me.boot, sleeper.pid, _start_time(sleeper.pid) or "")
        assert owner.alive() is True
        history, etag = read_history(store, "avfallsplan")
        history["versions"].append(
            {
                "version": "1.1.0",
                "status": "pending",
                "content_hash": "sha256:" + "0" * 64,
                "claimed": "2026-11-27T08:30:00Z",
                "owner": owner.to_record(),
            }
        )
        store.replace("datasets/avfallsplan/versions.json", dump_json(history), etag)
        store.create("datasets/avfallsplan/1.1.0/data.csv", b"partial")
        home = home_with(tmp_path / "fixed", "correct")
        package = require_valid(prepare(load_settings(home=home), "avfallsplan"))
        with pytest.raises(ConflictError, match="being published by another run"):
            publish_package(store, package, BASE, wait_for_others=timedelta(seconds=0.3))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert owner.alive() is False
    outcome = publish_package(store, package, BASE)
    assert (outcome.status, outcome.version) == ("published", "1.0.1")
    assert store.list("datasets/avfallsplan/1.1.0") == []
    history, _ = read_history(store, "avfallsplan")
    assert [v["version"] for v in history["versions"]] == ["1.0.0", "1.0.1"]
