"""Trafikanalys (api.trafa.se): a product query as tidy rows.

Request: `GET {base}/data?query=t10016|ar:2023|regkom:1490&lang=sv` (product, then
`variable:value,value` filters, `|`-separated; a bare measure name selects a measure).

Answer: `{"Header": {"Column": [{"Name", "Type": "D"|"M", "DataType", "Value", "Unit", ...}]},
"Rows": [{"Cell": [{"Name", "IsMeasure", "Column", "Value", "FormattedValue", "NoteIds", ...}],
"IsTotal"}], "Errors", "Notes", "Name", ...}`. One row of the answer is one row here: each
cell's `Column` is the key and its `Value` the value. `Cell` may be a single object instead of a
list. A non-empty `Errors` (a query the API did not accept) is a SourceResponseError.

Numbers, parsed carefully:
- only measure cells (`IsMeasure`, or a `Type: "M"` column in the header) become numbers;
  dimension cells stay text as given, so codes such as "0180" keep their leading zero;
- `Value` is the unformatted number ("12345", "12.5"); `FormattedValue` is ignored. Should a
  formatted one come ("12 345", "12,5", "1 234,5"), spaces (also no-break and thin spaces) are
  thousands separators and a lone comma is the decimal comma (Swedish usage: Trafikanalys never
  groups digits with commas). With both "." and ",", the last one is the decimal separator;
  several "." and no "," are thousands separators;
- "-", "–", "..", "...", "" and null mean no value: None (never a made-up zero);
- anything else that is not a number is a SourceResponseError naming the URL and the column.
"""

from __future__ import annotations

import re
from typing import Any

from opendata.collect.http import ApiClient, Row, malformed

MISSING = {"", "-", "–", "—", "..", "...", "…"}
SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007]+")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def fetch_trafa(client: ApiClient, base_url: str, query: str, *, lang: str = "sv") -> list[Row]:
    """The rows Trafikanalys answers for `query` (e.g. 't10016|ar:2023|regkom:1490')."""
    url = f"{base_url.rstrip('/')}/data"
    answer = client.get_json(url, params={"query": query, "lang": lang})
    return trafa_rows(answer, f"{url}?query={query}")


def trafa_rows(answer: Any, url: str) -> list[Row]:
    if not isinstance(answer, dict):
        raise malformed(url, "expected an object with 'Rows'")
    errors = answer.get("Errors")
    if errors:
        raise malformed(url, f"Trafikanalys reports errors: {errors!r}")
    rows = answer.get("Rows")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise malformed(url, "'Rows' is not a list")
    measures = _measure_columns(answer.get("Header"))
    out: list[Row] = []
    for number, row in enumerate(rows):
        cells = row.get("Cell") if isinstance(row, dict) else None
        if isinstance(cells, dict):
            cells = [cells]
        if not isinstance(cells, list):
            raise malformed(url, f"row {number} has no 'Cell' list")
        values: Row = {}
        for cell in cells:
            column = cell.get("Column") if isinstance(cell, dict) else None
            if not isinstance(column, str) or not column:
                raise malformed(url, f"row {number}: a cell without a 'Column' name")
            if column in values:
                raise malformed(url, f"row {number}: column {column!r} twice")
            is_measure = cell.get("IsMeasure") is True or column in measures
            value = cell.get("Value")
            if is_measure:
                values[column] = parse_number(value, url, f"row {number}, column {column!r}")
            elif value is None or isinstance(value, str):
                values[column] = None if value is None else value.strip()
            elif isinstance(value, int | float) and not isinstance(value, bool):
                values[column] = str(value)
            else:
                raise malformed(url, f"row {number}, column {column!r}: value {value!r}")
        out.append(values)
    return out


def parse_number(value: object, url: str, where: str) -> float | None:
    """A measure's value as a float, None for no value (see the module's notes)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise malformed(url, f"{where}: {value!r} is not a number")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise malformed(url, f"{where}: {value!r} is not a number")
    text = SPACES.sub("", value)
    if text in MISSING:
        return None
    text = text.replace("\u2212", "-")  # the typographic minus sign
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        text = text.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in text:
        if text.count(",") > 1:
            raise malformed(url, f"{where}: {value!r} is not a number")
        text = text.replace(",", ".")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    if not NUMBER.fullmatch(text):
        raise malformed(url, f"{where}: {value!r} is not a number")
    return float(text)


def _measure_columns(header: object) -> set[str]:
    if not isinstance(header, dict) or not isinstance(header.get("Column"), list):
        return set()
    return {
        column["Name"]
        for column in header["Column"]
        if isinstance(column, dict)
        and column.get("Type") == "M"
        and isinstance(column.get("Name"), str)
    }
