"""No value is published differently from what the source says (issue 19, item 2): a number is
read as the declared number only when it is written in the declared form, otherwise it is a
problem naming the cell.

Oracles independent of the code under test: Python's `decimal.Decimal` and `float()` for what a
number is and what a double can hold, Python's `re` with frictionless's own `bareNumber`
expression for what `bareNumber: false` strips, and the Swedish grouping rule (threes) written
out by hand for the decimal comma.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from opendata.engine.outputs import write_outputs
from opendata.validate import validate_tables
from tests.collect.test_hostile_input import (
    EXAMPLES,
    collect,
    csv_home,
    make_home,
    problems,
    scratch,
    staged_table,
)
from tests.conftest import run_cli

# --------------------------------------------------------------------------------------------
# Numbers too close to zero for a double: refused, not published as 0

TINY = st.one_of(
    st.integers(min_value=-400, max_value=-300).map(lambda e: f"1e{e}"),
    st.integers(min_value=-330, max_value=-320).map(lambda e: f"-2.5E{e}"),
    st.sampled_from(["4e-324", "5e-324", "2e-324", "0e-400", "0.0", "2.2250738585072014e-308"]),
    st.integers(min_value=300, max_value=340).map(lambda zeros: "0." + "0" * zeros + "7"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@EXAMPLES
@given(st.lists(TINY, min_size=1, max_size=8))
def test_a_number_is_refused_exactly_when_a_double_would_make_it_zero(cells: list[str]) -> None:
    fields = [{"name": "varde", "type": "number"}]
    with scratch() as folder:
        table = staged_table(folder, fields, [[cell] for cell in cells])
        report = validate_tables("prov", [table], folder)
        flagged = {p.row for p in report.problems if p.code == "number-underflow"}
        expected = {
            i + 2 for i, cell in enumerate(cells) if float(cell) == 0 and Decimal(cell) != 0
        }
        assert flagged == expected
        if not report.problems:  # published: every value as float() reads the text
            written = write_outputs(table, folder / "out")
            records = json.loads(written["t.json"].path.read_bytes())
            assert sorted(float(r["varde"]) for r in records) == sorted(map(float, cells))


def test_underflow_is_named_through_the_cli(tmp_path: Path) -> None:
    home = csv_home(tmp_path, "id,namn,varde\n1,a,1e-400\n2,b,0.5\n")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "prov: invalid (1 problem; data 2 rows)",
        "prov/sources/data.csv, rad 2, kolumn 'varde': '1e-400' ligger närmare noll än "
        "±2,2e-308, det minsta tal som JSON- och Parquet-kopiorna rymmer (det skulle publiceras "
        "som 0); kontrollera värdet, eller gör fältet till text.",
        "    prov/sources/data.csv, row 2, column 'varde': '1e-400' is closer to zero than "
        "±2.2e-308, the smallest number the JSON and Parquet copies hold (it would be published "
        "as 0); check the value, or make the field a string. [number-underflow]",
    ]


# --------------------------------------------------------------------------------------------
# bareNumber false: the text around a number goes, its sign never does

MINUS_LIKE = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
PREFIXES = ["", "kr ", "$", "(", "-", "\u2212", "\u2013", "\uff0d", "ca "]
SUFFIXES = ["", " %", " kr", ")", "-", "\u2212", "\u2014"]
# frictionless's NumberField and IntegerField with bare_number False remove this
FRICTIONLESS_BARE = re.compile(r"((^[^-\d]*)|(\D*$))")


def _sign_dropped(cell: str) -> bool:
    """Whether what bareNumber false strips from the cell holds a sign: the oracle."""
    before = re.match(r"^[^-\d]*", cell)
    after = re.search(r"\D*$", cell)
    stripped_before = before.group(0) if before else ""
    stripped_after = after.group(0) if after else ""
    return any(c in "(" + MINUS_LIKE for c in stripped_before) or any(
        c in "-" + MINUS_LIKE for c in stripped_after
    )


@EXAMPLES
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PREFIXES),
            st.decimals(min_value=0, max_value=10**6, places=2),
            st.sampled_from(SUFFIXES),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["number", "integer"]),
)
def test_a_sign_that_bare_number_false_would_drop_is_a_problem(
    cells: list[tuple[str, Decimal, str]], kind: str
) -> None:
    texts = [
        f"{before}{int(value) if kind == 'integer' else value}{after}"
        for before, value, after in cells
    ]
    fields = [{"name": "varde", "type": kind, "bareNumber": False}]
    with scratch() as folder:
        table = staged_table(folder, fields, [[text] for text in texts])
        report = validate_tables("prov", [table], folder)
        flagged = {p.row for p in report.problems if p.code == "dropped-sign"}
        assert flagged == {i + 2 for i, text in enumerate(texts) if _sign_dropped(text)}
        if not report.problems:  # published: the number frictionless reads, sign and all
            written = write_outputs(table, folder / "out")
            records = json.loads(written["t.json"].path.read_bytes())
            expected = [Decimal(FRICTIONLESS_BARE.sub("", text)) for text in texts]
            assert sorted(Decimal(str(r["varde"])) for r in records) == sorted(expected)


def test_an_accounting_negative_is_named_through_the_cli(tmp_path: Path) -> None:
    fields = [
        {"name": "id", "type": "integer"},
        {"name": "namn", "type": "string"},
        {"name": "varde", "type": "number", "bareNumber": False},
    ]
    home = csv_home(tmp_path, "id,namn,varde\n1,a,(2.5)\n2,b,\u22123.5\n3,c,4 %\n", fields=fields)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "prov: invalid (2 problems; data 3 rows)"
    assert lines[2] == (
        "    prov/sources/data.csv, row 2, column 'varde': '(2.5)' has a sign that "
        "`bareNumber: false` drops with the text around the number (a minus other than '-', "
        "parentheses for a negative, a trailing minus), so it would be published as positive; "
        "write the number with a leading '-'. [dropped-sign]"
    )
    assert lines[4].startswith("    prov/sources/data.csv, row 3, column 'varde': '\u22123.5'")


# --------------------------------------------------------------------------------------------
# A decimal comma: spaces only between groups of three digits


def _swedish(cell: str) -> str | None:
    """The number a Swedish cell writes (decimal comma, groups of three apart), or None."""
    match = re.fullmatch(r"(-?)(\d{1,3}(?:[ \u00a0]\d{3})*|\d+)(?:,(\d+))?", cell)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    digits = whole.replace(" ", "").replace("\u00a0", "")
    return f"{sign}{digits}" + (f".{fraction}" if fraction else "")


GROUPS = st.lists(st.integers(0, 999), min_size=1, max_size=4)


@st.composite
def swedish_cells(draw: st.DrawFn) -> str:
    """Numbers written the Swedish way, some with a space in the wrong place."""
    groups = draw(GROUPS)
    digits = [str(groups[0])] + [f"{g:03d}" for g in groups[1:]]
    if draw(st.booleans()) and len(digits) > 1:  # a space that does not part groups of three
        at = draw(st.integers(1, len(digits) - 1))
        digits[at] = digits[at][:2]
    space = draw(st.sampled_from([" ", "\u00a0", ""]))
    fraction = draw(st.sampled_from(["", ",5", ",25", ",125"]))
    sign = draw(st.sampled_from(["", "-"]))
    return sign + space.join(digits) + fraction


@EXAMPLES
@given(st.lists(swedish_cells(), min_size=1, max_size=6))
def test_a_decimal_comma_number_is_read_only_where_its_spaces_part_groups(
    cells: list[str],
) -> None:
    with scratch() as folder:
        lines = "".join(f"{i};n;{cell}\n" for i, cell in enumerate(cells, start=1))
        home = csv_home(
            folder / "home", "id;namn;varde\n" + lines, ', delimiter: ";", decimal: ","'
        )
        rows = collect(home)
        found = problems(home)
        for (number, cell), row in zip(enumerate(cells, start=2), rows, strict=True):
            expected = _swedish(cell)
            bad = [line for line in found if f"row {number}, field varde" in line]
            if expected is None:
                assert row[2] == cell  # left as written, and named
                assert bad, (cell, found)
            else:
                assert Decimal(row[2]) == Decimal(expected), (cell, row)
                assert not bad, (cell, found)


def test_a_space_that_is_no_group_is_named_with_the_cell_as_written(tmp_path: Path) -> None:
    home = csv_home(
        tmp_path, "id;namn;varde\n1;a;3 25\n2;b;1 234,5\n", ', delimiter: ";", decimal: ","'
    )
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    assert "row 2, column 'varde': '3 25' is not a number" in result.stdout
    assert "row 3" not in result.stdout


# --------------------------------------------------------------------------------------------
# Workbooks that are no plain .xlsx are named as what they are (issue 19, item 4)

WORKBOOKS = Path(__file__).parents[1] / "fixtures" / "workbooks"


def _workbook_home(root: Path, fixture: str) -> Path:
    source = "{kind: xlsx, path: sources/data.xlsx, sheet: Data, header_row: 1}"
    return make_home(root, source, {"sources/data.xlsx": (WORKBOOKS / fixture).read_bytes()})


def test_a_password_protected_workbook_is_named_so(tmp_path: Path) -> None:
    result = run_cli(["validate", "prov"], _workbook_home(tmp_path, "password-protected.xlsx"))
    assert result.returncode == 1, result.stderr
    assert (
        "prov/sources/data.xlsx: the workbook is password-protected (encrypted), so it cannot "
        "be read; save a copy without a password" in result.stderr + result.stdout
    )
    assert "zip" not in result.stderr + result.stdout


def test_a_strict_open_xml_workbook_is_named_so(tmp_path: Path) -> None:
    result = run_cli(["validate", "prov"], _workbook_home(tmp_path, "strict-open-xml.xlsx"))
    assert result.returncode == 1, result.stderr
    output = result.stderr + result.stdout
    assert "prov/sources/data.xlsx: the workbook is saved as 'Strict Open XML Spreadsheet'" in (
        output
    )
    assert "sheets:" not in output


def test_an_xls_workbook_is_named_so(tmp_path: Path) -> None:
    # a compound file without an encrypted package: what Excel 97–2003 saves
    compound = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "Workbook".encode("utf-16-le")
    source = "{kind: xlsx, path: sources/data.xlsx, sheet: Data, header_row: 1}"
    home = make_home(tmp_path, source, {"sources/data.xlsx": compound})
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    assert "an Excel 97–2003 workbook (.xls), not .xlsx" in result.stderr + result.stdout
