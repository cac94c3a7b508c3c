"""The shared machinery every type's compiler uses: schema helpers, SQL literals and the stages
(`Builder`) a field's expressions are named in, and `Column`, one field compiled to SQL.

The types (engine/types/) build on this module and nothing here knows about them, so a new type
needs no change here."""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import duckdb

from opendata.engine.db import quote_identifier, quote_literal

# --------------------------------------------------------------------------------------------
# Constants


ASCII_WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
BOUNDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
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


def new_column(
    kind: str, field: dict[str, Any], raw: str, none: str, ok: str, value: str
) -> Column:
    """A type's column; its position and name are compile_column's to set."""
    return Column(0, "", kind, field, raw, none, ok, value)
