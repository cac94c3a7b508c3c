"""Our own rules beside the Table Schema's (frictionless-py's row_constraint model: each a
problem row naming the cell): numbers JSON or Parquet cannot hold exactly, a sign that would be
dropped, text a spreadsheet would run as a formula. Each rule is a condition the engine's
`check_table` evaluates with the schema's checks, in the same pass over the table."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from opendata.engine.db import quote_identifier, quote_literal
from opendata.tables import POSITION, Table

LISTED_PER_TYPE = 100
NON_FINITE = r"^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[sS]?[nN][aA][nN][0-9]*)$"


@dataclass(frozen=True)
class _Found:
    type: str
    row: int | None
    field: str | None
    cell: str | None
    note: str


# Our rules on top of frictionless's: values a Table Schema allows that we cannot publish as
# they are, or that would hurt the people who open the files.
NON_FINITE_NOTE = "NaN and infinities have no JSON form: leave the cell empty for a missing value"
OVERFLOW_NOTE = (
    "beyond ±1.8e308, the largest number the JSON and Parquet copies hold (it would become "
    "infinite): check the value, or make the field a string"
)
INTEGER_NOTE = (
    "beyond the 64-bit integers (±9,223,372,036,854,775,807) that the JSON and Parquet copies "
    "hold: make the field a string if this is an identifier"
)
UNDERFLOW_NOTE = (
    "closer to zero than ±2.2e-308, the smallest number the JSON and Parquet copies hold (it "
    "would be published as 0): check the value, or make the field a string"
)
DROPPED_SIGN_NOTE = (
    "has a sign that `bareNumber: false` would drop with the text around the number (a minus "
    "other than '-', parentheses for a negative, a trailing minus): write the number with '-'"
)
# bareNumber false drops what stands before the first digit (but '-') and after the last:
# with it a minus other than ASCII's (U+2212, dashes, full-width), an accounting negative's
# parentheses or a trailing minus, and the number would be published as positive.
_MINUS_LIKE = "\\x{2010}-\\x{2015}\\x{2212}\\x{FE63}\\x{FF0D}"
DROPPED_SIGN = f"^[^0-9-]*[({_MINUS_LIKE}][^0-9]*[0-9]|[0-9][^0-9]*[-{_MINUS_LIKE}][^0-9]*$"
FORMULA_NOTE = (
    "starts with {!r}, so a spreadsheet that opens the published CSV runs it as a formula (CSV "
    "injection): remove the leading character, or mark the field "
    '`"opendata:allowFormulas": true` in its Table Schema if such text is meant'
)
# What OWASP's CSV-injection guidance lists as the start of a formula; a plain number
# (-12, +46, 1.5e3) is not one, nor is a lone dash.
FORMULA_CHARS = "=+-@\t\r"
PLAIN_NUMBER = "[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)([eE][+-]?[0-9]+)?|-"
ALLOW_FORMULAS = "opendata:allowFormulas"
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class _Rule:
    code: str
    field: str
    condition: str  # SQL over the staged row: true when the cell breaks the rule


def rules_of(table: Table) -> list[_Rule]:
    """Every field's rules, as SQL conditions over the staged text. Each starts with a cheap
    test that clears nearly every valid cell (a first character, a plain cast, a length), so
    valid data pays a few milliseconds a million cells; only the rest is read exactly."""
    from opendata.engine import checks

    rules = []
    for field_ in table.schema["fields"]:
        name = field_["name"]
        cell = quote_identifier(name)
        kind = field_.get("type", "string")
        if kind in ("number", "integer") and field_.get("bareNumber") is False:
            condition = (
                f"CASE WHEN {cell} = '' OR ord({cell}) BETWEEN 48 AND 57 AND "
                f"ord(right({cell}, 1)) BETWEEN 48 AND 57 THEN false "
                f"ELSE regexp_matches({cell}, {quote_literal(DROPPED_SIGN)}) END"
            )
            rules.append(_Rule("dropped-sign", name, condition))
        if kind == "number":
            digits = f"regexp_matches(regexp_extract({cell}, '^[^eE]*'), '[1-9]')"
            # a plain number's text is its value; the engine's reading where it is processed
            value = f"TRY_CAST({cell} AS DOUBLE)"
            try:
                typed = checks.typed_sql(field_, cell, table.schema)
                exact = f"coalesce(NOT isfinite({typed}), false)"
                if {"bareNumber", "decimalChar", "groupChar"} & set(field_):
                    value = typed
            except Exception:  # a field the engine cannot read: the text decides
                exact = f"regexp_matches({cell}, {quote_literal(NON_FINITE)})"
            zero = f"coalesce({value} = 0 AND {digits}, false)"
            condition = (
                f"CASE WHEN {cell} = '' OR isfinite(TRY_CAST({cell} AS DOUBLE)) THEN false "
                f"ELSE {exact} END"
            )
            rules.append(_Rule("non-finite-number", name, condition))
            # A number too small for a double (1e-400) would be published as 0: the cheap test
            # lets through only cells with a negative exponent or hundreds of characters.
            condition = (
                f"CASE WHEN NOT (contains({cell}, 'e-') OR contains({cell}, 'E-') OR "
                f"strlen({cell}) > 300) THEN false ELSE {zero} END"
            )
            rules.append(_Rule("number-underflow", name, condition))
        elif kind == "integer":
            with contextlib.suppress(Exception):  # a field the engine cannot read: no rule
                exact = _out_of_range(field_, cell, table)
                condition = f"CASE WHEN strlen({cell}) < 19 THEN false ELSE {exact} END"
                rules.append(_Rule("integer-out-of-range", name, condition))
        elif kind == "string" and field_.get(ALLOW_FORMULAS) is not True:
            condition = (
                f"CASE WHEN ord({cell}) IN ({', '.join(str(ord(c)) for c in FORMULA_CHARS)}) "
                f"THEN NOT regexp_full_match({cell}, {quote_literal(PLAIN_NUMBER)}) ELSE false END"
            )
            rules.append(_Rule("formula-like-text", name, condition))
    return rules


def _out_of_range(field_: dict[str, Any], cell: str, table: Table) -> str:
    """A valid integer (as frictionless reads it) outside int64: the engine's reading of the
    cell, with its value kept as HUGEINT (NULL beyond that, where the text is still an integer)."""
    from opendata.engine import checks

    builder = checks.Builder("", inline=True)
    column = checks.compile_column(
        builder, 1, field_["name"], cell, field_, table.schema, checks.NeedKeys()
    )
    low, high = INT64
    value = column.value
    test = (
        f"(NOT {column.none} AND {column.ok} AND "
        f"({value} IS NULL OR {value} < {low} OR {value} > {high}))"
    )
    return f"coalesce({builder.wrap(test)}, false)"


def flag_rows(con: Any, table: Table, rules: list[_Rule]) -> list[tuple[int, list[int]]]:
    """The rows each rule marks (counted; the first `LISTED_PER_TYPE` listed) in a scan of
    their own, for tables the engine does not check (the engine counts them in its pass)."""
    if not rules:
        return []
    source = f"read_parquet({quote_literal(str(table.path))})"
    counted = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {rule.condition})" for rule in rules)
        + f" FROM {source}"
    ).fetchall()[0]  # read to the end: an unfinished result blocks the connection
    flagged = []
    for rule, total in zip(rules, counted, strict=True):
        rows = []
        if total:
            rows = [
                int(row)
                for (row,) in con.execute(
                    f"SELECT {POSITION} FROM {source} WHERE {rule.condition} "
                    f"ORDER BY {POSITION} LIMIT {LISTED_PER_TYPE}"
                ).fetchall()
            ]
        flagged.append((int(total), rows))
    return flagged


def domain_errors(
    con: Any, table: Table, rules: list[_Rule], flagged: list[tuple[int, list[int]]]
) -> tuple[list[_Found], dict[str, int]]:
    """Our rules' errors: every marked cell counted, the listed ones read with their text."""
    counts: dict[str, int] = {}
    errors = []
    source = f"read_parquet({quote_literal(str(table.path))})"
    for rule, (total, rows) in zip(rules, flagged, strict=True):
        if not total:
            continue
        counts[rule.code] = counts.get(rule.code, 0) + total
        listed = con.execute(
            f"SELECT {POSITION}, {quote_identifier(rule.field)} FROM {source} "
            f"WHERE {POSITION} IN (SELECT unnest(?::BIGINT[])) ORDER BY {POSITION}",
            [rows],
        ).fetchall()
        for row, cell in listed:
            errors.append(
                _Found(rule.code, int(row), rule.field, str(cell), _note(rule.code, str(cell)))
            )
    return errors, counts


def _note(code: str, cell: str) -> str:
    if code == "number-underflow":
        return UNDERFLOW_NOTE
    if code == "dropped-sign":
        return DROPPED_SIGN_NOTE
    if code == "non-finite-number":
        if re.match(NON_FINITE, cell):
            return NON_FINITE_NOTE
        return OVERFLOW_NOTE
    if code == "integer-out-of-range":
        return INTEGER_NOTE
    return FORMULA_NOTE.format(cell[:1])
