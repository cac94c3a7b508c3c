"""What a steward reads about a problem in a source: Swedish first, English beside.

The pieces shared by the readers (opendata.collect) and the validator (opendata.validate): how a
cell's value is quoted, where a problem is (file, `Blad1!C6`, row, column title), and the hints
for the common causes (a total row, a decimal comma, a delimiter, a legend symbol, an encoding).
Everything here is built only for the problems a report lists, never per row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SHOWN_CELL = 200  # characters of a cell quoted in a message

# A row that sums the others: what statistics tables call it (Totalt, Summa, Hela riket, …),
# and a county's subtotal ("Norrbottens län").
TOTAL_ROW = re.compile(
    r"^\s*(totalt?|summa|s:a|samtliga(?: kommuner)?|alla kommuner|hela riket|riket)\b"
    r"|^\s*\S.*\blän\s*$",
    re.IGNORECASE,
)
# A note under a table: a footnote ("1) Består …"), a source line, or a sentence.
NOTE_ROW = re.compile(
    r"^\s*(\d{1,2}\)|\*|källa\b|källor\b|anm\b|not\b|obs\b|fotnot)|^\s*\S+(\s+\S+){3,}",
    re.IGNORECASE,
)
ROW_NUMBER = re.compile(r", row (\d+)")
COUNTY = re.compile(r"\blän\s*$", re.IGNORECASE)
# Symbols statistics producers put in a cell instead of a number (SCB, Trafikanalys).
LEGEND_SYMBOLS = frozenset({"..", "...", "…", "-", "–", "—", ".", "x", "X", "*"})
DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d{1,3}(?:[ \u00a0.]?\d{3})*,\d+\s*$")
SPACED_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(?:[ \u00a0]\d{3})+(?:[.,]\d+)?\s*$")


@dataclass(frozen=True)
class Text:
    """One message in both languages."""

    sv: str
    en: str

    def __add__(self, other: Text) -> Text:
        return Text(_join(self.sv, other.sv), _join(self.en, other.en))


def _join(first: str, second: str) -> str:
    """Two sentences: the first ends with a full stop."""
    if not first or not second:
        return first or second
    first = first.rstrip()
    if not first.endswith((".", "!", "?")):
        first += "."
    return f"{first} {second.lstrip()}"


def shown(value: object) -> str:
    """A cell's value as a message quotes it: its repr (escapes show control characters),
    cut at `SHOWN_CELL` characters with the length said."""
    text = str(value)
    quoted = repr(text if len(text) <= SHOWN_CELL else text[:SHOWN_CELL])
    if len(text) > SHOWN_CELL:
        quoted += f" … ({len(text):,} characters)"
    return quoted


def yaml_text(value: str) -> str:
    """`value` as a YAML string a steward can paste into dataset.yaml (JSON's quoting is YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def total_row(value: str) -> str | None:
    """The words that make `value` look like a total (or county subtotal) row, or None."""
    match = TOTAL_ROW.search(value)
    if not match:
        return None
    return (match.group(1) or value).strip()


NUMBER_LIKE = re.compile(r"^\s*[+-]?[\d\s\u00a0.,]*\d[\d\s\u00a0.,]*\s*$")


def total_in_row(cells: dict[str, object]) -> tuple[str, str] | None:
    """The column and text that make a row look like a total: a cell that says so (Totalt,
    Summa, Hela riket), or a county's name ("Norrbottens län") as the row's only text but
    numbers and legend symbols (a column of county names beside a municipality's name is no
    subtotal)."""
    texts = {
        name: value
        for name, value in cells.items()
        if isinstance(value, str)
        and value.strip()
        and not NUMBER_LIKE.match(value)
        and value.strip() not in LEGEND_SYMBOLS
    }
    for name, value in texts.items():
        match = TOTAL_ROW.search(value)
        if match and match.group(1):
            return name, value
    if len(texts) == 1:
        ((name, value),) = texts.items()
        if COUNTY.search(value):
            return name, value
    return None


def total_row_hint(column: str | None, value: str) -> Text:
    """How to leave a total row out: `skip_rows` with the row's own words (a county's
    subtotal: every title that ends with "län")."""
    words = total_row(value) or value.strip()
    county = COUNTY.search(words)
    pattern = "län$" if county else "^" + re.escape(words).replace("\\ ", " ")
    declaration = (
        f"skip_rows: [{{column: {yaml_text(column or '')}, matches: {yaml_text(pattern)}}}]"
    )
    return Text(
        f"Tips: raden ser ut som en summarad ({shown(words)}); hoppa över sådana rader med "
        f"`{declaration}` för källan i dataset.yaml.",
        f"Hint: the row looks like a total row ({shown(words)}); leave such rows out with "
        f"`{declaration}` on the source in dataset.yaml.",
    )


def note_row_hint(value: str, origin: str) -> Text | None:
    """A row that reads as a note under the table (a footnote, a sentence): where the table
    should end (`last_data_row`, the row above), or None."""
    numbers = ROW_NUMBER.findall(origin)
    if not NOTE_ROW.search(value) or not numbers:
        return None
    above = int(numbers[-1]) - 1
    start = shown(value if len(value) <= 40 else value[:40].rstrip() + "…")
    return Text(
        f"Tips: raden ser ut som en anteckning under tabellen ({start}); avsluta tabellen "
        f"ovanför den med `last_data_row: {above}` för källan i dataset.yaml.",
        f"Hint: the row looks like a note below the table ({start}); end the table above it "
        f"with `last_data_row: {above}` on the source in dataset.yaml.",
    )


def number_hint(value: str, kind: str, decimal: str, delimiter: str = ",") -> Text | None:
    """Why a number did not read, when the cause is a common one (else None)."""
    text = value.strip()
    if text in LEGEND_SYMBOLS:
        return Text(
            f"Tips: {shown(text)} är ett tecken ur tabellens teckenförklaring; ange vad det "
            f"betyder med `symbols: {{{yaml_text(text)}: null}}` (saknas) eller "
            f"`symbols: {{{yaml_text(text)}: 0}}` (noll) för källan i dataset.yaml.",
            f"Hint: {shown(text)} is a symbol of the table's legend; declare what it means with "
            f"`symbols: {{{yaml_text(text)}: null}}` (missing) or "
            f"`symbols: {{{yaml_text(text)}: 0}}` (zero) on the source in dataset.yaml.",
        )
    if DECIMAL_COMMA.match(text) and decimal != ",":
        if kind == "csv":
            also_sv = also_en = ""
            if delimiter != ";":
                also_sv = ' (en CSV-fil från svenska Excel har det, och `delimiter: ";"`)'
                also_en = ' (a CSV file from Swedish Excel has one, and `delimiter: ";"`)'
            return Text(
                f'Tips: talet har decimalkomma; ange `decimal: ","` för källan i dataset.yaml'
                f"{also_sv}.",
                f'Hint: the number has a decimal comma; declare `decimal: ","` on the source in '
                f"dataset.yaml{also_en}.",
            )
        return Text(
            "Tips: cellen är text med decimalkomma, inte ett tal; skriv in talet som ett tal.",
            "Hint: the cell is text with a decimal comma, not a number; enter it as a number.",
        )
    if SPACED_THOUSANDS.match(text):
        if kind == "csv" and decimal != ",":
            return Text(
                "Tips: talet har mellanslag mellan tusentalen; ta bort dem, eller ange "
                '`decimal: ","` för källan (då läses "1 234,5" som 1234.5).',
                "Hint: the number has spaces between its thousands; remove them, or declare "
                '`decimal: ","` on the source (then "1 234,5" reads as 1234.5).',
            )
        return Text(
            "Tips: talet har mellanslag mellan tusentalen; ta bort dem.",
            "Hint: the number has spaces between its thousands; remove them.",
        )
    return None


def delimiter_hint(header: list[str], delimiter: str) -> Text | None:
    """A header read as one column that holds another delimiter: the file is separated by it."""
    titled = [title for title in header if title]
    for candidate, name_sv, name_en in ((";", "semikolon", "semicolons"), ("\t", "tabb", "tabs")):
        if candidate != delimiter and len(titled) == 1 and candidate in titled[0]:
            return Text(
                f"Tips: rubrikraden lästes som en enda kolumn med {name_sv} i; filen är "
                f"avgränsad med {name_sv}: ange `delimiter: {yaml_text(candidate)}` för källan "
                "i dataset.yaml"
                + (' (och `decimal: ","` om talen har decimalkomma).' if candidate == ";" else "."),
                f"Hint: the header was read as one column holding {name_en}; the file is "
                f"separated by {name_en}: declare `delimiter: {yaml_text(candidate)}` on the "
                "source in dataset.yaml"
                + (
                    ' (and `decimal: ","` if its numbers have a decimal comma).'
                    if candidate == ";"
                    else "."
                ),
            )
    return None


def sheet_reference(sheet: str) -> str:
    """A sheet's name as Excel writes it in a reference: quoted unless a plain word."""
    if re.fullmatch(r"[^\W\d]\w*", sheet) and not re.fullmatch(r"[A-Za-z]{1,3}\d+", sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


def stale_years(stated: str, one_year: bool, period: str, declared: bool) -> Text:
    """A title or description that names other years than the data's period (`stale-years`, a
    warning: the data is published all the same)."""
    years_sv, years_en = ("året", "the year") if one_year else ("åren", "the years")
    if declared:
        period_sv = f"perioden som dataset.yaml anger (temporal) är {period}"
        period_en = f"the period dataset.yaml declares (temporal) is {period}"
    else:
        period_sv, period_en = f"data omfattar {period}", f"the data covers {period}"
    return Text(
        f"texten anger {years_sv} {stated}, men {period_sv}. Rätta årtalen eller ta bort dem; "
        "data publiceras ändå.",
        f"the text names {years_en} {stated}, but {period_en}. Correct the years or leave them "
        "out; the data is published all the same.",
    )
