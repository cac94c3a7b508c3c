"""frictionless's own value reader as a DuckDB function, for the few cells SQL cannot decide.

The checks (engine/checks.py) read every ordinary cell in SQL; a cell whose Python semantics SQL
cannot express (Unicode digits, `1_000`, NaN payloads, week dates) is handed to this vectorised
UDF, which runs frictionless's reader on it and answers the value's canonical ASCII text for the
SQL to parse. Its own module so that every DuckDB connection (engine/db.py) can register it
without loading the checker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import duckdb.func

from opendata.engine.sql import quote_literal

UDF_NAME = "__opendata_frictionless_read"


@functools.lru_cache(maxsize=512)
def _python_reader(spec: str) -> Callable[[str], str | None]:
    from frictionless import Field

    options = json.loads(spec)
    descriptor = options["field"]
    canon = options["canon"]
    reader = Field.from_descriptor(descriptor).create_value_reader()

    def read(cell: str) -> str | None:
        try:
            value = reader(cell)
        except Exception:
            return None
        if value is None:
            return None
        return canonical_text(canon, value)

    return read


def canonical_text(canon: str, value: Any) -> str:
    """The canonical ASCII text SQL parses for a value frictionless read (see each type)."""
    if canon == "integer":
        return str(int(value))
    if canon == "number":
        if value.is_nan():
            return "sNaN" if value.is_snan() else "NaN"
        if value.is_infinite():
            return "-Infinity" if value < 0 else "Infinity"
        return str(value)
    if canon == "year":
        return f"{int(value):04d}"
    if canon == "yearmonth":
        return f"{value.year}-{value.month}"
    if canon == "date":
        return str(value.isoformat())
    if canon == "datetime":  # every date/time kind in full, for the custom formats
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            moment = datetime.combine(date(1900, 1, 1), value)
        return _datetime_text(moment)
    if canon == "time":
        return _time_text(value)
    raise ValueError(canon)


def _offset_text(offset: timedelta | None) -> str:
    if offset is None:
        return ""
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _datetime_text(value: datetime) -> str:
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        + _offset_text(value.utcoffset())
    )


def _time_text(value: time) -> str:
    return (
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        + _offset_text(value.utcoffset())
    )


def _udf(cells: Any, specs: Any) -> Any:
    import pyarrow as pa

    out: list[str | None] = []
    for cell, spec in zip(cells.to_pylist(), specs.to_pylist(), strict=True):
        out.append(None if cell is None or spec is None else _python_reader(spec)(cell))
    return pa.array(out, type=pa.string())


def register_udf(con: duckdb.DuckDBPyConnection) -> None:
    """Register the UDF on this connection once (idempotent: asking DuckDB's catalog first
    costs 10 ms a call, a refused second registration nothing)."""
    varchar = duckdb.sqltype("VARCHAR")
    try:
        con.create_function(
            UDF_NAME,
            _udf,
            [varchar, varchar],
            varchar,
            type=duckdb.func.ARROW,
            null_handling=duckdb.func.SPECIAL,
            side_effects=False,
        )
    except duckdb.NotImplementedException as error:
        if "already created" not in str(error):
            raise


def udf_call(cell: str, field: dict[str, Any], canon: str) -> str:
    keep = ("name", "type", "format", "bareNumber", "groupChar", "decimalChar")
    descriptor = {k: field[k] for k in keep if k in field}
    descriptor["name"] = "cell"
    spec = json.dumps({"field": descriptor, "canon": canon}, sort_keys=True)
    return f"{UDF_NAME}({cell}, {quote_literal(spec)})"
