"""Every published value is what the source cell says (issue 19, item 2): a differential
property test from a steward's file (CSV and xlsx) through collecting, validation and the three
copies (CSV, JSON, Parquet), against an oracle written here from the Table Schema rules.

The oracle reads a cell as the steward wrote it: trimmed (our deliberate difference, see the
README), in Unicode NFC, empty as no value; an integer, number, boolean, date or year only in its
exact textual form (Python's `int`, `Decimal`, `date.fromisoformat` on text a plain regular
expression has accepted, `strptime` for the default date format). A table the oracle calls valid must be published with exactly these
values in all three copies; a table with a cell the oracle refuses must not be valid, and that
cell must be named.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata.config import load_settings
from opendata.engine.outputs import write_outputs
from opendata.preparing import collect_tables, load
from opendata.validate import validate_tables
from tests.collect.test_hostile_input import make_home, scratch

FIELDS = [
    {"name": "heltal", "type": "integer"},
    {"name": "tal", "type": "number"},
    {"name": "flagga", "type": "boolean"},
    {"name": "datum", "type": "date"},
    {"name": "ar", "type": "year"},
    {"name": "text", "type": "string"},
]
NAMES = [field["name"] for field in FIELDS]

INTEGER = re.compile(r"[+-]?[0-9]+")
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
YEAR = re.compile(r"[0-9]{4}")
TRUE, FALSE = {"true", "True", "TRUE", "1"}, {"false", "False", "FALSE", "0"}


def expected(kind: str, cell: str) -> tuple[bool, Any]:
    """(valid, value) of a source cell as the oracle reads it; value None: no value."""
    text = unicodedata.normalize("NFC", cell.strip(" \t"))
    if text == "":
        return True, None
    if kind == "integer":
        return (True, int(text)) if INTEGER.fullmatch(text) else (False, None)
    if kind == "number":
        return (True, float(Decimal(text))) if NUMBER.fullmatch(text) else (False, None)
    if kind == "boolean":
        return (True, text in TRUE) if text in TRUE | FALSE else (False, None)
    if kind == "year":
        return (True, int(text)) if YEAR.fullmatch(text) else (False, None)
    if kind == "date":  # the default format is strptime's "%Y-%m-%d" (1-05 is January 5)
        try:
            return True, datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            return False, None
    return True, text


def _spaced(cells: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    space = st.sampled_from(["", " ", "  ", "\t"])
    return st.tuples(space, cells, space).map("".join)


JUNK = st.sampled_from(["x", "ca 30", "1,5", "1 000", "12a", "--1", "1e", ".", "e5", "?"])
INTEGERS = st.one_of(
    st.integers(min_value=-(10**17), max_value=10**17).map(str),
    st.tuples(st.sampled_from(["+", "-", ""]), st.from_regex(r"[0-9]{1,6}", fullmatch=True)).map(
        "".join
    ),
    JUNK,
)
NUMBERS = st.one_of(
    st.from_regex(
        r"[+-]?([0-9]{1,6}\.?[0-9]{0,6}|\.[0-9]{1,6})([eE][+-]?[0-9]{1,2})?", fullmatch=True
    ),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100).map(repr),
    JUNK,
)
BOOLEANS = st.sampled_from([*sorted(TRUE | FALSE), "yes", "ja", "T", "tRue", "2"])
DATES = st.one_of(
    st.dates(min_value=date(1000, 1, 1)).map(date.isoformat),
    st.sampled_from(["2024-02-30", "2023-02-29", "2024-1-05", "05/01/2024", "2024-13-01"]),
)
YEARS = st.one_of(st.integers(min_value=0, max_value=9999).map(lambda y: f"{y:04d}"), JUNK)
TEXTS = (
    st.lists(st.sampled_from([*"abcåäöÅÄÖ xyz,;\"'012.é", "a\u030a", "o\u0308"]), max_size=12)
    .map("".join)
    .filter(lambda text: not text.strip(" \t").startswith(("=", "+", "-", "@")))
)

CELLS = {
    "integer": INTEGERS,
    "number": NUMBERS,
    "boolean": BOOLEANS,
    "date": DATES,
    "year": YEARS,
    "string": TEXTS,
}


@st.composite
def tables(draw: st.DrawFn) -> list[list[str]]:
    """Rows of cells, each maybe blank or spaced; no row blank as a whole (blank rows are
    layout, left out and counted, not data)."""
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        row = [draw(st.one_of(st.just(""), _spaced(CELLS[field["type"]]))) for field in FIELDS]
        if any(cell.strip(" \t") for cell in row):
            rows.append(row)
    return rows or [["1", "1", "true", "2024-01-01", "2024", "a"]]


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NAMES)
    writer.writerows(rows)
    return out.getvalue()


def _xlsx(rows: list[list[str]]) -> bytes:
    """Every cell written as text (a steward's sheet of typed text)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Blad1"
    sheet.append(NAMES)
    for number, row in enumerate(rows, start=2):
        for column, cell in enumerate(row, start=1):
            if cell:
                sheet.cell(number, column).value = cell
                sheet.cell(number, column).data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _home(root: Path, kind: str, rows: list[list[str]]) -> Path:
    if kind == "csv":
        return make_home(
            root, "{kind: csv, path: sources/data.csv}", {"sources/data.csv": _csv(rows)}, FIELDS
        )
    source = "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_row: 1}"
    return make_home(root, source, {"sources/data.xlsx": _xlsx(rows)}, FIELDS)


def _copies(folder: Path, table: Any) -> dict[str, list[list[Any]]]:
    """The three published copies' rows, each value as its format holds it."""
    written = write_outputs(table, folder / "out")
    with written["data.csv"].path.open(encoding="utf-8", newline="") as handle:
        text_rows = list(csv.reader(handle))
    assert text_rows[0] == NAMES
    records = json.loads(written["data.json"].path.read_bytes())
    parquet = pq.read_table(written["data.parquet"].path).to_pylist()
    return {
        "csv": text_rows[1:],
        "json": [[record[name] for name in NAMES] for record in records],
        "parquet": [[record[name] for name in NAMES] for record in parquet],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=tables(), kind=st.sampled_from(["csv", "xlsx"]))
def test_every_published_value_is_the_source_cell(rows: list[list[str]], kind: str) -> None:
    with scratch() as folder:
        home = _home(folder / "home", kind, rows)
        settings_ = load_settings(home=home)
        (table,) = collect_tables(settings_, load(settings_, "prov"), workspace=folder / "work")
        report = validate_tables("prov", [table], folder / "work")
        verdicts = [
            [expected(field["type"], cell) for field, cell in zip(FIELDS, row, strict=True)]
            for row in rows
        ]
        refused = {
            (number, name)
            for number, row in enumerate(verdicts, start=2)
            for name, (valid, _) in zip(NAMES, row, strict=True)
            if not valid
        }
        named = {(p.row, p.field) for p in report.problems}
        assert refused <= named, (rows, [p.describe() for p in report.problems])
        if refused:
            assert not report.valid
            return
        assert report.valid, (rows, [p.describe() for p in report.problems])
        copies = _copies(folder, table)
        values = [[value for _, value in row] for row in verdicts]
        # CSV: the cell's text as the oracle reads it (trimmed, NFC), empty for no value.
        texts = [
            [
                "" if value is None else unicodedata.normalize("NFC", cell.strip(" \t"))
                for cell, (_, value) in zip(row, verdict, strict=True)
            ]
            for row, verdict in zip(rows, verdicts, strict=True)
        ]
        assert copies["csv"] == texts
        # JSON: dates as their text (in the field's format, as the descriptor declares it).
        json_values = [
            [text if isinstance(v, date) else v for v, text in zip(row, text_row, strict=True)]
            for row, text_row in zip(values, texts, strict=True)
        ]
        assert copies["json"] == json_values
        assert copies["parquet"] == values
        # Numbers stay floating point in JSON (a reader types them so), whole or not.
        assert all(isinstance(row[1], float) for row in copies["json"] if row[1] is not None)
