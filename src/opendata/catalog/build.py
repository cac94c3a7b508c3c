"""catalog.json, the DCAT-AP-SE files and the HTML pages, derived from the store's pointers.

catalog.json is the index every other derived file is built from. It is rebuilt incrementally:
a run re-derives the entries of the datasets it touched (from their versions.json and latest
descriptor) and keeps the others' entries as they were; then the index page, the DCAT files and
the touched datasets' pages are written where their bytes change. Nothing here reads a clock, so
a run that publishes nothing writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from opendata import journal, layout
from opendata.catalog.dataset_pages import dataset_files
from opendata.catalog.dcat import catalog_dates
from opendata.catalog.dcat_documents import CODE as DCAT_CODE
from opendata.catalog.dcat_documents import (
    DatasetRdf,
    Paging,
    catalog_pages,
    dataset_rdf,
    page_count,
    page_size,
)
from opendata.catalog.dcat_documents import fragment_key as dcat_fragment_key
from opendata.catalog.pages import LISTING_CODE, Listing, listing
from opendata.catalog.splice import (
    CatalogView,
    LayoutError,
    Span,
    SplicedCatalog,
    catalog_text,
    entry_text,
    parse_layout,
)
from opendata.catalog.splice import StoredCatalog as StoredLayout
from opendata.catalog.uncollected import waiting
from opendata.contention import PATIENCE, Patience
from opendata.errors import ConflictError, LostRace
from opendata.latest import latest_descriptor, repair_latest
from opendata.layout import DESCRIPTOR, LATEST, LISTINGS, VALIDATION
from opendata.package import sha256
from opendata.publish import VerifyProblem
from opendata.state import (
    CATALOG_FORMAT,
    Catalog,
    CatalogDelivery,
    CatalogEntry,
    CatalogFile,
    CatalogResource,
    CatalogVersion,
    Release,
    SemVer,
    Status,
    load_catalog,
    read_history,
)
from opendata.storage import LocalStore, Store

PUBLISHER = "Boråsregionen, Sjuhärads kommunalförbund"
# The same rows in other formats: resources `<name>-json` and `<name>-parquet` (Parquet since
# 2026: older versions have none), listed after the CSV in this order.
TWINS = ("json", "parquet")


def datasets_in_store(store: Store) -> list[str]:
    return store.folders_holding(layout.DATASETS, layout.VERSIONS)


def dataset_entry(store: Store, name: str, base_url: str) -> CatalogEntry | None:
    """One dataset's catalog entry: metadata of its latest version and every listed version
    (published and withdrawn: claims of runs in progress or abandoned are not listed)."""
    history, _ = read_history(store, name)
    listed = history.listed()
    if not listed:
        return None
    latest = history.latest
    shown = latest or listed[0].version  # all withdrawn: describe the newest tombstone
    raw = store.read_bytes(layout.version_key(name, shown, DESCRIPTOR))
    descriptor: dict[str, Any] = json.loads(raw) if raw else {}
    english = descriptor.get("translations", {}).get("en", {})
    home = f"{base_url}{layout.dataset_prefix(name)}/"
    published = [v for v in listed if v.status is Status.PUBLISHED]
    first = min((v.published for v in listed), default=None)
    shown_rows = next(v.rows for v in listed if v.version == shown)
    sizes = {f: r.bytes for v in listed if v.version == shown for f, r in v.files.items()}
    resources: list[CatalogResource] = []
    by_name = {r["name"]: r for r in reversed(descriptor.get("resources", []))}  # first wins
    for resource in descriptor.get("resources", []):
        if resource.get("format") != "csv":
            continue
        twins = [
            by_name[f"{resource['name']}-{suffix}"]
            for suffix in TWINS
            if f"{resource['name']}-{suffix}" in by_name
        ]
        resources.append(
            {
                "name": resource["name"],
                "title": resource.get("title"),
                "title_en": resource.get("translations", {}).get("en", {}).get("title"),
                "description": resource.get("description"),
                "description_en": resource.get("translations", {}).get("en", {}).get("description"),
                "schema": resource["schema"],
                "rows": shown_rows.get(resource["name"]),
                "files": [_file(home, shown, latest, item, sizes) for item in (resource, *twins)],
            }
        )
    datapackage_bytes, datapackage_sha256 = _stable_descriptor_file(
        descriptor, base_url, name, latest
    )
    return {
        "name": name,
        "title": descriptor.get("title", name),
        "title_en": english.get("title"),
        "description": descriptor.get("description"),
        "description_en": english.get("description"),
        "themes": descriptor.get("themes", []),
        "keywords": descriptor.get("keywords", []),
        "keywords_en": english.get("keywords", []),
        "license": (descriptor.get("licenses") or [{}])[0],
        "attribution": descriptor.get("attribution"),
        "publisher": PUBLISHER,
        "contact_point": descriptor.get("contactPoint"),
        "accrual_periodicity": descriptor.get("accrualPeriodicity"),
        "temporal": descriptor.get("temporal"),
        "spatial": descriptor.get("spatial", []),
        "sources": descriptor.get("sources", []),
        "landing_page": f"{home}",
        "issued": first,
        "modified": published[0].published if published else None,
        "latest": str(latest) if latest else None,
        "datapackage": f"{home}{LATEST}/{DESCRIPTOR}" if latest else None,
        "datapackage_bytes": datapackage_bytes,
        "datapackage_sha256": datapackage_sha256,
        "formats": sorted({r["format"].upper() for r in descriptor.get("resources", [])}),
        "validation": {"valid": True, "url": f"{home}{shown}/{VALIDATION}"},
        "resources": resources,
        "versions": [_version(home, v) for v in listed],
    }


def _stable_descriptor_file(
    descriptor: dict[str, Any], base_url: str, name: str, latest: SemVer | None
) -> tuple[int | None, str | None]:
    """Size and SHA-256 of latest/datapackage.json (its bytes differ from the version's)."""
    if not latest or not descriptor:
        return None, None
    stable = latest_descriptor(descriptor, base_url, name)
    return len(stable), sha256(stable)


def _file(
    home: str,
    version: SemVer,
    latest: SemVer | None,
    resource: dict[str, Any],
    sizes: dict[str, int],
) -> CatalogFile:
    return {
        "name": resource["path"],
        "format": resource["format"].upper(),
        "mediatype": resource["mediatype"],
        # (A JSON or Parquet copy declares no `bytes`: its size is in versions.json.)
        "bytes": resource["bytes"] if "bytes" in resource else sizes[resource["path"]],
        "sha256": resource["hash"].split(":", 1)[1],
        "url": f"{home}{version}/{resource['path']}",
        "latest_url": f"{home}{LATEST}/{resource['path']}" if latest == version else None,
    }


def _version(home: str, entry: Release) -> CatalogVersion:
    version = entry.version
    result: CatalogVersion = {
        "version": str(version),
        "status": entry.status,
        "published": entry.published,
        "bump": entry.bump,
        "changes": entry.summary,
        "message": entry.message,
        "rows": dict(entry.rows),
        "datapackage": f"{home}{entry.datapackage}",
        "files": [
            {
                "name": filename,
                "url": f"{home}{version}/{filename}",
                "bytes": record.bytes,
                "sha256": record.sha256,
            }
            for filename, record in sorted(entry.files.items())
        ],
    }
    if entry.deliveries:
        result["deliveries"] = [
            cast("CatalogDelivery", delivery.model_dump(mode="json"))
            for delivery in entry.deliveries
        ]
    if entry.status is Status.WITHDRAWN:
        result["withdrawn"] = entry.withdrawn
        result["reason"] = entry.reason
        result["files_deleted"] = bool(entry.files_deleted)
    return result


def catalog_header(base_url: str) -> Catalog:
    """catalog.json's keys other than its datasets."""
    return {
        "format": CATALOG_FORMAT,
        "title": "Boråsregionens öppna data",
        "title_en": "Open data of Boråsregionen",
        "description": (
            "Öppna data från Boråsregionen, Sjuhärads kommunalförbund, och dess åtta "
            "medlemskommuner: miljö, klimat, avfall, transporter och befolkning."
        ),
        "description_en": (
            "Open data of Boråsregionen (Sjuhärads kommunalförbund) and its eight member "
            "municipalities: environment, climate, waste, transport and population."
        ),
        "publisher": PUBLISHER,
        "homepage": base_url,
        "license": {
            "name": "CC0-1.0",
            "path": "http://creativecommons.org/publicdomain/zero/1.0/",
            "title": "Katalogens metadata: CC0 1.0",
        },
        "datasets": [],
    }


def build_catalog(store: Store, base_url: str) -> Catalog:
    """The whole catalog.json document, in memory (for small catalogs and tests: a publish
    updates the stored one in place, rebuild_catalog)."""
    catalog = catalog_header(base_url)
    for name in datasets_in_store(store):
        entry = dataset_entry(store, name, base_url)
        if entry is not None:
            catalog["datasets"].append(entry)
    return catalog


_LISTINGS_FORMAT = 2  # 2: with the datasets that have no published version


def _digest(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Listings:
    """The listing of every dataset (pages.Listing), each with the digest of the catalog entry
    it was made from, and the ETag of the catalog.json they were all made from: when that is
    the stored one, they are used as they are; otherwise each is checked against its entry."""

    by_name: dict[str, Listing] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    catalog_etag: str | None = None
    homepage: str | None = None
    # The code that wrote every DCAT page last: after an upgrade that changes it, the first
    # publish writes every page again (else pages of two versions of the code would mix).
    dcat_code: str | None = None
    # Whether a listing changed in what the places' pages show (title, places, which datasets
    # there are) since they were last written: if not, a publish leaves those pages alone (at
    # 10,000 datasets, rendering them is most of what an update would cost).
    places_changed: bool = False
    # Where each entry stands in that catalog.json: an update checks them instead of searching
    # the whole document (splice.parse_layout).
    spans: list[Span] | None = None
    # The datasets with no published version (every one withdrawn): in the catalog and on the
    # pages as tombstones, not on the DCAT pages, which list the datasets a harvester imports.
    withdrawn: set[str] = field(default_factory=set)

    def harvested(self, names: list[str]) -> list[str]:
        """The datasets of `names` (in order) that the DCAT pages list."""
        return [name for name in names if name not in self.withdrawn]

    def dump(self, catalog_etag: str, homepage: str, spans: list[Span]) -> bytes:
        record = {
            "format": _LISTINGS_FORMAT,
            "code": LISTING_CODE,
            "dcat_code": self.dcat_code,
            "catalog_etag": catalog_etag,
            "homepage": homepage,
            "spans": [[span.name, span.start, span.end] for span in spans],
            "withdrawn": sorted(self.withdrawn),
            "datasets": [
                {"source": self.sources[name], **self.by_name[name]}
                for name in sorted(self.by_name)
            ],
        }
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def read(cls, store: Store) -> Listings:
        """The stored listings; empty when there are none or they cannot be used."""
        raw = store.read_bytes(LISTINGS)
        try:
            record = json.loads(raw) if raw else None
            if not isinstance(record, dict) or record.get("format") != _LISTINGS_FORMAT:
                return cls()
            found = cls(
                catalog_etag=record["catalog_etag"],
                homepage=record["homepage"],
                dcat_code=record["dcat_code"],
                spans=[Span(str(n), int(a), int(b)) for n, a, b in record.get("spans") or []],
                withdrawn={str(name) for name in record["withdrawn"]},
            )
            if record["code"] != LISTING_CODE:  # made by other code: every one is made again
                found.catalog_etag = None
                return found
            for item in record["datasets"]:
                source = item.pop("source")
                found.by_name[item["name"]] = item
                found.sources[item["name"]] = source
            return found
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def update(self, header: Catalog, name: str, source: str, entry: CatalogEntry | None) -> None:
        before = _on_place_pages(self.by_name.get(name))
        self.withdrawn.discard(name)
        if entry is None:
            self.by_name.pop(name, None)
            self.sources.pop(name, None)
        else:
            self.by_name[name] = listing(header, entry)
            self.sources[name] = source
            if not entry.get("latest"):
                self.withdrawn.add(name)
        if _on_place_pages(self.by_name.get(name)) != before:
            self.places_changed = True

    def agree_with(self, view: CatalogView, etag: str | None, homepage: str) -> None:
        """Make every listing that of the catalog's entry (those of entries that changed since
        they were made are made again; a publish that lost no race changes none)."""
        fresh = etag is not None and self.catalog_etag == etag and self.homepage == homepage
        if self.homepage != homepage:
            self.places_changed = True
        if fresh and sorted(self.by_name) == view.names:
            return
        names = set(view.names)
        for name in [n for n in self.by_name if n not in names]:
            self.update(view.header, name, "", None)
        for name in view.names:
            raw = view.entry_bytes(name) or b""
            source = _digest(raw)
            if self.sources.get(name) != source or self.homepage != homepage:
                self.update(view.header, name, source, json.loads(bytes(raw)))
        self.homepage = homepage

    def differing(self, view: CatalogView) -> list[str]:
        """The datasets whose entries in `view` are not those the listings were made from."""
        names = set(view.names)
        changed = [
            n for n in view.names if self.sources.get(n) != _digest(view.entry_bytes(n) or b"")
        ]
        return sorted({*changed, *(n for n in self.by_name if n not in names)})

    def ordered(self) -> list[Listing]:
        return [self.by_name[name] for name in sorted(self.by_name)]


def _on_place_pages(item: Listing | None) -> tuple[object, ...] | None:
    """What the places' pages show of a dataset (None: it is not in the catalog)."""
    return None if item is None else (item["title"], item["spatial"])


def dataset_fragment(
    store: Store, header: Catalog, entry_bytes: bytes | memoryview, save: bool = True
) -> DatasetRdf:
    """The dataset's DCAT fragment: the stored one when it was made from this very entry (and
    this code), else made now and (with `save`) stored for the next publish."""
    entry: CatalogEntry = json.loads(bytes(entry_bytes))
    key = dcat_fragment_key(str(header["homepage"]), bytes(entry_bytes).decode("utf-8"))
    stored_key = layout.fragment_key(str(entry["name"]))
    raw = store.read_bytes(stored_key)
    if raw:
        try:
            found = DatasetRdf.from_record(json.loads(raw))
        except ValueError:
            found = None
        if found is not None and found.key == key:
            return found
    fragment = dataset_rdf(header, entry, key)
    if save:
        data = (json.dumps(fragment.record(), ensure_ascii=False) + "\n").encode("utf-8")
        # Another run may store it meanwhile: whichever is stored is checked by its key.
        with contextlib.suppress(ConflictError):
            store.write_derived(stored_key, data)  # a cache that checks itself by its key
    return fragment


def dcat_documents(
    store: Store,
    view: CatalogView,
    listings: Listings,
    pages: Iterable[int] | None = None,
    save: bool = True,
) -> Iterator[tuple[str, bytes]]:
    """The DCAT documents (`pages` of them, None: all) of the catalog, page by page, so that
    no more than one page of fragments is in memory."""
    header = view.header
    names = listings.harvested(view.names)
    size = page_size()
    dates = catalog_dates((item["issued"], item["changed"]) for item in listings.ordered())
    paged = len(names) > size
    numbers = list(range(1, page_count(len(names), size) + 1)) if paged else [1]
    wanted = set(numbers if pages is None else pages) & set(numbers)
    for number in sorted(wanted):
        chunk = names[(number - 1) * size : number * size] if paged else names
        fragments = {
            name: dataset_fragment(store, header, view.entry_bytes(name) or b"", save)
            for name in chunk
        }
        paging = Paging(number, len(numbers), len(names), size) if paged else None
        yield from catalog_pages(header, dates, chunk, fragments, paging).items()


def stale_pages(store: Store, count: int) -> list[str]:
    """DCAT pages past the last one (left when the catalog shrank or stopped being paged)."""
    stale = []
    for key in store.list(layout.DCAT):
        match = layout.DCAT_LATER_PAGE.fullmatch(key)
        if match and int(match.group(1)) > count:
            stale.append(key)
    return stale


def pages_of(names: list[str], touched: Iterable[str]) -> set[int]:
    """The DCAT pages that list `touched` datasets, and the first (the catalog's dates)."""
    size = page_size()
    if len(names) <= size:
        return {1}
    where = {name: index // size + 1 for index, name in enumerate(names)}
    return {1} | {where[name] for name in touched if name in where}


def derived_files(
    store: Store,
    view: CatalogView,
    listings: Listings,
    touched: Iterable[str],
    dcat_pages: Iterable[int] | None,
    save: bool = True,
    places: bool = True,
    records: list[tuple[str, bytes]] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """The files derived from the catalog: the index page, the places' pages (if `places`), the
    DCAT documents (`dcat_pages`, None: all) and the `touched` datasets' pages (and their
    versions' pages and documents, where the entry changed), one at a time. `records` gets
    what the versions' files were made from, to be written once those files are durable.

    The index also lists the datasets that runs skipped before any version of them was
    published (catalog/uncollected.py): not yet collected, in no other derived file."""
    from opendata.catalog.pages import location_pages, render_index

    header = view.header
    ordered = listings.ordered()
    not_collected = waiting(store, listings.by_name)
    yield layout.INDEX, render_index(header, ordered, not_collected).encode("utf-8")
    # The places' pages: the DCAT graph's dct:Location IRIs resolve to them.
    if places:
        for key, page in location_pages(header, ordered).items():
            yield key, page.encode("utf-8")
    yield from dcat_documents(store, view, listings, dcat_pages, save)
    for name in touched:
        entry_bytes = view.entry_bytes(name)
        if entry_bytes is not None:
            yield from dataset_files(store, header, entry_bytes, save, records)


# A full build makes every dataset's page and its versions' pages and documents (at 10,000
# datasets × 20 versions, 800,000 files): past PARALLEL_FROM datasets on a folder store, by one
# worker process a core (catalog/workers.py). Below it the workers' start (about a second each)
# costs more than it saves.
PARALLEL_FROM = 100
PARALLEL_MOST = 4


def parallel_workers(store: Store, datasets: int) -> int:
    """How many processes make the datasets' files (1: this one). Only a plain folder store is
    opened again by the workers (an S3 build waits on the network, not the CPU)."""
    if type(store) is not LocalStore or datasets < PARALLEL_FROM:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), PARALLEL_MOST))


def rebuild_catalog(
    store: Store,
    base_url: str,
    touched: Iterable[str] | None = None,
    patience: Patience = PATIENCE,
) -> list[str]:
    """Update catalog.json for the `touched` datasets (all when None), then what derives from it.

    Datasets that a killed run left marked (journal.dead_marks) are repaired on the way: their
    `latest/` copies follow their pointer again and their entries and pages are rebuilt; the
    temporary files of killed writers are removed first (Store.clean_leftovers).

    The work is in proportion to what changed, not to the catalog: the touched datasets'
    entries are derived from their pointers and spliced into the stored catalog.json (splice.py),
    and of the derived files only the index, the places' pages, the DCAT pages that list them
    (and the first) and their own pages are made again, from listings and DCAT fragments kept
    in `_private/catalog/`. With no usable catalog.json (none yet, an older format, another
    base URL) everything is derived from the pointers, one dataset at a time.

    catalog.json is replaced with a compare-and-swap on the ETag it was read with: when another
    publisher changed it in between, the entries are derived again from the newer pointers. The
    files derived from it are written after it, and never from an older catalog than the one
    stored: once they are written, catalog.json's ETag is read again, and if another run has
    replaced it meanwhile, the files of what that run changed are derived again (the other run
    may have written them before us, from an older catalog). Returns the keys written.
    """
    store.clean_leftovers()  # killed writers' temporary files (never a live writer's)
    dead = journal.dead_marks(store)
    repaired = sorted({mark.dataset for mark in dead})
    for name in repaired:
        repair_latest(store, name, base_url)
    names = None if touched is None else sorted({*touched, *repaired})
    written: list[str] = []
    lost: LostRace | None = None
    for _ in patience.attempts():
        try:
            written.extend(_rebuild_once(store, base_url, names, patience))
        except LostRace as error:
            lost = error  # another publisher replaced catalog.json first: derive again
            continue
        rebuilt = None if names is None else set(names)
        for mark in [*dead, *journal.own_marks(store)]:
            if rebuilt is None or mark.dataset in rebuilt:
                store.delete(mark.key)
        return written
    assert lost is not None
    raise lost


def _usable(
    found: tuple[bytes, str] | None, base_url: str, where: str, listings: Listings | None = None
) -> StoredLayout | None:
    """The stored catalog.json, when a publish can update it in place: in the current format,
    for this base URL and in the layout catalog_text writes. A newer format or a corrupt file
    stops the publish here with the message of state.load_catalog. `listings` made from this
    very catalog.json tell where its entries are."""
    if found is None:
        return None
    known = listings.spans if listings and listings.catalog_etag == found[1] else None
    try:
        stored = parse_layout(found[0], known)
    except LayoutError:
        stored = None
    if stored is None or stored.header.get("format") != CATALOG_FORMAT:
        load_catalog(found[0], where)  # raises for a newer format or a corrupt document
        return None
    if stored.header.get("homepage") != base_url:
        return None
    return stored


def _rebuild_once(
    store: Store, base_url: str, names: list[str] | None, patience: Patience
) -> list[str]:
    found = store.read(layout.CATALOG)  # first: the document a steward knows names the failure
    listings = Listings.read(store)
    view, etag, unchanged, before, harvested_before = _updated_catalog(
        store, base_url, names, listings, found
    )
    del found  # 150 MB at 10,000 datasets: the view holds what is still needed of it
    written: list[str] = []
    if not unchanged:
        etag = store.replace_pieces(layout.CATALOG, view.pieces(), etag)
        written.append(layout.CATALOG)
    assert etag is not None
    whole = isinstance(view, StoredLayout)  # derived whole: every dataset's page too
    added_or_removed = (
        before is None or before != view.names or harvested_before != listings.harvested(view.names)
    )
    touched = None if whole else names
    spans = view.entry_spans()
    every, derived_names, pages = _derivation(view.names, touched, added_or_removed, listings)
    if not every:  # only some entries are read again: the document's bytes can go
        view = view.keeping({*derived_names, *_names_on(listings.harvested(view.names), pages)})
    written.extend(
        _write_derived(
            store, base_url, view, etag, spans, listings, touched, added_or_removed, patience
        )
    )
    return written


def _derivation(
    names: list[str], touched: list[str] | None, added_or_removed: bool, listings: Listings
) -> tuple[bool, list[str], set[int] | None]:
    """Whether every derived file is written again, the datasets whose pages are, and the
    DCAT pages that are (None: all)."""
    every = touched is None or added_or_removed or listings.dcat_code != DCAT_CODE
    derived_names = names if touched is None else touched
    harvested = listings.harvested(names)
    return every, derived_names, None if every else pages_of(harvested, derived_names)


def _names_on(names: list[str], pages: Iterable[int] | None) -> list[str]:
    """The datasets listed on those DCAT pages."""
    size = page_size()
    if pages is None or len(names) <= size:
        return names
    return [name for number in pages for name in names[(number - 1) * size : number * size]]


def _updated_catalog(
    store: Store,
    base_url: str,
    names: list[str] | None,
    listings: Listings,
    found: tuple[bytes, str] | None,
) -> tuple[CatalogView, str | None, bool, list[str] | None, list[str] | None]:
    """The catalog with the `names` datasets' entries derived again from their pointers (all
    of them when None or when the stored catalog.json cannot be updated in place), the ETag of
    the stored one (`found`: its bytes and ETag), whether it is unchanged, the names the
    stored one listed and those of them its DCAT pages listed."""
    etag = None if found is None else found[1]
    stored = _usable(found, base_url, store.url, listings)
    if stored is None or names is None:
        data = _whole_catalog(store, base_url)
        before = None if stored is None else stored.names
        whole = parse_layout(data)
        listings.agree_with(whole, None, base_url)
        return whole, etag, found is not None and found[0] == data, before, None
    listings.agree_with(stored, etag, base_url)
    harvested = listings.harvested(stored.names)
    changes: dict[str, bytes | None] = {}
    for name in names:
        entry = dataset_entry(store, name, base_url)
        text = None if entry is None else entry_text(entry)
        changes[name] = text
        listings.update(stored.header, name, _digest(text or b""), entry)
    spliced = SplicedCatalog(stored, stored.header, changes)
    return spliced, etag, spliced.unchanged, stored.names, harvested


def _whole_catalog(store: Store, base_url: str) -> bytes:
    """catalog.json derived whole from the pointers, one entry at a time (spooled to disk, so
    the memory it takes is that of its bytes, not of its entries as Python objects)."""
    header = catalog_header(base_url)
    with tempfile.TemporaryFile() as spool:

        def entries() -> Iterator[bytes]:
            for name in datasets_in_store(store):
                entry = dataset_entry(store, name, base_url)
                if entry is not None:
                    yield entry_text(entry)

        for piece in catalog_text(header, entries()):
            spool.write(piece)
        spool.seek(0)
        return spool.read()


def _write_derived(
    store: Store,
    base_url: str,
    view: CatalogView,
    etag: str,
    spans: list[Span],
    listings: Listings,
    touched: list[str] | None,
    added_or_removed: bool,
    patience: Patience,
) -> list[str]:
    """Write the files derived from `view` (catalog.json as stored, with `etag`), then check
    that catalog.json is still that one; if a newer one has replaced it, derive again the files
    of the datasets whose entries differ (their listings tell what the files were made from)."""
    written: list[str] = []
    for _ in patience.attempts():
        every, names, pages = _derivation(view.names, touched, added_or_removed, listings)
        places = every or listings.places_changed
        records: list[tuple[str, bytes]] = []
        workers = parallel_workers(store, len(names))
        here = names if workers == 1 else []
        for key, content in derived_files(
            store, view, listings, here, pages, places=places, records=records
        ):
            if store.write_derived(key, content):
                written.append(key)
        if workers > 1 and isinstance(store, LocalStore):
            from opendata.catalog.workers import write_dataset_files

            written.extend(write_dataset_files(store, view, names, workers, records))
        store.sync()  # the files are durable before the records that vouch for them
        for key, content in records:
            store.write_if_changed(key, content)
        listings.places_changed = False
        if every:
            for key in stale_pages(store, _last_page(listings.harvested(view.names))):
                store.delete(key)
                written.append(key)
            listings.dcat_code = DCAT_CODE
        if store.write_if_changed(LISTINGS, listings.dump(etag, base_url, spans)):
            written.append(LISTINGS)
        if store.etag(layout.CATALOG) in (None, etag):
            return written
        before = view.names
        harvested_before = listings.harvested(before)
        del view  # the newer catalog.json takes its place in memory
        found = store.read(layout.CATALOG)
        newer = _usable(found, base_url, store.url)
        if found is None or newer is None:
            raise LostRace("catalog.json was replaced by one this run cannot update")
        touched = listings.differing(newer)
        added_or_removed = newer.names != before
        view, etag, spans = newer, found[1], newer.entry_spans()
        listings.agree_with(view, None, base_url)
        added_or_removed = added_or_removed or listings.harvested(view.names) != harvested_before
    raise ConflictError("catalog.json kept changing while its derived files were written")


def verify_derived(store: Store, base_url: str) -> tuple[int, list[VerifyProblem]]:
    """catalog.json and every file derived from it, compared with what the pointers give now.

    Derivation is deterministic (no clock), so any difference is a derived file that lags the
    pointers (a killed run before the repair) or was changed by hand.
    """
    problems: list[VerifyProblem] = []
    expected = _whole_catalog(store, base_url)
    found = store.read(layout.CATALOG)
    checked = 1
    wanted = parse_layout(expected)
    if found is None:
        if wanted.names:
            problems.append(VerifyProblem(layout.CATALOG, "missing"))
        return checked, problems
    usable = _usable(found, base_url, store.url)  # raises for a newer format or a corrupt file
    if found[0] != expected:
        try:
            have: CatalogView | None = parse_layout(found[0])
        except LayoutError:
            have = None
        lagging = sorted(
            n
            for n in {*wanted.names, *(have.names if have else [])}
            if have is None or _bytes(wanted.entry_bytes(n)) != _bytes(have.entry_bytes(n))
        )
        problems.append(
            VerifyProblem(
                layout.CATALOG,
                "does not match the datasets' versions.json"
                + (f" for {', '.join(lagging)}" if lagging else ""),
            )
        )
    view: CatalogView = usable or wanted
    listings = Listings()
    listings.agree_with(view, None, base_url)
    for key, content in derived_files(store, view, listings, view.names, None, save=False):
        checked += 1
        if store.read_bytes(key) != content:
            problems.append(VerifyProblem(key, "does not match catalog.json"))
    for key in stale_pages(store, _last_page(listings.harvested(view.names))):
        problems.append(VerifyProblem(key, "is a DCAT page past the catalog's last page"))
    return checked, problems


def _bytes(raw: bytes | memoryview | None) -> bytes | None:
    return None if raw is None else bytes(raw)


def _last_page(names: list[str]) -> int:
    size = page_size()
    return page_count(len(names), size) if len(names) > size else 1
