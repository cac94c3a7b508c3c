"""One module per Table Schema type, registered in `TYPES`: how a cell of that type reads in SQL
and how its constraints compare, as frictionless's ``fields/`` holds one module per type.

A new type is one new module here and one entry in `TYPES`; the dispatch
(engine/columns.py's `compile_column`, `supported`) reads only this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opendata.engine.compiler import BOUNDS, Builder, Column
from opendata.engine.types.boolean import boolean_constraint, compile_boolean
from opendata.engine.types.date import compile_date, date_constraint
from opendata.engine.types.datetime import compile_datetime, datetime_constraint
from opendata.engine.types.integer import compile_integer, integer_constraint
from opendata.engine.types.number import compile_number, number_constraint
from opendata.engine.types.string import compile_string, string_constraint
from opendata.engine.types.time import compile_time, time_constraint
from opendata.engine.types.year import compile_year, year_constraint
from opendata.engine.types.yearmonth import compile_yearmonth, yearmonth_constraint

# (builder, field, raw cell SQL, "is missing" SQL, needs equality keys, needs comparison keys,
# needs numeric keys) -> the compiled column
Compile = Callable[[Builder, dict[str, Any], str, str, bool, bool, bool], Column]
# (field, compiled column, constraint name, constraint value) -> SQL true when a cell fails it
Constraint = Callable[[dict[str, Any], Column, str, Any], str]


@dataclass(frozen=True)
class TypeCompiler:
    """One type: its compiler, its constraints' SQL and the constraints it checks, in the order
    frictionless checks them (which is the order its errors are listed in)."""

    compile: Compile
    constraint: Constraint
    constraints: tuple[str, ...]


_ORDERED = ("required", *BOUNDS, "enum")

TYPES: dict[str, TypeCompiler] = {
    "string": TypeCompiler(
        compile_string,
        string_constraint,
        ("required", "minLength", "maxLength", "pattern", "enum"),
    ),
    "boolean": TypeCompiler(compile_boolean, boolean_constraint, ("required", "enum")),
    "integer": TypeCompiler(compile_integer, integer_constraint, _ORDERED),
    "number": TypeCompiler(compile_number, number_constraint, _ORDERED),
    "year": TypeCompiler(compile_year, year_constraint, _ORDERED),
    "yearmonth": TypeCompiler(compile_yearmonth, yearmonth_constraint, _ORDERED),
    "date": TypeCompiler(compile_date, date_constraint, _ORDERED),
    "datetime": TypeCompiler(compile_datetime, datetime_constraint, _ORDERED),
    "time": TypeCompiler(compile_time, time_constraint, _ORDERED),
}
