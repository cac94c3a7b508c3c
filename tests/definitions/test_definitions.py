"""Dataset definitions and sources: every mistake is a clear error naming the file and key."""

from __future__ import annotations

import codecs
import json
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from opendata.config import load_settings
from opendata.engine.outputs import text_rows
from opendata.errors import DefinitionError, SourceError
from opendata.preparing import collect_tables, load
from opendata.validate import validate_tables
from tests.conftest import FIXTURE_HOME


def edit(workspace: Path, name: str, old: str, new: str) -> Path:
    path = workspace / "datasets" / name / "dataset.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


def collect(workspace: Path, name: str) -> None:
    settings = load_settings(home=workspace)
    collect_tables(settings, load(settings, name))


def test_unknown_key(workspace: Path) -> None:
    path = edit(
        workspace,
        "befolkning",
        "        sheet: Tabell\n",
        "        sheet: Tabell\n        sheeet: x\n",
    )
    with pytest.raises(DefinitionError) as caught:
        collect(workspace, "befolkning")
    assert str(caught.value) == f"{path}: resources.1.sources.0.xlsx.sheeet: unknown key"


def test_unknown_source_kind(workspace: Path) -> None:
    path = edit(workspace, "avfallsplan", "      - kind: csv\n", "      - kind: excel\n")
    with pytest.raises(DefinitionError) as caught:
        collect(workspace, "avfallsplan")
    assert str(caught.value).startswith(f"{path}: resources.0.sources.0: Input tag 'excel'")


def test_missing_source_file(workspace: Path) -> None:
    path = edit(workspace, "avfallsplan", "path: sources/mal.csv", "path: sources/maal.csv")
    with pytest.raises(DefinitionError) as caught:
        collect(workspace, "avfallsplan")
    assert (
        str(caught.value) == f"{path}: resources.1.sources.0.path: no such file 'sources/maal.csv'"
    )


@pytest.mark.parametrize("escape", ["../befolkning/sources/be0101_tabhel2024.xlsx", "/etc/passwd"])
def test_paths_never_leave_the_dataset_folder(workspace: Path, escape: str) -> None:
    path = edit(workspace, "avfallsplan", "path: sources/mal.csv", f"path: {escape}")
    with pytest.raises(DefinitionError) as caught:
        collect(workspace, "avfallsplan")
    assert str(caught.value) == (
        f"{path}: resources.1.sources.0.csv.path: Value error, must be a path inside the "
        "dataset folder (no '..', not absolute)"
    )


def test_a_symlink_out_of_the_dataset_folder_is_refused(workspace: Path) -> None:
    target = workspace / "datasets/avfallsplan/sources/mal.csv"
    target.unlink()
    target.symlink_to(workspace / "datasets/handlingsplan/sources/mal.csv")
    with pytest.raises(DefinitionError, match="leaves the dataset folder"):
        collect(workspace, "avfallsplan")


def test_schema_outside_schemas_folder(workspace: Path) -> None:
    path = edit(
        workspace, "avfallsplan", "schema: avfallsplan-mal.json", "schema: ../../etc/x.json"
    )
    with pytest.raises(DefinitionError) as caught:
        collect(workspace, "avfallsplan")
    assert (
        str(caught.value)
        == f"{path}: resources.1.schema: '../../etc/x.json' leaves the schemas folder"
    )


def test_missing_sheet(workspace: Path) -> None:
    path = edit(workspace, "befolkning", "sheet: Tabell\n", "sheet: Tabell 1\n")
    with pytest.raises(SourceError) as caught:
        collect(workspace, "befolkning")
    assert str(caught.value) == (
        f"{path}: resources.folkmangd.sources.0: sheet: befolkning/sources/"
        "population_scb_1950-2022.xlsx has no sheet 'Tabell 1' (sheets: 'Tabell')"
    )


def test_missing_column(workspace: Path) -> None:
    path = edit(
        workspace,
        "befolkning",
        "columns: {folkmangd: Folkmängd}",
        "columns: {folkmangd: Folkmangd}",
    )
    with pytest.raises(SourceError) as caught:
        collect(workspace, "befolkning")
    message = str(caught.value)
    assert message.startswith(
        f"{path}: resources.folkmangd.sources.1: folkmangd: column 'Folkmangd' is not in "
        "befolkning/sources/be0101_tabhel2023.xlsx (columns: 'Kommun', 'Kommunnamn', 'Folkmängd',"
    )


def problems(workspace: Path, name: str) -> list[str]:
    """The validation report's problems, as `Problem.describe` words them."""
    settings = load_settings(home=workspace)
    tables = collect_tables(settings, load(settings, name))
    return [p.describe() for p in validate_tables(name, tables).problems]


def test_a_name_that_is_no_municipality_fails_loudly(workspace: Path) -> None:
    source = workspace / "datasets/vaxthusgasutslapp/sources/klimatkollen-municipality-data.json"
    source.write_text(
        source.read_text("utf-8").replace('"name": "Mark"', '"name": "Marks kommun"'), "utf-8"
    )
    found = problems(workspace, "vaxthusgasutslapp")
    label = "vaxthusgasutslapp/sources/klimatkollen-municipality-data.json"
    assert found[0] == (
        f"{label}, field kommunkod: missing-member: member municipalities missing: Mark (1463)"
    )
    assert re.fullmatch(
        f"{label}, record \\d+ \\(Marks kommun\\), emissions.1990, field kommunkod: "
        "unknown-municipality: 'Marks kommun' is not "
        "the name of a Swedish municipality",
        found[1],
    )
    assert len(found) == 2


def test_a_member_missing_from_a_source_fails(workspace: Path) -> None:
    source = (
        workspace
        / "datasets/personbilar-drivmedel/sources/powercircle-laddinfrastruktur-2025-12.csv"
    )
    lines = source.read_text("utf-8-sig").splitlines(keepends=True)
    source.write_text("".join(line for line in lines if not line.startswith('"TRANEMO"')), "utf-8")
    assert problems(workspace, "personbilar-drivmedel") == [
        "personbilar-drivmedel/sources/powercircle-laddinfrastruktur-2025-12.csv, field "
        "kommunkod: missing-member: member municipalities missing: Tranemo (1452)"
    ]


def test_a_wrongly_encoded_csv_names_the_file_and_the_fix(workspace: Path) -> None:
    source = workspace / "datasets/avfallsplan/sources/malomraden.csv"
    source.write_bytes(source.read_text("utf-8").encode("latin-1"))
    with pytest.raises(SourceError) as caught:
        collect(workspace, "avfallsplan")
    assert str(caught.value).startswith(
        "avfallsplan/sources/malomraden.csv: not valid utf-8 (byte "
    )
    assert "declare the file's `encoding` in dataset.yaml" in str(caught.value)


@pytest.mark.parametrize("wide", ["utf-16", "utf-32", "utf-16-be"])
def test_a_utf16_or_utf32_csv_is_named_as_such_not_given_the_cp1252_hint(
    workspace: Path, wide: str
) -> None:
    """Excel's "Unicode text" export is UTF-16 with a byte-order mark: the message names the
    encoding and the fix, never the Windows-1252 hint, which would be wrong."""
    source = workspace / "datasets/avfallsplan/sources/malomraden.csv"
    text = source.read_text("utf-8")
    encoded = text.encode(wide)
    if wide == "utf-16-be":
        encoded = codecs.BOM_UTF16_BE + encoded
    source.write_bytes(encoded)
    with pytest.raises(SourceError) as caught:
        collect(workspace, "avfallsplan")
    name = "UTF-32" if wide == "utf-32" else "UTF-16"
    assert str(caught.value).startswith(
        f"avfallsplan/sources/malomraden.csv: the file is {name} (it begins with a {name} "
        "byte-order mark"
    ), str(caught.value)
    assert "save it as CSV UTF-8" in str(caught.value)
    assert "cp1252" not in str(caught.value)


def test_a_declared_encoding_reads_the_file(workspace: Path) -> None:
    source = workspace / "datasets/avfallsplan/sources/malomraden.csv"
    source.write_bytes(source.read_text("utf-8").encode("cp1252"))
    edit(
        workspace,
        "avfallsplan",
        "kind: csv\n        path: sources/malomraden.csv",
        "kind: csv\n        path: sources/malomraden.csv\n        encoding: cp1252",
    )
    settings = load_settings(home=workspace)
    tables = collect_tables(settings, load(settings, "avfallsplan"))
    assert text_rows(tables[0])[0][1] == "Hushåll med maten"


def test_a_malformed_xlsx_is_a_source_error(workspace: Path) -> None:
    (workspace / "datasets/befolkning/sources/be0101_tabhel2023.xlsx").write_bytes(
        b"not a zip file"
    )
    with pytest.raises(
        SourceError, match=r"be0101_tabhel2023\.xlsx: not a readable \.xlsx workbook"
    ):
        collect(workspace, "befolkning")


def test_a_malformed_json_names_the_line(workspace: Path) -> None:
    source = workspace / "datasets/vaxthusgasutslapp/sources/klimatkollen-municipality-data.json"
    source.write_text('[{"name": "Borås",\n "emissions": }]', "utf-8")
    with pytest.raises(SourceError) as caught:
        collect(workspace, "vaxthusgasutslapp")
    assert str(caught.value) == (
        "vaxthusgasutslapp/sources/klimatkollen-municipality-data.json: malformed JSON at line 2: "
        "Expecting value"
    )


def test_a_dataset_folder_needs_a_slug_name(tmp_path: Path) -> None:
    from opendata.definitions import load_dataset

    folder = tmp_path / "datasets" / "Befolkning 2"
    shutil.copytree(FIXTURE_HOME / "datasets/avfallsplan", folder)
    with pytest.raises(DefinitionError, match="is not a slug"):
        load_dataset(folder, FIXTURE_HOME / "schemas")


def test_a_decomposed_name_is_the_municipality_and_is_published_composed(workspace: Path) -> None:
    """Issue 19, item 3: "Borå" + a combining ring (as macOS writes it) is Borås: matched in
    NFC, published in NFC; no problem."""
    source = workspace / "datasets/vaxthusgasutslapp/sources/klimatkollen-municipality-data.json"
    text = source.read_text("utf-8")
    decomposed = unicodedata.normalize("NFD", "Borås")
    assert decomposed != "Borås" and '"name": "Borås"' in text
    source.write_text(text.replace('"name": "Borås"', f'"name": "{decomposed}"'), "utf-8")
    assert problems(workspace, "vaxthusgasutslapp") == []


def test_a_format_character_in_a_cell_is_a_problem_naming_it(workspace: Path) -> None:
    """A right-to-left override (U+202E) shows text reversed without being seen: a problem
    with its cell, as control characters are; the schema can allow it for a field."""
    source = workspace / "datasets/avfallsplan/sources/malomraden.csv"
    text = source.read_text("utf-8")
    source.write_text(text.replace("Sortera mera", "Sortera \u202emera"), "utf-8")
    found = problems(workspace, "avfallsplan")
    assert found == [
        "avfallsplan/sources/malomraden.csv, row 5, field malomrade: format-character: "
        "'Sortera \\u202emera' holds the invisible format character U+202E (RIGHT-TO-LEFT "
        "OVERRIDE), which changes how the text is shown or matched without being seen; remove "
        'it from the source (or allow it with `"opendata:allowFormatCharacters": true` on the '
        "field in its Table Schema)"
    ]
    schema = workspace / "schemas/avfallsplan-malomraden.json"
    document = json.loads(schema.read_text("utf-8"))
    for field in document["fields"]:
        if field["name"] == "malomrade":
            field["opendata:allowFormatCharacters"] = True
    schema.write_text(json.dumps(document), "utf-8")
    assert problems(workspace, "avfallsplan") == []


def test_a_code_a_spreadsheet_wrote_as_a_whole_float_is_the_code() -> None:
    from opendata.municipalities import normalise_code

    assert normalise_code("1490.0") == "1490"
    assert normalise_code(" 114.00 ") == "0114"
    assert normalise_code("1490.5") is None
    assert normalise_code(1490.0) == "1490"


def test_every_file_kind_a_definition_accepts_has_a_reader() -> None:
    """A file format dataset.yaml accepts (`kind: csv`, …) is read, never a KeyError mid-run:
    a new format adds its source class and its line in READERS together."""
    from typing import get_args

    from opendata.collect.formats import READERS
    from opendata.definitions import FileSource

    kinds = {
        get_args(cls.model_fields["kind"].annotation)[0] for cls in FileSource.__subclasses__()
    }
    assert kinds == set(READERS) == {"csv", "xlsx", "json"}
