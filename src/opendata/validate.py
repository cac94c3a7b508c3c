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

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opendata.engine.db import connect, quote_identifier, quote_literal
from opendata.tables import POSITION, Table

MAX_LISTED = 20
CELL_ERRORS = ("type-error", "constraint-error", "non-finite-number")
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
            errors, counts = _non_finite_numbers(con, table)
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
        note = f"{error.cell!r}: {note}"
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


def _non_finite_numbers(con: Any, table: Table) -> tuple[list[_Found], dict[str, int]]:
    """Our rule on top of frictionless's: NaN and infinities are valid Table Schema numbers but
    have no JSON form, so a table holding them cannot be published as JSON."""
    numbers = [f["name"] for f in table.schema["fields"] if f.get("type") == "number"]
    if not numbers:
        return [], {}
    source = f"read_parquet({quote_literal(str(table.path))})"
    flags = [
        f"regexp_matches({quote_identifier(name)}, {quote_literal(NON_FINITE)})" for name in numbers
    ]
    # One scan: the bad cells' positions, listed up to the limit per field, and their count.
    selects = " UNION ALL ".join(
        f"SELECT {i} AS field, {POSITION} AS row, {quote_identifier(name)} AS cell "
        f"FROM {source} WHERE {flag}"
        for i, (name, flag) in enumerate(zip(numbers, flags, strict=True))
    )
    found = con.execute(
        f"SELECT field, row, cell, count(*) OVER (PARTITION BY field) FROM ({selects}) "
        f"QUALIFY row_number() OVER (PARTITION BY field ORDER BY row) <= {LISTED_PER_TYPE}"
    ).fetchall()
    note = "NaN and infinities have no JSON form: leave the cell empty for a missing value"
    errors = [_Found("non-finite-number", int(r), numbers[f], str(c), note) for f, r, c, _ in found]
    totals = {int(f): int(n) for f, _, _, n in found}
    count = sum(totals.values())
    return errors, ({"non-finite-number": count} if count else {})


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
