"""Validation by frictionless itself, for what the engine's fast path does not cover (a schema
feature it does not support, a pattern RE2 cannot express): the table exported to CSV and
checked by frictionless-py, its errors read as the engine's, a slow pattern cut off in time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opendata.engine.db import quote_identifier, quote_literal
from opendata.rules import LISTED_PER_TYPE
from opendata.tables import POSITION, Table


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


def frictionless_verdict(con: Any, table: Table, scratch: Path | None) -> Any:
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


def frictionless_foreign_keys(
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
