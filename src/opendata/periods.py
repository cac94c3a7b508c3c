"""Years a dataset's title or description names, checked against the period of its data.

A steward delivers next year's figures (a new SCB sheet, one more source entry) and the data's
period moves on, while dataset.yaml's title still says "2015–2024" — and with it the citation,
the DCAT title and the pages. Nothing stops the data from being published (it is right); the
validation report gets a warning (`stale-years`) naming dataset.yaml, the key and both spans.

Which years are a statement of the period:

- in a title (`title.sv`, `title.en`), every year, span or list of them ("2015–2024",
  "2015-2024", "2024", "2015–2022 och 2025");
- in a description, the first span or list of years (its opening names the period: "…
  2015–2024, enligt SCB"); a lone year there, and later years, name other things (a source's
  own span "1950–2022", "antagen 2019", "2023 och 2024 ur BE0101-tabellerna").

A list covers its first to its last year; it is stale when either differs from the first and
the last year of the data's period (`package.temporal_coverage`: the definition's `temporal`,
else the span of the data's year and date fields). A dataset without a period is not checked.
Dates ("2025-01-01", "2020-03-01 – 2023-12-31") are not years here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from opendata.definition_files import DEFINITION_FILE
from opendata.definitions import Dataset
from opendata.messages import stale_years
from opendata.tables import Table
from opendata.validate import ReportWarning

YEAR = r"(?:18|19|20|21)\d\d"
DASH = r"\s*[-–—]\s*"
# A year or a span of years, not part of a date, a longer number or a decimal.
ITEM = re.compile(
    rf"(?<![\w.,:/–—-])(?<![\d.:/–—-]\s)(?P<first>{YEAR})(?:{DASH}(?P<last>{YEAR}))?"
    r"(?![\d]|[-–—/.:]\d)"
)
# What joins the items of one list: "1990, 2000 och 2020–2024", "2015–2022 and 2025".
JOINER = re.compile(r"\s*,\s*|\s+(?:och|samt|and|&)\s+|\s*&\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Stated:
    """Years as a text states them: the words as written, their first and last year."""

    text: str
    first: int
    last: int
    items: int
    span: bool


def stated_years(text: str) -> list[Stated]:
    """Every year, span of years or list of them in `text`, in order."""
    found = list(ITEM.finditer(text))
    groups: list[list[re.Match[str]]] = []
    for match in found:
        if groups and JOINER.fullmatch(text[groups[-1][-1].end() : match.start()]):
            groups[-1].append(match)
        else:
            groups.append([match])
    stated = []
    for group in groups:
        years = [int(y) for m in group for y in (m["first"], m["last"]) if y is not None]
        stated.append(
            Stated(
                text=text[group[0].start() : group[-1].end()],
                first=min(years),
                last=max(years),
                items=len(group),
                span=any(m["last"] is not None for m in group),
            )
        )
    return stated


def claims(text: str, *, title: bool) -> list[Stated]:
    """The years in `text` that state the data's period (the module's docstring says which)."""
    stated = stated_years(text)
    if title:
        return stated
    return stated[:1] if stated and (stated[0].span or stated[0].items > 1) else []


def shown(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


def stale_year_warnings(dataset: Dataset, tables: Sequence[Table]) -> list[ReportWarning]:
    """A `stale-years` warning for each title or description (sv, en) whose years are not the
    data's period; none when the texts name no years or the data has no period."""
    definition = dataset.definition
    texts: list[tuple[str, str, bool]] = []
    for key, value, title in (
        ("title", definition.title, True),
        ("description", definition.description, False),
    ):
        for language in ("sv", "en"):
            text = getattr(value, language) if value is not None else None
            if text and claims(text, title=title):
                texts.append((f"{key}.{language}", text, title))
    if not texts:
        return []  # nothing to compare: the period is not even computed
    from opendata.package import temporal_coverage

    period = temporal_coverage(dataset, tables)
    if period is None:
        return []
    first, last = int(period["start"][:4]), int(period["end"][:4])
    declared = definition.temporal is not None
    where = f"{dataset.name}/{DEFINITION_FILE}"
    warnings = []
    for key, text, title in texts:
        for claim in claims(text, title=title):
            if (claim.first, claim.last) == (first, last):
                continue
            message = stale_years(
                claim.text, claim.first == claim.last, shown(first, last), declared
            )
            warnings.append(
                ReportWarning(
                    code="stale-years",
                    file=where,
                    key=key,
                    message_sv=message.sv,
                    message_en=message.en,
                    stated=claim.text,
                    period=shown(first, last),
                )
            )
    return warnings
