"""The canonical text of a table: the CSV we validate is byte for byte the CSV we publish."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from opendata.collect import CollectedRow

NUMERIC_TYPES = {"integer": int, "year": int}


def cell_text(value: object) -> str:
    """One cell as CSV text; integral floats (how spreadsheets store counts) lose the '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)


def text_rows(fields: Sequence[str], rows: Sequence[CollectedRow]) -> list[list[str]]:
    return [[cell_text(row.values.get(name)) for name in fields] for row in rows]


def csv_bytes(fields: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """UTF-8, comma, CRLF line ends and minimal quoting: RFC 4180."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(fields)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def typed_value(text: str, field: dict[str, Any]) -> Any:
    """A validated CSV cell as the JSON value of its Table Schema type."""
    if text == "" or text in field.get("missingValues", [""]):
        return None
    kind = field.get("type", "string")
    if kind in NUMERIC_TYPES:
        return int(text)
    if kind == "number":
        number = float(text)
        return int(number) if "." not in text and "e" not in text.lower() else number
    if kind == "boolean":
        return text.lower() in ("true", "1", "yes")
    return text


def json_bytes(schema: dict[str, Any], rows: Sequence[Sequence[str]]) -> bytes:
    """The same rows as a JSON array of objects, typed by the schema, keys in schema order."""
    fields = schema["fields"]
    records = [
        {field["name"]: typed_value(cell, field) for field, cell in zip(fields, row, strict=True)}
        for row in rows
    ]
    return (json.dumps(records, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
