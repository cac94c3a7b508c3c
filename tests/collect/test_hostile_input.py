"""Hostile sources (issue 9, "Input"): every bad input is a clear refusal, never a crash later
and never a silently changed value.

Each class has a test whose oracle is independent of the code under test: Python's strict csv
module for what a CSV file says, `json` for JSON, `float()`/int64 bounds for numbers, the
encodings themselves for mojibake. Exit codes are asserted through the `opendata` command.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import resource
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata.collect import jsonfile
from opendata.config import load_settings
from opendata.definition_files import SLUG
from opendata.definitions import load_dataset
from opendata.engine.outputs import write_outputs
from opendata.errors import DefinitionError, SourceError
from opendata.preparing import collect_tables, load
from opendata.tables import ORIGIN, TableWriter
from opendata.validate import validate_tables
from tests.conftest import read_sheet, run_cli

FIELDS = [
    {"name": "id", "type": "integer"},
    {"name": "namn", "type": "string"},
    {"name": "varde", "type": "number"},
]
TEXT_FIELDS = [{"name": name, "type": "string"} for name in ("a", "b", "c")]
DEFINITION = """title: {sv: Prov}
description: {sv: Prov}
contact_point: {name: Prov, email: prov@example.org}
sources: [{title: Prov, publisher: Prov}]
resources:
  - name: data
    title: {sv: Data}
    schema: prov.json
    sources:
      - %s
"""
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_home(
    root: Path,
    source: str,
    files_: dict[str, bytes | str],
    fields: list[dict[str, Any]] | None = None,
) -> Path:
    """A home (datasets/, schemas/) with the one dataset `prov`: resource `data` from `source`
    (a YAML flow mapping), its files under datasets/prov/."""
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    schema = {"fields": fields if fields is not None else FIELDS}
    (root / "schemas" / "prov.json").write_text(json.dumps(schema), "utf-8")
    folder = root / "datasets" / "prov"
    (folder / "sources").mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yaml").write_text(DEFINITION % source, "utf-8")
    for name, content in files_.items():
        path = folder / name
        if isinstance(content, str):
            path.write_text(content, "utf-8", newline="")
        else:
            path.write_bytes(content)
    return root


def csv_home(root: Path, content: bytes | str, extra: str = "", **kwargs: Any) -> Path:
    source = "{kind: csv, path: sources/data.csv" + extra + "}"
    return make_home(root, source, {"sources/data.csv": content}, **kwargs)


def json_home(root: Path, content: bytes | str, extra: str = "", **kwargs: Any) -> Path:
    source = "{kind: json, path: sources/data.json" + extra + "}"
    return make_home(root, source, {"sources/data.json": content}, **kwargs)


def collect(root: Path) -> list[list[str]]:
    """The staged rows (text) in source order, or the SourceError."""
    return collected(root)[0]


def collected(root: Path) -> tuple[list[list[str]], list[Any]]:
    """The staged rows (text) in source order and the problems met while reading (the
    reading went on past them), or the SourceError."""
    settings_ = load_settings(home=root)
    (table,) = collect_tables(settings_, load(settings_, "prov"), workspace=root / "work")
    rows = [[str(v) for v in row.values()] for row in _staged(table)]
    return rows, list(table.problems)


def _staged(table: Any) -> Iterator[dict[str, Any]]:
    for batch in table.batches(table.fields):
        yield from batch.to_pylist()


def refusal(root: Path) -> str:
    with pytest.raises(SourceError) as caught:
        collect(root)
    return str(caught.value)


def problems(root: Path) -> list[str]:
    settings_ = load_settings(home=root)
    tables = collect_tables(settings_, load(settings_, "prov"), workspace=root / "work")
    return [p.describe() for p in validate_tables("prov", tables, root / "work").problems]


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        yield Path(folder)


def staged_table(folder: Path, fields: list[dict[str, Any]], rows: list[list[str]]) -> Any:
    """A staged table straight from text cells (no source file, no stripping)."""
    writer = TableWriter("t", {"fields": fields}, folder / "t.parquet")
    columns = {
        field["name"]: pa.array([row[i] for row in rows], pa.string())
        for i, field in enumerate(fields)
    }
    columns[ORIGIN] = pa.array([f"src, row {i + 2}" for i in range(len(rows))], pa.string())
    writer.write(pa.table(columns))
    return writer.close()


# --------------------------------------------------------------------------------------------
# 1. Non-finite numbers and deep nesting: a validation problem or a SourceError, never a crash


def test_non_finite_and_overflowing_numbers_fail_validation_through_the_cli(
    tmp_path: Path,
) -> None:
    rows = ["id,namn,varde", "1,a,INF", "2,b,-inf", "3,c,NaN", "4,d,Infinity", "5,e,1e999"]
    rows += ["6,f,1.7976931348623157e308", "99999999999999999999,g,1"]
    home = csv_home(tmp_path, "\n".join(rows) + "\n")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    non_finite = [
        line
        for row, value in [(2, "INF"), (3, "-inf"), (4, "NaN"), (5, "Infinity")]
        for line in (
            f"prov/sources/data.csv, rad {row}, kolumn 'varde': '{value}' är inget tal som kan "
            "publiceras (NaN och oändligheter har ingen JSON-form); lämna cellen tom för ett "
            "saknat värde.",
            f"    prov/sources/data.csv, row {row}, column 'varde': '{value}' is no number that "
            "can be published (NaN and infinities have no JSON form); leave the cell empty for "
            "a missing value. [non-finite-number]",
        )
    ]
    assert result.stdout.splitlines() == [
        "prov: invalid (6 problems; data 7 rows)",
        *non_finite,
        "prov/sources/data.csv, rad 6, kolumn 'varde': '1e999' är större än ±1,8e308, det "
        "största tal som JSON- och Parquet-kopiorna rymmer (det skulle bli oändligt); "
        "kontrollera värdet, eller gör fältet till text.",
        "    prov/sources/data.csv, row 6, column 'varde': '1e999' is beyond ±1.8e308, the "
        "largest number the JSON and Parquet copies hold (it would become infinite); check the "
        "value, or make the field a string. [non-finite-number]",
        "prov/sources/data.csv, rad 8, kolumn 'id': '99999999999999999999' ligger utanför de "
        "64-bitars heltal (±9 223 372 036 854 775 807) som JSON- och Parquet-kopiorna rymmer; "
        "gör fältet till text om det är en kod.",
        "    prov/sources/data.csv, row 8, column 'id': '99999999999999999999' is beyond the "
        "64-bit integers (±9,223,372,036,854,775,807) that the JSON and Parquet copies hold; "
        "make the field a string if it is a code. [integer-out-of-range]",
    ]
    assert "Traceback" not in result.stderr


NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-400, max_value=400).map(lambda e: f"1e{e}"),
    st.sampled_from(["INF", "-Infinity", "nan", "+inf", "1.8e308", "-1.7976931348623157e308"]),
)


@EXAMPLES
@given(st.lists(NUMBER_TEXT, min_size=1, max_size=8))
def test_a_number_is_refused_exactly_when_json_cannot_hold_it(cells: list[str]) -> None:
    """Oracle: Python's float(); whatever passes is published, and its JSON is strict JSON."""
    fields = [{"name": "varde", "type": "number"}]
    with scratch() as folder:
        table = staged_table(folder, fields, [[cell] for cell in cells])
        report = validate_tables("prov", [table], folder)
        flagged = {p.row for p in report.problems if p.code == "non-finite-number"}
        expected = {i + 2 for i, cell in enumerate(cells) if not math.isfinite(float(cell))}
        assert flagged == expected
        if not expected:
            written = write_outputs(table, folder / "out")
            text = written["t.json"].path.read_text("utf-8")
            values = json.loads(text, parse_constant=_refuse_constant)
            assert sorted(float(v["varde"]) for v in values) == sorted(map(float, cells))


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"{name} in published JSON")


@EXAMPLES
@given(
    st.lists(
        st.one_of(
            st.integers(min_value=-(2**70), max_value=2**70),
            st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**40, -(10**40)]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_an_integer_is_refused_exactly_when_it_leaves_int64(values: list[int]) -> None:
    fields = [{"name": "antal", "type": "integer"}]
    with scratch() as folder:
        table = staged_table(folder, fields, [[str(v)] for v in values])
        report = validate_tables("prov", [table], folder)
        flagged = {p.row for p in report.problems if p.code == "integer-out-of-range"}
        expected = {i + 2 for i, v in enumerate(values) if not -(2**63) <= v < 2**63}
        assert flagged == expected
        if not expected:  # published exactly, no crash in the writers
            written = write_outputs(table, folder / "out")
            records = json.loads(written["t.json"].path.read_bytes())
            assert sorted(r["antal"] for r in records) == sorted(values)


def test_infinity_and_nan_in_json_are_refused_through_the_cli(tmp_path: Path) -> None:
    records = '[{"id": 1, "namn": "a", "varde": 1.5},\n {"id": 2, "namn": "b", "varde": NaN}]'
    home = json_home(tmp_path, records)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: prov/sources/data.json, record 2, key 'varde': nan is not a finite number (NaN, "
        "Infinity or a number beyond ±1.8e308, which JSON cannot hold); write null or leave the "
        "key out for a missing value\n"
    )


@pytest.mark.parametrize("token", ["Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("stream", [False, True])
def test_non_finite_json_numbers_are_refused_by_both_parsers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str, stream: bool
) -> None:
    if stream:
        monkeypatch.setattr(jsonfile, "JSON_STREAM_THRESHOLD", 10)
    home = json_home(tmp_path, '[{"id": 1, "namn": "a", "varde": ' + token + "}]")
    message = refusal(home)
    if stream:  # ijson rejects them as it reads, before any record is made
        assert message.startswith("prov/sources/data.json: malformed JSON after record 0: ")
    else:
        assert message.startswith("prov/sources/data.json, record 1, key 'varde': ")
        assert "is not a finite number" in message


@EXAMPLES
@given(
    depth=st.integers(min_value=1, max_value=150),
    noise=st.text(alphabet='[]{}"\\ ab', max_size=12),
    stream=st.booleans(),
)
def test_nesting_is_refused_beyond_the_limit_whatever_the_strings_hold(
    depth: int, noise: str, stream: bool
) -> None:
    """Brackets inside strings (escaped quotes too) do not count; depth counts every level."""
    deep: Any = "x"
    for _ in range(depth):
        deep = [deep]
    document = {"noise": noise, "rader": [{"id": 1, "namn": noise, "varde": 1, "d": deep}]}
    levels = 3 + depth  # the document, rader, the record, then `depth` lists
    with scratch() as root:
        json_home(root, json.dumps(document), ", records: rader")
        threshold = jsonfile.JSON_STREAM_THRESHOLD
        jsonfile.JSON_STREAM_THRESHOLD = 10 if stream else threshold
        try:
            if levels > 64:
                assert refusal(root) == (
                    "prov/sources/data.json: arrays and objects nested more than 64 levels "
                    "deep; a table is not nested this deep. If the file is genuine, raise "
                    "`limits: {nesting: …}` for this source in dataset.yaml"
                )
            else:
                assert collect(root) == [["1", noise.strip(), "1"]]
        finally:
            jsonfile.JSON_STREAM_THRESHOLD = threshold


DEEP_RECORD = '[{"id": 1, "namn": "a", "varde": 1, "d": DEEP}]'


def test_a_hostile_depth_is_refused_at_once_and_a_declared_limit_admits_more(
    tmp_path: Path,
) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    home = json_home(tmp_path, DEEP_RECORD.replace("DEEP", deep))
    assert "nested more than 64 levels deep" in refusal(home)  # timed by bench.guards
    nested = "[" * 100 + "]" * 100
    json_home(tmp_path, DEEP_RECORD.replace("DEEP", nested))
    assert "nested more than 64" in refusal(tmp_path)
    json_home(
        tmp_path,
        DEEP_RECORD.replace("DEEP", nested),
        ", limits: {nesting: 200}",
    )
    assert collect(tmp_path) == [["1", "a", "1"]]


# --------------------------------------------------------------------------------------------
# 2. Silent acceptance: empty tables, control characters, dataset sources outside datasets/


def test_a_header_without_rows_is_refused_unless_declared_empty(tmp_path: Path) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n\n  \n")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: prov/sources/data.csv: no rows below the header, so the table would be published "
        "empty; add the rows, or declare `allow_empty: true` on this source in dataset.yaml if "
        "it is empty on purpose\n"
    )
    csv_home(tmp_path, "id,namn,varde\n", ", allow_empty: true")
    assert collect(tmp_path) == []


def test_an_empty_json_list_and_an_empty_sheet_are_refused(tmp_path: Path) -> None:
    home = json_home(tmp_path / "j", "[]")
    assert refusal(home).startswith("prov/sources/data.json: no records below the header")
    workbook = _workbook([["id", "namn", "varde"]])
    home = make_home(
        tmp_path / "x",
        "{kind: xlsx, path: sources/data.xlsx, sheet: Blad, header_row: 1}",
        {"sources/data.xlsx": workbook},
    )
    assert refusal(home).startswith("prov/sources/data.xlsx: no rows below the header")


CONTROL = [chr(c) for c in range(32) if chr(c) not in "\t\r\n"]


@EXAMPLES
@given(
    st.lists(st.text(alphabet="ab å\t\r\n", max_size=6), min_size=1, max_size=5),
    st.data(),
)
def test_a_control_character_in_any_cell_is_a_problem_named_by_its_row(
    cells: list[str], data: st.DataObject
) -> None:
    """Tabs and line breaks are text; every other C0 character is a problem, named by row."""
    index = data.draw(st.integers(min_value=0, max_value=len(cells)))
    bad = data.draw(st.sampled_from([None, *CONTROL]))
    rows = [["1", f"x{cell}y"] for cell in cells]
    if bad is not None:
        rows.insert(index, ["1", f"x{bad}y"])
    stream = io.StringIO(newline="")
    csv.writer(stream).writerows([["id", "namn"], *rows])
    with scratch() as root:
        csv_home(root, stream.getvalue(), fields=FIELDS[:2])
        if bad is None:
            assert [row[1] for row in collect(root)] == [row[1] for row in rows]
        else:
            (message,) = problems(root)
            number = 2 + index  # one record per row, line breaks quoted
            assert message.startswith(
                f"prov/sources/data.csv, row {number}, field namn: control-character: "
            )
            assert f"holds the control character U+{ord(bad):04X}" in message


def test_nul_bytes_are_refused_through_the_cli(tmp_path: Path) -> None:
    home = csv_home(tmp_path, b"id,namn,varde\n1,ok,1\n2,a\x00b,2\n")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "prov: invalid (1 problem; data 2 rows)",
        "prov/sources/data.csv, rad 3, kolumn 'namn': 'a\\x00b' innehåller styrtecknet U+0000 "
        "(NUL), som textverktyg, XML och webbsidor inte kan visa och som oftast kommer från en "
        "trasig export; ta bort det i källan.",
        "    prov/sources/data.csv, row 3, column 'namn': 'a\\x00b' holds the control character "
        "U+0000 (NUL), which text tools, XML and web pages cannot show and which usually comes "
        "from a broken export; remove it from the source. [control-character]",
    ]


def test_a_dataset_source_names_a_dataset_never_a_path_through_the_cli(tmp_path: Path) -> None:
    home = make_home(tmp_path, "{kind: dataset, dataset: ../../etc, resource: kommuner}", {})
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2
    definition = home / "datasets/prov/dataset.yaml"
    assert result.stderr == (
        f"Error: {definition}: resources.0.sources.0.dataset.dataset: Value error, '../../etc' is "
        "not a name: give the other dataset's (or resource's) name, a slug [a-z0-9-] such as "
        "befolkning, not a path\n"
    )


@EXAMPLES
@given(
    st.one_of(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20),
        st.sampled_from(["../befolkning", "/etc", "befolkning/../x", "a/b", "..", "Befolkning"]),
        st.from_regex(SLUG, fullmatch=True),
    )
)
def test_only_a_slug_names_another_dataset(name: str) -> None:
    with scratch() as root:
        source = "{kind: dataset, dataset: " + json.dumps(name) + ", resource: kommuner}"
        make_home(root, source, {})
        folder = root / "datasets" / "prov"
        if SLUG.match(name):
            load_dataset(folder, root / "schemas")
        else:
            with pytest.raises(DefinitionError) as caught:
                load_dataset(folder, root / "schemas")
            assert str(caught.value).startswith(
                f"{folder / 'dataset.yaml'}: resources.0.sources.0.dataset.dataset: Value error, "
            )
            assert "is not a name: give the other dataset's (or resource's) name" in str(
                caught.value
            )


# --------------------------------------------------------------------------------------------
# 3. Values never silently changed: CSV quoting, duplicate keys and labels, mojibake, formulas

CELL = st.text(alphabet='ab ,"\n\rå', max_size=6)


def _strict(text: str) -> list[list[str]] | None:
    """What Python's strict csv module reads (None: malformed), blank lines dropped as ours."""
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    rows = []
    for record in records[1:]:
        if not any(cell.strip() for cell in record):
            continue  # a blank row, of any width (frictionless: blank-row, no cell errors)
        if len(record) != 3:
            return None
        rows.append([cell.strip() for cell in record])
    return rows


@EXAMPLES
@given(st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_a_well_formed_csv_is_read_exactly(rows: list[list[str]]) -> None:
    stream = io.StringIO(newline="")
    csv.writer(stream).writerows([["a", "b", "c"], *rows])
    expected = [[c.strip() for c in row] for row in rows if any(c.strip() for c in row)]
    with scratch() as root:
        csv_home(root, stream.getvalue(), fields=TEXT_FIELDS)
        if expected:
            assert collect(root) == expected
        else:
            assert "no rows below the header" in refusal(root)


PLAIN = st.text(alphabet="ab å", max_size=3)
QUOTED = st.text(alphabet='ab ,\n"', max_size=4).map(lambda t: '"' + t.replace('"', '""') + '"')
# Quotes where they do not belong: after the closing quote, unclosed, inside a plain cell.
STRAY = st.tuples(PLAIN, PLAIN, st.sampled_from(['"{}"{}', '"{}{}', '{}"{}', '"{}" {}'])).map(
    lambda parts: parts[2].format(parts[0], parts[1])
)
ROWS = st.lists(
    st.lists(st.one_of(PLAIN, QUOTED, STRAY), min_size=2, max_size=4).map(",".join),
    min_size=1,
    max_size=5,
)


@EXAMPLES
@given(ROWS, st.sampled_from(["\n", "\r\n", "\r"]), st.text(alphabet='ab ,"\n\r', max_size=30))
def test_any_csv_is_read_as_strict_csv_reads_it_or_refused(
    rows: list[str], newline: str, noise: str
) -> None:
    """Arrow alone reads `"a"b` as `ab` and lets an unclosed quote swallow the file: whatever
    we accept must be what Python's strict csv module reads."""
    text = "a,b,c" + newline + newline.join(rows) + newline + noise
    expected = _strict(text)
    with scratch() as root:
        csv_home(root, text, fields=TEXT_FIELDS)
        try:
            got, reported = collected(root)
        except SourceError:
            return  # refusing is always allowed; accepting something else never is
        if reported:
            return  # so is a report of its problems (rows of the wrong width): invalid
        assert expected is not None, f"accepted a malformed file: {got}"
        assert got == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '1,"a"b,1\n',
            "prov/sources/data.csv, line 3: malformed CSV: a quote inside a quoted cell must be "
            'doubled (""), and a quoted cell must end at the comma or the line end '
            "(',' expected after '\"')",
        ),
        (
            '1,a,1\n2,"b,2\n3,c,3\n',
            "prov/sources/data.csv, line 4: malformed CSV: a quoted cell that begins on this line "
            "is never closed (a missing quote)",
        ),
    ],
)
def test_a_malformed_csv_names_the_line(tmp_path: Path, body: str, expected: str) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n1,x,1\n" + body)
    assert refusal(home) == expected


def test_a_quote_inside_an_unquoted_cell_is_text(tmp_path: Path) -> None:
    home = csv_home(tmp_path, 'id,namn,varde\n1,skärm 24" bred,1\n')
    assert collect(home) == [["1", 'skärm 24" bred', "1"]]


def test_a_stray_quote_fails_through_the_cli(tmp_path: Path) -> None:
    home = csv_home(tmp_path, 'id,namn,varde\n1,a,1\n2,"b" c,2\n')
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: prov/sources/data.csv, line 3: malformed CSV: ")


KEYS = st.sampled_from(["id", "namn", "varde"])
VALUES = st.one_of(st.integers(-5, 5), st.text(alphabet="ab", max_size=3))


@EXAMPLES
@given(
    st.lists(st.dictionaries(KEYS, VALUES, min_size=1), min_size=1, max_size=6),
    st.data(),
    st.booleans(),
)
def test_a_key_given_twice_in_a_json_object_is_refused_with_its_record(
    records: list[dict[str, Any]], data: st.DataObject, stream: bool
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(records) - 1))
    key = data.draw(st.sampled_from(sorted(records[index])))
    again = data.draw(VALUES)
    texts = [json.dumps(record) for record in records]
    texts[index] = texts[index][:-1] + f", {json.dumps(key)}: {json.dumps(again)}}}"
    with scratch() as root:
        json_home(root, "[\n" + ",\n".join(texts) + "\n]")
        threshold = jsonfile.JSON_STREAM_THRESHOLD
        jsonfile.JSON_STREAM_THRESHOLD = 10 if stream else threshold
        try:
            message = refusal(root)
        finally:
            jsonfile.JSON_STREAM_THRESHOLD = threshold
    assert message.startswith(
        f"prov/sources/data.json, record {index + 1}: an object has the key {key!r} twice ("
    )


def test_duplicate_json_keys_fail_through_the_cli_and_nested_ones_too(tmp_path: Path) -> None:
    home = json_home(tmp_path, '[{"id": 1, "namn": "a", "namn": "b", "varde": 1}]')
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: prov/sources/data.json, record 1: an object has the key 'namn' twice ('a' and "
        "'b'); JSON readers would keep one of them silently: remove or rename the other\n"
    )
    json_home(tmp_path, '{"meta": {"a": 1, "a": 2}, "rader": [{"id": 1}]}', ", records: rader")
    assert refusal(tmp_path).startswith(
        "prov/sources/data.json: an object has the key 'a' twice (1 and 2)"
    )


@EXAMPLES
@given(
    st.sampled_from(["id", "namn", "varde"]),
    st.sampled_from(["{}", " {}", "{} ", "  {}\t"]),
    st.permutations(["id", "namn", "varde"]),
)
def test_a_column_title_given_twice_is_refused(title: str, spacing: str, order: list[str]) -> None:
    """Titles that differ only in spacing are the same title."""
    header = [*order, spacing.format(title)]
    line = ",".join(header)
    with scratch() as root:
        csv_home(root, f"{line}\n" + ",".join(["1"] * 4) + "\n")
        assert refusal(root) == (
            f"prov/sources/data.csv, line 1: column {title!r} appears more than once in the "
            "header; rename one of them so that it is clear which one to publish"
        )


SWEDISH = st.text(alphabet="abc ÅÄÖåäöé", min_size=1, max_size=12).filter(
    lambda t: not t.isascii() and t.strip() == t and t.strip()
)


@EXAMPLES
@given(SWEDISH, st.sampled_from(["latin-1", "cp1252", "iso-8859-15"]))
def test_utf8_declared_as_a_single_byte_encoding_is_refused(name: str, declared: str) -> None:
    text = f"id,namn,varde\n1,{name},1\n"
    with scratch() as root:
        csv_home(root, text.encode("utf-8"), f", encoding: {declared}")
        wrong = name.encode("utf-8").decode(declared, "replace")
        assert refusal(root) == (
            f"prov/sources/data.csv, line 2: declared `encoding: {declared}`, but the file is "
            f"UTF-8 ({name!r} would be read as {wrong!r}); declare `encoding: utf-8` in "
            "dataset.yaml (or leave `encoding` out)"
        )
        # The same text really in that encoding is read exactly.
        csv_home(root, text.encode(declared), f", encoding: {declared}")
        assert collect(root) == [["1", name, "1"]]


def test_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n1,a,1\n2,V\xe5rg\xe5rda,2\n".encode("latin-1"))
    assert refusal(home) == (
        "prov/sources/data.csv: not valid utf-8 (byte 23, line 3); declare the file's "
        "`encoding` in dataset.yaml or save it as UTF-8\n"
        "Tips: filen verkar sparad som Windows-1252 (så sparar svenska Excel CSV-filer), där "
        "står det 'Vårgårda'; ange `encoding: cp1252` för källan i dataset.yaml.\n"
        "Hint: the file looks saved as Windows-1252 (as Swedish Excel saves CSV files), where "
        "it reads 'Vårgårda'; declare `encoding: cp1252` on the source in dataset.yaml."
    )


def test_mojibake_fails_through_the_cli(tmp_path: Path) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n1,Vårgårda,1\n".encode(), ", encoding: latin-1")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: prov/sources/data.csv, line 2: declared `encoding: latin-1`, but the file is "
        "UTF-8 ('Vårgårda' would be read as 'VÃ¥rgÃ¥rda'); declare `encoding: utf-8` in "
        "dataset.yaml (or leave `encoding` out)\n"
    )


def _formula_like(cell: str) -> bool:
    """OWASP's list of formula starts; a plain number or a lone dash is not a formula."""
    plain = re.fullmatch(r"[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)([eE][+-]?[0-9]+)?|-", cell)
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and plain is None


@EXAMPLES
@given(
    st.lists(st.text(alphabet="=+-@\t\r0123.,eE aå(", max_size=6), min_size=1, max_size=10),
    st.booleans(),
)
def test_formula_like_text_is_a_problem_unless_the_field_allows_it(
    cells: list[str], allowed: bool
) -> None:
    field: dict[str, Any] = {"name": "text", "type": "string"}
    if allowed:
        field["opendata:allowFormulas"] = True
    with scratch() as folder:
        table = staged_table(folder, [field], [[cell] for cell in cells])
        report = validate_tables("prov", [table], folder)
        flagged = {p.row for p in report.problems if p.code == "formula-like-text"}
        expected = set() if allowed else {i + 2 for i, c in enumerate(cells) if _formula_like(c)}
        assert flagged == expected
        assert report.counts.get("t", {}).get("formula-like-text", 0) == len(expected)
        if allowed:  # what the schema allows is published exactly
            written = write_outputs(table, folder / "out")
            records = json.loads(written["t.json"].path.read_bytes())
            # (an empty cell is a missing value: null in JSON)
            assert sorted(r["text"] or "" for r in records) == sorted(cells)


def test_formulas_fail_through_the_cli_and_the_opt_out_publishes_them(tmp_path: Path) -> None:
    text = 'id,namn,varde\n1,"=HYPERLINK(""http://x"")",1\n2,-12,2\n3,+46,3\n4,@SUM(A1),4\n'
    home = csv_home(tmp_path, text)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    sv = (
        "så ett kalkylprogram som öppnar den publicerade CSV-filen kör texten som en formel "
        "(CSV-injektion); ta bort det första tecknet, eller markera fältet "
        '`"opendata:allowFormulas": true` i tabellschemat om sådan text är avsedd.'
    )
    en = (
        "so a spreadsheet that opens the published CSV runs it as a formula (CSV injection); "
        'remove the leading character, or mark the field `"opendata:allowFormulas": true` in '
        "its Table Schema if such text is meant. [formula-like-text]"
    )
    assert result.stdout.splitlines() == [
        "prov: invalid (2 problems; data 4 rows)",
        f"prov/sources/data.csv, rad 2, kolumn 'namn': '=HYPERLINK(\"http://x\")' börjar med "
        f"'=', {sv}",
        "    prov/sources/data.csv, row 2, column 'namn': '=HYPERLINK(\"http://x\")' starts "
        f"with '=', {en}",
        f"prov/sources/data.csv, rad 5, kolumn 'namn': '@SUM(A1)' börjar med '@', {sv}",
        f"    prov/sources/data.csv, row 5, column 'namn': '@SUM(A1)' starts with '@', {en}",
    ]
    allowed = [dict(f) for f in FIELDS]
    allowed[1]["opendata:allowFormulas"] = True
    csv_home(tmp_path, text, fields=allowed)
    result = run_cli(["validate", "prov"], tmp_path)
    assert (result.returncode, result.stdout) == (0, "prov: valid (data 4 rows)\n")


def test_frictionless_accepts_the_opt_out_and_its_fallback_path_applies_our_rule() -> None:
    """The custom field property is valid Table Schema for frictionless (which ignores it), and
    a schema the fast path leaves to frictionless (format "email") still gets our rule."""
    from frictionless import Schema

    fields = [
        {"name": "a", "type": "string", "format": "email"},
        {"name": "b", "type": "string", "opendata:allowFormulas": True},
    ]
    assert list(Schema.metadata_validate({"fields": fields})) == []
    with scratch() as folder:
        table = staged_table(folder, fields, [["=x@example.org", "=1+1"]])
        report = validate_tables("prov", [table], folder)
        assert [(p.code, p.field) for p in report.problems] == [("formula-like-text", "a")]


# --------------------------------------------------------------------------------------------
# 4. Messages that lead to the fix


def test_ten_thousand_extra_columns_are_named_against_the_source_and_truncated(
    tmp_path: Path,
) -> None:
    extra = [f"x{i}" for i in range(10_000)]
    header = ",".join(["id", "namn", "varde", *extra])
    home = csv_home(tmp_path, header + "\n" + ",".join(["1"] * 10_003) + "\n")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    shown = ", ".join(f"'x{i}'" for i in range(10))
    assert result.stderr == (
        f"Error: prov/sources/data.csv, line 1: columns {shown}, … and 9,990 more are not fields "
        "of schema prov.json (its fields: 'id', 'namn', 'varde'); remove them from the file, add "
        "them to the schema, or choose the columns to publish with `columns` in dataset.yaml\n"
    )
    assert "dataset.yaml:" not in result.stderr


def test_a_missing_column_lists_a_long_header_briefly(tmp_path: Path) -> None:
    header = ",".join(["id", "namn", *(f"x{i}" for i in range(5_000))])
    home = csv_home(
        tmp_path, header + "\n" + ",".join(["1"] * 5_002) + "\n", ", columns: {varde: varde}"
    )
    message = refusal(home)
    assert message.endswith("'x6', 'x7', … and 4,992 more)")
    assert len(message) < 400


def _workbook(rows: list[list[Any]], merged: list[str] = (), sheet: str = "Blad") -> bytes:  # type: ignore[assignment]
    import openpyxl

    book = openpyxl.Workbook()
    page = book.active
    assert page is not None
    page.title = sheet
    for row in rows:
        page.append(row)
    for span in merged:
        page.merge_cells(span)
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


def xlsx_home(root: Path, workbook: bytes, extra: str = "") -> Path:
    source = "{kind: xlsx, path: sources/data.xlsx, sheet: Blad, header_row: 1" + extra + "}"
    return make_home(root, source, {"sources/data.xlsx": workbook})


def test_a_formula_without_a_saved_value_is_named(tmp_path: Path) -> None:
    workbook = _workbook(
        [["id", "namn", "varde"], [1, "a", 2], [2, "b", "=B2*2"], [3, "=A1", 4], [4, "d", 5]]
    )
    home = xlsx_home(tmp_path, workbook)
    assert problems(home) == [
        "prov/sources/data.xlsx, sheet 'Blad', row 3, field varde: unsaved-formula: cell C3 "
        "holds the formula =B2*2 without a saved value (the file was written by a program that "
        "does not calculate), so its value is unknown; open the file in Excel or LibreOffice "
        "and save it, so that the values are stored",
        "prov/sources/data.xlsx, sheet 'Blad', row 4, field namn: unsaved-formula: cell B4 "
        "holds the formula =A1 without a saved value (the file was written by a program that "
        "does not calculate), so its value is unknown; open the file in Excel or LibreOffice "
        "and save it, so that the values are stored",
    ]
    # Without a sink for problems the reader refuses the first one, as before.
    with pytest.raises(SourceError, match="row 3, column 'varde': cell C3 holds the formula"):
        raw = read_sheet(home / "datasets/prov/sources/data.xlsx", "x", "Blad", 1)
        list(raw.batches)


def test_merged_cells_in_the_data_are_named(tmp_path: Path) -> None:
    rows = [["id", "namn", "varde"], [1, "a", 5], [2, None, 6], [3, "c", 7], [4, "d", 8]]
    rows.append([5, "e", None])
    workbook = _workbook(rows, merged=["B2:B3", "C5:C6"])
    assert problems(xlsx_home(tmp_path, workbook)) == [
        "prov/sources/data.xlsx, sheet 'Blad', row 3, field namn: merged-cell: cell B3 lies in "
        "the merged cells B2:B3, so it shows the value of B2 but holds none; unmerge the cells "
        "and fill in every row",
        "prov/sources/data.xlsx, sheet 'Blad', row 6, field varde: merged-cell: cell C6 lies in "
        "the merged cells C5:C6, so it shows the value of C5 but holds none; unmerge the cells "
        "and fill in every row",
    ]


def test_a_merged_header_cell_is_named(tmp_path: Path) -> None:
    rows = [["id", "namn", None, "varde"], [1, "a", "b", 5]]
    workbook = _workbook(rows, merged=["B1:C1"])
    assert refusal(xlsx_home(tmp_path / "a", workbook)) == (
        "prov/sources/data.xlsx, sheet 'Blad', row 1: merged cells B1:C1 in the header title "
        "only their first column with `header_row`; declare the header with `header_rows` "
        "instead (adding the row below when it tells the spanned columns apart) to give a "
        "merged title to every column it spans, or choose the columns to publish with "
        "`columns` in dataset.yaml"
    )
    # With `columns`, a title the merge hides is explained.
    home = xlsx_home(tmp_path / "b", workbook, ", columns: {id: id, namn: namn, varde: Varde}")
    assert refusal(home).endswith(
        "(columns: 'id', 'namn', 'varde'); row 1 of sheet 'Blad' has merged cells (B1:C1): with "
        "`header_row`, a merged cell titles only its first column; declare `header_rows: [1]` "
        "instead (`[1, 2]` when the row below tells the spanned columns apart) to give its title "
        "to every column it spans"
    )
    # Declared, the merged title is every column's it spans: two columns titled 'namn' are
    # refused (not one of them silently), naming the cells each title was joined from.
    home = xlsx_home(tmp_path / "c", workbook, ", header_row: null, header_rows: [1]")
    assert refusal(home) == (
        "prov/sources/data.xlsx, sheet 'Blad', row 1: columns B (B1:C1) and C (B1:C1) have the "
        "same title 'namn'; add the header row that tells them apart to `header_rows` in "
        "dataset.yaml, so that it is clear which one to publish"
    )


def test_a_sheet_declaring_a_wrong_dimension_is_read_whole(tmp_path: Path) -> None:
    """openpyxl's read-only rows stop at the dimension a file declares; ours read what is there."""
    workbook = _workbook([["id", "namn", "varde"], *([i, "a", i] for i in range(1, 6))])
    with zipfile.ZipFile(io.BytesIO(workbook)) as original:
        parts = {info.filename: original.read(info) for info in original.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C2"', parts[sheet])
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as changed:
        for name, content in parts.items():
            changed.writestr(name, content)
    assert len(collect(xlsx_home(tmp_path, stream.getvalue()))) == 5


def _with_sheet(workbook: bytes, sheet_data: bytes) -> bytes:
    """The workbook with its one sheet's rows replaced by `sheet_data` (XML <row> elements)."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as original:
        parts = {info.filename: original.read(info) for info in original.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(
        rb"<sheetData>.*</sheetData>|<sheetData/>",
        lambda _: b"<sheetData>" + sheet_data + b"</sheetData>",
        parts[sheet],
        flags=re.DOTALL,
    )
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as changed:
        for name, content in parts.items():
            changed.writestr(name, content)
    return stream.getvalue()


def test_a_far_right_cell_in_every_row_costs_nothing(tmp_path: Path) -> None:
    """One cell in column XFD made every row 16,384 cells wide (openpyxl pads to the width);
    rows are read up to the header's width, and the far cell still makes its row non-blank."""
    header = (
        b'<row r="1">'
        + b"".join(
            b'<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>' % (col, name)
            for col, name in ((b"A", b"id"), (b"B", b"namn"), (b"C", b"varde"))
        )
        + b"</row>"
    )
    rows = b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c>'
        b"</row>" % (i, i, i, i)
        for i in range(2, 40_002)
    )
    workbook = _with_sheet(_workbook([["id"]]), header + rows)
    collected = collect(xlsx_home(tmp_path, workbook))  # bench.guards times it against no XFD
    assert len(collected) == 40_000
    assert collected[0] == ["2", "", ""]


# --------------------------------------------------------------------------------------------
# 5. Limits: a hostile file fails early, in bounded memory (bench.guards prints how long each
#    refusal takes against reading a genuine file of its size; the suite times nothing)


def _bomb(path: Path, inflated: int) -> None:
    """A valid workbook whose one sheet inflates to `inflated` bytes (about 7 MB on disk)."""
    small = _workbook([["id", "namn", "varde"], [1, "a", 1]])
    row = b'<row><c t="inlineStr"><is><t>xxxxxxxxxxxxxxxx</t></is></c></row>' * 16_384
    with (
        zipfile.ZipFile(io.BytesIO(small)) as original,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb,
    ):
        for info in original.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info.filename, original.read(info))
        with bomb.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/')
            sheet.write(b'main"><sheetData>')
            for _ in range(inflated // len(row)):
                sheet.write(row)
            sheet.write(b"</sheetData></worksheet>")


def test_an_xlsx_that_inflates_to_a_gigabyte_fails_in_little_memory(
    tmp_path: Path,
) -> None:
    home = xlsx_home(tmp_path, b"")
    path = home / "datasets/prov/sources/data.xlsx"
    _bomb(path, 2**30)
    assert path.stat().st_size < 16 * 2**20
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: prov/sources/data.xlsx: its parts inflate to 1,07"), (
        result.stderr
    )
    assert "more than the limit of 268,435,456" in result.stderr
    assert "`limits: {inflated_bytes: …}`" in result.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak < 600 * 1024 or peak == before  # KiB: the command stayed small


def test_a_huge_cell_fails_with_its_line(tmp_path: Path) -> None:
    cell = "x" * (8 * 2**20)  # beyond Arrow's block and the 1 MiB default
    home = csv_home(tmp_path, f"id,namn,varde\n1,a,1\n2,{cell},2\n3,c,3\n")
    assert refusal(home) == (
        "prov/sources/data.csv, line 3: a cell longer than 1,048,576 characters; if the file is "
        "genuine, raise `limits: {cell_bytes: …}` for this source in dataset.yaml"
    )
    lines = "x\n" * (3 * 2**20)  # a quoted cell over three million lines: named by its row
    csv_home(tmp_path, f'id,namn,varde\n1,a,1\n2,"{lines}",2\n3,c,3\n')
    assert refusal(tmp_path).startswith(
        "prov/sources/data.csv, row 3, column 'namn': a cell of 6,291,456 bytes, more than the "
        "limit of 1,048,576; "
    )
    csv_home(tmp_path, "id,namn,varde\n1,a,1\n2,bbbbbbbb,2\n", ", limits: {cell_bytes: 4}")
    assert refusal(tmp_path) == (
        "prov/sources/data.csv, row 3, column 'namn': a cell of 8 bytes, more than the limit of 4; "
        "if the file is genuine, raise `limits: {cell_bytes: …}` for this source in dataset.yaml"
    )


def test_a_hundred_thousand_columns_fail_at_the_header(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(100_000))
    home = csv_home(tmp_path, header + "\n" + "1," * 99_999 + "1\n")
    assert refusal(home) == (
        "prov/sources/data.csv, line 1: 100,000 columns, more than the limit of 16,384; if the "
        "file is genuine, raise `limits: {columns: …}` for this source in dataset.yaml"
    )


def test_declared_row_and_byte_limits(tmp_path: Path) -> None:
    body = "id,namn,varde\n" + "".join(f"{i},a,{i}\n" for i in range(1, 12))
    csv_home(tmp_path, body, ", limits: {rows: 10}")
    assert refusal(tmp_path) == (
        "prov/sources/data.csv: more than 10 rows; if the file is genuine, raise "
        "`limits: {rows: …}` for this source in dataset.yaml"
    )
    csv_home(tmp_path, body, ", limits: {rows: 11, bytes: 50}")
    assert refusal(tmp_path).startswith(
        f"prov/sources/data.csv: {len(body):,} bytes, more than the limit of 50; "
    )
    csv_home(tmp_path, body, ", limits: {rows: 11}")
    assert len(collect(tmp_path)) == 11
    rows = [["id", "namn", "varde"], *([i, "a", i] for i in range(1, 12))]
    xlsx_home(tmp_path, _workbook(rows), ", limits: {rows: 10}")
    assert refusal(tmp_path) == (
        "prov/sources/data.xlsx, sheet 'Blad': more than 10 rows; if the file is genuine, "
        "raise `limits: {rows: …}` for this source in dataset.yaml"
    )


def test_an_unknown_limit_is_a_definition_error(tmp_path: Path) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n1,a,1\n", ", limits: {rowz: 10}")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2
    assert result.stderr.endswith("resources.0.sources.0.csv.limits.rowz: unknown key\n")


def test_publish_refuses_the_hostile_dataset_and_publishes_the_others(tmp_path: Path) -> None:
    home = csv_home(tmp_path, b"id,namn,varde\n1,a\x00b,1\n")
    good = home / "datasets" / "bra"
    (good / "sources").mkdir(parents=True)
    (good / "dataset.yaml").write_text(
        (home / "datasets/prov/dataset.yaml").read_text("utf-8"), "utf-8"
    )
    (good / "sources/data.csv").write_text("id,namn,varde\n1,a,1\n", "utf-8")
    store = home / "public"
    result = run_cli(["publish", "--offline", "--no-prefect", "--store", str(store)], home)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"bra\s+published\s+1\.0\.0\s+1", lines[1]), lines
    assert re.fullmatch(r"prov\s+invalid\s+-\s+-", lines[2]), lines
    assert "prov/sources/data.csv, row 2, column 'namn': 'a\\x00b' holds the control" in (
        result.stderr
    )
    assert (store / "datasets/bra/1.0.0/datapackage.json").is_file()
    assert not (store / "datasets/prov").exists()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('"ab\\ud800c"', "key 'namn': the escape \\ud800 at character 3 is half of a surrogate"),
        ('"\\udfff"', "key 'namn': the escape \\udfff at character 1 is half of a surrogate"),
        ("1" * 5000, "key 'namn': an integer of 5,000 digits, more than the 4,300"),
        ("-" + "9" * 4301, "key 'namn': an integer of 4,301 digits"),
    ],
)
def test_lone_surrogates_and_endless_integers_in_json_name_their_record_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str, expected: str, stream: bool
) -> None:
    """Issue 19, item 5: these escaped as exceptions (exit 3); now each is a source problem
    naming the file, record and key, on both the whole-document and the streaming parser."""
    if stream:
        monkeypatch.setattr(jsonfile, "JSON_STREAM_THRESHOLD", 10)
    records = '[{"id": 1, "namn": "a", "varde": 1},\n {"id": 2, "namn": ' + cell + ', "varde": 2}]'
    home = json_home(tmp_path, records)
    message = refusal(home)
    if stream and "digits" in expected:  # ijson reads the number itself, and says so
        assert message.startswith("prov/sources/data.json: malformed JSON after record 1: ")
    elif stream:  # the file is read for them before ijson (which writes "?" for them)
        escape = cell.strip('"').removeprefix("ab")[:6]
        assert message == (
            f"prov/sources/data.json: line 2: the escape {escape} is half of a surrogate pair, "
            "no character: the file was cut or written wrongly; write the character itself"
        ), message
    else:
        assert message.startswith(f"prov/sources/data.json, record 2, {expected}"), message
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(["a", "\\", "\\\\", "\\ud83d", "\\ude00", "\\ud83d\\ude00", "\\u0041"]),
        max_size=12,
    ),
    block=st.integers(min_value=13, max_value=40),
)
def test_the_surrogate_scan_agrees_with_the_json_parser_at_any_block_size(
    pieces: list[str], block: int
) -> None:
    """The streaming path's byte scan for half surrogate pairs says what Python's own parser
    finds, wherever the blocks are cut."""
    text = "".join(pieces)
    document = '[{"namn": "' + text + '"}]'
    try:
        value = json.loads(document)[0]["namn"]
    except json.JSONDecodeError:
        return  # not JSON (a lone backslash at the end, say): ijson reports it
    try:
        value.encode("utf-8")
        lone = False
    except UnicodeEncodeError:
        lone = True
    with scratch() as root:
        path = root / "data.json"
        path.write_text(document, "ascii")
        threshold = jsonfile.SCAN_BLOCK_BYTES
        jsonfile.SCAN_BLOCK_BYTES = block
        try:
            jsonfile._check_surrogate_escapes(path, "data.json")
            found = False
        except SourceError:
            found = True
        finally:
            jsonfile.SCAN_BLOCK_BYTES = threshold
    assert found == lone, document


def test_spreadsheet_error_values_and_untitled_values_are_named(tmp_path: Path) -> None:
    """Issue 19, item 2: `#N/A` (a lookup that failed) was published as a name and a value in a
    column without a title was dropped; each is now a problem naming its cell."""
    rows = [
        ["id", "namn", "varde", None],
        [1, "a", 2, None],
        [2, "#N/A", 3, None],
        [3, "c", "#DIV/0!", None],
        [4, "d", 5, "anteckning"],
        [5, "e", 6, None],
    ]
    home = xlsx_home(tmp_path, _workbook(rows))
    assert problems(home) == [
        "prov/sources/data.xlsx, sheet 'Blad', row 3, field namn: spreadsheet-error: cell B3 "
        "holds the error value #N/A: its formula failed in the spreadsheet, so the cell has no "
        "value; correct the formula (or its inputs), or clear the cell if the value is missing",
        "prov/sources/data.xlsx, sheet 'Blad', row 4, field varde: spreadsheet-error: cell C4 "
        "holds the error value #DIV/0!: its formula failed in the spreadsheet, so the cell has "
        "no value; correct the formula (or its inputs), or clear the cell if the value is "
        "missing",
        "prov/sources/data.xlsx, sheet 'Blad', row 5: untitled-column: cell D5 holds "
        "'anteckning' in a column without a title in the header, so it belongs to no field; "
        "give the column a title (and map it), or clear the cell",
    ]
