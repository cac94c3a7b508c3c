"""Messy headers declared in dataset.yaml, never edited in the steward's file (issue 17, item 8).

Spreadsheets are built as statistics offices publish them: title rows above the table, a
header over two rows with a title merged over the year columns, a merged cell over two columns,
a column without a title. The rows collected, the messages and the exit codes are asserted
exactly; SCB's own sheet (a copy in tests/fixtures/messy-headers/) is read with its four header
rows and merged titles.
"""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from opendata import reporting
from opendata.config import load_settings
from opendata.errors import SourceError
from opendata.preparing import collect_tables, load
from opendata.tables import ORIGIN
from opendata.validate import validate_tables
from tests.conftest import read_sheet, run_cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "messy-headers"

DEFINITION = """title: {sv: Prov}
description: {sv: Prov}
contact_point: {name: Prov, email: prov@example.org}
sources: [{title: Prov, publisher: Prov}]
resources:
  - name: prov
    title: {sv: Prov}
    schema: prov.json
    sources:
      - %s
"""

# The eight members in the order a statistics table lists them (alphabetically).
MEMBERS = [
    ("1443", "Bollebygd"),
    ("1490", "Borås"),
    ("1466", "Herrljunga"),
    ("1463", "Mark"),
    ("1465", "Svenljunga"),
    ("1452", "Tranemo"),
    ("1491", "Ulricehamn"),
    ("1442", "Vårgårda"),
]


def make_home(
    root: Path, source: str, fields: list[dict[str, Any]], sources: dict[str, bytes]
) -> Path:
    """A home (datasets/, schemas/) with the one dataset `prov`: resource `prov` from `source`
    (YAML, indented as the first item of `sources`), its schema's `fields`, its files."""
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    schema = {"fields": fields, "primaryKey": [fields[0]["name"]]}
    (root / "schemas" / "prov.json").write_text(json.dumps(schema), "utf-8")
    folder = root / "datasets" / "prov"
    (folder / "sources").mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yaml").write_text(DEFINITION % source, "utf-8")
    for name, content in sources.items():
        (folder / "sources" / name).write_bytes(content)
    return root


def workbook(rows: list[list[Any]], merged: tuple[str, ...] = (), sheet: str = "Blad1") -> bytes:
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


def collect(root: Path) -> list[list[str]]:
    """The rows collected, in the order of the source, each with its origin last (the reading
    met no problem on the way)."""
    settings = load_settings(home=root)
    (table,) = collect_tables(settings, load(settings, "prov"), workspace=root / "work")
    assert [problem.describe() for problem in table.problems] == []
    return [
        [str(value) for value in row.values()]
        for batch in table.batches([*table.fields, ORIGIN])
        for row in batch.to_pylist()
    ]


def refusal(root: Path) -> str:
    with pytest.raises(SourceError) as caught:
        collect(root)
    return str(caught.value)


def validate(root: Path) -> subprocess.CompletedProcess[str]:
    """`opendata validate prov --offline`, as a steward runs it in the home."""
    return run_cli(["validate", "prov", "--offline"], root, OPENDATA_HOME=str(root))


def where(root: Path) -> str:
    """How messages name the dataset's (only) source in dataset.yaml."""
    return f"{root / 'datasets' / 'prov' / 'dataset.yaml'}: resources.prov.sources.0"


# -- a header over two rows, a title merged over the years ------------------------------------

POPULATION_FIELDS = [
    {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
    {"name": "folkmangd_2023", "type": "integer"},
    {"name": "folkmangd_2024", "type": "integer"},
    {"name": "andel", "type": "number", "constraints": {"maximum": 100}},
]
POPULATION = """kind: xlsx
        path: sources/data.xlsx
        sheet: Befolkning
        header_rows: [3, 4]
        municipality: {name: Kommun}
        columns:
          folkmangd_2023: Folkmängd 2023
          folkmangd_2024: Folkmängd 2024
          andel: Andel i förskola %
"""


def population_rows(andel: Any = 91.2) -> list[list[Any]]:
    """A title row, an empty row, the header over rows 3 and 4 ('Kommun' merged down A3:A4,
    'Folkmängd' merged over the years B3:C3, a unit under 'Andel i förskola'), the members,
    and a note under an empty row."""
    rows: list[list[Any]] = [
        ["Folkmängd 31 december och andel barn i förskola per kommun"],
        [],
        ["Kommun", "Folkmängd", None, "Andel i förskola"],
        [None, 2023, 2024, "  %"],
    ]
    for number, (_, name) in enumerate(MEMBERS):
        rows.append([name, 10_000 + number, 10_100 + number, andel if number == 2 else 90])
    return [*rows, [], ["Källa: SCB och kommunerna"]]


POPULATION_MERGED = ("A3:A4", "B3:C3")


def test_a_title_merged_over_the_years_names_each_year_column(tmp_path: Path) -> None:
    book = workbook(population_rows(), POPULATION_MERGED, sheet="Befolkning")
    home = make_home(tmp_path, POPULATION, POPULATION_FIELDS, {"data.xlsx": book})
    origin = "prov/sources/data.xlsx, sheet 'Befolkning', row {}"
    assert collect(home) == [
        ["1443", "10000", "10100", "90", origin.format(5)],
        ["1490", "10001", "10101", "90", origin.format(6)],
        ["1466", "10002", "10102", "91.2", origin.format(7)],
        ["1463", "10003", "10103", "90", origin.format(8)],
        ["1465", "10004", "10104", "90", origin.format(9)],
        ["1452", "10005", "10105", "90", origin.format(10)],
        ["1491", "10006", "10106", "90", origin.format(11)],
        ["1442", "10007", "10107", "90", origin.format(12)],
    ]
    result = validate(home)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "prov: valid (prov 8 rows)\n",
        "",
    )


def test_the_same_sheet_read_with_one_header_row_says_how_to_declare_the_rest(
    tmp_path: Path,
) -> None:
    """With `header_row: 3` (as before), the merged title names only its first column and the
    years are not read: the message shows the titles row 3 gives and the declaration to make."""
    book = workbook(population_rows(), POPULATION_MERGED, sheet="Befolkning")
    source = POPULATION.replace("header_rows: [3, 4]", "header_row: 3")
    home = make_home(tmp_path, source, POPULATION_FIELDS, {"data.xlsx": book})
    result = validate(home)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {where(home)}: folkmangd_2023: column 'Folkmängd 2023' is not in "
        "prov/sources/data.xlsx (columns: 'Kommun', 'Folkmängd', 'Andel i förskola'); row 3 of "
        "sheet 'Befolkning' has merged cells (B3:C3): with `header_row`, a merged cell titles "
        "only its first column; declare `header_rows: [3]` instead (`[3, 4]` when the row below "
        "tells the spanned columns apart) to give its title to every column it spans\n"
    )


def test_a_wrong_value_under_a_joined_header_is_named_by_its_cell_and_joined_title(
    tmp_path: Path,
) -> None:
    """The report names the sheet's own row and cell and the joined title; the Prefect report
    no longer claims that row 1 is the header row."""
    book = workbook(population_rows(andel="ca 91"), POPULATION_MERGED, sheet="Befolkning")
    home = make_home(tmp_path, POPULATION, POPULATION_FIELDS, {"data.xlsx": book})
    settings = load_settings(home=home)
    tables = collect_tables(settings, load(settings, "prov"), workspace=home / "work")
    report = validate_tables("prov", tables, home / "work")
    assert [problem.explain() for problem in report.problems] == [
        "prov/sources/data.xlsx, Befolkning!D7, kolumn 'Andel i förskola %': 'ca 91' är inte "
        "ett tal.\n    prov/sources/data.xlsx, Befolkning!D7, column 'Andel i förskola %': "
        "'ca 91' is not a number. [type-error]"
    ]
    outcome = {"dataset": "prov", "problems": [asdict(p) for p in report.problems]}
    markdown = reporting.invalid_report(outcome)
    assert "Befolkning\\!D7" in markdown  # the sheet's own row and cell
    assert "header row" not in markdown
    assert "rubrikraden" not in markdown
    assert "the number the spreadsheet shows at the row's left" in markdown


# -- merged cells over columns and rows -------------------------------------------------------

COUNT_FIELDS = [
    {"name": "kommunkod", "type": "string"},
    {"name": "man", "type": "integer"},
    {"name": "kvinnor", "type": "integer"},
]


def counts(first: int) -> list[list[Any]]:
    return [[name, first + i, 2 * first + i] for i, (_, name) in enumerate(MEMBERS)]


def test_a_cell_merged_over_two_columns_titles_both_and_a_tall_one_counts_once(
    tmp_path: Path,
) -> None:
    """'Antal' merged over B1:C1 titles both columns ('Antal män', 'Antal kvinnor'); 'Kommun'
    merged down all three header rows is 'Kommun', not 'Kommun Kommun Kommun'."""
    rows: list[list[Any]] = [
        ["Kommun", "Antal", None],
        [None, "män", "kvinnor"],
        [None, "(personer)", "(personer)"],
        *counts(100),
    ]
    book = workbook(rows, ("A1:A3", "B1:C1"))
    source = """kind: xlsx
        path: sources/data.xlsx
        sheet: Blad1
        header_rows: [1, 2, 3]
        municipality: {name: Kommun}
        columns: {man: Antal män (personer), kvinnor: "Antal   kvinnor  (personer)"}
"""
    home = make_home(tmp_path, source, COUNT_FIELDS, {"data.xlsx": book})
    rows_read = collect(home)
    assert [row[:3] for row in rows_read] == [
        [code, str(100 + i), str(200 + i)] for i, (code, _) in enumerate(MEMBERS)
    ]
    assert rows_read[0][3] == "prov/sources/data.xlsx, sheet 'Blad1', row 4"
    raw = read_sheet(home / "datasets/prov/sources/data.xlsx", "x", "Blad1", (1, 2, 3))
    assert raw.headers == ["Kommun", "Antal män (personer)", "Antal kvinnor (personer)"]
    assert (raw.header_at, raw.merged_header, raw.header_note) == (
        "x, sheet 'Blad1', rows 1–3",
        [],
        "",
    )


def test_a_merged_title_that_begins_above_the_declared_rows_gives_its_value(
    tmp_path: Path,
) -> None:
    rows: list[list[Any]] = [["Kommun", "Personer"], [None, "män"], [None, "kvinnor"]]
    path = tmp_path / "x.xlsx"
    path.write_bytes(workbook([*rows, *counts(7)], ("A1:A3",)))
    raw = read_sheet(path, "x", "Blad1", (2, 3))
    assert raw.headers == ["Kommun", "män kvinnor"]
    assert next(iter(raw.batches)).column("Kommun").to_pylist()[:2] == ["Bollebygd", "Borås"]


def test_a_header_row_the_sheet_leaves_out_loses_no_data_row(tmp_path: Path) -> None:
    """Row 2 of the header is empty (not in the sheet's XML at all): the row after it is the
    first data row, read once, not taken for the end of the header and dropped."""
    rows: list[list[Any]] = [["Kommun", "män", "kvinnor"], [], *counts(50)]
    source = (
        "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_rows: [1, 2], "
        "municipality: {name: Kommun}, columns: {man: män, kvinnor: kvinnor}}"
    )
    home = make_home(tmp_path, source, COUNT_FIELDS, {"data.xlsx": workbook(rows)})
    rows_read = collect(home)
    assert len(rows_read) == 8
    assert rows_read[0] == ["1443", "50", "100", "prov/sources/data.xlsx, sheet 'Blad1', row 3"]


def test_two_columns_a_joined_header_titles_alike_are_refused_naming_their_cells(
    tmp_path: Path,
) -> None:
    rows: list[list[Any]] = [["Kommun", "Antal", None], [None, "st", "st"], *counts(1)]
    source = """kind: xlsx
        path: sources/data.xlsx
        sheet: Blad1
        header_rows: [1, 2]
        municipality: {name: Kommun}
        columns: {man: Antal st, kvinnor: Antal st}
"""
    home = make_home(tmp_path, source, COUNT_FIELDS, {"data.xlsx": workbook(rows, ("B1:C1",))})
    result = validate(home)
    assert (result.returncode, result.stderr) == (
        1,
        "Error: prov/sources/data.xlsx, sheet 'Blad1', rows 1–2: columns B (B1:C1, B2) and C "
        "(B1:C1, C2) have the same title 'Antal st'; add the header row that tells them apart "
        "to `header_rows` in dataset.yaml, so that it is clear which one to publish\n",
    )


def test_overlapping_merged_ranges_and_a_title_on_many_columns_stay_bounded(
    tmp_path: Path,
) -> None:
    """A sound sheet's merged ranges never overlap; a hostile one's may: each header cell takes
    the range that starts leftmost (E1 takes C1:E1, whose first cell openpyxl left empty). A
    title 30 columns share is named by its first ten."""
    path = tmp_path / "x.xlsx"
    path.write_bytes(workbook([["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5]], ("B1:D1", "C1:E1")))
    raw = read_sheet(path, "x", "Blad1", (1,))
    assert raw.headers == ["a", "b", "b", "b", ""]
    assert raw.title_cells == {"b": "columns B (B1:D1), C (B1:D1) and D (B1:D1)"}
    path.write_bytes(workbook([["t", *([None] * 29)], list(range(30))], ("A1:AD1",)))
    raw = read_sheet(path, "x", "Blad1", (1,))
    assert raw.title_cells["t"] == (
        "columns A (A1:AD1), B (A1:AD1), C (A1:AD1), D (A1:AD1), E (A1:AD1), F (A1:AD1), "
        "G (A1:AD1), H (A1:AD1), I (A1:AD1), J (A1:AD1), … and 20 more"
    )


def test_header_rows_that_are_empty_or_beyond_the_sheet_are_named(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["Titel"], [], [], ["Kommun", "män", "kvinnor"], *counts(1)]
    book = workbook(rows)
    empty = "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_rows: [2, 3]}"
    home = make_home(tmp_path / "a", empty, COUNT_FIELDS, {"data.xlsx": book})
    assert refusal(home) == (
        f"{where(home)}: header_rows: rows 2–3 of sheet 'Blad1' of prov/sources/data.xlsx are empty"
    )
    beyond = "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_rows: [40, 41]}"
    home = make_home(tmp_path / "b", beyond, COUNT_FIELDS, {"data.xlsx": book})
    assert refusal(home) == (
        f"{where(home)}: header_rows: sheet 'Blad1' of prov/sources/data.xlsx has 12 rows"
    )


# -- SCB's sheet as published: a header over rows 6-9 with merged titles ----------------------

SCB_FIELDS = [
    {"name": "kommunkod", "type": "string"},
    {"name": "ar", "type": "integer"},
    {"name": "folkmangd", "type": "integer"},
    {"name": "inflyttade", "type": "integer"},
    {"name": "fran_egna_lanet", "type": "integer"},
    {"name": "fran_ovriga_sverige", "type": "integer"},
    {"name": "fran_utlandet", "type": "integer"},
    {"name": "justeringar", "type": "integer"},
]
SCB = """kind: xlsx
        path: sources/be0101_tabhel2023.xlsx
        sheet: Totalt
        header_rows: [6, 7, 8, 9]
        municipality: {code: Kommun Län}
        constants: {ar: 2023}
        columns:
          folkmangd: Folkmängd
          inflyttade: Inflyttade Totalt
          fran_egna_lanet: Inflyttade därav från Egna länet
          fran_ovriga_sverige: Inflyttade därav från Övriga Sverige
          fran_utlandet: Inflyttade därav från Ut- landet
          justeringar: Juste- ringar2
"""


def test_scb_population_sheet_is_read_with_its_four_header_rows(tmp_path: Path) -> None:
    fixture = FIXTURES / "be0101_tabhel2023.xlsx"
    home = make_home(tmp_path, SCB, SCB_FIELDS, {"be0101_tabhel2023.xlsx": fixture.read_bytes()})
    origin = "prov/sources/be0101_tabhel2023.xlsx, sheet 'Totalt', row {}"
    assert collect(home) == [
        ["1443", "2023", "9733", "648", "546", "74", "28", "2", origin.format(160)],
        ["1490", "2023", "114592", "5601", "2900", "1865", "836", "24", origin.format(161)],
        ["1466", "2023", "9441", "511", "399", "82", "30", "0", origin.format(170)],
        ["1463", "2023", "35287", "1583", "987", "452", "144", "28", origin.format(180)],
        ["1465", "2023", "10759", "672", "403", "174", "95", "-3", origin.format(191)],
        ["1452", "2023", "11883", "594", "339", "167", "88", "-1", origin.format(196)],
        ["1491", "2023", "25087", "1147", "712", "311", "124", "4", origin.format(200)],
        ["1442", "2023", "12384", "679", "536", "95", "48", "0", origin.format(202)],
    ]
    raw = read_sheet(fixture, "scb", "Totalt", (6, 7, 8, 9))
    assert raw.headers[:20] == [
        "Kommun Län",
        "Kommunnamn Länsnamn",
        "Folkmängd",
        "Folk- ökning",
        "Levande födda",
        "Döda",
        "Födelse- överskott",
        "Inflyttade Totalt",
        "Inflyttade därav från Egna länet",
        "Inflyttade därav från Övriga Sverige",
        "Inflyttade därav från Ut- landet",
        "Utflyttade1 Totalt",
        "Utflyttade1 därav till Egna länet",
        "Utflyttade1 därav till Övriga Sverige",
        "Utflyttade1 därav till Ut- landet",
        "Flyttningsnetto Totalt",
        "Flyttningsnetto därav mot Egna länet",
        "Flyttningsnetto därav mot Övriga Sverige",
        "Flyttningsnetto därav mot Ut- landet",
        "Juste- ringar2",
    ]
    assert set(raw.headers[20:]) == {""}  # formatted, untitled cells right of the table


# -- CSV: title rows above the header, a header over two rows ---------------------------------

CHARGING_FIELDS = [
    {"name": "kommunkod", "type": "string"},
    {"name": "laddpunkter", "type": "integer", "constraints": {"minimum": 0}},
]


def charging_csv(bad: dict[int, str] | None = None) -> bytes:
    """Two title lines (one with a quoted line break) and an empty line above the header."""
    lines = ['"Laddinfrastruktur per kommun,\ndecember 2025"', "Källa: Power Circle", ""]
    lines.append("Kommun,Antal laddpunkter")
    for number, (_, name) in enumerate(MEMBERS):
        lines.append(f"{name},{10 + number}")
    for index, text in (bad or {}).items():
        lines[index] = text
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_csv_file_with_title_rows_above_the_header(tmp_path: Path) -> None:
    """Rows are numbered as in the file (a quoted line break does not start a row); the
    header is row 4, the first member row 5."""
    source = """kind: csv
        path: sources/data.csv
        header_row: 4
        municipality: {name: Kommun}
        columns: {laddpunkter: Antal laddpunkter}
"""
    home = make_home(tmp_path, source, CHARGING_FIELDS, {"data.csv": charging_csv()})
    assert collect(home) == [
        [code, str(10 + i), f"prov/sources/data.csv, row {5 + i}"]
        for i, (code, _) in enumerate(MEMBERS)
    ]
    # Problems name the row in the file, counted from its first row, title rows included.
    bad = {5: "Borås,12,x", 7: "Mark,-2"}  # list index 5: file row 6 (the title spans 2 lines)
    home = make_home(tmp_path / "bad", source, CHARGING_FIELDS, {"data.csv": charging_csv(bad)})
    result = validate(home)
    assert (result.returncode, result.stdout.splitlines()) == (
        1,
        [
            # The row of the wrong width is read too (Borås is no missing member).
            "prov: invalid (2 problems; prov 8 rows)",
            "prov/sources/data.csv, rad 6: raden har 3 celler men rubrikraden har 2. Tips: en "
            'cell som innehåller avgränsaren "," måste stå inom citattecken.',
            "    prov/sources/data.csv, row 6: the row has 3 cells where the header has 2. Hint: "
            'a cell that holds the delimiter "," must be quoted. [extra-cell]',
            "prov/sources/data.csv, rad 8, kolumn 'Antal laddpunkter': '-2' är mindre än 0, det "
            "minsta tillåtna.",
            "    prov/sources/data.csv, row 8, column 'Antal laddpunkter': '-2' is less than 0, "
            "the smallest allowed. [constraint-error]",
        ],
    )


@pytest.mark.parametrize("end", ["stop_at_empty_row: true", "last_data_row: 12"])
def test_a_csv_table_under_title_rows_ends_where_declared(tmp_path: Path, end: str) -> None:
    """`last_data_row` and the first empty row count the file's rows, title rows included."""
    data = charging_csv() + b"\nSumma,100\n"
    source = (
        "{kind: csv, path: sources/data.csv, header_row: 4, municipality: {name: Kommun}, "
        f"columns: {{laddpunkter: Antal laddpunkter}}, {end}}}"
    )
    home = make_home(tmp_path, source, CHARGING_FIELDS, {"data.csv": data})
    rows = collect(home)
    assert [row[2] for row in rows] == [f"prov/sources/data.csv, row {n}" for n in range(5, 13)]


def test_a_csv_header_over_two_rows_joins_each_column_title(tmp_path: Path) -> None:
    lines = ["Kommun,Folkmängd 31 dec,Folkmängd 31 dec", ",2023,2024"]
    lines += [f"{name},{100 + i},{200 + i}" for i, (_, name) in enumerate(MEMBERS)]
    source = """kind: csv
        path: sources/data.csv
        header_rows: [1, 2]
        municipality: {name: Kommun}
        columns: {folkmangd_2023: Folkmängd 31 dec 2023, folkmangd_2024: Folkmängd 31 dec 2024}
"""
    fields = [*POPULATION_FIELDS[:3]]
    data = ("\n".join(lines) + "\n").encode()
    home = make_home(tmp_path, source, fields, {"data.csv": data})
    assert collect(home) == [
        [code, str(100 + i), str(200 + i), f"prov/sources/data.csv, row {3 + i}"]
        for i, (code, _) in enumerate(MEMBERS)
    ]


# -- declarations that cannot be right: definition errors, exit 2 -----------------------------

XLSX_START = "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, "
CSV_START = "{kind: csv, path: sources/data.csv, "


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            XLSX_START + "header_row: 3, header_rows: [3, 4]}",
            "resources.0.sources.0.xlsx.header_rows: Value error, header_row is given too: give "
            "header_row (one row of column titles) or header_rows (the rows each title is "
            "joined from), not both",
        ),
        (
            XLSX_START + "header_rows: [4, 3]}",
            "resources.0.sources.0.xlsx.header_rows: Value error, give the rows top to bottom, "
            "each once, e.g. [6, 7]",
        ),
        (
            XLSX_START + "header_rows: [3, 3]}",
            "resources.0.sources.0.xlsx.header_rows: Value error, give the rows top to bottom, "
            "each once, e.g. [6, 7]",
        ),
        (
            XLSX_START + "header_rows: []}",
            "resources.0.sources.0.xlsx.header_rows: List should have at least 1 item after "
            "validation, not 0",
        ),
        (
            XLSX_START + "header_rows: [0, 1]}",
            "resources.0.sources.0.xlsx.header_rows.0: Input should be greater than or equal to 1",
        ),
        (
            XLSX_START + "header_rows: [3, 4], first_data_row: 4}",
            "resources.0.sources.0.xlsx: Value error, first_data_row must be below the header's "
            "last row (4)",
        ),
        (
            XLSX_START + "first_data_row: 4}",
            "resources.0.sources.0.xlsx: Value error, give header_row (the row of the column "
            "titles, e.g. 6) or header_rows (the rows each column's title is joined from, e.g. "
            "[6, 7])",
        ),
        (
            CSV_START + "header_row: 1, header_rows: [1, 2]}",
            "resources.0.sources.0.csv.header_rows: Value error, header_row is given too: give "
            "header_row (one row of column titles) or header_rows (the rows each title is "
            "joined from), not both",
        ),
        (
            CSV_START + "header_row: 3, last_data_row: 3}",
            "resources.0.sources.0.csv: Value error, last_data_row must be at or below the "
            "first data row (4)",
        ),
    ],
)
def test_a_header_declared_wrongly_is_a_definition_error(
    tmp_path: Path, source: str, message: str
) -> None:
    home = make_home(
        tmp_path,
        source,
        COUNT_FIELDS,
        {"data.xlsx": workbook([["Kommun"], ["Borås"]]), "data.csv": b"Kommun\nBor\xc3\xa5s\n"},
    )
    result = validate(home)
    definition = home / "datasets" / "prov" / "dataset.yaml"
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"Error: {definition}: {message}\n",
    )


# -- '' names the one column without a title --------------------------------------------------

UNTITLED_FIELDS = [{"name": "kommunkod", "type": "string"}, {"name": "antal", "type": "integer"}]


@pytest.mark.parametrize("key", ["name", "code"])
def test_an_untitled_column_named_by_an_empty_title(tmp_path: Path, key: str) -> None:
    """`municipality: {name: ""}` (as personbilar-drivmedel reads Power Circle's CSV, whose
    first column has no title) reads a spreadsheet's untitled column too; it used to stop with
    `Error: KeyError: ''` and exit 3."""
    cells = [name if key == "name" else code for code, name in MEMBERS]
    rows: list[list[Any]] = [[None, "Antal"], *([cell, i] for i, cell in enumerate(cells))]
    source = (
        "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_row: 1, "
        f'municipality: {{{key}: ""}}, columns: {{antal: Antal}}}}'
    )
    home = make_home(tmp_path, source, UNTITLED_FIELDS, {"data.xlsx": workbook(rows)})
    assert collect(home) == [
        [code, str(i), f"prov/sources/data.xlsx, sheet 'Blad1', row {i + 2}"]
        for i, (code, _) in enumerate(MEMBERS)
    ]
    result = validate(home)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "prov: valid (prov 8 rows)\n",
        "",
    )


def test_an_empty_title_is_refused_where_no_column_or_several_lack_a_title(
    tmp_path: Path,
) -> None:
    names = [[name, i, None, ""] for i, (_, name) in enumerate(MEMBERS)]
    several = workbook([[None, "Antal", None, "Anm."], *names])
    source = (
        "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_row: 1, "
        'municipality: {name: ""}, columns: {antal: Antal}}'
    )
    home = make_home(tmp_path / "a", source, UNTITLED_FIELDS, {"data.xlsx": several})
    result = validate(home)
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: {where(home)}: municipality.name: '' names the column without a title, but "
        "prov/sources/data.xlsx has 2 columns without one (columns A, C, at "
        "prov/sources/data.xlsx, sheet 'Blad1', row 1), so it cannot say which; name the column "
        "by a title instead (with `header_rows`, a title in another row of the header counts)\n",
    )
    # A CSV file with two untitled columns: refused, where the last one used to be read.
    csv_source = (
        '{kind: csv, path: sources/data.csv, municipality: {name: ""}, columns: {antal: Antal}}'
    )
    data = b'"",Antal,""\nBor\xc3\xa5s,1,x\n'
    home = make_home(tmp_path / "b", csv_source, UNTITLED_FIELDS, {"data.csv": data})
    assert refusal(home) == (
        f"{where(home)}: municipality.name: '' names the column without a title, but "
        "prov/sources/data.csv has 2 columns without one (columns 1, 3, at "
        "prov/sources/data.csv, line 1), so it cannot say which; name the column by a title "
        "instead (with `header_rows`, a title in another row of the header counts)"
    )
    home = make_home(tmp_path / "c", csv_source, UNTITLED_FIELDS, {"data.csv": b"Kommun,Antal\n"})
    assert refusal(home) == (
        f"{where(home)}: municipality.name: '' names the column without a title, but every "
        "column of prov/sources/data.csv has one ('Kommun', 'Antal')"
    )


def test_the_repository_definition_style_still_reads_power_circles_csv(tmp_path: Path) -> None:
    """The Power Circle layout personbilar-drivmedel declares `municipality: {name: ""}` for:
    R's write.csv, an untitled first column of names in capitals."""
    lines = ['"","Antal laddpunkter"']
    lines += [f'"{name.upper()}","{i}"' for i, (_, name) in enumerate(MEMBERS)]
    source = (
        '{kind: csv, path: sources/data.csv, municipality: {name: ""}, '
        "columns: {antal: Antal laddpunkter}}"
    )
    data = ("\n".join(lines) + "\n").encode()
    home = make_home(tmp_path, source, UNTITLED_FIELDS, {"data.csv": data})
    assert [row[:2] for row in collect(home)] == [
        [code, str(i)] for i, (code, _) in enumerate(MEMBERS)
    ]
