"""number: decimal text read as DOUBLE and as exact decimal parts, so that bounds and keys
compare as Python's Decimal does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from opendata.engine.compiler import (
    ASCII_WS_SQL,
    BOUNDS,
    COMPARE,
    Builder,
    Column,
    constraint_value,
    in_list,
    lit,
    new_column,
)
from opendata.engine.types.integer import bare_strip
from opendata.engine.udf import udf_call

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
            processed = bare_strip(processed)
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
    column = new_column("number", f, raw, none, f"{text} IS NOT NULL", dbl)
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
