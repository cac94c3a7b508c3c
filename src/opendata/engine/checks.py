"""Frictionless's verdict on a table, computed as vectorised DuckDB SQL.

frictionless-py (5.21) is the reference for what is valid: these checks give the same error types,
row numbers, fields and notes, but every cell is read by SQL (RE2 regexes, casts) instead of by
Python, so a million-row table is checked in well under a second instead of half a minute.

How a cell is read, per type, mirrors frictionless's value readers (``frictionless/fields``):
ordinary ASCII cells are decided entirely in SQL; a cell whose Python semantics SQL cannot
express (Unicode digits or spaces, ``1_000``, NaN payloads, giant exponents, odd ISO forms such as
week dates) fails a cheap ASCII pre-check and is handed to a vectorised Python UDF that runs
frictionless's own value reader on it -- so valid everyday data never goes through Python, and
the exotic cases are exact by construction. A connection running `typed_sql`'s expressions needs
that UDF: call `register_udf(con)` (the checks register it themselves).

Reports stay bounded: frictionless stops at its ``limit_errors`` (1,000 errors in total by
default); we never stop early -- every error is counted (``TableVerdict.counts``) and the first
``limit`` of each error type are listed (``TableVerdict.errors``), in frictionless's order.

Where the fast path cannot be exact it says so: `supported()` names the first unsupported schema
feature (types any/array/object/geo*/duration, string formats, date/time format "any" or strptime
directives other than %Y %y %m %d %H %M %S %f, floatNumber, patterns RE2 cannot express, bounds
frictionless cannot read, fieldsMatch other than "exact", schemas frictionless rejects), and the
CSV readers raise `Unsupported` for files DuckDB would read differently from Python's csv module
(mixed line ends, a sniffed skipinitialspace, quoting DuckDB rejects).

Known places where frictionless itself crashes (we give a verdict instead; they are outside the
differential tests):

- a number cell ``sNaN`` in a field with bounds, ``enum``, ``unique`` or a key: Decimal raises
  and the validation crashes; we treat sNaN like NaN (never equal, fails every bound).
- datetime/time bounds compared with cells of the other kind of awareness (an offset-naive cell
  against an aware ``minimum`` or the reverse): Python raises TypeError; we report the cell as
  failing the constraint.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import operator
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import duckdb.func

from opendata.engine.db import quote_identifier, quote_literal
from opendata.engine.regex import PY_WHITESPACE, WS_CLASS, Inexpressible, re2_pattern
from opendata.engine.udf import register_udf, udf_call

__all__ = [
    "Inexpressible",
    "TableVerdict",
    "Unsupported",
    "Violation",
    "check_foreign_keys",
    "check_table",
    "re2_pattern",
    "register_udf",
    "supported",
    "typed_sql",
    "validate_csv",
    "validate_package_csv",
]


class Unsupported(ValueError):
    """The fast path cannot give frictionless's verdict here: fall back to frictionless."""


@dataclass(frozen=True)
class Violation:
    """One error as frictionless reports it (``type`` is frictionless's error type)."""

    type: str
    row: int | None
    field: str | None
    cell: str | None
    note: str


@dataclass
class TableVerdict:
    """Errors of one table: the first `limit` of each type listed, every type counted."""

    name: str
    rows: int
    errors: list[Violation]
    counts: dict[str, int]
    # For each of the caller's flags (check_table's `flags`), in order: how many rows it
    # marks and the first `limit` of them. Not errors of frictionless's: the caller's own.
    flagged: list[tuple[int, list[int]]] = dataclass_field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and not any(self.counts.values())


# --------------------------------------------------------------------------------------------
# Constants


ASCII_WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "time", "year", "yearmonth")
CONSTRAINTS = {
    "string": ["required", "minLength", "maxLength", "pattern", "enum"],
    "boolean": ["required", "enum"],
}
BOUNDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
for _kind in ("integer", "number", "date", "datetime", "time", "year", "yearmonth"):
    CONSTRAINTS[_kind] = ["required", *BOUNDS, "enum"]
COMPARE = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
PYTHON_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
NUMERIC_CLASS = ("integer", "number", "year", "boolean")  # Python compares these as numbers
DEFAULT_TRUE = ["true", "True", "TRUE", "1"]
DEFAULT_FALSE = ["false", "False", "FALSE", "0"]
STRPTIME_DIRECTIVES = set("YmdyHMSf%")
# Bits of a cell's status: 1 = reads as None, 2 = type error, 4 << k = the k-th constraint fails.
NONE_BIT = 1
TYPE_BIT = 2
# Where an error sorts inside its row: frictionless's order (cell errors, extra and missing
# cells, then unique, primary key and foreign key errors).
PHASE = {
    "type-error": 0,
    "constraint-error": 0,
    "extra-cell": 1,
    "missing-cell": 2,
    "blank-row": 0,
    "unique-error": 3,
    "primary-key": 4,
    "foreign-key": 5,
}
LABEL_ORDER = {
    "source-error": -1,
    "extra-label": 0,
    "missing-label": 1,
    "blank-label": 2,
    "duplicate-label": 2,
    "incorrect-label": 2,
}


def lit(text: str) -> str:
    return quote_literal(text)


def chars_sql(chars: str) -> str:
    """A SQL string made of `chars`, written with chr() so no control character is in the SQL."""
    return "(" + " || ".join(f"chr({ord(c)})" for c in chars) + ")"


ASCII_WS_SQL = chars_sql(ASCII_WHITESPACE)


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of a query (None if none), reading the result to its end."""
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = first_row(con, sql)
    return int(row[0] or 0) if row else 0


def in_list(expr: str, values: Sequence[str]) -> str:
    if not values:
        return "false"
    return f"{expr} IN ({', '.join(lit(v) for v in values)})"


# --------------------------------------------------------------------------------------------
# Schema features


def fields_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return list(schema.get("fields", []))


def primary_key(schema: dict[str, Any]) -> list[str]:
    key = schema.get("primaryKey") or []
    return [key] if isinstance(key, str) else list(key)


def foreign_keys(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema's foreign keys, normalised as frictionless does (lists, resource "")."""
    result = []
    for fk in schema.get("foreignKeys") or []:
        fields = fk.get("fields", [])
        reference = fk.get("reference", {})
        ref_fields = reference.get("fields", [])
        result.append(
            {
                "fields": [fields] if isinstance(fields, str) else list(fields),
                "resource": reference.get("resource", "") or "",
                "ref_fields": [ref_fields] if isinstance(ref_fields, str) else list(ref_fields),
            }
        )
    return result


def missing_values(field: dict[str, Any] | None, schema: dict[str, Any] | None) -> list[str]:
    """Field-level missingValues win over the schema's (object entries read as their value)."""
    if field is not None and "missingValues" in field:
        entries = field["missingValues"]
    elif field is not None and schema is not None and "missingValues" in schema:
        entries = schema["missingValues"]
    else:
        entries = [""]
    return [e["value"] if isinstance(e, dict) else e for e in entries]


def kind_of(field: dict[str, Any]) -> str:
    return str(field.get("type") or "string")


def format_of(field: dict[str, Any]) -> str:
    value = str(field["format"]) if field.get("format") is not None else "default"
    return value.replace("fmt:", "", 1) if value.startswith("fmt:") else value


@functools.lru_cache(maxsize=1024)
def _value_reader(descriptor: str) -> Callable[[Any], Any]:
    """frictionless's value reader, in plain Python (opendata.engine.readers, tested against
    frictionless): importing frictionless would cost the fast path half a second."""
    from opendata.engine.readers import value_reader

    return value_reader(json.loads(descriptor))


@functools.lru_cache(maxsize=256)
def _cell_reader(descriptor: str) -> Callable[[Any], Any]:
    from frictionless import Field

    reader: Callable[[Any], Any] = Field.from_descriptor(
        json.loads(descriptor)
    ).create_cell_reader()
    return reader


def python_value(field: dict[str, Any], schema: dict[str, Any] | None, cell: str | None) -> Any:
    """The value frictionless reads from one cell (None if missing or invalid): for the few
    cells a report quotes, never for every row."""
    descriptor = {k: v for k, v in field.items() if k != "constraints"}
    descriptor["missingValues"] = missing_values(field, schema)
    value, _ = _cell_reader(json.dumps(descriptor, sort_keys=True, default=str))(cell)
    return value


def constraint_value(field: dict[str, Any], name: str, value: Any) -> Any:
    """A constraint value as frictionless reads it (with the field's own value reader)."""
    keep = {k: v for k, v in field.items() if k not in ("constraints", "missingValues")}
    return _value_reader(json.dumps(keep, sort_keys=True, default=str))(value)


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


# --------------------------------------------------------------------------------------------
# Building the SQL of one field: stages of named expressions


class Builder:
    """Named SQL expressions in stages: a stage may use the names of earlier stages only.

    Layered (for checks): each stage is a SELECT over the previous one, each name a column.
    Inline (for typed_sql, one expression): each stage is a struct bound by a DuckDB lambda,
    ``list_transform([{...}], lambda s: ...)[1]``, so a name is computed once and the
    expression grows linearly, not exponentially, with the stages."""

    def __init__(self, prefix: str, inline: bool = False) -> None:
        self.prefix = prefix
        self.inline = inline
        self.stages: list[list[tuple[str, str]]] = [[]]

    def let(self, name: str, expr: str) -> str:
        if self.inline:
            self.stages[-1].append((name, expr))
            return f"__s{len(self.stages) - 1}.{quote_identifier(name)}"
        alias = f"{self.prefix}{name}"
        self.stages[-1].append((alias, expr))
        return quote_identifier(alias)

    def next(self) -> None:
        if self.stages[-1]:
            self.stages.append([])

    def wrap(self, final: str) -> str:
        """Inline mode: `final` inside the lambdas binding every stage."""
        for k in reversed(range(len(self.stages))):
            stage = self.stages[k]
            if stage:
                struct = "{" + ", ".join(f"{lit(name)}: {expr}" for name, expr in stage) + "}"
                final = f"list_transform([{struct}], lambda __s{k}: {final})[1]"
        return final


@dataclass
class Column:
    """One field compiled to SQL: every expression names columns of the final stage."""

    pos: int
    name: str
    kind: str
    field: dict[str, Any] | None
    raw: str
    none: str
    ok: str
    value: str
    # (constraint name, note, SQL true when a present, well-typed value fails it)
    checks: list[tuple[str, str, str]] = dataclass_field(default_factory=list)
    # what Python's == compares (for unique, primary and foreign keys); all NULL for None
    keys: list[str] = dataclass_field(default_factory=list)
    nan: str | None = None  # a present value equal to nothing (NaN)
    numkeys: list[str] | None = None  # (DOUBLE, VARCHAR) numeric keys, for mixed-type keys
    note: str = ""  # the type note
    extra: dict[str, Any] = dataclass_field(default_factory=dict)  # names the constraints use


@dataclass
class NeedKeys:
    unique: bool = False
    numeric: bool = False


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
    compiler = COMPILERS[kind]
    column = compiler(b, field, raw, none, need_eq, compare, need.numeric)
    column.pos = pos
    column.name = name
    column.note = f'type is "{kind}/{format_of(field)}"'
    for cname in CONSTRAINTS[kind]:
        value = constraints.get(cname)
        if value is None:
            continue
        note = f'constraint "{cname}" is "{value}"'
        if cname == "required":
            if value:
                column.checks.append((cname, note, "__required__"))
            continue
        fails = CONSTRAINT_SQL[kind](field, column, cname, value)
        column.checks.append((cname, note, fails))
    return column


Compiler = Callable[[Builder, dict[str, Any], str, str, bool, bool, bool], Column]


def _column(kind: str, field: dict[str, Any], raw: str, none: str, ok: str, value: str) -> Column:
    return Column(0, "", kind, field, raw, none, ok, value)


# ---- string


def compile_string(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    b.next()
    column = _column("string", f, raw, none, "true", raw)
    column.keys = [f"CASE WHEN NOT {none} THEN {raw} END"]
    return column


# ---- boolean


def compile_boolean(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    trues = [str(v) for v in f.get("trueValues", DEFAULT_TRUE)]
    falses = [str(v) for v in f.get("falseValues", DEFAULT_FALSE)]
    value = b.let(
        "v",
        f"CASE WHEN {none} THEN NULL WHEN {in_list(raw, falses)} THEN false "
        f"WHEN {in_list(raw, trues)} THEN true END",
    )
    b.next()
    column = _column("boolean", f, raw, none, f"{value} IS NOT NULL", value)
    column.keys = [value]
    column.numkeys = [f"CAST({value} AS DOUBLE)", "CAST(NULL AS VARCHAR)"]
    return column


# ---- integer


INT_TEXT = r"[+-]?[0-9]+"


def _bare_strip(text: str) -> str:
    """bareNumber false: frictionless removes ((^[^-\\d]*)|(\\D*$)) (ASCII here)."""
    return f"regexp_replace(regexp_replace({text}, '^[^-0-9]*', ''), '[^0-9]*$', '')"


def compile_integer(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    bare = f.get("bareNumber", True)
    stripped = f"trim({raw}, {ASCII_WS_SQL})"
    if not bare:
        stripped = _bare_strip(stripped)
    slow = (
        f"CASE WHEN regexp_full_match({stripped}, '[+-]?[0-9]+(?:_[0-9]+)*') "
        f"THEN replace({stripped}, '_', '') END"
    )
    text = b.let(
        "t",
        f"CASE WHEN {none} THEN NULL WHEN regexp_full_match({raw}, {lit(INT_TEXT)}) THEN {raw} "
        f"WHEN strlen({raw}) <> length({raw}) THEN {udf_call(raw, f, 'integer')} "
        f"ELSE {slow} END",
    )
    b.next()
    value = b.let("v", f"TRY_CAST({text} AS HUGEINT)")
    b.next()
    big = b.let(
        "big",
        f"CASE WHEN {text} IS NOT NULL AND {value} IS NULL THEN "
        f"(CASE WHEN starts_with({text}, '-') THEN '-' ELSE '' END) "
        f"|| ltrim(ltrim({text}, '+-'), '0') END",
    )
    b.next()
    column = _column("integer", f, raw, none, f"{text} IS NOT NULL", value)
    column.keys = [value, big]
    if num:
        column.numkeys = _integer_numkeys(b, value, big)
    return column


def _integer_numkeys(b: Builder, value: str, big: str) -> list[str]:
    """An integer as the (DOUBLE, VARCHAR) numeric key numbers use (see compile_number)."""
    digits = b.let("ndig", f"ltrim(coalesce(CAST({value} AS VARCHAR), {big}), '-')")
    negative = b.let("nneg", f"coalesce({value} < 0, starts_with({big}, '-'))")
    b.next()
    kept = b.let("ndg", f"rtrim({digits}, '0')")
    b.next()
    small = b.let(
        "nsmall",
        f"{digits} = '0' OR (length({kept}) <= 15 AND length({digits}) - 1 <= 300)",
    )
    b.next()
    kd = b.let(
        "nkd",
        f"CASE WHEN {small} THEN CAST(coalesce(CAST({value} AS VARCHAR), {big}) AS DOUBLE) END",
    )
    ks = b.let(
        "nks",
        f"CASE WHEN {digits} IS NOT NULL AND NOT {small} THEN "
        f"(CASE WHEN {negative} THEN '-' ELSE '' END) || {kept} || 'e' || "
        f"CAST(length({digits}) - length({kept}) AS VARCHAR) END",
    )
    b.next()
    return [kd, ks]


HUGEINT_MIN, HUGEINT_MAX = -(2**127), 2**127 - 1


def _big_cmp(big: str, bound: int) -> str:
    """-1/0/1 comparing an integer beyond HUGEINT (its text: sign, digits without leading zeros)
    with `bound`, exactly: by sign, then number of digits, then digits."""
    digits = str(abs(bound))
    negative = bound < 0
    cell_negative = f"starts_with({big}, '-')"
    cell_digits = f"ltrim({big}, '-')"
    magnitude = (
        f"(CASE WHEN length({cell_digits}) <> {len(digits)} THEN "
        f"sign(length({cell_digits}) - {len(digits)}) "
        f"WHEN {cell_digits} > {lit(digits)} THEN 1 WHEN {cell_digits} < {lit(digits)} THEN -1 "
        "ELSE 0 END)"
    )
    return (
        f"(CASE WHEN {cell_negative} <> {str(negative).lower()} "
        f"THEN (CASE WHEN {cell_negative} THEN -1 ELSE 1 END) "
        f"WHEN {cell_negative} THEN -{magnitude} ELSE {magnitude} END)"
    )


def _big_text(value: int) -> str:
    return ("-" if value < 0 else "") + str(abs(value))


def integer_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    value, big = col.keys
    if name == "enum":
        values = {constraint_value(f, name, v) for v in raw_value}
        ints = sorted(v for v in values if isinstance(v, int) and not isinstance(v, bool))
        small = [v for v in ints if HUGEINT_MIN <= v <= HUGEINT_MAX]
        large = [_big_text(v) for v in ints if not HUGEINT_MIN <= v <= HUGEINT_MAX]
        terms = []
        if small:
            terms.append(f"{value} IN ({', '.join(str(v) for v in small)})")
        if large:
            terms.append(in_list(big, large))
        return f"NOT coalesce({' OR '.join(terms)}, false)" if terms else "true"
    bound = int(constraint_value(f, name, raw_value))
    op = COMPARE[name]
    if HUGEINT_MIN <= bound <= HUGEINT_MAX:
        in_range = f"{value} {op} {bound}"
    else:  # every HUGEINT is on the same side of such a bound
        in_range = "true" if PYTHON_COMPARE[op](0, bound) else "false"
    return (
        f"NOT (CASE WHEN {value} IS NOT NULL THEN {in_range} "
        f"ELSE {_big_cmp(big, bound)} {op} 0 END)"
    )


# ---- number


NUM_TEXT = (
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|(?i:[+-]?(?:inf|infinity|nan|snan))"
)
NUM_EXOTIC = r"_|(?i:nan)[0-9]|[eE][+-]?[0-9]{18}"
NUM_FAST = r"[+-]?[0-9]+(?:\.[0-9]*)?"  # with at most 15 characters: at most 15 digits
NUM_PARTS = r"^([+-]?)([0-9]*)\.?([0-9]*)(?:[eE]([+-]?[0-9]+))?$"


def compile_number(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    bare = f.get("bareNumber", True)
    group = str(f.get("groupChar", ""))
    decimal = str(f.get("decimalChar", "."))
    processed = f"trim({raw}, {ASCII_WS_SQL})"
    if {"bareNumber", "groupChar", "decimalChar"} & set(f):
        if not bare:
            processed = _bare_strip(processed)
        if group:
            processed = f"replace({processed}, {lit(group)}, '')"
        if decimal != ".":
            processed = (
                f"CASE WHEN contains({processed}, '.') THEN NULL "
                f"ELSE replace({processed}, {lit(decimal)}, '.') END"
            )
        processed = f"trim({processed}, {ASCII_WS_SQL})"
    udf = udf_call(raw, f, "number")
    if decimal == "." and not set(group) & set("0123456789+-.eE"):
        fast = b.let(
            "fast",
            f"NOT {none} AND strlen({raw}) <= 15 AND regexp_full_match({raw}, {lit(NUM_FAST)})",
        )
        b.next()
    else:
        fast = "false"
    slow = (
        f"CASE WHEN regexp_matches({processed}, {lit(NUM_EXOTIC)}) THEN {udf} "
        f"WHEN regexp_full_match({processed}, {lit(NUM_TEXT)}) THEN {processed} END"
    )
    text = b.let(
        "t",
        f"CASE WHEN {none} THEN NULL WHEN {fast} THEN {raw} "
        f"WHEN strlen({raw}) <> length({raw}) THEN {udf} ELSE {slow} END",
    )
    b.next()
    cls = b.let(
        "cls",
        f"CASE WHEN {text} IS NULL THEN NULL WHEN {fast} THEN 0 "
        f"WHEN regexp_matches({text}, '[aA]') THEN 2 "
        f"WHEN regexp_matches({text}, '[nN]') THEN "
        f"(CASE WHEN starts_with({text}, '-') THEN -1 ELSE 1 END) ELSE 0 END",
    )
    dbl = b.let(
        "v",
        f"CASE WHEN {text} IS NULL THEN NULL WHEN {fast} THEN CAST({text} AS DOUBLE) "
        f"WHEN regexp_matches({text}, '[aA]') THEN CAST('NaN' AS DOUBLE) "
        f"ELSE TRY_CAST({text} AS DOUBLE) END",
    )
    fastsmall = fast
    b.next()
    column = _column("number", f, raw, none, f"{text} IS NOT NULL", dbl)
    column.nan = f"({cls} = 2)"
    bounds = [
        constraint_value(f, k, v)
        for k, v in (f.get("constraints") or {}).items()
        if k in BOUNDS and v is not None
    ]
    # A bound with more than 15 digits may tie in DOUBLE with any cell: then every finite cell
    # needs its digits for the exact comparison; otherwise only the cells off the fast path.
    big_bound = any(
        _dec_parts(Decimal(v)) is not None and not _dec_small(Decimal(v))
        for v in bounds
        if isinstance(v, (int, Decimal))
    )
    if eq or cmp or num:
        which = f"{cls} = 0" if big_bound else f"{cls} = 0 AND NOT {fastsmall}"
        parts = b.let(
            "np",
            f"CASE WHEN {which} THEN regexp_extract({text}, {lit(NUM_PARTS)}, "
            "['s', 'i', 'f', 'e']) END",
        )
        b.next()
        digits = b.let("dig", f"ltrim({parts}.i || {parts}.f, '0')")
        negative = b.let("neg", f"{parts}.s = '-'")
        b.next()
        kept = b.let("dg", f"rtrim({digits}, '0')")
        adjusted = b.let(
            "adj",
            f"coalesce(TRY_CAST({parts}.e AS BIGINT), 0) - length({parts}.f) "
            f"+ length({digits}) - 1",
        )
        b.next()
        small = b.let(
            "small",
            f"{fastsmall} OR {digits} = '' OR "
            f"(length({kept}) <= 15 AND {adjusted} BETWEEN -300 AND 300)",
        )
        b.next()
        kd = b.let(
            "kd",
            f"CASE WHEN {cls} IN (1, -1) THEN {dbl} WHEN {cls} = 0 AND {small} THEN {dbl} END",
        )
        ks = b.let(
            "ks",
            f"CASE WHEN {cls} = 0 AND NOT {small} THEN "
            f"(CASE WHEN {negative} THEN '-' ELSE '' END) || {kept} || 'e' || "
            f"CAST({adjusted} - length({kept}) + 1 AS VARCHAR) END",
        )
        b.next()
        column.keys = [kd, ks]
        column.numkeys = [kd, ks]
        column.extra = {
            "cls": cls,
            "dbl": dbl,
            "fastsmall": fastsmall,
            "small": small,
            "digits": digits,
            "kept": kept,
            "adj": adjusted,
            "neg": negative,
        }
    return column


def _dec_parts(value: Decimal) -> tuple[bool, str, int] | None:
    """(negative, significant digits, adjusted exponent) of a finite Decimal; None if not."""
    if not value.is_finite():
        return None
    sign, digit_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    if not digits:
        return (False, "", 0)
    adjusted = exponent + len(digits) - 1
    return (bool(sign), digits.rstrip("0"), adjusted)


def _dec_small(value: Decimal) -> bool:
    parts = _dec_parts(value)
    if parts is None:
        return False
    _, digits, adjusted = parts
    return digits == "" or (len(digits) <= 15 and -300 <= adjusted <= 300)


def _exact_cmp_sql(extra: dict[str, str], bound: Decimal) -> str:
    """-1/0/1 comparing a finite cell (by its decimal digits) with a finite Decimal, exactly."""
    parts = _dec_parts(bound)
    assert parts is not None
    negative, digits, adjusted = parts
    cell_zero = f"({extra['digits']} = '')"
    cell_neg = extra["neg"]
    if digits == "":  # the bound is zero
        return f"(CASE WHEN {cell_zero} THEN 0 WHEN {cell_neg} THEN -1 ELSE 1 END)"
    width = f"CAST(greatest(length({extra['kept']}), {len(digits)}) AS INTEGER)"
    magnitude = (
        f"(CASE WHEN {extra['adj']} > {adjusted} THEN 1 WHEN {extra['adj']} < {adjusted} THEN -1 "
        f"WHEN rpad({extra['kept']}, {width}, '0') > rpad({lit(digits)}, {width}, '0') THEN 1 "
        f"WHEN rpad({extra['kept']}, {width}, '0') < rpad({lit(digits)}, {width}, '0') THEN -1 "
        "ELSE 0 END)"
    )
    bound_sign = -1 if negative else 1
    return (
        f"(CASE WHEN {cell_zero} THEN {-bound_sign} "
        f"WHEN {cell_neg} <> {str(negative).lower()} "
        f"THEN (CASE WHEN {cell_neg} THEN -1 ELSE 1 END) "
        f"ELSE {bound_sign} * {magnitude} END)"
    )


def number_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    extra: dict[str, str] = col.extra
    cls, dbl = extra["cls"], extra["dbl"]
    kd, ks = col.keys
    if name == "enum":
        values = [constraint_value(f, name, v) for v in raw_value]
        decimals = [Decimal(v) for v in values if isinstance(v, (int, Decimal))]
        terms = []
        infinities = sorted({1 if d > 0 else -1 for d in decimals if d.is_infinite()})
        if infinities:
            terms.append(f"{cls} IN ({', '.join(map(str, infinities))})")
        smalls = sorted({float(d) for d in decimals if d.is_finite() and _dec_small(d)})
        if smalls:
            terms.append(f"{kd} IN ({', '.join(_double_sql(v) for v in smalls)})")
        bigs = sorted({_dec_key(d) for d in decimals if d.is_finite() and not _dec_small(d)})
        if bigs:
            terms.append(in_list(ks, bigs))
        if not terms:
            return "true"
        return f"NOT coalesce({' OR '.join(terms)}, false)"
    bound = Decimal(constraint_value(f, name, raw_value))
    op = COMPARE[name]
    if bound.is_infinite():
        sign = 1 if bound > 0 else -1
        return f"NOT (CASE WHEN {cls} = 2 THEN false ELSE {cls} {op} {sign} END)"
    target = _double_sql(float(bound))
    exact = _exact_cmp_sql(extra, bound)
    shortcut = f"{dbl} <> {target}"
    if _dec_small(bound):
        shortcut += f" OR {extra['fastsmall']} OR coalesce({extra['small']}, false)"
    return (
        f"NOT (CASE WHEN {cls} = 2 THEN false WHEN {cls} <> 0 THEN {cls} {op} 0 "
        f"WHEN {shortcut} THEN {dbl} {op} {target} ELSE {exact} {op} 0 END)"
    )


def _double_sql(value: float) -> str:
    if value != value:
        return "CAST('NaN' AS DOUBLE)"
    if value in (float("inf"), float("-inf")):
        return f"CAST('{'-' if value < 0 else ''}inf' AS DOUBLE)"
    return f"CAST({value!r} AS DOUBLE)"


def _dec_key(value: Decimal) -> str:
    parts = _dec_parts(value)
    assert parts is not None
    negative, digits, adjusted = parts
    return ("-" if negative else "") + digits + "e" + str(adjusted - len(digits) + 1)


# ---- year


def compile_year(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    text = b.let(
        "t",
        f"CASE WHEN {none} THEN NULL WHEN regexp_full_match({raw}, '[0-9]{{4}}') THEN {raw} "
        f"WHEN length({raw}) = 4 AND (strlen({raw}) <> 4 OR regexp_matches({raw}, "
        f"'[+_\\-\\t\\n\\x0B\\x0C\\r\\x1C-\\x1F ]')) THEN {udf_call(raw, f, 'year')} END",
    )
    b.next()
    value = b.let("v", f"TRY_CAST({text} AS INTEGER)")
    b.next()
    column = _column("year", f, raw, none, f"{text} IS NOT NULL", value)
    column.keys = [value]
    column.numkeys = [f"CAST({value} AS DOUBLE)", "CAST(NULL AS VARCHAR)"]
    return column


def year_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    value = col.value
    if name == "enum":
        values = sorted(
            {v for v in (constraint_value(f, name, x) for x in raw_value) if v is not None}
        )
        if not values:
            return "true"
        return f"NOT coalesce({value} IN ({', '.join(map(str, values))}), false)"
    return f"NOT ({value} {COMPARE[name]} {int(constraint_value(f, name, raw_value))})"


# ---- yearmonth


def _int_part(text: str) -> str:
    """An ASCII part as int() reads it: its digits without leading zeros, or NULL."""
    stripped = f"trim({text}, {ASCII_WS_SQL})"
    digits = f"ltrim(replace(ltrim({stripped}, '+'), '_', ''), '0')"
    return (
        f"CASE WHEN regexp_full_match({stripped}, '[+]?[0-9]+(?:_[0-9]+)*') THEN "
        f"(CASE WHEN {digits} = '' THEN '0' ELSE {digits} END) END"
    )


def compile_yearmonth(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    parts = b.let(
        "parts",
        f"CASE WHEN {none} OR strlen({raw}) <> length({raw}) THEN NULL "
        f"ELSE regexp_extract({raw}, '^([^-]*)-([^-]*)$', ['y', 'm']) END",
    )
    b.next()
    ascii_text = f"({_int_part(f'{parts}.y')}) || '-' || ({_int_part(f'{parts}.m')})"
    text = b.let(
        "t",
        f"CASE WHEN {none} THEN NULL "
        f"WHEN strlen({raw}) <> length({raw}) THEN {udf_call(raw, f, 'yearmonth')} "
        f"WHEN {parts}.y = '' AND {parts}.m = '' THEN NULL ELSE {ascii_text} END",
    )
    b.next()
    year = b.let("y", f"split_part({text}, '-', 1)")
    month = b.let(
        "m",
        f"CASE WHEN length(split_part({text}, '-', 2)) <= 2 "
        f"THEN TRY_CAST(split_part({text}, '-', 2) AS INTEGER) END",
    )
    b.next()
    ok = b.let("ok", f"coalesce({month} BETWEEN 1 AND 12, false)")
    b.next()
    year_key = b.let("yk", f"CASE WHEN {ok} THEN {year} END")
    month_key = b.let("mk", f"CASE WHEN {ok} THEN {month} END")
    b.next()
    padded = f"CASE WHEN length({year}) < 4 THEN lpad({year}, 4, '0') ELSE {year} END"
    value = f"CASE WHEN {ok} THEN {padded} || '-' || lpad(CAST({month} AS VARCHAR), 2, '0') END"
    column = _column("yearmonth", f, raw, none, ok, value)
    column.keys = [year_key, month_key]
    return column


def yearmonth_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    year, month = col.keys
    if name == "enum":
        values = [constraint_value(f, name, v) for v in raw_value]
        terms = [
            f"({year} = {lit(str(v.year))} AND {month} = {int(v.month)})"
            for v in values
            if v is not None and v.year >= 0
        ]
        if not terms:
            return "true"
        return f"NOT coalesce({' OR '.join(terms)}, false)"
    bound = constraint_value(f, name, raw_value)
    op = COMPARE[name]
    cell = f"{{'a': length({year}), 'b': {year}, 'c': {month}}}"
    target = (
        f"{{'a': {len(str(bound.year))}, 'b': {lit(str(bound.year))}, 'c': {int(bound.month)}}}"
    )
    return f"NOT ({cell} {op} {target})"


# ---- date, datetime, time


DATE_ASCII = r"^([0-9]{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])$"
TZ = r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
DATETIME_FAST = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[\x00-\x7F][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?" + TZ + "?"
)
TIME_FAST = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?" + TZ + "?"


STRPTIME_GROUPS = {
    "Y": "year4",
    "y": "year2",
    "m": "month",
    "d": "day",
    "H": "hour",
    "M": "minute",
    "S": "second",
    "f": "fraction",
}  # struct field names are case-insensitive in DuckDB: %m and %M need distinct names


def _strptime_sql(b: Builder, f: dict[str, Any], raw: str, none: str) -> str:
    """A custom strptime format: Python's own regex for it, the cell made canonical text
    'YYYY-MM-DDTHH:MM:SS.ffffff' (defaults 1900-01-01 00:00:00 as strptime's)."""
    import _strptime

    fmt = format_of(f)
    regex = _strptime.TimeRE().pattern(fmt)
    regex = regex.replace(r"\d", "[0-9]").replace(r"\s", WS_CLASS)
    names = re.findall(r"\(\?P<(\w)>", regex)  # regexp_extract names groups by position
    parts = b.let(
        "parts",
        f"CASE WHEN {none} OR strlen({raw}) <> length({raw}) THEN NULL ELSE "
        f"regexp_extract({raw}, {lit('(?i)^(?:' + regex + ')$')}, "
        f"[{', '.join(lit(STRPTIME_GROUPS[n]) for n in names)}]) END",
    )
    b.next()

    def part(name: str, default: str = "") -> str:
        if name in names:
            return f"trim({parts}.{STRPTIME_GROUPS[name]})"
        return lit(default)

    if "Y" in names:
        year = part("Y")
    elif "y" in names:
        short = f"TRY_CAST({part('y')} AS INTEGER)"  # strptime's %y: 69-99 -> 19xx, else 20xx
        year = f"CAST(CASE WHEN {short} <= 68 THEN 2000 ELSE 1900 END + {short} AS VARCHAR)"
    else:
        year = "'1900'"
    fraction = f"rpad({part('f')}, 6, '0')" if "f" in names else "'000000'"
    matched = (
        f"{part(names[0])} <> ''"
        if names
        else f"regexp_full_match({raw}, {lit('(?i)(?:' + regex + ')')})"
    )
    canonical = (
        f"{year} || '-' || lpad({part('m', '1')}, 2, '0') || '-' || lpad({part('d', '1')}, 2, '0')"
        f" || 'T' || lpad({part('H', '0')}, 2, '0') || ':' || lpad({part('M', '0')}, 2, '0')"
        f" || ':' || lpad({part('S', '0')}, 2, '0') || '.' || {fraction}"
    )
    return (
        f"CASE WHEN {none} THEN NULL WHEN strlen({raw}) <> length({raw}) "
        f"THEN {udf_call(raw, f, 'datetime')} WHEN {matched} THEN {canonical} END"
    )


@dataclass
class Moment:
    ok: str
    local: str  # TIMESTAMP as written
    aware: str  # BOOLEAN
    utc: str  # TIMESTAMP, the instant (local for naive values)


def _tz_minutes(tz: str) -> tuple[str, str]:
    """(offset minutes SQL, offset valid SQL) of a canonical tz text (''/Z/+HH/+HHMM/+HH:MM)."""
    hours = f"TRY_CAST(substr({tz}, 2, 2) AS INTEGER)"
    minutes = (
        f"(CASE length({tz}) WHEN 3 THEN 0 WHEN 5 THEN TRY_CAST(substr({tz}, 4, 2) AS INTEGER) "
        f"ELSE TRY_CAST(substr({tz}, 5, 2) AS INTEGER) END)"
    )
    offset = (
        f"(CASE WHEN {tz} IN ('', 'Z', 'z') THEN 0 ELSE "
        f"(CASE WHEN starts_with({tz}, '-') THEN -1 ELSE 1 END) * ({hours} * 60 + {minutes}) END)"
    )
    valid = (
        f"({tz} IN ('', 'Z', 'z') OR ({hours} = 0 AND {minutes} = 0) "
        f"OR ({hours} <= 23 AND {minutes} <= 59))"
    )
    return offset, valid


def _moment(b: Builder, text: str) -> Moment:
    """Canonical 'YYYY-MM-DD?HH:MM:SS[.f][tz]' text read as dateutil's isoparse reads it."""
    day = b.let(
        "day",
        f"CASE WHEN NOT starts_with({text}, '0000') "
        f"THEN TRY_CAST(substr({text}, 1, 10) AS DATE) END",
    )
    hour = b.let("h", f"TRY_CAST(substr({text}, 12, 2) AS INTEGER)")
    minute = b.let("mi", f"TRY_CAST(substr({text}, 15, 2) AS INTEGER)")
    second = b.let("s", f"TRY_CAST(substr({text}, 18, 2) AS INTEGER)")
    rest = b.let(
        "rest",
        f"CASE WHEN strlen({text}) > 19 THEN regexp_extract(substr({text}, 20), "
        f"'^(?:[.,]([0-9]+))?(.*)$', ['f', 'tz']) END",
    )
    b.next()
    micro = b.let(
        "us",
        f"CASE WHEN coalesce({rest}.f, '') = '' THEN 0 "
        f"ELSE TRY_CAST(rpad(substr({rest}.f, 1, 6), 6, '0') AS INTEGER) END",
    )
    tz = b.let("tz", f"coalesce({rest}.tz, '')")
    b.next()
    offset, tz_ok = _tz_minutes(tz)
    ok = b.let(
        "ok",
        f"coalesce({day} IS NOT NULL AND {minute} <= 59 AND {second} <= 59 AND "
        f"({hour} <= 23 OR ({hour} = 24 AND {minute} = 0 AND {second} = 0 AND {micro} = 0 "
        f"AND {day} < DATE '9999-12-31')) AND {tz_ok}, false)",
    )
    b.next()
    local = b.let(
        "local",
        f"CASE WHEN {ok} THEN CAST({day} AS TIMESTAMP) + to_microseconds("
        f"(({hour} * 60 + {minute}) * 60 + {second}) * CAST(1000000 AS BIGINT) + {micro}) END",
    )
    aware = b.let("aware", f"CASE WHEN {ok} THEN {tz} <> '' END")
    minutes = b.let("off", f"CASE WHEN {ok} THEN {offset} END")
    b.next()
    utc = b.let("utc", f"{local} - to_minutes({minutes})")
    b.next()
    return Moment(ok, local, aware, utc)


def compile_date(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    if format_of(f) != "default":
        text = b.let("t", _strptime_sql(b, f, raw, none))
        b.next()
        moment = _moment(b, text)
        value = b.let("v", f"CAST({moment.local} AS DATE)")
        b.next()
        column = _column("date", f, raw, none, moment.ok, value)
        column.keys = [value]
        return column
    parts = f"regexp_extract({raw}, {lit(DATE_ASCII)}, ['y', 'm', 'd'])"
    text = b.let(
        "t",
        f"CASE WHEN {none} THEN NULL "
        f"WHEN regexp_full_match({raw}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') THEN {raw} "
        f"WHEN strlen({raw}) <> length({raw}) THEN {udf_call(raw, f, 'date')} "
        f"WHEN regexp_matches({raw}, {lit(DATE_ASCII)}) THEN {parts}.y || '-' || "
        f"lpad({parts}.m, 2, '0') || '-' || lpad(trim({parts}.d), 2, '0') END",
    )
    b.next()
    value = b.let(
        "v",
        f"CASE WHEN NOT starts_with({text}, '0000') THEN TRY_CAST({text} AS DATE) END",
    )
    b.next()
    column = _column("date", f, raw, none, f"{value} IS NOT NULL", value)
    column.keys = [value]
    return column


def date_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    value = col.keys[0]
    if name == "enum":
        dates = sorted(
            {v for v in (constraint_value(f, name, x) for x in raw_value) if isinstance(v, date)}
        )
        if not dates:
            return "true"
        listed = ", ".join(f"DATE {lit(d.isoformat())}" for d in dates)
        return f"NOT coalesce({value} IN ({listed}), false)"
    bound = constraint_value(f, name, raw_value)
    return f"NOT ({value} {COMPARE[name]} DATE {lit(bound.isoformat())})"


def compile_datetime(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    if format_of(f) != "default":
        text = b.let("t", _strptime_sql(b, f, raw, none))
    else:
        text = b.let(
            "t",
            f"CASE WHEN {none} THEN NULL WHEN regexp_full_match({raw}, {lit(DATETIME_FAST)}) "
            f"THEN {raw} WHEN length({raw}) >= 19 AND substr({raw}, 17, 1) = ':' AND "
            f"strlen({raw}) = length({raw}) THEN {udf_call(raw, f, 'datetime')} END",
        )
    b.next()
    moment = _moment(b, text)
    column = _column("datetime", f, raw, none, moment.ok, moment.utc)
    column.keys = [moment.aware, moment.utc]
    column.extra = {"moment": moment}
    return column


def datetime_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    moment: Moment = col.extra["moment"]

    def parts(value: datetime) -> tuple[bool, str]:
        aware = value.utcoffset() is not None
        instant = value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))
        return aware, f"TIMESTAMP {lit(instant.isoformat(sep=' '))}"

    if name == "enum":
        values = [constraint_value(f, name, x) for x in raw_value]
        terms = []
        for value in values:
            if isinstance(value, datetime):
                aware, instant = parts(value)
                terms.append(
                    f"({moment.aware} = {str(aware).lower()} AND {moment.utc} = {instant})"
                )
        if not terms:
            return "true"
        return f"NOT coalesce({' OR '.join(terms)}, false)"
    aware, instant = parts(constraint_value(f, name, raw_value))
    same = f"{moment.aware} = {str(aware).lower()}"
    return f"NOT coalesce({same} AND {moment.utc} {COMPARE[name]} {instant}, false)"


def compile_time(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    if format_of(f) != "default":
        text = b.let("t", _strptime_sql(b, f, raw, none))
    else:
        fast = b.let(
            "t0",
            f"CASE WHEN {none} THEN NULL WHEN regexp_full_match({raw}, {lit(TIME_FAST)}) "
            f"THEN {raw} WHEN length({raw}) >= 8 AND substr({raw}, 6, 1) = ':' AND "
            f"strlen({raw}) = length({raw}) THEN {udf_call(raw, f, 'time')} END",
        )
        b.next()
        text = b.let("t", f"'2000-01-01T' || {fast}")
    b.next()
    moment = _moment(b, text)
    micros = b.let(
        "mic",
        f"epoch_us({moment.local}) - epoch_us(CAST(CAST({moment.local} AS DATE) AS TIMESTAMP))",
    )
    b.next()
    utc = b.let(
        "tutc",
        f"{micros} - CAST(epoch_us({moment.local}) - epoch_us({moment.utc}) AS BIGINT)",
    )
    value = b.let("v", f"CAST({moment.utc} AS TIME)")
    b.next()
    column = _column("time", f, raw, none, moment.ok, value)
    column.keys = [moment.aware, utc]
    column.extra = {"moment": moment}
    return column


def time_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    aware_sql, utc = col.keys

    def parts(value: time) -> tuple[bool, int]:
        offset = value.utcoffset()
        micros = ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000
        micros += value.microsecond
        if offset is not None:
            micros -= int(offset.total_seconds() * 1_000_000)
        return offset is not None, micros

    if name == "enum":
        terms = []
        for item in raw_value:
            value = constraint_value(f, name, item)
            if isinstance(value, time):
                aware, micros = parts(value)
                terms.append(f"({aware_sql} = {str(aware).lower()} AND {utc} = {micros})")
        if not terms:
            return "true"
        return f"NOT coalesce({' OR '.join(terms)}, false)"
    aware, micros = parts(constraint_value(f, name, raw_value))
    same = f"{aware_sql} = {str(aware).lower()}"
    return f"NOT coalesce({same} AND {utc} {COMPARE[name]} {micros}, false)"


# ---- string constraints and boolean enum


def string_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    raw = col.raw
    if name == "minLength":
        return f"length({raw}) < {int(raw_value)}"
    if name == "maxLength":
        return f"length({raw}) > {int(raw_value)}"
    if name == "pattern":
        return f"NOT regexp_matches({raw}, {lit(re2_pattern(str(raw_value)))})"
    values = [v for v in raw_value if isinstance(v, str)]
    return f"NOT {in_list(raw, values)}" if values else "true"


def boolean_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    values = {constraint_value(f, name, v) for v in raw_value} - {None}
    if not values:
        return "true"
    return f"NOT ({col.value} IN ({', '.join(str(v).lower() for v in sorted(values))}))"


COMPILERS: dict[str, Compiler] = {
    "string": compile_string,
    "boolean": compile_boolean,
    "integer": compile_integer,
    "number": compile_number,
    "year": compile_year,
    "yearmonth": compile_yearmonth,
    "date": compile_date,
    "datetime": compile_datetime,
    "time": compile_time,
}
CONSTRAINT_SQL: dict[str, Callable[[dict[str, Any], Column, str, Any], str]] = {
    "string": string_constraint,
    "boolean": boolean_constraint,
    "integer": integer_constraint,
    "number": number_constraint,
    "year": year_constraint,
    "yearmonth": yearmonth_constraint,
    "date": date_constraint,
    "datetime": datetime_constraint,
    "time": time_constraint,
}


# --------------------------------------------------------------------------------------------
# typed_sql


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


# --------------------------------------------------------------------------------------------
# Checking a relation


@dataclass
class Slot:
    """One cell frictionless expects in a row: a schema field, or an "any" field the header adds
    for an extra label (field None). `raw` is the cell's SQL over the relation (alias __src)."""

    pos: int
    name: str
    raw: str
    field: dict[str, Any] | None


@dataclass
class Plan:
    """What to check in one relation, as frictionless sees the table after its header."""

    name: str
    relation: str
    schema: dict[str, Any]
    slots: list[Slot]
    cells_sql: str | None = None  # the number of cells in the row (CSV): extra/missing cells
    flags: Sequence[str] = ()  # the caller's own row conditions, counted in the same pass


def source_sql(
    relation: str, slots: list[Slot], cells_sql: str | None = None, flags: Sequence[str] = ()
) -> str:
    items = ["__src.__row AS __row"]
    if cells_sql:
        items.append(f"{cells_sql} AS __n")
    items.extend(f"{slot.raw} AS __c{i}" for i, slot in enumerate(slots))
    items.extend(f"coalesce({flag}, false) AS __x{j}" for j, flag in enumerate(flags))
    return f"(SELECT {', '.join(items)} FROM {relation} AS __src)"


def stage_sql(source: str, stages: list[list[tuple[str, str]]]) -> str:
    sql = source
    for stage in stages:
        if stage:
            items = ", ".join(f"{expr} AS {quote_identifier(alias)}" for alias, expr in stage)
            sql = f"(SELECT *, {items} FROM {sql})"
    return sql


def compile_slots(
    slots: list[Slot], schema: dict[str, Any], keyed: set[str], numeric: set[str]
) -> tuple[list[Column], list[list[tuple[str, str]]]]:
    """Every slot compiled over source_sql's __c{i}; the stages of all columns merged."""
    columns = []
    builders = []
    for i, slot in enumerate(slots):
        b = Builder(f"__f{i}_")
        need = NeedKeys(unique=slot.name in keyed, numeric=slot.name in numeric)
        raw = quote_identifier(f"__c{i}")
        columns.append(compile_column(b, slot.pos, slot.name, raw, slot.field, schema, need))
        builders.append(b)
    depth = max((len(b.stages) for b in builders), default=0)
    stages = [
        [item for b in builders if k < len(b.stages) for item in b.stages[k]] for k in range(depth)
    ]
    return columns, stages


def status_sql(column: Column) -> str:
    """The cell's status bits: None (+ the required bit), type error, or failing constraints
    (checked only on a present, well-typed value, as frictionless does)."""
    terms = []
    required = 0
    for k, (_, _, fails) in enumerate(column.checks):
        bit = 4 << k
        if fails == "__required__":
            required = bit
            continue
        terms.append(f"(CASE WHEN coalesce({fails}, false) THEN {bit} ELSE 0 END)")
    present = " + ".join(terms) if terms else "0"
    return (
        f"(CASE WHEN {column.none} THEN {NONE_BIT | required} "
        f"WHEN NOT {column.ok} THEN {TYPE_BIT} ELSE {present} END)"
    )


class Session:
    """Temporary tables of one check, dropped at the end."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.tables: list[str] = []
        self.on_close: list[str] = []  # statements restoring the connection's settings

    def table(self, stem: str) -> str:
        name = f"__opendata_{stem}_{uuid.uuid4().hex[:12]}"
        self.tables.append(name)
        return quote_identifier(name)

    def close(self) -> None:
        for name in self.tables:
            self.con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
        for statement in self.on_close:
            self.con.execute(statement)
        self.tables.clear()
        self.on_close.clear()


Found = list[tuple[tuple[int, int, int, int], Violation]]


def run_plan(
    session: Session, plan: Plan, limit: int, label_errors: Sequence[Violation] = ()
) -> TableVerdict:
    """Check one table: cells (types, constraints), blank rows, extra/missing cells, unique
    fields and the primary key. One pass computes every cell's status bits (2 bytes a cell)
    and the keyed fields' keys into a temporary table small enough to stay in memory; the
    counts and the first `limit` errors of each type come from it, and the text of a cell is
    read again only for the cells listed."""
    con = session.con
    register_udf(con)
    schema = plan.schema
    kept = {s.name for s in plan.slots if s.field is not None}
    unique = [
        s.name
        for s in plan.slots
        if s.field is not None and (s.field.get("constraints") or {}).get("unique")
    ]
    pk = primary_key(schema)
    has_pk = bool(pk) and set(pk) <= kept
    keyed = set(unique) | (set(pk) if has_pk else set())
    source = source_sql(plan.relation, plan.slots)  # the cells' texts, for the report
    # Every query below orders by __row, so the status table need not keep the source's order:
    # without it DuckDB writes the table in parallel and under the memory limit at twice the
    # speed (0.28 s instead of 0.59 s for 1M x 8 cells at 128MB).
    _unordered_while(session)
    columns, where_is = _status_table(session, plan, keyed)

    counts: dict[str, int] = {}
    found: Found = []
    width = len(plan.slots)
    aggregates: list[tuple[str, str]] = [
        (where_is.of(), "count(*)"),
        (where_is.of(), "count_if(__blank)"),
    ]
    for i in range(len(columns)):
        where = where_is.of(f"__st{i}")
        aggregates.append((where, f"count_if(NOT __blank AND (__st{i} & {TYPE_BIT}) <> 0)"))
        aggregates.append(
            (where, f"sum(CASE WHEN __blank THEN 0 ELSE bit_count(__st{i} >> 2) END)")
        )
    if plan.cells_sql:
        where = where_is.of("__n")
        aggregates.append(
            (where, f"sum(CASE WHEN NOT __blank AND __n > {width} THEN __n - {width} END)")
        )
        aggregates.append(
            (where, f"sum(CASE WHEN NOT __blank AND __n < {width} THEN {width} - __n END)")
        )
    aggregates.extend((where_is.of(f"__x{j}"), f"count_if(__x{j})") for j in range(len(plan.flags)))
    values = _totals(con, aggregates)
    flag_counts = values[len(values) - len(plan.flags) :]
    values = values[: len(values) - len(plan.flags)]
    rows = values[0]
    _add(counts, "blank-row", values[1])
    for i in range(len(columns)):
        _add(counts, "type-error", values[2 + 2 * i])
        _add(counts, "constraint-error", values[3 + 2 * i])
    if plan.cells_sql:
        _add(counts, "extra-cell", values[-2])
        _add(counts, "missing-cell", values[-1])

    # The first `limit` rows of each column and kind: enough for the first `limit` of a type.
    queries = []
    n = "__n" if plan.cells_sql else "NULL::BIGINT"
    if counts.get("blank-row"):
        queries.append(
            f"(SELECT __row, -1 AS col, 0 AS st, NULL::BIGINT AS n FROM {where_is.of()} "
            f"WHERE __blank ORDER BY __row LIMIT {limit})"
        )
    for i in range(len(columns)):  # type errors, then constraint errors (each its own limit)
        for condition, count in (
            (f"(__st{i} & {TYPE_BIT}) <> 0", values[2 + 2 * i]),
            (f"__st{i} >= 4", values[3 + 2 * i]),
        ):
            if count:  # only the columns with errors: a wide table has hundreds without
                where = where_is.of(f"__st{i}", *(["__n"] if plan.cells_sql else []))
                queries.append(
                    f"(SELECT __row, {i} AS col, __st{i} AS st, {n} AS n FROM {where} "
                    f"WHERE NOT __blank AND {condition} ORDER BY __row LIMIT {limit})"
                )
    if plan.cells_sql:
        for kind, condition in (
            ("extra-cell", f"__n > {width}"),
            ("missing-cell", f"__n < {width}"),
        ):
            if counts.get(kind):
                queries.append(
                    f"(SELECT __row, -2 AS col, 0 AS st, __n AS n FROM {where_is.of('__n')} "
                    f"WHERE NOT __blank AND {condition} ORDER BY __row LIMIT {limit})"
                )
    listed = []
    for start in range(0, len(queries), QUERIES_A_PASS):  # a bounded number of sorts at once
        listed.extend(
            con.execute(" UNION ALL ".join(queries[start : start + QUERIES_A_PASS])).fetchall()
        )
    texts = _cell_texts(con, source, {int(r) for r, col, _, _ in listed if col >= 0})
    for row, col, status, cells in listed:
        cell = texts.get((int(row), col)) if col >= 0 else None
        found.extend(_cell_violations(plan, columns, int(row), col, status, cell, cells))

    # Unique fields and the primary key. A key cell reads as None when it is missing or not of
    # its type (status bits 1 or 2): then its key columns are NULL.
    by_name = {c.name: (i, c) for i, c in enumerate(columns) if c.field is not None}
    present = {name: f"(__st{by_name[name][0]} & 3) = 0" for name in keyed}
    for name in unique:
        i, column = by_name[name]
        keys = [f"__k{i}_{j}" for j in range(len(column.keys))]
        where = where_is.of(*keys, f"__st{i}", f"__nan{i}")
        total, repeats = duplicates(con, where, keys, f"{present[name]} AND NOT __nan{i}", limit)
        _add(counts, "unique-error", total)
        for row, previous in repeats:
            note = f"the same as in the row at position {previous}"
            violation = Violation("unique-error", row, name, None, note)
            found.append(((row, PHASE["unique-error"], column.pos, 0), violation))
    if has_pk:
        indexes = [by_name[name][0] for name in pk]
        keys = [f"__k{i}_{j}" for i in indexes for j in range(len(columns[i].keys))]
        none = " AND ".join(f"NOT {present[name]}" for name in pk)
        where = f"NOT ({none})" + "".join(f" AND NOT __nan{i}" for i in indexes)
        needed = [*keys, *(f"__st{i}" for i in indexes), *(f"__nan{i}" for i in indexes)]
        keyed_table = where_is.of(*needed)
        total, repeats = duplicates(con, keyed_table, keys, where, limit)
        empty = scalar(con, f"SELECT count(*) FROM {keyed_table} WHERE {none}")
        _add(counts, "primary-key", total + empty)
        note = 'cells composing the primary keys are all "None"'
        for (row,) in con.execute(
            f"SELECT __row FROM {keyed_table} WHERE {none} ORDER BY __row LIMIT {limit}"
        ).fetchall():
            violation = Violation("primary-key", int(row), None, None, note)
            found.append(((int(row), PHASE["primary-key"], 0, 0), violation))
        for row, previous in repeats:
            note_again = f"the same as in the row at position {previous}"
            violation = Violation("primary-key", row, None, None, note_again)
            found.append(((row, PHASE["primary-key"], 0, 0), violation))

    for order, violation in enumerate(label_errors):
        found.append(((-1, LABEL_ORDER.get(violation.type, 3), order, 0), violation))
        _add(counts, violation.type, 1)
    flagged = [
        (
            count,
            [
                int(row)
                for (row,) in con.execute(
                    f"SELECT __row FROM {where_is.of(f'__x{j}')} WHERE __x{j} "
                    f"ORDER BY __row LIMIT {limit}"
                ).fetchall()
            ]
            if count
            else [],
        )
        for j, count in enumerate(flag_counts)
    ]
    return TableVerdict(plan.name, rows, first_of_each(found, limit), counts, flagged)


# A query's stages carry every column they are given (SELECT *, …): their width, and DuckDB's
# memory a thread, grows with the columns times the stages. Past this many fields the cells are
# checked a group at a time, each group into a table of its own, joined on the row after: a
# table of 1,000 columns then stays within the default 128MB.
COLUMNS_A_PASS = 24
QUERIES_A_PASS = 32
AGGREGATES_A_PASS = 256  # the first errors of this many columns and kinds listed by one query


class _Status:
    """Where the status columns of a check are: one table, or for a wide table one table a
    group of columns (`parts`, each with __row) and the rows' blank flags in `blank`."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.parts: list[str] = []
        self.blank = table
        self.home: dict[str, int] = {}  # a column's name: the part that holds it

    def of(self, *names: str) -> str:
        """A relation with __row, __blank and the columns `names`."""
        if not self.parts:
            return self.table
        wanted = sorted({self.home[name] for name in names})
        if not wanted:
            return self.blank
        views = [
            f"(SELECT __p.* EXCLUDE (__blank{n}), __b.__blank FROM {self.parts[n]} AS __p "
            f"JOIN {self.blank} AS __b ON __b.__row = __p.__row)"
            for n in wanted
        ]
        if len(views) == 1:
            return views[0]
        picked = ", ".join(
            f"__v{k}.* EXCLUDE (__row, __blank)" if k else "__v0.*" for k in range(len(views))
        )
        joined = " ".join(
            f"JOIN {view} AS __v{k} ON __v{k}.__row = __v0.__row"
            for k, view in enumerate(views)
            if k
        )
        return f"(SELECT {picked} FROM {views[0]} AS __v0 {joined})"


def _totals(con: duckdb.DuckDBPyConnection, aggregates: list[tuple[str, str]]) -> list[int]:
    """Each (relation, aggregate)'s value, in order: one query a relation, a bounded number
    of aggregates at a time."""
    values = [0] * len(aggregates)
    by_relation: dict[str, list[int]] = {}
    for index, (relation, _) in enumerate(aggregates):
        by_relation.setdefault(relation, []).append(index)
    for relation, indexes in by_relation.items():
        for start in range(0, len(indexes), AGGREGATES_A_PASS):
            chosen = indexes[start : start + AGGREGATES_A_PASS]
            items = ", ".join(aggregates[i][1] for i in chosen)
            totals = first_row(con, f"SELECT {items} FROM {relation}")
            assert totals is not None
            for i, value in zip(chosen, totals, strict=True):
                values[i] = int(value or 0)
    return values


def _status_table(session: Session, plan: Plan, keyed: set[str]) -> tuple[list[Column], _Status]:
    """The status table (one row a source row: __row, __n, each column's status bits __st{i},
    the keyed columns' keys and NaN flags, __blank, the caller's flags __x{j}) made in one
    pass; for many columns or flags, a table a group of them (a table of thousands of columns
    would hold a block of memory a column): the compiled columns and where they are."""
    con = session.con
    slots = range(len(plan.slots))
    flags = range(len(plan.flags))
    column_groups = [slots[i : i + COLUMNS_A_PASS] for i in range(0, len(slots), COLUMNS_A_PASS)]
    # The flags ride along with the column groups (as many to a group as it takes): each
    # group is a query that binds the whole source relation again (0.15 s at 1,000 columns).
    flags_a_pass = max(COLUMNS_A_PASS, -(-len(flags) // max(1, len(column_groups))))
    flag_groups = [flags[i : i + flags_a_pass] for i in range(0, len(flags), flags_a_pass)]
    count = max(1, len(column_groups), len(flag_groups))
    status = _Status(session.table("cells"))
    columns: list[Column] = []
    for number in range(count):
        group = column_groups[number] if number < len(column_groups) else range(0)
        own_flags = flag_groups[number] if number < len(flag_groups) else range(0)
        chosen = [plan.slots[i] for i in group]
        compiled, stages = compile_slots(chosen, plan.schema, keyed, set())
        items = ["__src.__row AS __row"]
        if plan.cells_sql and number == 0:
            items.append(f"{plan.cells_sql} AS __n")
        items.extend(f"{slot.raw} AS __c{local}" for local, slot in enumerate(chosen))
        items.extend(f"coalesce({plan.flags[j]}, false) AS __x{j}" for j in own_flags)
        source = f"(SELECT {', '.join(items)} FROM {plan.relation} AS __src)"
        names = ["__n"] if plan.cells_sql and number == 0 else []
        final = ["__row", *names]
        for i, column in zip(group, compiled, strict=True):
            final.append(f"CAST({status_sql(column)} AS USMALLINT) AS __st{i}")
            names.append(f"__st{i}")
            if column.field is not None and column.name in keyed:
                for j, key in enumerate(column.keys):
                    final.append(f"{key} AS __k{i}_{j}")
                    names.append(f"__k{i}_{j}")
                final.append(f"coalesce({column.nan or 'false'}, false) AS __nan{i}")
                names.append(f"__nan{i}")
        blank = " AND ".join(f"{c.none}" for c in compiled)
        neutral = "false" if count == 1 else "true"  # a group of flags only: as blank as others
        final.append(
            f"({blank or neutral}) AS " + ("__blank" if count == 1 else f"__blank{number}")
        )
        final.extend(f"__x{j}" for j in own_flags)
        names.extend(f"__x{j}" for j in own_flags)
        part = status.table if count == 1 else session.table(f"cells{number}")
        con.execute(
            f"CREATE TEMP TABLE {part} AS SELECT {', '.join(final)} "
            f"FROM {stage_sql(source, stages)}"
        )
        columns.extend(compiled)
        if count > 1:
            status.parts.append(part)
            status.home.update(dict.fromkeys(names, number))
    if count > 1:  # a row is blank when it is blank in every group
        status.blank = session.table("blank")
        con.execute(
            f"CREATE TEMP TABLE {status.blank} AS SELECT __row, __blank0 AS __blank "
            f"FROM {status.parts[0]}"
        )
        for number, part in enumerate(status.parts[1:], start=1):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {status.blank} AS SELECT __b.__row, "
                f"__b.__blank AND __p.__blank{number} AS __blank FROM {status.blank} AS __b "
                f"JOIN {part} AS __p ON __p.__row = __b.__row"
            )
    return columns, status


def _unordered_while(session: Session) -> None:
    """Insertion order off for this check only: the staged tables' order is their row order,
    which the writers of the outputs rely on after the check."""
    ordered = first_row(session.con, "SELECT current_setting('preserve_insertion_order')")
    if ordered and ordered[0]:
        session.con.execute("SET preserve_insertion_order = false")
        session.on_close.append("SET preserve_insertion_order = true")


def _cell_texts(
    con: duckdb.DuckDBPyConnection, source: str, rows: set[int]
) -> dict[tuple[int, int], str | None]:
    """The text of every cell of the listed rows (a report quotes a few hundred at most)."""
    if not rows:
        return {}
    result: dict[tuple[int, int], str | None] = {}
    fetched = con.execute(
        f"SELECT * FROM {source} WHERE __row IN (SELECT unnest(?::BIGINT[]))", [sorted(rows)]
    )
    names = [d[0] for d in fetched.description]
    for record in fetched.fetchall():
        values = dict(zip(names, record, strict=True))
        for name, value in values.items():
            if name.startswith("__c"):
                result[(int(values["__row"]), int(name[3:]))] = value
    return result


def _add(counts: dict[str, int], kind: str, count: int) -> None:
    if count:
        counts[kind] = counts.get(kind, 0) + count


def duplicates(
    con: duckdb.DuckDBPyConnection, relation: str, keys: list[str], where: str, limit: int
) -> tuple[int, list[tuple[int, int]]]:
    """How many rows repeat an earlier row's key (NULLs equal, as None == None), and the first
    `limit` of them with the row they repeat (the latest one before, as frictionless notes)."""
    key_list = ", ".join(keys)
    base = f"(SELECT __row, {key_list} FROM {relation} WHERE {where})"
    if _distinct_integers(con, base, keys):
        return 0, []
    groups = f"SELECT {key_list} FROM {base} GROUP BY ALL HAVING count(*) > 1"
    total = scalar(
        con,
        f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {base} "
        f"GROUP BY {key_list} HAVING count(*) > 1)",
    )
    if not total:
        return 0, []
    join = " AND ".join(f"b.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    repeats = con.execute(
        f"SELECT __row, previous FROM (SELECT b.__row, lag(b.__row) OVER "
        f"(PARTITION BY {', '.join('b.' + k for k in keys)} ORDER BY b.__row) AS previous "
        f"FROM {base} AS b SEMI JOIN ({groups}) AS d ON {join}) "
        f"WHERE previous IS NOT NULL ORDER BY __row LIMIT {limit}"
    ).fetchall()
    return total, [(int(r), int(p)) for r, p in repeats]


DENSE_KEY_SLACK = 4  # a key range up to this many times the rows is marked in an array
DENSE_KEY_BATCH = 1_000_000  # keys fetched at a time (4 MB), so memory stays bounded


def _distinct_integers(con: duckdb.DuckDBPyConnection, base: str, keys: list[str]) -> bool:
    """True when the rows' keys are certainly all different: a single integer key, never NULL,
    in a range not much wider than the rows, marked value by value in an array of one byte per
    possible value (a few milliseconds a million rows, where grouping takes sixty). Any other
    key (composite, text, sparse, with NULLs) is left to the exact grouping, as is a repeat
    found here (the grouping then names the rows)."""
    first, others = keys[0], keys[1:]
    stats = first_row(
        con,
        f"SELECT typeof(any_value({first})), min({first}), max({first}), count({first}), "
        f"count(*){''.join(f', count({k})' for k in others)} FROM {base}",
    )
    if stats is None or stats[4] == 0:
        return True  # no rows, no repeats
    kind, low, high, filled, rows, *other_filled = stats
    if kind not in ("HUGEINT", "BIGINT", "INTEGER") or filled != rows or any(other_filled):
        return False
    span = int(high) - int(low) + 1
    if span > DENSE_KEY_SLACK * rows + 1024:
        return False
    import numpy as np

    seen = np.zeros(span, dtype=bool)
    marked = 0
    offsets = con.sql(f"SELECT CAST({first} - ({int(low)}) AS UINTEGER) FROM {base}")
    reader = offsets.to_arrow_reader(DENSE_KEY_BATCH)
    try:  # closed however the loop ends: an unfinished result blocks the connection
        for batch in reader:
            values = batch.column(0).to_numpy()
            if seen[values].any():
                return False  # a key of an earlier batch
            seen[values] = True
            now = int(np.count_nonzero(seen))
            if now - marked != len(values):
                return False  # a key repeated within this batch
            marked = now
    finally:
        reader.close()
    return True


def _cell_violations(
    plan: Plan,
    columns: list[Column],
    row: int,
    col: int,
    status: int,
    cell: str | None,
    cells: int | None,
) -> Found:
    if col == -1:
        return [((row, PHASE["blank-row"], 0, 0), Violation("blank-row", row, None, None, ""))]
    if col == -2:
        assert cells is not None
        width = len(plan.slots)
        if cells > width:
            return [
                (
                    (row, PHASE["extra-cell"], position, 0),
                    Violation("extra-cell", row, None, None, f"cell at position {position}"),
                )
                for position in range(width + 1, cells + 1)
            ]
        return [
            (
                (row, PHASE["missing-cell"], slot.pos, 0),
                Violation("missing-cell", row, slot.name or None, None, ""),
            )
            for slot in plan.slots[cells:]
        ]
    column = columns[col]
    if status & TYPE_BIT:
        return [
            ((row, 0, column.pos, 0), Violation("type-error", row, column.name, cell, column.note))
        ]
    return [
        ((row, 0, column.pos, k + 1), Violation("constraint-error", row, column.name, cell, note))
        for k, (_, note, _) in enumerate(column.checks)
        if status & (4 << k)
    ]


def first_of_each(found: Found, limit: int) -> list[Violation]:
    """The first `limit` violations of each type, in frictionless's order within a row."""
    found.sort(key=lambda item: item[0])
    taken: dict[str, int] = {}
    result = []
    for _, violation in found:
        if taken.get(violation.type, 0) < limit:
            taken[violation.type] = taken.get(violation.type, 0) + 1
            result.append(violation)
    return result


def schema_slots(schema: dict[str, Any]) -> list[Slot]:
    return [
        Slot(pos, str(f["name"]), f"__src.{quote_identifier(str(f['name']))}", f)
        for pos, f in enumerate(fields_of(schema), start=1)
    ]


def check_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    relation: str,
    schema: dict[str, Any],
    *,
    limit: int = 100,
    flags: Sequence[str] = (),
) -> TableVerdict:
    """`relation` is a SQL table expression (e.g. "read_parquet('/tmp/x.parquet')") whose columns
    are the schema's field names, all VARCHAR, plus "__row" BIGINT (the row number to report).
    A NULL cell means the cell is absent from the row (frictionless: missing-cell is reported by
    the caller, and the cell reads as None); '' is an empty cell. Checks types, missingValues,
    every constraint, unique, primaryKey; also reports a row whose cells all read as None as
    frictionless's blank-row (which replaces that row's other cell errors, so a caller reporting
    missing-cell should drop them on those rows). Foreign keys: check_foreign_keys.

    `flags` are the caller's own rules, SQL conditions over the relation's columns: they ride
    along in the one pass over the cells (a second scan cost as much as a fifth of the check)
    and come back counted in TableVerdict.flagged."""
    reason = supported(schema)
    if reason:
        raise Unsupported(reason)
    session = Session(con)
    try:
        plan = Plan(name, relation, schema, schema_slots(schema), flags=tuple(flags))
        return run_plan(session, plan, limit)
    finally:
        session.close()


# --------------------------------------------------------------------------------------------
# Foreign keys


@dataclass
class Keyed:
    """A resource for foreign keys: its relation, schema and the cells its rows are read with."""

    relation: str
    schema: dict[str, Any]
    slots: list[Slot]


def key_relation(
    keyed: Keyed, names: list[str], partners: list[str | None], side: str
) -> tuple[str, list[list[str] | None], list[str], list[str]]:
    """SQL of (__row, key columns, present flags, NaN flags) for the fields `names`, each to be
    compared with a field of type `partners[i]`: the same type compares natively, numeric types
    as numbers, anything else only None with None (as Python's == does across types). A field
    the header does not keep has no key columns (None): its cells read as None."""
    slots = {s.name: s for s in keyed.slots if s.field is not None}
    chosen = [slots[name] for name in dict.fromkeys(names) if name in slots]
    numeric = {
        name
        for name, partner in zip(names, partners, strict=True)
        if name in slots and partner is not None and partner != kind_of(slots[name].field or {})
    }
    columns, stages = compile_slots(chosen, keyed.schema, set(names), numeric)
    by_name = {c.name: c for c in columns}
    items = ["__row"]
    components: list[list[str] | None] = []
    presents: list[str] = []
    nans: list[str] = []
    for i, (name, partner) in enumerate(zip(names, partners, strict=True)):
        column = by_name.get(name)
        if column is None:
            components.append(None)
            continue
        present = f"coalesce(NOT {column.none} AND {column.ok}, false)"
        if partner is None or partner == column.kind:
            exprs = column.keys
        elif column.kind in NUMERIC_CLASS and partner in NUMERIC_CLASS:
            assert column.numkeys is not None
            exprs = column.numkeys
        else:
            exprs = [f"CASE WHEN {present} THEN {lit(side)} END"]
        if column.nan:
            items.append(f"coalesce({column.nan}, false) AS __nan{i}")
            nans.append(f"__nan{i}")
        names_i = []
        for j, expr in enumerate(exprs):
            items.append(f"{expr} AS __key{i}_{j}")
            names_i.append(f"__key{i}_{j}")
        components.append(names_i)
        items.append(f"{column.raw} AS __raw{i}")
        items.append(f"{present} AS __present{i}")
        presents.append(f"__present{i}")
    source = stage_sql(source_sql(keyed.relation, chosen), stages)
    return f"(SELECT {', '.join(items)} FROM {source})", components, presents, nans


def key_join(target: list[list[str] | None], source: list[list[str] | None]) -> str:
    """Python tuple equality of two keys: component by component, None equal to None."""
    terms = []
    for t_keys, s_keys in zip(target, source, strict=True):
        if t_keys is not None and s_keys is not None:
            terms += [
                f"s.{s} IS NOT DISTINCT FROM t.{t}" for t, s in zip(t_keys, s_keys, strict=True)
            ]
        elif t_keys is not None:
            terms += [f"t.{t} IS NULL" for t in t_keys]
        elif s_keys is not None:
            terms += [f"s.{s} IS NULL" for s in s_keys]
    return " AND ".join(terms) or "true"


def run_foreign_keys(
    session: Session, tables: dict[str, Keyed], limit: int, only: Sequence[str] | None = None
) -> dict[str, TableVerdict]:
    """Foreign keys as frictionless validates a Package: a row whose key cells are not all None
    must equal (Python ==, None equal to None, NaN to nothing) the key of a row of the
    referenced resource whose key cells are not all None."""
    con = session.con
    register_udf(con)
    verdicts: dict[str, TableVerdict] = {}
    for name in only if only is not None else list(tables):
        target = tables[name]
        counts: dict[str, int] = {}
        found: Found = []
        kept = {s.name for s in target.slots if s.field is not None}
        types = {str(f["name"]): kind_of(f) for f in fields_of(target.schema)}
        for index, fk in enumerate(foreign_keys(target.schema)):
            if not set(fk["fields"]) <= kept:
                continue
            source_name = fk["resource"] or name
            if source_name not in tables:
                raise ValueError(
                    f'resource "{name}": its foreign key refers to "{source_name}", not given'
                )
            source = tables[source_name]
            source_types = {str(f["name"]): kind_of(f) for f in fields_of(source.schema)}
            t_sql, t_keys, t_present, t_nan = key_relation(
                target, fk["fields"], [source_types.get(r) for r in fk["ref_fields"]], "t"
            )
            s_sql, s_keys, s_present, s_nan = key_relation(
                source, fk["ref_fields"], [types.get(t) for t in fk["fields"]], "s"
            )
            lookup = session.table("lookup")
            s_columns = [k for keys in s_keys if keys is not None for k in keys]
            if s_present:
                s_where = f"({' OR '.join(s_present)})" + "".join(f" AND NOT {x}" for x in s_nan)
                con.execute(
                    f"CREATE TEMP TABLE {lookup} AS SELECT DISTINCT "
                    + ", ".join(s_columns)
                    + f" FROM {s_sql} WHERE {s_where}"
                )
            else:  # no key field of the source is kept: every source key is all None
                con.execute(f"CREATE TEMP TABLE {lookup} AS SELECT 1 AS __none WHERE false")
            nan = " OR ".join(t_nan) if t_nan else "false"
            bad = (
                f"SELECT t.__row FROM {t_sql} AS t WHERE ({' OR '.join(t_present)}) AND "
                f"(({nan}) OR NOT EXISTS (SELECT 1 FROM {lookup} AS s "
                f"WHERE {key_join(t_keys, s_keys)}))"
            )
            total = scalar(con, f"SELECT count(*) FROM ({bad})")
            _add(counts, "foreign-key", total)
            if not total:
                continue
            raws = ", ".join(f"t.__raw{i}" for i in range(len(fk["fields"])))
            listed = con.execute(
                f"{bad.replace('SELECT t.__row', f'SELECT t.__row, {raws}', 1)} "
                f"ORDER BY t.__row LIMIT {limit}"
            ).fetchall()
            by_field = {str(f["name"]): f for f in fields_of(target.schema)}
            for row_number, *cells in listed:
                values = [
                    python_value(by_field[field_name], target.schema, cell)
                    for field_name, cell in zip(fk["fields"], cells, strict=True)
                ]
                note = (
                    f'for "{", ".join(fk["fields"])}": values "{", ".join(map(str, values))}" '
                    f'not found in the lookup table "{fk["resource"]}" as '
                    f'"{", ".join(fk["ref_fields"])}"'
                )
                violation = Violation("foreign-key", int(row_number), None, None, note)
                found.append(((int(row_number), PHASE["foreign-key"], index, 0), violation))
        rows = scalar(con, f"SELECT count(*) FROM {target.relation} AS __src")
        verdicts[name] = TableVerdict(name, rows, first_of_each(found, limit), counts)
    return verdicts


def check_foreign_keys(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, tuple[str, dict[str, Any]]],
    *,
    limit: int = 100,
) -> dict[str, TableVerdict]:
    """tables: resource name -> (relation, schema). Foreign keys across resources of one package
    (and self-references with resource ""), as frictionless validates a Package. Returns
    per-resource verdicts holding only foreign-key violations."""
    for name, (_, schema) in tables.items():
        reason = supported(schema)
        if reason:
            raise Unsupported(f'resource "{name}": {reason}')
    keyed = {
        name: Keyed(relation, schema, schema_slots(schema))
        for name, (relation, schema) in tables.items()
    }
    session = Session(con)
    try:
        return run_foreign_keys(session, keyed, limit)
    finally:
        session.close()


# --------------------------------------------------------------------------------------------
# CSV files


CSV_OPTIONS = (
    "header = false, delim = ',', quote = '\"', escape = '\"', auto_detect = false, "
    "nullstr = chr(10), allow_quoted_nulls = false, encoding = 'utf-8'"
)


def _columns(width: int) -> str:
    return "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"


@dataclass
class ParsedCsv:
    """A CSV file read: c0.. (NULL = no such cell), __row, __n (the cell count)."""

    table: str  # a temporary table, or a query over one
    width: int
    labels: list[str] | None  # None when the header row is an empty line (frictionless: none)


def sniffed_skipinitialspace(path: Path, bom: bool) -> bool:
    """frictionless sniffs the first 100 lines with csv.Sniffer and keeps its skipinitialspace
    (the explicit dialect does not set it): DuckDB cannot skip initial spaces, so such a file
    is Unsupported."""
    with path.open(encoding="utf-8-sig" if bom else "utf-8", newline="") as stream:
        sample = "".join(itertools.islice(stream, 100))
    try:
        dialect = csv.Sniffer().sniff(sample, ",")
    except csv.Error:
        return False
    return bool(dialect.skipinitialspace)


@dataclass
class LineScan:
    """What DuckDB does not tell: the empty records (Python's csv reads an empty line as a
    record [], DuckDB skips it), the number of records, and whether line ends are mixed."""

    empties: list[int]
    records: int | None  # None when not counted (the cheap search found nothing to count)
    mixed: bool


def _line_end_kinds(path: Path, start: int, chunk_size: int) -> tuple[bool, bool]:
    """(one kind of line end in the whole file, maybe an empty line): counts and searches at C
    speed. Quoted line ends count too, so a file may be suspected wrongly, never cleared so."""
    cr = lf = crlf = 0
    first = b""
    tail = b""
    with path.open("rb") as stream:
        stream.seek(start)
        while chunk := stream.read(chunk_size):
            first = first or chunk[:2]
            cr += chunk.count(b"\r")
            lf += chunk.count(b"\n")
            if cr and lf:
                crlf += chunk.count(b"\r\n") + (tail == b"\r" and chunk[:1] == b"\n")
            tail = chunk[-1:]
        if cr == 0 or lf == 0 or cr == lf == crlf:
            pattern = b"\n\n" if cr == 0 else (b"\r\r" if lf == 0 else b"\r\n\r\n")
            terminator = pattern[: len(pattern) // 2]
            if first.startswith(terminator):
                return True, True
            stream.seek(start)
            tail = b""
            while chunk := stream.read(chunk_size):
                if pattern in tail + chunk[: len(pattern)] or pattern in chunk:
                    return True, True
                tail = chunk[-(len(pattern) - 1) :]
            return True, False
    return False, True


def scan_lines(path: Path, start: int, *, count: bool = False) -> LineScan:
    """Counts and searches at C speed first; only when they find a candidate empty line or
    mixed line ends (or `count` asks), a vectorised numpy scan in chunks that works on the
    positions of quotes and line ends -- never per row."""
    import numpy as np

    chunk_size = 1 << 26
    single, suspect = _line_end_kinds(path, start, chunk_size)
    if single and not suspect and not count:
        return LineScan([], None, False)
    empties: list[int] = []
    kinds: set[str] = set()
    quotes = 0  # quotes before the chunk (well-formed quoting: each quote flips the state)
    records = 0  # terminators before the chunk
    previous = -1  # the byte before the chunk (-1: the file starts)
    pending_cr = False  # the chunk before ended with a CR outside quotes
    with path.open("rb") as stream:
        stream.seek(start)
        while chunk := stream.read(chunk_size):
            data = np.frombuffer(chunk, dtype=np.uint8)
            if pending_cr:
                kinds.add("crlf" if data[0] == 10 else "cr")
            quote_at = np.flatnonzero(data == 34)
            line_at = np.flatnonzero((data == 10) | (data == 13))
            outside = (np.searchsorted(quote_at, line_at) + quotes) % 2 == 0
            at = line_at[outside]
            byte = data[at]
            before = np.where(at > 0, data[np.maximum(at - 1, 0)].astype(np.int16), previous)
            after = np.where(
                at + 1 < len(data), data[np.minimum(at + 1, len(data) - 1)].astype(np.int16), -1
            )
            is_cr = byte == 13
            lone_lf = (byte == 10) & (before != 13)
            starts = is_cr | lone_lf  # a terminator (\r\n, \r or \n) begins here
            if lone_lf.any():
                kinds.add("lf")
            if (is_cr & (after == 10)).any():
                kinds.add("crlf")
            if (is_cr & (after != 10) & (after != -1)).any():
                kinds.add("cr")
            empty = starts & ((before == 10) | (before == 13) | (before == -1))
            index = np.cumsum(starts) - starts + records
            empties.extend((index[empty] + 1).tolist())
            records += int(starts.sum())
            quotes += len(quote_at)
            pending_cr = bool(len(at)) and int(at[-1]) == len(data) - 1 and bool(is_cr[-1])
            previous = int(data[-1])
        if pending_cr:
            kinds.add("cr")
    if previous not in (-1, 10, 13):
        records += 1  # the last record has no terminator
    return LineScan([int(e) for e in empties], records, len(kinds) > 1)


def _read_error(error: Exception) -> Unsupported:
    return Unsupported(f"DuckDB cannot read the CSV as frictionless does: {error}")


def first_record_width(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """How many cells the first non-empty record has."""
    width = 16
    while True:
        try:
            row = first_row(
                con,
                f"SELECT * FROM read_csv({lit(str(path))}, {CSV_OPTIONS}, "
                f"columns = {_columns(width)}, null_padding = true, strict_mode = false, "
                "parallel = false) LIMIT 1",
            )
        except duckdb.Error as error:
            raise _read_error(error) from error
        if row is None:
            return 0
        if row[-1] is None:
            return sum(1 for c in row if c is not None)
        width *= 4


def parse_csv(session: Session, path: Path) -> ParsedCsv:
    """Read a CSV (UTF-8, comma, '"' quotes doubled, header first) with DuckDB into a temporary
    table of VARCHAR cells, each record numbered as Python's csv reader numbers it."""
    con = session.con
    with path.open("rb") as stream:
        bom = stream.read(3) == b"\xef\xbb\xbf"
    start = 3 if bom else 0
    if sniffed_skipinitialspace(path, bom):
        raise Unsupported(
            "frictionless's CSV sniffer turns skipinitialspace on for this file; "
            "DuckDB cannot skip initial spaces"
        )
    scan = scan_lines(path, start)
    if scan.mixed:
        raise Unsupported("the file mixes line ends (\\r\\n, \\n, \\r), which DuckDB reads apart")
    empties = scan.empties
    raw = session.table("csv")
    width = max(first_record_width(con, path), 1)
    source = lit(str(path))
    # Record numbers come from the order DuckDB keeps the records in (rowid).
    ordered = first_row(con, "SELECT current_setting('preserve_insertion_order')")
    if not (ordered and ordered[0]):
        con.execute("SET preserve_insertion_order = true")
        session.on_close.append("SET preserve_insertion_order = false")
    try:
        # Every record as wide as the first: DuckDB's fast parallel reader, strict.
        con.execute(
            f"CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv({source}, {CSV_OPTIONS}, "
            f"columns = {_columns(width)}, strict_mode = true)"
        )
    except duckdb.Error:
        # Ragged rows: padded with NULLs, wider until a sentinel column stays empty. This
        # lenient reader is trusted only if it finds as many records as Python's csv would.
        width += 1
        while True:
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM read_csv({source}, "
                    f"{CSV_OPTIONS}, columns = {_columns(width + 1)}, null_padding = true, "
                    "strict_mode = false, parallel = false)"
                )
            except duckdb.Error as error:
                raise _read_error(error) from error
            if not scalar(con, f"SELECT count(*) FROM {raw} WHERE c{width} IS NOT NULL"):
                break
            width *= 2
        scan = scan_lines(path, start, count=True)
        found = scalar(con, f"SELECT count(*) FROM {raw}") + len(scan.empties)
        if scan.mixed or scan.records != found:
            raise Unsupported(
                "DuckDB's lenient reader does not find the records Python's csv does"
            ) from None
        empties = scan.empties
    cells = [f"c{i}" for i in range(width)]
    if empties:
        # The j-th empty record (number e) comes after e - 1 - j of DuckDB's records: those
        # from there on move down by j + 1.
        gaps = session.table("gaps")
        con.execute(f"CREATE TEMP TABLE {gaps} (e BIGINT, j BIGINT)")
        con.executemany(
            f"INSERT INTO {gaps} VALUES (?, ?)", [(e, j) for j, e in enumerate(empties)]
        )
        numbered = (
            f"SELECT {', '.join('r.' + c for c in cells)}, r.__i + 1 + coalesce(g.k, 0) AS __row "
            f"FROM (SELECT *, rowid AS __i FROM {raw}) AS r ASOF LEFT JOIN "
            f"(SELECT e - 1 - j AS t, max(j) + 1 AS k FROM {gaps} GROUP BY ALL) AS g "
            f"ON r.__i >= g.t UNION ALL SELECT {', '.join('NULL' for _ in cells)}, e FROM {gaps}"
        )
    else:
        numbered = f"SELECT {', '.join(cells)}, rowid + 1 AS __row FROM {raw}"
    counted = " + ".join(f"CAST({c} IS NOT NULL AS INTEGER)" for c in cells)
    if empties:
        table = session.table("records")
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT *, {counted} AS __n FROM ({numbered})")
    else:  # DuckDB's order is the records' order: no second copy
        table = f"(SELECT *, {counted} AS __n FROM ({numbered}))"
    labels: list[str] | None = None
    if 1 not in empties:
        first = first_row(con, f"SELECT {', '.join(cells)} FROM {table} WHERE __row = 1")
        if first is not None:
            labels = [str(c).strip(PY_WHITESPACE) for c in first if c is not None]
    return ParsedCsv(table, width, labels)


def deduplicate(names: list[str]) -> list[str]:
    """frictionless's names for a header's fields: a repeated name gets 2, 3, ..."""
    result: list[str] = []
    used: set[str] = set()
    for name in names:
        new = name
        suffix = 2
        while new in used:
            new = f"{name}{suffix}"
            suffix += 1
        result.append(new)
        used.add(new)
    return result


def header(labels: list[str] | None, schema: dict[str, Any]) -> tuple[list[Slot], list[Violation]]:
    """frictionless's Header in its default "exact" mode: the label errors, and the fields each
    row is read with (by position; an extra label adds an "any" field, a missing label drops its
    field so its cells become extra cells)."""
    fields = fields_of(schema)
    if not labels:
        slots = [Slot(p, str(f["name"]), f"__src.c{p - 1}", f) for p, f in enumerate(fields, 1)]
        return slots, []
    errors: list[Violation] = []
    for number, label in enumerate(labels[len(fields) :], start=len(fields) + 1):
        errors.append(Violation("extra-label", None, None, label, f"label at position {number}"))
    for f in fields[len(labels) :]:
        errors.append(Violation("missing-label", None, str(f["name"]), None, ""))
    for number, (f, label) in enumerate(zip(fields, labels, strict=False), start=1):
        name = str(f["name"])
        if not label:
            errors.append(Violation("blank-label", None, name, "", ""))
            continue
        seen = [str(i) for i, other in enumerate(labels[: number - 1], start=1) if other == label]
        if seen:
            note = f'at position "{", ".join(seen)}"'
            errors.append(Violation("duplicate-label", None, name, label, note))
        elif label != name:
            errors.append(Violation("incorrect-label", None, name, label, ""))
    names = deduplicate(
        [str(fields[i]["name"]) if i < len(fields) else label for i, label in enumerate(labels)]
    )
    slots = [
        Slot(i + 1, names[i], f"__src.c{i}", fields[i] if i < len(fields) else None)
        for i in range(len(labels))
    ]
    return slots, errors


def csv_plan(
    session: Session, path: Path, schema: dict[str, Any], name: str
) -> tuple[Plan, list[Violation]]:
    """The CSV read, its header checked, and the plan for its rows. A file without labels and
    rows is frictionless's source-error (reported as the only label-level error)."""
    with path.open("rb") as stream:
        head = stream.read(4)
    empty = head in (b"", b"\xef\xbb\xbf")
    parsed = None if empty else parse_csv(session, path)
    if parsed is None or (
        not parsed.labels
        and not scalar(session.con, f"SELECT count(*) FROM {parsed.table} WHERE __row > 1")
    ):
        relation = "(SELECT CAST(NULL AS BIGINT) AS __row, 0 AS __n WHERE false)"
        slots = [
            Slot(p, str(f["name"]), "CAST(NULL AS VARCHAR)", f)
            for p, f in enumerate(fields_of(schema), 1)
        ]
        error = Violation("source-error", None, None, None, "the source is empty")
        return Plan(name, relation, schema, slots, cells_sql="__src.__n"), [error]
    slots, label_errors = header(parsed.labels, schema)
    for slot in slots:
        if slot.pos > parsed.width:  # a field no record reaches: every cell absent
            slot.raw = "CAST(NULL AS VARCHAR)"
    relation = f"(SELECT * FROM {parsed.table} WHERE __row > 1)"
    return Plan(name, relation, schema, slots, cells_sql="__src.__n"), label_errors


def _merge(verdict: TableVerdict, more: TableVerdict, limit: int) -> None:
    for kind, count in more.counts.items():
        _add(verdict.counts, kind, count)
    merged = verdict.errors + more.errors
    merged.sort(key=lambda v: (-1 if v.row is None else v.row, PHASE.get(v.type, -1)))
    verdict.errors = merged


def validate_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    schema: dict[str, Any],
    *,
    limit: int = 100,
    name: str = "data",
) -> TableVerdict:
    """A raw CSV file (UTF-8, comma, '"' quote, doubled quotes, header row first) checked as
    frictionless checks it with that explicit dialect: header labels (blank, duplicate,
    incorrect, extra, missing), blank rows, extra and missing cells, the cells and keys as
    check_table, and self-referencing foreign keys (a foreign key to another resource needs
    validate_package_csv). Read by DuckDB; raises Unsupported where it cannot be exact."""
    reason = supported(schema)
    if reason:
        raise Unsupported(reason)
    if any(fk["resource"] not in ("", name) for fk in foreign_keys(schema)):
        raise Unsupported("a foreign key to another resource needs validate_package_csv")
    session = Session(con)
    try:
        plan, label_errors = csv_plan(session, Path(path), schema, name)
        verdict = run_plan(session, plan, limit, label_errors)
        if foreign_keys(schema):
            keyed = {name: Keyed(plan.relation, schema, plan.slots)}
            _merge(verdict, run_foreign_keys(session, keyed, limit)[name], limit)
        return verdict
    finally:
        session.close()


def validate_package_csv(
    con: duckdb.DuckDBPyConnection,
    resources: list[tuple[str, Path, dict[str, Any]]],
    *,
    limit: int = 100,
) -> dict[str, TableVerdict]:
    """Several CSV files as one package: each validate_csv plus check_foreign_keys."""
    for name, _, schema in resources:
        reason = supported(schema)
        if reason:
            raise Unsupported(f'resource "{name}": {reason}')
    session = Session(con)
    try:
        verdicts: dict[str, TableVerdict] = {}
        keyed: dict[str, Keyed] = {}
        for name, path, schema in resources:
            plan, label_errors = csv_plan(session, Path(path), schema, name)
            verdicts[name] = run_plan(session, plan, limit, label_errors)
            keyed[name] = Keyed(plan.relation, schema, plan.slots)
        for name, more in run_foreign_keys(session, keyed, limit).items():
            _merge(verdicts[name], more, limit)
        return verdicts
    finally:
        session.close()
