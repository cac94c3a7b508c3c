"""Publishing to a local store: package contents, checksums, versions, no-op re-runs, recovery."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from frictionless import Package

from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.errors import ConflictError, LostRace
from opendata.preparing import prepare, require_valid
from opendata.publish import MAX_CONFLICTS, publish_package, read_history
from opendata.serve import make_server
from opendata.storage import LocalStore
from tests.conftest import FIXTURE_HOME, snapshot

DATASETS = [
    "avfallsplan",
    "befolkning",
    "handlingsplan",
    "personbilar-drivmedel",
    "vaxthusgasutslapp",
]
BASE = "http://localhost:8000/"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def http_root(store_root: Path) -> Iterator[str]:
    """`opendata serve`'s server on the scratch store: the base URL of the published links."""
    server = make_server(store_root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def published(store_root: Path, http_root: str) -> Path:
    """The real datasets (the tests' frozen copies) published once to a scratch store (no
    Prefect)."""
    settings = load_settings(home=FIXTURE_HOME)
    store = LocalStore(store_root)
    for name in DATASETS:
        outcome = publish_package(store, require_valid(prepare(settings, name)), http_root)
        assert (outcome.status, outcome.version) == ("published", "1.0.0")
    rebuild_catalog(store, http_root)
    return store_root


@pytest.mark.parametrize("name", DATASETS)
def test_every_file_matches_its_descriptor(published: Path, name: str) -> None:
    folder = published / "datasets" / name / "1.0.0"
    descriptor = json.loads((folder / "datapackage.json").read_bytes())
    assert descriptor["name"] == name
    assert descriptor["version"] == "1.0.0"
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0"
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert "profile" not in descriptor
    assert descriptor["contributors"][0] == {
        "title": "Boråsregionen, Sjuhärads kommunalförbund",
        "roles": ["publisher"],
    }
    assert all(isinstance(c["roles"], list) and "role" not in c for c in descriptor["contributors"])
    assert descriptor["languages"] == ["sv", "en"]
    assert all(
        r["$schema"] == "https://datapackage.org/profiles/2.0/dataresource.json"
        for r in descriptor["resources"]
    )
    assert all(
        r["schema"]["$schema"] == "https://datapackage.org/profiles/2.0/tableschema.json"
        for r in descriptor["resources"]
    )
    assert descriptor["sources"] and all(
        s["title"] and s["publisher"] for s in descriptor["sources"]
    )
    assert descriptor["translations"]["en"]["title"]
    listed = set()
    for resource in descriptor["resources"]:
        data = (folder / resource["path"]).read_bytes()
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        # Every copy is a table (frictionless reads its rows); frictionless 5.21 counts the
        # bytes of none but the CSV, so only the CSV declares its size.
        assert resource.get("type") == "table" or (resource["format"], data) == ("json", b"[]\n")
        if resource["format"] == "csv":
            assert resource["bytes"] == len(data)
        else:
            assert "bytes" not in resource
        if resource["format"] == "parquet":
            assert resource["mediatype"] == "application/vnd.apache.parquet"
            assert "encoding" not in resource
        else:
            assert resource["encoding"] == "utf-8"
        listed.add(resource["path"])
    on_disk = {p.name for p in folder.iterdir()} - {
        "index.html",  # the page that sends the version's IRI on (catalog/versions.py)
        "datapackage.json",
        "validation.json",
        "changes.json",
    }
    assert listed == on_disk
    validation = json.loads((folder / "validation.json").read_bytes())
    assert validation["valid"] is True and validation["errors"] == []


@pytest.mark.parametrize("name", DATASETS)
def test_csv_json_and_parquet_hold_the_same_rows(published: Path, name: str) -> None:
    folder = published / "datasets" / name / "1.0.0"
    descriptor = json.loads((folder / "datapackage.json").read_bytes())
    formats = {r["path"] for r in descriptor["resources"]}
    for resource in descriptor["resources"]:
        if resource["format"] != "csv":
            continue
        raw = (folder / resource["path"]).read_bytes()
        assert b"\r\n" in raw or raw.count(b"\n") <= 1
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
        json_path = resource["path"].replace(".csv", ".json")
        parquet_path = resource["path"].replace(".csv", ".parquet")
        assert {json_path, parquet_path} <= formats
        records = json.loads((folder / json_path).read_bytes())
        typed = pq.read_table(folder / parquet_path).to_pylist()
        assert len(rows) == len(records) == len(typed)
        fields = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
        for row, record, cells in zip(rows, records, typed, strict=True):
            assert list(record) == list(fields) == list(cells)
            for field, kind in fields.items():
                value, cell = record[field], cells[field]
                if value is None:
                    assert row[field] == "" and cell is None
                elif kind in ("integer", "year"):
                    assert int(row[field]) == value == cell
                elif kind == "number":
                    assert float(row[field]) == value == cell
                elif kind == "date":
                    assert row[field] == value == cell.isoformat()
                else:
                    assert row[field] == value == cell
        if "kommunkod" in fields:
            assert pq.read_schema(folder / parquet_path).field("kommunkod").type == "string"


@pytest.mark.parametrize("name", DATASETS)
def test_frictionless_accepts_the_package_from_disk_and_over_http(
    published: Path, http_root: str, name: str
) -> None:
    local = Package(str(published / "datasets" / name / "1.0.0" / "datapackage.json"))
    report = local.validate()
    assert report.valid, report.flatten(["type", "note"])
    remote = Package(f"{http_root}datasets/{name}/latest/datapackage.json")
    report = remote.validate()
    assert report.valid, report.flatten(["type", "note"])


def test_catalog_lists_every_dataset_with_absolute_urls(published: Path, http_root: str) -> None:
    catalog = json.loads((published / "catalog.json").read_bytes())
    assert [d["name"] for d in catalog["datasets"]] == DATASETS
    befolkning = catalog["datasets"][1]
    assert befolkning["latest"] == "1.0.0"
    assert befolkning["datapackage"] == f"{http_root}datasets/befolkning/latest/datapackage.json"
    assert (
        befolkning["versions"][0]["datapackage"]
        == f"{http_root}datasets/befolkning/1.0.0/datapackage.json"
    )
    assert befolkning["versions"][0]["status"] == "published"
    index = (published / "index.html").read_text("utf-8")
    assert "Folkmängd i Boråsregionens kommuner 2015–2024" in index


def test_served_content_types(http_root: str) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{http_root}datasets/befolkning/latest/folkmangd.csv") as response:
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    with urllib.request.urlopen(f"{http_root}catalog.json") as response:
        assert response.headers["Content-Type"] == "application/json"


# --- versions, on a small synthetic dataset -------------------------------------------------

SCHEMA = {
    "fields": [
        {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
        {"name": "ar", "type": "year"},
        {"name": "varde", "type": "number"},
        {"name": "kommentar", "type": "string"},
    ],
    "primaryKey": ["kommunkod", "ar"],
}


def make_repo(root: Path, rows: list[list[str]], schema: dict[str, object] | None = None) -> Path:
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    (root / "schemas" / "prov.json").write_text(json.dumps(schema or SCHEMA), "utf-8")
    folder = root / "datasets" / "prov"
    (folder / "sources").mkdir(parents=True, exist_ok=True)
    fields = [f["name"] for f in (schema or SCHEMA)["fields"]]  # type: ignore[index]
    with open(folder / "sources" / "data.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(fields)
        writer.writerows(rows)
    (folder / "dataset.yaml").write_text(
        """title: {sv: "Prov <script>alert(1)</script>", en: Test}
description: {sv: Syntetiska testdata, en: Synthetic test data}
contact_point: {name: Test, email: test@example.org}
sources:
  - {title: Testkälla, publisher: Testutgivare, path: sources/data.csv}
resources:
  - name: data
    title: {sv: Data}
    schema: prov.json
    sources:
      - {kind: csv, path: sources/data.csv}
""",
        "utf-8",
    )
    return root


ROWS = [
    ["1490", "2023", "1.5", 'citat "inom" citattecken, och komma'],
    ["1442", "2023", "2", "rad\nbrytning"],
    ["1443", "2024", "", "åäö <b>fet</b>"],
]


def publish_once(root: Path, store: LocalStore, **options: object) -> tuple[str, str | None]:
    settings = load_settings(home=root)
    outcome = publish_package(store, require_valid(prepare(settings, "prov")), BASE, **options)  # type: ignore[arg-type]
    rebuild_catalog(store, BASE)
    return outcome.status, outcome.version


def test_hostile_text_survives_csv_json_and_is_escaped_in_html(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    assert publish_once(root, store) == ("published", "1.0.0")
    folder = tmp_path / "store/datasets/prov/1.0.0"
    rows = list(csv.reader(io.StringIO((folder / "data.csv").read_text("utf-8"), newline="")))
    records = json.loads((folder / "data.json").read_bytes())
    assert rows[1:] == [
        ["1442", "2023", "2", "rad\nbrytning"],
        ["1443", "2024", "", "åäö <b>fet</b>"],
        ["1490", "2023", "1.5", 'citat "inom" citattecken, och komma'],
    ]
    assert [r["kommentar"] for r in records] == [row[3] for row in rows[1:]]
    assert records[1]["varde"] is None and records[2]["varde"] == 1.5 and records[0]["varde"] == 2
    index = (tmp_path / "store/index.html").read_text("utf-8")
    assert "<script>alert(1)</script>" not in index
    assert "Prov &lt;script&gt;alert(1)&lt;/script&gt;" in index


def test_identical_content_is_unchanged_and_writes_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    publish_once(root, store)
    before = snapshot(tmp_path / "store")
    assert publish_once(root, store) == ("unchanged", "1.0.0")
    assert publish_once(root, store, bump="major") == ("unchanged", "1.0.0")
    assert snapshot(tmp_path / "store") == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("correct-value", "1.0.1"),
        ("remove-row", "1.0.1"),
        ("add-row", "1.1.0"),
        ("remove-field", "2.0.0"),
    ],
)
def test_new_content_gets_the_recipes_version(tmp_path: Path, change: str, expected: str) -> None:
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    publish_once(root, store)
    first = (tmp_path / "store/datasets/prov/1.0.0/data.csv").read_bytes()
    rows = [list(r) for r in ROWS]
    schema = json.loads(json.dumps(SCHEMA))
    if change == "correct-value":
        rows[0][2] = "1.6"
    elif change == "remove-row":
        rows.pop()
    elif change == "add-row":
        rows.append(["1452", "2024", "3", ""])
    elif change == "remove-field":
        schema["fields"].pop()
        rows = [r[:3] for r in rows]
    make_repo(root, rows, schema)
    assert publish_once(root, store) == ("published", expected)
    history, _ = read_history(store, "prov")
    assert [str(v.version) for v in history.versions] == ["1.0.0", expected]
    assert str(history.latest) == expected
    assert (tmp_path / "store/datasets/prov/1.0.0/data.csv").read_bytes() == first
    latest = json.loads((tmp_path / "store/datasets/prov/latest/datapackage.json").read_bytes())
    assert latest["version"] == expected
    assert [r["path"] for r in latest["resources"]] == [
        f"{BASE}datasets/prov/{expected}/data.csv",
        f"{BASE}datasets/prov/{expected}/data.json",
        f"{BASE}datasets/prov/{expected}/data.parquet",
    ]
    for copy in ("data.csv", "data.json", "data.parquet", "changes.json"):
        assert (tmp_path / f"store/datasets/prov/latest/{copy}").read_bytes() == (
            tmp_path / f"store/datasets/prov/{expected}/{copy}"
        ).read_bytes()
    catalog = json.loads((tmp_path / "store/catalog.json").read_bytes())
    assert [v["version"] for v in catalog["datasets"][0]["versions"]] == [expected, "1.0.0"]


def v1_json(data: bytes, schema: dict[str, Any]) -> bytes:
    """A JSON copy as releases before issue 18 wrote it: an integral `number` without `.0`."""
    numbers = [f["name"] for f in schema["fields"] if f["type"] == "number"]
    records = json.loads(data)
    for record in records:
        for name in numbers:
            value = record[name]
            if isinstance(value, float) and value.is_integer():
                record[name] = int(value)
    return (json.dumps(records, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def v1_resource(resource: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A resource as releases before Data Package v2 wrote it: no profile, `type: file` on the
    Parquet copy alone, every copy's size and SHA-256 (the JSON's of its v1 layout)."""
    data = (folder / resource["path"]).read_bytes()
    if resource["format"] == "json":
        data = v1_json(data, resource["schema"])
    out: dict[str, Any] = {"name": resource["name"]}
    if resource["format"] == "parquet":
        out["type"] = "file"
    for key, value in resource.items():
        if key in ("$schema", "name", "type", "bytes"):
            continue
        if key == "hash":
            out["bytes"] = len(data)
            value = "sha256:" + hashlib.sha256(data).hexdigest()
        elif key == "schema":
            value = {k: v for k, v in value.items() if k != "$schema"}
        out[key] = value
    return out


def as_v1(descriptor: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A descriptor as releases before Data Package v2 wrote it (profile first, one `role`)."""
    out: dict[str, Any] = {"profile": "data-package"}
    for key, value in descriptor.items():
        if key in ("$schema", "languages"):
            continue
        if key == "contributors":
            value = [
                {
                    ("role" if k == "roles" else k): (v[0] if k == "roles" else v)
                    for k, v in c.items()
                }
                for c in value
            ]
        if key == "resources":
            value = [v1_resource(r, folder) for r in value]
        out[key] = value
    return out


def v1_content_hash(descriptor: dict[str, Any]) -> str:
    """The content hash exactly as releases before v2 computed it from their v1 descriptor."""
    content = {k: v for k, v in descriptor.items() if k not in ("version", "created")}
    content["resources"] = [
        {k: v for k, v in r.items() if k not in ("bytes", "hash")}
        if r.get("format") == "parquet"
        else r
        for r in descriptor["resources"]
    ]
    text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_v2_descriptor_format_alone_is_no_new_version(tmp_path: Path) -> None:
    """A store published by a release that wrote v1 descriptors stays `unchanged` when only the
    descriptor format moved to v2 (and the JSON copy's numbers gained their fraction, and every
    copy became a table); a real correction afterwards is a patch whose changes name no format
    keys."""
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    publish_once(root, store)
    folder = tmp_path / "store/datasets/prov/1.0.0"
    old = as_v1(json.loads((folder / "datapackage.json").read_bytes()), folder)
    history, _ = read_history(store, "prov")
    assert history.versions[0].content_hash == v1_content_hash(old)
    # The JSON copy differs from what those releases wrote: its numbers have their fraction.
    published_json = (folder / "data.json").read_bytes()
    assert b'"varde": 2.0,' in published_json
    assert b'"varde": 2,' in v1_json(published_json, SCHEMA)  # type: ignore[arg-type]
    # What an older release left behind: its v1 descriptor under the version.
    (folder / "datapackage.json").write_text(json.dumps(old, ensure_ascii=False, indent=2) + "\n")
    assert publish_once(root, store) == ("unchanged", "1.0.0")
    rows = [list(r) for r in ROWS]
    rows[0][2] = "1.6"
    make_repo(root, rows)
    assert publish_once(root, store) == ("published", "1.0.1")
    changes = json.loads((tmp_path / "store/datasets/prov/1.0.1/changes.json").read_bytes())
    assert changes["metadata_changed"] == []
    assert [c["kind"] for r in changes["resources"] for c in r["schema_changes"]] == []
    descriptor = json.loads((tmp_path / "store/datasets/prov/1.0.1/datapackage.json").read_bytes())
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"


def test_a_steward_may_ask_for_a_larger_bump_never_a_smaller_one(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    publish_once(root, store)
    make_repo(root, [*ROWS, ["1452", "2024", "3", ""]])
    assert publish_once(root, store, bump="patch") == ("published", "1.1.0")
    make_repo(root, [*ROWS, ["1452", "2024", "4", ""]])
    assert publish_once(root, store, bump="major") == ("published", "2.0.0")


def test_a_re_run_after_a_crash_adopts_the_half_written_version(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    settings = load_settings(home=root)
    package = require_valid(prepare(settings, "prov")).with_version("1.0.0", "2026-01-01T00:00:00Z")
    # The crash: the claim and every data file written, but not the descriptor nor the pointer.
    claim = {
        "dataset": "prov",
        "latest": None,
        "versions": [
            {
                "version": "1.0.0",
                "status": "pending",
                "content_hash": package.content_hash,
                "claimed": "2026-01-01T00:00:00Z",
            }
        ],
    }
    store.replace("datasets/prov/versions.json", json.dumps(claim).encode(), None)
    for filename, written in package.files.items():
        store.create_file(f"datasets/prov/1.0.0/{filename}", written.path)
    assert publish_once(root, store) == ("published", "1.0.0")
    history, _ = read_history(store, "prov")
    assert [(str(v.version), v.status, v.published) for v in history.versions] == [
        ("1.0.0", "published", "2026-01-01T00:00:00Z")
    ]
    descriptor = json.loads((tmp_path / "store/datasets/prov/1.0.0/datapackage.json").read_bytes())
    assert descriptor["created"] == "2026-01-01T00:00:00Z"


def test_pointer_updates_are_compare_and_swap(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    etag = store.replace("datasets/x/versions.json", b"one", None)
    store.replace("datasets/x/versions.json", b"two", etag)
    with pytest.raises(LostRace):
        store.replace("datasets/x/versions.json", b"three", etag)
    with pytest.raises(LostRace):
        store.replace("datasets/x/versions.json", b"three", None)
    assert store.read_bytes("datasets/x/versions.json") == b"two"


def test_published_files_are_never_overwritten(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.create("datasets/x/1.0.0/data.csv", b"a") is True
    assert store.create("datasets/x/1.0.0/data.csv", b"a") is False
    with pytest.raises(ConflictError, match="never overwritten") as refused:
        store.create("datasets/x/1.0.0/data.csv", b"b")
    assert not isinstance(refused.value, LostRace)  # not worth waiting for: it will not pass
    assert (tmp_path / "datasets/x/1.0.0/data.csv").read_bytes() == b"a"
    assert sorted(p.name for p in (tmp_path / "datasets/x/1.0.0").iterdir()) == ["data.csv"]


def test_a_conflict_that_is_no_lost_race_is_reported_after_a_few_attempts(tmp_path: Path) -> None:
    """Another's file where the version's file goes (put there by hand: no run's claim) is
    not a race that others' progress settles: the publish reports it (exit 3) after
    MAX_CONFLICTS attempts, without waiting out the patience lost races get."""
    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    store.create("datasets/prov/1.0.0/data.csv", b"not ours\n")
    creates: list[str] = []

    class Counting(LocalStore):
        def create_file(self, key: str, path: Path) -> bool:
            creates.append(key)
            return super().create_file(key, path)

    with pytest.raises(ConflictError, match=r"data\.csv already exists.*never overwritten"):
        publish_once(root, Counting(tmp_path / "store"))
    assert creates.count("datasets/prov/1.0.0/data.csv") == MAX_CONFLICTS
    assert (tmp_path / "store/datasets/prov/1.0.0/data.csv").read_bytes() == b"not ours\n"


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", "a/../../b", ""])
def test_store_keys_never_leave_the_store(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid store key"):
        LocalStore(tmp_path).create(key, b"x")


def test_withdraw_with_deleted_files_and_then_the_last_version(tmp_path: Path) -> None:
    from opendata.publish import withdraw
    from opendata.verification import verify

    root = make_repo(tmp_path / "repo", ROWS)
    store = LocalStore(tmp_path / "store")
    publish_once(root, store)
    make_repo(root, [*ROWS, ["1452", "2024", "3", ""]])
    assert publish_once(root, store) == ("published", "1.1.0")

    tombstone = withdraw(store, "prov", "1.1.0", "Publicerad av misstag", BASE, delete_files=True)
    assert (tombstone.status, tombstone.reason, tombstone.files_deleted) == (
        "withdrawn",
        "Publicerad av misstag",
        True,
    )
    assert not (tmp_path / "store/datasets/prov/1.1.0").exists() or not any(
        (tmp_path / "store/datasets/prov/1.1.0").iterdir()
    )
    history, _ = read_history(store, "prov")
    assert str(history.latest) == "1.0.0"
    assert [(str(v.version), v.status) for v in history.versions] == [
        ("1.0.0", "published"),
        ("1.1.0", "withdrawn"),
    ]
    latest = json.loads((tmp_path / "store/datasets/prov/latest/datapackage.json").read_bytes())
    assert latest["version"] == "1.0.0"
    # Until the catalog is rebuilt, verify names it as lagging the pointer.
    assert next(p.describe() for p in verify(store, BASE)[1]) == (
        "catalog.json: does not match the datasets' versions.json for prov"
    )
    rebuild_catalog(store, BASE, ["prov"])
    assert verify(store, BASE)[1] == []
    entry = json.loads((tmp_path / "store/catalog.json").read_bytes())["datasets"][0]
    assert entry["latest"] == "1.0.0"
    assert entry["versions"][0]["reason"] == "Publicerad av misstag"

    # A new publish after a withdrawal never reuses the withdrawn number.
    make_repo(root, [*ROWS, ["1452", "2024", "4", ""]])
    assert publish_once(root, store) == ("published", "1.2.0")

    withdraw(store, "prov", "1.2.0", "Fel", BASE)
    withdraw(store, "prov", "1.0.0", "Fel", BASE)
    assert read_history(store, "prov")[0].latest is None
    assert not (tmp_path / "store/datasets/prov/latest/datapackage.json").exists()
