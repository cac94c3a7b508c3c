"""The diff of two versions of a package, by the engine: what `opendata diff`, a publish and
its changes.json say changed.

Both versions are read in one shape (`package.comparable`); their CSV files are compared as
joins on disk, rows keyed on the primary key (or whole rows without one), so neither version is
ever held as Python rows. Only for the first LISTED_KEYS changed keys of a resource are the old
and new rows fetched (a semi-join of each file with those keys) to say which cells went from
what to what, and every value of the listed added and removed rows; the rest are counted. The
schemas are compared field by field for the bump each change needs (versioning.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opendata.engine.db import connect, quote_identifier, quote_literal
from opendata.package import comparable
from opendata.versioning import (
    CELL_CHARS,
    LISTED_KEYS,
    VOLATILE,
    CellChange,
    Changes,
    ListedRows,
    ResourceChanges,
    RowChange,
    SchemaChange,
)


def table_resources(descriptor: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The CSV resources (each table once; its JSON twin holds the same rows)."""
    return {r["name"]: r for r in descriptor.get("resources", []) if r.get("format") == "csv"}


def diff(
    old: Mapping[str, Any],
    old_files: Mapping[str, Path],
    new: Mapping[str, Any],
    new_files: Mapping[str, Path],
    scratch: Path | None = None,
) -> Changes:
    """The changes from package `old` to package `new` (descriptors and their CSV files by path).

    Both are read in one shape (`package.comparable`), so that a v1 descriptor before a v2 one
    differs only where their content does, not in the descriptor format."""
    old, new = comparable(old), comparable(new)
    old_tables = table_resources(old)
    new_tables = table_resources(new)
    resources: list[ResourceChanges] = []
    for name in [*old_tables, *(n for n in new_tables if n not in old_tables)]:
        if name not in new_tables:
            resource = old_tables[name]
            rows = count_rows(resource["schema"], old_files.get(resource["path"]))
            resources.append(ResourceChanges(name, "removed", rows_removed=rows))
            continue
        if name not in old_tables:
            resource = new_tables[name]
            rows = count_rows(resource["schema"], new_files.get(resource["path"]))
            resources.append(ResourceChanges(name, "added", rows_added=rows))
            continue
        before, after = old_tables[name], new_tables[name]
        schema_changes = diff_schema(before["schema"], after["schema"])
        changes = diff_rows(
            before["schema"],
            old_files.get(before["path"]),
            after["schema"],
            new_files.get(after["path"]),
            scratch,
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
    added_formats = sorted(_formats(new) - _formats(old))
    if added_formats:
        metadata.append(f"formats added: {', '.join(added_formats)}")
    return Changes(resources, metadata)


_FILE_KEYS = {"path", "bytes", "hash", "schema"}


def _formats(descriptor: Mapping[str, Any]) -> set[str]:
    return {str(r.get("format")) for r in descriptor.get("resources", [])}


def _csv_relation(schema: Mapping[str, Any], path: Path | None, positions: bool = True) -> str:
    """A published CSV as a relation of text columns (empty cells as ''), with row positions."""
    names = [f["name"] for f in schema["fields"]]
    position = ", row_number() OVER () AS __pos" if positions else ""
    if path is None or not path.exists() or path.stat().st_size == 0:
        columns = ", ".join(f"NULL::VARCHAR AS {quote_identifier(n)}" for n in names)
        empty_position = ", NULL::BIGINT AS __pos" if positions else ""
        return f"(SELECT {columns}{empty_position} LIMIT 0)"
    types = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    cells = ", ".join(
        f"coalesce({quote_identifier(n)}, '') AS {quote_identifier(n)}" for n in names
    )
    return (
        f"(SELECT {cells}{position} FROM read_csv("
        f"{quote_literal(str(path))}, header = true, auto_detect = false, delim = ',', "
        f"quote = '\"', escape = '\"', columns = {{{types}}}))"
    )


def count_rows(schema: Mapping[str, Any], path: Path | None) -> int:
    with connect() as con:
        found = con.execute(f"SELECT count(*) FROM {_csv_relation(schema, path)}").fetchone()
    return int(found[0]) if found else 0


def _key_fields(schema: Mapping[str, Any]) -> list[str] | None:
    key = schema.get("primaryKey")
    if not key:
        return None
    return [key] if isinstance(key, str) else list(key)


def diff_rows(
    old_schema: Mapping[str, Any],
    old: Path | None,
    new_schema: Mapping[str, Any],
    new: Path | None,
    scratch: Path | None = None,
) -> ResourceChanges:
    """Rows added, removed and changed, keyed on the primary key (the whole row without one).

    Keys are compared as the CSV's text; with duplicate keys (only possible without a primary
    key) the last row of a key is its value and its first position its place, as a dict would.
    """
    old_key, new_key = _key_fields(old_schema), _key_fields(new_schema)
    old_names = {g["name"] for g in old_schema["fields"]}
    common = [f["name"] for f in new_schema["fields"] if f["name"] in old_names]
    key = old_key if old_key and old_key == new_key else None
    keys = list(key or common)
    values = common
    if not keys:
        return ResourceChanges("", "unchanged")
    if key:
        return _diff_keyed(key, values, old_schema, old, new_schema, new, scratch)
    key_list = ", ".join(quote_identifier(k) for k in keys)
    packed = ", ".join(f"{quote_literal(v)}: {quote_identifier(v)}" for v in values)

    def grouped(relation: str) -> str:
        return (
            f"(SELECT {key_list}, min(__pos) AS first, arg_max({{{packed}}}, __pos) AS vals "
            f"FROM {relation} GROUP BY ALL)"
        )

    joined = (
        "SELECT CASE WHEN b.first IS NULL THEN 'added' WHEN a.first IS NULL THEN 'removed' "
        "WHEN a.vals IS DISTINCT FROM b.vals THEN 'changed' END AS __change, "
        "coalesce(a.first, b.first) AS __place, "
        + ", ".join(
            f"coalesce(a.{quote_identifier(k)}, b.{quote_identifier(k)}) AS __k{i}"
            for i, k in enumerate(keys)
        )
        + f" FROM {grouped(_csv_relation(new_schema, new))} a "
        f"FULL OUTER JOIN {grouped(_csv_relation(old_schema, old))} b USING ({key_list})"
    )
    with connect(scratch) as con:
        con.execute(
            f"CREATE TEMP TABLE changed_rows AS SELECT * FROM ({joined}) WHERE __change IS NOT NULL"
        )
        counts = dict(
            con.execute("SELECT __change, count(*) FROM changed_rows GROUP BY ALL").fetchall()
        )
        added, removed = int(counts.get("added", 0)), int(counts.get("removed", 0))
        result = ResourceChanges("", "unchanged", added, removed, 0)
        if added + removed:
            listed = con.execute(
                "SELECT * EXCLUDE (__place) FROM changed_rows QUALIFY row_number() OVER "
                f"(PARTITION BY __change ORDER BY __place) <= {LISTED_KEYS} ORDER BY __place"
            ).fetchall()
            result.keys = {
                "fields": [keys],
                "added": [[str(c) for c in row[1:]] for row in listed if row[0] == "added"],
                "removed": [[str(c) for c in row[1:]] for row in listed if row[0] == "removed"],
                "changed": [],
            }
    return result


def _diff_keyed(
    key: list[str],
    values: list[str],
    old_schema: Mapping[str, Any],
    old: Path | None,
    new_schema: Mapping[str, Any],
    new: Path | None,
    scratch: Path | None,
) -> ResourceChanges:
    """With a primary key both versions hold each key once (both were valid): one full outer
    join, no grouping. The first LISTED_KEYS keys of each kind come out in the files' own
    (primary-key) order; for the changed ones among them, each file is read once more for
    just those rows (a semi-join), so that their cells can be told old → new."""
    key_list = ", ".join(quote_identifier(k) for k in key)
    # Each side is its keys and a 128-bit digest of its values: the join's hash table holds
    # those, not the rows' text, so it stays small (and spills little) at millions of rows.
    # Length-prefixed, so that no two different rows read the same ("ab" + "c" vs "a" + "bc").
    parts = [f"length({quote_identifier(v)}), ':', {quote_identifier(v)}" for v in values]
    joined_parts = ", ".join(parts) or "''"
    digest = f"md5_number(concat({joined_parts}))"

    def side(schema: Mapping[str, Any], path: Path | None) -> str:
        return (
            f"(SELECT {key_list}, {digest} AS __digest FROM {_csv_relation(schema, path, False)})"
        )

    joined = (
        "SELECT CASE WHEN b.__digest IS NULL THEN 'added' "
        "WHEN a.__digest IS NULL THEN 'removed' ELSE 'changed' END AS __change, "
        + ", ".join(
            f"coalesce(a.{quote_identifier(k)}, b.{quote_identifier(k)}) AS __k{i}"
            for i, k in enumerate(key)
        )
        + f" FROM {side(new_schema, new)} a FULL OUTER JOIN {side(old_schema, old)} b "
        f"USING ({key_list}) "
        f"WHERE a.__digest IS NULL OR b.__digest IS NULL OR a.__digest <> b.__digest"
    )
    # The published files' primary-key order (as _sort_key): numbers first, by value, then text.
    order = ", ".join(
        f"try_cast(__k{i} AS DOUBLE) IS NULL, try_cast(__k{i} AS DOUBLE), __k{i}"
        for i in range(len(key))
    )
    with connect(scratch) as con:
        con.execute(f"CREATE TEMP TABLE changed_rows AS {joined}")
        counts = dict(
            con.execute("SELECT __change, count(*) FROM changed_rows GROUP BY ALL").fetchall()
        )
        added, removed, changed = (int(counts.get(c, 0)) for c in ("added", "removed", "changed"))
        result = ResourceChanges("", "unchanged", added, removed, changed)
        if not added + removed + changed:
            return result
        con.execute(
            "CREATE TEMP TABLE listed_rows AS SELECT * FROM changed_rows QUALIFY row_number() "
            f"OVER (PARTITION BY __change ORDER BY {order}) <= {LISTED_KEYS}"
        )
        listed = con.execute("SELECT * FROM listed_rows").fetchall()
        ordered = sorted(listed, key=lambda row: tuple(_sort_key(str(c)) for c in row[1:]))
        result.keys = {
            "fields": [key],
            **{
                change: [[str(c) for c in row[1:]] for row in ordered if row[0] == change]
                for change in ("added", "removed", "changed")
            },
        }
        # The listed rows' values: one pass over each file, for the kinds found in it.
        old_kinds = [k for k, n in (("changed", changed), ("removed", removed)) if n]
        new_kinds = [k for k, n in (("changed", changed), ("added", added)) if n]
        old_names = [f["name"] for f in old_schema["fields"]]
        new_names = [f["name"] for f in new_schema["fields"]]
        before = _listed_cells(con, key, old_names, old_schema, old, old_kinds)
        after = _listed_cells(con, key, new_names, new_schema, new, new_kinds)
        if added:
            result.added_rows = _rows_of(key, new_names, result.keys["added"], after)
        if removed:
            result.removed_rows = _rows_of(key, old_names, result.keys["removed"], before)
        if changed:
            result.values = []
            for row_key in result.keys["changed"]:
                old_row, new_row = before.get(tuple(row_key)), after.get(tuple(row_key))
                if old_row is None or new_row is None:
                    continue
                cells = [
                    CellChange(name, _cut(old_row[name]), _cut(new_row[name]))
                    for name in values
                    if name not in key and old_row[name] != new_row[name]
                ]
                result.values.append(RowChange(row_key, cells))
    return result


def _listed_cells(
    con: Any,
    key: list[str],
    names: list[str],
    schema: Mapping[str, Any],
    path: Path | None,
    kinds: list[str],
) -> dict[tuple[str, ...], dict[str, str]]:
    """The values of the listed rows of `kinds` in one version's file, by key: one streaming
    pass over the file, a semi-join with the few listed keys (never the table in memory)."""
    if not kinds:
        return {}
    columns = ", ".join(f"r.{quote_identifier(n)}" for n in names)
    on = " AND ".join(f"r.{quote_identifier(k)} = l.__k{i}" for i, k in enumerate(key))
    wanted = ", ".join(quote_literal(kind) for kind in kinds)
    found = con.execute(
        f"SELECT {columns} FROM {_csv_relation(schema, path, False)} r "
        f"SEMI JOIN (SELECT * FROM listed_rows WHERE __change IN ({wanted})) l ON {on}"
    ).fetchall()
    rows = {}
    for row in found:
        cells = {name: str(value) for name, value in zip(names, row, strict=True)}
        rows[tuple(cells[k] for k in key)] = cells
    return rows


def _rows_of(
    key: list[str],
    names: list[str],
    keys: list[list[str]],
    found: Mapping[tuple[str, ...], Mapping[str, str]],
) -> ListedRows:
    """The listed rows of one kind with their values, in the order of their keys; every cell
    but a key's cut when long (the key must read as listed)."""
    rows = []
    for row_key in keys:
        cells = found.get(tuple(row_key))
        if cells is not None:
            rows.append([cells[n] if n in key else _cut(cells[n]) for n in names])
    return ListedRows(names, rows)


def _cut(text: str) -> str:
    """A cell's text as changes.json lists it: whole, or its start and its length."""
    if len(text) <= CELL_CHARS:
        return text
    return f"{text[:CELL_CHARS]} … ({len(text):,} characters)"


def _sort_key(text: str) -> tuple[int, float, str]:
    """The published files' primary-key order: numbers first and by value, then text."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


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
