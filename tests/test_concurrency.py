"""Two publishers of the same dataset at once (two processes, one store).

Both end cleanly: the loser waits for the winner's claim and publishes on top of it (the next
version), or reports a conflict (exit 3). No version number ever holds two different contents.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opendata.publish import verify
from opendata.storage import LocalStore
from tests.conftest import REPO
from tests.fault_publish import publish_all
from tests.test_faults import BASE, FIRST


def make_home(root: Path, edit: str | None) -> Path:
    home = root
    (home / "datasets").mkdir(parents=True)
    shutil.copytree(REPO / "datasets/avfallsplan", home / "datasets/avfallsplan")
    shutil.copytree(REPO / "schemas", home / "schemas")
    goals = home / "datasets/avfallsplan/sources/mal.csv"
    if edit == "correct":
        goals.write_text(
            goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
        )
    elif edit == "add":
        with goals.open("a", encoding="utf-8") as stream:
            stream.write("ny-mal,2,Ett nytt mål,,,,,https://example.org/\n")
    return home


def start(home: Path, store: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fault_publish", str(home), store, BASE, "0", "now"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_store(store: LocalStore) -> list[dict[str, object]]:
    _checked, problems = verify(store, BASE)
    assert problems == [], [p.describe() for p in problems]
    history = json.loads(store.read_bytes("datasets/avfallsplan/versions.json") or b"{}")
    versions = [v["version"] for v in history["versions"]]
    assert len(versions) == len(set(versions))
    return history["versions"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("round_", range(3))
def test_two_publishers_with_different_content(tmp_path: Path, round_: int) -> None:
    base = make_home(tmp_path / "base", None)
    store_path = tmp_path / "store"
    publish_all(base, LocalStore(store_path), BASE, FIRST)
    first = start(make_home(tmp_path / "a", "correct"), str(store_path))
    second = start(make_home(tmp_path / "b", "add"), str(store_path))
    results = [first.communicate(timeout=120), second.communicate(timeout=120)]
    codes = sorted([first.returncode, second.returncode])
    assert codes in ([0, 0], [0, 3]), results
    versions = check_store(LocalStore(store_path))
    published = [v for v in versions if v["status"] == "published"]
    assert len(published) == 1 + codes.count(0)
    contents = {v["content_hash"] for v in published}
    assert len(contents) == len(published)


@pytest.mark.parametrize("round_", range(3))
def test_two_publishers_with_the_same_content(tmp_path: Path, round_: int) -> None:
    base = make_home(tmp_path / "base", None)
    store_path = tmp_path / "store"
    publish_all(base, LocalStore(store_path), BASE, FIRST)
    first = start(make_home(tmp_path / "a", "correct"), str(store_path))
    second = start(make_home(tmp_path / "b", "correct"), str(store_path))
    results = [first.communicate(timeout=120), second.communicate(timeout=120)]
    assert (first.returncode, second.returncode) == (0, 0), results
    versions = check_store(LocalStore(store_path))
    assert [(v["version"], v["status"]) for v in versions] == [
        ("1.0.0", "published"),
        ("1.0.1", "published"),
    ]
