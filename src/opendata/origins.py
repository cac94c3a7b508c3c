"""Where a row came from, as the readers wrote it (`x/sources/a.xlsx, sheet 'Blad1', row 6`):
its parts read back, and the source's column title and spreadsheet cell of a field in it, for
what a steward reads about a problem."""

from __future__ import annotations

import ast
import contextlib
import re

from opendata.messages import sheet_reference
from opendata.tables import SourceLayout, Table

# An origin's parts: the file, a spreadsheet's sheet, the row (line, record) and what follows
# (a melted column, a JSON path). Origins are written by the readers in opendata.collect.
ORIGIN_PARTS = re.compile(
    r"^(?P<file>.+?)(?P<sheet>, sheet (?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?"
    r", (?P<word>row|record|line) (?P<number>\d+)(?P<rest>.*)$",
    re.S,
)
MELTED = re.compile(r", column ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")$", re.S)
SWEDISH_WORDS = {"row": "rad", "line": "rad", "record": "post"}


def source_row(origin: str | None, position: int | None) -> int | None:
    """A problem's `row`: the row (line, record) of the source file its origin names, which is
    what a steward finds in the file; the table's row where the origin names none (a constant,
    a whole source)."""
    parts = ORIGIN_PARTS.match(origin or "")
    return int(parts["number"]) if parts else position


def layout_of(table: Table, origin: str | None) -> SourceLayout | None:
    """The source a row came from: the layout whose place its origin starts with."""
    if origin is None:
        return None
    best: SourceLayout | None = None
    for layout in table.layouts:
        inside = origin == layout.place or origin.startswith(layout.place + ",")
        if inside and (best is None or len(layout.place) > len(best.place)):
            best = layout
    return best


def column_of(layout: SourceLayout | None, name: str | None, origin: str | None) -> str | None:
    """The source's title of the column a field came from (a melted row: its column)."""
    if layout is None or name is None:
        return None
    melted = MELTED.search(origin or "")
    if melted and name not in layout.columns and name not in layout.constants:
        with contextlib.suppress(ValueError, SyntaxError):
            return str(ast.literal_eval(melted.group(1)))
    return layout.columns.get(name)


def cell_of(layout: SourceLayout | None, column: str | None, origin: str | None) -> str | None:
    """A spreadsheet cell as Excel names it (`Blad1!C6`, `'Tabell 4'!C6`)."""
    if layout is None or layout.sheet is None or column is None or column not in layout.letters:
        return None
    parts = ORIGIN_PARTS.match(origin or "")
    if parts is None:
        return None
    return f"{sheet_reference(layout.sheet)}!{layout.letters[column]}{parts['number']}"
