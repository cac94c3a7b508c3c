"""date: ISO dates in SQL, strptime formats through engine/types/moments.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from opendata.engine.compiler import (
    COMPARE,
    Builder,
    Column,
    constraint_value,
    format_of,
    lit,
    new_column,
)
from opendata.engine.types.moments import split_moment, strptime_sql
from opendata.engine.udf import udf_call

DATE_ASCII = r"^([0-9]{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])$"


def compile_date(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    if format_of(f) != "default":
        text = b.let("t", strptime_sql(b, f, raw, none))
        b.next()
        moment = split_moment(b, text)
        value = b.let("v", f"CAST({moment.local} AS DATE)")
        b.next()
        column = new_column("date", f, raw, none, moment.ok, value)
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
    column = new_column("date", f, raw, none, f"{value} IS NOT NULL", value)
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
