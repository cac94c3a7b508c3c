"""What date, datetime and time share: strptime formats read in SQL, ISO moments split in parts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from opendata.engine.compiler import Builder, format_of, lit
from opendata.engine.regex import WS_CLASS
from opendata.engine.udf import udf_call

TZ = r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"


STRPTIME_GROUPS = {
    "Y": "year4",
    "y": "year2",
    "m": "month",
    "d": "day",
    "H": "hour",
    "M": "minute",
    "S": "second",
    "f": "fraction",
}  # struct field names are case-insensitive in DuckDB: %m and %M need distinct names


def strptime_sql(b: Builder, f: dict[str, Any], raw: str, none: str) -> str:
    """A custom strptime format: Python's own regex for it, the cell made canonical text
    'YYYY-MM-DDTHH:MM:SS.ffffff' (defaults 1900-01-01 00:00:00 as strptime's)."""
    import _strptime

    fmt = format_of(f)
    regex = _strptime.TimeRE().pattern(fmt)
    regex = regex.replace(r"\d", "[0-9]").replace(r"\s", WS_CLASS)
    names = re.findall(r"\(\?P<(\w)>", regex)  # regexp_extract names groups by position
    parts = b.let(
        "parts",
        f"CASE WHEN {none} OR strlen({raw}) <> length({raw}) THEN NULL ELSE "
        f"regexp_extract({raw}, {lit('(?i)^(?:' + regex + ')$')}, "
        f"[{', '.join(lit(STRPTIME_GROUPS[n]) for n in names)}]) END",
    )
    b.next()

    def part(name: str, default: str = "") -> str:
        if name in names:
            return f"trim({parts}.{STRPTIME_GROUPS[name]})"
        return lit(default)

    if "Y" in names:
        year = part("Y")
    elif "y" in names:
        short = f"TRY_CAST({part('y')} AS INTEGER)"  # strptime's %y: 69-99 -> 19xx, else 20xx
        year = f"CAST(CASE WHEN {short} <= 68 THEN 2000 ELSE 1900 END + {short} AS VARCHAR)"
    else:
        year = "'1900'"
    fraction = f"rpad({part('f')}, 6, '0')" if "f" in names else "'000000'"
    matched = (
        f"{part(names[0])} <> ''"
        if names
        else f"regexp_full_match({raw}, {lit('(?i)(?:' + regex + ')')})"
    )
    canonical = (
        f"{year} || '-' || lpad({part('m', '1')}, 2, '0') || '-' || lpad({part('d', '1')}, 2, '0')"
        f" || 'T' || lpad({part('H', '0')}, 2, '0') || ':' || lpad({part('M', '0')}, 2, '0')"
        f" || ':' || lpad({part('S', '0')}, 2, '0') || '.' || {fraction}"
    )
    return (
        f"CASE WHEN {none} THEN NULL WHEN strlen({raw}) <> length({raw}) "
        f"THEN {udf_call(raw, f, 'datetime')} WHEN {matched} THEN {canonical} END"
    )


@dataclass
class Moment:
    ok: str
    local: str  # TIMESTAMP as written
    aware: str  # BOOLEAN
    utc: str  # TIMESTAMP, the instant (local for naive values)


def _tz_minutes(tz: str) -> tuple[str, str]:
    """(offset minutes SQL, offset valid SQL) of a canonical tz text (''/Z/+HH/+HHMM/+HH:MM)."""
    hours = f"TRY_CAST(substr({tz}, 2, 2) AS INTEGER)"
    minutes = (
        f"(CASE length({tz}) WHEN 3 THEN 0 WHEN 5 THEN TRY_CAST(substr({tz}, 4, 2) AS INTEGER) "
        f"ELSE TRY_CAST(substr({tz}, 5, 2) AS INTEGER) END)"
    )
    offset = (
        f"(CASE WHEN {tz} IN ('', 'Z', 'z') THEN 0 ELSE "
        f"(CASE WHEN starts_with({tz}, '-') THEN -1 ELSE 1 END) * ({hours} * 60 + {minutes}) END)"
    )
    valid = (
        f"({tz} IN ('', 'Z', 'z') OR ({hours} = 0 AND {minutes} = 0) "
        f"OR ({hours} <= 23 AND {minutes} <= 59))"
    )
    return offset, valid


def split_moment(b: Builder, text: str) -> Moment:
    """Canonical 'YYYY-MM-DD?HH:MM:SS[.f][tz]' text read as dateutil's isoparse reads it."""
    day = b.let(
        "day",
        f"CASE WHEN NOT starts_with({text}, '0000') "
        f"THEN TRY_CAST(substr({text}, 1, 10) AS DATE) END",
    )
    hour = b.let("h", f"TRY_CAST(substr({text}, 12, 2) AS INTEGER)")
    minute = b.let("mi", f"TRY_CAST(substr({text}, 15, 2) AS INTEGER)")
    second = b.let("s", f"TRY_CAST(substr({text}, 18, 2) AS INTEGER)")
    rest = b.let(
        "rest",
        f"CASE WHEN strlen({text}) > 19 THEN regexp_extract(substr({text}, 20), "
        f"'^(?:[.,]([0-9]+))?(.*)$', ['f', 'tz']) END",
    )
    b.next()
    micro = b.let(
        "us",
        f"CASE WHEN coalesce({rest}.f, '') = '' THEN 0 "
        f"ELSE TRY_CAST(rpad(substr({rest}.f, 1, 6), 6, '0') AS INTEGER) END",
    )
    tz = b.let("tz", f"coalesce({rest}.tz, '')")
    b.next()
    offset, tz_ok = _tz_minutes(tz)
    ok = b.let(
        "ok",
        f"coalesce({day} IS NOT NULL AND {minute} <= 59 AND {second} <= 59 AND "
        f"({hour} <= 23 OR ({hour} = 24 AND {minute} = 0 AND {second} = 0 AND {micro} = 0 "
        f"AND {day} < DATE '9999-12-31')) AND {tz_ok}, false)",
    )
    b.next()
    local = b.let(
        "local",
        f"CASE WHEN {ok} THEN CAST({day} AS TIMESTAMP) + to_microseconds("
        f"(({hour} * 60 + {minute}) * 60 + {second}) * CAST(1000000 AS BIGINT) + {micro}) END",
    )
    aware = b.let("aware", f"CASE WHEN {ok} THEN {tz} <> '' END")
    minutes = b.let("off", f"CASE WHEN {ok} THEN {offset} END")
    b.next()
    utc = b.let("utc", f"{local} - to_minutes({minutes})")
    b.next()
    return Moment(ok, local, aware, utc)
