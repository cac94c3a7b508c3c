"""catalog.json as text: its entries found and replaced without parsing the whole document.

catalog.json of 10,000 datasets × 20 versions is some 160 MB; parsing it into Python objects
takes seconds and gigabytes. But the document is always written by `catalog_text` below, in
the one canonical layout of `json.dumps(..., indent=2)`: the entries of "datasets", the last
key, are objects whose opening and closing braces stand alone on lines indented by exactly four
spaces, and whose "name" is on a line indented by six. No string can break a line (JSON escapes
newlines), so those lines are found by a byte search, and an update replaces the entries of the
datasets it touched and copies the rest of the bytes as they were. The result is byte for byte
what `catalog_text` would write for the whole new catalog (tests/test_catalog_scale.py holds
that for arbitrary entries).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opendata.state import Catalog, CatalogEntry

_DATASETS = b'\n  "datasets": ['
_OPEN = b"    {\n"
_CLOSE = b"\n    }"
_NAME = b'\n      "name": '


class LayoutError(ValueError):
    """The stored catalog.json is not in the layout catalog_text writes: derive it whole."""


def entry_text(entry: CatalogEntry) -> bytes:
    """An entry as it stands in catalog.json's "datasets" list (indented four spaces)."""
    text = json.dumps(entry, ensure_ascii=False, indent=2)
    return ("    " + text.replace("\n", "\n    ")).encode("utf-8")


def head_text(header: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """What comes before the first entry and after the last, for catalog.json's other keys."""
    document = {**{k: v for k, v in header.items() if k != "datasets"}, "datasets": []}
    text = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    cut = text.rindex(b"[]\n}\n")
    return text[:cut] + b"[\n", b"\n  ]\n}\n"


def catalog_text(
    header: Mapping[str, Any], entries: Iterable[bytes | memoryview]
) -> Iterator[bytes | memoryview]:
    """catalog.json in pieces: the header's keys, then the entries (from entry_text), in order.
    The same bytes as the whole document dumped at once (state.dump_catalog)."""
    head, tail = head_text(header)
    first = True
    for entry in entries:
        yield head if first else b",\n"
        yield entry
        first = False
    if first:
        document = {**{k: v for k, v in header.items() if k != "datasets"}, "datasets": []}
        yield (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        yield tail


@dataclass(frozen=True)
class Span:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class StoredCatalog:
    """catalog.json's bytes, its header (every key but "datasets") and where each entry is."""

    data: bytes
    header: Catalog
    spans: list[Span]

    @property
    def names(self) -> list[str]:
        return [span.name for span in self.spans]

    def entry(self, span: Span) -> CatalogEntry:
        parsed: CatalogEntry = json.loads(self.data[span.start : span.end])
        return parsed

    def entries(self) -> Iterator[CatalogEntry]:
        """Every entry, parsed one at a time."""
        for span in self.spans:
            yield self.entry(span)

    def entry_bytes(self, span: Span) -> bytes:
        return self.data[span.start : span.end]


def parse_layout(data: bytes) -> StoredCatalog:
    """Find the entries of a catalog.json written by catalog_text; LayoutError otherwise."""
    at = data.find(_DATASETS)
    if at < 0 or data.find(_DATASETS, at + 1) >= 0:
        raise LayoutError('no single top-level "datasets" list')
    body = at + len(_DATASETS)
    try:
        header_only = data[:body] + b"]\n}\n"
        header: Catalog = json.loads(header_only)
    except ValueError as error:
        raise LayoutError(f"the keys before the datasets are not JSON: {error}") from None
    if not isinstance(header, dict):
        raise LayoutError("not a JSON object")
    spans: list[Span] = []
    if data[body:] == b"]\n}\n":
        return StoredCatalog(data, header, spans)
    pos = body + 1  # past the newline after "["
    while True:
        if data[pos : pos + len(_OPEN)] != _OPEN:
            raise LayoutError(f"no entry starts at byte {pos}")
        close = data.find(_CLOSE, pos)
        if close < 0:
            raise LayoutError(f"the entry at byte {pos} does not end")
        end = close + len(_CLOSE)
        name_at = data.find(_NAME, pos, end)
        if name_at < 0:
            raise LayoutError(f"the entry at byte {pos} has no name")
        line_end = data.index(b"\n", name_at + len(_NAME))
        try:
            name = json.loads(data[name_at + len(_NAME) : line_end].rstrip(b","))
        except ValueError:
            raise LayoutError(f"the entry at byte {pos} has an unreadable name") from None
        if not isinstance(name, str) or (spans and name <= spans[-1].name):
            raise LayoutError(f"the entries are not in order of name at {name!r}")
        spans.append(Span(name, pos, end))
        following = data[end : end + 2]
        if following == b",\n":
            pos = end + 2
            continue
        if data[end:] != b"\n  ]\n}\n":
            raise LayoutError(f"unexpected bytes after the entry {name!r}")
        return StoredCatalog(data, header, spans)


def splice(
    stored: StoredCatalog, header: Mapping[str, Any], changes: Mapping[str, bytes | None]
) -> bytes:
    """The catalog with the entries in `changes` replaced, added (name not there yet) or
    removed (None), and the rest copied as it was."""
    view = memoryview(stored.data)
    names = stored.names
    pending = sorted(changes)
    entries: list[bytes | memoryview] = []
    index = 0
    for name in pending:
        at = bisect.bisect_left(names, name, lo=index)
        entries.extend(view[span.start : span.end] for span in stored.spans[index:at])
        replacement = changes[name]
        if replacement is not None:
            entries.append(replacement)
        index = at + 1 if at < len(names) and names[at] == name else at
    entries.extend(view[span.start : span.end] for span in stored.spans[index:])
    return b"".join(catalog_text(header, entries))
