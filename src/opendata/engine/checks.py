"""Frictionless's verdict on a table, computed as vectorised DuckDB SQL.

frictionless-py (5.21) is the reference for what is valid: these checks give the same error types,
row numbers, fields and notes, but every cell is read by SQL (RE2 regexes, casts) instead of by
Python, so a million-row table is checked in well under a second instead of half a minute.

How a cell is read, per type, mirrors frictionless's value readers (``frictionless/fields``):
ordinary ASCII cells are decided entirely in SQL; a cell whose Python semantics SQL cannot
express (Unicode digits or spaces, ``1_000``, NaN payloads, giant exponents, odd ISO forms such as
week dates) fails a cheap ASCII pre-check and is handed to a vectorised Python UDF that runs
frictionless's own value reader on it -- so valid everyday data never goes through Python, and
the exotic cases are exact by construction. A connection running `typed_sql`'s expressions needs
that UDF: call `register_udf(con)` (the checks register it themselves).

Reports stay bounded: frictionless stops at its ``limit_errors`` (1,000 errors in total by
default); we never stop early -- every error is counted (``TableVerdict.counts``) and the first
``limit`` of each error type are listed (``TableVerdict.errors``), in frictionless's order.

Where the fast path cannot be exact it says so: `supported()` names the first unsupported schema
feature (types any/array/object/geo*/duration, string formats, date/time format "any" or strptime
directives other than %Y %y %m %d %H %M %S %f, floatNumber, patterns RE2 cannot express, bounds
frictionless cannot read, fieldsMatch other than "exact", schemas frictionless rejects), and the
CSV readers raise `Unsupported` for files DuckDB would read differently from Python's csv module
(mixed line ends, a sniffed skipinitialspace, quoting DuckDB rejects).

Known places where frictionless itself crashes (we give a verdict instead; they are outside the
differential tests):

- a number cell ``sNaN`` in a field with bounds, ``enum``, ``unique`` or a key: Decimal raises
  and the validation crashes; we treat sNaN like NaN (never equal, fails every bound).
- datetime/time bounds compared with cells of the other kind of awareness (an offset-naive cell
  against an aware ``minimum`` or the reverse): Python raises TypeError; we report the cell as
  failing the constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from opendata.engine.columns import compile_column, supported, typed_sql
from opendata.engine.compiler import Builder, NeedKeys, missing_values
from opendata.engine.csvfile import validate_csv, validate_package_csv
from opendata.engine.executor import Plan, Session, run_plan, schema_slots
from opendata.engine.foreign_keys import check_foreign_keys
from opendata.engine.regex import Inexpressible, re2_pattern
from opendata.engine.udf import register_udf
from opendata.engine.verdicts import TableVerdict, Unsupported, Violation

# The checks (a relation, a package's foreign keys, CSV files read as frictionless reads them),
# and for our own rules beside the engine's (opendata/validate.py): a rule's condition rides
# along in check_table's one pass (`flags`); a rule that reads a cell as the engine does
# compiles it with Builder, compile_column and NeedKeys; a pattern rule runs re2_pattern's
# translation in SQL (Inexpressible: the rule falls back to Python's re).
__all__ = [
    "Builder",
    "Inexpressible",
    "NeedKeys",
    "TableVerdict",
    "Unsupported",
    "Violation",
    "check_foreign_keys",
    "check_table",
    "compile_column",
    "missing_values",
    "re2_pattern",
    "register_udf",
    "supported",
    "typed_sql",
    "validate_csv",
    "validate_package_csv",
]


def check_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    relation: str,
    schema: dict[str, Any],
    *,
    limit: int = 100,
    flags: Sequence[str] = (),
) -> TableVerdict:
    """`relation` is a SQL table expression (e.g. "read_parquet('/tmp/x.parquet')") whose columns
    are the schema's field names, all VARCHAR, plus "__row" BIGINT (the row number to report).
    A NULL cell means the cell is absent from the row (frictionless: missing-cell is reported by
    the caller, and the cell reads as None); '' is an empty cell. Checks types, missingValues,
    every constraint, unique, primaryKey; also reports a row whose cells all read as None as
    frictionless's blank-row (which replaces that row's other cell errors, so a caller reporting
    missing-cell should drop them on those rows). Foreign keys: check_foreign_keys.

    `flags` are the caller's own rules, SQL conditions over the relation's columns: they ride
    along in the one pass over the cells (a second scan cost as much as a fifth of the check)
    and come back counted in TableVerdict.flagged."""
    reason = supported(schema)
    if reason:
        raise Unsupported(reason)
    session = Session(con)
    try:
        plan = Plan(name, relation, schema, schema_slots(schema), flags=tuple(flags))
        return run_plan(session, plan, limit)
    finally:
        session.close()
