"""Issue 18: what a CKAN portal imports from the harvest URL, read by the real ckanext-dcat.

CKAN 2.12.0 and ckanext-dcat 2.4.4 come from PyPI into a virtualenv of their own, built once
into a cache folder (OPENDATA_TEST_CACHE, default ~/.cache/opendata-tests; some 30 s); without
PyPI the tests are skipped and say why. tests/ckan_gather.py runs the harvester's gather stage
with ckanext-dcat's own RDFParser against `opendata serve`, following the Hydra pages.

- N datasets give exactly N CKAN records, at 5 datasets with older versions and at 60
  datasets × 20 versions (two pages): one record per dataset, its versions linked from it.
- A withdrawn latest version moves the record back to the previous version; a dataset whose
  every version is withdrawn leaves the pages, and the harvester deletes its record.
- The record keeps the dataset's one place whole (the region, with its box).
- Every record the harvester imports scores 405 of 405 on the MQA scorer (tests/mqa.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph, Namespace, URIRef

from bench.catalog import populate
from opendata.catalog import rebuild_catalog
from opendata.latest import latest_descriptor
from opendata.layout import LATEST
from opendata.publish import withdraw
from opendata.serve import make_server
from opendata.storage import LocalStore
from tests import mqa
from tests.catalogkit import Version, mixed_shape, tables, write_dataset

CKAN = "ckan[requirements]==2.12.0"
DCAT_EXTENSION = "ckanext-dcat==2.4.4"
GATHER = Path(__file__).parents[1] / "ckan_gather.py"
DCAT = Namespace("http://www.w3.org/ns/dcat#")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")

pytestmark = pytest.mark.integration


def cache_folder() -> Path:
    root = os.environ.get("OPENDATA_TEST_CACHE") or str(Path.home() / ".cache" / "opendata-tests")
    return Path(root) / "ckan-2.12.0-dcat-2.4.4"


@pytest.fixture(scope="session")
def ckan_python() -> Path:
    """The interpreter of the cached CKAN virtualenv, built on first use (one builder at a
    time across test workers: a lock file)."""
    folder = cache_folder()
    python = folder / "bin" / "python"
    ready = folder / "ready"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / "ckan.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            steps = [
                [sys.executable, "-m", "venv", "--clear", str(folder)],
                [str(python), "-m", "pip", "install", "-q", CKAN, DCAT_EXTENSION],
            ]
            for step in steps:
                try:
                    run = subprocess.run(step, capture_output=True, text=True, timeout=900)
                except (OSError, subprocess.TimeoutExpired) as error:
                    pytest.skip(f"could not install CKAN and ckanext-dcat from PyPI: {error}")
                if run.returncode != 0:
                    tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
                    pytest.skip(
                        f"could not install {CKAN} and {DCAT_EXTENSION} from PyPI "
                        f"(pip exited {run.returncode}): {' / '.join(tail)}"
                    )
            ready.write_text(f"{CKAN} {DCAT_EXTENSION}\n", "utf-8")
    return python


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder store served by `opendata serve`: (its root, its base URL)."""
    root = tmp_path / "store"
    root.mkdir()
    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def populated(root: Path, base: str, datasets: int, versions: int) -> None:
    """bench.catalog's synthetic store, made what a publish leaves: each latest version's
    files copied to `latest/`, and an attribution (the rights statement) in its descriptor."""
    populate(root, datasets, versions)
    for folder in sorted((root / "datasets").iterdir()):
        history = json.loads((folder / "versions.json").read_bytes())
        version = folder / history["latest"]
        descriptor = json.loads((version / "datapackage.json").read_bytes())
        descriptor["attribution"] = "Källa: syntetiska data."
        (version / "datapackage.json").write_text(json.dumps(descriptor), "utf-8")
        (folder / LATEST).mkdir()
        (folder / LATEST / "data.csv").write_bytes((version / "data.csv").read_bytes())
        stable = latest_descriptor(descriptor, base, folder.name)
        (folder / LATEST / "datapackage.json").write_bytes(stable)
    rebuild_catalog(LocalStore(root), base)


def harvest(python: Path, base: str, state: Path, suffix: str = "rdf") -> dict[str, Any]:
    run = subprocess.run(
        [str(python), str(GATHER), f"{base}dcat/catalog.{suffix}", str(state)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def page_graphs(base: str) -> Iterator[Graph]:
    """The harvest pages as a reader that follows hydra:next gets them."""
    url: str | None = f"{base}dcat/catalog.rdf"
    while url:
        with urllib.request.urlopen(url, timeout=30) as response:
            graph = Graph().parse(data=response.read(), format="xml")
        yield graph
        following = next(graph.objects(None, URIRef("http://www.w3.org/ns/hydra/core#next")), None)
        url = None if following is None else str(following)


def assert_full_marks(root: Path, base: str) -> int:
    """Every dcat:Dataset a harvester imports from the pages scores 405; returns how many."""

    def accessible(url: str) -> bool:
        return url.startswith(base) and (root / url[len(base) :]).is_file()

    records = 0
    for graph in page_graphs(base):
        records += len(set(graph.subjects(RDF.type, DCAT.Dataset)))
        assert mqa.shortfalls(graph, accessible, compliant=True) == {}
    return records


def test_five_datasets_with_older_versions_are_five_ckan_records(
    ckan_python: Path, served: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = served
    populated(root, base, 5, 3)  # 5 datasets, 10 older versions
    for suffix in ("rdf", "ttl", "jsonld"):
        result = harvest(ckan_python, base, tmp_path / f"state-{suffix}.json", suffix)
        guids = [record["guid"] for record in result["records"]]
        assert sorted(guids) == [f"{base}datasets/d{n:04d}/" for n in range(5)], suffix
        for record in result["records"]:
            assert record["version"] == "1.2.0"
            assert sorted(record["has_version"]) == [f"{record['guid']}1.{n}.0/" for n in range(3)]
            assert record["resources"] == 2  # data.csv and datapackage.json, latest
    assert assert_full_marks(root, base) == 5


def test_sixty_datasets_of_twenty_versions_are_sixty_ckan_records(
    ckan_python: Path, served: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = served
    populated(root, base, 60, 20)
    result = harvest(ckan_python, base, tmp_path / "state.json")
    assert result["pages"] == 2  # 50 datasets a page
    guids = [record["guid"] for record in result["records"]]
    assert len(guids) == 60 and len(set(guids)) == 60
    assert all(len(record["has_version"]) == 20 for record in result["records"])
    assert assert_full_marks(root, base) == 60


def test_withdrawals_reach_the_portal_as_a_harvester_deletes(
    ckan_python: Path, served: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = served
    store = LocalStore(root)
    write_dataset(store, "alfa", mixed_shape(), base)
    write_dataset(store, "beta", [Version("1.0.0", "2024-03-01T05:00:12Z", tables())], base)
    rebuild_catalog(store, base)
    state = tmp_path / "state.json"
    first = {r["guid"]: r for r in harvest(ckan_python, base, state)["records"]}
    alfa, beta = f"{base}datasets/alfa/", f"{base}datasets/beta/"
    assert sorted(first) == [alfa, beta]
    assert first[alfa]["version"] == "1.1.0" and first[alfa]["resources"] == 7
    # The places (three municipalities of the fixture) are one place, kept whole: its box too.
    assert first[alfa]["spatial_uri"] == f"{alfa}#spatial"
    assert first[alfa]["spatial_text"] == "Kommunerna Vårgårda, Bollebygd och Borås"
    assert json.loads(first[alfa]["spatial_bbox"])["type"] == "Polygon"

    withdraw(store, "alfa", "1.1.0", "Fel värden", base)
    withdraw(store, "beta", "1.0.0", "Dras tillbaka helt", base)
    rebuild_catalog(store, base, ["alfa", "beta"])
    second = harvest(ckan_python, base, state)
    assert [r["guid"] for r in second["records"]] == [alfa]
    (record,) = second["records"]
    assert record["version"] == "1.0.0" and record["has_version"] == [f"{alfa}1.0.0/"]
    assert record["resources"] == 5  # the CSV and JSON of 1.0.0, and its datapackage.json
    assert second["deleted"] == [beta]  # the harvester deletes the record
    catalog = json.loads((root / "catalog.json").read_bytes())
    statuses = {e["name"]: [v["status"] for v in e["versions"]] for e in catalog["datasets"]}
    assert statuses == {"alfa": ["withdrawn", "published"], "beta": ["withdrawn"]}
    assert assert_full_marks(root, base) == 1


def test_the_region_is_the_place_ckan_keeps(
    ckan_python: Path, served: tuple[Path, str], tmp_path: Path
) -> None:
    """A dataset about all eight members has the region as its one dct:spatial: the record
    says Boråsregionen, with the region's box (not one municipality's)."""
    from opendata.municipalities import MEMBERS

    root, base = served
    populate(root, 1, 1)
    folder = root / "datasets" / "d0000" / "1.0.0"
    descriptor = json.loads((folder / "datapackage.json").read_bytes())
    descriptor["spatial"] = [{"kommunkod": code, "kommun": n} for code, n in MEMBERS.items()]
    (folder / "datapackage.json").write_text(json.dumps(descriptor), "utf-8")
    rebuild_catalog(LocalStore(root), base)
    (record,) = harvest(ckan_python, base, tmp_path / "state.json")["records"]
    assert record["spatial_uri"] == f"{base}region/"
    assert record["spatial_text"] == "Boråsregionen (Sjuhärad)"
    west, south = json.loads(record["spatial_bbox"])["coordinates"][0][0]
    assert (round(west, 2), round(south, 2)) == (12.28, 57.15)
