"""Issue 9, class 11: versions.json and catalog.json are typed records with a format.

- A store of each format is kept in tests/stores (written by the release that wrote that
  format, see tests/stores/generate.py): formats 1 (no `format` key) and 2 are read and
  migrated, and a publish on top of them works and `opendata verify` is clean; format 3 (a
  version's `message`) is what the code writes now, byte for byte; a migrated older file writes
  its own bytes with the current `format` (and, in catalog.json, each version's `message`: null).
  The same content published again on any of them is `unchanged`: the content hashes are byte
  for byte the kept ones, whatever changed since in the descriptor's format (Data Package v2,
  every copy a table) and in the copies' layout (JSON numbers with their fraction, Parquet
  metadata for pandas).
- A newer format is refused with the message and exit code 3; a corrupt file names itself and
  the field, whatever its bytes.
- SemVer: str() and parse() round-trip, ordering is the tuple's, other texts are refused.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata import preparing
from opendata import publish as publishing
from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.engine.outputs import Digest
from opendata.errors import StoreError
from opendata.package import comparable
from opendata.state import (
    _CATALOG_MIGRATIONS,
    _VERSIONS_MIGRATIONS,
    CATALOG_FORMAT,
    VERSIONS_FORMAT,
    History,
    InvalidVersion,
    SemVer,
    dump_catalog,
    load_catalog,
    load_history,
    read_history,
)
from opendata.storage import LocalStore
from tests.conftest import run_cli
from tests.stores import generate

STORES = Path(__file__).parents[1] / "stores"
POINTERS = [
    "catalog.json",
    "datasets/avfallsplan/versions.json",
    "datasets/handlingsplan/versions.json",
]
BASE = "http://localhost:8000/"  # the default base URL, which the stores were written with


def assemble(fmt: int | str, root: Path) -> Path:
    """A store of format `fmt`: the shared version files and that format's pointer files (and,
    from format 3, the version files its release wrote differently: changes.json)."""
    shutil.copytree(STORES / "files", root)
    shutil.copytree(STORES / f"format-{fmt}", root, dirs_exist_ok=True)
    return root


def kept_files(fmt: int) -> dict[Path, bytes]:
    """The version files of the kept store of format `fmt`, by path."""
    files = {p.relative_to(STORES / "files"): p for p in (STORES / "files").rglob("*")}
    files.update(
        (p.relative_to(STORES / f"format-{fmt}"), p)
        for p in (STORES / f"format-{fmt}").rglob("*")
        if str(p.relative_to(STORES / f"format-{fmt}")) not in POINTERS
    )
    return {path: p.read_bytes() if p.is_file() else b"" for path, p in files.items()}


def without_owner(data: bytes) -> bytes:
    """The claim's owner names the process that wrote it: the one part that differs per run."""
    return re.sub(rb'"owner": \{[^}]*\}', b'"owner": {}', data)


def with_format(data: bytes, fmt: int) -> bytes:
    """Older bytes as the current code writes them: the same, with `format` first."""
    assert data.startswith(b"{\n")
    data = re.sub(rb'^\{\n  "format": \d+,\n', b"{\n", data)
    return b'{\n  "format": %d,\n' % fmt + data[2:]


def with_messages(catalog: bytes) -> bytes:
    """An older catalog.json as format 4 writes it: each version with `message`: null after
    `changes` (and the format first)."""
    record = json.loads(catalog)
    for entry in record["datasets"]:
        for number, version in enumerate(entry["versions"]):
            if "message" in version:
                continue
            items = list(version.items())
            at = list(version).index("changes") + 1
            entry["versions"][number] = dict([*items[:at], ("message", None), *items[at:]])
    data = (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()
    return with_format(data, 4)


def load(key: str, data: bytes) -> History | dict[str, object]:
    if key == "catalog.json":
        return dict(load_catalog(data, "test")[0])
    return load_history(data, key.split("/")[1], "test")


def dump(key: str, data: bytes) -> bytes:
    if key == "catalog.json":
        return dump_catalog(load_catalog(data, "test")[0])
    return load_history(data, key.split("/")[1], "test").dump()


# -- the stores kept in the repository ----------------------------------------------------------


@pytest.mark.parametrize("key", POINTERS)
def test_format_1_is_migrated_to_what_format_2_holds(key: str) -> None:
    old = (STORES / "format-1" / key).read_bytes()
    new = (STORES / "format-2" / key).read_bytes()
    assert not old.startswith(b'{\n  "format"') and new.startswith(b'{\n  "format": 2,\n')
    # Read, the old file is the new one.
    assert without_owner(dump(key, old)) == without_owner(dump(key, new))
    if key != "catalog.json":
        history = load_history(old, key.split("/")[1], "test")
        assert history.format == VERSIONS_FORMAT


@pytest.mark.parametrize("fmt", [1, 2, 3])
@pytest.mark.parametrize("key", POINTERS)
def test_an_older_format_is_written_as_its_bytes_in_the_current_one(key: str, fmt: int) -> None:
    old = (STORES / f"format-{fmt}" / key).read_bytes()
    written = dump(key, old)
    assert written.startswith(b'{\n  "format": 4,\n')
    # versions.json: its own bytes with `format` 4 (formats 3 and 4 only allow a `message` and `deliveries`).
    expected = with_messages(old) if key == "catalog.json" else with_format(old, 4)
    assert without_owner(written) == without_owner(expected)
    assert dump(key, written) == written


def test_every_older_format_has_a_migration() -> None:
    assert sorted(_VERSIONS_MIGRATIONS) == list(range(1, VERSIONS_FORMAT))
    assert sorted(_CATALOG_MIGRATIONS) == list(range(1, CATALOG_FORMAT))


def without_descriptor_format(data: bytes) -> bytes:
    """A pointer file with what the Data Package v2 descriptors changed left out: the size and
    SHA-256 of each datapackage.json, and the Table Schemas' v2 `$schema` in catalog.json."""
    data = re.sub(
        rb'("datapackage\.json"(?:: \{|,\s*"url": "[^"]*",)\s*"bytes": )\d+(,\s*"sha256": ")[0-9a-f]+"',
        rb'\1 0\2"',
        data,
    )
    data = re.sub(rb'("datapackage_(?:bytes|sha256)": )[^,]+,', rb"\1 0,", data)
    schema = rb'\n *"\$schema": "https://datapackage\.org/profiles/2\.0/[a-z]+\.json",'
    return re.sub(schema, b"", data)


# The copies of a table's rows whose layout changed since format 3 (issue 18): the JSON copy's
# numbers carry their fraction, the Parquet copy carries pandas' metadata.
COPY = rb'"(?!validation\.json"|changes\.json"|datapackage\.json")[^"/]+\.(?:json|parquet)"'


def without_copy_layout(data: bytes) -> bytes:
    """A pointer file with the size and SHA-256 of each JSON and Parquet copy left out."""
    data = re.sub(
        rb"(" + COPY + rb': \{\s*"bytes": )\d+(,\s*"sha256": ")[0-9a-f]+"', rb'\1 0\2"', data
    )
    return re.sub(
        rb'("name": '
        + COPY
        + rb',(?:\s*"[a-z_]+": "[^"]*",)*\s*"bytes": )\d+(,\s*"sha256": ")[0-9a-f]+"',
        rb'\1 0\2"',
        data,
    )


def v1_json(data: bytes) -> bytes:
    """A JSON copy as releases before issue 18 wrote it: an integral number without `.0` (only
    `number` fields hold floats)."""

    def v1(value: Any) -> Any:
        return int(value) if isinstance(value, float) and value.is_integer() else value

    records = [{k: v1(v) for k, v in record.items()} for record in json.loads(data)]
    return (json.dumps(records, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def test_the_code_writes_format_3_byte_for_byte(tmp_path: Path) -> None:
    """tests/stores/generate.py run now writes the kept format-3 pointers (as format 4, which
    only adds a version's optional `deliveries`: none here), and the very version files they
    point at. The exceptions are format, not content: since Data Package v2 the descriptors
    (the kept ones are v1, and the new ones read in the v1 shape, `package.comparable`, are
    them), and since issue 18 the layout of the copies (the JSON copy's numbers with their
    fraction, the Parquet copy with pandas' metadata: the same rows) and so their sizes and
    SHA-256 in the pointers. The content hashes in versions.json are still byte for byte the
    kept ones."""
    generate.main(tmp_path / "now")
    for key in POINTERS:
        written = (tmp_path / "now" / key).read_bytes()
        kept_pointer = with_format((STORES / "format-3" / key).read_bytes(), 4)

        def normal(data: bytes) -> bytes:
            return without_copy_layout(without_descriptor_format(without_owner(data)))

        assert normal(written) == normal(kept_pointer)
        assert re.findall(rb'"content_hash": "[0-9a-f]+"', written) == re.findall(
            rb'"content_hash": "[0-9a-f]+"', kept_pointer
        )
    now = {
        p.relative_to(tmp_path / "now"): p.read_bytes() if p.is_file() else b""
        for p in (tmp_path / "now").rglob("*")
        if str(p.relative_to(tmp_path / "now")) not in POINTERS
    }
    kept = kept_files(3)
    assert sorted(now) == sorted(kept)
    layout_changed = 0
    for path, data in kept.items():
        if path.name == "datapackage.json":
            descriptor = json.loads(now[path])
            assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
            kept_descriptor = json.loads(data)
            new = comparable(descriptor)
            # The descriptor in the v1 shape is the kept one, but for the copies' layout.
            for ours, theirs in zip(new["resources"], kept_descriptor["resources"], strict=True):
                if theirs["format"] in ("json", "parquet"):
                    ours.pop("hash")
                    ours.pop("bytes", None)
                    theirs.pop("hash")
                    theirs.pop("bytes")
            assert new == kept_descriptor, path
            continue
        if path.suffix == ".parquet":
            ours, theirs = pq.read_table(io.BytesIO(now[path])), pq.read_table(io.BytesIO(data))
            assert ours.equals(theirs), path  # the same columns, types and rows
            assert b"pandas" in (ours.schema.metadata or {}), path
            layout_changed += now[path] != data
            continue
        if path.suffix == ".json" and path.name not in ("validation.json", "changes.json"):
            assert v1_json(now[path]) == data, path
            layout_changed += now[path] != data
            continue
        assert now[path] == data, path
    assert layout_changed >= 1


@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_a_store_of_each_format_is_read_and_published_on(
    workspace: Path, tmp_path: Path, fmt: int
) -> None:
    store = assemble(fmt, tmp_path / "store")
    untouched = (store / "datasets/handlingsplan/versions.json").read_bytes()

    listed = run_cli(["list", "--store", str(store)], workspace)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^avfallsplan +1\.0\.0 ", listed.stdout, re.MULTILINE)
    assert re.search(r"^handlingsplan +1\.0\.0 ", listed.stdout, re.MULTILINE)
    shown = run_cli(["history", "avfallsplan", "--store", str(store)], workspace)
    assert shown.returncode == 0, shown.stderr
    assert [
        line.split("  ")[0] for line in shown.stdout.splitlines() if not line.startswith(" ")
    ] == [
        "1.0.1",
        "1.0.0 (latest)",
    ]
    assert "withdrawn 2025-02-02T08:00:00Z: Fel målvärde i test-extra" in shown.stdout
    # Each release's changes.json is read: the changed key (and, from format 3, its values).
    changed = "    mal: changed id=test-extra" + (": malvarde 10 → 20" if fmt == 3 else "")
    assert changed in shown.stdout.splitlines()

    # The repository's avfallsplan lacks the stores' extra goal (a patch); handlingsplan is as
    # published. The killed run's claim on 1.1.0 gives way; its number is free again.
    published = run_cli(
        [
            *("publish", "avfallsplan", "handlingsplan", "--offline", "--no-prefect", "--json"),
            *("--store", str(store)),
        ],
        workspace,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    outcomes = {o["dataset"]: o for o in json.loads(published.stdout)}
    assert (outcomes["avfallsplan"]["status"], outcomes["avfallsplan"]["version"]) == (
        "published",
        "1.0.2",
    )
    assert outcomes["handlingsplan"]["status"] == "unchanged"
    verified = run_cli(["verify", "--store", str(store)], workspace)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: ")

    written = (store / "datasets/avfallsplan/versions.json").read_bytes()
    assert written.startswith(b'{\n  "format": 4,\n')
    history = load_history(written, "avfallsplan", "test")
    assert [(str(v.version), v.status) for v in history.versions] == [
        ("1.0.0", "published"),
        ("1.0.1", "withdrawn"),
        ("1.0.2", "published"),
    ]
    catalog = (store / "catalog.json").read_bytes()
    assert catalog.startswith(b'{\n  "format": 4,\n')
    entries = {e["name"]: e for e in json.loads(catalog)["datasets"]}
    assert (entries["avfallsplan"]["latest"], entries["handlingsplan"]["latest"]) == (
        "1.0.2",
        "1.0.0",
    )
    # A pointer that was not written keeps its format until it is.
    assert (store / "datasets/handlingsplan/versions.json").read_bytes() == untouched


@pytest.mark.parametrize("fmt", [1, 2, 3])
def test_the_same_content_on_a_store_of_each_format_is_unchanged(tmp_path: Path, fmt: int) -> None:
    """The content each kept store's latest versions hold, published again by this code: the
    content hash is byte for byte the one its release recorded (though the descriptor is now
    v2 with every copy a table, the JSON copy's numbers carry their fraction and the Parquet
    copy pandas' metadata), so nothing is published and no pointer is written."""
    store = assemble(fmt, tmp_path / "store")
    home = tmp_path / "home"
    shutil.copytree(generate.HOME / "datasets", home / "datasets")
    shutil.copytree(generate.HOME / "schemas", home / "schemas")
    mal = home / generate.MAL  # avfallsplan 1.0.0 of the stores: with the test's extra goal
    mal.write_text(mal.read_text(encoding="utf-8") + generate.EXTRA, encoding="utf-8")
    pointers = {key: (store / key).read_bytes() for key in POINTERS}
    config = load_settings(home=home, store=str(store))
    for name in ("avfallsplan", "handlingsplan"):
        history, _ = read_history(LocalStore(store), name)
        recorded = next(v for v in history.versions if v.version == history.latest)
        prepared = preparing.prepare(config, name)
        try:
            package = preparing.require_valid(prepared)
            # The JSON copy with a `number` field is not what the store holds, byte for byte.
            json_copy = package.files["mal.json"]
            assert json_copy.sha256 != recorded.files["mal.json"].sha256
            assert json_copy.v1 == Digest(
                recorded.files["mal.json"].bytes, recorded.files["mal.json"].sha256
            )
            assert package.content_hash == recorded.content_hash, name
            outcome = publishing.publish_package(LocalStore(store), package, BASE)
        finally:
            prepared.discard()
        assert (outcome.status, outcome.version) == ("unchanged", "1.0.0"), name
    assert {key: (store / key).read_bytes() for key in POINTERS} == pointers


# -- refusals -----------------------------------------------------------------------------------


def set_format(path: Path, fmt: object) -> None:
    record = json.loads(path.read_bytes())
    path.write_text(
        json.dumps({"format": fmt, **{k: v for k, v in record.items() if k != "format"}})
    )


def test_a_newer_versions_json_is_refused(workspace: Path, tmp_path: Path) -> None:
    store = assemble(2, tmp_path / "store")
    pointer = store / "datasets/avfallsplan/versions.json"
    set_format(pointer, 99)
    before = pointer.read_bytes()
    message = (
        f"Error: datasets/avfallsplan/versions.json in {store.as_uri()}: written by a newer "
        "opendata (format 99); upgrade opendata (this one reads formats 1 to 4)"
    )
    listed = run_cli(["list", "--store", str(store)], workspace)
    assert (listed.returncode, listed.stderr.strip()) == (3, message)
    published = run_cli(
        ["publish", "avfallsplan", "--offline", "--no-prefect", "--store", str(store)], workspace
    )
    assert published.returncode == 3, published.stdout + published.stderr
    assert message.removeprefix("Error: ") in published.stdout + published.stderr
    assert pointer.read_bytes() == before
    assert not (store / "datasets/avfallsplan/1.0.2").exists()


def test_a_newer_catalog_json_is_refused(workspace: Path, tmp_path: Path) -> None:
    store = assemble(2, tmp_path / "store")
    set_format(store / "catalog.json", 5)
    before = (store / "catalog.json").read_bytes()
    message = (
        f"catalog.json in {store.as_uri()}: written by a newer opendata (format 5); "
        "upgrade opendata (this one reads formats 1 to 4)"
    )
    verified = run_cli(["verify", "--store", str(store)], workspace)
    assert (verified.returncode, verified.stderr.strip()) == (3, f"Error: {message}")
    with pytest.raises(StoreError) as refused:
        rebuild_catalog(LocalStore(store), BASE, ["avfallsplan"])
    assert str(refused.value) == message
    assert (store / "catalog.json").read_bytes() == before


VERSIONS_REMEDY = "; restore it from a backup of the store (it is the dataset's list of versions)"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda r: r["versions"][0].update(version="1.0"),
            "versions[0].version: '1.0' is not a version number MAJOR.MINOR.PATCH",
        ),
        (
            lambda r: r["versions"][0].update(version="01.0.0"),
            "versions[0].version: '01.0.0' is not a version number MAJOR.MINOR.PATCH",
        ),
        (
            lambda r: r["versions"][0].update(status="publishd"),
            "versions[0]: status 'publishd' is not one of pending, published, withdrawn, abandoned",
        ),
        (
            lambda r: r["versions"][1].update(extra=1),
            "versions[1].extra: Extra inputs are not permitted",
        ),
        (
            lambda r: r["versions"][1].pop("reason"),
            "versions[1]: a withdrawn version needs `withdrawn` and `reason`",
        ),
        (
            lambda r: r["versions"][2].update(claimed="yesterday"),
            "versions[2].claimed: 'yesterday' is not a UTC time like 2025-01-31T10:00:00Z",
        ),
        (
            lambda r: r["versions"][2]["owner"].update(pid="12"),
            "versions[2].owner.pid: Input should be a valid integer",
        ),
        (
            lambda r: r["versions"][0]["rows"].update(mal=-1),
            "versions[0].rows.mal: Input should be greater than or equal to 0",
        ),
        (lambda r: r.update(latest="1.0.1"), "latest 1.0.1 is not a published version"),
        (lambda r: r.update(format="2"), "format '2' is not a format opendata writes"),
        (lambda r: r.update(format=0), "format 0 is not a format opendata writes"),
        (lambda r: r.update(dataset="other"), "dataset is 'other', not 'avfallsplan'"),
        (
            lambda r: r["versions"].append(r["versions"][0]),
            "version 1.0.0 is listed more than once",
        ),
    ],
)
def test_a_corrupt_versions_json_names_the_file_and_the_field(
    tmp_path: Path, change: object, problem: str
) -> None:
    store = assemble(2, tmp_path / "store")
    pointer = store / "datasets/avfallsplan/versions.json"
    record = json.loads(pointer.read_bytes())
    change(record)  # type: ignore[operator]
    pointer.write_text(json.dumps(record))
    with pytest.raises(StoreError) as refused:
        read_history(LocalStore(store), "avfallsplan")
    assert str(refused.value) == (
        f"datasets/avfallsplan/versions.json in {store.as_uri()} is corrupt: {problem}"
        + VERSIONS_REMEDY
    )


def test_a_corrupt_file_is_named_by_the_cli(workspace: Path, tmp_path: Path) -> None:
    store = assemble(1, tmp_path / "store")
    pointer = store / "datasets/avfallsplan/versions.json"
    pointer.write_bytes(pointer.read_bytes()[:100])
    shown = run_cli(["history", "avfallsplan", "--store", str(store)], workspace)
    assert shown.returncode == 3
    assert shown.stderr.startswith(
        f"Error: datasets/avfallsplan/versions.json in {store.as_uri()} is corrupt: not JSON ("
    )
    assert shown.stderr.strip().endswith(VERSIONS_REMEDY)

    shutil.copy(STORES / "format-1/datasets/avfallsplan/versions.json", pointer)
    (store / "catalog.json").write_bytes(b"[]")
    verified = run_cli(["verify", "--store", str(store)], workspace)
    assert (verified.returncode, verified.stderr.strip()) == (
        3,
        f"Error: catalog.json in {store.as_uri()} is corrupt: not a JSON object; it is derived "
        "from the datasets' versions.json: delete it and run `opendata publish` to derive it "
        "again",
    )


def test_a_catalog_lists_only_published_and_withdrawn_versions() -> None:
    record = json.loads((STORES / "format-2/catalog.json").read_bytes())
    record["datasets"][0]["versions"][0]["status"] = "pending"
    with pytest.raises(
        StoreError,
        match=r"is corrupt: datasets\[0\]\.versions\[0\]\.status: "
        r"Input should be 'published' or 'withdrawn'",
    ):
        load_catalog(json.dumps(record).encode(), "test")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_are_a_history_or_a_store_error(raw: bytes) -> None:
    for reader in (
        lambda: load_history(raw, "x", "test"),
        lambda: load_catalog(raw, "test"),
    ):
        try:
            reader()
        except StoreError as error:
            assert " is corrupt: " in str(error) or "written by a newer opendata" in str(error)


FORMAT_1 = json.loads((STORES / "format-1/datasets/avfallsplan/versions.json").read_bytes())


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_changed_value_anywhere_is_read_right_or_refused(data: st.DataObject) -> None:
    """Replace one value of a real versions.json by another JSON value: either the file still
    fits the model (and reads back as written) or it is refused naming the file."""
    record = json.loads(json.dumps(FORMAT_1))
    paths: list[tuple[object, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append((node, index))
                walk(value)

    walk(record)
    parent, key = data.draw(st.sampled_from(paths))
    parent[key] = data.draw(JSON)  # type: ignore[index]
    raw = json.dumps(record).encode()
    try:
        history = load_history(raw, "avfallsplan", "file:///s")
    except StoreError as error:
        assert str(error).startswith("datasets/avfallsplan/versions.json in file:///s ")
    else:
        again = load_history(history.dump(), "avfallsplan", "file:///s")
        assert again == history


# -- SemVer -------------------------------------------------------------------------------------

PARTS = st.integers(min_value=0, max_value=10**15)
VERSIONS = st.builds(SemVer, PARTS, PARTS, PARTS)


@given(VERSIONS)
def test_a_version_reads_back_from_its_text(version: SemVer) -> None:
    assert SemVer.parse(str(version)) == version


@given(VERSIONS, VERSIONS)
def test_versions_order_as_their_tuples(a: SemVer, b: SemVer) -> None:
    ta, tb = (a.major, a.minor, a.patch), (b.major, b.minor, b.patch)
    assert (a < b, a == b, a > b) == (ta < tb, ta == tb, ta > tb)


@given(VERSIONS)
def test_a_bump_is_the_next_version_of_its_kind(version: SemVer) -> None:
    major, minor, patch = version.major, version.minor, version.patch
    assert version.bump("major") == SemVer(major + 1, 0, 0)
    assert version.bump("minor") == SemVer(major, minor + 1, 0)
    assert version.bump("patch") == SemVer(major, minor, patch + 1)
    assert version < version.bump("patch") < version.bump("minor") <= version.bump("major")


@given(st.text(max_size=20) | st.from_regex(r"\A[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\Z"))
def test_a_text_is_one_version_spelled_one_way_or_refused(text: str) -> None:
    try:
        version = SemVer.parse(text)
    except InvalidVersion as error:
        assert repr(text) in str(error)
    else:
        assert str(version) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.0",
        "1.0.0.0",
        "01.0.0",
        "1.00.0",
        "1.0.0-rc.1",
        "1.0.0+build",
        "v1.0.0",
        " 1.0.0",
        "1.0.0\n",
        "-1.0.0",
        "1.-1.0",
        "١.٠.٠",
        "1.0.x",
        "1..0",
    ],
)
def test_other_texts_are_not_versions(text: str) -> None:
    with pytest.raises(InvalidVersion, match=r"is not a version number MAJOR\.MINOR\.PATCH"):
        SemVer.parse(text)


def test_a_version_has_no_negative_part() -> None:
    with pytest.raises(InvalidVersion):
        SemVer(1, -1, 0)
