"""Version numbers from a diff: the Frictionless "Data Package Version" recipe.

MAJOR: a field added, removed, renamed or re-typed, a constraint made stricter, the primary key
changed, a resource removed. MINOR: rows added, a resource added, a constraint relaxed. PATCH:
values corrected or rows removed (no schema change), or descriptive metadata changed.
The changes (this module's model, the content of changes.json) are found by diffing.py, from the
two packages' descriptors and CSV files, as joins over the files on disk. A steward may ask for a
larger bump, never a smaller one. Of the listed added and removed rows every value is kept, so
that a reader sees what a row held, not only its key (`added_rows`, `removed_rows` in
changes.json, since that release).

The change summary is English (`Changes.summary`, stored in versions.json since the first
release); `summary_sv` says the same in Swedish for DCAT and changes.json, from that text,
so versions published before it existed read in Swedish too. `change_text` is the summary as
people read it on the pages (Swedish) and in the CLI (English): the same, with the changed
metadata named in words ("källor ändrade" / "sources changed") instead of descriptor keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opendata.state import BUMP_ORDER, FIRST_VERSION, SemVer
from opendata.state import Bump as Bump  # where the flows and the CLI import it from

ORDER = BUMP_ORDER
# Of each kind of row change (added, removed, changed) in a resource, the first this many rows
# (in key order) are listed by key in changes.json, the changed ones with their old → new cells;
# the counts say how many there are in all.
LISTED_KEYS = 20
# A listed cell value longer than this is cut (a cell may hold a long text).
CELL_CHARS = 200
VOLATILE = ("version", "created", "resources")


def larger(first: Bump, second: Bump) -> Bump:
    return first if ORDER[first] >= ORDER[second] else second


def next_version(previous: SemVer | None, required: Bump, requested: Bump | None) -> SemVer:
    """The first version, or the previous one bumped by max(required, requested)."""
    if previous is None:
        return FIRST_VERSION
    return previous.bump(larger(required, requested) if requested else required)


@dataclass
class SchemaChange:
    kind: str
    field: str | None
    detail: str
    bump: Bump

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field, "detail": self.detail, "bump": self.bump}


@dataclass
class CellChange:
    """One cell of a changed row: its field, and its text before and after (cut when long)."""

    field: str
    old: str
    new: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class RowChange:
    """A changed row: its key and the cells whose values differ."""

    key: list[str]
    cells: list[CellChange]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "cells": [cell.to_dict() for cell in self.cells]}


@dataclass
class ListedRows:
    """The listed added (or removed) rows of a resource with all their values: the fields of the
    version the rows are in, and each row's cells in that order (as the CSV has them; a long
    cell cut, a key never), in the order of the keys listed."""

    fields: list[str]
    rows: list[list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {"fields": self.fields, "rows": self.rows}

    def by_key(self, key_fields: Sequence[str]) -> dict[tuple[str, ...], dict[str, str]]:
        """Each row as {field: value}, by its key (empty when a key field is not among the
        fields: a changes.json that does not fit)."""
        if not all(name in self.fields for name in key_fields):
            return {}
        found = {}
        for row in self.rows:
            cells = dict(zip(self.fields, row, strict=False))
            found[tuple(cells.get(name, "") for name in key_fields)] = cells
        return found

    @classmethod
    def from_dict(cls, record: Any) -> ListedRows | None:
        if not isinstance(record, dict):
            return None
        fields, rows = record.get("fields"), record.get("rows")
        if not isinstance(fields, list) or not isinstance(rows, list):
            return None
        return cls(
            [str(name) for name in fields],
            [[str(cell) for cell in row] for row in rows if isinstance(row, list)],
        )


@dataclass
class ResourceChanges:
    name: str
    status: str  # added | removed | changed | unchanged
    rows_added: int = 0
    rows_removed: int = 0
    rows_changed: int = 0
    # The first LISTED_KEYS keys of each kind: {"fields": [[key fields]], "added": [[...]], ...}
    keys: dict[str, list[list[str]]] | None = None
    schema: list[SchemaChange] = field(default_factory=list)
    # The listed changed rows with their cells before and after (None: not looked up).
    values: list[RowChange] | None = None
    # The listed added rows with every value of the new version, the removed ones with every
    # value of the old (None: not looked up, as before this release or without a primary key).
    added_rows: ListedRows | None = None
    removed_rows: ListedRows | None = None

    @property
    def bump(self) -> Bump | None:
        if self.status == "removed":
            return "major"
        if self.status == "added":
            return "minor"
        result: Bump | None = None
        for change in self.schema:
            result = larger(result, change.bump) if result else change.bump
        if self.rows_added:
            result = larger(result, "minor") if result else "minor"
        if self.rows_removed or self.rows_changed:
            result = larger(result, "patch") if result else "patch"
        return result

    def summary(self) -> str:
        if self.status in ("added", "removed"):
            return f"{self.name}: resource {self.status}"
        parts = []
        if self.rows_added:
            parts.append(f"{rows(self.rows_added)} added")
        if self.rows_removed:
            parts.append(f"{rows(self.rows_removed)} removed")
        if self.rows_changed:
            parts.append(f"{rows(self.rows_changed)} changed")
        parts.extend(change.detail for change in self.schema)
        return f"{self.name}: {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_changed": self.rows_changed,
            "schema_changes": [change.to_dict() for change in self.schema],
        }
        if self.keys is not None:
            result["keys"] = self.keys
        if self.values is not None:
            result["changed_values"] = [row.to_dict() for row in self.values]
        if self.added_rows is not None:
            result["added_rows"] = self.added_rows.to_dict()
        if self.removed_rows is not None:
            result["removed_rows"] = self.removed_rows.to_dict()
        return result

    def listed_rows(self, kind: str) -> list[tuple[list[str], dict[str, str] | None]]:
        """The listed keys of `kind` (added, removed, changed), each with the row's values
        where changes.json has them (added and removed rows of this release on), else None."""
        if self.keys is None:
            return []
        listed = self.keys.get(kind, [])
        found = {"added": self.added_rows, "removed": self.removed_rows}.get(kind)
        values = found.by_key(self.keys["fields"][0]) if found is not None else {}
        return [(key, values.get(tuple(key))) for key in listed]

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ResourceChanges:
        """A resource's entry of a stored changes.json, of any release (older ones list keys
        only when few rows changed, and no values); what does not fit is left out."""
        schema = [
            SchemaChange(
                str(c.get("kind", "")),
                c.get("field") if isinstance(c.get("field"), str) else None,
                str(c.get("detail", "")),
                c["bump"] if c.get("bump") in ORDER else "patch",
            )
            for c in _dicts(record.get("schema_changes"))
        ]
        keys = record.get("keys")
        values = record.get("changed_values")
        return cls(
            str(record.get("name", "")),
            str(record.get("status", "changed")),
            _count(record.get("rows_added")),
            _count(record.get("rows_removed")),
            _count(record.get("rows_changed")),
            keys if _is_keys(keys) else None,
            schema,
            [
                RowChange(
                    [str(k) for k in row.get("key") or []],
                    [
                        CellChange(str(c.get("field")), str(c.get("old")), str(c.get("new")))
                        for c in _dicts(row.get("cells"))
                    ],
                )
                for row in _dicts(values)
            ]
            if isinstance(values, list)
            else None,
            ListedRows.from_dict(record.get("added_rows")),
            ListedRows.from_dict(record.get("removed_rows")),
        )


def rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


# Why a version needs its bump, in the order they are told (within one bump).
REASONS = (
    "schema changed",
    "resource removed",
    "resource added",
    "rows added",
    "rows removed",
    "values changed",
    "metadata changed",
)


@dataclass
class Changes:
    """What changed between two versions: the content of changes.json."""

    resources: list[ResourceChanges]
    metadata: list[str]

    @property
    def required_bump(self) -> Bump:
        result: Bump = "patch"
        for resource in self.resources:
            bump = resource.bump
            if bump:
                result = larger(result, bump)
        return result

    @property
    def empty(self) -> bool:
        return not self.metadata and all(r.status == "unchanged" for r in self.resources)

    def summary(self) -> str:
        parts = [r.summary() for r in self.resources if r.status != "unchanged"]
        if self.metadata:
            parts.append(f"metadata changed: {', '.join(self.metadata)}")
        return "; ".join(parts) or "no changes"

    def reasons(self) -> list[tuple[str, Bump]]:
        """Each kind of change found and the bump it needs, the largest first: why the version
        is the one it is (rows added, values changed, schema changed, ...)."""
        found: dict[str, Bump] = {}

        def add(reason: str, bump: Bump) -> None:
            found[reason] = larger(found[reason], bump) if reason in found else bump

        for resource in self.resources:
            if resource.status in ("added", "removed"):
                add(f"resource {resource.status}", resource.bump or "patch")
                continue
            for change in resource.schema:
                if change.kind in ("resource-metadata", "field-metadata"):
                    add("metadata changed", change.bump)
                else:
                    add("schema changed", change.bump)
            if resource.rows_added:
                add("rows added", "minor")
            if resource.rows_removed:
                add("rows removed", "patch")
            if resource.rows_changed:
                add("values changed", "patch")
        if self.metadata:
            add("metadata changed", "patch")
        return sorted(found.items(), key=lambda item: (-ORDER[item[1]], REASONS.index(item[0])))

    def why(self, bump: Bump | None = None) -> str:
        """The required bump and each reason with the bump it needs: 'minor: rows added
        (minor), values changed (patch)'; with a steward's larger `bump`, that one first."""
        required = self.required_bump
        reasons = ", ".join(f"{reason} ({level})" for reason, level in self.reasons())
        text = f"{required}: {reasons or 'files changed'}"
        if bump is not None and ORDER[bump] > ORDER[required]:
            text = f"{bump} as asked; the changes need {text}"
        return text

    def headline(self) -> str:
        """'minor change (rows added, values changed)', or 'no change'."""
        if self.empty:
            return "no change"
        reasons = ", ".join(reason for reason, _ in self.reasons())
        return f"{self.required_bump} change ({reasons})" if reasons else "patch change"

    def to_dict(
        self, previous: str | None, version: str, bump: Bump | None, message: str | None = None
    ) -> dict[str, Any]:
        summary = self.summary() if previous else "first version"
        record: dict[str, Any] = {
            "from": previous,
            "to": version,
            "bump": bump,
            "required_bump": self.required_bump if previous else None,
            "reasons": [{"reason": reason, "bump": level} for reason, level in self.reasons()]
            if previous
            else [],
            "summary": summary,
            "summary_sv": summary_sv(summary),
            "message": message,
            "metadata_changed": self.metadata,
            "resources": [r.to_dict() for r in self.resources],
        }
        if self.metadata:
            # The changed metadata in words beside its keys (this release on, and only where
            # some changed, so that a version's changes.json of before reads as it did).
            record["metadata_changes"] = [
                {"name": item, "en": en, "sv": sv}
                for item, en, sv in zip(
                    self.metadata,
                    metadata_words(self.metadata, "en"),
                    metadata_words(self.metadata, "sv"),
                    strict=True,
                )
            ]
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Changes:
        """A stored changes.json (of any release) read back."""
        metadata = record.get("metadata_changed")
        return cls(
            [ResourceChanges.from_dict(r) for r in _dicts(record.get("resources"))],
            [str(m) for m in metadata] if isinstance(metadata, list) else [],
        )


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _is_keys(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(isinstance(value.get(k), list) for k in ("fields", "added", "removed", "changed"))
        and bool(value["fields"])
        and isinstance(value["fields"][0], list)
    )


# -- the summary in Swedish and the changes as lines ------------------------------------------

_NAME = r"([^,;]+?)"
_END = r"(?=, |; |$)"


def _plural(one: str, many: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"{m.group(1)} {one if m.group(1) == '1' else many}"


# Every phrase Changes.summary writes (and the "1 rows" of releases before it said "1 row").
_SWEDISH: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^first version$"), "första versionen"),
    (re.compile(r"^no changes$"), "inga ändringar"),
    (re.compile(r"\b(\d+) rows? added\b"), _plural("rad tillagd", "rader tillagda")),
    (re.compile(r"\b(\d+) rows? removed\b"), _plural("rad borttagen", "rader borttagna")),
    (re.compile(r"\b(\d+) rows? changed\b"), _plural("rad ändrad", "rader ändrade")),
    (re.compile(r": resource added" + _END), ": resursen tillagd"),
    (re.compile(r": resource removed" + _END), ": resursen borttagen"),
    (re.compile(rf"\bfield {_NAME} renamed to {_NAME}{_END}"), r"fältet \1 har bytt namn till \2"),
    (re.compile(rf"\bfield {_NAME} re-typed "), r"fältet \1 har ny typ: "),
    (re.compile(rf"\bfield {_NAME} description changed{_END}"), r"fältet \1: ny beskrivning"),
    (re.compile(rf"\bfield {_NAME} removed{_END}"), r"fältet \1 borttaget"),
    (re.compile(rf"\bfield {_NAME} added{_END}"), r"fältet \1 tillagt"),
    (re.compile(r"\bfield ([^,;:]+?): "), r"fältet \1: "),
    (re.compile(r"\bprimary key changed\b"), "ny primärnyckel"),
    (re.compile(r"\bforeign keys added or changed\b"), "främmande nycklar tillagda eller ändrade"),
    (re.compile(r"\bforeign keys removed\b"), "främmande nycklar borttagna"),
    (re.compile(r"\bdescriptive metadata changed\b"), "ändrad beskrivning"),
    (re.compile(r"(^|; )metadata changed: "), r"\1ändrad metadata: "),
    (re.compile(r"\bformats added: "), "nya format: "),
]


def summary_sv(summary: str | None) -> str:
    """A change summary (Changes.summary's English) in Swedish: '1 rows changed' → '1 rad
    ändrad'. Names of resources, fields and metadata keys stay as they are."""
    text = summary or ""
    for pattern, swedish in _SWEDISH:
        text = pattern.sub(swedish, text)
    return text


# The package's descriptive keys (in the shape the diff compares, package.comparable) in words:
# what changed, in English and in Swedish.
METADATA_WORDS: dict[str, tuple[str, str]] = {
    "name": ("name changed", "namn ändrat"),
    "title": ("title changed", "titel ändrad"),
    "description": ("description changed", "beskrivning ändrad"),
    "licenses": ("licence changed", "licens ändrad"),
    "keywords": ("keywords changed", "nyckelord ändrade"),
    "sources": ("sources changed", "källor ändrade"),
    "contributors": ("contributors changed", "medverkande ändrade"),
    "translations": (
        "English title or description changed",
        "engelsk titel eller beskrivning ändrad",
    ),
    "themes": ("themes changed", "teman ändrade"),
    "accrualPeriodicity": ("update frequency changed", "uppdateringsfrekvens ändrad"),
    "contactPoint": ("contact point changed", "kontaktuppgifter ändrade"),
    "spatial": ("spatial coverage changed", "område ändrat"),
    "temporal": ("temporal coverage changed", "tidsperiod ändrad"),
    "attribution": ("attribution changed", "källhänvisning ändrad"),
    "homepage": ("homepage changed", "webbplats ändrad"),
    "profile": ("package profile changed", "paketprofil ändrad"),
}
_FORMATS_ADDED = "formats added: "


def metadata_words(items: Sequence[str], lang: str) -> list[str]:
    """Changes.metadata (descriptor keys, and 'formats added: csv, parquet') in words, English
    ('sources changed') or Swedish ('källor ändrade'); a key without words is named as it is."""
    words = []
    for item in items:
        if item.startswith(_FORMATS_ADDED):
            formats = item[len(_FORMATS_ADDED) :]
            words.append(item if lang == "en" else f"nya format: {formats}")
        elif item in METADATA_WORDS:
            words.append(METADATA_WORDS[item][0 if lang == "en" else 1])
        else:
            words.append(f"{item} changed" if lang == "en" else f"{item} ändrad")
    return words


_METADATA_PART = re.compile(r"(?:^|; )metadata changed: ")


def split_metadata(summary: str) -> tuple[str, list[str]]:
    """A summary's parts before 'metadata changed: …' (always its last part) and the metadata
    items it names: 'mal: 1 row added; metadata changed: sources, temporal' → ('mal: 1 row
    added', ['sources', 'temporal'])."""
    found = _METADATA_PART.search(summary)
    if found is None:
        return summary, []
    tail = summary[found.end() :]
    formats = ""
    if _FORMATS_ADDED in tail:
        at = tail.index(_FORMATS_ADDED)
        tail, formats = tail[:at].rstrip(", "), tail[at:]
    items = [item for item in tail.split(", ") if item]
    return summary[: found.start()], items + ([formats] if formats else [])


def change_text(summary: str | None, lang: str = "sv") -> str:
    """A stored change summary as people read it: in Swedish (the pages) or English (the CLI),
    the changed metadata named in words: 'metadata changed: sources, temporal' → 'källor
    ändrade, tidsperiod ändrad' / 'sources changed, temporal coverage changed'. Works on the
    summaries of every release (they are read back from versions.json and catalog.json)."""
    head, items = split_metadata(summary or "")
    text = summary_sv(head) if lang == "sv" else head
    if items:
        words = ", ".join(metadata_words(items, lang))
        text = f"{text}; {words}" if text else words
    return text


def shown_value(text: str) -> str:
    """A cell's text for a terminal line: '(empty)' for none, quoted when spaces or line
    breaks would hide where it begins or ends."""
    if text == "":
        return "(empty)"
    if text != text.strip() or any(c in text for c in "\r\n\t,;→") or text.startswith('"'):
        return json.dumps(text, ensure_ascii=False)
    return text


def key_text(fields: list[str], key: list[str]) -> str:
    """A row's key as `field=value` pairs: 'kommunkod=1490, ar=2023'."""
    return ", ".join(f"{f}={shown_value(v)}" for f, v in zip(fields, key, strict=False))


def row_lines(resource: ResourceChanges, limit: int | None = None) -> list[str]:
    """The listed rows of a resource's changes, one line each (changed ones with their cells
    old → new, added and removed ones with their other values, empty cells left out), at most
    `limit` of each kind, and how many more there are."""
    if resource.keys is None or resource.status not in ("changed", "unchanged"):
        return []
    fields = resource.keys["fields"][0]
    lines: list[str] = []
    values = {tuple(row.key): row for row in resource.values or []}
    kinds = (
        ("changed", resource.rows_changed),
        ("added", resource.rows_added),
        ("removed", resource.rows_removed),
    )
    for kind, total in kinds:
        listed = resource.listed_rows(kind)
        shown = listed if limit is None else listed[:limit]
        for key, cells in shown:
            line = f"{kind} {key_text(fields, key)}"
            row = values.get(tuple(key))
            if row is not None and row.cells:
                changed = "; ".join(
                    f"{c.field} {shown_value(c.old)} → {shown_value(c.new)}" for c in row.cells
                )
                line += f": {changed}"
            elif cells:
                others = [name for name, value in cells.items() if name not in fields and value]
                if others:
                    line += f": {key_text(others, [cells[name] for name in others])}"
            lines.append(line)
        more = total - len(shown)
        if more > 0:
            lines.append(f"… and {more} more {'row' if more == 1 else 'rows'} {kind}")
    return lines
