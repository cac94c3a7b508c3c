"""Years in a title or description that are not the data's period: a warning, never an error.

After a delivery of next year's figures the data's period moves on while dataset.yaml's title
still says "2015–2024" (and with it the citation and the DCAT title). `opendata validate` and the
run's outcome warn (`stale-years`), naming dataset.yaml, the key and both spans, in Swedish and
English; the dataset stays valid, is published, and the exit code is 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opendata.periods import claims, stated_years
from tests.conftest import copy_home, run_cli

SCHEMA = {
    "fields": [
        {"name": "ar", "type": "year"},
        {"name": "varde", "type": "integer"},
    ],
    "primaryKey": ["ar"],
}
DEFINITION = """title:
  sv: {title_sv}
  en: {title_en}
description:
  sv: {description_sv}
  en: {description_en}
contact_point: {{name: Prov, email: prov@example.org}}
sources: [{{title: Prov, publisher: Prov}}]
{extra}resources:
  - name: data
    title: {{sv: Data}}
    schema: prov.json
    sources:
      - {{kind: csv, path: sources/data.csv}}
"""


def prov_home(
    root: Path,
    years: range,
    title: str = "Prov 2015–2024",
    description: str = "Värden 2015–2024 ur prov.",
    extra: str = "",
) -> Path:
    """A home with the one dataset `prov`: a value per year of `years`."""
    (root / "schemas").mkdir(parents=True)
    (root / "schemas/prov.json").write_text(json.dumps(SCHEMA), "utf-8")
    folder = root / "datasets/prov"
    (folder / "sources").mkdir(parents=True)
    (folder / "sources/data.csv").write_text(
        "ar,varde\n" + "".join(f"{year},{year - 2000}\n" for year in years), "utf-8"
    )
    english = {"Prov": "Sample", "Värden": "Values", "ur prov": "from the sample"}
    text_en = {}
    for key, text in (("title", title), ("description", description)):
        for sv, en in english.items():
            text = text.replace(sv, en)
        text_en[key] = text
    (folder / "dataset.yaml").write_text(
        DEFINITION.format(
            title_sv=title,
            title_en=text_en["title"],
            description_sv=description,
            description_en=text_en["description"],
            extra=extra,
        ),
        "utf-8",
    )
    return root


# title.sv, title.en, description.sv, description.en: each in Swedish, then in English.
WARNINGS = [
    f"{verdict} prov/dataset.yaml, {key}: {text}"
    for key in ("title.sv", "title.en", "description.sv", "description.en")
    for verdict, text in (
        (
            "Varning:",
            "texten anger åren 2015–2024, men data omfattar 2015–2025. Rätta årtalen eller ta "
            "bort dem; data publiceras ändå.",
        ),
        (
            "    Warning:",
            "the text names the years 2015–2024, but the data covers 2015–2025. Correct the "
            "years or leave them out; the data is published all the same. [stale-years]",
        ),
    )
]


def test_a_title_behind_the_data_is_a_warning_and_the_dataset_stays_valid(tmp_path: Path) -> None:
    home = prov_home(tmp_path, range(2015, 2026))
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["prov: valid (data 11 rows)", *WARNINGS]
    assert result.stderr == ""


def test_years_that_match_the_data_give_no_warning(tmp_path: Path) -> None:
    home = prov_home(tmp_path, range(2015, 2025), title="Prov 2015-2024")  # a hyphen is a dash
    result = run_cli(["validate", "prov"], home)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "prov: valid (data 10 rows)\n",
        "",
    )


def test_a_warning_comes_beside_the_problems_of_an_invalid_dataset(tmp_path: Path) -> None:
    home = prov_home(tmp_path, range(2015, 2026))
    source = home / "datasets/prov/sources/data.csv"
    source.write_text(source.read_text("utf-8").replace("2020,20", "2020,tjugo"), "utf-8")
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "prov: invalid (1 problem; data 11 rows)",
        "prov/sources/data.csv, rad 7, kolumn 'varde': 'tjugo' är inte ett heltal.",
        "    prov/sources/data.csv, row 7, column 'varde': 'tjugo' is not a whole number. "
        "[type-error]",
    ]
    assert lines[3:] == WARNINGS


def test_a_declared_period_is_the_one_compared(tmp_path: Path) -> None:
    home = prov_home(
        tmp_path,
        range(2015, 2025),
        title="Prov 2024",
        description="Värden ur prov.",
        extra="temporal: {start: '2015', end: '2024'}\n",
    )
    result = run_cli(["validate", "prov"], home)
    assert result.returncode == 0
    assert result.stdout.splitlines()[1:3] == [
        "Varning: prov/dataset.yaml, title.sv: texten anger året 2024, men perioden som "
        "dataset.yaml anger (temporal) är 2015–2024. Rätta årtalen eller ta bort dem; data "
        "publiceras ändå.",
        "    Warning: prov/dataset.yaml, title.sv: the text names the year 2024, but the period "
        "dataset.yaml declares (temporal) is 2015–2024. Correct the years or leave them out; the "
        "data is published all the same. [stale-years]",
    ]
    assert len(result.stdout.splitlines()) == 5  # title.sv and title.en


def test_a_description_states_its_period_first(tmp_path: Path) -> None:
    """Only a description's first span or list of years is its period; later years name
    sources and events (SCB's 1950–2022 table, "antagen 2019")."""
    home = prov_home(
        tmp_path,
        range(2015, 2026),
        title="Prov",
        description="Värden 2015–2022 och 2025, ur en tabell 1950–2022, antagen 2019.",
    )
    result = run_cli(["validate", "prov"], home)
    assert (result.returncode, result.stdout) == (0, "prov: valid (data 11 rows)\n")


def test_publish_warns_publishes_and_exits_0(tmp_path: Path) -> None:
    home = prov_home(tmp_path, range(2015, 2026))
    result = run_cli(["publish", "--no-prefect", "prov"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1].split() == ["prov", "published", "1.0.0", "11"]
    assert result.stderr == "\n" + "\n".join(WARNINGS) + "\n"
    descriptor = json.loads((home / "public/datasets/prov/1.0.0/datapackage.json").read_bytes())
    assert descriptor["temporal"] == {"start": "2015-01-01", "end": "2025-12-31"}
    assert descriptor["title"] == "Prov 2015–2024"  # published as the steward wrote it

    again = run_cli(["publish", "--no-prefect", "--json", "prov"], home)
    assert again.returncode == 0, again.stderr
    (outcome,) = json.loads(again.stdout)
    assert outcome["status"] == "unchanged"
    assert [
        (w["code"], w["file"], w["key"], w["stated"], w["period"]) for w in outcome["warnings"]
    ] == [
        ("stale-years", "prov/dataset.yaml", key, "2015–2024", "2015–2025")
        for key in ("title.sv", "title.en", "description.sv", "description.en")
    ]


SHEET_2024 = """      - kind: xlsx
        path: sources/be0101_tabhel2024.xlsx
        sheet: Totalt
        header_row: 6
        first_data_row: 10
        municipality: {code: Kommun}
        columns: {folkmangd: Folkmängd}
        constants: {ar: 2024}
"""


def test_a_delivered_year_in_befolkning_warns_about_its_title(tmp_path: Path) -> None:
    """The issue's case on the real (frozen) befolkning: one more source entry for 2025 (the
    2024 sheet again, standing in for SCB's 2025 file, which the project does not have), and the
    title, description, citation and DCAT title still say 2015–2024."""
    home = copy_home(tmp_path / "home", "befolkning")
    definition = home / "datasets/befolkning/dataset.yaml"
    text = definition.read_text("utf-8")
    assert text.count(SHEET_2024) == 1
    definition.write_text(
        text.replace(SHEET_2024, SHEET_2024 + SHEET_2024.replace("{ar: 2024}", "{ar: 2025}")),
        "utf-8",
    )
    result = run_cli(["validate", "befolkning"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "befolkning: valid (kommuner 8 rows, folkmangd 88 rows)"
    assert lines[1:3] == [
        "Varning: befolkning/dataset.yaml, title.sv: texten anger åren 2015–2024, men data "
        "omfattar 2015–2025. Rätta årtalen eller ta bort dem; data publiceras ändå.",
        "    Warning: befolkning/dataset.yaml, title.sv: the text names the years 2015–2024, but "
        "the data covers 2015–2025. Correct the years or leave them out; the data is published "
        "all the same. [stale-years]",
    ]
    keys = [line.split(", ")[1].split(":")[0] for line in lines[1::2]]
    assert keys == ["title.sv", "title.en", "description.sv", "description.en"]


@pytest.mark.parametrize(
    ("text", "stated"),
    [
        ("Folkmängd i Boråsregionens kommuner 2015–2024", [("2015–2024", 2015, 2024)]),
        ("Population 2015-2024", [("2015-2024", 2015, 2024)]),
        ("(1990, 2000, 2005, 2020–2024), totalt", [("1990, 2000, 2005, 2020–2024", 1990, 2024)]),
        ("2015–2022 och 2025, och", [("2015–2022 och 2025", 2015, 2025)]),
        ("2015–2022 and 2025", [("2015–2022 and 2025", 2015, 2025)]),
        ("december 2025 (laddpunkter)", [("2025", 2025, 2025)]),
        ("indelningen 2025-01-01", []),
        ("2020-03-01 – 2023-12-31", []),
        ("Fossilfri Boråsregion 2.0, 16 mål, 850 000 kr, SE2120001678", []),
    ],
)
def test_the_years_a_text_states(text: str, stated: list[tuple[str, int, int]]) -> None:
    assert [(s.text, s.first, s.last) for s in stated_years(text)] == stated


def test_a_description_claims_only_its_first_span_or_list() -> None:
    assert claims("antagen 2019, planen 2021–2030", title=False) == []
    assert [s.text for s in claims("2015–2024; 1950–2022", title=False)] == ["2015–2024"]
    assert [s.text for s in claims("Plan 2021–2030, beslutad 2021", title=True)] == [
        "2021–2030",
        "2021",
    ]
