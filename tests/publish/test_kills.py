"""A publisher killed mid-version, then a corrected re-run: published at once, no gap, no litter.

Issue 9 (class 8): a killed claim used to block a corrected re-run for 15 minutes, then the
version number was skipped and the killed run's partial files stayed public. The claim now
records its owner (boot id, pid, start time), so a later run on this machine sees at once that
the owner is gone and takes the claim over, clearing what the dead run wrote.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from opendata import scratch
from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.errors import ConflictError, StoreError
from opendata.liveness import Owner, _start_time, current_owner
from opendata.package import dump_json
from opendata.preparing import Prepared, prepare, require_valid
from opendata.publish import publish_package, read_history
from opendata.storage import LocalStore, open_store
from opendata.verification import verify
from tests.fault_publish import publish_all
from tests.publish.test_concurrency import home_with
from tests.publish.test_faults import BASE, FIRST, SECOND, correct_a_value, make_home, run_publisher
from tests.storekit import StoreKit, open_kit, tree


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
        found = store.read("datasets/avfallsplan/versions.json")
        assert found is not None
        history, etag = json.loads(found[0]), found[1]
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
    assert [str(v.version) for v in history.versions] == ["1.0.0", "1.0.1"]


def two_dataset_home(root: Path, corrected: bool) -> Path:
    """avfallsplan and a copy of it under another name (two datasets sharing one catalog)."""
    home = make_home(root)
    shutil.copytree(home / "datasets/avfallsplan", home / "datasets/kopia")
    if corrected:
        correct_a_value(home)
        goals = home / "datasets/kopia/sources/mal.csv"
        goals.write_text(
            goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
        )
    return home


def publish_one(home: Path, store_url: str, name: str, prepared: Prepared | None = None) -> None:
    """One dataset's run, as the flow does it: publish, then the catalog for what it touched.
    `prepared`: the dataset collected and validated already (the same package for every store
    of a kill loop: a package is built from the sources alone, not from the store)."""
    store = open_store(store_url)
    own = prepared is None
    if prepared is not None:
        scratch.sweep()  # as the prepare of a run does first: killed runs' scratch space goes
    package = prepare(load_settings(home=home), name) if prepared is None else prepared
    try:
        publish_package(store, require_valid(package), BASE)
    finally:
        if own:
            package.discard()
    rebuild_catalog(store, BASE, [name])


def test_after_a_kill_at_any_write_the_next_run_of_another_dataset_repairs_every_reader_view(
    kit: StoreKit, tmp_path: Path
) -> None:
    """Issue 9, class 7: what readers fetch (latest copies, catalog.json, DCAT, pages) agrees with
    the pointers once ANY dataset has run after the kill — not only the killed one — and verify
    names what lags in between. The killed dataset's own claim waits for its next publish."""
    base = two_dataset_home(tmp_path / "base", corrected=False)
    home = two_dataset_home(tmp_path / "home", corrected=True)
    start_url = kit.new("start")
    publish_all(base, open_store(start_url), BASE, FIRST)
    reference_url = kit.clone(start_url, "reference")
    counted = run_publisher(home, reference_url, 0, kit.env)
    assert counted.returncode == 0, counted.stderr
    writes = int(counted.stdout.split()[0])
    # test_faults kills after every write already; here a kill point every few writes (a
    # different offset per store) covers each stage of the protocol: mark, claim, version files,
    # pointer, latest copies, catalog, derived files.
    step, first = (3, 1) if kit.kind == "local" else (5, 2)
    settings = load_settings(home=home)
    packages = {name: prepare(settings, name) for name in ("avfallsplan", "kopia")}
    try:
        for kill_after in range(first, writes, step):
            url = kit.clone(start_url, f"repair-{kill_after}")
            killed = run_publisher(home, url, kill_after, kit.env)
            assert killed.returncode == -signal.SIGKILL, (kill_after, killed.stderr)
            store = open_store(url)
            publish_one(home, url, "kopia", packages["kopia"])
            left = [p.describe() for p in verify(store, BASE)[1]]
            assert all("claimed by a run that ended" in p for p in left), (kill_after, left)
            publish_one(home, url, "avfallsplan", packages["avfallsplan"])
            assert verify(store, BASE)[1] == [], kill_after
            assert list(store.leftovers()) == [], kill_after
    finally:
        for package in packages.values():
            package.discard()


class LatestCopyFails(LocalStore):
    """A folder store whose copies into `latest/` fail (a full disk, a network error on S3),
    after the pointer already names the new version."""

    failing = True

    def copy(self, source: str, target: str) -> None:
        if self.failing and "/latest/" in target:
            raise StoreError(f"cannot copy {source} to {target}: No space left on device")
        super().copy(source, target)


def test_a_failed_latest_copy_is_repaired_by_the_next_run_of_another_dataset(
    tmp_path: Path,
) -> None:
    """Issue 19, item 8: the pointer names the new version, `latest/` failed to follow; the run
    fails, leaves a repair mark, and the next run of ANY dataset makes `latest/` follow."""
    base = two_dataset_home(tmp_path / "base", corrected=False)
    home = two_dataset_home(tmp_path / "home", corrected=True)
    root = tmp_path / "store"
    publish_all(base, LocalStore(root), BASE, FIRST)
    store = LatestCopyFails(root)
    prepared = prepare(load_settings(home=home), "avfallsplan")
    try:
        with pytest.raises(StoreError, match="No space left on device"):
            publish_package(store, require_valid(prepared), BASE)
    finally:
        prepared.discard()
    history, _ = read_history(store, "avfallsplan")
    assert str(history.latest) == "1.0.1"  # the pointer moved on
    latest = json.loads((root / "datasets/avfallsplan/latest/datapackage.json").read_bytes())
    assert latest["version"] == "1.0.0"  # latest/ did not
    assert store.read("_private/stale/avfallsplan/repair.json") is not None
    # The same process's catalog update, with the store still failing: the mark stays.
    with pytest.raises(StoreError):
        rebuild_catalog(store, BASE, ["avfallsplan"])
    assert store.read("_private/stale/avfallsplan/repair.json") is not None
    # Later, another dataset's run (another process: the store works again) repairs it.
    store.failing = False
    publish_one(home, root.as_uri(), "kopia")
    latest = json.loads((root / "datasets/avfallsplan/latest/datapackage.json").read_bytes())
    assert latest["version"] == "1.0.1"
    assert store.list("_private/stale") == []
    assert verify(store, BASE)[1] == []
