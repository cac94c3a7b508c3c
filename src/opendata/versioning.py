"""Version numbers from a diff: the Frictionless "Data Package Version" recipe.

MAJOR: a field added, removed, renamed or re-typed, a constraint made stricter, the primary key
changed, a resource removed. MINOR: rows added, a resource added, a constraint relaxed. PATCH:
values corrected or rows removed (no schema change), or descriptive metadata changed.
The diff is computed from the two packages' descriptors and CSV files (rows keyed on the primary
key); a steward may ask for a larger bump, never a smaller one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Bump = Literal["major", "minor", "patch"]
ORDER: dict[str, int] = {"patch": 0, "minor": 1, "major": 2}
FIRST_VERSION = "1.0.0"
LISTED_KEYS = 20  # changes of at most this many rows list their keys in changes.json
VOLATILE = ("version", "created", "resources")


def parse(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def bumped(version: str, bump: Bump) -> str:
    major, minor, patch = parse(version)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def larger(first: Bump, second: Bump) -> Bump:
    return first if ORDER[first] >= ORDER[second] else second


def next_version(previous: str | None, required: Bump, requested: Bump | None) -> str:
    """The first version, or the previous one bumped by max(required, requested)."""
    if previous is None:
        return FIRST_VERSION
    return bumped(previous, larger(required, requested) if requested else required)


@dataclass
class SchemaChange:
    kind: str
    field: str | None
    detail: str
    bump: Bump

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field, "detail": self.detail, "bump": self.bump}


@dataclass
class ResourceChanges:
    name: str
    status: str  # added | removed | changed | unchanged
    rows_added: int = 0
    rows_removed: int = 0
    rows_changed: int = 0
    keys: dict[str, list[list[str]]] | None = None
    schema: list[SchemaChange] = field(default_factory=list)

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
            parts.append(f"{self.rows_added} rows added")
        if self.rows_removed:
            parts.append(f"{self.rows_removed} rows removed")
        if self.rows_changed:
            parts.append(f"{self.rows_changed} rows changed")
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
        return result


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

    def to_dict(self, previous: str | None, version: str, bump: Bump | None) -> dict[str, Any]:
        return {
            "from": previous,
            "to": version,
            "bump": bump,
            "required_bump": self.required_bump if previous else None,
            "summary": self.summary() if previous else "first version",
            "metadata_changed": self.metadata,
            "resources": [r.to_dict() for r in self.resources],
        }


def table_resources(descriptor: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The CSV resources (each table once; its JSON twin holds the same rows)."""
    return {r["name"]: r for r in descriptor.get("resources", []) if r.get("format") == "csv"}


def diff(
    old: Mapping[str, Any],
    old_files: Mapping[str, bytes],
    new: Mapping[str, Any],
    new_files: Mapping[str, bytes],
) -> Changes:
    """The changes from package `old` to package `new` (descriptors and their CSV files by path)."""
    old_tables = table_resources(old)
    new_tables = table_resources(new)
    resources: list[ResourceChanges] = []
    for name in [*old_tables, *(n for n in new_tables if n not in old_tables)]:
        if name not in new_tables:
            rows = _rows(old_files.get(old_tables[name]["path"], b""))
            resources.append(ResourceChanges(name, "removed", rows_removed=len(rows)))
            continue
        if name not in old_tables:
            rows = _rows(new_files.get(new_tables[name]["path"], b""))
            resources.append(ResourceChanges(name, "added", rows_added=len(rows)))
            continue
        before, after = old_tables[name], new_tables[name]
        schema_changes = diff_schema(before["schema"], after["schema"])
        changes = diff_rows(
            before["schema"],
            old_files.get(before["path"], b""),
            after["schema"],
            new_files.get(after["path"], b""),
        )
        changes.name = name
        changes.schema = schema_changes
        described = {k: v for k, v in before.items() if k not in _FILE_KEYS}
        if described != {k: v for k, v in after.items() if k not in _FILE_KEYS}:
            changes.schema.append(
                SchemaChange("resource-metadata", None, "descriptive metadata changed", "patch")
            )
        if changes.rows_added or changes.rows_removed or changes.rows_changed or changes.schema:
            changes.status = "changed"
        resources.append(changes)
    metadata = sorted(
        key for key in set(old) | set(new) if key not in VOLATILE and old.get(key) != new.get(key)
    )
    return Changes(resources, metadata)


_FILE_KEYS = {"path", "bytes", "hash", "schema"}


def _rows(data: bytes) -> list[dict[str, str]]:
    if not data:
        return []
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _key_fields(schema: Mapping[str, Any]) -> list[str] | None:
    key = schema.get("primaryKey")
    if not key:
        return None
    return [key] if isinstance(key, str) else list(key)


def diff_rows(
    old_schema: Mapping[str, Any], old: bytes, new_schema: Mapping[str, Any], new: bytes
) -> ResourceChanges:
    """Rows added, removed and changed, keyed on the primary key (the whole row without one)."""
    old_rows, new_rows = _rows(old), _rows(new)
    old_key, new_key = _key_fields(old_schema), _key_fields(new_schema)
    common = [
        f["name"]
        for f in new_schema["fields"]
        if f["name"] in {g["name"] for g in old_schema["fields"]}
    ]
    key = old_key if old_key and old_key == new_key else None

    def key_of(row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row.get(name, "") for name in (key or common))

    def values(row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row.get(name, "") for name in common)

    before = {key_of(row): values(row) for row in old_rows}
    after = {key_of(row): values(row) for row in new_rows}
    added = [k for k in after if k not in before]
    removed = [k for k in before if k not in after]
    changed = [k for k in after if k in before and after[k] != before[k]] if key else []
    result = ResourceChanges("", "unchanged", len(added), len(removed), len(changed))
    if 0 < len(added) + len(removed) + len(changed) <= LISTED_KEYS:
        result.keys = {
            "fields": [list(key or common)],
            "added": [list(k) for k in added],
            "removed": [list(k) for k in removed],
            "changed": [list(k) for k in changed],
        }
    return result


_STRICTER_WHEN_ADDED = {
    "required",
    "unique",
    "pattern",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "exclusiveMinimum",
    "exclusiveMaximum",
}


def diff_schema(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[SchemaChange]:
    """Schema changes with the bump each one needs."""
    changes: list[SchemaChange] = []
    old_fields = {f["name"]: f for f in old.get("fields", [])}
    new_fields = {f["name"]: f for f in new.get("fields", [])}
    old_order = list(old_fields)
    new_order = list(new_fields)
    removed = [n for n in old_order if n not in new_fields]
    added = [n for n in new_order if n not in old_fields]
    renamed: set[str] = set()
    for name in removed:
        position = old_order.index(name)
        if position < len(new_order) and new_order[position] in added:
            target = new_order[position]
            if old_fields[name].get("type") == new_fields[target].get("type"):
                changes.append(
                    SchemaChange(
                        "field-renamed", name, f"field {name} renamed to {target}", "major"
                    )
                )
                renamed.update((name, target))
    for name in removed:
        if name not in renamed:
            changes.append(SchemaChange("field-removed", name, f"field {name} removed", "major"))
    for name in added:
        if name not in renamed:
            changes.append(SchemaChange("field-added", name, f"field {name} added", "major"))
    for name in (n for n in new_order if n in old_fields):
        before, after = old_fields[name], new_fields[name]
        old_type, new_type = before.get("type", "string"), after.get("type", "string")
        if old_type != new_type:
            detail = f"field {name} re-typed {old_type} → {new_type}"
            changes.append(SchemaChange("field-retyped", name, detail, "major"))
        changes.extend(
            _constraint_changes(name, before.get("constraints", {}), after.get("constraints", {}))
        )
        described_before = {k: v for k, v in before.items() if k not in ("type", "constraints")}
        described_after = {k: v for k, v in after.items() if k not in ("type", "constraints")}
        if described_before != described_after:
            changes.append(
                SchemaChange("field-metadata", name, f"field {name} description changed", "patch")
            )
    if _key_fields(old) != _key_fields(new):
        changes.append(SchemaChange("primary-key", None, "primary key changed", "major"))
    old_fk, new_fk = old.get("foreignKeys", []), new.get("foreignKeys", [])
    if old_fk != new_fk:
        stricter = any(fk not in old_fk for fk in new_fk)
        changes.append(
            SchemaChange(
                "foreign-keys",
                None,
                "foreign keys " + ("added or changed" if stricter else "removed"),
                "major" if stricter else "minor",
            )
        )
    return changes


def _constraint_changes(
    name: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[SchemaChange]:
    changes = []
    for constraint in sorted(set(old) | set(new)):
        before, after = old.get(constraint), new.get(constraint)
        if before == after:
            continue
        stricter = _is_stricter(constraint, before, after)
        changes.append(
            SchemaChange(
                "constraint-stricter" if stricter else "constraint-relaxed",
                name,
                f"field {name}: {constraint} {before!r} → {after!r}",
                "major" if stricter else "minor",
            )
        )
    return changes


def _is_stricter(constraint: str, before: Any, after: Any) -> bool:
    if after is None or after is False:
        return False
    if before is None or before is False:
        return constraint in _STRICTER_WHEN_ADDED
    if constraint in ("minimum", "minLength", "exclusiveMinimum"):
        return bool(after > before)
    if constraint in ("maximum", "maxLength", "exclusiveMaximum"):
        return bool(after < before)
    if constraint == "enum":
        return not set(after) >= set(before)
    return True  # a changed pattern (or anything we cannot order) may reject old values
