"""Issue 11, item 2: the catalog updates in proportion to what changed, and is paged past a size.

- catalog.json's entries are found and replaced in its text (catalog/splice.py): for any
  entries (hypothesis) the spliced bytes are the bytes of the whole new document.
- A publish of one dataset derives again only its entry, its listing, its DCAT fragment, the
  index, the places' pages, the first DCAT page and the page that lists it; every file is then
  byte for byte what a full rebuild from the pointers gives — after updates, additions and
  removals, with the catalog paged (Hydra) and not.
- A harvester that starts at dcat/catalog.rdf and follows the pages the way ckanext-dcat and
  piveau (data.europa.eu) do reads every dataset exactly once and the same graph as the
  catalog in one piece.
- Kept state that cannot be trusted (listings of another catalog.json, a fragment of other
  code, a run that lost a race) is detected and derived again, never published as it was.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from bench.catalog import new_dataset, new_version, populate
from opendata.catalog import rebuild_catalog
from opendata.catalog.build import build_catalog, verify_derived
from opendata.catalog.dcat import catalog_graph
from opendata.catalog.splice import (
    Span,
    SplicedCatalog,
    catalog_text,
    entry_text,
    parse_layout,
    splice,
)
from opendata.contention import Patience
from opendata.errors import ConfigError
from opendata.layout import FRAGMENTS, LISTINGS
from opendata.state import dump_catalog
from opendata.storage import LocalStore, Store

BASE = "http://localhost:8000/"
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
SYNTAXES = {"rdf": "xml", "ttl": "turtle", "jsonld": "json-ld"}


@pytest.fixture(autouse=True)
def _pages_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDATA_CATALOG_PAGE_SIZE", "2")
    monkeypatch.delenv("OPENDATA_PUBLISHER_URI", raising=False)


def public_files(root: Path) -> dict[str, bytes]:
    """Every file a reader can fetch (not the private area, not the datasets' own files)."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_file() and not key.startswith("_private/"):
            if key.startswith("datasets/") and not key.endswith("/index.html"):
                continue
            found[key] = path.read_bytes()
    return found


def rebuilt_whole(root: Path, scratch: Path) -> dict[str, bytes]:
    """The public files a full rebuild from the pointers alone gives (in a copy of the store
    without any derived or private file)."""
    copy = scratch / "whole"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root / "datasets", copy / "datasets")
    for page in copy.glob("datasets/*/index.html"):
        page.unlink()
    rebuild_catalog(LocalStore(copy), BASE)
    return public_files(copy)


def assert_same_as_whole(root: Path, scratch: Path) -> None:
    have, want = public_files(root), rebuilt_whole(root, scratch)
    assert sorted(have) == sorted(want)
    assert [key for key in want if have[key] != want[key]] == []
    assert verify_derived(LocalStore(root), BASE)[1] == []


# -- catalog.json as text ----------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
NAMES = st.text("abcdefghij-0123456789", min_size=1, max_size=6)


def entry(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **{k: v for k, v in extra.items() if k != "name"}}


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(NAMES, st.dictionaries(TEXT, VALUE, max_size=4), max_size=6),
    st.dictionaries(NAMES, st.none() | st.dictionaries(TEXT, VALUE, max_size=4), max_size=4),
    st.dictionaries(TEXT, VALUE, max_size=3),
)
def test_a_spliced_catalog_is_the_whole_new_document(
    before: dict[str, dict[str, Any]],
    changes: dict[str, dict[str, Any] | None],
    extra_header: dict[str, Any],
) -> None:
    header = {"format": 3, "title": "T\n    }", **extra_header, "homepage": BASE}
    header.pop("datasets", None)
    old = {**header, "datasets": [entry(n, before[n]) for n in sorted(before)]}
    data = dump_catalog(old)  # type: ignore[arg-type]
    assert b"".join(catalog_text(header, (entry_text(e) for e in old["datasets"]))) == data
    stored = parse_layout(data)
    assert stored.names == sorted(before)
    assert [stored.entry(n) for n in stored.names] == old["datasets"]

    texts = {n: None if c is None else entry_text(entry(n, c)) for n, c in changes.items()}
    after = {n: entry(n, e) for n, e in before.items()}
    for name, change in changes.items():
        if change is None:
            after.pop(name, None)
        else:
            after[name] = entry(name, change)
    new = {**header, "datasets": [after[n] for n in sorted(after)]}
    assert splice(stored, header, texts) == dump_catalog(new)  # type: ignore[arg-type]

    # Where the entries stand is known from their lengths alone; spans that are off by a byte
    # or name another dataset are caught, and the document is searched instead.
    new_bytes = dump_catalog(new)  # type: ignore[arg-type]
    spans = SplicedCatalog(stored, header, texts).entry_spans()
    assert spans == parse_layout(new_bytes).spans
    assert parse_layout(new_bytes, spans).spans == spans
    for wrong in (
        [Span(s.name, s.start + 1, s.end + 1) for s in spans],
        [Span(s.name + "x", s.start, s.end) for s in spans],
        spans[:-1],
    ):
        assert parse_layout(new_bytes, wrong).spans == spans


# -- incremental equals whole ------------------------------------------------------------------


def written_by(store: Store, name: str) -> list[str]:
    return sorted(rebuild_catalog(store, BASE, [name]))


def test_updates_additions_and_removals_give_what_a_full_rebuild_gives(tmp_path: Path) -> None:
    root = tmp_path / "store"
    populate(root, 7, 3)
    store = LocalStore(root)
    rebuild_catalog(store, BASE)
    assert_same_as_whole(root, tmp_path)
    pages = sorted(p.name for p in (root / "dcat").iterdir())
    assert pages == sorted(
        f"catalog{n}.{s}" for n in ("", "-2", "-3", "-4") for s in ("rdf", "ttl", "jsonld")
    )

    # A new version of d0004 (page 3 of 4): its entry, its page, page 1 (the catalog's
    # dates) and page 3 — no other page.
    new_version(root, "d0004")
    written = written_by(store, "d0004")
    assert [k for k in written if k.startswith("dcat/")] == sorted(
        f"dcat/catalog{n}.{s}" for n in ("", "-3") for s in ("rdf", "ttl", "jsonld")
    )
    assert {"catalog.json", "index.html", "datasets/d0004/index.html"} <= set(written)
    assert LISTINGS in written
    assert not any(k.startswith("datasets/") and "d0004" not in k for k in written)
    # The places' pages show titles and places only: neither changed, so they are not written.
    assert not any(k.startswith(("region/", "kommuner/")) for k in written)
    assert_same_as_whole(root, tmp_path)

    # A new title, then a new place: the places' pages that show them are written again.
    for change in ({"title": "Omdöpt <dataset>"}, {"spatial": [{"kommunkod": "1465"}]}):
        new_version(root, "d0005")
        history = json.loads((root / "datasets/d0005/versions.json").read_bytes())
        descriptor_path = root / "datasets/d0005" / history["latest"] / "datapackage.json"
        descriptor = json.loads(descriptor_path.read_bytes())
        descriptor_path.write_text(json.dumps({**descriptor, **change}), encoding="utf-8")
        written = written_by(store, "d0005")
        assert "region/index.html" in written, change
        assert_same_as_whole(root, tmp_path)
    assert "kommuner/1465/index.html" in written

    # Nothing changed: nothing is written.
    assert written_by(store, "d0004") == []

    # A dataset sorted between others moves every later dataset one place: every page.
    new_dataset(root, "d0002a", 2)
    written_by(store, "d0002a")
    assert_same_as_whole(root, tmp_path)
    assert (root / "dcat/catalog-4.rdf").exists()

    # Removed datasets: pages past the last one are deleted, and below one page there are
    # no pages (and no Hydra) at all.
    for name in ("d0000", "d0001", "d0002", "d0002a", "d0003", "d0005"):
        shutil.rmtree(root / "datasets" / name)
        written_by(store, name)
        assert_same_as_whole(root, tmp_path)
    assert sorted(p.name for p in (root / "dcat").iterdir()) == [
        "catalog.jsonld",
        "catalog.rdf",
        "catalog.ttl",
    ]
    assert b"hydra" not in (root / "dcat/catalog.ttl").read_bytes().split(b"\n\n", 1)[1]


def test_kept_state_that_cannot_be_trusted_is_derived_again(tmp_path: Path) -> None:
    root = tmp_path / "store"
    populate(root, 5, 2)
    store = LocalStore(root)
    rebuild_catalog(store, BASE)

    # Listings of another catalog.json, with a wrong row: each is checked against its entry.
    record = json.loads((root / LISTINGS).read_bytes())
    record["catalog_etag"] = "elsewhere"
    record["datasets"][1]["row"] = "<li>forged</li>\n"
    record["datasets"][1]["source"] = "0" * 64
    (root / LISTINGS).write_text(json.dumps(record), encoding="utf-8")
    # A fragment made from another entry (or by other code): its key does not match.
    fragment = json.loads((root / FRAGMENTS / "d0003.json").read_bytes())
    fragment["key"] = "0" * 64
    fragment["turtle"] = "<urn:forged> <urn:forged> <urn:forged> .\n"
    (root / FRAGMENTS / "d0003.json").write_text(json.dumps(fragment), encoding="utf-8")
    # Garbage in place of a listing file is as good as none.
    new_version(root, "d0002")
    rebuild_catalog(store, BASE, ["d0002"])
    assert b"forged" not in (root / "index.html").read_bytes()
    assert not any(b"forged" in (root / "dcat" / p).read_bytes() for p in ("catalog-2.ttl",))
    assert_same_as_whole(root, tmp_path)

    # Listings of this very catalog.json whose spans are off: checked, and searched instead.
    new_version(root, "d0003")
    rebuild_catalog(store, BASE, ["d0003"])
    record = json.loads((root / LISTINGS).read_bytes())
    record["spans"] = [[name, start + 3, end + 3] for name, start, end in record["spans"]]
    (root / LISTINGS).write_text(json.dumps(record), encoding="utf-8")
    new_version(root, "d0004")
    rebuild_catalog(store, BASE, ["d0004"])
    assert_same_as_whole(root, tmp_path)

    (root / LISTINGS).write_bytes(b"\x00not json")
    new_version(root, "d0001")
    rebuild_catalog(store, BASE, ["d0001"])
    assert_same_as_whole(root, tmp_path)


def test_a_run_that_lost_the_race_derives_what_the_other_run_changed(tmp_path: Path) -> None:
    """Run A splices catalog.json; before it writes the derived files, run B publishes another
    dataset on the same DCAT page and finishes. A then writes its derived files from the
    older catalog, sees catalog.json replaced, and derives again what B changed."""
    root = tmp_path / "store"
    populate(root, 6, 2)
    rebuild_catalog(LocalStore(root), BASE)

    class Interleaved(LocalStore):
        fired = False

        def write_derived(self, key: str, data: bytes) -> bool:
            if key == "index.html" and not Interleaved.fired:
                Interleaved.fired = True
                new_version(root, "d0003")
                rebuild_catalog(LocalStore(root), BASE, ["d0003"])
            return super().write_derived(key, data)

    new_version(root, "d0002")  # d0002 and d0003 share page 2
    written = rebuild_catalog(Interleaved(root), BASE, ["d0002"])
    assert Interleaved.fired and "dcat/catalog-2.rdf" in written
    catalog = json.loads((root / "catalog.json").read_bytes())
    latest = {e["name"]: e["latest"] for e in catalog["datasets"]}
    assert (latest["d0002"], latest["d0003"]) == ("1.2.0", "1.2.0")
    assert_same_as_whole(root, tmp_path)


def test_the_last_of_many_concurrent_publishers_loses_every_race_and_still_gets_on(
    tmp_path: Path,
) -> None:
    """Every lost compare-and-swap on catalog.json is another publisher's success, so the last
    of N+1 publishers loses N times in a row: it must go on (with pauses) as long as the others
    make progress, not give up after a fixed count. Here eight other runs get in first."""
    root = tmp_path / "store"
    populate(root, 10, 2)
    rebuild_catalog(LocalStore(root), BASE)
    rivals = [f"d{n:04d}" for n in range(2, 10)]

    class Overtaken(LocalStore):
        def replace_pieces(
            self, key: str, pieces: Iterable[bytes | memoryview], expected_etag: str | None
        ) -> str:
            if key == "catalog.json" and rivals:
                rival = rivals.pop(0)  # another run publishes and finishes in between
                new_version(root, rival)
                rebuild_catalog(LocalStore(root), BASE, [rival])
            return super().replace_pieces(key, pieces, expected_etag)

    pauses: list[float] = []
    patience = Patience(seconds=60, sleep=pauses.append, chance=random.Random(7))
    new_version(root, "d0001")
    rebuild_catalog(Overtaken(root), BASE, ["d0001"], patience)
    assert rivals == [] and len(pauses) == 8 and all(0 <= p <= 2.0 for p in pauses)
    catalog = json.loads((root / "catalog.json").read_bytes())
    latest = {e["name"]: e["latest"] for e in catalog["datasets"]}
    assert [latest[f"d{n:04d}"] for n in range(1, 10)] == ["1.2.0"] * 9
    assert_same_as_whole(root, tmp_path)


def test_patience_ends_after_its_budget_with_growing_random_pauses() -> None:
    """A writer that keeps losing stops once the budget is spent; pauses stay within their
    exponential bound, never above the longest."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds + 1.0  # each attempt itself takes a second

    pauses: list[float] = []
    patience = Patience(seconds=30, clock=lambda: now[0], sleep=sleep, chance=random.Random(1))
    attempts = list(patience.attempts())
    assert attempts == list(range(1, len(attempts) + 1))
    assert now[0] >= 30 and now[0] - pauses[-1] - 1.0 < 30
    assert all(0 <= p <= min(2.0, 0.02 * 2 ** (n - 1)) for n, p in enumerate(pauses, 1))


# -- harvesting the pages ----------------------------------------------------------------------


def ckan_next_page(graph: Graph) -> str | None:
    """ckanext-dcat's RDFParser.next_page: the hydra:nextPage of a hydra:PagedCollection."""
    for page in graph.subjects(RDF.type, HYDRA.PagedCollection):
        for target in graph.objects(page, HYDRA.nextPage):
            return str(target)
    return None


def piveau_paging(graph: Graph) -> tuple[int, str | None]:
    """piveau's Hydra.findPaging (io.piveau.importing.utils): a PagedCollection's totalItems
    (read as an int) and its nextPage as a string (a literal: getString)."""
    pages = list(graph.subjects(RDF.type, HYDRA.PagedCollection))
    assert len(pages) == 1
    total = graph.value(pages[0], HYDRA.totalItems)
    assert isinstance(total, Literal)
    following = graph.value(pages[0], HYDRA.nextPage)
    assert following is None or isinstance(following, Literal)
    return int(total.toPython()), None if following is None else str(following)


@pytest.mark.parametrize("suffix", sorted(SYNTAXES))
def test_harvesters_read_every_dataset_once_by_following_the_pages(
    tmp_path: Path, suffix: str
) -> None:
    root = tmp_path / "store"
    populate(root, 5, 2)
    store = LocalStore(root)
    rebuild_catalog(store, BASE)

    url: str | None = f"{BASE}dcat/catalog.{suffix}"
    seen: list[str] = []
    union = Graph()
    visited = 0
    while url is not None:
        visited += 1
        graph = Graph().parse(
            data=(root / url.removeprefix(BASE)).read_bytes(), format=SYNTAXES[suffix]
        )
        total, following = piveau_paging(graph)
        assert total == 5 and following == ckan_next_page(graph)
        # piveau, like ckanext-dcat, makes a record of every dcat:Dataset on a page
        seen += sorted(str(d) for d in graph.subjects(RDF.type, DCAT.Dataset))
        for triple in graph:
            if not (str(triple[1]).startswith(str(HYDRA)) or str(triple[2]).startswith(str(HYDRA))):
                union.add(triple)
        url = following
    assert visited == 3
    assert seen == [f"{BASE}datasets/d{n:04d}/" for n in range(5)]
    whole = catalog_graph(build_catalog(store, BASE))
    assert isomorphic(union, whole)
    # The harvest URL is the first page, with the catalog's own dates; the other pages are not.
    first = Graph().parse(
        data=(root / f"dcat/catalog.{suffix}").read_bytes(), format=SYNTAXES[suffix]
    )
    second = Graph().parse(
        data=(root / f"dcat/catalog-2.{suffix}").read_bytes(), format=SYNTAXES[suffix]
    )
    catalog = URIRef(f"{BASE}#catalog")
    modified = URIRef("http://purl.org/dc/terms/modified")
    assert first.value(catalog, modified) is not None and second.value(catalog, modified) is None


def test_a_page_size_that_is_not_a_number_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    populate(root, 1, 1)
    monkeypatch.setenv("OPENDATA_CATALOG_PAGE_SIZE", "ten")
    with pytest.raises(ConfigError, match="OPENDATA_CATALOG_PAGE_SIZE must be a whole number"):
        rebuild_catalog(LocalStore(root), BASE)


def test_the_first_publish_into_an_empty_store_derives_everything(tmp_path: Path) -> None:
    """A publish names only its own dataset; with no catalog.json yet, every dataset the store
    holds is derived (entries, listings, pages) all the same."""
    root = tmp_path / "store"
    populate(root, 5, 2)
    rebuild_catalog(LocalStore(root), BASE, ["d0003"])
    assert_same_as_whole(root, tmp_path)
    index = (root / "index.html").read_text("utf-8")
    assert all(f'id="d{n:04d}"' in index for n in range(5))


def test_the_index_lists_the_newest_versions_and_links_to_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "store"
    populate(root, 1, 7)
    rebuild_catalog(LocalStore(root), BASE)
    index = (root / "index.html").read_text("utf-8")
    row = index[index.index('id="d0000"') :]
    row = row[: row.index("</details>")]
    assert "De senaste versionerna (5 av 7)" in row
    assert row.count('<li><a href="datasets/d0000/#v1.') == 5
    assert '<a href="datasets/d0000/#versioner">Alla 7 versioner</a>' in row


def test_a_dataset_whose_every_version_is_withdrawn_leaves_the_pages(tmp_path: Path) -> None:
    """It stays in catalog.json and on the index as a tombstone, but no DCAT page lists it (a
    harvester deletes a record that is gone from the pages), and totalItems counts the rest;
    the update gives what a full rebuild gives."""
    root = tmp_path / "store"
    populate(root, 5, 2)
    store = LocalStore(root)
    rebuild_catalog(store, BASE)
    path = root / "datasets/d0001/versions.json"
    history = json.loads(path.read_bytes())
    for version in history["versions"]:
        version |= {"status": "withdrawn", "withdrawn": "2026-02-01T00:00:00Z", "reason": "Fel"}
    history["latest"] = None
    path.write_text(json.dumps(history), encoding="utf-8")
    written = written_by(store, "d0001")
    assert {"dcat/catalog.rdf", "dcat/catalog-2.rdf"} <= set(written)
    assert_same_as_whole(root, tmp_path)
    assert not (root / "dcat/catalog-3.rdf").exists()  # 4 records: two pages of two
    records = []
    for page in ("catalog.rdf", "catalog-2.rdf"):
        graph = Graph().parse(data=(root / "dcat" / page).read_bytes(), format="xml")
        assert piveau_paging(graph)[0] == 4
        records += sorted(str(d) for d in graph.subjects(RDF.type, DCAT.Dataset))
    assert records == [f"{BASE}datasets/d{n:04d}/" for n in (0, 2, 3, 4)]
    catalog = json.loads((root / "catalog.json").read_bytes())
    assert [e["name"] for e in catalog["datasets"]] == [f"d{n:04d}" for n in range(5)]
    assert 'id="d0001"' in (root / "index.html").read_text("utf-8")


def every_file(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.relative_to(root).as_posix().startswith("_private/tmp")
    }


def test_a_build_by_worker_processes_writes_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PARALLEL_FROM datasets a folder store's dataset pages, version pages and version
    documents are made by worker processes: the same files, byte for byte, the same keys
    reported written, the same kept records; and a second build writes nothing."""
    from opendata.catalog import build, workers

    one, many = tmp_path / "one", tmp_path / "many"
    populate(one, 7, 3)
    shutil.copytree(one, many)
    monkeypatch.setattr(build, "PARALLEL_FROM", 10**9)
    written_alone = rebuild_catalog(LocalStore(one), BASE)
    monkeypatch.setattr(build, "PARALLEL_FROM", 1)
    monkeypatch.setattr(workers, "CHUNK", 2)  # several tasks, finishing in any order
    monkeypatch.setattr(build.os, "sched_getaffinity", lambda _: {0, 1})
    assert build.parallel_workers(LocalStore(many), 7) == 2
    written_by_workers = rebuild_catalog(LocalStore(many), BASE)
    assert written_by_workers == written_alone
    assert any(key.endswith("/1.2.0.rdf") for key in written_by_workers)
    assert every_file(many) == every_file(one)
    assert rebuild_catalog(LocalStore(many), BASE) == []
