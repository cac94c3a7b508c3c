"""The collectors against the REAL source files, value by value: the tests' frozen copies of
datasets/*/sources/ (tests/fixtures/home/), so that a steward's delivery (a new year, a new
sheet) changes none of the figures pinned here.

Every expectation here is what a researcher would check by opening the file: pinned figures
copied from the spreadsheets, JSON and CSV, and a full cross-check of the collected rows
against an independent reading of the same files with pandas, openpyxl, json and csv (never
with the project's own reader code).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from opendata.config import load_settings
from opendata.engine.outputs import sorted_origins, text_rows
from opendata.preparing import collect_tables, load
from opendata.tables import Table
from tests.conftest import FIXTURE_HOME

DATASETS = FIXTURE_HOME / "datasets"

MEMBERS = {
    "1442": "Vårgårda",
    "1443": "Bollebygd",
    "1452": "Tranemo",
    "1463": "Mark",
    "1465": "Svenljunga",
    "1466": "Herrljunga",
    "1490": "Borås",
    "1491": "Ulricehamn",
}
CODE_BY_NAME = {name: code for code, name in MEMBERS.items()}

POPULATION_YEARS = [str(year) for year in range(2015, 2025)]
EMISSION_YEARS = ["1990", "2000", "2005", "2010", "2015", "2020", "2021", "2022", "2023", "2024"]
CAR_YEARS = [*(str(year) for year in range(2015, 2023)), "2025"]
FUELS = ["bensin", "diesel", "el", "elhybrid", "laddhybrid", "etanol", "gas", "ovriga"]
CAR_FIELDS = [*FUELS, "totalt"]

# Which file (and sheet) each year of personbilar must come from: the fuel table, never the
# ownership table (2017: 'Tabell 3' is ownership, 'Tabell 4' is fuel).
CAR_SOURCES = {
    "2015": ("fordon_lan_och_kommuner_2015.xlsx", "RSK-Tabell 3 2015"),
    "2016": ("fordon_lan_och_kommuner_2016.xlsx", "Tabell 3"),
    "2017": ("fordon_lan_och_kommuner_2017_rev.xlsx", "Tabell 4"),
    "2018": ("fordon_lan_och_kommuner_2018.xlsx", "Tabell 4"),
    "2019": ("fordon_lan_och_kommuner_2019.xlsx", "Tabell 4"),
    "2020": ("fordon_lan_och_kommuner_2020.xlsx", "Tabell 4"),
    "2021": ("fordon_lan_och_kommuner_2021.xlsx", "Tabell 4"),
    "2022": ("fordon_lan_och_kommuner_2022.xlsx", "Tabell 4 Personbil"),
    "2025": ("fordon-i-lan-och-kommuner-2025.xlsx", "Tabell 4 Personbil"),
}

ORIGIN_XLSX = re.compile(
    r"^(?P<dataset>[^/]+)/sources/(?P<file>[^,]+), sheet '(?P<sheet>[^']+)', row (?P<row>\d+)"
)


# --- helpers -------------------------------------------------------------------------------


def records(table: Table) -> list[dict[str, str]]:
    """The table's rows as dicts keyed by field name (values are the canonical CSV text)."""
    return [dict(zip(table.fields, row, strict=True)) for row in text_rows(table)]


def by_key(table: Table, *key: str) -> dict[tuple[str, ...], dict[str, str]]:
    """Rows keyed by the given fields; fails on a duplicate key."""
    out: dict[tuple[str, ...], dict[str, str]] = {}
    for row in records(table):
        k = tuple(row[name] for name in key)
        assert k not in out, f"{table.name}: duplicate key {k}"
        out[k] = row
    return out


def count_text(value: Any) -> str:
    """A count cell of a statistics spreadsheet as integer text; '–' (the legend's zero) is 0."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped == "–":
            return "0"
        assert stripped.isdigit(), f"unexpected cell {value!r}"
        return stripped
    assert value is not None and not pd.isna(value), "empty count cell"
    assert float(value).is_integer(), f"non-integral count {value!r}"
    return str(int(value))


def code_text(value: Any) -> str | None:
    """A municipality code cell ('1490', 1490 or 1490.0) as four-character text."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not pd.isna(value) and float(value).is_integer():
        text = str(int(value))
    else:
        return None
    return text.zfill(4) if text.isdigit() and len(text) in (3, 4) else None


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings():
    return load_settings(home=FIXTURE_HOME)


@pytest.fixture(scope="module")
def befolkning(settings) -> dict[str, Table]:
    return {t.name: t for t in collect_tables(settings, load(settings, "befolkning"))}


@pytest.fixture(scope="module")
def vaxthusgas(settings) -> dict[str, Table]:
    return {t.name: t for t in collect_tables(settings, load(settings, "vaxthusgasutslapp"))}


@pytest.fixture(scope="module")
def personbilar(settings) -> dict[str, Table]:
    return {t.name: t for t in collect_tables(settings, load(settings, "personbilar-drivmedel"))}


# --- befolkning ----------------------------------------------------------------------------


def independent_population() -> dict[tuple[str, str], str]:
    """(kommunkod, year) -> population, read straight from the SCB spreadsheets with pandas."""
    sources = DATASETS / "befolkning" / "sources"
    out: dict[tuple[str, str], str] = {}

    wide = pd.read_excel(sources / "population_scb_1950-2022.xlsx", sheet_name="Tabell", header=5)
    wide.columns = [str(c).strip() for c in wide.columns]
    wide["Kommun"] = wide["Kommun"].astype("string").str.strip()
    for name, code in CODE_BY_NAME.items():
        matches = wide[wide["Kommun"] == name]
        assert len(matches) == 1, f"{name}: {len(matches)} rows in the 1950–2022 table"
        row = matches.iloc[0]
        for year in range(2015, 2023):
            out[(code, str(year))] = count_text(row[str(year)])

    for year in (2023, 2024):
        table = pd.read_excel(
            sources / f"be0101_tabhel{year}.xlsx",
            sheet_name="Totalt",
            header=5,
            dtype={"Kommun": str},
        )
        table = table.iloc[3:]  # header row 6, data from row 10
        for code in MEMBERS:
            matches = table[table["Kommun"].str.strip() == code]
            assert len(matches) == 1, f"{code}: {len(matches)} rows in BE0101 {year}"
            out[(code, str(year))] = count_text(matches.iloc[0]["Folkmängd"])
    return out


def test_folkmangd_has_every_member_and_year_once(befolkning):
    table = befolkning["folkmangd"]
    assert table.fields == ["kommunkod", "kommun", "ar", "folkmangd"]
    assert table.row_count == 80
    keys = by_key(table, "kommunkod", "ar")
    assert set(keys) == {(code, year) for code in MEMBERS for year in POPULATION_YEARS}
    for row in records(table):
        assert len(row["kommunkod"]) == 4 and row["kommunkod"].isdigit()
        assert row["kommun"] == MEMBERS[row["kommunkod"]]
        assert re.fullmatch(r"[1-9][0-9]*", row["folkmangd"]), row


@pytest.mark.parametrize(
    ("code", "year", "population"),
    [
        ("1490", "2015", "108488"),
        ("1490", "2022", "114445"),
        ("1490", "2023", "114592"),
        ("1490", "2024", "114872"),
        ("1442", "2015", "11165"),
        ("1463", "2015", "33906"),
        ("1463", "2022", "35329"),
        ("1442", "2023", "12384"),
        ("1442", "2024", "12474"),
    ],
)
def test_folkmangd_pinned_values(befolkning, code, year, population):
    assert by_key(befolkning["folkmangd"], "kommunkod", "ar")[(code, year)]["folkmangd"] == (
        population
    )


def test_folkmangd_every_row_matches_an_independent_reading(befolkning):
    expected = independent_population()
    assert len(expected) == 80
    got = {
        key: row["folkmangd"]
        for key, row in by_key(befolkning["folkmangd"], "kommunkod", "ar").items()
    }
    differences = {k: (expected[k], got.get(k)) for k in expected if got.get(k) != expected[k]}
    assert not differences, f"(kommunkod, ar): (source, collected): {differences}"
    assert got == expected


def test_kommuner_are_exactly_the_eight_members(befolkning):
    table = befolkning["kommuner"]
    assert table.fields == ["kommunkod", "kommun"]
    assert table.row_count == 8
    assert {row["kommunkod"]: row["kommun"] for row in records(table)} == MEMBERS

    # The names agree with SCB's own column in the file the list comes from.
    be0101 = pd.read_excel(
        DATASETS / "befolkning" / "sources" / "be0101_tabhel2024.xlsx",
        sheet_name="Totalt",
        header=5,
        dtype={"Kommun": str},
    )
    for code, name in MEMBERS.items():
        matches = be0101[be0101["Kommun"].str.strip() == code]
        assert len(matches) == 1
        assert str(matches.iloc[0]["Kommunnamn"]).strip() == name


# --- växthusgasutsläpp ---------------------------------------------------------------------


def member_records(path: Path) -> dict[str, dict[str, Any]]:
    """kommunkod -> the JSON record of that member, matched by its name."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for item in data:
        code = CODE_BY_NAME.get(item["name"])
        if code is not None:
            assert code not in out, f"{item['name']} twice in {path.name}"
            out[code] = item
    assert set(out) == set(MEMBERS)
    return out


def test_utslapp_totalt_equals_smhi_emissions(vaxthusgas):
    table = vaxthusgas["utslapp-totalt"]
    assert table.fields == ["kommunkod", "kommun", "ar", "utslapp_ton"]
    assert table.row_count == 8 * 10
    got = by_key(table, "kommunkod", "ar")
    assert set(got) == {(code, year) for code in MEMBERS for year in EMISSION_YEARS}

    source = member_records(
        DATASETS / "vaxthusgasutslapp" / "sources" / "klimatkollen-municipality-data.json"
    )
    for code, item in source.items():
        assert sorted(item["emissions"]) == EMISSION_YEARS
        for year, value in item["emissions"].items():
            row = got[(code, year)]
            assert row["kommun"] == MEMBERS[code]
            assert float(row["utslapp_ton"]) == value, (code, year, row, value)

    assert got[("1490", "2024")]["utslapp_ton"] == "271879.273"
    assert got[("1490", "1990")]["utslapp_ton"] == "471024.659"
    assert got[("1442", "1990")]["utslapp_ton"] == "92476.423"


def test_utslapp_sektor_equals_smhi_sectors(vaxthusgas):
    table = vaxthusgas["utslapp-sektor"]
    assert table.fields == ["kommunkod", "kommun", "ar", "sektor", "utslapp_ton"]
    assert table.row_count == 8 * 10 * 9
    got = by_key(table, "kommunkod", "ar", "sektor")

    source = member_records(
        DATASETS
        / "vaxthusgasutslapp"
        / "sources"
        / "klimatkollen-municipality-sector-emissions.json"
    )
    expected_keys = set()
    for code, item in source.items():
        assert sorted(item["sectors"]) == EMISSION_YEARS
        for year, sectors in item["sectors"].items():
            assert len(sectors) == 9
            for sector, value in sectors.items():
                expected_keys.add((code, year, sector))
                row = got[(code, year, sector)]
                assert row["kommun"] == MEMBERS[code]
                assert float(row["utslapp_ton"]) == value, (code, year, sector, row, value)
    assert set(got) == expected_keys

    sectors = {row["sektor"] for row in records(table)}
    assert len(sectors) == 9
    assert {"Transporter", "Avfall (inkl.avlopp)"} <= sectors
    assert got[("1490", "2024", "Transporter")]["utslapp_ton"] == "160354.83"
    assert got[("1490", "2024", "Avfall (inkl.avlopp)")]["utslapp_ton"] == "6587.18"
    assert got[("1490", "2024", "Utrikes transporter")]["utslapp_ton"] == "0"


def test_no_klimatkollen_derived_field_is_published(vaxthusgas):
    derived = {
        "totalTrend",
        "totalCarbonLaw",
        "trend",
        "approximatedHistoricalEmission",
        "emissionsSlope",
        "historicalEmissionChangePercent",
        "hitNetZero",
        "electricCarChangePercent",
    }
    for table in vaxthusgas.values():
        assert not derived & set(table.fields), table.name
        assert not {f.lower() for f in derived} & {f.lower() for f in table.fields}


# --- personbilar-drivmedel -----------------------------------------------------------------


def independent_cars(year: str, sheet: str, header_row: int) -> dict[str, dict[str, str]]:
    """kommunkod -> counts by fuel, read with pandas from the Trafikanalys spreadsheet."""
    filename, expected_sheet = CAR_SOURCES[year]
    assert sheet == expected_sheet
    frame = pd.read_excel(
        DATASETS / "personbilar-drivmedel" / "sources" / filename,
        sheet_name=sheet,
        header=header_row - 1,
    )
    columns = {" ".join(str(c).split()): c for c in frame.columns}
    elhybrid = "Elhybrider1)" if "Elhybrider1)" in columns else "Elhybrider"
    headers = {
        "bensin": "Bensin",
        "diesel": "Diesel",
        "el": "El",
        "elhybrid": elhybrid,
        "laddhybrid": "Laddhybrider",
        "etanol": "Etanol",
        "gas": "Gas",
        "ovriga": "Övriga",
        "totalt": "Totalt",
    }
    out: dict[str, dict[str, str]] = {}
    for _, row in frame.iterrows():
        code = code_text(row["Kommun-"])
        if code not in MEMBERS:
            continue
        assert code not in out, f"{code} twice in {filename}"
        assert str(row["Kommun"]).strip() == MEMBERS[code]
        out[code] = {field: count_text(row[columns[header]]) for field, header in headers.items()}
    assert set(out) == set(MEMBERS), filename
    return out


def test_personbilar_has_every_member_and_year_once(personbilar):
    table = personbilar["personbilar"]
    assert table.fields == ["kommunkod", "kommun", "ar", *CAR_FIELDS]
    assert table.row_count == 72
    keys = by_key(table, "kommunkod", "ar")
    assert set(keys) == {(code, year) for code in MEMBERS for year in CAR_YEARS}
    for row in records(table):
        assert row["kommun"] == MEMBERS[row["kommunkod"]]
        for field in CAR_FIELDS:
            assert re.fullmatch(r"0|[1-9][0-9]*", row[field]), (field, row)
        # Trafikanalys' fuels add up to the total in every row of every year.
        assert sum(int(row[fuel]) for fuel in FUELS) == int(row["totalt"]), row


def test_personbilar_boras_pinned(personbilar):
    rows = by_key(personbilar["personbilar"], "kommunkod", "ar")
    assert {f: rows[("1490", "2015")][f] for f in CAR_FIELDS} == {
        "bensin": "33114",
        "diesel": "14336",
        "el": "50",
        "elhybrid": "385",
        "laddhybrid": "130",
        "etanol": "2881",
        "gas": "806",
        "ovriga": "3",
        "totalt": "51705",
    }
    assert {f: rows[("1490", "2025")][f] for f in CAR_FIELDS} == {
        "bensin": "26238",
        "diesel": "14697",
        "el": "4395",
        "elhybrid": "3104",
        "laddhybrid": "3673",
        "etanol": "1666",
        "gas": "495",
        "ovriga": "0",  # the source shows '–', which the legend defines as zero
        "totalt": "54268",
    }


def test_personbilar_2017_comes_from_the_fuel_table(personbilar):
    row = by_key(personbilar["personbilar"], "kommunkod", "ar")[("1490", "2017")]
    assert row["totalt"] == "53608"
    assert row["bensin"] == "32046"
    assert row["diesel"] == "16989"

    # Independently: the fuel table is 'Tabell 4' in 2017; 'Tabell 3' is the ownership table.
    workbook = openpyxl.load_workbook(
        DATASETS / "personbilar-drivmedel" / "sources" / "fordon_lan_och_kommuner_2017_rev.xlsx",
        read_only=True,
        data_only=True,
    )
    try:
        title = workbook["Tabell 4"]["A3"].value
        assert "drivmedel" in title and "2017" in title
        assert "ägande" in workbook["Tabell 3"]["A3"].value
    finally:
        workbook.close()


@pytest.mark.parametrize("year", CAR_YEARS)
def test_personbilar_sheets_are_the_fuel_tables_of_their_year(year):
    filename, sheet = CAR_SOURCES[year]
    workbook = openpyxl.load_workbook(
        DATASETS / "personbilar-drivmedel" / "sources" / filename, read_only=True, data_only=True
    )
    try:
        titles = [
            str(row[0]) for row in workbook[sheet].iter_rows(max_row=4, values_only=True) if row
        ]
    finally:
        workbook.close()
    title = next(t for t in titles if t.startswith(("Personbilar", "Tabell 4.")))
    assert "Personbilar i trafik efter kommun och drivmedel" in title, title
    assert year in title, title


@pytest.mark.parametrize(
    ("year", "sheet", "header_row"),
    [
        ("2018", "Tabell 4", 6),
        ("2021", "Tabell 4", 4),
        ("2025", "Tabell 4 Personbil", 4),
    ],
)
def test_personbilar_matches_an_independent_reading(personbilar, year, sheet, header_row):
    expected = independent_cars(year, sheet, header_row)
    rows = by_key(personbilar["personbilar"], "kommunkod", "ar")
    got = {code: {f: rows[(code, year)][f] for f in CAR_FIELDS} for code in MEMBERS}
    differences = {
        (code, field): (expected[code][field], got[code][field])
        for code in MEMBERS
        for field in CAR_FIELDS
        if expected[code][field] != got[code][field]
    }
    assert not differences, f"{year}: (kommunkod, field): (source, collected): {differences}"


def test_laddinfrastruktur_matches_power_circle(personbilar):
    table = personbilar["laddinfrastruktur"]
    assert table.fields == [
        "kommunkod",
        "kommun",
        "manad",
        "laddpunkter",
        "laddstationer",
        "dc_laddstationer",
    ]
    assert table.row_count == 8
    got = by_key(table, "kommunkod")
    assert set(got) == {(code,) for code in MEMBERS}
    assert {row["manad"] for row in got.values()} == {"2025-12"}
    boras = got[("1490",)]
    assert (boras["laddpunkter"], boras["laddstationer"], boras["dc_laddstationer"]) == (
        "525",
        "80",
        "19",
    )

    path = (
        DATASETS / "personbilar-drivmedel" / "sources" / "powercircle-laddinfrastruktur-2025-12.csv"
    )
    with path.open(encoding="utf-8-sig", newline="") as handle:
        source = {row[""]: row for row in csv.DictReader(handle)}
    for code, name in MEMBERS.items():
        line = source[name.upper()]
        row = got[(code,)]
        assert row["kommun"] == name
        assert row["laddpunkter"] == line["Antal laddpunkter"]
        assert row["laddstationer"] == line["Antal laddstationer"]
        assert row["dc_laddstationer"] == line["DC laddstationer"]


# --- origins -------------------------------------------------------------------------------


def _first_cell(dataset: str, filename: str, sheet: str, row: int) -> Any:
    workbook = openpyxl.load_workbook(
        DATASETS / dataset / "sources" / filename, read_only=True, data_only=True
    )
    try:
        return next(workbook[sheet].iter_rows(min_row=row, max_row=row, values_only=True))[0]
    finally:
        workbook.close()


def test_folkmangd_origins_name_file_row_and_year_column(befolkning):
    table = befolkning["folkmangd"]
    assert len(sorted_origins(table)) == table.row_count
    for row, origin in zip(records(table), sorted_origins(table), strict=True):
        assert "row " in origin, origin
        if int(row["ar"]) <= 2022:
            assert "population_scb_1950-2022.xlsx" in origin, origin
            assert "sheet 'Tabell'" in origin, origin
            assert origin.endswith(f", column '{row['ar']}'"), origin
        else:
            assert f"be0101_tabhel{row['ar']}.xlsx" in origin, origin
            assert "sheet 'Totalt'" in origin and "column" not in origin, origin


def test_folkmangd_origin_rows_point_at_the_municipality(befolkning):
    table = befolkning["folkmangd"]
    seen: dict[tuple[str, str, int], Any] = {}
    for row, origin in zip(records(table), sorted_origins(table), strict=True):
        match = ORIGIN_XLSX.match(origin)
        assert match, origin
        place = (match["file"], match["sheet"], int(match["row"]))
        if place not in seen:
            seen[place] = _first_cell("befolkning", *place)
        cell = seen[place]
        if match["file"] == "population_scb_1950-2022.xlsx":
            assert str(cell).strip() == row["kommun"], (origin, cell)
        else:
            assert code_text(cell) == row["kommunkod"], (origin, cell)


def test_personbilar_origins_name_the_years_file_sheet_and_row(personbilar):
    table = personbilar["personbilar"]
    assert len(sorted_origins(table)) == table.row_count
    for row, origin in zip(records(table), sorted_origins(table), strict=True):
        filename, sheet = CAR_SOURCES[row["ar"]]
        match = ORIGIN_XLSX.match(origin)
        assert match, origin
        assert match["file"] == filename, origin
        assert match["sheet"] == sheet, origin
    # The row named for Borås 2025 holds Borås' code in the sheet.
    boras = [
        origin
        for row, origin in zip(records(table), sorted_origins(table), strict=True)
        if row["kommunkod"] == "1490" and row["ar"] in ("2015", "2025")
    ]
    for origin in boras:
        match = ORIGIN_XLSX.match(origin)
        assert match
        cell = _first_cell(
            "personbilar-drivmedel", match["file"], match["sheet"], int(match["row"])
        )
        assert code_text(cell) == "1490", (origin, cell)


def test_json_and_csv_origins(vaxthusgas, personbilar):
    for name, filename in (
        ("utslapp-totalt", "klimatkollen-municipality-data.json"),
        ("utslapp-sektor", "klimatkollen-municipality-sector-emissions.json"),
    ):
        table = vaxthusgas[name]
        for row, origin in zip(records(table), sorted_origins(table), strict=True):
            assert filename in origin, origin
            assert re.search(r"record \d+", origin), origin
            assert f"({row['kommun']})" in origin, origin
            path = (
                f"emissions.{row['ar']}"
                if name == "utslapp-totalt"
                else (f"sectors.{row['ar']}.{row['sektor']}")
            )
            assert origin.endswith(path), origin

    table = personbilar["laddinfrastruktur"]
    path = (
        DATASETS / "personbilar-drivmedel" / "sources" / "powercircle-laddinfrastruktur-2025-12.csv"
    )
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for row, origin in zip(records(table), sorted_origins(table), strict=True):
        match = re.fullmatch(r".*powercircle-laddinfrastruktur-2025-12\.csv, row (\d+)", origin)
        assert match, origin
        line = next(csv.reader([lines[int(match[1]) - 1]]))
        assert line[0] == row["kommun"].upper(), origin
