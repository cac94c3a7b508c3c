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

from opendata.storage import Store, open_store
from opendata.verification import verify
from tests.conftest import REPO
from tests.fault_publish import publish_all
from tests.publish.test_faults import BASE, FIRST, correct_a_value, make_home
from tests.storekit import StoreKit, open_kit


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


def one_dataset_home(root: Path, name: str, round_: int) -> Path:
    """A home holding one copy of avfallsplan named `name`, its content different each round."""
    home = make_home(root)
    (home / "datasets/avfallsplan").rename(home / f"datasets/{name}")
    if round_:
        goals = home / f"datasets/{name}/sources/mal.csv"
        goals.write_text(
            goals.read_text("utf-8").replace(",35,g per portion", f",{35 + round_},g per portion"),
            "utf-8",
        )
    return home


@pytest.mark.parametrize("publishers", [6])
def test_concurrent_publishers_of_different_datasets_never_lose_a_catalog_update(
    kit: StoreKit, tmp_path: Path, publishers: int
) -> None:
    """Issue 9, class 9: derived files (catalog.json, the DCAT files, the index and the pages)
    never go back in time: after every round of concurrent publishers, each dataset's newest
    version is in every one of them."""
    url = kit.new("six")
    names = [f"set-{i}" for i in range(publishers)]
    rounds = 4 if kit.kind == "local" else 2
    for round_ in range(rounds):
        homes = [one_dataset_home(tmp_path / f"r{round_}-{n}", n, round_) for n in names]
        running = [
            subprocess.Popen(
                [*PUBLISHER, str(home), url, BASE, "0", "now", "touched"],
                cwd=REPO,
                env=kit.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for home in homes
        ]
        for process in running:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, out + err
        store = open_store(url)
        derived = {
            key: (store.read_bytes(key) or b"").decode("utf-8")
            for key in ["catalog.json", "index.html", *DCAT_KEYS]
        }
        for name in names:
            history = json.loads(store.read_bytes(f"datasets/{name}/versions.json") or b"")
            newest = f"datasets/{name}/{history['latest']}/"
            assert history["latest"] == f"1.0.{round_}"
            for key, text in derived.items():
                if key != "index.html":
                    assert newest in text, (round_, name, key)
            page = (store.read_bytes(f"datasets/{name}/index.html") or b"").decode("utf-8")
            assert history["latest"] in page, (round_, name)
        _checked, problems = verify(store, BASE)
        assert problems == [], [p.describe() for p in problems]


DCAT_KEYS = ["dcat/catalog.rdf", "dcat/catalog.ttl", "dcat/catalog.jsonld"]
PUBLISHER = [sys.executable, "-m", "tests.fault_publish"]
