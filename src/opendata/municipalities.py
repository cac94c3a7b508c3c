"""Swedish municipality codes and the members of Boråsregionen.

Sources key municipalities by code (SCB kommunkod, four characters) or by name. The national
register lets the collectors map every name to a code and fail loudly on a name that does not
map, instead of silently dropping it as "not a member".
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache
from importlib import resources

# Boråsregionen (Sjuhärads kommunalförbund): the eight member municipalities.
MEMBERS: dict[str, str] = {
    "1442": "Vårgårda",
    "1443": "Bollebygd",
    "1452": "Tranemo",
    "1463": "Mark",
    "1465": "Svenljunga",
    "1466": "Herrljunga",
    "1490": "Borås",
    "1491": "Ulricehamn",
}


_WHOLE_FLOAT = re.compile(r"(\d{3,4})\.0+")


@cache
def national_register() -> dict[str, str]:
    """All 290 municipalities, code -> name (SCB BE0101, division of 2025-01-01)."""
    text = resources.files("opendata").joinpath("data/kommuner.csv").read_text("utf-8")
    return {row["kommunkod"]: row["kommun"] for row in csv.DictReader(text.splitlines())}


@cache
def _codes_by_folded_name() -> dict[str, str]:
    return {_fold(name): code for code, name in national_register().items()}


def _fold(name: str) -> str:
    """Names compared as readers see them: in NFC ("Borå" + a combining ring is "Borås"),
    any case, stray spaces."""
    folded = " ".join(unicodedata.normalize("NFC", name).split()).casefold()
    return unicodedata.normalize("NFC", folded)


def code_for_name(name: str) -> str | None:
    """The code of a municipality name as sources write it (any case, stray spaces)."""
    return _codes_by_folded_name().get(_fold(name))


def normalise_code(value: object) -> str | None:
    """A municipality code as four characters of text, or None if `value` is not one.

    Spreadsheets store codes as numbers (114 for 0114); county rows ("01", "14"), unknown
    municipalities ("12AA") and totals are not municipality codes.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
        whole = _WHOLE_FLOAT.fullmatch(text)  # "1490.0": a spreadsheet's number as text
        if whole:
            text = whole.group(1)
    else:
        return None
    if text.isdigit() and len(text) in (3, 4):
        return text.zfill(4)
    return None
