"""Every pattern check is bounded in time (issue 19, item 6).

A Table Schema pattern means Python's `re.compile(f"^{pattern}$").match`, a backtracking
matcher: `(a+)+` on a long run of a's that ends in another letter takes longer than the age of
the universe. Patterns run in RE2 (linear time) wherever they translate, anchors included;
a pattern RE2 cannot run (a lookaround, a backreference) runs with a time limit a cell and a
cell past it is a problem that names the cell. The oracle for what matches is frictionless
itself (Python's `re`), on texts where it finishes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from opendata.validate import validate_tables
from tests.collect.test_hostile_input import EXAMPLES, csv_home, scratch, staged_table
from tests.conftest import run_cli

CATASTROPHIC_CELL = "a" * 5000 + "!"


def _pattern_home(root: Path, pattern: str, cells: list[str]) -> Path:
    fields = [
        {"name": "id", "type": "integer"},
        {"name": "kod", "type": "string", "constraints": {"pattern": pattern}},
    ]
    lines = "".join(f"{i},{cell}\n" for i, cell in enumerate(cells, start=1))
    return csv_home(root, "id,kod\n" + lines, fields=fields)


def test_an_anchored_catastrophic_pattern_runs_in_re2(tmp_path: Path) -> None:
    """`^(a+)+$` (anchored, as stewards write them) no longer leaves the fast path."""
    home = _pattern_home(tmp_path, "^(a+)+$", ["aaa", CATASTROPHIC_CELL])
    result = run_cli(["validate", "prov"], home)  # the harness's own timeout is 300 s
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == "prov: invalid (1 problem; data 2 rows)"
    assert "row 3, column 'kod'" in result.stdout
    assert "[constraint-error]" in result.stdout


def test_a_catastrophic_pattern_re2_cannot_run_is_stopped_and_named(tmp_path: Path) -> None:
    """A lookahead keeps the pattern out of RE2: the cell that takes too long is a problem."""
    pattern = "(?=a)(a|aa)+"
    home = _pattern_home(tmp_path, pattern, ["aaa", "b", CATASTROPHIC_CELL, "c"])
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "prov: invalid (2 problems; data 4 rows)"
    assert "row 3, column 'kod': 'b' does not follow the pattern" in result.stdout
    shown = [line for line in lines if "[pattern-timeout]" in line]
    assert len(shown) == 1
    assert shown[0].startswith(
        f"    prov/sources/data.csv, row 4, column 'kod': the pattern {pattern!r} took more "
        "than 2 s on the cell 'aaaaaaaaaa"
    )
    assert "write the pattern without nested repetition" in shown[0]


PATTERNS = ["(?=a)[a-c]+", "(?!b)\\w*", "(a)\\1?b?", "(?<=)x|y", "[ab]+(?=c)c", "(?i:a)b*"]
CELLS = st.lists(st.sampled_from(["a", "b", "c", "x", "y", "A", "", " "]), max_size=4).map("".join)


@EXAMPLES
@given(st.sampled_from(PATTERNS), st.lists(CELLS, min_size=1, max_size=8))
def test_patterns_outside_re2_give_frictionless_verdict(pattern: str, cells: list[str]) -> None:
    from frictionless import Resource, Schema

    fields = [{"name": "kod", "type": "string", "constraints": {"pattern": pattern}}]
    with scratch() as folder:
        table = staged_table(folder, fields, [[cell] for cell in cells])
        ours = {(p.row, p.code) for p in validate_tables("prov", [table], folder).problems}
        path = folder / "data.csv"
        path.write_text("kod\n" + "".join(json.dumps(c) + "\n" for c in cells), "utf-8")
        report: Any = Resource(
            path=path.name, basepath=str(folder), schema=Schema.from_descriptor({"fields": fields})
        ).validate()
        theirs = {(e.row_number, e.type) for e in report.tasks[0].errors}
        assert ours == theirs, (pattern, cells)
