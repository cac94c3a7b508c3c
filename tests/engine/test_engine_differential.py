"""Differential tests: the engine's SQL checks against frictionless itself, on generated tables.

Hypothesis makes Table Schemas (every supported type with random constraints, missingValues,
true/false values, bareNumber, decimal and group characters, date/time formats, primary and
foreign keys) and CSV files (valid and broken: edge values, blank rows, ragged rows, bad headers);
frictionless validates each file with the explicit dialect (resource declared datapackage v2, so
that it applies exclusiveMinimum/Maximum), and the SET of (type, row, field, note) it reports must
be exactly ours (the notes of extra cells and labels aside: ours say where they are). Also against
Python itself: typed_sql's values, pattern translation (re) and the CSV line scan (csv).

Excluded on purpose (frictionless crashes there, see opendata.engine.checks): sNaN in a number
field with bounds, enum or keys, datetime/time bounds meeting cells of the other awareness, and
bounds frictionless reads as None (supported() reports those schemas).

A long bug hunt: ENGINE_DIFFERENTIAL_EXAMPLES=3000 pytest tests/engine/test_engine_differential.py
"""

from __future__ import annotations

import csv
import io
import os
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from opendata.engine import checks, csvfile
from opendata.engine.db import connect

V2 = "https://datapackage.org/profiles/2.0/tableschema.json"
RESOURCE_V2 = "https://datapackage.org/profiles/2.0/dataresource.json"
PACKAGE_V2 = "https://datapackage.org/profiles/2.0/datapackage.json"
DIALECT = {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "header": True}

# ---- cell pools: valid edge values and broken ones, per type

GARBAGE = ["", " ", "NA", "-", "abc", "None", "åäö", "١٢٣", "\u3000", "x,y", 'q"t', "1 2", "\n"]
INTEGERS = [
    "0", "1", "01", "-0", "+7", " 3 ", "\t4\n", "1.0", "1e3", "1_000", "1__0", "_1",
    "١٢", "٣", "12\u3000", "\xa05", "99999999999999999999", "-170141183460469231731687303715884105729",
    "2", "3", "-5", "10", "$5", "5%", "€ -3", "1,000", "0x1", "",
]  # fmt: skip
NUMBERS = [
    "0", "1", "1.0", "1.", ".5", "-0", "-0.0", "1e3", "1E+3", "1000", "NaN", "nan", "-nan",
    "INF", "-Infinity", "inf", "1_000.5", "1,5", "1.234,5", "1 234,5", "1'000", "١٫٥", "١٢",
    " 2.5 ", "0.1", "0.10000000000000001", "0.1000000000000000000001", "12345678901234567",
    "123456789012345678", "1e400", "-1e-400", "1e999999999999999999", "NaN12", "2.50",
    "3", "$ 4.5", "4.5 kr", "1e", "--1", "", "0.3", "99.99", "-7.25",
]  # fmt: skip
BOOLEANS = ["true", "false", "True", "FALSE", "1", "0", "yes", "no", "Y", "N", " true", "", "t"]
DATES = [
    "2024-02-29", "2023-02-29", "2024-2-9", "2024-02- 9", "2024-12-31", "2000-01-01",
    "0001-01-01", "0000-01-01", "2024-13-01", "2024-00-10", "2024-01-32", "24-01-01",
    "2024-01-01 ", "٢٠٢٤-01-01", "2024/01/01", "01/02/2024", "29/02/2023", "20240229",
    "2024-1-1", "1999-12-31", "2021-06-15",
]  # fmt: skip
DATETIMES = [
    "2024-01-01T00:00:00", "2024-01-01T24:00:00", "2024-12-31T24:00:00", "9999-12-31T24:00:00",
    "2024-01-01T23:59:59.999999", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00+01:00",
    "2024-01-01T10:00:00+0000", "2024-01-01T10:00:00-05", "2024-01-01 10:00:00",
    "2024-01-01T10:00:60", "2024-01-01T10:60:00", "2024-02-30T10:00:00", "2024-01-01T10:00",
    "2024-01-01T10:00:00.5", "2024-01-01T10:00:00,25", "2024-01-01T10:00:00+24:00",
    "2024-01-01T10:00:00+01:3", "2024-W01-1T10:00:00", "20240101T10:00:00", "2024-001T10:00:00",
    "2024-01-01T10:00:00 ", "2024-01-01T1:00:00", "0000-01-01T00:00:00",
    "2024-01-01T10:00:00+00:00", "2024-01-01X10:00:00",
]  # fmt: skip
TIMES = [
    "00:00:00", "24:00:00", "23:59:59", "12:30:00.123", "12:30:00Z", "13:30:00+01:00",
    "12:30:00-0100", "24:00:01", "12:60:00", "12:00:60", "1:00:00", "12:00", "12:00:00 ",
    "12:00:00,5", "00:30:00+01:00", "23:30:00Z", "120000", "12:00:00+25",
]  # fmt: skip
YEARS = ["2024", "0000", "9999", "999", "10000", "+123", " 12 ", "-000", "1_23", "١٢٣٤", "20x4"]
YEARMONTHS = [
    "2024-01", "2024-1", "2024-12", "2024-13", "2024-00", "0-1", " 2024 - 01 ", "+2024-01",
    "2024-01-01", "202401", "١٢٣٤-٠٥", "2024_0-1_1", "99999-12", "-2024-01",
]  # fmt: skip
STRINGS = ["a", "ab", "abc", "B", "Z9", "åäö", "x\n", "\n", "", " a", "12", "a,b", "ÄÖ", "a b"]
POOLS: dict[str, list[str]] = {
    "string": STRINGS,
    "integer": INTEGERS,
    "number": NUMBERS,
    "boolean": BOOLEANS,
    "date": DATES,
    "datetime": DATETIMES,
    "time": TIMES,
    "year": YEARS,
    "yearmonth": YEARMONTHS,
}
PATTERNS = [
    "[a-z]+", "\\d{2,3}", "a|b", "x.*", "[^,]*", "\\w+", "\\s*\\S+", "(ab)+", "[A-Z][a-z]*|\\d",
    "\\D+", "[\\d\\s]+", "a{,2}", "å.", ".", "\\W?[a-z]",
]  # fmt: skip


@st.composite
def fields(draw: Any, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(POOLS)))
    field: dict[str, Any] = {"name": name, "type": kind}
    constraints: dict[str, Any] = {}
    if draw(st.booleans()):
        constraints["required"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        constraints["unique"] = True
    if kind in ("integer", "number") and draw(st.booleans()):
        field["bareNumber"] = draw(st.booleans())
    if kind == "number":
        separators = draw(
            st.sampled_from(
                [None, (".", ""), (",", ""), (",", "."), (".", " "), (".", "'"), (".", ",")]
            )
        )
        if separators:
            field["decimalChar"], field["groupChar"] = separators
    if kind == "boolean" and draw(st.booleans()):
        field["trueValues"] = draw(st.sampled_from([["yes", "Y"], ["1"], ["true", "yes", "no"]]))
        field["falseValues"] = draw(st.sampled_from([["no", "N"], ["0"], ["false"]]))
    if kind == "date":
        field["format"] = draw(st.sampled_from(["default", "default", "%d/%m/%Y", "%Y%m%d"]))
    if kind == "datetime" and draw(st.integers(0, 3)) == 0:
        field["format"] = "%Y-%m-%d %H:%M"
    if kind == "time" and draw(st.integers(0, 3)) == 0:
        field["format"] = "%H:%M"
    if kind == "string" and draw(st.integers(0, 3)) == 0:
        del field["type"]  # a field without a type is a string
    if kind == "string":
        if draw(st.booleans()):
            constraints["minLength"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            constraints["maxLength"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            constraints["pattern"] = draw(st.sampled_from(PATTERNS))
    bounds = {
        "integer": st.one_of(st.integers(-10, 10), st.sampled_from(["3", " 4 "])),
        "number": st.one_of(
            st.integers(-10, 10),
            st.sampled_from(
                [0.1, 2.5, -1.5, "1.5", "1e20", "0.1000000000000000000001", "Infinity", "-inf"]
            ),
        ),
        "date": st.sampled_from(["2000-01-01", "2024-02-29", "2023-01-01"]),
        "datetime": st.sampled_from(["2024-01-01T10:00:00", "2020-06-01T00:00:00"]),
        "time": st.sampled_from(["12:00:00", "00:00:00"]),
        "year": st.integers(0, 9999),
        "yearmonth": st.sampled_from(["2024-01", "2000-12", "0-5"]),
    }
    if kind in bounds:
        for name_ in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if draw(st.integers(0, 3)) == 0:
                value = draw(bounds[kind])
                if field.get("format", "default") != "default":
                    continue  # the pools' bounds are in the default formats
                processed = {"bareNumber", "decimalChar", "groupChar"} & set(field)
                if kind == "number" and isinstance(value, str) and processed:
                    continue  # text bounds go through the number's processor: often None
                if (
                    kind == "integer"
                    and isinstance(value, str)
                    and field.get("bareNumber") is False
                ):
                    continue
                constraints[name_] = value
    if draw(st.integers(0, 3)) == 0:
        pool = POOLS[kind]
        if kind == "date" and field.get("format", "default") != "default":
            pool = ["01/02/2024", "29/02/2024", "20240101"]
        values: list[Any] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
        if kind == "integer" and draw(st.booleans()):
            values.append(draw(st.integers(-3, 3)))
        if kind == "boolean":
            values = draw(
                st.lists(st.sampled_from([True, False, "true", "no"]), min_size=1, max_size=2)
            )
        constraints["enum"] = values
    if draw(st.integers(0, 4)) == 0:
        field["missingValues"] = draw(st.sampled_from([[], ["-"], ["", "NA"], ["0"]]))
    if constraints:
        field["constraints"] = constraints
    return field


def bounded(field: dict[str, Any]) -> bool:
    constraints = field.get("constraints", {})
    return any(
        k in constraints for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    )


def cell_pool(field: dict[str, Any]) -> list[str]:
    """Cells for a field; none that makes frictionless crash (sNaN where Decimal signals, an
    offset-aware cell against naive bounds)."""
    kind = field.get("type", "string")
    pool = list(POOLS[kind])
    if kind == "date" and field.get("format", "default") == "%d/%m/%Y":
        pool += ["01/02/2024", "29/02/2024", "29/02/2023", "1/2/2024", " 1/02/2024", "31/04/2024"]
    if kind == "date" and field.get("format", "default") == "%Y%m%d":
        pool += ["20240101", "2024011", "2024111", "20241301", "19000229"]
    if kind == "datetime" and field.get("format", "default") != "default":
        pool += [
            "2024-01-01 10:00",
            "2024-1-1 1:5",
            "2024-01-01 24:00",
            "2024-01-01T10:00",
            "2024-02-30 10:00",
        ]
    if kind == "time" and field.get("format", "default") != "default":
        pool += ["10:00", "1:5", "24:00", "10:00:00", "23:59", " 10:00"]
    constraints = field.get("constraints", {})
    if kind == "number" and not (bounded(field) or "enum" in constraints or field.get("keyed")):
        pool.append("sNaN")
    pool += [v for v in constraints.get("enum", []) if isinstance(v, str)]
    if kind in ("datetime", "time") and bounded(field):
        offset_at = 19 if kind == "datetime" else 8
        pool = [v for v in pool if not any(z in v[offset_at:] for z in "Zz+-")]
    return pool + GARBAGE


@st.composite
def schemas(draw: Any, prefix: str = "f", max_fields: int = 4) -> dict[str, Any]:
    count = draw(st.integers(1, max_fields))
    names = [f"{prefix}{i}" for i in range(count)]
    schema: dict[str, Any] = {"$schema": V2, "fields": [draw(fields(n)) for n in names]}
    if draw(st.booleans()):
        size = draw(st.integers(1, min(2, count)))
        schema["primaryKey"] = draw(st.permutations(names))[:size]
    if draw(st.integers(0, 3)) == 0:
        schema["missingValues"] = draw(
            st.sampled_from(
                [["", "NA"], ["-"], [], [{"value": "NA", "label": "n/a"}, {"value": ""}]]
            )
        )
    keyed = set(schema.get("primaryKey", []))
    for field in schema["fields"]:
        if field["name"] in keyed or field.get("constraints", {}).get("unique"):
            field["keyed"] = True
    return schema


def clean(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without the test's private marks."""
    out = dict(schema)
    out["fields"] = [{k: v for k, v in f.items() if k != "keyed"} for f in schema["fields"]]
    return out


@st.composite
def tables(draw: Any, schema: dict[str, Any], max_rows: int = 12) -> list[list[str]]:
    fields_ = schema["fields"]
    labels = [f["name"] for f in fields_]
    mode = draw(st.integers(0, 9))
    if mode == 1:
        labels = [*labels, draw(st.sampled_from(["extra", "", labels[0]]))]
    elif mode == 2 and len(labels) > 1:
        labels = labels[:-1]
    elif mode == 4 and draw(st.booleans()):
        labels = []  # an empty first line: frictionless then reads no header at all
    elif mode == 3:
        index = draw(st.integers(0, len(labels) - 1))
        labels[index] = draw(
            st.sampled_from(["", labels[0], "Wrong", labels[index].upper(), f"{labels[index]} "])
        )
    rows: list[list[str]] = [labels]
    pools = [cell_pool(f) for f in fields_]
    count = draw(st.integers(0, max_rows))
    for _ in range(count):
        shape = draw(st.integers(0, 14))
        if shape == 0:
            rows.append([])
        elif shape == 1:
            rows.append([""] * len(fields_))
        elif shape == 2 and rows[1:]:
            rows.append(list(draw(st.sampled_from(rows[1:]))))  # a duplicate row
        else:
            row = [draw(st.sampled_from(pool)) for pool in pools]
            if shape == 3:
                row = row[: draw(st.integers(0, max(0, len(row) - 1)))]
            elif shape == 4:
                row = [*row, draw(st.sampled_from(["", "x", "NA"]))]
            rows.append(row)
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


# Our notes of these say where the extra cell or label is; frictionless's are empty.
POSITIONAL = ("extra-cell", "extra-label")


def frictionless_key(error: Any) -> tuple[str, int | None, str | None, str]:
    field = getattr(error, "field_name", None) or None
    note = "" if error.type in POSITIONAL else error.note
    return (error.type, getattr(error, "row_number", None), field, note)


def frictionless_errors(report: Any) -> set[tuple[str, int | None, str | None, str]]:
    assert not report.errors, report.errors
    return {frictionless_key(error) for task in report.tasks for error in task.errors}


def ours(verdict: checks.TableVerdict) -> set[tuple[str, int | None, str | None, str]]:
    """(type, row, field, note) of our errors: the notes are frictionless's too."""
    return {
        (e.type, e.row, e.field, "" if e.type in POSITIONAL else e.note) for e in verdict.errors
    }


def frictionless_resource(path: Path, schema: dict[str, Any], name: str = "data") -> Any:
    """frictionless's Resource for the file: UTF-8, the explicit dialect, and datapackage v2
    (which exclusiveMinimum/exclusiveMaximum and object missingValues need)."""
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


def sniffer_skips_spaces(path: Path) -> bool:
    sample = "".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:100])
    try:
        return bool(csv.Sniffer().sniff(sample, ",").skipinitialspace)
    except csv.Error:
        return False


def compare_table(tmp: Path, schema: dict[str, Any], rows: list[list[str]]) -> None:
    schema = clean(schema)
    # Unsupported schemas are those frictionless rejects or crashes on (bounds it reads as None).
    assume(checks.supported(schema) is None)
    path = tmp / "data.csv"
    write_csv(path, rows)
    expected = frictionless_errors(frictionless_resource(path, schema).validate(limit_errors=0))
    with connect() as con:
        try:
            verdict = checks.validate_csv(con, path, schema, limit=10**6)
        except checks.Unsupported as error:
            assert "skipinitialspace" in str(error) and sniffer_skips_spaces(path)
            return
    got = ours(verdict)
    assert got == expected, (
        f"\nschema={schema}\nrows={rows}\nonly frictionless={sorted(expected - got, key=str)}"
        f"\nonly ours={sorted(got - expected, key=str)}"
    )
    assert sum(verdict.counts.values()) == len(verdict.errors)


# More examples for a long bug hunt: ENGINE_DIFFERENTIAL_EXAMPLES=5000 pytest ...
EXAMPLES = int(os.environ.get("ENGINE_DIFFERENTIAL_EXAMPLES", "160"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    report_multiple_bugs=False,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@SETTINGS
@given(data=st.data())
def test_tables_match_frictionless(tmp_path: Path, data: Any) -> None:
    schema = data.draw(schemas())
    rows = data.draw(tables(schema))
    compare_table(tmp_path, schema, rows)


@settings(
    max_examples=max(1, EXAMPLES * 3 // 8),
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_packages_match_frictionless(tmp_path: Path, data: Any) -> None:
    from frictionless import Package

    reference = data.draw(schemas(prefix="r", max_fields=2))
    target = data.draw(schemas(prefix="t", max_fields=3))
    size = len(reference["fields"])
    key = data.draw(st.permutations([f["name"] for f in target["fields"]]))[:size]
    assume(len(key) == size)
    self_ref = data.draw(st.integers(0, 4)) == 0
    if self_ref:
        ref_fields = data.draw(st.permutations([f["name"] for f in target["fields"]]))[:size]
        target["foreignKeys"] = [
            {"fields": key, "reference": {"resource": "", "fields": ref_fields}}
        ]
    else:
        ref_fields = [f["name"] for f in reference["fields"]]
        target["foreignKeys"] = [
            {"fields": key, "reference": {"resource": "ref", "fields": ref_fields}}
        ]
    for field in reference["fields"] + target["fields"]:
        field["keyed"] = True  # no sNaN in key fields
    ref_rows = data.draw(tables(reference))
    target_rows = data.draw(tables(target))
    # Target rows reuse reference values so that some keys match (values the target field
    # could hold anyway: no offset-aware datetime against naive bounds, which crashes
    # frictionless).
    for row in target_rows[1:]:
        if ref_rows[1:] and row and data.draw(st.booleans()):
            source = data.draw(st.sampled_from(ref_rows[1:]))
            for position, name in enumerate(key):
                index = [f["name"] for f in target["fields"]].index(name)
                if index < len(row) and position < len(source):
                    field = target["fields"][index]
                    kind = field.get("type", "string")
                    if not (kind in ("datetime", "time") and bounded(field)) or source[
                        position
                    ] in cell_pool(field):
                        row[index] = source[position]
    reference, target = clean(reference), clean(target)
    assume(checks.supported(reference) is None and checks.supported(target) is None)
    write_csv(tmp_path / "ref.csv", ref_rows)
    write_csv(tmp_path / "target.csv", target_rows)
    package = Package.from_descriptor(
        {
            "$schema": PACKAGE_V2,
            "resources": [
                frictionless_resource(tmp_path / "ref.csv", reference, "ref").to_descriptor(),
                frictionless_resource(tmp_path / "target.csv", target, "target").to_descriptor(),
            ],
        },
        basepath=str(tmp_path),
    )
    report = package.validate(limit_errors=0)
    assert not report.errors, report.errors
    expected = {
        task.name: {frictionless_key(error) for error in task.errors} for task in report.tasks
    }
    with connect() as con:
        try:
            verdicts = checks.validate_package_csv(
                con,
                [
                    ("ref", tmp_path / "ref.csv", reference),
                    ("target", tmp_path / "target.csv", target),
                ],
                limit=10**6,
            )
        except checks.Unsupported as error:
            assert "skipinitialspace" in str(error)
            return
    for name, verdict in verdicts.items():
        assert ours(verdict) == expected[name], (
            f"\n{name}: ref={reference} target={target}\nref_rows={ref_rows}\ntarget_rows={target_rows}"
            f"\nonly frictionless={sorted(expected[name] - ours(verdict), key=str)}"
            f"\nonly ours={sorted(ours(verdict) - expected[name], key=str)}"
        )


def python_typed(kind: str, value: Any) -> Any:
    """What typed_sql promises for a value frictionless read (see its docstring)."""
    from datetime import UTC, datetime, time

    if value is None:
        return None
    if kind == "number":
        return float(value)
    if kind == "datetime" and value.utcoffset() is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if kind == "time" and value.utcoffset() is not None:
        moment = datetime.combine(datetime(2000, 1, 1), value).astimezone(UTC)
        return moment.replace(tzinfo=None).time()
    if kind == "time":
        return time(value.hour, value.minute, value.second, value.microsecond)
    if kind == "yearmonth":
        return f"{value.year:04d}-{value.month:02d}"
    return value


@settings(
    max_examples=max(1, EXAMPLES // 2), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(data=st.data())
def test_typed_sql_matches_frictionless_values(data: Any) -> None:
    """typed_sql reads every cell frictionless accepts as frictionless's value (converted as
    documented), and reads rejected cells as NULL."""
    import math

    from frictionless import Field

    field = data.draw(fields("a"))
    field.pop("constraints", None)
    field.pop("keyed", None)
    kind = field.get("type", "string")
    cells = data.draw(st.lists(st.sampled_from(cell_pool(field)), min_size=1, max_size=20))
    reader = Field.from_descriptor(field).create_cell_reader()
    expected = []
    for cell in cells:
        value, notes = reader(cell)
        if kind == "integer" and value is not None and not -(2**63) <= value < 2**63:
            continue  # beyond BIGINT: typed_sql raises rather than alter it
        if kind == "number" and cell.strip().lower().lstrip("+-") == "snan":
            continue
        expected.append((cell, None if notes else python_typed(kind, value)))
    assume(expected)
    with connect() as con:
        checks.register_udf(con)
        typed = checks.typed_sql(field, "cell")
        got = con.execute(
            f"SELECT {typed} FROM (SELECT unnest(?) AS cell, generate_subscripts(?, 1) AS i) ORDER BY i",
            [[c for c, _ in expected], [c for c, _ in expected]],
        ).fetchall()
    for (cell, want), (value,) in zip(expected, got, strict=True):
        if isinstance(want, float) and math.isnan(want):
            assert isinstance(value, float) and math.isnan(value), (field, cell, value)
        else:
            assert value == want, (field, cell, value, want)


PATTERN_TOKENS = [
    "a", "b", "å", "1", "١", ".", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "[a-c]", "[^a]", "[\\d\\s]",
    "[\\w.-]", "|", "(", ")", "(?:", "*", "+", "?", "{2}", "{,2}", "{1,}", "{,}", "*?", "\\.", "\\n", " ", "]", "{", "^", "$",
]  # fmt: skip
PATTERN_DB = connect()  # one connection for the many small pattern queries
TEXT_CHARS = [
    "a",
    "b",
    "c",
    "å",
    "1",
    "١",
    "٣",
    " ",
    "\u3000",
    "\n",
    ".",
    "-",
    "_",
    "x",
    "\xa0",
    "Ⅻ",
]


@settings(max_examples=max(1, EXAMPLES * 2), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    tokens=st.lists(st.sampled_from(PATTERN_TOKENS), max_size=6),
    texts=st.lists(
        st.lists(st.sampled_from(TEXT_CHARS), max_size=5).map("".join), min_size=1, max_size=8
    ),
)
def test_patterns_match_python_re(tokens: list[str], texts: list[str]) -> None:
    """A pattern constraint means Python's re.compile(f"^{pattern}$").match: the RE2
    translation agrees on every text, or the pattern is reported unsupported."""
    import re

    pattern = "".join(tokens)
    try:
        compiled = re.compile(f"^{pattern}$")
    except re.error:
        return
    try:
        translated = checks.re2_pattern(pattern)
    except checks.Inexpressible:
        return
    got = PATTERN_DB.execute("SELECT regexp_matches(unnest(?), ?)", [texts, translated]).fetchall()
    for text, (matched,) in zip(texts, got, strict=True):
        assert matched == bool(compiled.match(text)), (pattern, translated, text)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.sampled_from(["", "a", "b,c", 'q"', "x\ny", "\r", "\r\n", " "]), max_size=3),
        max_size=8,
    ),
    ending=st.sampled_from(["\r\n", "\n", "\r"]),
    bom=st.booleans(),
)
def test_line_scan_matches_python_csv(
    tmp_path_factory: Any, rows: list[list[str]], ending: str, bom: bool
) -> None:
    """The records Python's csv reader sees (with newline=""), the empty ones ([]) among them,
    as the line scan finds them without reading rows in Python."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=ending).writerows(rows)
    text = buffer.getvalue()
    path = tmp_path_factory.mktemp("scan") / "t.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    # csv.writer quotes only the characters of its line terminator: with "\n" a cell's "\r"
    # stays bare and may end a line, so a file can mix line ends. Which line ends end records:
    # the last line each record of Python's reader consumes.
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(iter(lines))
    records, ends = [], set()
    for record in reader:
        records.append(record)
        last = lines[reader.line_num - 1]
        ends.add(last[len(last.rstrip("\r\n")) :])
    scan = csvfile.scan_lines(path, 3 if bom else 0, count=True)
    assert scan.mixed == (len(ends - {""}) > 1)
    if scan.mixed:
        return
    assert scan.records == len(records)
    assert scan.empties == [i + 1 for i, record in enumerate(records) if record == []]


@pytest.mark.parametrize("key", [["id"], ["id", "part"]])
def test_primary_key_duplicates_far_apart(tmp_path: Path, key: list[str]) -> None:
    """300,000 rows (DuckDB reads them in parallel chunks): keys repeated 100,000+ rows apart,
    written differently ("007", " 7 "), type errors and blank rows in keys. frictionless and we
    report the same primary-key errors, each naming the same earlier row."""
    import random

    rng = random.Random(len(key))
    count = 300_000
    rows = [["id", "part", "value"]]
    for index in range(count):
        rows.append([str(index), "AB"[index % 2], string.ascii_letters[index % 52]])
    for _ in range(40):
        late = rng.randrange(200_000, count)
        early = rng.randrange(0, late - 100_000)
        spelled = rng.choice(["{}", "0{}", " {} ", "+{}"]).format(early)
        rows[late + 1] = [spelled, rows[early + 1][1], "dup"]
    for late in rng.sample(range(1, count), 10):
        rows[late + 1] = rng.choice([[], ["x", "A", "bad"], ["", "B", "none"]])
    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "part", "type": "string"},
            {"name": "value", "type": "string"},
        ],
        "primaryKey": key,
    }
    path = tmp_path / "big.csv"
    write_csv(path, rows)
    report = frictionless_resource(path, schema).validate(limit_errors=0)
    expected = frictionless_errors(report)
    with connect() as con:
        verdict = checks.validate_csv(con, path, schema, limit=10**6)
    assert ours(verdict) == expected
    assert verdict.counts["primary-key"] >= 40
    assert verdict.rows == count
