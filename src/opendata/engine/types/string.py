"""string: the cell itself (formats other than default go to frictionless)."""

from __future__ import annotations

from typing import Any

from opendata.engine.compiler import Builder, Column, in_list, lit, new_column
from opendata.engine.regex import re2_pattern


def compile_string(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    b.next()
    column = new_column("string", f, raw, none, "true", raw)
    column.keys = [f"CASE WHEN NOT {none} THEN {raw} END"]
    return column


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
