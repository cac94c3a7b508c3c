"""Schemas the fast path does not cover fall back to frictionless and give its verdict, never
an engine exception (issue 19, item 7): here date/time formats of literal text alone, which
DuckDB's strptime refuses to bind and Python's reads as 1900-01-01."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opendata.engine import checks
from opendata.validate import validate_tables
from tests.test_hostile_input import scratch, staged_table

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
