"""catalog.json and the dataset previews, on stores written by hand (tests/catalogkit.py).

- A store of the old shape (CSV and JSON only, what every store holds from before Parquet)
  gives byte for byte the derived files pinned in tests/golden/catalog-old-shape/: adding
  Parquet changed nothing for it. `OPENDATA_UPDATE_GOLDEN=1 pytest tests/catalog/test_catalog.py`
  rewrites the pins (only after checking that the change is meant).
- A version with Parquet lists the Parquet file in catalog.json (format, stable and versioned
  URL, size and SHA-256), next to CSV and JSON; an older version without it stays as it was.
- The preview reads the start of the CSV only (Store.read_head), never the whole file, and
  shows complete records only, whatever the cut.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from opendata.catalog import rebuild_catalog
from opendata.catalog.dataset_pages import PREVIEW_BYTES, head_records, preview_rows
from opendata.storage import LocalStore
from tests.catalogkit import (
    PARQUET_MEDIATYPE,
    Table,
    Version,
    big_tables,
    csv_bytes,
    mixed_shape,
    old_shape,
    sha256,
    write_dataset,
)

BASE = "https://data.example.se/oppna-data/"
GOLDEN = Path(__file__).parents[1] / "golden" / "catalog-old-shape"
DERIVED = [
    "catalog.json",
    "index.html",
    "dcat/catalog.rdf",
    "dcat/catalog.ttl",
    "dcat/catalog.jsonld",
    "datasets/prov/index.html",
]


@pytest.fixture(autouse=True)
def _default_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENDATA_PUBLISHER_URI", raising=False)


def built(tmp_path: Path, versions: list[Version]) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    write_dataset(store, "prov", versions, BASE)
    rebuild_catalog(store, BASE)
    return store


# -- the old shape: byte-identical to before ----------------------------------------------------


def test_a_store_without_parquet_builds_the_pinned_bytes(tmp_path: Path) -> None:
    store = built(tmp_path, old_shape())
    if os.environ.get("OPENDATA_UPDATE_GOLDEN") == "1":
        for key in DERIVED:
            (GOLDEN / key).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / key).write_bytes(store.read_bytes(key) or b"")
    for key in DERIVED:
        assert store.read_bytes(key) == (GOLDEN / key).read_bytes(), key
    # and a rebuild from the same pointers writes nothing
    assert rebuild_catalog(store, BASE) == []


def test_the_old_shape_lists_csv_and_json_only(tmp_path: Path) -> None:
    store = built(tmp_path, old_shape())
    entry = json.loads(store.read_bytes("catalog.json") or b"{}")["datasets"][0]
    assert entry["formats"] == ["CSV", "JSON"]
    for resource in entry["resources"]:
        assert [f["format"] for f in resource["files"]] == ["CSV", "JSON"]
    for version in entry["versions"]:
        assert not [f for f in version["files"] if f["name"].endswith(".parquet")]
    assert "Parquet" not in (store.read_bytes("datasets/prov/index.html") or b"").decode()


# -- a version with Parquet -------------------------------------------------------------------


def test_catalog_json_lists_the_parquet_file_next_to_csv_and_json(tmp_path: Path) -> None:
    versions = mixed_shape()
    store = built(tmp_path, versions)
    catalog = json.loads(store.read_bytes("catalog.json") or b"{}")
    (entry,) = catalog["datasets"]
    home = f"{BASE}datasets/prov/"
    assert entry["latest"] == "1.1.0"
    assert entry["formats"] == ["CSV", "JSON", "PARQUET"]
    assert [r["name"] for r in entry["resources"]] == ["kommuner", "varden"]
    for resource in entry["resources"]:
        name = resource["name"]
        assert [f["name"] for f in resource["files"]] == [
            f"{name}.csv",
            f"{name}.json",
            f"{name}.parquet",
        ]
        assert [f["format"] for f in resource["files"]] == ["CSV", "JSON", "PARQUET"]
        parquet = resource["files"][2]
        data = store.read_bytes(f"datasets/prov/1.1.0/{name}.parquet")
        assert data is not None and data.startswith(b"PAR1") and data.endswith(b"PAR1")
        assert parquet == {
            "name": f"{name}.parquet",
            "format": "PARQUET",
            "mediatype": PARQUET_MEDIATYPE,
            "bytes": len(data),
            "sha256": sha256(data),
            "url": f"{home}1.1.0/{name}.parquet",
            "latest_url": f"{home}latest/{name}.parquet",
        }
        # the stable URL serves the same bytes
        assert store.read_bytes(f"datasets/prov/latest/{name}.parquet") == data
        # the Parquet file holds the CSV's rows
        table = pq.read_table(io.BytesIO(data))
        rows = list(csv.reader(io.StringIO(versions[1].files[f"{name}.csv"].decode(), newline="")))
        assert table.column_names == rows[0]
        assert table.num_rows == len(rows) - 1 == resource["rows"]

    newer, older = entry["versions"]
    assert (newer["version"], older["version"]) == ("1.1.0", "1.0.0")
    listed = {f["name"]: f for f in newer["files"]}
    for name in ("kommuner.parquet", "varden.parquet"):
        data = store.read_bytes(f"datasets/prov/1.1.0/{name}") or b""
        assert listed[name] == {
            "name": name,
            "url": f"{home}1.1.0/{name}",
            "bytes": len(data),
            "sha256": sha256(data),
        }
    # the older version has no Parquet and is listed exactly as before
    assert [f["name"] for f in older["files"]] == sorted(versions[0].files)
    assert not [f for f in older["files"] if f["name"].endswith(".parquet")]


def test_an_old_latest_version_beside_a_newer_withdrawn_one_with_parquet(tmp_path: Path) -> None:
    """The latest version is old (no Parquet); the withdrawn newer one had Parquet files."""
    versions = mixed_shape()
    versions[1].withdrawn = {"withdrawn": "2024-07-01T00:00:00Z", "reason": "Fel"}
    store = built(tmp_path, versions)
    (entry,) = json.loads(store.read_bytes("catalog.json") or b"{}")["datasets"]
    assert entry["latest"] == "1.0.0"
    assert entry["formats"] == ["CSV", "JSON"]
    assert [len(r["files"]) for r in entry["resources"]] == [2, 2]
    assert "varden.parquet" in {f["name"] for f in entry["versions"][0]["files"]}


# -- the preview: the start of the CSV only ----------------------------------------------------


class CountingStore(LocalStore):
    """A local store that records which keys were read whole and which by their head."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.whole: list[str] = []
        self.heads: list[tuple[str, int]] = []

    def read(self, key: str) -> tuple[bytes, str] | None:
        self.whole.append(key)
        return super().read(key)

    def read_head(self, key: str, max_bytes: int) -> bytes | None:
        self.heads.append((key, max_bytes))
        return super().read_head(key, max_bytes)


def test_the_preview_reads_only_the_start_of_a_large_csv(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "store")
    big = Version("1.0.0", "2024-03-01T05:00:12Z", big_tables(20_000), parquet=True)
    write_dataset(store, "prov", [big], BASE)
    size = len(big.files["varden.csv"])
    assert size > 20 * PREVIEW_BYTES
    store.whole.clear()
    rebuild_catalog(store, BASE)
    data_files = {
        f"datasets/prov/{folder}/{table}.{suffix}"
        for folder in ("1.0.0", "latest")
        for table in ("kommuner", "varden")
        for suffix in ("csv", "json", "parquet")
    }
    assert not data_files & set(store.whole), "a data file was read whole"
    csv_keys = ["datasets/prov/1.0.0/kommuner.csv", "datasets/prov/1.0.0/varden.csv"]
    assert sorted(store.heads) == [(key, PREVIEW_BYTES) for key in csv_keys]

    rows = list(csv.reader(io.StringIO(big.files["varden.csv"].decode(), newline="")))
    entry = json.loads(store.read_bytes("catalog.json") or b"{}")["datasets"][0]
    assert preview_rows(store, entry)["varden"] == rows[:11]
    page = (store.read_bytes("datasets/prov/index.html") or b"").decode()
    assert "de första 10 av 20000 raderna" in page


@pytest.mark.parametrize("max_bytes", [1, 30, 97, 250, 1000, 4096])
def test_a_preview_cut_short_shows_only_complete_records(tmp_path: Path, max_bytes: int) -> None:
    store = LocalStore(tmp_path / "store")
    version = Version("1.0.0", "2024-03-01T05:00:12Z", big_tables(50))
    write_dataset(store, "prov", [version], BASE)
    rebuild_catalog(store, BASE)
    entry = json.loads(store.read_bytes("catalog.json") or b"{}")["datasets"][0]
    preview = preview_rows(store, entry, max_bytes=max_bytes)["varden"]
    rows = list(csv.reader(io.StringIO(version.files["varden.csv"].decode(), newline="")))
    assert preview == rows[: len(preview)]
    fitting = len(head_records(version.files["varden.csv"][:max_bytes], False, 1000))
    assert len(preview) == min(11, fitting)


SAMPLE = csv_bytes(
    Table(
        "t",
        "t",
        {"fields": [{"name": n, "type": "string"} for n in ("a", "b", "c")]},
        [
            ["1", 'två\r\nrader, "citat"', "ö"],
            ["", "", ""],
            ["3", "\n", '"'],
            ["åäö" * 5, "x,y", "slut"],
            ["5", "sista", "€"],
        ],
    )
)


def test_head_records_never_returns_a_cut_record() -> None:
    """Every cut of a CSV with quoted line breaks, commas, quotes and multi-byte characters."""
    records = list(csv.reader(io.StringIO(SAMPLE.decode(), newline="")))
    assert head_records(SAMPLE, True, 100) == records
    assert head_records(SAMPLE, True, 2) == records[:2]
    ends = []  # the byte offset where each record ends (after its CRLF)
    text = SAMPLE.decode()
    position = 0
    for count in range(1, len(records) + 1):
        while list(csv.reader(io.StringIO(text[:position], newline="")))[:count] != records[
            :count
        ] or not text[:position].endswith("\r\n"):
            position += 1
        ends.append(len(text[:position].encode()))
    assert ends[-1] == len(SAMPLE)
    for cut in range(len(SAMPLE) + 1):
        found = head_records(SAMPLE[:cut], False, 100)
        assert found == records[: len(found)], cut
        complete = sum(1 for end in ends if end <= cut)
        # a complete record may be dropped (the last one read), a cut one never kept
        assert complete - 1 <= len(found) <= complete, cut
        assert head_records(SAMPLE[:cut], False, 2) == records[: min(2, len(found))], cut
