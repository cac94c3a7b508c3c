"""A dataset's page and its versions' pages and documents, as catalog/build.py and its worker
processes (catalog/workers.py) write them: apart from the build, so that the workers import
what they run and the build imports the workers, and no module imports its importer.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from opendata import layout
from opendata.catalog.pages import render_dataset_page
from opendata.catalog.versions import version_files
from opendata.publish import read_changes
from opendata.state import Catalog, CatalogEntry
from opendata.storage import Store

PREVIEW_ROWS = 10
# The preview reads no more than the start of a CSV: 10 rows fit in it many times over, and a
# table of ten million rows (600 MB) costs one small ranged read.
PREVIEW_BYTES = 64 * 1024
# The page lists the changed rows (cells old → new) of this many of the newest versions; each
# costs one read of a small changes.json, so a dataset with years of daily versions stays cheap.
DETAILED_VERSIONS = 10


def dataset_files(
    store: Store,
    header: Catalog,
    entry_bytes: bytes | memoryview,
    save: bool = True,
    records: list[tuple[str, bytes]] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """A dataset's page, and its versions' pages and documents (catalog/versions.py)."""
    entry: CatalogEntry = json.loads(bytes(entry_bytes))
    page = render_dataset_page(
        entry, preview_rows(store, entry), header, version_changes(store, entry)
    )
    yield layout.dataset_page_key(str(entry["name"])), page.encode("utf-8")
    yield from version_files(store, header, entry_bytes, save, records)


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
        data = store.read_head(layout.dataset_key_of_url(csv_file["url"]), max_bytes)
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
