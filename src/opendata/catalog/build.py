"""catalog.json, the DCAT-AP-SE files and the HTML pages, derived from the store's pointers.

catalog.json is the index every other derived file is built from. It is rebuilt incrementally:
a run re-derives the entries of the datasets it touched (from their versions.json and latest
descriptor) and keeps the others' entries as they were; then the index page, the DCAT files and
the touched datasets' pages are written where their bytes change. Nothing here reads a clock, so
a run that publishes nothing writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from opendata import journal
from opendata.errors import ConflictError
from opendata.package import DESCRIPTOR, sha256
from opendata.publish import (
    LATEST,
    VerifyProblem,
    dataset_prefix,
    latest_descriptor,
    read_changes,
    repair_latest,
)
from opendata.state import (
    CATALOG,
    CATALOG_FORMAT,
    VERSIONS,
    Catalog,
    CatalogEntry,
    CatalogFile,
    CatalogResource,
    CatalogVersion,
    Release,
    SemVer,
    Status,
    dump_catalog,
    load_catalog,
    read_catalog,
    read_history,
)
from opendata.storage import Store

INDEX = "index.html"
PAGE = "index.html"
PUBLISHER = "Boråsregionen, Sjuhärads kommunalförbund"
PREVIEW_ROWS = 10
# The preview reads no more than the start of a CSV: 10 rows fit in it many times over, and a
# table of ten million rows (600 MB) costs one small ranged read.
PREVIEW_BYTES = 64 * 1024
# The page lists the changed rows (cells old → new) of this many of the newest versions; each
# costs one read of a small changes.json, so a dataset with years of daily versions stays cheap.
DETAILED_VERSIONS = 10
# The same rows in other formats: resources `<name>-json` and `<name>-parquet` (Parquet since
# 2026: older versions have none), listed after the CSV in this order.
TWINS = ("json", "parquet")


def datasets_in_store(store: Store) -> list[str]:
    names = set()
    for key in store.list("datasets"):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == VERSIONS:
            names.add(parts[1])
    return sorted(names)


def dataset_entry(store: Store, name: str, base_url: str) -> CatalogEntry | None:
    """One dataset's catalog entry: metadata of its latest version and every listed version
    (published and withdrawn: claims of runs in progress or abandoned are not listed)."""
    history, _ = read_history(store, name)
    listed = history.listed()
    if not listed:
        return None
    latest = history.latest
    shown = latest or listed[0].version  # all withdrawn: describe the newest tombstone
    raw = store.read_bytes(f"{dataset_prefix(name)}/{shown}/{DESCRIPTOR}")
    descriptor: dict[str, Any] = json.loads(raw) if raw else {}
    english = descriptor.get("translations", {}).get("en", {})
    home = f"{base_url}{dataset_prefix(name)}/"
    published = [v for v in listed if v.status is Status.PUBLISHED]
    first = min((v.published for v in listed), default=None)
    shown_rows = next(v.rows for v in listed if v.version == shown)
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
                "files": [_file(home, shown, latest, item) for item in (resource, *twins)],
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
        "validation": {"valid": True, "url": f"{home}{shown}/validation.json"},
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
    home: str, version: SemVer, latest: SemVer | None, resource: dict[str, Any]
) -> CatalogFile:
    return {
        "name": resource["path"],
        "format": resource["format"].upper(),
        "mediatype": resource["mediatype"],
        "bytes": resource["bytes"],
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
    if entry.status is Status.WITHDRAWN:
        result["withdrawn"] = entry.withdrawn
        result["reason"] = entry.reason
        result["files_deleted"] = bool(entry.files_deleted)
    return result


def build_catalog(
    store: Store,
    base_url: str,
    previous: Catalog | None = None,
    touched: Iterable[str] | None = None,
) -> Catalog:
    """The catalog.json document; with `previous`, only `touched` datasets are re-derived."""
    entries: dict[str, CatalogEntry] = {}
    if previous is None or touched is None or previous["homepage"] != base_url:
        names: Iterable[str] = datasets_in_store(store)
    else:
        entries = {entry["name"]: entry for entry in previous["datasets"]}
        names = touched
    for name in names:
        entry = dataset_entry(store, name, base_url)
        if entry is None:
            entries.pop(name, None)
        else:
            entries[name] = entry
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
        "datasets": [entries[name] for name in sorted(entries)],
    }


def preview_rows(
    store: Store, entry: CatalogEntry, limit: int = PREVIEW_ROWS, max_bytes: int = PREVIEW_BYTES
) -> dict[str, list[list[str]]]:
    """The header and first `limit` rows of each resource of the latest version, for the page.

    Only the first `max_bytes` of each CSV are read (Store.read_head), never the whole file.
    """
    previews: dict[str, list[list[str]]] = {}
    for resource in entry["resources"]:
        csv_file = next((f for f in resource["files"] if f["format"] == "CSV"), None)
        if csv_file is None:
            continue
        key = csv_file["url"].split("/datasets/", 1)[1]
        data = store.read_head(f"datasets/{key}", max_bytes)
        if data is None:
            continue
        previews[resource["name"]] = head_records(data, len(data) < max_bytes, limit + 1)
    return previews


def head_records(data: bytes, whole: bool, count: int) -> list[list[str]]:
    """The first `count` complete CSV records of `data`, the start of a UTF-8 file.

    When `data` is not the `whole` file, it may end inside a record (even inside a quoted field
    that holds a line break, or inside a character): a record counts only when the reader went
    on to the next one, so the last record read is dropped unless `count` were found before it.
    """
    text = codecs.getincrementaldecoder("utf-8")().decode(data, final=whole)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    for record in reader:
        if len(records) == count:
            return records  # a record after the last one wanted: those are all complete
        records.append(record)
    return records if whole else records[:-1]


def version_changes(store: Store, entry: CatalogEntry) -> dict[str, dict[str, Any]]:
    """The changes.json of the newest DETAILED_VERSIONS versions that have one (not the first
    version, not one whose files were deleted), by version number."""
    found = {}
    for version in entry["versions"][:DETAILED_VERSIONS]:
        if version.get("bump") and not version.get("files_deleted"):
            record = read_changes(store, entry["name"], version["version"])
            if record is not None:
                found[version["version"]] = record
    return found


def derived_files(store: Store, catalog: Catalog, touched: Iterable[str]) -> dict[str, bytes]:
    """The index page, the places' pages, the DCAT files and the touched datasets' pages."""
    from opendata.catalog.pages import location_pages, render_dataset_page, render_index

    files = {INDEX: render_index(catalog).encode("utf-8")}
    # The places' pages: the DCAT graph's dct:Location IRIs resolve to them.
    files.update({key: page.encode("utf-8") for key, page in location_pages(catalog).items()})
    try:
        from opendata.catalog.dcat import dcat_files
    except ImportError:  # pragma: no cover - the DCAT module arrives with its own change
        pass
    else:
        files.update(dcat_files(catalog))
    by_name = {entry["name"]: entry for entry in catalog["datasets"]}
    for name in touched:
        entry = by_name.get(name)
        if entry is not None:
            page = render_dataset_page(
                entry, preview_rows(store, entry), catalog, version_changes(store, entry)
            )
            files[f"{dataset_prefix(name)}/{PAGE}"] = page.encode("utf-8")
    return files


def rebuild_catalog(
    store: Store, base_url: str, touched: Iterable[str] | None = None, attempts: int = 5
) -> list[str]:
    """Update catalog.json for the `touched` datasets (all when None), then what derives from it.

    Datasets that a killed run left marked (journal.dead_marks) are repaired on the way: their
    `latest/` copies follow their pointer again and their entries and pages are rebuilt.

    catalog.json is replaced with a compare-and-swap on the ETag it was read with: when another
    publisher changed it in between, the entries are derived again from the newer pointers. The
    files derived from it are written after it, and never from an older catalog than the one
    stored: once written, catalog.json is read again, and if another run has replaced it
    meanwhile, they are derived again from that newer one (the other run may have written them
    before us, from it). Returns the keys written.
    """
    dead = journal.dead_marks(store)
    repaired = sorted({mark.dataset for mark in dead})
    for name in repaired:
        repair_latest(store, name, base_url)
    names = None if touched is None else sorted({*touched, *repaired})
    written: list[str] = []
    for attempt in range(1, attempts + 1):
        stored = read_catalog(store)
        # A catalog of an older format is derived again whole, from the pointers: it holds
        # nothing they do not.
        previous = stored.catalog if stored is not None and stored.current else None
        catalog = build_catalog(store, base_url, previous, names)
        data = dump_catalog(catalog)
        pages = names if names is not None and previous is not None else datasets_in_store(store)
        try:
            if stored is None or stored.data != data:
                store.replace(CATALOG, data, stored.etag if stored else None)
                written.append(CATALOG)
            written.extend(_write_derived(store, catalog, data, pages))
        except ConflictError:
            if attempt == attempts:
                raise
            continue
        rebuilt = None if names is None else set(names)
        for mark in [*dead, *journal.own_marks(store)]:
            if rebuilt is None or mark.dataset in rebuilt:
                store.delete(mark.key)
        return written
    raise AssertionError("unreachable")  # pragma: no cover


def _write_derived(
    store: Store, catalog: Catalog, data: bytes, pages: Iterable[str], rounds: int = 20
) -> list[str]:
    """Write the files derived from `catalog` (stored as `data`), then check that catalog.json
    is still that one; if a newer one has replaced it, derive them again from the newer one."""
    written: list[str] = []
    pages = list(pages)
    for _ in range(rounds):
        for key, content in derived_files(store, catalog, pages).items():
            if store.write_if_changed(key, content):
                written.append(key)
        current = store.read_bytes(CATALOG)
        if current is None or current == data:
            return written
        data = current
        catalog, _ = load_catalog(current, store.url)
    raise ConflictError("catalog.json kept changing while its derived files were written")


def verify_derived(store: Store, base_url: str) -> tuple[int, list[VerifyProblem]]:
    """catalog.json and every file derived from it, compared with what the pointers give now.

    Derivation is deterministic (no clock), so any difference is a derived file that lags the
    pointers (a killed run before the repair) or was changed by hand.
    """
    problems: list[VerifyProblem] = []
    expected = build_catalog(store, base_url)
    found = read_catalog(store)
    checked = 1
    if found is None:
        if expected["datasets"]:
            problems.append(VerifyProblem(CATALOG, "missing"))
        return checked, problems
    stored = found.catalog
    if stored != expected:
        wanted = {entry["name"]: entry for entry in expected["datasets"]}
        have = {entry["name"]: entry for entry in stored["datasets"]}
        lagging = sorted(n for n in {*wanted, *have} if wanted.get(n) != have.get(n))
        problems.append(
            VerifyProblem(
                CATALOG,
                "does not match the datasets' versions.json"
                + (f" for {', '.join(lagging)}" if lagging else ""),
            )
        )
    for key, content in derived_files(store, stored, datasets_in_store(store)).items():
        checked += 1
        if store.read_bytes(key) != content:
            problems.append(VerifyProblem(key, "does not match catalog.json"))
    return checked, problems
