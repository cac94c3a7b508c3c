"""Pinned edge cases of the engine's checks: every case asserts frictionless's verdict AND ours,
so neither can drift silently (the differential tests cover the space at random)."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from opendata.engine import checks, udf
from opendata.engine.db import connect

V2 = "https://datapackage.org/profiles/2.0/tableschema.json"
RESOURCE_V2 = "https://datapackage.org/profiles/2.0/dataresource.json"
PACKAGE_V2 = "https://datapackage.org/profiles/2.0/datapackage.json"
DIALECT = {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "header": True}

Errors = set[tuple[str, int | None, str | None]]


def csv_text(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def resource(path: Path, schema: dict[str, Any], name: str = "data") -> Any:
    from frictionless import Resource

    descriptor = {
        "$schema": RESOURCE_V2,
        "name": name,
        "path": path.name,
        "encoding": "utf-8",
        "schema": schema,
        "dialect": DIALECT,
    }
    return Resource.from_descriptor(descriptor, basepath=str(path.parent))


def frictionless_verdict(path: Path, schema: dict[str, Any]) -> Errors:
    report = resource(path, schema).validate(limit_errors=0)
    assert not report.errors, report.errors
    return {
        (e.type, getattr(e, "row_number", None), getattr(e, "field_name", None) or None)
        for task in report.tasks
        for e in task.errors
    }


def our_verdict(path: Path, schema: dict[str, Any]) -> checks.TableVerdict:
    with connect() as con:
        return checks.validate_csv(con, path, schema, limit=10_000)


def assert_both(
    tmp_path: Path, data: bytes | list[list[str]], schema: dict[str, Any], expected: Errors
) -> checks.TableVerdict:
    """frictionless reports exactly `expected`, and so do we."""
    schema = {"$schema": V2, **schema}
    path = tmp_path / "data.csv"
    path.write_bytes(data if isinstance(data, bytes) else csv_text(data))
    assert frictionless_verdict(path, schema) == expected, "frictionless changed its verdict"
    verdict = our_verdict(path, schema)
    assert {(e.type, e.row, e.field) for e in verdict.errors} == expected
    return verdict


def one(kind: str, **options: Any) -> dict[str, Any]:
    return {"fields": [{"name": "a", "type": kind, **options}]}


def column(values: list[str]) -> list[list[str]]:
    return [["a"], *[[v] for v in values]]


# ---- integer


def test_integer_reads_as_python_int_after_strip(tmp_path: Path) -> None:
    values = ["01", " 3 ", "\u3000 4\xa0", "+7", "-0", "1_000", "١٢٣", "99999999999999999999999"]
    bad = ["1.0", "1e3", "1__0", "_1", "1_", "0x1", "", "1 2", "\u200b1"]
    schema = one("integer", missingValues=[])
    expected = {("type-error", 2 + len(values) + i, "a") for i in range(len(bad))}
    assert_both(tmp_path, column(values + bad), schema, expected)


def test_integer_unique_compares_typed_values(tmp_path: Path) -> None:
    values = [
        "1",
        "01",
        " 1",
        "+1",
        "٠١",
        "-0",
        "0",
        "99999999999999999999999",
        "99999999999999999999999",
    ]
    schema = one("integer", constraints={"unique": True})
    expected = {("unique-error", row, "a") for row in (3, 4, 5, 6, 8, 10)}
    verdict = assert_both(tmp_path, column(values), schema, expected)
    notes = {e.row: e.note for e in verdict.errors}
    assert notes[6] == "the same as in the row at position 5"  # the latest before, as frictionless


@pytest.mark.parametrize(
    ("keys", "repeats"),
    [
        # Dense keys, counted value by value: the one repeat is found, last row included.
        ([str(n) for n in range(-50, 50)] + ["49"], {102}),
        ([str(n) for n in range(100)] + ["0", "007", "+7"], {102, 103, 104}),
        # Sparse (a range far wider than the rows) and beyond int64: the exact grouping.
        ([str(n * 10**12) for n in range(20)] + ["0"], {22}),
        (["9223372036854775808", "-9223372036854775809", "9223372036854775808"], {4}),
        # No repeat at all, in each kind of range.
        ([str(n) for n in range(1000, 0, -1)], set()),
        ([str(n * 10**12) for n in range(20)], set()),
    ],
)
def test_primary_key_repeats_in_dense_and_sparse_integer_keys(
    tmp_path: Path, keys: list[str], repeats: set[int]
) -> None:
    """A valid single integer key is cleared by counting its values in an array; a repeat, a
    sparse or an out-of-range key goes to the exact grouping. Both give frictionless's rows."""
    schema = {**one("integer"), "primaryKey": ["a"]}
    assert_both(tmp_path, column(keys), schema, {("primary-key", row, None) for row in repeats})


def test_integer_bare_number_false_strips_text(tmp_path: Path) -> None:
    values = ["€ 5", "5 %", "$-3", "abc", "-", "12kr", "1.5"]
    schema = one("integer", bareNumber=False, constraints={"minimum": 0})
    # "1.5" keeps "1.5" (only the ends are stripped): not an integer.
    expected = {
        ("constraint-error", 4, "a"),
        ("type-error", 5, "a"),
        ("type-error", 6, "a"),
        ("type-error", 8, "a"),
    }
    assert_both(tmp_path, column(values), schema, expected)


def test_integer_bounds_beyond_hugeint(tmp_path: Path) -> None:
    values = [
        "170141183460469231731687303715884105728",
        "-170141183460469231731687303715884105729",
        "5",
    ]
    schema = one("integer", constraints={"minimum": 0, "maximum": 10})
    assert_both(
        tmp_path,
        column(values),
        schema,
        {("constraint-error", 2, "a"), ("constraint-error", 3, "a")},
    )


def test_integer_enum_and_bounds_beyond_hugeint(tmp_path: Path) -> None:
    huge = "170141183460469231731687303715884105728"  # HUGEINT's maximum + 1
    values = [huge, "-" + huge, "0" + huge, "5", "1" + huge]
    schema = one("integer", constraints={"enum": [huge, 5, "-" + huge], "maximum": int(huge)})
    assert_both(tmp_path, column(values), schema, {("constraint-error", 6, "a")})


# ---- number


def test_number_reads_as_decimal(tmp_path: Path) -> None:
    values = [
        "1e3",
        "1.",
        ".5",
        "-0",
        "NaN",
        "-inf",
        "Infinity",
        "sNaN",
        " 2.5 ",
        "1_000.5",
        "١٢",
        "1E+999999999999999999",
    ]
    # "١٫٥" has an Arabic decimal separator, not "."
    bad = ["1,5", ".", "1e", "--1", "infinit", "NaN 1", "0x10", "1e999999999999999999999", "١٫٥"]
    schema = one("number")
    expected = {("type-error", 2 + len(values) + i, "a") for i in range(len(bad))}
    assert_both(tmp_path, column(values + bad), schema, expected)


def test_number_unique_nan_never_equal_infinity_equal(tmp_path: Path) -> None:
    values = [
        "NaN",
        "nan",
        "inf",
        "Infinity",
        "-0",
        "0.0",
        "1",
        "1.00",
        "1E+0",
        "0.1",
        "0.10000000000000000001",
    ]
    schema = one("number", constraints={"unique": True})
    expected = {("unique-error", row, "a") for row in (5, 7, 9, 10)}
    assert_both(tmp_path, column(values), schema, expected)


def test_number_bounds_are_exact_decimals(tmp_path: Path) -> None:
    values = [
        "0.1",
        "0.1000000000000000000001",
        "0.0999999999999999999999",
        "NaN",
        "Infinity",
        "1e400",
        "-1e-400",
    ]
    schema = one("number", constraints={"exclusiveMinimum": 0.1, "maximum": "1e308"})
    # 0.1 is not above 0.1; NaN fails every bound; 1e400 and Infinity are above 1e308.
    expected = {("constraint-error", row, "a") for row in (2, 4, 5, 6, 7, 8)}
    assert_both(tmp_path, column(values), schema, expected)


def test_number_decimal_and_group_chars(tmp_path: Path) -> None:
    values = ["1.234,5", "1234,5", "1,5", "1.5", "12.34.5", " 1.000 ", "1,2,3"]
    schema = one("number", decimalChar=",", groupChar=".", constraints={"maximum": 1000})
    # groupChar "." is removed first, so "1.5" reads 15 and "12.34.5" 12345 (above 1000).
    expected = {
        ("constraint-error", 2, "a"),
        ("constraint-error", 3, "a"),
        ("constraint-error", 6, "a"),
        ("type-error", 8, "a"),
    }
    assert_both(tmp_path, column(values), schema, expected)


def test_number_decimal_char_rejects_points(tmp_path: Path) -> None:
    schema = one("number", decimalChar=",")
    assert_both(tmp_path, column(["1,5", "1.5", "1"]), schema, {("type-error", 3, "a")})


# ---- boolean


def test_boolean_does_not_strip_and_false_wins(tmp_path: Path) -> None:
    values = ["true", " true", "TRUE", "1", "0", "yes", "no", ""]
    schema = one(
        "boolean",
        trueValues=["true", "yes", "no"],
        falseValues=["no", "0"],
        constraints={"enum": [False]},
    )
    # "no" is in both lists: the false value wins (and passes the enum [False]); "" is missing.
    expected = {
        ("type-error", 3, "a"),
        ("type-error", 4, "a"),
        ("type-error", 5, "a"),
        ("constraint-error", 2, "a"),
        ("constraint-error", 7, "a"),
        ("blank-row", 9, None),
    }
    assert_both(tmp_path, column(values), schema, expected)


# ---- date, datetime, time


def test_date_is_strptime(tmp_path: Path) -> None:
    values = ["2024-02-29", "2024-2-9", "2024-02- 9", "٢٠٢٤-01-01", "0001-01-01"]
    bad = [
        "2023-02-29",
        "0000-01-01",
        "2024-13-01",
        "2024-01-32",
        "2024-01-01 ",
        "24-01-01",
        "2024-02-09T00:00:00",
    ]
    expected = {("type-error", 2 + len(values) + i, "a") for i in range(len(bad))}
    assert_both(tmp_path, column(values + bad), one("date"), expected)


def test_date_custom_format(tmp_path: Path) -> None:
    values = ["29/02/2024", "1/2/2024", " 1/02/2024", "29/02/2023", "2024-02-29", "31/04/2024"]
    schema = one("date", format="%d/%m/%Y", constraints={"minimum": "01/01/2024"})
    expected = {("type-error", 5, "a"), ("type-error", 6, "a"), ("type-error", 7, "a")}
    assert_both(tmp_path, column(values), schema, expected)


def test_datetime_is_isoparse_after_guards(tmp_path: Path) -> None:
    values = [
        "2024-01-01T24:00:00", "2024-01-01 10:00:00", "2024-01-01X10:00:00", "2024-01-01T10:00:00.5",
        "2024-01-01T10:00:00,25", "2024-01-01T10:00:00+01:3", "2024-W01-1T10:00:00", "2024-01-01T10:00:00-05",
    ]  # fmt: skip
    bad = [
        "2024-01-01T10:00", "2024-01-01T24:00:01", "9999-12-31T24:00:00", "2024-01-01T10:00:60",
        "2024-01-01T10:00:00+24:00", "20240101T10:00:00", "0000-01-01T00:00:00", "2024-01-01T10:00:00 ",
    ]  # fmt: skip
    expected = {("type-error", 2 + len(values) + i, "a") for i in range(len(bad))}
    assert_both(tmp_path, column(values + bad), one("datetime"), expected)


def test_datetime_unique_compares_instants(tmp_path: Path) -> None:
    values = [
        "2024-01-01T24:00:00",
        "2024-01-02T00:00:00",
        "2024-01-01T10:00:00Z",
        "2024-01-01T11:00:00+01:00",
        "2024-01-01T10:00:00",
    ]
    schema = one("datetime", constraints={"unique": True})
    # 24:00 is the next midnight; aware values equal by instant; a naive value equals no aware one.
    assert_both(
        tmp_path, column(values), schema, {("unique-error", 3, "a"), ("unique-error", 5, "a")}
    )


def test_time_24_and_offsets(tmp_path: Path) -> None:
    values = [
        "24:00:00",
        "00:00:00",
        "00:30:00+01:00",
        "23:30:00Z",
        "01:00:00+01:00",
        "00:00:00Z",
        "12:00",
        "24:00:01",
    ]
    schema = one("time", constraints={"unique": True})
    # Aware times compare without wrapping around midnight: 00:30+01:00 is not 23:30Z.
    expected = {
        ("unique-error", 3, "a"),
        ("unique-error", 7, "a"),
        ("type-error", 8, "a"),
        ("type-error", 9, "a"),
    }
    assert_both(tmp_path, column(values), schema, expected)


# ---- year, yearmonth


def test_year_checks_length_then_int(tmp_path: Path) -> None:
    values = ["2024", "0000", " 12 ", "+123", "1_23", "١٢٣٤", "-000"]
    bad = ["999", "10000", "20x4", "-123", "12 "]
    expected = {("type-error", 2 + len(values) + i, "a") for i in range(len(bad))}
    assert_both(tmp_path, column(values + bad), one("year"), expected)


def test_yearmonth_splits_on_dash(tmp_path: Path) -> None:
    values = ["2024-1", " 2024 - 01 ", "+2024-1_2", "0-1", "99999-12"]
    bad = ["2024-13", "2024-00", "2024-01-01", "202401", "-2024-01", "2024-"]
    schema = one("yearmonth", constraints={"minimum": "2024-01"})
    expected = {("constraint-error", 5, "a")} | {
        ("type-error", 2 + len(values) + i, "a") for i in range(len(bad))
    }
    assert_both(tmp_path, column(values + bad), schema, expected)


# ---- string constraints


def test_pattern_is_python_match_with_anchors(tmp_path: Path) -> None:
    # "^a|b$": an alternation is not wrapped, so "abc" matches its first branch; Python's $ also
    # matches before a final newline; \d is Unicode.
    assert_both(
        tmp_path,
        column(["abc", "xb", "b\n", "cb"]),
        one("string", constraints={"pattern": "a|b"}),
        {("constraint-error", 3, "a"), ("constraint-error", 5, "a")},
    )
    assert_both(
        tmp_path,
        column(["12", "١٢", "12\n", "12\n\n", "1a"]),
        one("string", constraints={"pattern": "\\d+"}),
        {("constraint-error", 5, "a"), ("constraint-error", 6, "a")},
    )


def test_lengths_count_code_points(tmp_path: Path) -> None:
    schema = one("string", constraints={"minLength": 2, "maxLength": 2})
    assert_both(
        tmp_path,
        column(["åä", "e\u0301", "😀", "abc"]),
        schema,
        {("constraint-error", 4, "a"), ("constraint-error", 5, "a")},
    )


def test_unsupported_patterns_fall_back() -> None:
    assert checks.supported(one("string", constraints={"pattern": "\\bword"})) is not None
    assert checks.supported(one("string", constraints={"pattern": "(?=a)a"})) is not None
    assert checks.supported(one("string", constraints={"pattern": "a\\Z"})) is not None
    assert checks.supported(one("string", constraints={"pattern": "[\\w-]+"})) is None


# ---- missing values and constraint order


def test_missing_values_skip_constraints_but_required(tmp_path: Path) -> None:
    schema = {
        "fields": [
            {"name": "a", "type": "integer", "constraints": {"required": True, "minimum": 5}},
            {"name": "b", "type": "integer", "missingValues": [], "constraints": {"minimum": 5}},
        ],
        "missingValues": ["NA", ""],
    }
    rows = [["a", "b"], ["NA", "7"], ["", ""], ["x", "1"], ["3", "NA"]]
    # Row 3: b has no missing values, so "" is a type error; a type error skips constraints.
    expected = {
        ("constraint-error", 2, "a"),
        ("constraint-error", 3, "a"),
        ("type-error", 3, "b"),
        ("type-error", 4, "a"),
        ("constraint-error", 4, "b"),
        ("constraint-error", 5, "a"),
        ("type-error", 5, "b"),
    }
    assert_both(tmp_path, rows, schema, expected)


# ---- keys


def test_primary_key_is_not_required_but_never_all_none(tmp_path: Path) -> None:
    schema = {
        "fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}],
        "primaryKey": ["a", "b"],
    }
    rows = [["a", "b"], ["", "x"], ["", "x"], ["", ""], ["1", ""], ["1", ""], ["z", "x"]]
    # (None, "x") twice; all None; (1, None) twice; "z" is a type error, so None: (None, "x") again.
    expected = {
        ("primary-key", 3, None),
        ("blank-row", 4, None),
        ("primary-key", 4, None),
        ("primary-key", 6, None),
        ("type-error", 7, "a"),
        ("primary-key", 7, None),
    }
    verdict = assert_both(tmp_path, rows, schema, expected)
    assert verdict.counts["primary-key"] == 4


# ---- rows and header


def test_blank_rows_and_ragged_rows(tmp_path: Path) -> None:
    schema = {
        "fields": [
            {"name": "a", "type": "integer"},
            {"name": "b", "type": "string", "constraints": {"required": True}},
        ],
        "missingValues": ["", "NA"],
    }
    data = b"a,b\r\n1,x\r\n\r\n2\r\n3,y,z\r\n,,q\r\nNA,NA\r\n,\r\n"
    # An empty line, ",,q" (blank fields: the extra cell is not reported) and "NA,NA" are blank
    # rows; "2" misses b (required: a constraint error too).
    expected = {
        ("blank-row", 3, None),
        ("constraint-error", 4, "b"),
        ("missing-cell", 4, "b"),
        ("extra-cell", 5, None),
        ("blank-row", 6, None),
        ("blank-row", 7, None),
        ("blank-row", 8, None),
    }
    assert_both(tmp_path, data, schema, expected)


def test_header_labels(tmp_path: Path) -> None:
    schema = {"fields": [{"name": n, "type": "string"} for n in ("a", "b", "c", "d")]}
    assert_both(
        tmp_path,
        [["a", "a", " c ", ""], ["1", "2", "3", "4"]],
        schema,
        {("duplicate-label", None, "b"), ("blank-label", None, "d")},
    )
    assert_both(
        tmp_path,
        [["a", "b", "x", "d", "e"], ["1", "2", "3", "4"]],
        schema,
        {("incorrect-label", None, "c"), ("extra-label", None, None), ("missing-cell", 2, "e")},
    )
    assert_both(
        tmp_path,
        [["a", "b"], ["1", "2", "3", "4"]],
        schema,
        {("missing-label", None, "c"), ("missing-label", None, "d"), ("extra-cell", 2, None)},
    )


def test_empty_first_line_means_no_header(tmp_path: Path) -> None:
    schema = {"fields": [{"name": "a", "type": "integer"}]}
    assert_both(tmp_path, b"\r\nx\r\n1\r\n", schema, {("type-error", 2, "a")})


def test_quoted_newlines_and_bom(tmp_path: Path) -> None:
    schema = {
        "fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}],
        "primaryKey": ["a"],
    }
    data = b'\xef\xbb\xbfa,b\r\n1,"x\r\n\r\ny"\r\n\r\n1,"a,""b"""\r\n'
    assert_both(
        tmp_path,
        data,
        schema,
        {("blank-row", 3, None), ("primary-key", 3, None), ("primary-key", 4, None)},
    )


def test_mixed_line_ends_are_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"a\r\n1\n2\r\n")
    with connect() as con, pytest.raises(checks.Unsupported):
        checks.validate_csv(con, path, one("integer"))


# ---- bounded reports


def test_reports_list_the_first_of_each_type_and_count_all(tmp_path: Path) -> None:
    rows = [["a", "b"]] + [
        [str(i) if i % 3 else "x", "bad" if i % 2 else "1"] for i in range(1, 2001)
    ]
    path = tmp_path / "many.csv"
    path.write_bytes(csv_text(rows))
    schema = {"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]}
    with connect() as con:
        verdict = checks.validate_csv(con, path, schema, limit=5)
    assert verdict.counts == {"type-error": 666 + 1000}
    assert [(e.row, e.field) for e in verdict.errors] == [
        (2, "b"),
        (4, "a"),
        (4, "b"),
        (6, "b"),
        (7, "a"),
    ]
    assert verdict.rows == 2000 and not verdict.valid


def test_each_type_has_its_own_limit(tmp_path: Path) -> None:
    # Many constraint errors and extra cells come first: type errors and missing cells are
    # still listed.
    rows = [["a", "b"]] + [["-1", "x", "extra"]] * 50 + [["x"]] * 3
    path = tmp_path / "mixed.csv"
    path.write_bytes(csv_text(rows))
    schema = {
        "fields": [
            {"name": "a", "type": "integer", "constraints": {"minimum": 0}},
            {"name": "b", "type": "string"},
        ]
    }
    with connect() as con:
        verdict = checks.validate_csv(con, path, schema, limit=2)
    assert verdict.counts == {
        "constraint-error": 50,
        "extra-cell": 50,
        "type-error": 3,
        "missing-cell": 3,
    }
    assert [(e.type, e.row) for e in verdict.errors] == [
        ("constraint-error", 2), ("extra-cell", 2), ("constraint-error", 3), ("extra-cell", 3),
        ("type-error", 52), ("missing-cell", 52), ("type-error", 53), ("missing-cell", 53),
    ]  # fmt: skip


def test_only_exotic_cells_go_through_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ordinary cells, valid or not, are read by SQL alone; the UDF sees only the cells that
    fail the ASCII pre-check (here 3 of 6,000)."""
    seen: list[str] = []
    reader = udf._python_reader

    def counting(spec: str) -> Any:
        read = reader(spec)

        def wrapped(cell: str) -> Any:
            seen.append(cell)
            return read(cell)

        return wrapped

    monkeypatch.setattr(udf, "_python_reader", counting)
    kinds = [
        "integer",
        "number",
        "boolean",
        "date",
        "datetime",
        "time",
        "year",
        "yearmonth",
        "string",
    ]
    ordinary = [
        "12",
        "-3.5",
        "true",
        "2024-02-29",
        "2024-01-01T10:00:00Z",
        "10:00:00",
        "2024",
        "2024-01",
        "text",
    ]
    broken = ["1.5", "abc", "yes", "2023-02-29", "2024-01-01", "25:00:00", "24", "2024-13", ""]
    rows = [[f"f{i}" for i in range(len(kinds))]]
    rows += [ordinary if n % 2 else broken for n in range(666)]
    rows += [
        [
            "١٢",
            "1_000",
            "true",
            "٢٠٢٤-01-01",
            "2024-01-01T10:00:00",
            "10:00:00",
            "2024",
            "2024-01",
            "x",
        ]
    ]
    path = tmp_path / "ordinary.csv"
    path.write_bytes(csv_text(rows))
    schema = {"fields": [{"name": f"f{i}", "type": kind} for i, kind in enumerate(kinds)]}
    with connect() as con:
        verdict = checks.validate_csv(con, path, schema)
    assert sorted(seen) == sorted(["١٢", "1_000", "٢٠٢٤-01-01"])
    assert verdict.counts["type-error"] == 333 * 8


# ---- check_table, check_foreign_keys, typed_sql


def test_check_table_reads_null_as_absent() -> None:
    schema = {
        "fields": [
            {"name": "a", "type": "integer", "constraints": {"required": True}},
            {"name": "b", "type": "string"},
        ],
        "primaryKey": ["a"],
    }
    with connect() as con:
        con.execute(
            "CREATE TABLE t AS SELECT * FROM (VALUES (2, '1', 'x'), (3, NULL, NULL), (4, '01', ''), (5, 'y', 'z')) v(__row, a, b)"
        )
        verdict = checks.check_table(con, "t", "t", schema)
    assert {(e.type, e.row, e.field) for e in verdict.errors} == {
        ("blank-row", 3, None), ("primary-key", 3, None), ("primary-key", 4, None), ("type-error", 5, "a"), ("primary-key", 5, None),
    }  # fmt: skip


def test_foreign_keys_compare_as_python(tmp_path: Path) -> None:
    from frictionless import Package

    ref = {
        "$schema": V2,
        "fields": [{"name": "id", "type": "number"}, {"name": "code", "type": "string"}],
    }
    target = {
        "$schema": V2,
        "fields": [
            {"name": "ref", "type": "integer"},
            {"name": "code", "type": "integer"},
            {"name": "up", "type": "integer"},
        ],
        "foreignKeys": [
            {"fields": "ref", "reference": {"resource": "ref", "fields": "id"}},
            {"fields": "code", "reference": {"resource": "ref", "fields": "code"}},
            {"fields": "up", "reference": {"resource": "", "fields": "ref"}},
        ],
    }
    (tmp_path / "ref.csv").write_bytes(
        csv_text([["id", "code"], ["1.0", "1"], ["NaN", "2"], ["", ""], ["1e2", "x"]])
    )
    (tmp_path / "target.csv").write_bytes(
        csv_text(
            [["ref", "code", "up"], ["1", "", "1"], ["100", "1", ""], ["2", "", "7"], ["", "", ""]]
        )
    )
    # 1 == Decimal("1.0") and 100 == Decimal("1E+2"); an integer never equals a string; "up"
    # refers to the resource itself.
    expected = {("foreign-key", 3, None), ("foreign-key", 4, None), ("blank-row", 5, None)}
    package = Package.from_descriptor(
        {
            "$schema": PACKAGE_V2,
            "resources": [
                resource(tmp_path / "ref.csv", ref, "ref").to_descriptor(),
                resource(tmp_path / "target.csv", target, "target").to_descriptor(),
            ],
        },
        basepath=str(tmp_path),
    )
    report = package.validate(limit_errors=0)
    found = {
        task.name: {
            (e.type, getattr(e, "row_number", None), getattr(e, "field_name", None) or None)
            for e in task.errors
        }
        for task in report.tasks
    }
    assert found == {"ref": {("blank-row", 4, None)}, "target": expected}
    with connect() as con:
        verdicts = checks.validate_package_csv(
            con, [("ref", tmp_path / "ref.csv", ref), ("target", tmp_path / "target.csv", target)]
        )
        assert {
            name: {(e.type, e.row, e.field) for e in v.errors} for name, v in verdicts.items()
        } == found
        relations = {
            "ref": (
                "(SELECT * FROM (VALUES (2, '1.0', '1'), (3, 'NaN', '2')) v(__row, id, code))",
                ref,
            ),
            "target": (
                "(SELECT * FROM (VALUES (2, '1', NULL, '1'), (3, 'NaN', '1', NULL)) v(__row, ref, code, up))",
                target,
            ),
        }
        only_keys = checks.check_foreign_keys(con, relations)
    assert {(e.type, e.row) for e in only_keys["target"].errors} == {("foreign-key", 3)}
    assert only_keys["ref"].valid


@pytest.mark.parametrize(
    ("field", "cell", "value"),
    [
        ({"type": "integer"}, " ١٢ ", 12),
        ({"type": "integer"}, "NA", None),
        ({"type": "number"}, "1e3", 1000.0),
        ({"type": "number", "decimalChar": ","}, "2,5", 2.5),
        ({"type": "boolean", "trueValues": ["ja"]}, "ja", True),
        ({"type": "date"}, "2024-2-9", date(2024, 2, 9)),
        ({"type": "date", "format": "%d/%m/%Y"}, "09/02/2024", date(2024, 2, 9)),
        ({"type": "datetime"}, "2024-01-01T24:00:00+01:00", datetime(2024, 1, 1, 23, 0)),
        ({"type": "datetime"}, "2024-W01-1T10:00:00", datetime(2024, 1, 1, 10, 0)),
        ({"type": "time"}, "12:30:00.5", time(12, 30, 0, 500000)),
        ({"type": "year"}, "0012", 12),
        ({"type": "yearmonth"}, "2024-1", "2024-01"),
        ({"type": "string"}, "", None),
        ({"type": "string", "missingValues": []}, "", ""),
    ],
)
def test_typed_sql(field: dict[str, Any], cell: str, value: Any) -> None:
    with connect() as con:
        checks.register_udf(con)  # exotic cells (here Unicode digits, week dates) need it
        typed = checks.typed_sql({"name": "a", **field}, "x")
        got = con.execute(f"SELECT {typed} FROM (SELECT ? AS x)", [cell]).fetchall()[0][0]
    assert got == value


def test_typed_sql_schema_missing_values() -> None:
    schema = {"fields": [{"name": "a", "type": "string"}], "missingValues": ["NA"]}
    with connect() as con:
        typed = checks.typed_sql(schema["fields"][0], "x", schema)
        got = con.execute(f"SELECT {typed} FROM (SELECT unnest(['NA', '', 'x']) AS x)").fetchall()
    assert got == [(None,), ("",), ("x",)]


def test_typed_sql_number_specials() -> None:
    with connect() as con:
        typed = checks.typed_sql({"name": "a", "type": "number"}, "x")
        got = con.execute(f"SELECT {typed} FROM (SELECT ? AS x)", ["NaN"]).fetchall()[0][0]
    assert math.isnan(got)


def test_supported_names_the_first_unsupported_feature() -> None:
    assert checks.supported(one("integer")) is None
    assert "geopoint" in (checks.supported(one("geopoint")) or "")
    assert "email" in (checks.supported(one("string", format="email")) or "")
    assert "any" in (checks.supported(one("date", format="any")) or "")
    assert "%b" in (checks.supported(one("date", format="%d %b %Y")) or "")
    assert "frictionless rejects" in (
        checks.supported(one("integer", constraints={"pattern": "1"})) or ""
    )
    # frictionless would crash comparing cells with a bound it reads as None:
    assert checks.supported(one("integer", constraints={"minimum": 1.5})) is not None
