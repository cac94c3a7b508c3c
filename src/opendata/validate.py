"""Validation of the tables we are about to publish, reported against the sources.

The verdict is frictionless's (the reference for what is valid), computed by the engine's
vectorised checks (`opendata.engine.checks`, proven equal by differential tests); a schema using
a feature the fast path does not cover is validated by frictionless itself. Every problem names
the steward's file and row (the staged row remembers its origin) and the field.

Reports stay bounded: the first `LISTED_PER_TYPE` problems of each error type are listed, and
every type is counted. (frictionless stops at its default limit of 1,000 errors in total; we never
stop early, so the counts are exact however many rows are bad.)

The problems the readers met without stopping (a control character, a row of the wrong width,
a name that is no municipality, a field no column fills) join the report, and all are sorted by
source and row. Each problem keeps the validator's `code` and `message` (validation.json's
machine-readable form) and gets what a steward reads: the source's own column title, the
spreadsheet cell (`Blad1!C6`), and a message in Swedish and English with a hint where the cause
is a common one. That text is built only for the problems listed.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opendata.engine.db import connect, quote_identifier, quote_literal
from opendata.messages import (
    Text,
    note_row_hint,
    number_hint,
    sheet_reference,
    shown,
    total_in_row,
    total_row_hint,
)
from opendata.tables import POSITION, LeftOut, SourceLayout, SourceProblem, Table

MAX_LISTED = 20
CELL_ERRORS = (
    "type-error",
    "constraint-error",
    "non-finite-number",
    "integer-out-of-range",
    "number-underflow",
    "dropped-sign",
    "pattern-timeout",
    "formula-like-text",
)
LISTED_PER_TYPE = 100
NON_FINITE = r"^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[sS]?[nN][aA][nN][0-9]*)$"


# An origin's parts: the file, a spreadsheet's sheet, the row (line, record) and what follows
# (a melted column, a JSON path). Origins are written by the readers in opendata.collect.
ORIGIN_PARTS = re.compile(
    r"^(?P<file>.+?)(?P<sheet>, sheet (?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?"
    r", (?P<word>row|record|line) (?P<number>\d+)(?P<rest>.*)$",
    re.S,
)
MELTED = re.compile(r", column ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")$", re.S)
SWEDISH_WORDS = {"row": "rad", "line": "rad", "record": "post"}


@dataclass(frozen=True)
class Problem:
    """One row of a validation report (the frictionless error type as `code`).

    `message` is the validator's note (machine-readable, as frictionless words it); `column`
    (the source's own title), `cell` (`Blad1!C6`), `message_sv` and `message_en` are what a
    steward reads (`explain`)."""

    resource: str
    code: str
    message: str
    row: int | None = None
    field: str | None = None
    origin: str | None = None
    column: str | None = None
    cell: str | None = None
    message_sv: str = ""
    message_en: str = ""

    def describe(self) -> str:
        where = self.origin or f"resource {self.resource}"
        if self.row is not None and self.origin is None:
            where += f", row {self.row}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.code}: {self.message}"

    def explain(self) -> str:
        """Two lines a steward reads: where and what in Swedish, then in English with the
        problem's code (`Blad1!C6` for a spreadsheet cell, the source's column title)."""
        where_sv, where_en = self.where()
        sv = _sentence(self.message_sv or self.message)
        en = _sentence(self.message_en or self.message)
        return f"{where_sv}: {sv}\n    {where_en}: {en} [{self.code}]"

    def where(self) -> tuple[str, str]:
        """Where the problem is, in Swedish and in English."""
        parts = ORIGIN_PARTS.match(self.origin or "")
        if self.origin is None:
            sv, en = f"resurs {self.resource}", f"resource {self.resource}"
            if self.row is not None:
                sv, en = f"{sv}, rad {self.row}", f"{en}, row {self.row}"
        elif parts is None:
            sv = en = self.origin  # the whole source
        else:
            rest = parts["rest"]
            if self.column is not None:
                rest = MELTED.sub("", rest)
            if self.cell:
                sv = en = f"{parts['file']}, {self.cell}{rest}"
            else:
                word, number = parts["word"], parts["number"]
                sheet = parts["sheet"] or ""
                sv = f"{parts['file']}{sheet.replace(', sheet', ', blad', 1)}, "
                sv += f"{SWEDISH_WORDS[word]} {number}{rest}"
                en = f"{parts['file']}{sheet}, {word} {number}{rest}"
        if self.column is not None:
            sv, en = f"{sv}, kolumn {self.column!r}", f"{en}, column {self.column!r}"
        elif self.field and ", " not in self.field:  # (several: the message names them)
            sv, en = f"{sv}, fält {self.field!r}", f"{en}, field {self.field!r}"
        return sv, en


@dataclass(frozen=True)
class ReportWarning:
    """Something a steward should correct that does not stop publishing (the data is right):
    `stale-years`, a title or description naming other years than the data's period. `file`
    and `key` say where (`befolkning/dataset.yaml`, `title.sv`); `stated` and `period` are the
    two spans."""

    code: str
    file: str
    key: str
    message_sv: str
    message_en: str
    stated: str = ""
    period: str = ""

    def explain(self) -> str:
        """Two lines, as a problem's (`Problem.explain`): Swedish, then English with the code."""
        where = f"{self.file}, {self.key}"
        return (
            f"Varning: {where}: {self.message_sv}\n"
            f"    Warning: {where}: {self.message_en} [{self.code}]"
        )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Report:
    dataset: str
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # Warnings do not make a dataset invalid; validation.json leaves them out.
    warnings: list[ReportWarning] = field(default_factory=list)
    # Rows left out of each table as layout (blank rows, `skip_rows`): counted, no problem.
    left_out: dict[str, list[LeftOut]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.problems and not any(self.counts.values())

    @property
    def total(self) -> int:
        counted = sum(sum(by_type.values()) for by_type in self.counts.values())
        return max(counted, len(self.problems))

    def to_dict(self) -> dict[str, Any]:
        """The published validation.json: deterministic, so it never fakes a change."""
        from importlib.metadata import version

        return {
            "dataset": self.dataset,
            "valid": self.valid,
            # Whose rules decided, and what applied them (our vectorised engine).
            "validator": (
                f"frictionless {version('frictionless')} rules, "
                f"applied by DuckDB {version('duckdb')}"
            ),
            "resources": [
                {
                    "name": name,
                    "rows": count,
                    "errors": sum(self.counts.get(name, {}).values()),
                }
                | (
                    {"left_out": [entry.to_dict() for entry in self.left_out[name]]}
                    if self.left_out.get(name)
                    else {}
                )
                for name, count in self.rows.items()
            ],
            "errors": [asdict(problem) for problem in self.problems],
        }

    def notes(self) -> list[str]:
        """What each table left out as layout, a note (two lines) per source and reason."""
        return [entry.explain() for entries in self.left_out.values() for entry in entries]

    def summary(self, limit: int = MAX_LISTED) -> str:
        """The problems as a steward reads them (`Problem.explain`), in source and row order;
        beyond `limit`, how many more (and the totals per code, on the "in all" line)."""
        lines = [problem.explain() for problem in self.problems[:limit]]
        hidden = self.total - min(limit, len(self.problems))
        if hidden > 0:
            lines.append(f"... och {hidden} fel till / ... and {hidden} more problems")
            by_type: dict[str, int] = {}
            for counts in self.counts.values():
                for code, count in counts.items():
                    by_type[code] = by_type.get(code, 0) + count
            lines.append(
                "    in all: " + ", ".join(f"{code} {count:,}" for code, count in by_type.items())
            )
        return "\n".join(lines)


def relation(table: Table) -> str:
    columns = ", ".join(quote_identifier(name) for name in table.fields)
    return f"(SELECT {columns}, {POSITION} FROM read_parquet({quote_literal(str(table.path))}))"


def validate_tables(dataset: str, tables: Sequence[Table], scratch: Path | None = None) -> Report:
    """Validate all tables of a dataset as one package (types, constraints, keys, foreign keys)."""
    from opendata.engine import checks

    report = Report(dataset=dataset, rows={t.name: t.row_count for t in tables})
    report.left_out = {t.name: list(t.left_out) for t in tables if t.left_out}
    by_name = {table.name: table for table in tables}
    found: dict[str, list[Any]] = {table.name: [] for table in tables}
    with connect(scratch) as con:
        for table in tables:
            reason = checks.supported(table.schema)
            rules = _rules(table)
            if reason is None:
                verdict = checks.check_table(
                    con,
                    table.name,
                    relation(table),
                    table.schema,
                    limit=LISTED_PER_TYPE,
                    flags=[rule.condition for rule in rules],
                )
                flagged = verdict.flagged
            else:
                verdict = _frictionless_verdict(con, table, scratch)
                flagged = _flag_rows(con, table, rules)
            found[table.name].extend(verdict.errors)
            _count(report, table.name, verdict.counts)
            errors, counts = _domain_errors(con, table, rules, flagged)
            found[table.name].extend(errors)
            _count(report, table.name, counts)
        # Foreign keys across the package: by the engine when it covers every table, else by
        # frictionless validating the package (small tables with a rare feature).
        if all(checks.supported(table.schema) is None for table in tables):
            relations = {table.name: (relation(table), table.schema) for table in tables}
            key_verdicts = checks.check_foreign_keys(con, relations, limit=LISTED_PER_TYPE)
        else:
            key_verdicts = _frictionless_foreign_keys(con, tables, scratch)
        for name, verdict in key_verdicts.items():
            found[name].extend(verdict.errors)
            _count(report, name, verdict.counts)
    for name, errors in found.items():
        table = by_name[name]
        _count(report, name, table.problem_counts)
        report.problems.extend(_problems_of(table, errors, report.counts.setdefault(name, {})))
    return report


def _problems_of(table: Table, errors: list[Any], counts: dict[str, int]) -> list[Problem]:
    """The validator's listed errors and the readers' problems of one table, as a steward
    reads them, in source and row order. A cell a reader already reported (a control
    character, a formula without a value) is not reported again by the validator."""
    wanted = [e.row for e in errors if e.row is not None]
    wanted += [n for e in errors if (n := _earlier_row(e.note)) is not None]
    rows = table.rows_at(wanted)
    found = table.problems
    positions = table.positions_of([p.origin for p in found]) if found else {}
    problems = [_from_source(table, problem, positions) for problem in found]
    reported = {(p.origin, p.field) for p in problems} | {(p.origin, p.column) for p in problems}
    for error in errors:
        problem = _problem(table, error, rows)
        if problem.origin is not None and (
            (problem.origin, problem.field) in reported
            or (problem.column and (problem.origin, problem.column) in reported)
        ):
            counts[problem.code] -= 1  # the reader's problem says it
            continue
        problems.append(problem)
    return sorted(problems, key=lambda p: _order(table, p))


def _order(table: Table, problem: Problem) -> tuple[int, int, int, int]:
    """Source by source (in the definition's order), then by row, then column by column;
    a problem of a whole source before its rows."""
    layout = _layout_of(table, problem.origin)
    index = table.layouts.index(layout) if layout is not None else -1
    parts = ORIGIN_PARTS.match(problem.origin or "")
    number = int(parts["number"]) if parts else (problem.row or -1)
    column = _position(table, problem.field.split(", ")[0] if problem.field else None)
    return (index, number, 0, column)


def _count(report: Report, name: str, counts: dict[str, int]) -> None:
    merged = report.counts.setdefault(name, {})
    for code, count in counts.items():
        if count:
            merged[code] = merged.get(code, 0) + count


def _position(table: Table, name: str | None) -> int:
    return table.fields.index(name) if name in table.fields else -1


def _problem(table: Table, error: Any, rows: dict[int, tuple[str, dict[str, str]]]) -> Problem:
    row = error.row
    origin, cells = rows.get(row, (None, {})) if row is not None else (None, {})
    field_name = error.field
    if field_name is None and origin is not None:
        field_name = _key_fields(table.schema, error.type)
    note = error.note
    if error.type in CELL_ERRORS and error.cell is not None:
        note = f"{shown(error.cell)}: {note}"
    layout = _layout_of(table, origin)
    # A key of several fields has no one column (its message names them all).
    several = field_name is not None and ", " in field_name
    column = None if several else _column_of(layout, field_name, origin)
    text = _human(table, error, layout, origin, cells, rows)
    return Problem(
        resource=table.name,
        code=error.type,
        message=note,
        row=_source_row(origin, row),
        field=field_name,
        origin=origin,
        column=column,
        cell=_cell_of(layout, column, origin),
        message_sv=text.sv,
        message_en=text.en,
    )


def _from_source(table: Table, found: SourceProblem, positions: dict[str, int]) -> Problem:
    """A reader's problem as a row of the report."""
    layout = _layout_of(table, found.origin)
    field_name = found.field
    if field_name is None and layout is not None and found.column is not None:
        field_name = next((f for f, t in layout.columns.items() if t == found.column), None)
    column = found.column or _column_of(layout, field_name, found.origin)
    return Problem(
        resource=table.name,
        code=found.code,
        message=found.note,
        row=_source_row(found.origin, positions.get(found.origin)),
        field=field_name,
        origin=found.origin,
        column=column,
        cell=_cell_of(layout, column, found.origin),
        message_sv=found.note_sv,
        message_en=found.note,
    )


def _source_row(origin: str | None, position: int | None) -> int | None:
    """A problem's `row`: the row (line, record) of the source file its origin names, which is
    what a steward finds in the file; the table's row where the origin names none (a constant,
    a whole source)."""
    parts = ORIGIN_PARTS.match(origin or "")
    return int(parts["number"]) if parts else position


def _layout_of(table: Table, origin: str | None) -> SourceLayout | None:
    """The source a row came from: the layout whose place its origin starts with."""
    if origin is None:
        return None
    best: SourceLayout | None = None
    for layout in table.layouts:
        inside = origin == layout.place or origin.startswith(layout.place + ",")
        if inside and (best is None or len(layout.place) > len(best.place)):
            best = layout
    return best


def _column_of(layout: SourceLayout | None, name: str | None, origin: str | None) -> str | None:
    """The source's title of the column a field came from (a melted row: its column)."""
    if layout is None or name is None:
        return None
    melted = MELTED.search(origin or "")
    if melted and name not in layout.columns and name not in layout.constants:
        with contextlib.suppress(ValueError, SyntaxError):
            return str(ast.literal_eval(melted.group(1)))
    return layout.columns.get(name)


def _cell_of(layout: SourceLayout | None, column: str | None, origin: str | None) -> str | None:
    """A spreadsheet cell as Excel names it (`Blad1!C6`, `'Tabell 4'!C6`)."""
    if layout is None or layout.sheet is None or column is None or column not in layout.letters:
        return None
    parts = ORIGIN_PARTS.match(origin or "")
    if parts is None:
        return None
    return f"{sheet_reference(layout.sheet)}!{layout.letters[column]}{parts['number']}"


EARLIER = re.compile(r"^the same as in the row at position (\d+)$")


def _earlier_row(note: str) -> int | None:
    match = EARLIER.match(note or "")
    return int(match.group(1)) if match else None


# What a value must look like, by field type (Swedish, English); a format adds its own.
TYPE_TEXTS = {
    "integer": ("ett heltal", "a whole number"),
    "number": ("ett tal", "a number"),
    "year": ("ett årtal (som 2024)", "a year (such as 2024)"),
    "yearmonth": ("år och månad (ÅÅÅÅ-MM)", "a year and month (YYYY-MM)"),
    "date": ("ett datum (ÅÅÅÅ-MM-DD)", "a date (YYYY-MM-DD)"),
    "datetime": ("en tidpunkt (ÅÅÅÅ-MM-DDTtt:mm:ss)", "a date and time (YYYY-MM-DDThh:mm:ss)"),
    "time": ("ett klockslag (tt:mm:ss)", "a time of day (hh:mm:ss)"),
    "boolean": ("sant eller falskt (true/false)", "true or false"),
    "duration": ("en tidslängd (ISO 8601, som P1Y2M)", "a duration (ISO 8601, such as P1Y2M)"),
}
FORMAT_TEXTS = {
    "email": ("en e-postadress", "an e-mail address"),
    "uri": ("en webbadress (URI)", "a web address (URI)"),
    "uuid": ("ett UUID", "a UUID"),
}
BOUND_TEXTS = {
    "minimum": ("är mindre än {}, det minsta tillåtna", "is less than {}, the smallest allowed"),
    "maximum": ("är större än {}, det största tillåtna", "is greater than {}, the largest allowed"),
    "exclusiveMinimum": ("måste vara större än {}", "must be greater than {}"),
    "exclusiveMaximum": ("måste vara mindre än {}", "must be less than {}"),
    "minLength": ("är kortare än {} tecken", "is shorter than {} characters"),
    "maxLength": ("är längre än {} tecken", "is longer than {} characters"),
    "pattern": ("följer inte mönstret {}", "does not follow the pattern {}"),
}
CONSTRAINT_NOTE = re.compile(r'^constraint "(\w+)" is "(.*)"$', re.S)
FOREIGN_NOTE = re.compile(
    r'^for "(?P<fields>.*)": values "(?P<values>.*)" not found in the lookup table '
    r'"(?P<resource>.*)" as "(?P<refs>.*)"$',
    re.S,
)


def _human(
    table: Table,
    error: Any,
    layout: SourceLayout | None,
    origin: str | None,
    cells: dict[str, str],
    rows: dict[int, tuple[str, dict[str, str]]],
) -> Text:
    """What a steward reads about one of the validator's errors, with the hint for a common
    cause: a total row, a decimal comma, a legend symbol, spaces between thousands."""
    schema_field: dict[str, Any] = next(
        (f for f in table.schema["fields"] if f["name"] == error.field), {}
    )
    value = "" if error.cell is None else str(error.cell)
    code = error.type
    text = _what(table, error, schema_field, value, layout, origin, cells, rows)
    kind = schema_field.get("type", "string")
    if code == "type-error" and kind in ("number", "integer", "year") and layout is not None:
        hint = number_hint(value, layout.kind, layout.decimal, layout.delimiter)
        if hint is not None:
            text += hint
    if layout is not None and layout.kind in ("csv", "xlsx", "json"):
        total = total_in_row(dict(cells))
        if total is not None:
            name, cell = total
            return text + total_row_hint(layout.columns.get(name, name), cell)
        filled = [cell for cell in cells.values() if isinstance(cell, str) and cell.strip()]
        if len(filled) == 1 and origin is not None and layout.kind != "json":
            hint = note_row_hint(filled[0], origin)
            if hint is not None:
                text += hint
    return text


def _what(
    table: Table,
    error: Any,
    schema_field: dict[str, Any],
    value: str,
    layout: SourceLayout | None,
    origin: str | None,
    cells: dict[str, str],
    rows: dict[int, tuple[str, dict[str, str]]],
) -> Text:
    code = error.type
    quoted = shown(value)
    if code == "type-error":
        kind = str(schema_field.get("type", "string"))
        form = str(schema_field.get("format", "default"))
        sv, en = FORMAT_TEXTS.get(form) or TYPE_TEXTS.get(kind, (f"av typen {kind}", kind))
        if kind in ("date", "datetime", "time") and form not in ("default", "any"):
            pattern = form.removeprefix("fmt:")
            sv, en = f"{sv.split(' (')[0]} i formen {pattern}", f"{en.split(' (')[0]} as {pattern}"
        return Text(f"{quoted} är inte {sv}", f"{quoted} is not {en}")
    if code == "constraint-error":
        match = CONSTRAINT_NOTE.match(error.note or "")
        name, limit = (match.group(1), match.group(2)) if match else ("", "")
        if name == "required":
            return Text(
                "värde saknas, men fältet måste ha ett", "no value, but the field needs one"
            )
        if name == "enum":
            allowed = (schema_field.get("constraints") or {}).get("enum") or []
            listed = ", ".join(shown(v) for v in allowed[:10])
            more = f" … ({len(allowed)})" if len(allowed) > 10 else ""
            return Text(
                f"{quoted} är inte ett av de tillåtna värdena: {listed}{more}",
                f"{quoted} is not one of the allowed values: {listed}{more}",
            )
        if name in BOUND_TEXTS:
            sv, en = BOUND_TEXTS[name]
            return Text(f"{quoted} {sv.format(limit)}", f"{quoted} {en.format(limit)}")
        return Text(
            f"{quoted} bryter mot regeln {name} = {limit}",
            f"{quoted} breaks the rule {name} = {limit}",
        )
    if code in ("primary-key", "unique-error"):
        names = (
            [error.field]
            if code == "unique-error"
            else [n for n in (_key_fields(table.schema, code) or "").split(", ") if n]
        )
        titles = [_title(layout, n, origin) for n in names]
        earlier = _earlier_row(error.note)
        if earlier is None:
            return Text(
                f"nyckeln ({', '.join(titles)}) saknar värde",
                f"the key ({', '.join(titles)}) has no value",
            )
        values = [f"{t} = {shown(cells.get(n, ''))}" for n, t in zip(names, titles, strict=True)]
        pairs_sv, pairs_en = _and(values, "och"), _and(values, "and")
        other = rows.get(earlier, (None, {}))[0]
        where_sv, where_en = _other_row(other, origin, earlier)
        both_sv, both_en = _and(titles, "och"), _and(titles, "and")
        return Text(
            f"{where_sv} har redan {pairs_sv}; två rader får inte ha samma {both_sv}",
            f"{where_en} already has {pairs_en}; no two rows may have the same {both_en}",
        )
    if code == "foreign-key":
        match = FOREIGN_NOTE.match(error.note or "")
        if match:
            names = match["fields"].split(", ")
            target, refs = match["resource"], match["refs"].split(", ")
            if len(refs) != len(names):
                refs = names
            values = [
                f"{ref} = {shown(cells.get(n, ''))}" for n, ref in zip(names, refs, strict=True)
            ]
            return Text(
                f"tabellen {target!r} har ingen rad med {_and(values, 'och')}",
                f"table {target!r} has no row with {_and(values, 'and')}",
            )
    if code == "non-finite-number":
        if re.match(NON_FINITE, value):
            return Text(
                f"{quoted} är inget tal som kan publiceras (NaN och oändligheter har ingen "
                "JSON-form); lämna cellen tom för ett saknat värde",
                f"{quoted} is no number that can be published (NaN and infinities have no JSON "
                "form); leave the cell empty for a missing value",
            )
        return Text(
            f"{quoted} är större än ±1,8e308, det största tal som JSON- och Parquet-kopiorna "
            "rymmer (det skulle bli oändligt); kontrollera värdet, eller gör fältet till text",
            f"{quoted} is beyond ±1.8e308, the largest number the JSON and Parquet copies hold "
            "(it would become infinite); check the value, or make the field a string",
        )
    if code == "pattern-timeout":
        pattern = str((schema_field.get("constraints") or {}).get("pattern", ""))
        return Text(
            f"mönstret {pattern!r} tog mer än {PATTERN_SECONDS:g} s på cellen {quoted} (det "
            "backtrackar: vissa mönster tar timmar på en lång text), så kolumnen kontrollerades "
            "inte vidare; skriv mönstret utan nästlade upprepningar, eller så att det går att "
            "översätta till RE2 (inga lookarounds eller bakåtreferenser)",
            f"the pattern {pattern!r} took more than {PATTERN_SECONDS:g} s on the cell {quoted} "
            "(it backtracks: some patterns take hours on a long text), so the column was not "
            "checked further; write the pattern without nested repetition, or so that it "
            "translates to RE2 (no lookarounds or backreferences)",
        )
    if code == "number-underflow":
        return Text(
            f"{quoted} ligger närmare noll än ±2,2e-308, det minsta tal som JSON- och "
            "Parquet-kopiorna rymmer (det skulle publiceras som 0); kontrollera värdet, eller "
            "gör fältet till text",
            f"{quoted} is closer to zero than ±2.2e-308, the smallest number the JSON and "
            "Parquet copies hold (it would be published as 0); check the value, or make the "
            "field a string",
        )
    if code == "dropped-sign":
        return Text(
            f"{quoted} har ett tecken som `bareNumber: false` tar bort tillsammans med texten "
            "runt talet (ett annat minus än '-', parenteser för ett negativt tal, ett minus "
            "efter talet), så talet skulle publiceras som positivt; skriv talet med '-' först",
            f"{quoted} has a sign that `bareNumber: false` drops with the text around the "
            "number (a minus other than '-', parentheses for a negative, a trailing minus), so "
            "it would be published as positive; write the number with a leading '-'",
        )
    if code == "integer-out-of-range":
        return Text(
            f"{quoted} ligger utanför de 64-bitars heltal (±9 223 372 036 854 775 807) som JSON- "
            "och Parquet-kopiorna rymmer; gör fältet till text om det är en kod",
            f"{quoted} is beyond the 64-bit integers (±9,223,372,036,854,775,807) that the JSON "
            "and Parquet copies hold; make the field a string if it is a code",
        )
    if code == "formula-like-text":
        return Text(
            f"{quoted} börjar med {value[:1]!r}, så ett kalkylprogram som öppnar den publicerade "
            "CSV-filen kör texten som en formel (CSV-injektion); ta bort det första tecknet, "
            f'eller markera fältet `"{ALLOW_FORMULAS}": true` i tabellschemat om sådan text är '
            "avsedd",
            f"{quoted} starts with {value[:1]!r}, so a spreadsheet that opens the published CSV "
            "runs it as a formula (CSV injection); remove the leading character, or mark the "
            f'field `"{ALLOW_FORMULAS}": true` in its Table Schema if such text is meant',
        )
    note = error.note or code
    return Text(f"{note} ({code})", note)


def _title(layout: SourceLayout | None, name: str, origin: str | None) -> str:
    """A field as the steward knows it: its column's title, or its name (a constant)."""
    title = _column_of(layout, name, origin)
    return repr(title) if title is not None else repr(name)


def _and(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _other_row(other: str | None, origin: str | None, position: int) -> tuple[str, str]:
    """Where the earlier row is: its row in the same file, or the other file and row."""
    parts = ORIGIN_PARTS.match(other or "")
    if parts is None:
        return f"rad {position} av tabellen", f"row {position} of the table"
    here = ORIGIN_PARTS.match(origin or "")
    same = here is not None and (here["file"], here["sheet"]) == (parts["file"], parts["sheet"])
    word, number = parts["word"], parts["number"]
    short_sv, short_en = f"{SWEDISH_WORDS[word]} {number}", f"{word} {number}"
    if same:
        return short_sv, short_en
    sheet = parts["sheet"] or ""
    return (
        f"{parts['file']}{sheet.replace(', sheet', ', blad', 1)}, {short_sv}",
        f"{parts['file']}{sheet}, {short_en}",
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def _key_fields(schema: dict[str, Any], code: str) -> str | None:
    if code == "primary-key":
        key = schema.get("primaryKey")
        return ", ".join(key) if isinstance(key, list) else key
    if code == "foreign-key":
        names: list[str] = []
        for fk in schema.get("foreignKeys", []):
            fields = fk["fields"]
            names.extend(fields if isinstance(fields, list) else [fields])
        return ", ".join(names) or None
    return None


@dataclass(frozen=True)
class _Found:
    type: str
    row: int | None
    field: str | None
    cell: str | None
    note: str


# Our rules on top of frictionless's: values a Table Schema allows that we cannot publish as
# they are, or that would hurt the people who open the files.
NON_FINITE_NOTE = "NaN and infinities have no JSON form: leave the cell empty for a missing value"
OVERFLOW_NOTE = (
    "beyond ±1.8e308, the largest number the JSON and Parquet copies hold (it would become "
    "infinite): check the value, or make the field a string"
)
INTEGER_NOTE = (
    "beyond the 64-bit integers (±9,223,372,036,854,775,807) that the JSON and Parquet copies "
    "hold: make the field a string if this is an identifier"
)
UNDERFLOW_NOTE = (
    "closer to zero than ±2.2e-308, the smallest number the JSON and Parquet copies hold (it "
    "would be published as 0): check the value, or make the field a string"
)
DROPPED_SIGN_NOTE = (
    "has a sign that `bareNumber: false` would drop with the text around the number (a minus "
    "other than '-', parentheses for a negative, a trailing minus): write the number with '-'"
)
# bareNumber false drops what stands before the first digit (but '-') and after the last:
# with it a minus other than ASCII's (U+2212, dashes, full-width), an accounting negative's
# parentheses or a trailing minus, and the number would be published as positive.
_MINUS_LIKE = "\\x{2010}-\\x{2015}\\x{2212}\\x{FE63}\\x{FF0D}"
DROPPED_SIGN = f"^[^0-9-]*[({_MINUS_LIKE}][^0-9]*[0-9]|[0-9][^0-9]*[-{_MINUS_LIKE}][^0-9]*$"
FORMULA_NOTE = (
    "starts with {!r}, so a spreadsheet that opens the published CSV runs it as a formula (CSV "
    "injection): remove the leading character, or mark the field "
    '`"opendata:allowFormulas": true` in its Table Schema if such text is meant'
)
# What OWASP's CSV-injection guidance lists as the start of a formula; a plain number
# (-12, +46, 1.5e3) is not one, nor is a lone dash.
FORMULA_CHARS = "=+-@\t\r"
PLAIN_NUMBER = "[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)([eE][+-]?[0-9]+)?|-"
ALLOW_FORMULAS = "opendata:allowFormulas"
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class _Rule:
    code: str
    field: str
    condition: str  # SQL over the staged row: true when the cell breaks the rule


def _rules(table: Table) -> list[_Rule]:
    """Every field's rules, as SQL conditions over the staged text. Each starts with a cheap
    test that clears nearly every valid cell (a first character, a plain cast, a length), so
    valid data pays a few milliseconds a million cells; only the rest is read exactly."""
    from opendata.engine import checks

    rules = []
    for field_ in table.schema["fields"]:
        name = field_["name"]
        cell = quote_identifier(name)
        kind = field_.get("type", "string")
        if kind in ("number", "integer") and field_.get("bareNumber") is False:
            condition = (
                f"CASE WHEN {cell} = '' OR ord({cell}) BETWEEN 48 AND 57 AND "
                f"ord(right({cell}, 1)) BETWEEN 48 AND 57 THEN false "
                f"ELSE regexp_matches({cell}, {quote_literal(DROPPED_SIGN)}) END"
            )
            rules.append(_Rule("dropped-sign", name, condition))
        if kind == "number":
            digits = f"regexp_matches(regexp_extract({cell}, '^[^eE]*'), '[1-9]')"
            # a plain number's text is its value; the engine's reading where it is processed
            value = f"TRY_CAST({cell} AS DOUBLE)"
            try:
                typed = checks.typed_sql(field_, cell, table.schema)
                exact = f"coalesce(NOT isfinite({typed}), false)"
                if {"bareNumber", "decimalChar", "groupChar"} & set(field_):
                    value = typed
            except Exception:  # a field the engine cannot read: the text decides
                exact = f"regexp_matches({cell}, {quote_literal(NON_FINITE)})"
            zero = f"coalesce({value} = 0 AND {digits}, false)"
            condition = (
                f"CASE WHEN {cell} = '' OR isfinite(TRY_CAST({cell} AS DOUBLE)) THEN false "
                f"ELSE {exact} END"
            )
            rules.append(_Rule("non-finite-number", name, condition))
            # A number too small for a double (1e-400) would be published as 0: the cheap test
            # lets through only cells with a negative exponent or hundreds of characters.
            condition = (
                f"CASE WHEN NOT (contains({cell}, 'e-') OR contains({cell}, 'E-') OR "
                f"strlen({cell}) > 300) THEN false ELSE {zero} END"
            )
            rules.append(_Rule("number-underflow", name, condition))
        elif kind == "integer":
            with contextlib.suppress(Exception):  # a field the engine cannot read: no rule
                exact = _out_of_range(field_, cell, table)
                condition = f"CASE WHEN strlen({cell}) < 19 THEN false ELSE {exact} END"
                rules.append(_Rule("integer-out-of-range", name, condition))
        elif kind == "string" and field_.get(ALLOW_FORMULAS) is not True:
            condition = (
                f"CASE WHEN ord({cell}) IN ({', '.join(str(ord(c)) for c in FORMULA_CHARS)}) "
                f"THEN NOT regexp_full_match({cell}, {quote_literal(PLAIN_NUMBER)}) ELSE false END"
            )
            rules.append(_Rule("formula-like-text", name, condition))
    return rules


def _out_of_range(field_: dict[str, Any], cell: str, table: Table) -> str:
    """A valid integer (as frictionless reads it) outside int64: the engine's reading of the
    cell, with its value kept as HUGEINT (NULL beyond that, where the text is still an integer)."""
    from opendata.engine import checks

    builder = checks.Builder("", inline=True)
    column = checks.compile_column(
        builder, 1, field_["name"], cell, field_, table.schema, checks.NeedKeys()
    )
    low, high = INT64
    value = column.value
    test = (
        f"(NOT {column.none} AND {column.ok} AND "
        f"({value} IS NULL OR {value} < {low} OR {value} > {high}))"
    )
    return f"coalesce({builder.wrap(test)}, false)"


def _flag_rows(con: Any, table: Table, rules: list[_Rule]) -> list[tuple[int, list[int]]]:
    """The rows each rule marks (counted; the first `LISTED_PER_TYPE` listed) in a scan of
    their own, for tables the engine does not check (the engine counts them in its pass)."""
    if not rules:
        return []
    source = f"read_parquet({quote_literal(str(table.path))})"
    counted = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {rule.condition})" for rule in rules)
        + f" FROM {source}"
    ).fetchall()[0]  # read to the end: an unfinished result blocks the connection
    flagged = []
    for rule, total in zip(rules, counted, strict=True):
        rows = []
        if total:
            rows = [
                int(row)
                for (row,) in con.execute(
                    f"SELECT {POSITION} FROM {source} WHERE {rule.condition} "
                    f"ORDER BY {POSITION} LIMIT {LISTED_PER_TYPE}"
                ).fetchall()
            ]
        flagged.append((int(total), rows))
    return flagged


def _domain_errors(
    con: Any, table: Table, rules: list[_Rule], flagged: list[tuple[int, list[int]]]
) -> tuple[list[_Found], dict[str, int]]:
    """Our rules' errors: every marked cell counted, the listed ones read with their text."""
    counts: dict[str, int] = {}
    errors = []
    source = f"read_parquet({quote_literal(str(table.path))})"
    for rule, (total, rows) in zip(rules, flagged, strict=True):
        if not total:
            continue
        counts[rule.code] = counts.get(rule.code, 0) + total
        listed = con.execute(
            f"SELECT {POSITION}, {quote_identifier(rule.field)} FROM {source} "
            f"WHERE {POSITION} IN (SELECT unnest(?::BIGINT[])) ORDER BY {POSITION}",
            [rows],
        ).fetchall()
        for row, cell in listed:
            errors.append(
                _Found(rule.code, int(row), rule.field, str(cell), _note(rule.code, str(cell)))
            )
    return errors, counts


def _note(code: str, cell: str) -> str:
    if code == "number-underflow":
        return UNDERFLOW_NOTE
    if code == "dropped-sign":
        return DROPPED_SIGN_NOTE
    if code == "non-finite-number":
        if re.match(NON_FINITE, cell):
            return NON_FINITE_NOTE
        return OVERFLOW_NOTE
    if code == "integer-out-of-range":
        return INTEGER_NOTE
    return FORMULA_NOTE.format(cell[:1])


def _export_csv(con: Any, table: Table, folder: Path) -> Path:
    """The staged rows as a CSV in staging order (row numbers are then the positions)."""
    path = folder / f"{table.name}.csv"
    columns = ", ".join(quote_identifier(name) for name in table.fields)
    con.execute(
        f"COPY (SELECT {columns} FROM read_parquet({quote_literal(str(table.path))}) "
        f"ORDER BY {POSITION}) TO {quote_literal(str(path))} "
        "(FORMAT csv, HEADER true, QUOTE '\"', ESCAPE '\"', FORCE_QUOTE *)"
    )
    return path


DIALECT = {"delimiter": ",", "quoteChar": '"', "header": True}


def _verdicts(name: str, rows: int, errors: Any, only: str | None = None) -> Any:
    from opendata.engine import checks

    listed = []
    counts: dict[str, int] = {}
    for error in errors:
        if only is not None and error.type != only:
            continue
        counts[error.type] = counts.get(error.type, 0) + 1
        if counts[error.type] <= LISTED_PER_TYPE:
            listed.append(
                checks.Violation(
                    type=error.type,
                    row=getattr(error, "row_number", None),
                    field=getattr(error, "field_name", None),
                    cell=getattr(error, "cell", None),
                    note=error.note,
                )
            )
    return checks.TableVerdict(name, rows, listed, counts)


def _frictionless_verdict(con: Any, table: Table, scratch: Path | None) -> Any:
    """A schema the fast path does not cover: frictionless validates the staged rows itself
    (foreign keys are checked across the package separately), except the string fields'
    patterns: frictionless matches them with Python's backtracking `re`, in which one pattern
    on one long cell can run for hours, so they are checked here, bounded (_pattern_verdict)."""
    import tempfile

    from frictionless import Dialect, Resource, Schema

    without, patterns = _without_patterns(table.schema)
    with tempfile.TemporaryDirectory(prefix="opendata-frictionless-", dir=scratch) as folder:
        path = _export_csv(con, table, Path(folder))
        schema = {k: v for k, v in without.items() if k != "foreignKeys"}
        resource = Resource(
            path=path.name,
            basepath=str(path.parent),
            schema=Schema.from_descriptor(schema),
            dialect=Dialect.from_descriptor(DIALECT),
        )
        result = resource.validate(limit_errors=10**9)
        verdict = _verdicts(table.name, table.row_count, result.tasks[0].errors)
    for field_, pattern in patterns:
        listed, counts = _pattern_verdict(con, table, field_, pattern)
        verdict.errors.extend(listed)
        for code, count in counts.items():
            verdict.counts[code] = verdict.counts.get(code, 0) + count
    return verdict


# A pattern that RE2 cannot run (a lookaround, a backreference) is matched by the `regex`
# module, which has Python's syntax and a time limit: past it on one cell, that cell is a
# problem and the field's other cells are not matched (each might take as long).
PATTERN_SECONDS = 2.0
PATTERN_TIMEOUT_NOTE = (
    "the pattern {!r} took more than {:g} s on this cell (it backtracks: some patterns take "
    "hours on a long text), so the column was not checked further: write the pattern without "
    "nested repetition, or so that it translates to RE2 (no lookarounds or backreferences)"
)


def _without_patterns(
    schema: dict[str, Any],
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], str]]]:
    """The schema without its string fields' pattern constraints, and those fields' patterns."""
    fields = schema.get("fields")
    if not isinstance(fields, list):
        return schema, []
    kept: list[Any] = []
    patterns: list[tuple[dict[str, Any], str]] = []
    for field_ in fields:
        constraints = field_.get("constraints") if isinstance(field_, dict) else None
        pattern = constraints.get("pattern") if isinstance(constraints, dict) else None
        if (
            isinstance(field_, dict)
            and isinstance(constraints, dict)
            and isinstance(pattern, str)
            and field_.get("type", "string") == "string"
            and field_.get("format", "default") == "default"
        ):
            others = {k: v for k, v in constraints.items() if k != "pattern"}
            kept.append({**field_, "constraints": others})
            patterns.append((field_, pattern))
        else:
            kept.append(field_)
    return {**schema, "fields": kept}, patterns


def _pattern_verdict(
    con: Any, table: Table, field_: dict[str, Any], pattern: str
) -> tuple[list[Any], dict[str, int]]:
    """The cells of one string field that do not match its pattern, as frictionless reports
    them (constraint-error), in linear time with RE2 where the pattern translates, else with a
    time limit a cell (pattern-timeout)."""
    from opendata.engine import checks

    name = str(field_["name"])
    cell = quote_identifier(name)
    source = f"read_parquet({quote_literal(str(table.path))})"
    missing = checks.missing_values(field_, table.schema)
    present = f"NOT ({cell} IN (SELECT unnest(?::VARCHAR[])))" if missing else "true"
    note = f'constraint "pattern" is "{pattern}"'
    try:
        translated = checks.re2_pattern(pattern)
    except checks.Inexpressible:
        translated = None
    listed: list[Any] = []
    if translated is not None:
        condition = f"{present} AND NOT regexp_matches({cell}, {quote_literal(translated)})"
        params = [missing] if missing else []
        (total,) = con.execute(
            f"SELECT count(*) FROM {source} WHERE {condition}", params
        ).fetchall()[0]
        for row, text in con.execute(
            f"SELECT {POSITION}, {cell} FROM {source} WHERE {condition} "
            f"ORDER BY {POSITION} LIMIT {LISTED_PER_TYPE}",
            params,
        ).fetchall():
            listed.append(checks.Violation("constraint-error", int(row), name, str(text), note))
        return listed, {"constraint-error": int(total)} if total else {}
    import regex

    compiled = regex.compile(f"^{pattern}$", regex.VERSION0)
    wrong = 0
    result = con.execute(f"SELECT {POSITION}, {cell} FROM {source} ORDER BY {POSITION}")
    while batch := result.fetchmany(10_000):
        for row, text in batch:
            if text is None or text in missing:
                continue
            try:
                matched = compiled.match(text, timeout=PATTERN_SECONDS)
            except TimeoutError:
                result.fetchall()  # read to the end: an unfinished result blocks the connection
                timeout = PATTERN_TIMEOUT_NOTE.format(pattern, PATTERN_SECONDS)
                listed.append(checks.Violation("pattern-timeout", int(row), name, text, timeout))
                counts = {"pattern-timeout": 1}
                if wrong:
                    counts["constraint-error"] = wrong
                return listed, counts
            if matched is None:
                wrong += 1
                if wrong <= LISTED_PER_TYPE:
                    listed.append(checks.Violation("constraint-error", int(row), name, text, note))
    return listed, {"constraint-error": wrong} if wrong else {}


def _frictionless_foreign_keys(
    con: Any, tables: Sequence[Table], scratch: Path | None
) -> dict[str, Any]:
    """Foreign keys checked by frictionless validating the whole package."""
    import tempfile

    from frictionless import Package

    with tempfile.TemporaryDirectory(prefix="opendata-frictionless-", dir=scratch) as folder:
        resources = []
        for table in tables:
            path = _export_csv(con, table, Path(folder))
            # only the foreign keys are read from this validation: no pattern runs in `re`
            schema = _without_patterns(table.schema)[0]
            resources.append(
                {"name": table.name, "path": path.name, "schema": schema, "dialect": DIALECT}
            )
        package = Package({"name": "package", "resources": resources}, basepath=folder)
        result = package.validate(limit_errors=10**9)
        rows = {table.name: table.row_count for table in tables}
        return {
            task.name: _verdicts(task.name, rows.get(task.name, 0), task.errors, "foreign-key")
            for task in result.tasks
        }
