"""catalog.json as text: its entries found and replaced without parsing the whole document.

catalog.json of 10,000 datasets × 20 versions is some 160 MB; parsing it into Python objects
takes seconds and gigabytes. But the document is always written by `catalog_text` below, in
the one canonical layout of `json.dumps(..., indent=2)`: the entries of "datasets", the last
key, are objects whose opening and closing braces stand alone on lines indented by exactly four
spaces, and whose "name" is on a line indented by six. No string can break a line (JSON escapes
newlines), so those lines are found by a byte search, and an update replaces the entries of the
datasets it touched and copies the rest of the bytes as they were. The result is byte for byte
what `catalog_text` would write for the whole new catalog (tests/catalog/test_catalog_scale.py holds
that for arbitrary entries).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opendata.state import Catalog, CatalogEntry

_DATASETS = b'\n  "datasets": ['
_OPEN = b"    {\n"
_CLOSE = b"\n    }"
_NAME = b'\n      "name": '
_TAIL = b"\n  ]\n}\n"


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
class Span:  # where one entry stands in the document
    name: str
    start: int
    end: int


class CatalogView:
    """A catalog.json by its header, its datasets' names in order and each entry's bytes (as
    entry_text writes them), without the document in one piece."""

    header: Catalog
    names: list[str]

    def entry_bytes(self, name: str) -> bytes | memoryview | None:
        raise NotImplementedError

    def entry(self, name: str) -> CatalogEntry | None:
        raw = self.entry_bytes(name)
        if raw is None:
            return None
        parsed: CatalogEntry = json.loads(bytes(raw))
        return parsed

    def pieces(self) -> Iterator[bytes | memoryview]:
        """The document's bytes, in pieces."""
        return catalog_text(self.header, (self.entry_bytes(n) or b"" for n in self.names))

    def entry_spans(self) -> list[Span]:
        """Where each entry stands in the document `pieces` gives (from the lengths alone)."""
        at = len(head_text(self.header)[0])
        spans = []
        for name in self.names:
            end = at + len(self.entry_bytes(name) or b"")
            spans.append(Span(name, at, end))
            at = end + 2  # the ",\n" between entries
        return spans

    def keeping(self, names: Iterable[str]) -> CatalogView:
        """This catalog holding only the entries of `names` (copied out): what is left of it
        once catalog.json is written, so that the whole document's bytes can go."""
        return PartialCatalog(
            self.header, self.names, {n: bytes(self.entry_bytes(n) or b"") for n in names}
        )


class PartialCatalog(CatalogView):
    """A catalog's header and names with some of its entries; asking for another is a bug."""

    def __init__(self, header: Catalog, names: list[str], entries: Mapping[str, bytes]) -> None:
        self.header = header
        self.names = names
        self._entries = dict(entries)
        self._names = set(names)

    def entry_bytes(self, name: str) -> bytes | None:
        if name not in self._names:
            return None
        return self._entries[name]  # KeyError: an entry that was not kept


class StoredCatalog(CatalogView):
    """catalog.json's bytes, its header (every key but "datasets") and where each entry is."""

    def __init__(self, data: bytes, header: Catalog, spans: list[Span]) -> None:
        self.data = data
        self.header = header
        self.spans = spans
        self.names = [span.name for span in spans]
        self._view = memoryview(data)
        self._where = {span.name: span for span in spans}

    def entry_bytes(self, name: str) -> memoryview | None:
        span = self._where.get(name)
        return None if span is None else self._view[span.start : span.end]


class SplicedCatalog(CatalogView):
    """A stored catalog with some entries replaced, added or removed (None), not yet joined:
    the unchanged entries are slices of the stored bytes."""

    def __init__(
        self, stored: StoredCatalog, header: Catalog, changes: Mapping[str, bytes | None]
    ) -> None:
        self.header = header
        self._stored = stored
        self._changes = dict(changes)
        names = set(stored.names)
        for name, text in changes.items():
            if text is None:
                names.discard(name)
            else:
                names.add(name)
        self.names = sorted(names) if changes else list(stored.names)

    def entry_bytes(self, name: str) -> bytes | memoryview | None:
        if name in self._changes:
            return self._changes[name]
        return self._stored.entry_bytes(name)

    @property
    def unchanged(self) -> bool:
        """Whether the document is byte for byte the stored one."""
        return self.header == self._stored.header and all(
            _same(self._stored.entry_bytes(name), text) for name, text in self._changes.items()
        )


def _same(stored: memoryview | None, text: bytes | None) -> bool:
    if stored is None or text is None:
        return stored is None and text is None
    return stored == memoryview(text)


def parse_layout(data: bytes, known: Sequence[Span] | None = None) -> StoredCatalog:
    """Find the entries of a catalog.json written by catalog_text; LayoutError otherwise.

    `known`: where the entries stood when this very document was written (kept with the
    listings, by its ETag). They are checked, not trusted (each entry's braces, name line and
    separators where they say), and the whole document is searched only if one is off: a
    search of 150 MB is a third of a second, the check of 10,000 spans a hundredth."""
    at = data.find(_DATASETS)
    if at < 0:
        raise LayoutError('no top-level "datasets" list')
    body = at + len(_DATASETS)
    try:
        header_only = data[:body] + b"]\n}\n"
        header: Catalog = json.loads(header_only)
    except ValueError as error:
        raise LayoutError(f"the keys before the datasets are not JSON: {error}") from None
    if not isinstance(header, dict):
        raise LayoutError("not a JSON object")
    spans: list[Span] = []
    if len(data) == body + 4 and data.endswith(b"]\n}\n"):
        return StoredCatalog(data, header, spans)
    if known and _spans_hold(data, body + 1, known):
        return StoredCatalog(data, header, list(known))
    if data.find(_DATASETS, body) >= 0:  # (entries' lines are indented deeper than this)
        raise LayoutError('no single top-level "datasets" list')
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
        if len(data) - end != len(_TAIL) or not data.endswith(_TAIL):
            raise LayoutError(f"unexpected bytes after the entry {name!r}")
        return StoredCatalog(data, header, spans)


def _spans_hold(data: bytes, first: int, spans: Sequence[Span]) -> bool:
    """Whether the entries stand exactly where `spans` say (see parse_layout)."""
    at = first
    previous = ""
    for span in spans:
        name_line = _NAME + json.dumps(span.name, ensure_ascii=False).encode("utf-8")
        if (
            span.start != at
            or span.end < at + len(_OPEN) + len(_CLOSE)
            or span.name <= previous
            or not data.startswith(_OPEN, at)
            or not data.startswith(name_line, at + len(_OPEN) - 1)
            or not data.startswith(_CLOSE, span.end - len(_CLOSE))
        ):
            return False
        previous = span.name
        at = span.end + 2
        if not data.startswith(b",\n", span.end):
            return len(data) - span.end == len(_TAIL) and data.endswith(_TAIL) and span is spans[-1]
    return False


def splice(stored: StoredCatalog, header: Catalog, changes: Mapping[str, bytes | None]) -> bytes:
    """The catalog with the entries in `changes` replaced, added (name not there yet) or
    removed (None), and the rest copied as it was."""
    return b"".join(SplicedCatalog(stored, header, changes).pieces())
