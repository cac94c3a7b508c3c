"""Every kind of problem a validation report can list, declared once: its code, its title in
Swedish and English, what it means, and who finds it.

frictionless-py declares each error type once, with its title and description (`errors/`); so do
we, for frictionless's codes that our engine reports and for our own. The codes are the report's
machine-readable contract (validation.json, the `--json` output, the artifacts); the titles are
what the Prefect UI's report and the README call them. A code used anywhere else in the code base
must be declared here (tests/validation/test_problems.py reads the source to hold it to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Who finds a problem: frictionless's checks of the Table Schema (reproduced by the engine),
# the readers while they read a source, or our own rules beside the schema's; a "warning" is no
# problem (the data is valid and published) but is reported the same way.
FoundBy = Literal["schema", "reader", "rule", "warning"]


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: `cell` when it is about one cell's value (such problems are listed
    per type, the first LISTED_PER_TYPE of each, and counted)."""

    code: str
    sv: str
    en: str
    description: str
    found_by: FoundBy
    cell: bool = False

    @property
    def title(self) -> str:
        """Swedish first, English beside: 'fel sorts värde / wrong kind of value'."""
        return f"{self.sv} / {self.en}"


_DECLARED = (
    # frictionless's codes (the reference for what is valid), as the engine reports them
    ProblemType(
        "type-error",
        "fel sorts värde",
        "wrong kind of value",
        "A cell cannot be read as its field's type (a word in a number column, a date in "
        "another format than the field's).",
        "schema",
        cell=True,
    ),
    ProblemType(
        "constraint-error",
        "värdet bryter mot en regel",
        "the value breaks a rule",
        "A cell breaks one of its field's constraints (required, minimum, maximum, pattern, "
        "enum, length).",
        "schema",
        cell=True,
    ),
    ProblemType(
        "primary-key",
        "samma nyckel två gånger",
        "the same key twice",
        "Two rows have the same values in the primary key's fields.",
        "schema",
    ),
    ProblemType(
        "unique-error",
        "värdet finns redan",
        "the value is already there",
        "A field whose values must be unique holds one twice.",
        "schema",
    ),
    ProblemType(
        "foreign-key",
        "okänd hänvisning",
        "unknown reference",
        "A row refers to a row of another resource (or of its own) that does not exist.",
        "schema",
    ),
    ProblemType(
        "missing-cell",
        "cell saknas",
        "a cell is missing",
        "A row has fewer cells than the header.",
        "schema",
    ),
    ProblemType(
        "extra-cell",
        "cell för mycket",
        "one cell too many",
        "A row has more cells than the header.",
        "schema",
    ),
    ProblemType("blank-row", "tom rad", "empty row", "A row whose cells are all empty.", "schema"),
    ProblemType(
        "extra-label",
        "kolumn för mycket",
        "one column too many",
        "The header has a column no field of the schema takes.",
        "schema",
    ),
    ProblemType(
        "missing-label",
        "kolumn saknas",
        "a column is missing",
        "A field of the schema has no column in the header.",
        "schema",
    ),
    ProblemType(
        "blank-label",
        "kolumn utan rubrik",
        "a column without a title",
        "A column of the header has no title.",
        "schema",
    ),
    ProblemType(
        "duplicate-label",
        "samma rubrik två gånger",
        "the same title twice",
        "Two columns of the header have the same title.",
        "schema",
    ),
    ProblemType(
        "incorrect-label",
        "fel rubrik",
        "wrong title",
        "A column's title is not its field's name.",
        "schema",
    ),
    ProblemType(
        "source-error",
        "filen kan inte läsas",
        "the file cannot be read",
        "A source file cannot be read as declared (its encoding, its format, its size).",
        "schema",
    ),
    # our own rules beside the schema's (rules.py)
    ProblemType(
        "non-finite-number",
        "tal som inte är ändligt",
        "a number that is not finite",
        "NaN or an infinity: JSON has no form for them, so the published copies would differ.",
        "rule",
        cell=True,
    ),
    ProblemType(
        "integer-out-of-range",
        "för stort heltal",
        "integer too large",
        "An integer beyond what Parquet's 64 bits hold.",
        "rule",
        cell=True,
    ),
    ProblemType(
        "number-underflow",
        "för litet tal",
        "number too close to zero",
        "A number so close to zero that a double would store it as 0.",
        "rule",
        cell=True,
    ),
    ProblemType(
        "dropped-sign",
        "tecken som skulle försvinna",
        "a sign that would be dropped",
        "A minus-like character or brackets that the number's reading would silently drop.",
        "rule",
        cell=True,
    ),
    ProblemType(
        "formula-like-text",
        "text som liknar en formel",
        "text that looks like a formula",
        "Text starting with =, +, -, @, a tab or a carriage return, which a spreadsheet opening "
        "the published CSV would run as a formula.",
        "rule",
        cell=True,
    ),
    ProblemType(
        "pattern-timeout",
        "mönster som tar för lång tid",
        "a pattern that takes too long",
        "A field's pattern took too long on a cell (it backtracks), so the column was not "
        "checked further.",
        "rule",
        cell=True,
    ),
    # found by the readers while they read a source (collect/)
    ProblemType(
        "control-character",
        "kontrolltecken",
        "control character",
        "A cell holds a control character that has no place in published text.",
        "reader",
    ),
    ProblemType(
        "format-character",
        "osynligt formateringstecken",
        "invisible formatting character",
        "A cell holds an invisible formatting character (a bidirectional override, say).",
        "reader",
    ),
    ProblemType(
        "unknown-municipality",
        "okänd kommun",
        "unknown municipality",
        "A municipality's name or code that is none of Sweden's.",
        "reader",
    ),
    ProblemType(
        "missing-member",
        "kommun saknas",
        "a municipality is missing",
        "A table that must cover every member municipality lacks one.",
        "reader",
    ),
    ProblemType(
        "spreadsheet-error",
        "fel i kalkylbladet",
        "spreadsheet error",
        "A cell holds a spreadsheet error value (#DIV/0!, #N/A, #REF!).",
        "reader",
    ),
    ProblemType(
        "unsaved-formula",
        "formel utan sparat värde",
        "formula without a saved value",
        "A cell holds a formula whose value was never saved (the file was written by a program "
        "that does not calculate).",
        "reader",
    ),
    ProblemType(
        "merged-cell",
        "sammanfogade celler",
        "merged cells",
        "Merged cells in the table's rows: only the first of them holds the value.",
        "reader",
    ),
    ProblemType(
        "untitled-column",
        "värden utan kolumnrubrik",
        "values under no column title",
        "A column with values but no title, which no field can be matched to.",
        "reader",
    ),
    # warnings: reported, never a verdict
    ProblemType(
        "stale-years",
        "år som data har vuxit ifrån",
        "years the data has outgrown",
        "A title or description names other years than the data's period.",
        "warning",
    ),
)

PROBLEMS: dict[str, ProblemType] = {problem.code: problem for problem in _DECLARED}
# The problems about one cell's value: listed per type, the first of each, and counted.
CELL_ERRORS: tuple[str, ...] = tuple(code for code, p in PROBLEMS.items() if p.cell)


def title(code: str) -> str | None:
    """A code's title, Swedish / English; None for a code not declared (a newer release's)."""
    problem = PROBLEMS.get(code)
    return problem.title if problem is not None else None
