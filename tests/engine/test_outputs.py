"""The streaming writers against the row-by-row writers they replace, byte for byte.

The oracle is the old code path, kept here: Python's csv.writer (QUOTE_MINIMAL, CRLF) over rows
sorted with the old stable key, and json.dumps(indent=1) of values typed by the Table Schema (a
`number` always a float since issue 18; the size and SHA-256 of the JSON as releases before wrote
it, an integral number without its fraction, ride along as `WrittenFile.v1`). The engine renders
the same bytes in SQL, chunk by chunk; the Parquet copy holds the same rows, typed, and pandas'
metadata that keeps them typed through pandas (and so through frictionless 5).

Readers that type a JSON column from its values read a `number` as floating point: DuckDB's
read_json DOUBLE, pandas float64 (read_json with dtype=False: its default guessing makes any
all-integral column int64, and codes like "0114" numbers), pyarrow.json double (it reads JSON
Lines, so the test gives it the file's records one per line, each number as the file writes it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest
from frictionless import Resource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata.engine.outputs import Digest, write_outputs
from opendata.tables import ORIGIN, PYTHON_WHITESPACE, Table, TableWriter, cell_text

# Any text a cell may hold after collection: stripped, no surrogates, no NUL.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
).map(str.strip)
HOSTILE = st.sampled_from(
    ["", "a,b", 'say "hi"', "line\nbreak", "cr\rlf", "\x01\x1f\x0b", "é😀\u2028", "\\u000B", "=1+2"]
)


def old_sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def old_csv(fields: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(fields)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def old_typed(text: str, field: dict[str, Any], v1: bool = False) -> Any:
    """A cell as its JSON value: `v1`, as releases before issue 18 typed it."""
    if text == "":
        return None
    kind = field.get("type", "string")
    if kind in ("integer", "year"):
        return int(text)
    if kind == "number":
        number = float(text)
        integral = "." not in text and "e" not in text.lower()
        return int(number) if v1 and integral else number
    if kind == "boolean":
        return text in ("true", "True", "TRUE", "1")
    return text


def old_json(schema: dict[str, Any], rows: list[list[str]], v1: bool = False) -> bytes:
    records = [
        {f["name"]: old_typed(cell, f, v1) for f, cell in zip(schema["fields"], row, strict=True)}
        for row in rows
    ]
    return (json.dumps(records, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def stage(folder: Path, schema: dict[str, Any], rows: list[list[str]]) -> Table:
    writer = TableWriter("t", schema, folder / "staged.parquet")
    fields = [f["name"] for f in schema["fields"]]
    columns: dict[str, Any] = {
        name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(fields)
    }
    columns[ORIGIN] = pa.array([f"row {i + 2}" for i in range(len(rows))], pa.string())
    writer.write(pa.table(columns))
    return writer.close()


def check_outputs(folder: Path, schema: dict[str, Any], rows: list[list[str]]) -> None:
    table = stage(folder, schema, rows)
    written = write_outputs(table, folder / "out")
    key = schema.get("primaryKey", [])
    indexes = [[f["name"] for f in schema["fields"]].index(k) for k in key]
    expected = sorted(rows, key=lambda row: tuple(old_sort_key(row[i]) for i in indexes))
    fields = [f["name"] for f in schema["fields"]]
    assert written["t.csv"].path.read_bytes() == old_csv(fields, expected)
    assert written["t.json"].path.read_bytes() == old_json(schema, expected)
    v1 = old_json(schema, expected, v1=True)
    assert written["t.json"].v1 == Digest(len(v1), hashlib.sha256(v1).hexdigest())
    records = json.loads(written["t.json"].path.read_bytes())
    parquet = pq.read_table(written["t.parquet"].path).to_pylist()
    assert len(parquet) == len(records)
    for got, want in zip(parquet, records, strict=True):
        for name in fields:
            value, reference = got[name], want[name]
            if isinstance(reference, float):
                assert math.isclose(value, reference, rel_tol=0, abs_tol=0)
            elif reference is None:
                assert value is None
            else:
                assert value == reference or str(value) == str(reference), (name, value, want)


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.one_of(TEXT, HOSTILE),
            st.one_of(
                st.integers(min_value=-(2**53), max_value=2**53).map(str),
                st.floats(allow_nan=False, allow_infinity=False).map(cell_text),
                st.sampled_from(["1.0", "1e3", "-0", "0.1", "1E-7", "007", ""]),
            ),
            st.integers(min_value=1000, max_value=2999).map(str),
            st.sampled_from(["true", "false", "1", "0", ""]),
        ),
        max_size=25,
    )
)
def test_csv_and_json_bytes_equal_the_row_by_row_writers(
    tmp_path_factory: pytest.TempPathFactory, cells: list[tuple[str, str, str, str]]
) -> None:
    schema = {
        "fields": [
            {"name": "text", "type": "string"},
            {"name": "varde", "type": "number"},
            {"name": "ar", "type": "year"},
            {"name": "flagga", "type": "boolean"},
        ]
    }
    rows = [list(row) for row in cells]
    check_outputs(tmp_path_factory.mktemp("out"), schema, rows)


@SETTINGS
@given(
    st.dictionaries(
        st.one_of(
            st.integers(min_value=0, max_value=10**6).map(str),
            st.sampled_from(["0114", "1490", "12AA", "a", "Z", "é", "1e3", "-4", "1.5"]),
        ),
        st.one_of(TEXT, HOSTILE),
        max_size=30,
    )
)
def test_rows_come_out_in_the_old_primary_key_order(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, str]
) -> None:
    schema = {
        "fields": [{"name": "kod", "type": "string"}, {"name": "namn", "type": "string"}],
        "primaryKey": ["kod"],
    }
    check_outputs(tmp_path_factory.mktemp("out"), schema, [[k, v] for k, v in data.items()])


def test_a_one_column_table_quotes_its_empty_cells_as_csv_writer_does(tmp_path: Path) -> None:
    schema = {"fields": [{"name": "only", "type": "string"}]}
    check_outputs(tmp_path, schema, [["a"], [""], ["b,c"]])


def test_an_empty_table_is_a_header_and_an_empty_json_array(tmp_path: Path) -> None:
    schema = {"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]}
    check_outputs(tmp_path, schema, [])
    parquet = pq.read_table(tmp_path / "out" / "t.parquet")
    assert parquet.num_rows == 0 and parquet.schema.field("a").type == pa.int64()


def test_parquet_columns_are_typed_from_the_schema_and_codes_stay_text(tmp_path: Path) -> None:
    schema = {
        "fields": [
            {"name": "kommunkod", "type": "string"},
            {"name": "ar", "type": "year"},
            {"name": "antal", "type": "integer"},
            {"name": "andel", "type": "number"},
            {"name": "datum", "type": "date"},
            {"name": "klar", "type": "boolean"},
        ],
        "primaryKey": ["kommunkod", "ar"],
    }
    rows = [["0114", "2024", "12", "0.5", "2024-02-29", "true"]]
    table = stage(tmp_path, schema, rows)
    written = write_outputs(table, tmp_path / "out")
    parquet = pq.read_table(written["t.parquet"].path)
    types = {field.name: field.type for field in parquet.schema}
    assert types["kommunkod"] == pa.string()
    assert types["antal"] == pa.int64()
    assert types["andel"] == pa.float64()
    assert types["datum"] == pa.date32()
    assert types["klar"] == pa.bool_()
    assert pa.types.is_integer(types["ar"])
    assert parquet.to_pylist()[0]["kommunkod"] == "0114"
    metadata = parquet.schema.metadata or {}
    assert json.loads(metadata[b"table_schema"]) == schema


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(min_value=-50, max_value=50), st.integers(0, 3)),
        unique=True,
        max_size=40,
    ),
    st.booleans(),
)
def test_a_table_staged_in_key_order_skips_the_sort_and_gives_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory, keys: list[tuple[int, int]], presort: bool
) -> None:
    schema = {
        "fields": [
            {"name": "ar", "type": "integer"},
            {"name": "lop", "type": "year"},
            {"name": "v", "type": "string"},
        ],
        "primaryKey": ["ar", "lop"],
    }
    if presort:
        keys = sorted(keys)
    rows = [[str(a), f"{2000 + b}", f"r{i}"] for i, (a, b) in enumerate(keys)]
    folder = tmp_path_factory.mktemp("out")
    table = stage(folder, schema, rows)
    assert table.in_key_order == (keys == sorted(keys))
    check_outputs(folder, schema, rows)


def test_the_whitespace_we_strip_is_exactly_pythons() -> None:
    expected = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    assert expected == PYTHON_WHITESPACE


NUMBERS = {
    "fields": [
        {"name": "kod", "type": "string"},
        {"name": "varde", "type": "number"},
        {"name": "antal", "type": "integer"},
        {"name": "ar", "type": "year"},
    ],
    "primaryKey": ["kod"],
}
# Integral numbers only: the case a JSON without fractions (`12`) gave readers as integers.
NUMBER_ROWS = [["0114", "12", "3", "2021"], ["1490", "-4", "0", "2022"], ["1442", "100", "7", ""]]


def json_lines(path: Path) -> bytes:
    """The JSON array's records one per line (pyarrow.json reads JSON Lines), each number as
    the file writes it (Python keeps 12 an int and 12.0 a float)."""
    records = json.loads(path.read_bytes())
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def test_json_numbers_are_read_as_floating_point_by_duckdb_pandas_and_pyarrow(
    tmp_path: Path,
) -> None:
    written = write_outputs(stage(tmp_path, NUMBERS, NUMBER_ROWS), tmp_path / "out")
    path = written["t.json"].path
    assert b'"varde": 12.0,' in path.read_bytes() and b'"varde": 100.0,' in path.read_bytes()
    # ... and the same rows as releases before wrote them, for comparison: integers to all three.
    old = tmp_path / "old.json"
    old.write_bytes(old_json(NUMBERS, sorted(NUMBER_ROWS, key=lambda r: r[0]), v1=True))
    assert b'"varde": 12,' in old.read_bytes()

    def duckdb_types(file: Path) -> dict[str, str]:
        with duckdb.connect() as con:
            rows = con.execute(f"DESCRIBE SELECT * FROM read_json('{file}')").fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    assert duckdb_types(path)["varde"] == "DOUBLE"
    assert duckdb_types(path)["antal"] == "BIGINT"
    assert duckdb_types(old)["varde"] != "DOUBLE"

    frame = pd.read_json(path, dtype=False)
    assert (str(frame["varde"].dtype), str(frame["antal"].dtype)) == ("float64", "int64")
    assert frame["kod"].tolist() == ["0114", "1442", "1490"]
    assert str(pd.read_json(old, dtype=False)["varde"].dtype) == "int64"

    table = pa_json.read_json(io.BytesIO(json_lines(path)))
    assert table.schema.field("varde").type == pa.float64()
    assert table.schema.field("antal").type == pa.int64()
    old_table = pa_json.read_json(io.BytesIO(json_lines(old)))
    assert old_table.schema.field("varde").type == pa.int64()


NULLABLE = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "ar", "type": "year"},
        {"name": "antal", "type": "integer"},
        {"name": "varde", "type": "number"},
        {"name": "klar", "type": "boolean"},
        {"name": "datum", "type": "date"},
        {"name": "tid", "type": "datetime"},
        {"name": "klocka", "type": "time"},
        {"name": "manad", "type": "yearmonth"},
        {"name": "text", "type": "string"},
    ],
    "primaryKey": ["id"],
}
NULLABLE_ROWS = [
    [
        "1",
        "2021",
        "5",
        "1.5",
        "true",
        "2024-02-29",
        "2024-01-02T03:04:05",
        "10:11:12",
        "2024-05",
        "a",
    ],
    ["2", "", "", "", "", "", "", "", "", ""],
    [
        "3",
        "1999",
        "-7",
        "12",
        "false",
        "2000-01-01",
        "1999-12-31T23:59:59",
        "00:00:00",
        "1999-12",
        "b",
    ],
]


def test_parquet_columns_with_nulls_stay_typed_through_pandas_and_frictionless(
    tmp_path: Path,
) -> None:
    """frictionless 5 reads Parquet through pyarrow's to_pandas(): without pandas' metadata an
    integer column with a null became float64 (a year 2021.0, which it refused as a year, so the
    cell came back empty) and a missing number NaN. With it, every copy reads as the CSV."""
    written = write_outputs(stage(tmp_path, NULLABLE, NULLABLE_ROWS), tmp_path / "out")
    frame = pd.read_parquet(written["t.parquet"].path)
    assert {name: str(frame[name].dtype) for name in ("ar", "antal", "varde", "klar")} == {
        "ar": "Int32",
        "antal": "Int64",
        "varde": "Float64",
        "klar": "boolean",
    }
    assert frame["ar"].tolist()[0] == 2021 and frame["ar"].isna().tolist() == [False, True, False]
    read = {}
    for suffix in ("csv", "json", "parquet"):
        resource = Resource(
            {
                "name": "t",
                "type": "table",
                "path": f"t.{suffix}",
                "format": suffix,
                "schema": NULLABLE,
            },
            basepath=str(tmp_path / "out"),
        )
        rows = resource.read_rows()
        assert [row.errors for row in rows] == [[], [], []], suffix
        read[suffix] = [row.to_dict() for row in rows]
    assert read["parquet"][0]["ar"] == 2021 and type(read["parquet"][0]["ar"]) is int
    assert read["parquet"][1] == {"id": 2, **{f["name"]: None for f in NULLABLE["fields"][1:]}}
    for suffix in ("json", "parquet"):
        for got, want in zip(read[suffix], read["csv"], strict=True):
            assert got == want, suffix
