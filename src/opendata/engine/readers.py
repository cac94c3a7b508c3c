"""frictionless's value readers and schema rules for the few values a schema holds, in plain
Python, so that the fast path never imports frictionless (half a second of a validation's time).

They read constraint values (`minimum`, `maximum`, `enum`) exactly as frictionless 5's
`Field.create_value_reader()` does, and `schema_problem` accepts only schemas frictionless
accepts (anything it cannot vouch for is left to frictionless). Both are tested against
frictionless itself (tests/engine/test_engine_readers.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, NamedTuple


class YearMonth(NamedTuple):
    """frictionless's yearmonth: compares as a (year, month) tuple."""

    year: int
    month: int


DEFAULT_TRUE = ["true", "True", "TRUE", "1"]
DEFAULT_FALSE = ["false", "False", "FALSE", "0"]
_NOT_BARE = re.compile(r"((^[^-\d]*)|(\D*$))")

# Constraints each type supports (frictionless 5's `supported_constraints`), "unique" for all.
CONSTRAINTS: dict[str, set[str]] = {
    "string": {"required", "minLength", "maxLength", "pattern", "enum"},
    "integer": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
    "number": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
    "boolean": {"required", "enum"},
    "date": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
    "datetime": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
    "time": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
    "year": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
    "yearmonth": {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"},
}
STRING_FORMATS = {"email", "uri", "binary", "uuid", "wkt"}
_CONSTRAINT_TYPES: dict[str, tuple[type, ...]] = {
    "required": (bool,),
    "unique": (bool,),
    "pattern": (str,),
    "enum": (list,),
    "minLength": (int,),
    "maxLength": (int,),
}


def value_reader(field: dict[str, Any]) -> Callable[[Any], Any]:
    """The reader frictionless makes for a field of one of the fast path's types."""
    kind = field.get("type") or "string"
    fmt = str(field.get("format") or "default").removeprefix("fmt:")
    if kind == "integer":
        return _integer(bool(field.get("bareNumber", True)))
    if kind == "number":
        return _number(field)
    if kind == "boolean":
        return _boolean(field)
    if kind == "year":
        return _year
    if kind == "yearmonth":
        return _yearmonth
    if kind == "date":
        return _date(fmt)
    if kind == "datetime":
        return _datetime(fmt)
    if kind == "time":
        return _time(fmt)
    return lambda cell: cell if isinstance(cell, str) else None


def _integer(bare_number: bool) -> Callable[[Any], Any]:
    def read(cell: Any) -> Any:
        if isinstance(cell, str):
            cell = cell.strip()
            if not bare_number:
                cell = _NOT_BARE.sub("", cell)
            try:
                return int(cell)
            except Exception:
                return None
        if cell is True or cell is False:
            return None
        if isinstance(cell, int):
            return cell
        if isinstance(cell, float) and cell.is_integer():
            return int(cell)
        if isinstance(cell, Decimal) and cell % 1 == 0:
            return int(cell)
        return None

    return read


def _number(field: dict[str, Any]) -> Callable[[Any], Any]:
    processed = any(key in field for key in ("groupChar", "decimalChar", "bareNumber"))
    bare = bool(field.get("bareNumber", True))
    group = str(field.get("groupChar", ""))
    decimal = str(field.get("decimalChar", "."))
    floats = bool(field.get("floatNumber", False))
    primary: type = float if floats else Decimal
    secondary: type = Decimal if floats else float

    def read(cell: Any) -> Any:
        if isinstance(cell, str):
            cell = cell.strip()
            if processed:
                if not bare:
                    cell = _NOT_BARE.sub("", cell)
                cell = cell.replace(group, "")
                if decimal != "." and "." in cell:
                    return None
                cell = cell.replace(decimal, ".")
            try:
                return primary(cell)
            except Exception:
                return None
        if isinstance(cell, primary):
            return cell
        if cell is True or cell is False:
            return None
        if isinstance(cell, int):
            return cell
        if isinstance(cell, secondary):
            return primary(str(cell)) if primary is Decimal else primary(cell)
        return None

    return read


def _boolean(field: dict[str, Any]) -> Callable[[Any], Any]:
    mapping: dict[str, bool] = {}
    for value in field.get("trueValues", DEFAULT_TRUE):
        mapping[value] = True
    for value in field.get("falseValues", DEFAULT_FALSE):
        mapping[value] = False

    def read(cell: Any) -> Any:
        if cell is True or cell is False:
            return cell
        if isinstance(cell, str):
            return mapping.get(cell)
        return None

    return read


def _year(cell: Any) -> Any:
    if not isinstance(cell, int):
        if not isinstance(cell, str) or len(cell) != 4:
            return None
        try:
            cell = int(cell)
        except Exception:
            return None
    if cell < 0 or cell > 9999:
        return None
    return cell


def _yearmonth(cell: Any) -> Any:
    if isinstance(cell, tuple | list):
        if len(cell) != 2:
            return None
        return YearMonth(cell[0], cell[1])
    if isinstance(cell, str):
        try:
            year_text, month_text = cell.split("-")
            year, month = int(year_text), int(month_text)
        except Exception:
            return None
        if month < 1 or month > 12:
            return None
        return YearMonth(year, month)
    return None


def _date(fmt: str) -> Callable[[Any], Any]:
    def read(cell: Any) -> Any:
        if isinstance(cell, datetime):
            moment = cell.time()
            if moment.hour == 0 and moment.minute == 0 and moment.second == 0:
                return datetime(cell.year, cell.month, cell.day).date()
            return None
        if isinstance(cell, date):
            return cell
        if not isinstance(cell, str):
            return None
        try:
            if fmt == "any":
                from dateutil import parser

                return parser.parse(cell).date()
            return datetime.strptime(cell, "%Y-%m-%d" if fmt == "default" else fmt).date()
        except Exception:
            return None

    return read


def _datetime(fmt: str) -> Callable[[Any], Any]:
    def read(cell: Any) -> Any:
        if isinstance(cell, datetime):
            return cell
        if not isinstance(cell, str):
            return None
        try:
            from dateutil import parser

            if fmt == "default":
                assert cell[16] == ":"
                assert len(cell) >= 19
                return parser.isoparse(cell)
            if fmt == "any":
                return parser.parse(cell)
            return datetime.strptime(cell, fmt)
        except Exception:
            return None

    return read


def _time(fmt: str) -> Callable[[Any], Any]:
    def read(cell: Any) -> Any:
        if isinstance(cell, time):
            return cell
        if not isinstance(cell, str):
            return None
        try:
            from dateutil import parser

            if fmt == "default":
                assert cell[5] == ":"
                assert len(cell) >= 8
                return parser.isoparse(f"2000-01-01T{cell}").timetz()
            if fmt == "any":
                return parser.parse(cell).timetz()
            return datetime.strptime(cell, fmt).timetz()
        except Exception:
            return None

    return read


def schema_problem(schema: Any) -> str | None:
    """None when the schema is plainly one frictionless accepts (well-formed fields of known
    types, constraints their type supports, keys naming fields); else why we cannot vouch for
    it, and frictionless itself is asked."""
    if not isinstance(schema, dict):
        return "a schema is an object"
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        return "a schema needs a non-empty list of fields"
    names: list[str] = []
    for field in fields:
        problem = _field_problem(field)
        if problem:
            return problem
        names.append(field["name"])
    if len(set(names)) != len(names):
        return "field names are unique"
    missing = schema.get("missingValues", [""])
    if not isinstance(missing, list) or not all(isinstance(v, str) for v in missing):
        return "missingValues is a list of strings"
    key = schema.get("primaryKey")
    if key is not None:
        keys = [key] if isinstance(key, str) else key
        if not isinstance(keys, list) or not all(isinstance(k, str) and k in names for k in keys):
            return "primaryKey names fields of the schema"
    foreign = schema.get("foreignKeys", [])
    if not isinstance(foreign, list):
        return "foreignKeys is a list"
    for entry in foreign:
        if not isinstance(entry, dict) or not isinstance(entry.get("reference"), dict):
            return "a foreign key has fields and a reference"
        own = entry.get("fields")
        other = entry["reference"].get("fields")
        own_list = [own] if isinstance(own, str) else own
        other_list = [other] if isinstance(other, str) else other
        if not isinstance(own_list, list) or not all(k in names for k in own_list):
            return "a foreign key's fields are fields of the schema"
        if not isinstance(other_list, list) or len(other_list) != len(own_list):
            return "a foreign key's reference names as many fields"
        if not isinstance(entry["reference"].get("resource", ""), str):
            return "a foreign key's reference names a resource"
    return None


def _field_problem(field: Any) -> str | None:
    if not isinstance(field, dict) or not isinstance(field.get("name"), str):
        return "every field is an object with a name"
    kind = field.get("type", "string")
    if kind not in CONSTRAINTS:
        return f"type {kind!r} is not one the fast path reads"
    format_ = field.get("format")
    if format_ is not None and format_ != "default":
        if not isinstance(format_, str):
            return "format is a string"
        if kind == "string" and format_ not in STRING_FORMATS:
            return f"format {format_!r} is not a string format"
        if kind not in ("string", "date", "datetime", "time"):
            return f"type {kind!r} has no format {format_!r}"
    constraints = field.get("constraints", {})
    if not isinstance(constraints, dict):
        return "constraints is an object"
    for name, value in constraints.items():
        if name in ("exclusiveMinimum", "exclusiveMaximum"):
            return f"constraint {name!r} needs the Data Package v2 profile"
        if name not in CONSTRAINTS[kind] | {"unique"}:
            return f"constraint {name!r} is not supported by type {kind!r}"
        expected = _CONSTRAINT_TYPES.get(name)
        if expected and (
            not isinstance(value, expected) or isinstance(value, bool) is not (bool in expected)
        ):
            return f"constraint {name!r} has a value of the wrong type"
    for key in ("missingValues", "trueValues", "falseValues"):
        values = field.get(key)
        if values is not None and (
            not isinstance(values, list) or not all(isinstance(v, str) for v in values)
        ):
            return f"{key} is a list of strings"
    for key in ("decimalChar", "groupChar"):
        if key in field and not isinstance(field[key], str):
            return f"{key} is a string"
    if "bareNumber" in field and not isinstance(field["bareNumber"], bool):
        return "bareNumber is true or false"
    return None
