"""SIGTERM mid-publish (issue 21): the run stops within seconds, says so, exits 143, and lets
go of what it holds: its claim leaves versions.json with the files it wrote, nothing
half-written is visible, and the next run publishes at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from opendata.storage import open_store
from opendata.verification import verify
from tests.fault_publish import publish_all
from tests.publish.test_concurrency import home_with
from tests.publish.test_faults import BASE, FIRST, SECOND, make_home
from tests.storekit import tree

REPO = Path(__file__).resolve().parents[2]
COPY = "avfallsplan-kopia"


def with_copy(home: Path, copy: bool) -> Path:
    if copy:
        shutil.copytree(home / "datasets/avfallsplan", home / "datasets" / COPY)
    return home


def history(store_url: str, name: str) -> list[tuple[str, str]]:
    raw = open_store(store_url).read_bytes(f"datasets/{name}/versions.json") or b""
    return [(v["version"], v["status"]) for v in json.loads(raw)["versions"]]


@pytest.mark.parametrize(
    ("pause_after", "copy"),
    [
        (2, False),  # one dataset, in the main thread: stopped right after its claim
        (3, False),  # ... after the version's first file
        (3, True),  # two datasets in threads: one stops after its claim
    ],
)
def test_sigterm_mid_publish_releases_the_claim(
    tmp_path: Path, pause_after: int, copy: bool
) -> None:
    url = str(tmp_path / "store")
    publish_all(with_copy(make_home(tmp_path / "base"), copy), open_store(url), BASE, FIRST)
    names = ["avfallsplan", COPY] if copy else ["avfallsplan"]
    added = with_copy(home_with(tmp_path / "added", "add"), copy)  # a minor version, 1.1.0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "PREFECT_"))}
    env.update(OPENDATA_HOME=str(added), OPENDATA_STORE=url, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.sigterm_publish", str(pause_after), "publish"),
            *("--offline", "--no-prefect", "--parallel", str(len(names))),
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("paused"), line + process.communicate(timeout=60)[1]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)  # stops within seconds, or fails here
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, out + err
    assert "stopped by SIGTERM" in err and "claims released" in err, err

    # No claim is left: the stopped dataset keeps its last version, a finished one its new one.
    store = open_store(url)
    for name in names:
        entries = history(url, name)
        assert all(status == "published" for _, status in entries), (name, entries)
        if entries[-1][0] != "1.1.0":
            assert not [k for k in tree(store) if k.startswith(f"datasets/{name}/1.1.0/")]
    # Nothing half-written: at most the journal marks the next run rebuilds derived files for.
    _, problems = verify(store, BASE)
    assert all(p.key.startswith("_private/stale/") for p in problems), problems
    assert list(store.leftovers()) == []

    # The next run (a corrected value: a patch) publishes at once, and all is clean after it.
    fixed = with_copy(home_with(tmp_path / "fixed", "correct"), copy)
    publish_all(fixed, store, BASE, datetime.fromisoformat(SECOND))
    for name in names:
        entries = history(url, name)
        assert all(status == "published" for _, status in entries), (name, entries)
        # The stopped claim's number is free again: the patch comes right after 1.0.0.
        assert entries[-1][0] in ("1.0.1", "1.1.1"), (name, entries)
    checked, problems = verify(store, BASE)
    assert problems == [] and checked > 0
