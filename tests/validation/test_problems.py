"""Each kind of problem is declared once (opendata/problems.py): every code the code base
reports is declared there with its titles, and the README lists our own as declared."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from opendata.problems import CELL_ERRORS, PROBLEMS, title
from opendata.reporting import kind_label
from tests.conftest import REPO

CODE = re.compile(r"^[a-z]+(?:-[a-z]+)+$")
# Where a problem's code is given: the first argument of these, or a keyword `code=`.
MADE_BY = {"SourceProblem", "Violation", "Problem"}


def reported_codes(source: str) -> set[str]:
    """The problem codes a module spells: in a problem's making, or as what `code` is."""
    found: set[str] = set()

    def constant(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if CODE.match(node.value):
                found.add(node.value)
        elif isinstance(node, ast.IfExp):
            constant(node.body)
            constant(node.orelse)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in MADE_BY and node.args:
                constant(node.args[0])
            for keyword in node.keywords:
                if keyword.arg == "code":
                    constant(keyword.value)
        elif isinstance(node, ast.Assign):
            if any(getattr(target, "id", None) == "code" for target in node.targets):
                constant(node.value)
        elif isinstance(node, ast.Compare) and getattr(node.left, "id", None) == "code":
            for right in node.comparators:
                constant(right)
                if isinstance(right, ast.Tuple | ast.Set | ast.List):
                    for item in right.elts:
                        constant(item)
    return found


def test_every_code_the_code_base_reports_is_declared_once() -> None:
    spelled: dict[str, set[str]] = {}
    for path in sorted((REPO / "src" / "opendata").rglob("*.py")):
        for code in reported_codes(path.read_text("utf-8")):
            spelled.setdefault(code, set()).add(str(path.relative_to(REPO)))
    assert {"type-error", "merged-cell", "formula-like-text"} <= set(spelled)
    undeclared = {code: files for code, files in spelled.items() if code not in PROBLEMS}
    assert undeclared == {}


def test_the_check_finds_an_undeclared_code(tmp_path: Path) -> None:
    source = (
        'problem = SourceProblem("smudged-cell", origin, note, note_sv)\n'
        'code = "inked-row" if wet else "type-error"\n'
        'if code in ("blotted-column",):\n    pass\n'
    )
    assert reported_codes(source) == {"smudged-cell", "inked-row", "type-error", "blotted-column"}


def test_titles_are_swedish_then_english_and_tell_the_kinds_apart() -> None:
    titles = [problem.title for problem in PROBLEMS.values()]
    assert len(set(titles)) == len(titles)
    assert title("type-error") == "fel sorts värde / wrong kind of value"
    assert title("from-a-newer-release") is None
    assert kind_label("merged-cell") == "sammanfogade celler \\/ merged cells (merged\\-cell)"
    assert kind_label("from-a-newer-release") == "from\\-a\\-newer\\-release"
    assert CELL_ERRORS == (
        "type-error",
        "constraint-error",
        "non-finite-number",
        "integer-out-of-range",
        "number-underflow",
        "dropped-sign",
        "formula-like-text",
        "pattern-timeout",
    )


def test_the_readme_lists_our_own_problems_as_declared() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    listed = readme.split("*Rules of ours* (each a problem row naming the cell): ", 1)[1]
    listed = listed.split("(see", 1)[0]
    named = re.findall(r"`([a-z-]+)`", listed)
    ours = [code for code, p in PROBLEMS.items() if p.found_by in ("rule", "reader")]
    assert sorted(named) == sorted(ours)
