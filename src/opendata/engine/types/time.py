"""time: ISO times with an optional zone."""

from __future__ import annotations

from datetime import time
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
from opendata.engine.types.moments import TZ, split_moment, strptime_sql
from opendata.engine.udf import udf_call

TIME_FAST = r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?" + TZ + "?"


def compile_time(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    if format_of(f) != "default":
        text = b.let("t", strptime_sql(b, f, raw, none))
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
    moment = split_moment(b, text)
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
    column = new_column("time", f, raw, none, moment.ok, value)
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
