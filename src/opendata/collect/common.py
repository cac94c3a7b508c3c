"""What the file readers (csvfile, xlsxfile, jsonfile) share: the context a reader is handed
(ReadContext), the size limits' checks and hints, and the wording of rows and titles in messages.
Only what at least two formats use lives here; each format's own steps stay in its module.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendata.definitions import Limits
from opendata.errors import SourceError
from opendata.tables import SourceProblems


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs besides its source: the file, how messages name it, and where the
    source is declared; `parallel` lets the CSV reader read in parallel (the serial second
    reading gives exact row numbers), and `problems` collects the rows read despite a problem
    (without it such a row is refused)."""

    path: Path
    label: str
    where: str
    parallel: bool = True
    problems: SourceProblems | None = None


# Whole-file byte scans (quotes, nesting, escapes, line numbers) read blocks of this size.
SCAN_BLOCK_BYTES = 8 * 2**20


def raise_limit_hint(key: str) -> str:
    """How a steward lets a genuine file past a limit: every refusal for size ends with it."""
    return f"if the file is genuine, raise `limits: {{{key}: …}}` for this source in dataset.yaml"


def check_size(path: Path, label: str, limits: Limits) -> int:
    """The file's size, refused beyond `limits.bytes` before a byte is parsed."""
    size = path.stat().st_size
    if size > limits.bytes:
        raise SourceError(
            f"{label}: {size:,} bytes, more than the limit of {limits.bytes:,}; "
            + raise_limit_hint("bytes")
        )
    return size


def line_at(path: Path, offset: int) -> int:
    """The 1-based line holding byte `offset` (counted on the error path only)."""
    line = 1
    with path.open("rb") as stream:
        done = 0
        while done < offset and (chunk := stream.read(min(SCAN_BLOCK_BYTES, offset - done))):
            line += chunk.count(b"\n")
            done += len(chunk)
    return line


def rows_phrase(rows: Sequence[int]) -> str:
    """'row 4', 'rows 6–9' (consecutive) or 'rows 3, 5'."""
    if len(rows) == 1:
        return f"row {rows[0]}"
    if rows[-1] - rows[0] == len(rows) - 1:
        return f"rows {rows[0]}–{rows[-1]}"
    return "rows " + ", ".join(str(row) for row in rows)


def duplicated_titles(header: list[str]) -> set[str]:
    seen: set[str] = set()
    twice = set()
    for label in header:
        if label and label in seen:
            twice.add(label)
        seen.add(label)
    return twice


# Byte-order marks of the encodings that are not ASCII-compatible, longest first (UTF-32's little
# endian mark begins with UTF-16's): Excel's "Unicode text" export is UTF-16 with a mark.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def wide_encoding(path: Path) -> str | None:
    """ "utf-16" or "utf-32" when the file begins with that encoding's byte-order mark."""
    with path.open("rb") as stream:
        start = stream.read(4)
    return next((name for bom, name in _WIDE_BOMS if start.startswith(bom)), None)


def excerpt(value: Any) -> str:
    """A value as a message shows it, cut at 60 characters (a cell may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
