"""boolean: trueValues and falseValues, compared as text."""

from __future__ import annotations

from typing import Any

from opendata.engine.compiler import (
    DEFAULT_FALSE,
    DEFAULT_TRUE,
    Builder,
    Column,
    constraint_value,
    in_list,
    new_column,
)


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
    column = new_column("boolean", f, raw, none, f"{value} IS NOT NULL", value)
    column.keys = [value]
    column.numkeys = [f"CAST({value} AS DOUBLE)", "CAST(NULL AS VARCHAR)"]
    return column


def boolean_constraint(f: dict[str, Any], col: Column, name: str, raw_value: Any) -> str:
    values = {constraint_value(f, name, v) for v in raw_value} - {None}
    if not values:
        return "true"
    return f"NOT ({col.value} IN ({', '.join(str(v).lower() for v in sorted(values))}))"
