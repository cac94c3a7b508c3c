"""What a steward reads when a source is wrong (issue 10, requirements 4 and 5).

Spreadsheets and CSV files are built as stewards get them (a title above the header, a total
row, notes below, a Swedish Excel CSV: semicolons, decimal commas, Windows-1252) and driven
through the `opendata` command; the report lines are asserted exactly: Swedish first, English
beside, the source's own column title, the cell (`Blad1!C6`), sorted by row, every problem of a
file in one run, with a hint where the cause is a common one.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendata import reporting
from opendata.config import load_settings
from opendata.engine.outputs import sorted_origins, text_rows
from opendata.preparing import collect_tables, load, new_workspace
from opendata.validate import validate_tables
from tests.conftest import FIXTURE_HOME, run_cli

DEFINITION = """title: {sv: %(name)s}
description: {sv: Prov}
contact_point: {name: Prov, email: prov@example.org}
sources: [{title: Prov, publisher: Prov}]
resources:
  - name: %(name)s
    title: {sv: %(name)s}
    schema: %(name)s.json
    sources:
      - %(source)s
"""


def make_home(
    root: Path, name: str, fields: list[dict[str, Any]], source: str, files: dict[str, bytes]
) -> Path:
    """A home with one dataset `name`: one resource from `source` (YAML, indented as the
    first item of `sources`), its schema `fields` and its files."""
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    schema = {"fields": fields, "primaryKey": [fields[0]["name"]]}
    (root / "schemas" / f"{name}.json").write_text(json.dumps(schema), "utf-8")
    folder = root / "datasets" / name
    (folder / "sources").mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yaml").write_text(DEFINITION % {"name": name, "source": source}, "utf-8")
    for path, content in files.items():
        (folder / path).write_bytes(content)
    return root


def declare(root: Path, name: str, lines: str) -> None:
    """Add keys to the dataset's (only) source, as a steward edits dataset.yaml."""
    path = root / "datasets" / name / "dataset.yaml"
    path.write_text(path.read_text("utf-8") + lines, "utf-8")


def workbook(rows: list[list[Any]], sheet: str = "Blad1") -> bytes:
    import io

    book = openpyxl.Workbook()
    page = book.active
    assert page is not None
    page.title = sheet
    for row in rows:
        page.append(row)
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


# -- a spreadsheet as a steward gets it -------------------------------------------------------

FORSKOLA_FIELDS = [
    {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
    {"name": "kommun", "type": "string"},
    {"name": "andel", "type": "number", "constraints": {"minimum": 0, "maximum": 100}},
    {"name": "antal", "type": "integer", "constraints": {"minimum": 0}},
]
FORSKOLA = """kind: xlsx
        path: sources/forskola.xlsx
        sheet: Blad1
        header_row: 3
        municipality: {name: Kommun}
        columns: {andel: "Andel i förskola (%)", antal: Antal barn}
"""
FORSKOLA_ROWS: list[list[Any]] = [
    ["Barn i förskola per kommun 2024"],
    [],
    ["Kommun", "Andel i förskola (%)", "Antal barn"],
    ["Borås", 87.5, 3120],
    ["Bollebygd", 91.2, 310],
    ["Herrljunga", 88.0, "ca 30"],
    ["Mark", 90.1, -4],
    ["Svenljunga", "91,5", 290],
    ["Tranemo", 86.0, 300],
    ["Ulricehamn", 89.9, 720],
    ["Vårgårda", 90.4, 350],
    ["Totalt", 88.6, "=SUM(C4:C11)"],  # written without a saved value, as by a script
    [],
    ["Källa: kommunernas egna uppgifter"],
]
XLSX = "forskola/sources/forskola.xlsx"


def forskola(root: Path, rows: list[list[Any]] = FORSKOLA_ROWS) -> Path:
    return make_home(
        root, "forskola", FORSKOLA_FIELDS, FORSKOLA, {"sources/forskola.xlsx": workbook(rows)}
    )


def test_every_problem_of_a_spreadsheet_in_one_report_by_cell_and_column_title(
    tmp_path: Path,
) -> None:
    home = forskola(tmp_path)
    result = run_cli(["validate", "forskola"], home)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "forskola: invalid (5 problems; forskola 8 rows)",
        f"{XLSX}, Blad1!C6, kolumn 'Antal barn': 'ca 30' är inte ett heltal.",
        f"    {XLSX}, Blad1!C6, column 'Antal barn': 'ca 30' is not a whole number. [type-error]",
        f"{XLSX}, Blad1!C7, kolumn 'Antal barn': '-4' är mindre än 0, det minsta tillåtna.",
        f"    {XLSX}, Blad1!C7, column 'Antal barn': '-4' is less than 0, the smallest allowed. "
        "[constraint-error]",
        f"{XLSX}, Blad1!B8, kolumn 'Andel i förskola (%)': '91,5' är inte ett tal. Tips: cellen "
        "är text med decimalkomma, inte ett tal; skriv in talet som ett tal.",
        f"    {XLSX}, Blad1!B8, column 'Andel i förskola (%)': '91,5' is not a number. Hint: the "
        "cell is text with a decimal comma, not a number; enter it as a number. [type-error]",
        f"{XLSX}, Blad1!A12, kolumn 'Kommun': 'Totalt' är inte namnet på en svensk kommun. Tips: "
        "raden ser ut som en summarad ('Totalt'); hoppa över sådana rader med "
        '`skip_rows: [{column: "Kommun", matches: "^Totalt"}]` för källan i dataset.yaml.',
        f"    {XLSX}, Blad1!A12, column 'Kommun': 'Totalt' is not the name of a Swedish "
        "municipality. Hint: the row looks like a total row ('Totalt'); leave such rows out with "
        '`skip_rows: [{column: "Kommun", matches: "^Totalt"}]` on the source in dataset.yaml. '
        "[unknown-municipality]",
        f"{XLSX}, Blad1!C12, kolumn 'Antal barn': cellen C12 har formeln =SUM(C4:C11) utan "
        "sparat värde (filen skrevs av ett program som inte räknar), så värdet är okänt; öppna "
        "filen i Excel eller LibreOffice och spara den, så att värdena sparas.",
        f"    {XLSX}, Blad1!C12, column 'Antal barn': cell C12 holds the formula =SUM(C4:C11) "
        "without a saved value (the file was written by a program that does not calculate), so "
        "its value is unknown; open the file in Excel or LibreOffice and save it, so that the "
        "values are stored. [unsaved-formula]",
    ]


def test_a_declared_total_row_is_left_out_with_what_the_reader_found_in_it(
    tmp_path: Path,
) -> None:
    home = forskola(tmp_path)
    declare(home, "forskola", '        skip_rows: [{column: Kommun, matches: "^(Totalt|Summa)"}]\n')
    result = run_cli(["validate", "forskola"], home)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "forskola: invalid (3 problems; forskola 8 rows)"
    assert [line.split(",")[1] for line in lines[1:7:2]] == [" Blad1!C6", " Blad1!C7", " Blad1!B8"]
    # The report counts the row the rule left out, so the steward sees what is not published.
    place = "forskola/sources/forskola.xlsx, sheet 'Blad1'"
    rule = "('Kommun' ~ '^(Totalt|Summa)')"
    left_out = [
        f"Notering: {place}: 1 rad hoppades över enligt skip_rows {rule}: rad 12",
        f"    Note: {place}: 1 row left out by skip_rows {rule}: row 12 [skip_rows]",
    ]
    assert lines[7:] == left_out
    fixed = [list(row) for row in FORSKOLA_ROWS]
    fixed[5][2], fixed[6][2], fixed[7][1] = 30, 4, 91.5
    (home / "datasets/forskola/sources/forskola.xlsx").write_bytes(workbook(fixed))
    result = run_cli(["validate", "forskola"], home)
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        ["forskola: valid (forskola 8 rows)", *left_out],
    )


def test_a_note_right_below_the_table_is_explained_and_last_data_row_ends_the_table(
    tmp_path: Path,
) -> None:
    members = ["Borås", "Bollebygd", "Herrljunga", "Mark", "Svenljunga", "Tranemo"]
    rows: list[list[Any]] = [
        ["Barn i förskola per kommun 2024"],
        ["Kommun", "Andel i förskola (%)", "Antal barn"],
        *([name, 90.0, 10] for name in [*members, "Ulricehamn", "Vårgårda"]),
        ["Källa: kommunernas egna uppgifter, insamlade i januari"],
    ]
    fields = [
        {"name": "kommun", "type": "string"},
        {"name": "andel", "type": "number", "constraints": {"required": True}},
        {"name": "antal", "type": "integer"},
    ]
    source = (
        "{kind: xlsx, path: sources/forskola.xlsx, sheet: Blad1, header_row: 2, columns: "
        '{kommun: Kommun, andel: "Andel i förskola (%)", antal: Antal barn}}'
    )
    home = make_home(
        tmp_path, "forskola", fields, source, {"sources/forskola.xlsx": workbook(rows)}
    )
    result = run_cli(["validate", "forskola"], home)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "forskola: invalid (1 problem; forskola 9 rows)",
        f"{XLSX}, Blad1!B11, kolumn 'Andel i förskola (%)': värde saknas, men fältet måste ha "
        "ett. Tips: raden ser ut som en anteckning under tabellen ('Källa: kommunernas egna "
        "uppgifter, insam…'); avsluta tabellen ovanför den med `last_data_row: 10` för källan i "
        "dataset.yaml.",
        f"    {XLSX}, Blad1!B11, column 'Andel i förskola (%)': no value, but the field needs "
        "one. Hint: the row looks like a note below the table ('Källa: kommunernas egna "
        "uppgifter, insam…'); end the table above it with `last_data_row: 10` on the source in "
        "dataset.yaml. [constraint-error]",
    ]
    set_source(home, source[:-1] + ", last_data_row: 10}", "forskola")
    result = run_cli(["validate", "forskola"], home)
    assert (result.returncode, result.stdout) == (0, "forskola: valid (forskola 8 rows)\n")


# -- a CSV file saved by Swedish Excel --------------------------------------------------------

LADDNING_FIELDS = [
    {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
    {"name": "kommun", "type": "string"},
    {"name": "laddbara_per_capita", "type": "number", "constraints": {"minimum": 0}},
    {"name": "laddpunkter", "type": "integer", "constraints": {"minimum": 0}},
]
LADDNING = """kind: csv
        path: sources/laddning.csv
        municipality: {name: Kommun}
        columns: {laddbara_per_capita: Laddbara fordon/capita, laddpunkter: Antal laddpunkter}
"""
# Power Circle's figures for the members (datasets/personbilar-drivmedel/sources/), as Swedish
# Excel saves them: "CSV (semikolonavgränsad)", Windows-1252, decimal commas, a sum row.
LADDNING_LINES = [
    "Kommun;Antal laddhybrider;Laddbara fordon/capita;Antal laddpunkter",
    "BOLLEBYGD;212;6,03;25",
    "BORÅS;3279;7,01;525",
    "HERRLJUNGA;193;4,49;11",
    "MARK;870;6,04;44",
    "SVENLJUNGA;201;4,4;22",
    "TRANEMO;294;5,42;38",
    "ULRICEHAMN;607;5,84;136",
    "VÅRGÅRDA;260;4,59;55",
    "Summa;5916;;856",
]
CSV = "laddning/sources/laddning.csv"


def laddning(root: Path, lines: list[str] = LADDNING_LINES) -> Path:
    content = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    return make_home(root, "laddning", LADDNING_FIELDS, LADDNING, {"sources/laddning.csv": content})


def test_a_swedish_excel_csv_leads_the_steward_from_hint_to_hint_to_valid(tmp_path: Path) -> None:
    home = laddning(tmp_path)
    result = run_cli(["validate", "laddning"], home)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {CSV}: not valid utf-8 (byte 94, line 3); declare the file's `encoding` in "
        "dataset.yaml or save it as UTF-8\n"
        "Tips: filen verkar sparad som Windows-1252 (så sparar svenska Excel CSV-filer), där "
        "står det 'BORÅS'; ange `encoding: cp1252` för källan i dataset.yaml.\n"
        "Hint: the file looks saved as Windows-1252 (as Swedish Excel saves CSV files), where "
        "it reads 'BORÅS'; declare `encoding: cp1252` on the source in dataset.yaml.\n"
    )

    declare(home, "laddning", "        encoding: cp1252\n")
    result = run_cli(["validate", "laddning"], home)
    assert result.returncode == 1
    definition = home / "datasets/laddning/dataset.yaml"
    assert result.stderr == (
        f"Error: {definition}: resources.laddning.sources.0: laddbara_per_capita: column "
        f"'Laddbara fordon/capita' is not in {CSV} (columns: 'Kommun;Antal laddhybrider;"
        "Laddbara fordon/capita;Antal laddpunkter')\n"
        "Tips: rubrikraden lästes som en enda kolumn med semikolon i; filen är avgränsad med "
        'semikolon: ange `delimiter: ";"` för källan i dataset.yaml (och `decimal: ","` om '
        "talen har decimalkomma).\n"
        "Hint: the header was read as one column holding semicolons; the file is separated by "
        'semicolons: declare `delimiter: ";"` on the source in dataset.yaml (and `decimal: ","` '
        "if its numbers have a decimal comma).\n"
    )

    declare(home, "laddning", '        delimiter: ";"\n')
    result = run_cli(["validate", "laddning"], home)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "laddning: invalid (9 problems; laddning 8 rows)"
    assert lines[1:3] == [
        f"{CSV}, rad 2, kolumn 'Laddbara fordon/capita': '6,03' är inte ett tal. Tips: talet "
        'har decimalkomma; ange `decimal: ","` för källan i dataset.yaml.',
        f"    {CSV}, row 2, column 'Laddbara fordon/capita': '6,03' is not a number. Hint: the "
        'number has a decimal comma; declare `decimal: ","` on the source in dataset.yaml. '
        "[type-error]",
    ]
    assert [line.split(",")[1] for line in lines[1::2]] == [f" rad {n}" for n in range(2, 11)]

    declare(home, "laddning", '        decimal: ","\n')
    result = run_cli(["validate", "laddning"], home)
    assert result.stdout.splitlines() == [
        "laddning: invalid (1 problem; laddning 8 rows)",
        f"{CSV}, rad 10, kolumn 'Kommun': 'Summa' är inte namnet på en svensk kommun. Tips: "
        "raden ser ut som en summarad ('Summa'); hoppa över sådana rader med "
        '`skip_rows: [{column: "Kommun", matches: "^Summa"}]` för källan i dataset.yaml.',
        f"    {CSV}, row 10, column 'Kommun': 'Summa' is not the name of a Swedish "
        "municipality. Hint: the row looks like a total row ('Summa'); leave such rows out with "
        '`skip_rows: [{column: "Kommun", matches: "^Summa"}]` on the source in dataset.yaml. '
        "[unknown-municipality]",
    ]

    declare(home, "laddning", '        skip_rows: [{column: Kommun, matches: "^Summa"}]\n')
    result = run_cli(["validate", "laddning"], home)
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        [
            "laddning: valid (laddning 8 rows)",
            "Notering: laddning/sources/laddning.csv: 1 rad hoppades över enligt skip_rows "
            "('Kommun' ~ '^Summa'): rad 10",
            "    Note: laddning/sources/laddning.csv: 1 row left out by skip_rows "
            "('Kommun' ~ '^Summa'): row 10 [skip_rows]",
        ],
    )
    settings = load_settings(home=home)
    (table,) = collect_tables(settings, load(settings, "laddning"), workspace=new_workspace("x"))
    assert text_rows(table)[1] == ["1443", "Bollebygd", "6.03", "25"]


# -- CSV: every problem of the file in one run ------------------------------------------------

PLAIN_FIELDS = [
    {"name": "id", "type": "integer"},
    {"name": "namn", "type": "string"},
    {"name": "antal", "type": "integer", "constraints": {"minimum": 0}},
]


def plain(root: Path, text: str, extra: str = "") -> Path:
    source = csv_source(extra)
    return make_home(root, "prov", PLAIN_FIELDS, source, {"sources/data.csv": text.encode()})


def test_control_characters_rows_of_the_wrong_width_and_bad_cells_all_at_once(
    tmp_path: Path,
) -> None:
    text = "id,namn,antal\n1,a\x01,5\n2,b,5,5\n3,c,-1\n4,d\x00\x02,tio\n5,e\n6,f,6\n"
    home = plain(tmp_path, text)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1, result.stderr
    where = "prov/sources/data.csv"
    assert result.stdout.splitlines() == [
        "prov: invalid (6 problems; prov 6 rows)",
        f"{where}, rad 2, kolumn 'namn': 'a\\x01' innehåller styrtecknet U+0001, som "
        "textverktyg, XML och webbsidor inte kan visa och som oftast kommer från en trasig "
        "export; ta bort det i källan.",
        f"    {where}, row 2, column 'namn': 'a\\x01' holds the control character U+0001, "
        "which text tools, XML and web pages cannot show and which usually comes from a broken "
        "export; remove it from the source. [control-character]",
        f"{where}, rad 3: raden har 4 celler men rubrikraden har 3. Tips: en cell som "
        'innehåller avgränsaren "," måste stå inom citattecken. Ett tal med decimalkomma delas '
        'i två celler i en kommaseparerad fil; sätt det inom citattecken ("1,5"), eller spara '
        'filen semikolonavgränsad och ange `delimiter: ";"` och `decimal: ","` för källan i '
        "dataset.yaml.",
        f"    {where}, row 3: the row has 4 cells where the header has 3. Hint: a cell that "
        'holds the delimiter "," must be quoted. A number with a decimal comma splits into two '
        'cells in a comma-separated file; quote it ("1,5"), or save the file separated by '
        'semicolons and declare `delimiter: ";"` and `decimal: ","` on the source in '
        "dataset.yaml. [extra-cell]",
        f"{where}, rad 4, kolumn 'antal': '-1' är mindre än 0, det minsta tillåtna.",
        f"    {where}, row 4, column 'antal': '-1' is less than 0, the smallest allowed. "
        "[constraint-error]",
        f"{where}, rad 5, kolumn 'namn': 'd\\x00\\x02' innehåller styrtecknet U+0000 (NUL), "
        "som textverktyg, XML och webbsidor inte kan visa och som oftast kommer från en trasig "
        "export; ta bort det i källan.",
        f"    {where}, row 5, column 'namn': 'd\\x00\\x02' holds the control character U+0000 "
        "(NUL), which text tools, XML and web pages cannot show and which usually comes from a "
        "broken export; remove it from the source. [control-character]",
        f"{where}, rad 5, kolumn 'antal': 'tio' är inte ett heltal.",
        f"    {where}, row 5, column 'antal': 'tio' is not a whole number. [type-error]",
        f"{where}, rad 6: raden har 2 celler men rubrikraden har 3.",
        f"    {where}, row 6: the row has 2 cells where the header has 3. [missing-cell]",
    ]


def test_legend_symbols_and_spaced_thousands_get_their_hint(tmp_path: Path) -> None:
    home = plain(tmp_path, 'id,namn,antal\n1,a,..\n2,b,"1 234"\n')
    result = run_cli(["validate", "prov"], home)
    assert result.stdout.splitlines()[1::2] == [
        "prov/sources/data.csv, rad 2, kolumn 'antal': '..' är inte ett heltal. Tips: '..' är "
        "ett tecken ur tabellens teckenförklaring; ange vad det betyder med "
        '`symbols: {"..": null}` (saknas) eller `symbols: {"..": 0}` (noll) för källan i '
        "dataset.yaml.",
        "prov/sources/data.csv, rad 3, kolumn 'antal': '1 234' är inte ett heltal. Tips: talet "
        'har mellanslag mellan tusentalen; ta bort dem, eller ange `decimal: ","` för källan '
        '(då läses "1 234,5" som 1234.5).',
    ]
    plain(tmp_path, 'id,namn,antal\n1,a,..\n2,b,"1 234"\n', ', symbols: {"..": null}')
    result = run_cli(["validate", "prov"], home)
    assert result.stdout.splitlines()[1:] == [
        "prov/sources/data.csv, rad 3, kolumn 'antal': '1 234' är inte ett heltal. Tips: talet "
        'har mellanslag mellan tusentalen; ta bort dem, eller ange `decimal: ","` för källan '
        '(då läses "1 234,5" som 1234.5).',
        "    prov/sources/data.csv, row 3, column 'antal': '1 234' is not a whole number. Hint: "
        'the number has spaces between its thousands; remove them, or declare `decimal: ","` '
        'on the source (then "1 234,5" reads as 1234.5). [type-error]',
    ]


def test_notes_below_a_csv_table_end_it_where_declared(tmp_path: Path) -> None:
    text = "id,namn,antal\n1,a,1\n2,b,2\n\nAnm: siffrorna är preliminära\n"
    home = plain(tmp_path, text)
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1] == (
        "prov/sources/data.csv, rad 5: raden har 1 celler men rubrikraden har 3."
    )
    for extra in (", stop_at_empty_row: true", ", last_data_row: 3"):
        plain(tmp_path, text, extra)
        result = run_cli(["validate", "prov"], home)
        assert (result.returncode, result.stdout) == (0, "prov: valid (prov 2 rows)\n"), extra


def test_a_large_csv_ends_at_its_last_data_row_or_first_empty_row(tmp_path: Path) -> None:
    """Across the reader's blocks (a row number past the first block) and its parallel
    reading (a blank line makes it read again, serially)."""
    rows = [f"{i},n{i},{i}" for i in range(1, 300_001)]
    notes = ["", "Källa: prov", "1) en fotnot, med komma"]
    home = plain(tmp_path, "id,namn,antal\n" + "\n".join(rows + notes) + "\n")
    settings = load_settings(home=home)

    def staged() -> tuple[int, str]:
        (table,) = collect_tables(settings, load(settings, "prov"), workspace=new_workspace("x"))
        return table.row_count, sorted_origins(table)[-1]

    set_source(home, csv_source(", stop_at_empty_row: true"))
    assert staged() == (300_000, "prov/sources/data.csv, row 300001")
    set_source(home, csv_source(", last_data_row: 250001"))
    assert staged() == (250_000, "prov/sources/data.csv, row 250001")


def set_source(home: Path, source: str, name: str = "prov") -> None:
    """Rewrite the dataset's one source, as a steward edits dataset.yaml."""
    path = home / "datasets" / name / "dataset.yaml"
    path.write_text(DEFINITION % {"name": name, "source": source}, "utf-8")


def csv_source(extra: str = "") -> str:
    return "{kind: csv, path: sources/data.csv" + extra + "}"


# -- fields no column fills --------------------------------------------------------------------


def test_a_field_no_column_fills_is_a_problem_unless_declared_left_empty(tmp_path: Path) -> None:
    fields = [*PLAIN_FIELDS, {"name": "kommentar", "type": "string"}]
    home = make_home(
        tmp_path,
        "prov",
        fields,
        csv_source(),
        {"sources/data.csv": b"id,namn,antal\n1,a,1\n"},
    )
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "prov: invalid (1 problem; prov 1 row)",
        "prov/sources/data.csv, fält 'kommentar': ingen kolumn fyller fältet 'kommentar' i "
        "schemat prov.json: rubrikraden har ingen kolumn som heter 'kommentar'; lägg till "
        "kolumnen, koppla en kolumn till fältet med `columns`, ge värdet i `constants`, eller "
        "ange `left_empty: [kommentar]` för källan i dataset.yaml om fältet ska vara tomt.",
        "    prov/sources/data.csv, field 'kommentar': no column fills field 'kommentar' of "
        "schema prov.json: the header has no column titled 'kommentar'; add the column, map one "
        "to it with `columns`, give it in `constants`, or declare `left_empty: [kommentar]` on "
        "the source in dataset.yaml if the field is empty on purpose. [missing-label]",
    ]
    set_source(home, csv_source(", left_empty: [kommentar]"))
    result = run_cli(["validate", "prov"], home)
    assert (result.returncode, result.stdout) == (0, "prov: valid (prov 1 row)\n")

    set_source(home, csv_source(", left_empty: [kommentarer]"))
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: {home / 'datasets/prov/dataset.yaml'}: resources.0.sources.0.left_empty: "
        "'kommentarer' is not a field of schema prov.json (its fields: 'id', 'namn', 'antal', "
        "'kommentar')\n"
    )
    set_source(home, csv_source(", left_empty: [namn]"))
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2
    assert result.stderr.endswith(
        "resources.prov.sources.0: left_empty: 'namn' is filled by this source (column 'namn'); "
        "take it out of left_empty\n"
    )


def test_a_bad_row_filter_is_a_definition_error(tmp_path: Path) -> None:
    home = plain(tmp_path, "id,namn,antal\n1,a,1\n", ', skip_rows: [{column: namn, matches: "(a"}]')
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 2
    assert "resources.0.sources.0.csv.skip_rows.0.matches: Value error, not a regular " in (
        result.stderr
    )
    plain(tmp_path, "id,namn,antal\n1,a,1\n", ", skip_rows: [{column: Namn, matches: x}]")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    assert "skip_rows 'Namn': column 'Namn' is not in prov/sources/data.csv" in result.stderr


# -- publishing, and what machines read --------------------------------------------------------


def test_publish_reports_the_steward_lines_and_a_source_error_is_invalid(tmp_path: Path) -> None:
    home = forskola(tmp_path)
    laddning(home)
    store = home / "public"
    result = run_cli(["publish", "--offline", "--no-prefect", "--store", str(store)], home)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"forskola\s+invalid\s+-\s+-", lines[1]), lines
    assert re.fullmatch(r"laddning\s+invalid\s+-\s+-", lines[2]), lines  # its encoding
    assert "forskola: forskola is invalid (5 problems), nothing published:\n" in result.stderr
    assert f"\n{XLSX}, Blad1!C6, kolumn 'Antal barn': 'ca 30' är inte ett heltal.\n" in (
        result.stderr
    )
    assert f"laddning: {CSV}: not valid utf-8 (byte 94, line 3)" in result.stderr
    assert not (store / "datasets").exists()


def test_problems_keep_their_machine_readable_keys_and_gain_the_human_ones(
    tmp_path: Path,
) -> None:
    home = forskola(tmp_path)
    settings = load_settings(home=home)
    workspace = new_workspace("forskola")
    tables = collect_tables(settings, load(settings, "forskola"), workspace=workspace)
    report = validate_tables("forskola", tables, scratch=workspace)
    first = asdict(report.problems[0])
    assert first == {
        "resource": "forskola",
        "code": "type-error",
        "message": "'ca 30': type is \"integer/default\"",
        "row": 6,  # the sheet's row, as in the origin (issue 19: it was the 4th table row)
        "field": "antal",
        "origin": f"{XLSX}, sheet 'Blad1', row 6",
        "column": "Antal barn",
        "cell": "Blad1!C6",
        "message_sv": "'ca 30' är inte ett heltal",
        "message_en": "'ca 30' is not a whole number",
    }
    assert report.counts == {
        "forskola": {
            "type-error": 2,
            "constraint-error": 1,
            "unknown-municipality": 1,
            "unsaved-formula": 1,
        }
    }
    assert [p["code"] for p in report.to_dict()["errors"]] == [
        "type-error",
        "constraint-error",
        "type-error",
        "unknown-municipality",
        "unsaved-formula",
    ]
    # The report in the Prefect UI: the sheet's row and cell, what is wrong in both languages.
    outcome = {"dataset": "forskola", "problems": [asdict(p) for p in report.problems]}
    assert (
        "| 6<br>Blad1\\!C6 | Antal barn | ca 30 | är inte ett heltal<br>*is not a whole number* |"
    ) in reporting.invalid_report(outcome)


@pytest.mark.parametrize(
    ("sheet", "reference"), [("Blad1", "Blad1!C6"), ("Tabell 4", "'Tabell 4'!C6")]
)
def test_a_sheet_name_is_quoted_in_a_cell_reference_as_excel_does(
    tmp_path: Path, sheet: str, reference: str
) -> None:
    rows = [list(row) for row in FORSKOLA_ROWS[:11]]
    home = make_home(
        tmp_path,
        "forskola",
        FORSKOLA_FIELDS,
        FORSKOLA.replace("sheet: Blad1", f"sheet: {sheet}"),
        {"sources/forskola.xlsx": workbook(rows, sheet)},
    )
    result = run_cli(["validate", "forskola"], home)
    assert result.stdout.splitlines()[1].startswith(f"{XLSX}, {reference}, kolumn 'Antal barn'")


# -- every bad row, whatever the mix ----------------------------------------------------------

ROW_KINDS = {
    "good": ("{i},n{i},{i}", None),
    "blank": ("", None),
    "type": ("{i},n{i},x{i}", "type-error"),
    "negative": ("{i},n{i},-{i}", "constraint-error"),
    "control": ("{i},n\x01{i},{i}", "control-character"),
    "extra": ("{i},n{i},{i},{i}", "extra-cell"),
    "missing": ("{i},n{i}", "missing-cell"),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(ROW_KINDS)), min_size=1, max_size=30))
def test_every_bad_row_of_a_csv_is_reported_once_in_row_order(kinds: list[str]) -> None:
    """Whatever the mix of good, blank and bad rows, one run reports each bad row once, at its
    own row number, in row order (the reader goes on past the problems it meets)."""
    import tempfile

    lines = ["id,namn,antal"]
    expected = []
    for i, kind in enumerate(kinds, start=1):
        template, code = ROW_KINDS[kind]
        lines.append(template.format(i=i))
        if code is not None:
            expected.append((f"prov/sources/data.csv, row {len(lines)}", code))
    if all(
        ROW_KINDS[kind][1] in ("extra-cell", "missing-cell") or kind == "blank" for kind in kinds
    ):
        lines.append("0,n0,0")  # a table of no rows is refused before validation
    with tempfile.TemporaryDirectory(prefix="steward-") as folder:
        home = plain(Path(folder), "\n".join(lines) + "\n")
        settings_ = load_settings(home=home)
        workspace = home / "work"
        tables = collect_tables(settings_, load(settings_, "prov"), workspace=workspace)
        report = validate_tables("prov", tables, scratch=workspace)
    assert [(p.origin, p.code) for p in report.problems] == expected
    assert sum(report.counts["prov"].values()) == len(expected)


# -- a real layout: Trafikanalys' "Fordon i län och kommuner 2025" ------------------------------

FORDON = "datasets/personbilar-drivmedel/sources/fordon-i-lan-och-kommuner-2025.xlsx"
BILAR = """kind: xlsx
        path: sources/fordon.xlsx
        sheet: Tabell 4 Personbil
        header_row: 4
        first_data_row: 8
        municipality: {name: Kommun, members_only: false}
        columns: {bensin: Bensin, el: El}
"""
BILAR_FIELDS = [
    {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
    {"name": "kommun", "type": "string"},
    {"name": "bensin", "type": "integer"},
    {"name": "el", "type": "integer"},
]


def test_the_real_fordon_table_read_by_name_needs_its_county_and_total_rows_left_out(
    tmp_path: Path,
) -> None:
    """The README's example: every municipality of Sweden, read by name, from the file as
    Trafikanalys publishes it (a county subtotal after each county's municipalities, then
    "Okänd kommun", "Okänt län" and "Hela riket")."""
    content = (FIXTURE_HOME / FORDON).read_bytes()
    home = make_home(tmp_path, "bilar", BILAR_FIELDS, BILAR, {"sources/fordon.xlsx": content})
    result = run_cli(["validate", "bilar"], home)
    assert result.returncode == 1, result.stderr
    where = "bilar/sources/fordon.xlsx, 'Tabell 4 Personbil'"
    assert result.stdout.splitlines()[:2] == [
        "bilar: invalid (24 problems; bilar 290 rows)",
        f"{where}!B34, kolumn 'Kommun': kommunens namn saknas. Tips: raden ser ut som en "
        "summarad ('Stockholms län'); hoppa över sådana rader med "
        '`skip_rows: [{column: "Kommun-", matches: "län$"}]` för källan i dataset.yaml.',
    ]
    settings_ = load_settings(home=home)
    workspace = home / "work"
    tables = collect_tables(settings_, load(settings_, "bilar"), workspace=workspace)
    last = [p.explain().splitlines()[0] for p in validate_tables("bilar", tables).problems][-3:]
    assert last == [
        f"{where}!B319, kolumn 'Kommun': 'Okänd kommun2)  ' är inte namnet på en svensk kommun.",
        f"{where}!B320, kolumn 'Kommun': kommunens namn saknas. Tips: raden ser ut som en "
        "summarad ('Okänt län'); hoppa över sådana rader med "
        '`skip_rows: [{column: "Kommun-", matches: "län$"}]` för källan i dataset.yaml.',
        f"{where}!B321, kolumn 'Kommun': kommunens namn saknas. Tips: raden ser ut som en "
        "summarad ('Hela riket'); hoppa över sådana rader med "
        '`skip_rows: [{column: "Kommun-", matches: "^Hela riket"}]` för källan i dataset.yaml.',
    ]
    declare(
        home,
        "bilar",
        """        skip_rows:
          - {column: Kommun-, matches: "län$"}
          - {column: Kommun-, matches: "^Hela riket"}
          - {column: Kommun, matches: "^Okänd kommun"}
""",
    )
    result = run_cli(["validate", "bilar"], home)
    lines = result.stdout.splitlines()
    assert (result.returncode, lines[0]) == (0, "bilar: valid (bilar 290 rows)")
    # Each rule's rows are counted, the first ones named (a row two rules match: the first's).
    place = "bilar/sources/fordon.xlsx, sheet 'Tabell 4 Personbil'"
    assert lines[2::2] == [
        f"    Note: {place}: 22 rows left out by skip_rows ('Kommun-' ~ 'län$'): rows 34, 43, "
        "53, 67, 81, 90, 103, 105, 111, 145, … [skip_rows]",
        f"    Note: {place}: 1 row left out by skip_rows ('Kommun-' ~ '^Hela riket'): row 321 "
        "[skip_rows]",
        f"    Note: {place}: 1 row left out by skip_rows ('Kommun' ~ '^Okänd kommun'): row 319 "
        "[skip_rows]",
    ]


def test_a_file_full_of_bad_cells_lists_the_first_and_counts_them_all(tmp_path: Path) -> None:
    rows = [f"{i},n\x07{i},{'x' if i % 2 else i}" for i in range(1, 251)]
    home = plain(tmp_path, "id,namn,antal\n" + "\n".join(rows) + "\n")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "prov: invalid (200 problems; prov 250 rows)"
    assert [line.split(",")[1] for line in lines[1:41:2]] == [
        f" rad {n}" for n in (2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 10, 10, 11, 12, 12, 13, 14, 14)
    ]
    assert lines[41:] == [
        "... och 355 fel till / ... and 355 more problems",
        "    in all: type-error 125, control-character 250",
    ]


@pytest.mark.parametrize(
    ("extra", "rows"),
    [
        ("", 3),  # the table ends at its first empty row (the notes follow one)
        (", last_data_row: 7", 5),  # empty rows above the declared end are skipped
        (", last_data_row: 7, stop_at_empty_row: true", 3),
        (", stop_at_empty_row: false", 6),  # to the sheet's end: the note is a row
    ],
)
def test_where_a_sheet_s_table_ends(tmp_path: Path, extra: str, rows: int) -> None:
    sheet = [["id", "namn", "antal"], [1, "a", 1], [2, "b", 2], [3, "c", 3], []]
    sheet += [[4, "d", 4], [5, "e", 5], [], ["Anm: preliminära siffror"]]
    source = "{kind: xlsx, path: sources/data.xlsx, sheet: Blad1, header_row: 1" + extra + "}"
    home = make_home(tmp_path, "prov", PLAIN_FIELDS, source, {"sources/data.xlsx": workbook(sheet)})
    settings_ = load_settings(home=home)
    (table,) = collect_tables(settings_, load(settings_, "prov"), workspace=home / "work")
    assert table.row_count == rows


# -- rows left out as layout -------------------------------------------------------------------


def test_blank_lines_and_lines_of_only_delimiters_are_counted_in_the_report(
    tmp_path: Path,
) -> None:
    """Not dropped without a word: the CLI names them, validation.json counts them (a line of
    only delimiters with the header's width or not, a line of spaces, an empty line)."""
    text = "id,namn,antal\n\n1,a,1\n,,\n2,b,2\n\n  \n3,c,3\n,\n4,d,4\n,,,,\n"
    home = plain(tmp_path, text)
    result = run_cli(["validate", "prov"], home)
    place = "prov/sources/data.csv"
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        [
            "prov: valid (prov 4 rows)",
            f"Notering: {place}: 6 tomma rader hoppades över: rader 2, 4, 6, 7, 9, 11",
            f"    Note: {place}: 6 blank rows left out: rows 2, 4, 6, 7, 9, 11 [blank-row]",
        ],
    )
    settings_ = load_settings(home=home)
    tables = collect_tables(settings_, load(settings_, "prov"), workspace=home / "work")
    (entry,) = validate_tables("prov", tables).to_dict()["resources"]
    assert entry["left_out"] == [
        {
            "source": place,
            "reason": "blank-row",
            "rule": "",
            "count": 6,
            "rows": ["row 2", "row 4", "row 6", "row 7", "row 9", "row 11"],
        }
    ]


def test_blank_rows_inside_a_sheet_table_are_counted_and_its_margins_are_not(
    tmp_path: Path,
) -> None:
    """A sheet read past its empty rows (`last_data_row`): the empty rows inside the table are
    counted; the one under its last row and the notes' gap are the sheet's margin."""
    rows = [list(row) for row in FORSKOLA_ROWS[:7]] + [[], [None, None], *FORSKOLA_ROWS[7:11]]
    rows = [[cell if cell != "ca 30" else 30 for cell in row] for row in rows]
    rows = [[cell if cell != -4 else 4 for cell in row] for row in rows]
    rows = [[cell if cell != "91,5" else 91.5 for cell in row] for row in rows]
    home = forskola(tmp_path, rows)
    declare(home, "forskola", "        last_data_row: 13\n")
    result = run_cli(["validate", "forskola"], home)
    place = "forskola/sources/forskola.xlsx, sheet 'Blad1'"
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        [
            "forskola: valid (forskola 8 rows)",
            f"Notering: {place}: 2 tomma rader hoppades över: rader 8, 9",
            f"    Note: {place}: 2 blank rows left out: rows 8, 9 [blank-row]",
        ],
    )
