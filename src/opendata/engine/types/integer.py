"""integer: ASCII digits read by SQL casts, HUGEINT and beyond compared exactly."""

from __future__ import annotations

from typing import Any

from opendata.engine.compiler import (
    ASCII_WS_SQL,
    COMPARE,
    PYTHON_COMPARE,
    Builder,
    Column,
    constraint_value,
    in_list,
    lit,
    new_column,
)
from opendata.engine.udf import udf_call

INT_TEXT = r"[+-]?[0-9]+"


def bare_strip(text: str) -> str:
    """bareNumber false: frictionless removes ((^[^-\\d]*)|(\\D*$)) (ASCII here)."""
    return f"regexp_replace(regexp_replace({text}, '^[^-0-9]*', ''), '[^0-9]*$', '')"


def compile_integer(
    b: Builder, f: dict[str, Any], raw: str, none: str, eq: bool, cmp: bool, num: bool
) -> Column:
    bare = f.get("bareNumber", True)
    stripped = f"trim({raw}, {ASCII_WS_SQL})"
    if not bare:
        stripped = bare_strip(stripped)
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
    column = new_column("integer", f, raw, none, f"{text} IS NOT NULL", value)
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
