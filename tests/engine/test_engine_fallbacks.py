"""Schemas the fast path does not cover fall back to frictionless and give its verdict, never
an engine exception (issue 19, item 7): here date/time formats of literal text alone, which
DuckDB's strptime refuses to bind and Python's reads as 1900-01-01."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opendata.engine import checks
from opendata.validate import validate_tables
from tests.collect.test_hostile_input import csv_home, scratch, staged_table
from tests.conftest import run_cli

CELLS = ["2020", "x", "%", "year", "", "1900-01-01"]


@pytest.mark.parametrize("fmt", ["2020", "year", "%%", "-"])
@pytest.mark.parametrize("kind", ["date", "datetime", "time"])
def test_a_format_without_a_directive_gets_frictionless_verdict(fmt: str, kind: str) -> None:
    from frictionless import Resource, Schema

    fields = [{"name": "d", "type": kind, "format": fmt}]
    assert checks.supported({"fields": fields}) is not None  # the fallback decides
    with scratch() as folder:
        table = staged_table(folder, fields, [[cell] for cell in CELLS])
        ours = sorted((p.row, p.code) for p in validate_tables("prov", [table], folder).problems)
        path = folder / "data.csv"
        path.write_text("d\n" + "".join(json.dumps(c) + "\n" for c in CELLS), "utf-8")
        report: Any = Resource(
            path=path.name, basepath=str(folder), schema=Schema.from_descriptor({"fields": fields})
        ).validate()
        assert ours == sorted((e.row_number, e.type) for e in report.tasks[0].errors)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("subset", "fieldsMatch: 'subset' lets a table have columns the schema does not name"),
        ("superset", "fieldsMatch: 'superset' lets a table lack some of the schema's fields"),
        ("partial", "fieldsMatch: 'partial' lets a table lack some of the schema's fields"),
        ("bogus", "fieldsMatch: 'bogus' is not one of 'exact', 'equal', 'subset'"),
        (3, "fieldsMatch: 3 is not one of 'exact', 'equal', 'subset'"),
    ],
)
def test_fields_match_is_honoured_or_refused_in_one_sentence(
    tmp_path: Path, value: Any, expected: str
) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n1,a,1.5\n")
    schema = json.loads((home / "schemas/prov.json").read_text("utf-8"))
    schema["fieldsMatch"] = value
    (home / "schemas/prov.json").write_text(json.dumps(schema), "utf-8")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["exact", "equal"])
def test_fields_match_by_title_is_accepted(tmp_path: Path, value: str) -> None:
    home = csv_home(tmp_path, "varde,id,namn\n1.5,1,a\n")
    schema = json.loads((home / "schemas/prov.json").read_text("utf-8"))
    schema["fieldsMatch"] = value
    (home / "schemas/prov.json").write_text(json.dumps(schema), "utf-8")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_header_title_with_a_line_break_fills_the_field_of_that_name(tmp_path: Path) -> None:
    """Issue 19, item 7: a title with a line break in its cell is the field with that name (the
    title's layout whitespace is folded on both sides), not a column the schema lacks."""
    fields = [{"name": "id", "type": "integer"}, {"name": "antal\nbarn", "type": "integer"}]
    home = csv_home(tmp_path, 'id,"antal\nbarn"\n1,5\n2,x\n', fields=fields)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == "prov: invalid (1 problem; data 2 rows)"
    assert "row 3, column 'antal barn': 'x' is not a whole number" in result.stdout
