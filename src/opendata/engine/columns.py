"""One field compiled to SQL, dispatched by type through engine/types' `TYPES`: `compile_column`
for the checks, `typed_sql` for the writers, and `supported`, which says whether the fast path
covers a schema at all."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from opendata.engine.compiler import (
    BOUNDS,
    STRPTIME_DIRECTIVES,
    Builder,
    Column,
    NeedKeys,
    constraint_value,
    fields_of,
    format_of,
    in_list,
    kind_of,
    missing_values,
)
from opendata.engine.regex import Inexpressible, re2_pattern
from opendata.engine.types import TYPES


def supported(schema: dict[str, Any]) -> str | None:
    """None when the fast path covers every feature of this Table Schema, else a sentence naming
    the first unsupported feature (callers then fall back to frictionless)."""
    from opendata.engine.readers import schema_problem

    if schema_problem(schema) is not None:  # not plainly valid: frictionless decides
        try:
            from frictionless import Schema

            Schema.from_descriptor(json.loads(json.dumps(schema)))
        except Exception as error:  # frictionless rejects the schema: it validates no row
            return f"frictionless rejects the schema ({error})"
    if schema.get("fieldsMatch", "exact") not in ("exact", "equal"):  # staged in field order
        return f'fieldsMatch "{schema.get("fieldsMatch")}" is not supported'
    for field in fields_of(schema):
        reason = _field_unsupported(field)
        if reason:
            return f'field "{field.get("name")}": {reason}'
    return None


def _field_unsupported(field: dict[str, Any]) -> str | None:
    kind = kind_of(field)
    if kind not in TYPES:
        return f'type "{kind}" is not supported'
    fmt = format_of(field)
    if kind == "string" and fmt != "default":
        return f'string format "{fmt}" is not supported'
    if kind in ("date", "datetime", "time") and fmt != "default":
        if fmt == "any":
            return 'format "any" (dateutil\'s free-form parser) is not supported'
        if not fmt:
            return "an empty format is not supported"
        reason = _strptime_unsupported(fmt)
        if reason:
            return reason
    if kind == "number":
        if field.get("floatNumber"):
            return "floatNumber is not supported"
        if "decimalChar" in field and not field["decimalChar"]:
            return "an empty decimalChar is not supported"
    constraints = field.get("constraints") or {}
    if kind == "string" and constraints.get("pattern") is not None:
        try:
            re2_pattern(str(constraints["pattern"]))
        except Inexpressible as error:
            return f"pattern {constraints['pattern']!r}: {error}"
    for name in BOUNDS:
        if constraints.get(name) is None:
            continue
        value = constraint_value(field, name, constraints[name])
        if value is None:
            return f'constraint "{name}" value {constraints[name]!r} is not a valid {kind}'
        if isinstance(value, Decimal) and value.is_nan():
            return f'constraint "{name}" is NaN'
        if kind == "yearmonth" and value.year < 0:
            return f'constraint "{name}" has a negative year'
    if constraints.get("enum") is not None:
        if not isinstance(constraints["enum"], list):
            return "enum is not a list"
        for item in constraints["enum"]:
            value = constraint_value(field, "enum", item)
            if isinstance(value, Decimal) and value.is_snan():
                return "enum holds sNaN"
    return None


def _strptime_unsupported(fmt: str) -> str | None:
    seen: set[str] = set()
    index = 0
    while index < len(fmt):
        if fmt[index] == "%":
            if index + 1 >= len(fmt):
                return f"format {fmt!r} ends with a lone %"
            directive = fmt[index + 1]
            if directive not in STRPTIME_DIRECTIVES:
                return f"strptime directive %{directive} is not supported"
            if directive != "%":
                if directive in seen or (directive in "yY" and seen & {"y", "Y"}):
                    return f"format {fmt!r} repeats a directive"
                seen.add(directive)
            index += 2
        else:
            index += 1
    if not seen:  # a format of literal text alone (strptime reads it as 1900-01-01)
        return f"format {fmt!r} has no strptime directive"
    return None


def compile_column(
    b: Builder,
    pos: int,
    name: str,
    raw: str,
    field: dict[str, Any] | None,
    schema: dict[str, Any] | None,
    need: NeedKeys,
) -> Column:
    """The SQL reading one cell as frictionless's cell reader does (missing values, type,
    constraints), plus the keys frictionless compares for unique, primary and foreign keys."""
    if field is None:  # a column the header adds: frictionless reads it with an "any" field
        none = b.let("none", f"({raw} IS NULL OR {raw} = '')")
        b.next()
        return Column(pos, name, "any", None, raw, none, "true", raw, keys=[raw], note="")
    kind = kind_of(field)
    mv = missing_values(field, schema)
    none = b.let("none", f"({raw} IS NULL OR {in_list(raw, mv)})")
    b.next()
    constraints = dict(field.get("constraints") or {})
    compare = bool(set(BOUNDS) & {k for k, v in constraints.items() if v is not None})
    need_eq = need.unique or constraints.get("enum") is not None
    compiler = TYPES[kind]
    column = compiler.compile(b, field, raw, none, need_eq, compare, need.numeric)
    column.pos = pos
    column.name = name
    column.note = f'type is "{kind}/{format_of(field)}"'
    for cname in compiler.constraints:
        value = constraints.get(cname)
        if value is None:
            continue
        note = f'constraint "{cname}" is "{value}"'
        if cname == "required":
            if value:
                column.checks.append((cname, note, "__required__"))
            continue
        fails = compiler.constraint(field, column, cname, value)
        column.checks.append((cname, note, fails))
    return column


def typed_sql(field: dict[str, Any], column_sql: str, schema: dict[str, Any] | None = None) -> str:
    """DuckDB expression for the typed value frictionless reads from a cell that passed the
    checks: NULL for missing values (the field's missingValues, else the schema's when `schema`
    is given, else [""]) and for cells that fail the type check.

    integer -> BIGINT (a valid integer beyond BIGINT raises a conversion error rather than being
    silently altered), number -> DOUBLE (Decimal's NaN/Infinity become NaN/inf), boolean ->
    BOOLEAN, date -> DATE, datetime -> TIMESTAMP (values with an offset are converted to UTC,
    naive values stay as written), time -> TIME (likewise, modulo a day), year -> INTEGER,
    yearmonth -> VARCHAR 'YYYY-MM' (the year zero-padded to 4 digits), string -> VARCHAR.
    Exotic cells go through the UDF: the connection needs register_udf(con)."""
    b = Builder("", inline=True)
    name = str(field.get("name", ""))
    column = compile_column(b, 1, name, column_sql, field, schema, NeedKeys())
    kind = column.kind
    ok = f"(NOT {column.none} AND {column.ok})"
    value = column.value
    if kind == "integer":
        value = f"CAST({value} AS BIGINT)"
    elif kind == "datetime":
        value = f"CAST({value} AS TIMESTAMP)"
    return "(" + b.wrap(f"CASE WHEN {ok} THEN {value} END") + ")"
