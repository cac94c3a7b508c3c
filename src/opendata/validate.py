"""Validation of the tables we are about to publish, reported against the sources.

The verdict is frictionless's (the reference for what is valid), computed by the engine's
vectorised checks (`opendata.engine.checks`, proven equal by differential tests); a schema using
a feature the fast path does not cover is validated by frictionless itself. Every problem names
the steward's file and row (the staged row remembers its origin) and the field.

Reports stay bounded: the first `LISTED_PER_TYPE` problems of each error type are listed, and
every type is counted. (frictionless stops at its default limit of 1,000 errors in total; we never
stop early, so the counts are exact however many rows are bad.)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opendata.engine.db import connect, quote_identifier, quote_literal
from opendata.tables import POSITION, Table

MAX_LISTED = 20
CELL_ERRORS = (
    "type-error",
    "constraint-error",
    "non-finite-number",
    "integer-out-of-range",
    "formula-like-text",
)
SHOWN_CELL = 200  # characters of a cell quoted in a message
LISTED_PER_TYPE = 100
NON_FINITE = r"^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[sS]?[nN][aA][nN][0-9]*)$"


@dataclass(frozen=True)
class Problem:
    """One row of a validation report (the frictionless error type as `code`)."""

    resource: str
    code: str
    message: str
    row: int | None = None
    field: str | None = None
    origin: str | None = None

    def describe(self) -> str:
        where = self.origin or f"resource {self.resource}"
        if self.row is not None and self.origin is None:
            where += f", row {self.row}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.code}: {self.message}"


@dataclass
class Report:
    dataset: str
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

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
                for name, count in self.rows.items()
            ],
            "errors": [asdict(problem) for problem in self.problems],
        }

    def summary(self, limit: int = MAX_LISTED) -> str:
        lines = [problem.describe() for problem in self.problems[:limit]]
        hidden = self.total - min(limit, len(self.problems))
        if hidden > 0:
            lines.append(f"... and {hidden} more problems")
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
    by_name = {table.name: table for table in tables}
    found: dict[str, list[Any]] = {table.name: [] for table in tables}
    with connect(scratch) as con:
        for table in tables:
            reason = checks.supported(table.schema)
            if reason is None:
                verdict = checks.check_table(
                    con, table.name, relation(table), table.schema, limit=LISTED_PER_TYPE
                )
            else:
                verdict = _frictionless_verdict(con, table, scratch)
            found[table.name].extend(verdict.errors)
            _count(report, table.name, verdict.counts)
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
        for table in tables:
            errors, counts = _domain_rules(con, table)
            found[table.name].extend(errors)
            _count(report, table.name, counts)
    for name, errors in found.items():
        table = by_name[name]
        origins = table.origins([e.row for e in errors if e.row is not None])
        for error in sorted(errors, key=lambda e: (e.row or 0, _position(table, e.field))):
            report.problems.append(_problem(table, error, origins))
    return report


def _count(report: Report, name: str, counts: dict[str, int]) -> None:
    merged = report.counts.setdefault(name, {})
    for code, count in counts.items():
        if count:
            merged[code] = merged.get(code, 0) + count


def _position(table: Table, name: str | None) -> int:
    return table.fields.index(name) if name in table.fields else -1


def _problem(table: Table, error: Any, origins: dict[int, str]) -> Problem:
    row = error.row
    field_name = error.field
    origin = origins.get(row) if row is not None else None
    if field_name is None and origin is not None:
        field_name = _key_fields(table.schema, error.type)
    note = error.note
    if error.type in CELL_ERRORS and error.cell is not None:
        cell = str(error.cell)
        shown = repr(cell if len(cell) <= SHOWN_CELL else cell[:SHOWN_CELL])
        if len(cell) > SHOWN_CELL:
            shown += f" … ({len(cell):,} characters)"
        note = f"{shown}: {note}"
    return Problem(
        resource=table.name,
        code=error.type,
        message=note,
        row=row,
        field=field_name,
        origin=origin,
    )


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
        if kind == "number":
            try:
                exact = (
                    f"coalesce(NOT isfinite({checks.typed_sql(field_, cell, table.schema)}), false)"
                )
            except Exception:  # a field the engine cannot read: the text decides
                exact = f"regexp_matches({cell}, {quote_literal(NON_FINITE)})"
            condition = (
                f"CASE WHEN {cell} = '' OR isfinite(TRY_CAST({cell} AS DOUBLE)) THEN false "
                f"ELSE {exact} END"
            )
            rules.append(_Rule("non-finite-number", name, condition))
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


def _domain_rules(con: Any, table: Table) -> tuple[list[_Found], dict[str, int]]:
    """Our rules: one scan counts every rule's cells; only a rule some cell breaks is scanned
    again, for its first `LISTED_PER_TYPE` cells."""
    rules = _rules(table)
    if not rules:
        return [], {}
    source = f"read_parquet({quote_literal(str(table.path))})"
    counted = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {rule.condition})" for rule in rules)
        + f" FROM {source}"
    ).fetchone()
    totals = [int(n) for n in counted or []]
    counts: dict[str, int] = {}
    errors = []
    for rule, total in zip(rules, totals, strict=True):
        if not total:
            continue
        counts[rule.code] = counts.get(rule.code, 0) + total
        listed = con.execute(
            f"SELECT {POSITION}, {quote_identifier(rule.field)} FROM {source} "
            f"WHERE {rule.condition} ORDER BY {POSITION} LIMIT {LISTED_PER_TYPE}"
        ).fetchall()
        for row, cell in listed:
            errors.append(
                _Found(rule.code, int(row), rule.field, str(cell), _note(rule.code, str(cell)))
            )
    return errors, counts


def _note(code: str, cell: str) -> str:
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
    (foreign keys are checked across the package separately)."""
    import tempfile

    from frictionless import Dialect, Resource, Schema

    with tempfile.TemporaryDirectory(prefix="opendata-frictionless-", dir=scratch) as folder:
        path = _export_csv(con, table, Path(folder))
        schema = {k: v for k, v in table.schema.items() if k != "foreignKeys"}
        resource = Resource(
            path=path.name,
            basepath=str(path.parent),
            schema=Schema.from_descriptor(schema),
            dialect=Dialect.from_descriptor(DIALECT),
        )
        result = resource.validate(limit_errors=10**9)
        return _verdicts(table.name, table.row_count, result.tasks[0].errors)


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
            resources.append(
                {"name": table.name, "path": path.name, "schema": table.schema, "dialect": DIALECT}
            )
        package = Package({"name": "package", "resources": resources}, basepath=folder)
        result = package.validate(limit_errors=10**9)
        rows = {table.name: table.row_count for table in tables}
        return {
            task.name: _verdicts(task.name, rows.get(task.name, 0), task.errors, "foreign-key")
            for task in result.tasks
        }
