"""Frictionless validation of the tables we are about to publish, reported against the sources.

Frictionless numbers rows in the CSV it reads; every row also remembers its origin in the
steward's file, so each problem names the source file, row and field — not our staging copy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opendata.tables import csv_bytes

MAX_LISTED = 20


@dataclass(frozen=True)
class Table:
    """One resource ready to validate and publish: schema, canonical text rows, origins."""

    name: str
    schema: dict[str, Any]
    rows: list[list[str]]
    origins: list[str]

    @property
    def fields(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    def csv(self) -> bytes:
        return csv_bytes(self.fields, self.rows)


@dataclass(frozen=True)
class Problem:
    """One row of a validation report (frictionless error type as `code`)."""

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

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The published validation.json: deterministic, so it never fakes a change."""
        from importlib.metadata import version

        return {
            "dataset": self.dataset,
            "valid": self.valid,
            "validator": f"frictionless {version('frictionless')}",
            "resources": [
                {
                    "name": name,
                    "rows": count,
                    "errors": sum(p.resource == name for p in self.problems),
                }
                for name, count in self.rows.items()
            ],
            "errors": [asdict(problem) for problem in self.problems],
        }

    def summary(self, limit: int = MAX_LISTED) -> str:
        lines = [problem.describe() for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)


def validate_tables(dataset: str, tables: Sequence[Table]) -> Report:
    """Validate all tables of a dataset as one package (types, constraints, keys, foreign keys)."""
    from frictionless import Package

    report = Report(dataset=dataset, rows={t.name: len(t.rows) for t in tables})
    by_name = {table.name: table for table in tables}
    with tempfile.TemporaryDirectory(prefix="opendata-validate-") as staging:
        resources = []
        for table in tables:
            (Path(staging) / f"{table.name}.csv").write_bytes(table.csv())
            resources.append(
                {"name": table.name, "path": f"{table.name}.csv", "schema": table.schema}
            )
        package = Package({"name": dataset, "resources": resources}, basepath=staging)
        result = package.validate()
        for task in result.tasks:
            for error in task.errors:
                report.problems.append(_problem(task.name, by_name.get(task.name), error))
    return report


def _problem(resource: str, table: Table | None, error: Any) -> Problem:
    row_number = getattr(error, "row_number", None)
    field_name = getattr(error, "field_name", None)
    origin = None
    if table is not None and row_number is not None and 2 <= row_number <= len(table.rows) + 1:
        origin = table.origins[row_number - 2]
        if field_name is None:
            field_name = _key_fields(table.schema, error.type)
    note = error.note
    cells = getattr(error, "cell", None)
    if error.type in ("type-error", "constraint-error") and cells is not None:
        note = f"{cells!r}: {note}"
    return Problem(
        resource=resource,
        code=error.type,
        message=note,
        row=row_number,
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
