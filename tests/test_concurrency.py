"""Two publishers of the same dataset at once (two processes, one store: a folder or S3).

Both end cleanly: the loser waits for the winner's claim and publishes on top of it (the next
version), or reports a conflict (exit 3). No version number ever holds two different contents.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opendata.publish import verify
from opendata.storage import Store, open_store
from tests.conftest import REPO
from tests.fault_publish import publish_all
from tests.storekit import StoreKit, open_kit
from tests.test_faults import BASE, FIRST, correct_a_value, make_home


@pytest.fixture(params=["local", "s3"])
def kit(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StoreKit:
    return open_kit(request.param, tmp_path / "stores", request, monkeypatch)


def home_with(root: Path, edit: str) -> Path:
    home = make_home(root)
    if edit == "correct":
        correct_a_value(home)
    else:
        with (home / "datasets/avfallsplan/sources/mal.csv").open("a", encoding="utf-8") as stream:
            stream.write("ny-mal,2,Ett nytt mål,,,,,https://example.org/\n")
    return home


def start(home: Path, store: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fault_publish", str(home), store, BASE, "0", "now"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def versions_after_check(store: Store) -> list[dict[str, object]]:
    _checked, problems = verify(store, BASE)
    assert problems == [], [p.describe() for p in problems]
    history = json.loads(store.read_bytes("datasets/avfallsplan/versions.json") or b"{}")
    numbers = [v["version"] for v in history["versions"]]
    assert len(numbers) == len(set(numbers))
    return history["versions"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("round_", range(3))
def test_two_publishers_with_different_content(kit: StoreKit, tmp_path: Path, round_: int) -> None:
    url = kit.new(f"different-{round_}")
    publish_all(make_home(tmp_path / "base"), open_store(url), BASE, FIRST)
    first = start(home_with(tmp_path / "a", "correct"), url, kit.env)
    second = start(home_with(tmp_path / "b", "add"), url, kit.env)
    results = [first.communicate(timeout=120), second.communicate(timeout=120)]
    codes = sorted([first.returncode, second.returncode])
    assert codes in ([0, 0], [0, 3]), results
    versions = versions_after_check(open_store(url))
    published = [v for v in versions if v["status"] == "published"]
    assert len(published) == 1 + codes.count(0)
    assert len({v["content_hash"] for v in published}) == len(published)


@pytest.mark.parametrize("round_", range(3))
def test_two_publishers_with_the_same_content(kit: StoreKit, tmp_path: Path, round_: int) -> None:
    url = kit.new(f"same-{round_}")
    publish_all(make_home(tmp_path / "base"), open_store(url), BASE, FIRST)
    first = start(home_with(tmp_path / "a", "correct"), url, kit.env)
    second = start(home_with(tmp_path / "b", "correct"), url, kit.env)
    results = [first.communicate(timeout=120), second.communicate(timeout=120)]
    assert (first.returncode, second.returncode) == (0, 0), results
    versions = versions_after_check(open_store(url))
    assert [(v["version"], v["status"]) for v in versions] == [
        ("1.0.0", "published"),
        ("1.0.1", "published"),
    ]
