"""CSV files read as Python's csv module reads them (dialect, line ends, header), so the checks see
the cells frictionless would: a file DuckDB would read differently raises `Unsupported`."""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from opendata.engine.columns import supported
from opendata.engine.compiler import fields_of, first_row, foreign_keys, lit, scalar
from opendata.engine.executor import Plan, Session, Slot, run_plan
from opendata.engine.foreign_keys import Keyed, run_foreign_keys
from opendata.engine.regex import PY_WHITESPACE
from opendata.engine.verdicts import PHASE, TableVerdict, Unsupported, Violation, add_count

CSV_OPTIONS = (
    "header = false, delim = ',', quote = '\"', escape = '\"', auto_detect = false, "
    "nullstr = chr(10), allow_quoted_nulls = false, encoding = 'utf-8'"
)


def _columns(width: int) -> str:
    return "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"


@dataclass
class ParsedCsv:
    """A CSV file read: c0.. (NULL = no such cell), __row, __n (the cell count)."""

    table: str  # a temporary table, or a query over one
    width: int
    labels: list[str] | None  # None when the header row is an empty line (frictionless: none)


def sniffed_skipinitialspace(path: Path, bom: bool) -> bool:
    """frictionless sniffs the first 100 lines with csv.Sniffer and keeps its skipinitialspace
    (the explicit dialect does not set it): DuckDB cannot skip initial spaces, so such a file
    is Unsupported."""
    with path.open(encoding="utf-8-sig" if bom else "utf-8", newline="") as stream:
        sample = "".join(itertools.islice(stream, 100))
    try:
        dialect = csv.Sniffer().sniff(sample, ",")
    except csv.Error:
        return False
    return bool(dialect.skipinitialspace)


@dataclass
class LineScan:
    """What DuckDB does not tell: the empty records (Python's csv reads an empty line as a
    record [], DuckDB skips it), the number of records, and whether line ends are mixed."""

    empties: list[int]
    records: int | None  # None when not counted (the cheap search found nothing to count)
    mixed: bool


def _line_end_kinds(path: Path, start: int, chunk_size: int) -> tuple[bool, bool]:
    """(one kind of line end in the whole file, maybe an empty line): counts and searches at C
    speed. Quoted line ends count too, so a file may be suspected wrongly, never cleared so."""
    cr = lf = crlf = 0
    first = b""
    tail = b""
    with path.open("rb") as stream:
        stream.seek(start)
        while chunk := stream.read(chunk_size):
            first = first or chunk[:2]
            cr += chunk.count(b"\r")
            lf += chunk.count(b"\n")
            if cr and lf:
                crlf += chunk.count(b"\r\n") + (tail == b"\r" and chunk[:1] == b"\n")
            tail = chunk[-1:]
        if cr == 0 or lf == 0 or cr == lf == crlf:
            pattern = b"\n\n" if cr == 0 else (b"\r\r" if lf == 0 else b"\r\n\r\n")
            terminator = pattern[: len(pattern) // 2]
            if first.startswith(terminator):
                return True, True
            stream.seek(start)
            tail = b""
            while chunk := stream.read(chunk_size):
                if pattern in tail + chunk[: len(pattern)] or pattern in chunk:
                    return True, True
                tail = chunk[-(len(pattern) - 1) :]
            return True, False
    return False, True


def scan_lines(path: Path, start: int, *, count: bool = False) -> LineScan:
    """Counts and searches at C speed first; only when they find a candidate empty line or
    mixed line ends (or `count` asks), a vectorised numpy scan in chunks that works on the
    positions of quotes and line ends -- never per row."""
    import numpy as np

    chunk_size = 1 << 26
    single, suspect = _line_end_kinds(path, start, chunk_size)
    if single and not suspect and not count:
        return LineScan([], None, False)
    empties: list[int] = []
    kinds: set[str] = set()
    quotes = 0  # quotes before the chunk (well-formed quoting: each quote flips the state)
    records = 0  # terminators before the chunk
    previous = -1  # the byte before the chunk (-1: the file starts)
    pending_cr = False  # the chunk before ended with a CR outside quotes
    with path.open("rb") as stream:
        stream.seek(start)
        while chunk := stream.read(chunk_size):
            data = np.frombuffer(chunk, dtype=np.uint8)
            if pending_cr:
                kinds.add("crlf" if data[0] == 10 else "cr")
            quote_at = np.flatnonzero(data == 34)
            line_at = np.flatnonzero((data == 10) | (data == 13))
            outside = (np.searchsorted(quote_at, line_at) + quotes) % 2 == 0
            at = line_at[outside]
            byte = data[at]
            before = np.where(at > 0, data[np.maximum(at - 1, 0)].astype(np.int16), previous)
            after = np.where(
                at + 1 < len(data), data[np.minimum(at + 1, len(data) - 1)].astype(np.int16), -1
            )
            is_cr = byte == 13
            lone_lf = (byte == 10) & (before != 13)
            starts = is_cr | lone_lf  # a terminator (\r\n, \r or \n) begins here
            if lone_lf.any():
                kinds.add("lf")
            if (is_cr & (after == 10)).any():
                kinds.add("crlf")
            if (is_cr & (after != 10) & (after != -1)).any():
                kinds.add("cr")
            empty = starts & ((before == 10) | (before == 13) | (before == -1))
            index = np.cumsum(starts) - starts + records
            empties.extend((index[empty] + 1).tolist())
            records += int(starts.sum())
            quotes += len(quote_at)
            pending_cr = bool(len(at)) and int(at[-1]) == len(data) - 1 and bool(is_cr[-1])
            previous = int(data[-1])
        if pending_cr:
            kinds.add("cr")
    if previous not in (-1, 10, 13):
        records += 1  # the last record has no terminator
    return LineScan([int(e) for e in empties], records, len(kinds) > 1)


def _read_error(error: Exception) -> Unsupported:
    return Unsupported(f"DuckDB cannot read the CSV as frictionless does: {error}")


def first_record_width(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """How many cells the first non-empty record has."""
    width = 16
    while True:
        try:
            row = first_row(
                con,
                f"SELECT * FROM read_csv({lit(str(path))}, {CSV_OPTIONS}, "
                f"columns = {_columns(width)}, null_padding = true, strict_mode = false, "
                "parallel = false) LIMIT 1",
            )
        except duckdb.Error as error:
            raise _read_error(error) from error
        if row is None:
            return 0
        if row[-1] is None:
            return sum(1 for c in row if c is not None)
        width *= 4


def parse_csv(session: Session, path: Path) -> ParsedCsv:
    """Read a CSV (UTF-8, comma, '"' quotes doubled, header first) with DuckDB into a temporary
    table of VARCHAR cells, each record numbered as Python's csv reader numbers it."""
    con = session.con
    with path.open("rb") as stream:
        bom = stream.read(3) == b"\xef\xbb\xbf"
    start = 3 if bom else 0
    if sniffed_skipinitialspace(path, bom):
        raise Unsupported(
            "frictionless's CSV sniffer turns skipinitialspace on for this file; "
            "DuckDB cannot skip initial spaces"
        )
    scan = scan_lines(path, start)
    if scan.mixed:
        raise Unsupported("the file mixes line ends (\\r\\n, \\n, \\r), which DuckDB reads apart")
    empties = scan.empties
    raw = session.table("csv")
    width = max(first_record_width(con, path), 1)
    source = lit(str(path))
    # Record numbers come from the order DuckDB keeps the records in (rowid).
    ordered = first_row(con, "SELECT current_setting('preserve_insertion_order')")
    if not (ordered and ordered[0]):
        con.execute("SET preserve_insertion_order = true")
        session.on_close.append("SET preserve_insertion_order = false")
    try:
        # Every record as wide as the first: DuckDB's fast parallel reader, strict.
        con.execute(
            f"CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv({source}, {CSV_OPTIONS}, "
            f"columns = {_columns(width)}, strict_mode = true)"
        )
    except duckdb.Error:
        # Ragged rows: padded with NULLs, wider until a sentinel column stays empty. This
        # lenient reader is trusted only if it finds as many records as Python's csv would.
        width += 1
        while True:
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM read_csv({source}, "
                    f"{CSV_OPTIONS}, columns = {_columns(width + 1)}, null_padding = true, "
                    "strict_mode = false, parallel = false)"
                )
            except duckdb.Error as error:
                raise _read_error(error) from error
            if not scalar(con, f"SELECT count(*) FROM {raw} WHERE c{width} IS NOT NULL"):
                break
            width *= 2
        scan = scan_lines(path, start, count=True)
        found = scalar(con, f"SELECT count(*) FROM {raw}") + len(scan.empties)
        if scan.mixed or scan.records != found:
            raise Unsupported(
                "DuckDB's lenient reader does not find the records Python's csv does"
            ) from None
        empties = scan.empties
    cells = [f"c{i}" for i in range(width)]
    if empties:
        # The j-th empty record (number e) comes after e - 1 - j of DuckDB's records: those
        # from there on move down by j + 1.
        gaps = session.table("gaps")
        con.execute(f"CREATE TEMP TABLE {gaps} (e BIGINT, j BIGINT)")
        con.executemany(
            f"INSERT INTO {gaps} VALUES (?, ?)", [(e, j) for j, e in enumerate(empties)]
        )
        numbered = (
            f"SELECT {', '.join('r.' + c for c in cells)}, r.__i + 1 + coalesce(g.k, 0) AS __row "
            f"FROM (SELECT *, rowid AS __i FROM {raw}) AS r ASOF LEFT JOIN "
            f"(SELECT e - 1 - j AS t, max(j) + 1 AS k FROM {gaps} GROUP BY ALL) AS g "
            f"ON r.__i >= g.t UNION ALL SELECT {', '.join('NULL' for _ in cells)}, e FROM {gaps}"
        )
    else:
        numbered = f"SELECT {', '.join(cells)}, rowid + 1 AS __row FROM {raw}"
    counted = " + ".join(f"CAST({c} IS NOT NULL AS INTEGER)" for c in cells)
    if empties:
        table = session.table("records")
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT *, {counted} AS __n FROM ({numbered})")
    else:  # DuckDB's order is the records' order: no second copy
        table = f"(SELECT *, {counted} AS __n FROM ({numbered}))"
    labels: list[str] | None = None
    if 1 not in empties:
        first = first_row(con, f"SELECT {', '.join(cells)} FROM {table} WHERE __row = 1")
        if first is not None:
            labels = [str(c).strip(PY_WHITESPACE) for c in first if c is not None]
    return ParsedCsv(table, width, labels)


def deduplicate(names: list[str]) -> list[str]:
    """frictionless's names for a header's fields: a repeated name gets 2, 3, ..."""
    result: list[str] = []
    used: set[str] = set()
    for name in names:
        new = name
        suffix = 2
        while new in used:
            new = f"{name}{suffix}"
            suffix += 1
        result.append(new)
        used.add(new)
    return result


def header(labels: list[str] | None, schema: dict[str, Any]) -> tuple[list[Slot], list[Violation]]:
    """frictionless's Header in its default "exact" mode: the label errors, and the fields each
    row is read with (by position; an extra label adds an "any" field, a missing label drops its
    field so its cells become extra cells)."""
    fields = fields_of(schema)
    if not labels:
        slots = [Slot(p, str(f["name"]), f"__src.c{p - 1}", f) for p, f in enumerate(fields, 1)]
        return slots, []
    errors: list[Violation] = []
    for number, label in enumerate(labels[len(fields) :], start=len(fields) + 1):
        errors.append(Violation("extra-label", None, None, label, f"label at position {number}"))
    for f in fields[len(labels) :]:
        errors.append(Violation("missing-label", None, str(f["name"]), None, ""))
    for number, (f, label) in enumerate(zip(fields, labels, strict=False), start=1):
        name = str(f["name"])
        if not label:
            errors.append(Violation("blank-label", None, name, "", ""))
            continue
        seen = [str(i) for i, other in enumerate(labels[: number - 1], start=1) if other == label]
        if seen:
            note = f'at position "{", ".join(seen)}"'
            errors.append(Violation("duplicate-label", None, name, label, note))
        elif label != name:
            errors.append(Violation("incorrect-label", None, name, label, ""))
    names = deduplicate(
        [str(fields[i]["name"]) if i < len(fields) else label for i, label in enumerate(labels)]
    )
    slots = [
        Slot(i + 1, names[i], f"__src.c{i}", fields[i] if i < len(fields) else None)
        for i in range(len(labels))
    ]
    return slots, errors


def csv_plan(
    session: Session, path: Path, schema: dict[str, Any], name: str
) -> tuple[Plan, list[Violation]]:
    """The CSV read, its header checked, and the plan for its rows. A file without labels and
    rows is frictionless's source-error (reported as the only label-level error)."""
    with path.open("rb") as stream:
        head = stream.read(4)
    empty = head in (b"", b"\xef\xbb\xbf")
    parsed = None if empty else parse_csv(session, path)
    if parsed is None or (
        not parsed.labels
        and not scalar(session.con, f"SELECT count(*) FROM {parsed.table} WHERE __row > 1")
    ):
        relation = "(SELECT CAST(NULL AS BIGINT) AS __row, 0 AS __n WHERE false)"
        slots = [
            Slot(p, str(f["name"]), "CAST(NULL AS VARCHAR)", f)
            for p, f in enumerate(fields_of(schema), 1)
        ]
        error = Violation("source-error", None, None, None, "the source is empty")
        return Plan(name, relation, schema, slots, cells_sql="__src.__n"), [error]
    slots, label_errors = header(parsed.labels, schema)
    for slot in slots:
        if slot.pos > parsed.width:  # a field no record reaches: every cell absent
            slot.raw = "CAST(NULL AS VARCHAR)"
    relation = f"(SELECT * FROM {parsed.table} WHERE __row > 1)"
    return Plan(name, relation, schema, slots, cells_sql="__src.__n"), label_errors


def _merge(verdict: TableVerdict, more: TableVerdict, limit: int) -> None:
    for kind, count in more.counts.items():
        add_count(verdict.counts, kind, count)
    merged = verdict.errors + more.errors
    merged.sort(key=lambda v: (-1 if v.row is None else v.row, PHASE.get(v.type, -1)))
    verdict.errors = merged


def validate_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    schema: dict[str, Any],
    *,
    limit: int = 100,
    name: str = "data",
) -> TableVerdict:
    """A raw CSV file (UTF-8, comma, '"' quote, doubled quotes, header row first) checked as
    frictionless checks it with that explicit dialect: header labels (blank, duplicate,
    incorrect, extra, missing), blank rows, extra and missing cells, the cells and keys as
    check_table, and self-referencing foreign keys (a foreign key to another resource needs
    validate_package_csv). Read by DuckDB; raises Unsupported where it cannot be exact."""
    reason = supported(schema)
    if reason:
        raise Unsupported(reason)
    if any(fk["resource"] not in ("", name) for fk in foreign_keys(schema)):
        raise Unsupported("a foreign key to another resource needs validate_package_csv")
    session = Session(con)
    try:
        plan, label_errors = csv_plan(session, Path(path), schema, name)
        verdict = run_plan(session, plan, limit, label_errors)
        if foreign_keys(schema):
            keyed = {name: Keyed(plan.relation, schema, plan.slots)}
            _merge(verdict, run_foreign_keys(session, keyed, limit)[name], limit)
        return verdict
    finally:
        session.close()


def validate_package_csv(
    con: duckdb.DuckDBPyConnection,
    resources: list[tuple[str, Path, dict[str, Any]]],
    *,
    limit: int = 100,
) -> dict[str, TableVerdict]:
    """Several CSV files as one package: each validate_csv plus check_foreign_keys."""
    for name, _, schema in resources:
        reason = supported(schema)
        if reason:
            raise Unsupported(f'resource "{name}": {reason}')
    session = Session(con)
    try:
        verdicts: dict[str, TableVerdict] = {}
        keyed: dict[str, Keyed] = {}
        for name, path, schema in resources:
            plan, label_errors = csv_plan(session, Path(path), schema, name)
            verdicts[name] = run_plan(session, plan, limit, label_errors)
            keyed[name] = Keyed(plan.relation, schema, plan.slots)
        for name, more in run_foreign_keys(session, keyed, limit).items():
            _merge(verdicts[name], more, limit)
        return verdicts
    finally:
        session.close()
