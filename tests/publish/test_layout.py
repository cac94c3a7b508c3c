"""The store's layout lives in opendata/layout.py alone: a published store holds no key that the
layout's functions do not name, and no other module spells a key of its own."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from opendata import layout
from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.journal import mark_for_repair
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package, withdraw
from opendata.storage import LocalStore
from tests.conftest import FIXTURE_HOME

SOURCE = Path(__file__).resolve().parents[2] / "src" / "opendata"
BASE = "http://localhost:8000/"
DATASETS = ("avfallsplan", "handlingsplan")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    """Two datasets published, the only version of one withdrawn, the catalog built."""
    settings = load_settings(home=FIXTURE_HOME)
    store = LocalStore(tmp_path_factory.mktemp("store"))
    for name in DATASETS:
        publish_package(store, require_valid(prepare(settings, name)), BASE)
    withdraw(store, "handlingsplan", "1.0.0", "a wrong figure", BASE)
    rebuild_catalog(store, BASE)
    mark_for_repair(store, "avfallsplan")  # a journal mark, as a failed `latest/` copy leaves
    return store


def expected_keys(store: LocalStore) -> set[str]:
    """Every key the layout names for what the store's pointers and catalog hold."""
    catalog = json.loads(store.read_bytes(layout.CATALOG) or b"{}")
    keys = {layout.CATALOG, layout.INDEX, *layout.DCAT_FILES, layout.LISTINGS}
    for entry in catalog["datasets"]:
        name = entry["name"]
        keys |= {
            layout.versions_key(name),
            layout.dataset_page_key(name),
            layout.kept_versions_key(name),
        }
        versions = json.loads(store.read_bytes(layout.versions_key(name)) or b"{}")["versions"]
        for version in versions:
            number = version["version"]
            keys.add(layout.page_key(layout.version_prefix(name, number)))
            page = layout.version_page(number)
            keys |= {
                f"{layout.dataset_prefix(name)}/{page.removesuffix('.html')}{suffix}"
                for suffix in (".html", *layout.DCAT_SUFFIXES.values())
            }
            keys |= {layout.version_key(name, number, file) for file in version["files"]}
            if number == entry["latest"]:
                keys |= {layout.latest_key(name, file) for file in version["files"]}
        if entry["latest"]:  # a dataset with every version withdrawn is not harvested
            keys |= {layout.page_key(layout.latest_prefix(name)), layout.fragment_key(name)}
    return keys


def test_every_key_in_a_published_store_is_one_the_layout_names(store: LocalStore) -> None:
    stored = {
        path.relative_to(store.root).as_posix()
        for path in store.root.rglob("*")
        if path.is_file()
        and not path.relative_to(store.root).as_posix().startswith(layout.TEMPORARY)
    }
    places = {
        key
        for key in stored
        if key == layout.page_key(layout.REGION_PATH)
        or (
            key.startswith(f"{layout.MUNICIPALITIES}/")
            and key == layout.page_key(layout.municipality_path(key.split("/")[1]))
        )
    }
    repair = {layout.repair_key("avfallsplan")}
    assert places and repair <= stored
    assert stored - places - repair == expected_keys(store)


def test_the_withdrawn_version_keeps_its_files_and_latest_is_gone(store: LocalStore) -> None:
    name = "handlingsplan"
    assert store.read_bytes(layout.version_key(name, "1.0.0", layout.DESCRIPTOR)) is not None
    assert store.list(layout.latest_prefix(name)) == []


def test_public_areas_cover_every_public_key_and_no_private_one(store: LocalStore) -> None:
    public = re.compile("|".join(re.escape(a).replace(r"\*", ".*") for a in layout.PUBLIC_AREAS))
    for path in store.root.rglob("*"):
        key = path.relative_to(store.root).as_posix()
        if path.is_file():
            assert bool(public.fullmatch(key)) != key.startswith(f"{layout.PRIVATE}/"), key


# A string that looks like a store key: a private area, a dataset's folder, the `latest/`
# copies, a DCAT page, a place's page or a file the layout names.
SPELLED = re.compile(
    r"(?:^|/)_private(?:/|$)|(?:^|/)_inbox(?:/|$)|^datasets/|(?:^|/)latest/|^dcat/"
    r"|^(?:kommuner|region)/|^(?:versions|catalog|datapackage|changes|validation)\.json$"
    r"|/index\.html$"
)


def spelled_keys(source: str) -> list[tuple[int, str]]:
    """The string constants (f-strings' literal parts too, docstrings not) that spell a key."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SPELLED.search(node.value)
    ]


def test_no_module_but_the_layout_spells_a_key() -> None:
    found = {
        f"{path.relative_to(SOURCE)}:{line}": text
        for path in sorted(SOURCE.rglob("*.py"))
        if path.name != "layout.py" or path.parent != SOURCE
        for line, text in spelled_keys(path.read_text("utf-8"))
    }
    assert found == {}


def test_the_check_finds_a_spelled_key() -> None:
    source = 'KEY = f"{base}datasets/{name}/latest/x"\nNEW = "_private/new"\n'
    assert sorted(spelled_keys(source)) == [(1, "/latest/x"), (1, "datasets/"), (2, "_private/new")]


def test_the_keys_the_layout_reads_back_name_their_dataset() -> None:
    assert layout.dataset_of_mark(layout.stale_key("befolkning", "boot-12-3")) == "befolkning"
    assert layout.dataset_of_mark(layout.repair_key("befolkning")) == "befolkning"
    assert layout.dataset_of_mark(f"{layout.STALE}/befolkning/notes.txt") is None
    assert layout.dataset_of_pointer(layout.versions_key("befolkning")) == "befolkning"
    assert layout.dataset_of_pointer(layout.latest_key("befolkning", layout.DESCRIPTOR)) is None
