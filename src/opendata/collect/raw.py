"""What every reader of a source hands on: the source's cells as text, batch by batch, with
each row's origin (RawSource, RawRecord), and the small steps all of them share (the header's
whitespace, text batches, trimming). Below both the readers (the file formats, the API
collectors) and the shaping (core.py), so that neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opendata.tables import CHUNK_ROWS, ORIGIN, PYTHON_WHITESPACE, cell_text

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class RawRecord:
    """A record as read from a record source (JSON, an API): header -> cell, and its location."""

    cells: dict[str, Any]
    origin: str


@dataclass
class RawSource:
    """What a reader found: the header (in the file's order) and the rows, batch by batch.

    `header_at` says where the header is ("file, line 1"), for messages about it;
    `header_note` explains a header that may not read as it looks (merged cells), and
    `merged_header` lists the header's merged cells that span several columns. Every row's
    origin starts with `place` (the file, or the file and sheet); `letters` gives a
    spreadsheet column's letter by its title. A title that a header of several rows joins for
    more than one column has the columns and their cells in `title_cells`."""

    headers: list[str]
    batches: Iterable[pa.Table]
    duplicated: set[str] = field(default_factory=set)
    header_at: str = ""
    header_note: str = ""
    merged_header: list[str] = field(default_factory=list)
    place: str = ""
    letters: dict[str, str] = field(default_factory=dict)
    title_cells: dict[str, str] = field(default_factory=dict)


LISTED = 10


def listing(items: Sequence[str], limit: int = LISTED) -> str:
    """Items for a message, the first `limit` of them and how many more: a header of 10,000
    columns must not become a 69,000-character line."""
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", … and {len(items) - limit:,} more"


def normalise_header(value: object) -> str:
    """Header text with layout whitespace collapsed ('Etanol/    etanolflexifuel')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def text_batch(columns: dict[str, list[str]], origins: list[str]) -> pa.Table:
    """A raw batch from Python lists of text (spreadsheets and record sources)."""
    arrays = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    arrays[ORIGIN] = pa.array(origins, pa.string())
    return pa.table(arrays)


def records_source(records: Iterable[RawRecord]) -> RawSource:
    """Record sources as raw batches, a chunk at a time: every key becomes a column ('' where a
    record lacks it); the first record's keys are the header that mappings are checked against.
    """
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        return RawSource([], iter(()))
    headers = list(first.cells)

    def batches() -> Iterator[pa.Table]:
        chunk = [first]
        for record in iterator:
            chunk.append(record)
            if len(chunk) >= CHUNK_ROWS:
                yield _records_batch(headers, chunk)
                chunk = []
        if chunk:
            yield _records_batch(headers, chunk)

    return RawSource(headers, batches())


def _records_batch(headers: list[str], chunk: list[RawRecord]) -> pa.Table:
    names: dict[str, None] = dict.fromkeys(headers)
    for record in chunk:
        names.update(dict.fromkeys(record.cells))
    columns = {name: [cell_text(record.cells.get(name)) for record in chunk] for name in names}
    return text_batch(columns, [record.origin for record in chunk])


def strip(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """str.strip() on every cell, vectorised.

    Trimming is the costliest step of shaping (0.12 s for 1M x 8 cells), and nearly every
    column has nothing to trim: a look at the first and last byte of each cell (numpy over
    Arrow's buffers, a third of the cost) passes such a chunk through untouched."""
    if isinstance(values, pa.ChunkedArray):
        chunks = [_strip_chunk(chunk) for chunk in values.chunks]
        return pa.chunked_array(chunks, values.type)
    return _strip_chunk(values)


# UTF-8 bytes that may begin or end a whitespace character of PYTHON_WHITESPACE: every
# ASCII one is at most a space; the others begin with C2, E1, E2 or E3 and end with a
# continuation byte from 80 to AF (U+0085, U+00A0, U+1680, U+2000-U+205F, U+3000).
_MAY_BEGIN_SPACE = np.zeros(256, dtype=bool)
_MAY_BEGIN_SPACE[: ord(" ") + 1] = True
_MAY_BEGIN_SPACE[[0xC2, 0xE1, 0xE2, 0xE3]] = True
_MAY_END_SPACE = np.zeros(256, dtype=bool)
_MAY_END_SPACE[: ord(" ") + 1] = True
_MAY_END_SPACE[0x80:0xB0] = True


def _strip_chunk(chunk: pa.Array) -> pa.Array:
    if _may_have_edge_space(chunk):
        return pc.utf8_trim(chunk, characters=PYTHON_WHITESPACE)
    return chunk


def _may_have_edge_space(chunk: pa.Array) -> bool:
    """False only when no cell can begin or end with whitespace (then trimming is a no-op)."""
    string = pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)
    if not string or chunk.null_count:
        return True  # not plain text: let utf8_trim decide
    if not len(chunk) or chunk.buffers()[2] is None:
        return False  # no cells, or only empty ones
    wide = pa.types.is_large_string(chunk.type)
    offsets: Any = np.frombuffer(chunk.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    if not len(data) or (data.min() > ord(" ") and data.max() < 0x80):
        return False  # no whitespace in any cell: two contiguous scans, no gathering
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    filled = ends > starts
    if not filled.all():
        starts, ends = starts[filled], ends[filled]
    return bool(_MAY_BEGIN_SPACE[data[starts]].any() or _MAY_END_SPACE[data[ends - 1]].any())
