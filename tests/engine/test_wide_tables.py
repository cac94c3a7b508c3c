"""Tables of any width (issue 19, item 7): a thousand columns validate within the default
engine memory, a group of columns a pass; wider than the limit is one clear sentence, at once.

The oracle for the grouped check is the one-pass check of the same table (groups so large that
every column is in one), with the memory it needs: the same problems, rows, fields and counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata.engine import executor
from opendata.table_schemas import MAX_FIELDS
from opendata.validate import validate_tables
from tests.collect.test_hostile_input import csv_home, scratch, staged_table
from tests.conftest import run_cli

WIDTH = 30
FIELDS: list[dict[str, Any]] = [
    {"name": "id", "type": "integer"},
    *(
        {"name": f"c{i}", "type": ("number", "integer", "string", "date")[i % 4]}
        for i in range(1, WIDTH)
    ),
]
FIELDS[7]["constraints"] = {"unique": True}
FIELDS[20]["constraints"] = {"minimum": 0}
SCHEMA_KEY = ["id", "c25"]  # a primary key whose fields fall in different groups
GOOD = {"number": "1.5", "integer": "7", "string": "text", "date": "2024-01-31"}
BAD = {"number": ["x", "NaN", "1e-400"], "integer": ["1.5", "-3"], "string": ["=1+1"]}


def _cell(field: dict[str, Any], row: int, broken: str | None) -> str:
    if field["name"] == "id":
        return str(row)
    if broken is not None:
        return broken
    if field["name"] == "c7":
        return str(row)  # unique unless broken
    return GOOD[field["type"]]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(1, WIDTH - 1), st.sampled_from(range(3))),
        max_size=12,
    ),
    st.sets(st.integers(0, 5), max_size=2),
)
def test_a_wide_table_checked_a_group_at_a_time_gives_the_one_pass_verdict(
    breaks: list[tuple[int, int, int]], blank: set[int]
) -> None:
    rows = []
    broken = {(row, column): choice for row, column, choice in breaks}
    for row in range(6):
        cells = []
        for index, field in enumerate(FIELDS):
            choices = BAD.get(field["type"], [""]) if index else [""]
            wanted = broken.get((row, index))
            cells.append(
                _cell(field, row, None if wanted is None else choices[wanted % len(choices)])
            )
        if row in blank:
            cells = [""] * len(FIELDS)
        rows.append(cells)
    rows.append(list(rows[0]))  # the primary key and the unique field repeated
    with scratch() as folder:
        table = staged_table(folder, FIELDS, rows)
        table.schema["primaryKey"] = SCHEMA_KEY

        def verdict(columns_a_pass: int) -> Any:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(executor, "COLUMNS_A_PASS", columns_a_pass)
                patch.setenv("OPENDATA_ENGINE_MEMORY", "1GB")
                report = validate_tables("prov", [table], folder)
            return (
                [(p.row, p.field, p.code, p.message) for p in report.problems],
                report.counts,
            )

        assert verdict(4) == verdict(10_000)


def test_a_thousand_columns_validate_within_the_default_memory(tmp_path: Path) -> None:
    fields = [{"name": "id", "type": "integer"}]
    fields += [{"name": f"c{i}", "type": "number"} for i in range(1, 1000)]
    lines = [",".join(field["name"] for field in fields)]
    for row in range(1, 4):
        cells = [str(row)] + [f"{row}.{i}" for i in range(1, 1000)]
        if row == 2:
            cells[998] = "tio"  # a type error in the last group
            cells[500] = "inf"  # one of our rules, in a group of its own
        lines.append(",".join(cells))
    home = csv_home(tmp_path, "\n".join(lines) + "\n", fields=fields)
    result = run_cli(["validate", "prov"], home)  # OPENDATA_ENGINE_MEMORY unset: 128MB
    assert result.returncode == 1, result.stderr
    output = result.stdout.splitlines()
    assert output[0] == "prov: invalid (2 problems; data 3 rows)"
    assert "row 3, column 'c500': 'inf' is no number that can be published" in result.stdout
    assert "row 3, column 'c998': 'tio' is not a number" in result.stdout
    assert "Out of Memory" not in result.stderr


def test_wider_than_the_limit_is_one_sentence_before_any_data_is_read(tmp_path: Path) -> None:
    fields = [{"name": f"c{i}", "type": "integer"} for i in range(MAX_FIELDS + 1)]
    home = csv_home(tmp_path, "c0\n1\n", fields=fields)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2, result.stderr
    assert f"fields: {MAX_FIELDS + 1:,} fields, more than the {MAX_FIELDS:,} a table may have" in (
        result.stderr
    )
