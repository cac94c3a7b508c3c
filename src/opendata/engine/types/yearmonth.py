"""yearmonth: YYYY-MM read into its two parts, compared as a pair."""

from __future__ import annotations

from typing import Any

from opendata.engine.compiler import (
    ASCII_WS_SQL,
    COMPARE,
    Builder,
    Column,
    constraint_value,
    lit,
    new_column,
)
from opendata.engine.udf import udf_call


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
    column = new_column("yearmonth", f, raw, none, ok, value)
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
