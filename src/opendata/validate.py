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

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opendata.engine.db import connect, quote_identifier, quote_literal
from opendata.fallback import frictionless_foreign_keys, frictionless_verdict
from opendata.messages import (
    shown,
)
from opendata.origins import (
    MELTED,
    ORIGIN_PARTS,
    SWEDISH_WORDS,
    cell_of,
    column_of,
    layout_of,
    source_row,
)
from opendata.problem_words import earlier_row, human_text, key_fields, sentence
from opendata.problems import CELL_ERRORS
from opendata.rules import LISTED_PER_TYPE, domain_errors, flag_rows, rules_of
from opendata.tables import POSITION, LeftOut, SourceProblem, Table

MAX_LISTED = 20


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
        sv = sentence(self.message_sv or self.message)
        en = sentence(self.message_en or self.message)
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
            rules = rules_of(table)
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
                verdict = frictionless_verdict(con, table, scratch)
                flagged = flag_rows(con, table, rules)
            found[table.name].extend(verdict.errors)
            _count(report, table.name, verdict.counts)
            errors, counts = domain_errors(con, table, rules, flagged)
            found[table.name].extend(errors)
            _count(report, table.name, counts)
        # Foreign keys across the package: by the engine when it covers every table, else by
        # frictionless validating the package (small tables with a rare feature).
        if all(checks.supported(table.schema) is None for table in tables):
            relations = {table.name: (relation(table), table.schema) for table in tables}
            key_verdicts = checks.check_foreign_keys(con, relations, limit=LISTED_PER_TYPE)
        else:
            key_verdicts = frictionless_foreign_keys(con, tables, scratch)
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
    wanted += [n for e in errors if (n := earlier_row(e.note)) is not None]
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
    layout = layout_of(table, problem.origin)
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
        field_name = key_fields(table.schema, error.type)
    note = error.note
    if error.type in CELL_ERRORS and error.cell is not None:
        note = f"{shown(error.cell)}: {note}"
    layout = layout_of(table, origin)
    # A key of several fields has no one column (its message names them all).
    several = field_name is not None and ", " in field_name
    column = None if several else column_of(layout, field_name, origin)
    text = human_text(table, error, layout, origin, cells, rows)
    return Problem(
        resource=table.name,
        code=error.type,
        message=note,
        row=source_row(origin, row),
        field=field_name,
        origin=origin,
        column=column,
        cell=cell_of(layout, column, origin),
        message_sv=text.sv,
        message_en=text.en,
    )


def _from_source(table: Table, found: SourceProblem, positions: dict[str, int]) -> Problem:
    """A reader's problem as a row of the report."""
    layout = layout_of(table, found.origin)
    field_name = found.field
    if field_name is None and layout is not None and found.column is not None:
        field_name = next((f for f, t in layout.columns.items() if t == found.column), None)
    column = found.column or column_of(layout, field_name, found.origin)
    return Problem(
        resource=table.name,
        code=found.code,
        message=found.note,
        row=source_row(found.origin, positions.get(found.origin)),
        field=field_name,
        origin=found.origin,
        column=column,
        cell=cell_of(layout, column, found.origin),
        message_sv=found.note_sv,
        message_en=found.note,
    )
