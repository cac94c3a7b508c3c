"""year: an integer year, compared as a number."""

from __future__ import annotations

from typing import Any

from opendata.engine.compiler import COMPARE, Builder, Column, constraint_value, new_column
from opendata.engine.udf import udf_call


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
    column = new_column("year", f, raw, none, f"{text} IS NOT NULL", value)
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
