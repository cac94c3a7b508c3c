"""A collected table: canonical text cells staged on disk, never a list of Python rows.

Collectors stream record batches into a `TableWriter`; what comes out is a `Table`: a Parquet file
in a run's workspace holding every schema field as text (the exact text of the published CSV),
the row's origin in the steward's file, and its position. Validation, packaging and diffs read
that file through the engine, chunk by chunk, so memory is set by the chunk size, not the table.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import math
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ORIGIN = "__origin"
POSITION = "__row"
# Rows per batch between collectors, the staging file and the writers: the unit of memory.
CHUNK_ROWS = 65_536
PENDING_BATCHES = 2  # staged batches waiting for the background writer, at most
# str.strip()'s whitespace (every c with chr(c).isspace()), which Arrow's own trim does not
# match exactly; tests/engine/test_outputs.py checks the list against Python's.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class _PandasUnavailable(importlib.abc.MetaPathFinder):
    """A finder that refuses pandas, installed for a moment by arrow_without_pandas."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"{fullname} is skipped", name=fullname)
        return None


def arrow_without_pandas() -> None:
    """Spare a command the import of pandas (0.18 s) that pyarrow makes the first time it turns
    any Python value into Arrow, only to ask whether the value is a pandas object.

    opendata never hands pyarrow pandas objects. pyarrow remembers the failed look, and a call
    that really needs pandas (`to_pandas()`) tries the import again and gets it, so nothing is
    lost; called by the CLI only, so that a library user's process keeps pyarrow's default."""
    if "pandas" in sys.modules:
        return
    finder = _PandasUnavailable()
    sys.meta_path.insert(0, finder)
    try:
        pa.scalar(0)
    finally:
        sys.meta_path.remove(finder)


def int64_array(values: Any) -> pa.Array:
    """A numpy integer array as Arrow, straight from its buffer (pa.array() on numpy input
    imports pandas, a quarter of a second of every run)."""
    import numpy as np

    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def cell_text(value: object) -> str:
    """One cell as CSV text; integral floats (how spreadsheets store counts) lose the '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# Problems of one kind listed from a source while it is read (every one is counted).
LISTED_PER_CODE = 100


@dataclass(frozen=True)
class SourceProblem:
    """A problem found while a source was read that did not stop the reading (a control
    character, a formula without a value, a row of the wrong width, a name that is no
    municipality, a field nothing fills): it joins the validation report beside the
    validator's, so that one run lists every problem of a file. The cell is read as empty (a
    row of the wrong width: as far as it goes, its other cells checked); the dataset is invalid,
    so nothing of it is published."""

    code: str
    origin: str  # "file, row 7" for a row, the file's label for the whole source
    note: str  # what is wrong, in English (a sentence that names the value)
    note_sv: str  # the same in Swedish
    field: str | None = None
    column: str | None = None  # the source's own title of the column


# Rows left out of a source as layout, listed by number (every one is counted).
LISTED_LEFT_OUT = 10


@dataclass
class LeftOut:
    """Rows of one source left out of the table as layout, not data: blank rows (empty lines,
    lines of only delimiters, rows of blank cells) or the rows a `skip_rows` rule matched. No
    problem, but the report counts them, so a steward sees what the table does not hold."""

    place: str  # the source ("x/sources/a.csv", "x/sources/a.xlsx, sheet 'Blad1'")
    reason: str  # "blank-row" or "skip_rows"
    rule: str = ""  # for skip_rows: the column and its pattern
    count: int = 0
    rows: list[str] = field(default_factory=list)  # the first LISTED_LEFT_OUT: "row 7"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.place, "reason": self.reason, "rule": self.rule} | {
            "count": self.count,
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> LeftOut:
        return cls(entry["source"], entry["reason"], entry["rule"], entry["count"], entry["rows"])

    def explain(self) -> str:
        """One line in Swedish, one in English, as a warning's: "3 blank rows left out:
        rows 4, 9, 12"."""
        one = self.count == 1
        more = ", …" if self.count > len(self.rows) else ""
        if all(row.startswith("row ") for row in self.rows):
            numbers = ", ".join(row[4:] for row in self.rows) + more
            shown_sv = ("rad " if one else "rader ") + numbers
            shown_en = ("row " if one else "rows ") + numbers
        else:  # records of a JSON source
            shown_sv = shown_en = ", ".join(self.rows) + more
        if self.reason == "blank-row":
            sv = "tom rad hoppades över" if one else "tomma rader hoppades över"
            en = "blank row left out" if one else "blank rows left out"
        else:
            sv = f"{'rad' if one else 'rader'} hoppades över enligt skip_rows ({self.rule})"
            en = f"{'row' if one else 'rows'} left out by skip_rows ({self.rule})"
        return (
            f"Notering: {self.place}: {self.count:,} {sv}: {shown_sv}\n"
            f"    Note: {self.place}: {self.count:,} {en}: {shown_en} [{self.reason}]"
        )


@dataclass
class SourceProblems:
    """The problems of one resource's sources: the first `LISTED_PER_CODE` of each code kept,
    every one counted; and the rows left out as layout (`LeftOut`)."""

    listed: list[SourceProblem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)

    def leave_out(
        self, place: str, reason: str, rows: Sequence[str], count: int, rule: str = ""
    ) -> None:
        """Count `count` rows left out (`rows`: the first of them, as "row 7")."""
        if not count:
            return
        for entry in self.left_out:
            if (entry.place, entry.reason, entry.rule) == (place, reason, rule):
                entry.rows.extend(rows[: LISTED_LEFT_OUT - len(entry.rows)])
                entry.count += count
                return
        self.left_out.append(LeftOut(place, reason, rule, count, list(rows[:LISTED_LEFT_OUT])))

    def add(self, problem: SourceProblem) -> None:
        self.count(problem.code)
        if self.counts[problem.code] <= LISTED_PER_CODE:
            self.listed.append(problem)

    def count(self, code: str, times: int = 1) -> None:
        """Count problems without listing them (beyond the listed ones)."""
        self.counts[code] = self.counts.get(code, 0) + times

    def wants(self, code: str) -> bool:
        """Whether another problem of `code` would still be listed (else only count it)."""
        return self.counts.get(code, 0) < LISTED_PER_CODE

    def discard(self, origins: set[str]) -> None:
        """Forget the listed problems of rows left out after all (`skip_rows`)."""
        kept = []
        for problem in self.listed:
            if problem.origin in origins:
                self.counts[problem.code] -= 1
            else:
                kept.append(problem)
        self.listed = kept

    def extend(
        self,
        problems: Sequence[SourceProblem],
        counts: dict[str, int],
        left_out: Sequence[LeftOut] = (),
    ) -> None:
        for code, count in counts.items():
            self.counts[code] = self.counts.get(code, 0) + count
        self.listed.extend(problems)
        for entry in left_out:
            self.leave_out(entry.place, entry.reason, entry.rows, entry.count, entry.rule)


@dataclass(frozen=True)
class SourceLayout:
    """How one source's rows lead back to it, for messages a steward can follow.

    Every origin of its rows starts with `place` ("x/sources/a.csv" or, for a spreadsheet,
    "x/sources/a.xlsx, sheet 'Blad1'"); each field was read from the column titled
    `columns[field]`, in spreadsheet column `letters[title]` (C for the third)."""

    place: str
    label: str  # the file ("x/sources/a.xlsx"), or the API
    kind: str  # csv, xlsx, json, or the API's name
    sheet: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    letters: dict[str, str] = field(default_factory=dict)
    constants: tuple[str, ...] = ()  # fields given by `constants` in dataset.yaml
    delimiter: str = ","
    decimal: str = "."
    symbols: tuple[str, ...] = ()  # the legend symbols declared, if any


@dataclass(frozen=True)
class Table:
    """One resource, collected and staged: schema, row count and the staging file."""

    name: str
    schema: dict[str, Any]
    path: Path
    row_count: int
    # True when the staged rows are known to be in primary-key order already (the writers then
    # skip the sort): sources exported in key order are the common case for large tables.
    in_key_order: bool = False
    # Where the rows came from (one layout per source), for messages.
    layouts: tuple[SourceLayout, ...] = ()
    # Problems met while reading that did not stop it (listed, and counted per code).
    problems: tuple[SourceProblem, ...] = ()
    problem_counts: dict[str, int] = field(default_factory=dict)
    left_out: tuple[LeftOut, ...] = ()

    @property
    def fields(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The staged rows in collection order, a chunk at a time."""
        wanted = list(columns) if columns is not None else [*self.fields, ORIGIN]
        yield from pq.ParquetFile(self.path).iter_batches(batch_size=CHUNK_ROWS, columns=wanted)

    def origins(self, positions: Sequence[int]) -> dict[int, str]:
        """Where the rows at `positions` (their `__row`) came from, for error messages."""
        if not positions:
            return {}
        from opendata.engine.db import connect, quote_literal

        wanted = ", ".join(str(int(p)) for p in sorted(set(positions)))
        with connect() as con:
            found = con.execute(
                f"SELECT {POSITION}, {ORIGIN} FROM read_parquet({quote_literal(str(self.path))}) "
                f"WHERE {POSITION} IN ({wanted})"
            ).fetchall()
        return {int(row): str(origin) for row, origin in found}

    def rows_at(self, positions: Sequence[int]) -> dict[int, tuple[str, dict[str, str]]]:
        """The origin and the cells of the rows at `positions`: for the few rows a report
        lists (their values, and whether they look like a total row)."""
        if not positions:
            return {}
        from opendata.engine.db import connect, quote_identifier, quote_literal

        wanted = ", ".join(str(int(p)) for p in sorted(set(positions)))
        columns = ", ".join(quote_identifier(name) for name in self.fields)
        with connect() as con:
            found = con.execute(
                f"SELECT {POSITION}, {ORIGIN}, {columns} "
                f"FROM read_parquet({quote_literal(str(self.path))}) "
                f"WHERE {POSITION} IN ({wanted})"
            ).fetchall()
        return {
            int(row[0]): (str(row[1]), dict(zip(self.fields, row[2:], strict=True)))
            for row in found
        }

    def positions_of(self, origins: Sequence[str]) -> dict[str, int]:
        """The staged positions of the rows whose origins are `origins` (the error path only:
        a scan of the origins)."""
        if not origins:
            return {}
        from opendata.engine.db import connect, quote_literal

        wanted = ", ".join(quote_literal(origin) for origin in sorted(set(origins)))
        with connect() as con:
            found = con.execute(
                f"SELECT {ORIGIN}, min({POSITION}) "
                f"FROM read_parquet({quote_literal(str(self.path))}) "
                f"WHERE {ORIGIN} IN ({wanted}) GROUP BY {ORIGIN}"
            ).fetchall()
        return {str(origin): int(row) for origin, row in found}


@dataclass
class TableWriter:
    """Streams text batches (schema fields + `__origin`) into a staged Parquet file.

    Batches are written by one background thread while the collector parses the next one
    (pyarrow releases the GIL while it writes): a 1M-row CSV is staged in 0.1 s less. At most
    `PENDING_BATCHES` wait, so memory stays a few chunks; a write error surfaces at the next
    `write` or at `close`.
    """

    name: str
    schema: dict[str, Any]
    path: Path
    rows: int = 0
    _writer: pq.ParquetWriter | None = field(default=None, repr=False)
    _order: KeyOrder | None = field(default=None, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _pending: deque[Future[None]] = field(default_factory=deque, repr=False)
    layouts: list[SourceLayout] = field(default_factory=list, repr=False)
    problems: SourceProblems = field(default_factory=SourceProblems, repr=False)

    def __post_init__(self) -> None:
        self._order = KeyOrder.for_schema(self.schema)

    @property
    def arrow_schema(self) -> pa.Schema:
        # A cell is NULL only where a row of the wrong width lacks it (the row is a problem).
        columns = [pa.field(name, pa.string()) for name in self.fields]
        columns.append(pa.field(ORIGIN, pa.string(), nullable=False))
        columns.append(pa.field(POSITION, pa.int64(), nullable=False))
        return pa.schema(columns)

    @property
    def fields(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    def write(self, batch: pa.Table) -> None:
        """Append rows; `batch` holds every schema field as text (NULL: a missing cell) and
        `__origin`."""
        if batch.num_rows == 0:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = _staging_writer(self.path, self.arrow_schema)
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"stage-{self.name}")
        # The position is the row's number in the canonical CSV before sorting (header = 1).
        positions = int64_array(np.arange(self.rows + 2, self.rows + 2 + batch.num_rows))
        columns = [batch.column(name) for name in (*self.fields, ORIGIN)]
        staged = pa.Table.from_arrays([*columns, positions], schema=self.arrow_schema)
        while len(self._pending) >= PENDING_BATCHES:
            self._pending.popleft().result()
        assert self._pool is not None
        self._pending.append(self._pool.submit(self._stage, self._writer, staged))
        self.rows += batch.num_rows

    def _stage(self, writer: pq.ParquetWriter, staged: pa.Table) -> None:
        if self._order is not None:
            self._order.follow(staged)
        writer.write_table(staged, row_group_size=CHUNK_ROWS)

    def _drain(self) -> None:
        """Wait for every queued write; the first failure is raised (after all have ended)."""
        failure: Exception | None = None
        while self._pending:
            try:
                self._pending.popleft().result()
            except Exception as error:  # re-raised below, once
                failure = failure or error
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if failure is not None:
            raise failure

    def close(self) -> Table:
        try:
            self._drain()
        except BaseException:
            self.abort()
            raise
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = _staging_writer(self.path, self.arrow_schema)
        self._writer.close()
        in_order = self._order is not None and self._order.ascending
        return Table(
            self.name,
            self.schema,
            self.path,
            self.rows,
            in_order,
            tuple(self.layouts),
            tuple(self.problems.listed),
            dict(self.problems.counts),
            tuple(self.problems.left_out),
        )

    def reset(self) -> None:
        """Start again from no rows (a source is being read a second time)."""
        self.abort()
        self._writer = None
        self.rows = 0
        self._order = KeyOrder.for_schema(self.schema)
        self.layouts = []
        self.problems = SourceProblems()

    def abort(self) -> None:
        for pending in self._pending:
            pending.cancel()
        with contextlib.suppress(Exception):  # the file is being thrown away
            self._drain()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.path.unlink(missing_ok=True)


def _staging_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Staging files are private and short-lived: written for speed (no compression, no
    dictionaries, no statistics), four times faster than a publishable Parquet file."""
    return pq.ParquetWriter(
        path, schema, compression="none", use_dictionary=False, write_statistics=False
    )


NUMERIC_KEY_TYPES = ("integer", "number", "year")


@dataclass
class KeyOrder:
    """Whether rows arrive in primary-key order, checked batch by batch as they are staged.

    Only keys made of numeric fields are followed (their order is their value's); any other key,
    or a value that does not read as a number, means "unknown", and the rows get sorted.
    """

    names: list[str]
    ascending: bool = True
    last: list[float] | None = None

    @classmethod
    def for_schema(cls, schema: dict[str, Any]) -> KeyOrder | None:
        key = schema.get("primaryKey")
        names = [key] if isinstance(key, str) else list(key or [])
        types = {f["name"]: f.get("type", "string") for f in schema["fields"]}
        if not names or any(types.get(n) not in NUMERIC_KEY_TYPES for n in names):
            return None
        return cls(names)

    def follow(self, batch: pa.Table) -> None:
        import numpy as np
        import pyarrow.compute as pc

        if not self.ascending or batch.num_rows == 0:
            return
        columns = []
        try:
            for name in self.names:
                text = pc.replace_substring(batch.column(name), "_", "")
                values = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
                columns.append(values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            self.ascending = False
            return
        keys = np.column_stack(columns)
        if np.isnan(keys).any():
            self.ascending = False
            return
        if self.last is not None:
            keys = np.vstack([np.asarray(self.last)[None, :], keys])
        # Lexicographic order of consecutive rows: the first differing field decides.
        before, after = keys[:-1], keys[1:]
        decided = np.zeros(len(before), dtype=bool)
        for i in range(keys.shape[1]):
            smaller = ~decided & (after[:, i] < before[:, i])
            if smaller.any():
                self.ascending = False
                return
            decided |= after[:, i] > before[:, i]
        self.last = [float(v) for v in keys[-1]]
