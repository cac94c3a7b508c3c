"""Collecting large sources in chunks: exact origins, the same rows as a whole-file reading.

The CSV reader parses in parallel and cannot number the rows it sets aside; these tests pin that
the origins (file and row) stay exact anyway, across chunk boundaries, blank and whitespace-only
lines and quoted line breaks, and that large JSON files read by the streaming parser give the
same rows as the whole-document parser.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata.collect import jsonfile, raw
from opendata.config import load_settings
from opendata.engine.outputs import sorted_origins, text_rows
from opendata.preparing import collect_tables, load, new_workspace
from opendata.validate import validate_tables

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "antal", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "namn", "type": "string"},
    ],
    "primaryKey": ["id"],
}
DEFINITION = """title: {sv: Prov, en: Test}
description: {sv: Prov, en: Test}
contact_point: {name: Prov, email: prov@example.org}
sources: [{title: Prov, publisher: Prov, path: sources/data.%(suffix)s}]
resources:
  - name: data
    title: {sv: Data}
    schema: prov.json
    sources: [{kind: %(suffix)s, path: sources/data.%(suffix)s%(extra)s}]
"""


def make_home(root: Path, suffix: str = "csv", extra: str = "") -> Path:
    (root / "schemas").mkdir(parents=True)
    (root / "schemas" / "prov.json").write_text(json.dumps(SCHEMA), "utf-8")
    folder = root / "datasets" / "prov"
    (folder / "sources").mkdir(parents=True)
    (folder / "dataset.yaml").write_text(DEFINITION % {"suffix": suffix, "extra": extra}, "utf-8")
    return folder / "sources" / f"data.{suffix}"


def collect(root: Path) -> list[list[str]]:
    settings = load_settings(home=root)
    tables = collect_tables(settings, load(settings, "prov"), workspace=new_workspace("prov"))
    return [
        [*row, origin]
        for row, origin in zip(text_rows(tables[0]), sorted_origins(tables[0]), strict=True)
    ]


def validate(root: Path) -> list[str]:
    settings = load_settings(home=root)
    workspace = new_workspace("prov")
    tables = collect_tables(settings, load(settings, "prov"), workspace=workspace)
    return [p.describe() for p in validate_tables("prov", tables, scratch=workspace).problems]


def test_origins_stay_exact_across_chunks_blank_lines_and_quoted_line_breaks(
    tmp_path: Path,
) -> None:
    source = make_home(tmp_path)
    lines = ["id,antal,namn"]
    expected: dict[str, int] = {}
    for i in range(150_000):
        if i % 40_000 == 7:
            lines.append("")  # a blank line
        if i % 50_000 == 11:
            lines.append("   ")  # a whitespace-only line: the parallel reader sets it aside
        name = f'"rad\n{i}"' if i % 30_000 == 3 else f"rad {i}"
        lines.append(f"{i},{i % 100},{name}")
        expected[str(i)] = len(lines)  # the record's number (header = 1)
    text = "\n".join(lines) + "\n"
    source.write_text(text, "utf-8")
    rows = collect(tmp_path)
    assert len(rows) == 150_000
    # Records are counted as csv.reader counts them (a quoted line break is one record).
    records = list(csv.reader(text.splitlines(keepends=True)))
    numbers = {rec[0]: n for n, rec in enumerate(records, start=1) if rec and rec[0].strip()}
    for key, *_rest, origin in rows[::997] + rows[-3:]:
        assert origin == f"prov/sources/data.csv, row {numbers[key]}", (key, origin)


def test_a_bad_cell_after_a_whitespace_line_is_reported_at_its_real_row(tmp_path: Path) -> None:
    source = make_home(tmp_path)
    lines = ["id,antal,namn", *(f"{i},{i},x" for i in range(1, 100_001))]
    lines.insert(70_000, "  \t ")
    lines.append("100001,-5,x")
    source.write_text("\n".join(lines) + "\n", "utf-8")
    problems = validate(tmp_path)
    assert problems == [
        "prov/sources/data.csv, row 100003, field antal: constraint-error: "
        '\'-5\': constraint "minimum" is "0"'
    ]


def test_rows_with_too_many_or_too_few_cells_are_named_and_the_rows_after_keep_their_numbers(
    tmp_path: Path,
) -> None:
    """Each such row is a problem (left out); the reading goes on, so a bad cell further down
    is found in the same run, at its real row."""
    source = make_home(tmp_path)
    lines = ["id,antal,namn", *(f"{i},{i},x" for i in range(1, 90_001))]
    lines[80_000] = "80000,1,x,extra"
    lines[85_000] = "85000,1"
    lines[89_000] = "89000,-1,x"
    source.write_text("\n".join(lines) + "\n", "utf-8")
    assert validate(tmp_path) == [
        "prov/sources/data.csv, row 80001: extra-cell: the row has 4 cells where the header has "
        '3. Hint: a cell that holds the delimiter "," must be quoted. A number with a decimal '
        'comma splits into two cells in a comma-separated file; quote it ("1,5"), or save the '
        'file separated by semicolons and declare `delimiter: ";"` and `decimal: ","` on the '
        "source in dataset.yaml.",
        "prov/sources/data.csv, row 85001: missing-cell: the row has 2 cells where the header "
        "has 3.",
        "prov/sources/data.csv, row 89001, field antal: constraint-error: "
        '\'-1\': constraint "minimum" is "0"',
    ]


def test_large_json_streams_and_gives_the_rows_of_a_whole_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_home(tmp_path, "json", ", records: rader")
    records = [{"id": i, "antal": i % 7, "namn": f"r\u00e4d {i}"} for i in range(5000)]
    source.write_text(json.dumps({"rader": records}), "utf-8")
    whole = collect(tmp_path)
    monkeypatch.setattr(jsonfile, "JSON_STREAM_THRESHOLD", 10)
    streamed = collect(tmp_path)
    assert streamed == whole
    assert whole[4999][:3] == ["4999", "1", "r\u00e4d 4999"]
    assert whole[0][3] == "prov/sources/data.json, record 1"


def test_nan_and_infinities_are_refused_with_their_rows(tmp_path: Path) -> None:
    source = make_home(tmp_path)
    schema = json.loads((tmp_path / "schemas" / "prov.json").read_text("utf-8"))
    schema["fields"].append({"name": "andel", "type": "number"})
    (tmp_path / "schemas" / "prov.json").write_text(json.dumps(schema), "utf-8")
    rows = ["id,antal,namn,andel", "1,1,a,0.5", "2,2,b,INF", "3,3,c,-Infinity", "4,4,d,NaN"]
    source.write_text("\n".join(rows) + "\n", "utf-8")
    note = "NaN and infinities have no JSON form: leave the cell empty for a missing value"
    assert validate(tmp_path) == [
        f"prov/sources/data.csv, row {n}, field andel: non-finite-number: {cell!r}: {note}"
        for n, cell in ((3, "INF"), (4, "-Infinity"), (5, "NaN"))
    ]


WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(
        st.text(alphabet=st.sampled_from(["a", "Å", "€", "\u00e4", *WHITESPACE])), max_size=40
    ),
    cut=st.integers(min_value=0, max_value=40),
    large=st.booleans(),
)
def test_strip_equals_python_strip_on_every_cell(cells: list[str], cut: int, large: bool) -> None:
    """The trim that skips chunks with nothing to trim gives str.strip() on every cell, for
    string and large_string arrays, chunked and sliced (an Arrow slice keeps its offsets)."""
    kind = pa.large_string() if large else pa.string()
    array = pa.array(cells, kind)
    chunked = pa.chunked_array([array[:cut], array[cut:]], kind)
    expected = [cell.strip() for cell in cells]
    assert raw.strip(chunked).to_pylist() == expected
    assert raw.strip(array.slice(min(cut, len(cells)))).to_pylist() == expected[cut:]


@pytest.mark.parametrize("fallback", [False, True], ids=["engine", "frictionless"])
def test_a_row_of_the_wrong_width_still_has_its_other_cells_checked(
    tmp_path: Path, fallback: bool
) -> None:
    """As frictionless does: the row's extra or missing cells are the problem, and its other
    cells are checked like any row's (a cell the row lacks reads as no value, so a required
    field says so too, as in frictionless's report)."""
    source = make_home(tmp_path)
    schema = json.loads((tmp_path / "schemas" / "prov.json").read_text("utf-8"))
    schema["fields"][2]["constraints"] = {"required": True}
    if fallback:  # a string format the engine leaves to frictionless
        schema["fields"][2]["format"] = "uri"
    (tmp_path / "schemas" / "prov.json").write_text(json.dumps(schema), "utf-8")
    name = "http://a.se" if fallback else "a"
    lines = [
        "id,antal,namn",
        f"1,1,{name}",
        "2,-5",  # missing: namn; antal below its minimum
        f"3,x,{name},d",  # extra; antal no integer
        f'"4","-2","{name}","r"',
        "x",  # missing two, and id no integer
    ]
    source.write_text("\n".join(lines) + "\n", "utf-8")
    minimum = 'constraint-error: \'{}\': constraint "minimum" is "0"'
    kind = 'type is "integer/default"'
    # frictionless reads the staged copy, where the absent cell is written empty
    empty = "'': " if fallback else ""
    required = f'constraint-error: {empty}constraint "required" is "True"'
    extra = 'Hint: a cell that holds the delimiter "," must be quoted.'
    where = "prov/sources/data.csv, row"
    assert validate(tmp_path) == [
        f"{where} 3: missing-cell: the row has 2 cells where the header has 3.",
        f"{where} 3, field antal: " + minimum.format(-5),
        f"{where} 3, field namn: " + required,
        f"{where} 4: extra-cell: the row has 4 cells where the header has 3. {extra}",
        f"{where} 4, field antal: type-error: 'x': {kind}",
        f"{where} 5: extra-cell: the row has 4 cells where the header has 3. {extra}",
        f"{where} 5, field antal: " + minimum.format(-2),
        f"{where} 6: missing-cell: the row has 1 cells where the header has 3.",
        f"{where} 6, field id: type-error: 'x': {kind}",
        f'{where} 6, field id: primary-key: cells composing the primary keys are all "None"',
        f"{where} 6, field namn: " + required,
    ]
