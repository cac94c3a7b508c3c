"""datetime: ISO datetimes with an optional zone, compared as Python compares them."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from opendata.engine.types.moments import TZ, Moment, split_moment, strptime_sql
from opendata.engine.udf import udf_call

DATETIME_FAST = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[\x00-\x7F][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?" + TZ + "?"
)


def compile_datetime(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    if format_of(f) != "default":
        text = b.let("t", strptime_sql(b, f, raw, none))
    else:
        text = b.let(
            "t",
            f"CASE WHEN {none} THEN NULL WHEN regexp_full_match({raw}, {lit(DATETIME_FAST)}) "
            f"THEN {raw} WHEN length({raw}) >= 19 AND substr({raw}, 17, 1) = ':' AND "
            f"strlen({raw}) = length({raw}) THEN {udf_call(raw, f, 'datetime')} END",
        )
    b.next()
    moment = split_moment(b, text)
    column = new_column("datetime", f, raw, none, moment.ok, moment.utc)
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
