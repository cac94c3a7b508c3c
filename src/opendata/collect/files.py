"""File sources: CSV, XLSX and JSON, read as the steward received them, a chunk at a time.

CSV goes through Arrow's streaming reader (every cell as text, nothing inferred); spreadsheets
through openpyxl's read-only parser, row by row; JSON through the standard parser, or ijson's
streaming parser when the file is large. Each yields raw batches of text with the rows' origins.

Every byte of a source is treated as hostile: a file is refused, naming its line, row or cell,
rather than read in a way that could change a value (a stray quote, a duplicate JSON key, UTF-8
declared as Latin-1, a formula without a saved value, a merged cell), and the declared `limits`
(size, inflated size, rows, columns, cell size, nesting) are checked before or while reading, so
a hostile file fails within seconds in bounded memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import json
import math
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opendata.collect.raw import (
    LISTED,
    RawRecord,
    RawSource,
    normalise_header,
    records_source,
    strip,
    text_batch,
)
from opendata.definitions import JsonSource, Limits
from opendata.errors import DefinitionError, SourceError
from opendata.messages import Text, yaml_text
from opendata.tables import (
    CHUNK_ROWS,
    LISTED_LEFT_OUT,
    LISTED_PER_CODE,
    ORIGIN,
    SourceProblem,
    SourceProblems,
    cell_text,
    int64_array,
)

# JSON files up to this size are parsed whole (exact line numbers in errors); larger ones stream.
JSON_STREAM_THRESHOLD = 64 * 2**20
CSV_BLOCK_BYTES = 4 * 2**20
SCAN_BLOCK_BYTES = 8 * 2**20
# The header line is read with this bound (a hostile file may hold one endless line).
HEADER_CHARS = 16 * 2**20
MAX_MERGED_RANGES = 100_000
DEFAULT_LIMITS = Limits()


def _raise_limit(key: str) -> str:
    return f"if the file is genuine, raise `limits: {{{key}: …}}` for this source in dataset.yaml"


def check_size(path: Path, label: str, limits: Limits) -> int:
    """The file's size, refused beyond `limits.bytes` before a byte is parsed."""
    size = path.stat().st_size
    if size > limits.bytes:
        raise SourceError(
            f"{label}: {size:,} bytes, more than the limit of {limits.bytes:,}; "
            + _raise_limit("bytes")
        )
    return size


def _line_at(path: Path, offset: int) -> int:
    """The 1-based line holding byte `offset` (counted on the error path only)."""
    line = 1
    with path.open("rb") as stream:
        done = 0
        while done < offset and (chunk := stream.read(min(SCAN_BLOCK_BYTES, offset - done))):
            line += chunk.count(b"\n")
            done += len(chunk)
    return line


# --------------------------------------------------------------------------------------------
# CSV


def _codec(encoding: str, label: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DefinitionError(f"{label}: unknown encoding {encoding!r}") from None


def _ascii_compatible(codec: str) -> bool:
    """Whether quotes, delimiters and line ends are the same single bytes as in ASCII."""
    probe = '",;|\t\r\n azAZ09'
    try:
        return probe.encode(codec) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _header(
    path: Path,
    label: str,
    encoding: str,
    delimiter: str,
    limits: Limits,
    rows: Sequence[int] = (1,),
) -> tuple[list[str], set[str]]:
    """The normalised header labels and those that appear more than once.

    The header is the first row unless the source declares another (title rows above it), or
    several (`header_rows`): then each column's title is joined from its cells in those rows.
    """
    codec = _codec(encoding, label)
    # A byte-order mark is not part of the first header (Excel writes one).
    reading = "utf-8-sig" if codec == "utf-8" else encoding
    bound = max(HEADER_CHARS, limits.cell_bytes)
    read = [0]  # lines read so far

    def lines(stream: Any) -> Iterator[str]:
        while line := stream.readline(bound + 1):
            if len(line) > bound:
                raise SourceError(
                    f"{label}, line {read[0] + 1}: the header line is longer than {bound:,} "
                    "characters; is this a CSV file?"
                )
            read[0] += 1
            yield line

    wanted = set(rows)
    found: dict[int, list[str]] = {}
    number = 0
    try:
        with path.open(encoding=reading, newline="") as stream, _field_limit(bound):
            reader = csv.reader(lines(stream), delimiter=delimiter, strict=True)
            while number < rows[-1]:
                started = read[0] + 1  # the line the record begins on
                record = next(reader, None)
                if record is None:
                    break
                number += 1
                if number in wanted:
                    at = f"line {started}" if rows == (1,) else f"row {number}"
                    _header_width(record, f"{label}, {at}", limits)
                    found[number] = record
    except UnicodeDecodeError:
        raise _not_encoded(path, label, encoding) from None
    except csv.Error as error:
        raise SourceError(f"{label}, line {read[0]}: malformed CSV header: {error}") from None
    if not found:
        if rows == (1,):
            raise SourceError(f"{label}: the file is empty (no header row)")
        raise SourceError(
            f"{label}: {_rows_text(rows)} {'is' if len(rows) == 1 else 'are'} the header "
            f"(dataset.yaml), but the file has only {number} row{'s' if number != 1 else ''}"
        )
    if found.get(1):
        found[1][0] = found[1][0].removeprefix("\ufeff")
    header = _joined([found.get(row, []) for row in rows])
    return header, _duplicated(header)


def _header_width(record: list[Any], where: str, limits: Limits) -> None:
    if len(record) > limits.columns:
        raise SourceError(
            f"{where}: {len(record):,} columns, more than the limit of "
            f"{limits.columns:,}; " + _raise_limit("columns")
        )


def _joined(rows: list[list[Any]]) -> list[str]:
    """Each column's title: its cells in the header rows, top to bottom, joined with a space
    (empty ones left out, layout whitespace collapsed); one row gives its own titles."""
    width = max((len(row) for row in rows), default=0)
    header = []
    for index in range(width):
        parts = [normalise_header(row[index]) for row in rows if index < len(row)]
        header.append(" ".join(part for part in parts if part))
    return header


def _rows_text(rows: Sequence[int]) -> str:
    """'row 4', 'rows 6–9' (consecutive) or 'rows 3, 5'."""
    if len(rows) == 1:
        return f"row {rows[0]}"
    if rows[-1] - rows[0] == len(rows) - 1:
        return f"rows {rows[0]}–{rows[-1]}"
    return "rows " + ", ".join(str(row) for row in rows)


def _duplicated(header: list[str]) -> set[str]:
    seen: set[str] = set()
    twice = set()
    for label in header:
        if label and label in seen:
            twice.add(label)
        seen.add(label)
    return twice


_FIELD_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _field_limit(chars: int) -> Iterator[None]:
    """csv's cell size limit (process-wide) raised for one reading, then put back."""
    with _FIELD_LIMIT_LOCK:
        before = csv.field_size_limit()
        csv.field_size_limit(max(before, chars))
        try:
            yield
        finally:
            csv.field_size_limit(before)


def _windows_hint(path: Path, at: int, encoding: str) -> str:
    """When a file declared UTF-8 reads as Windows-1252 (what Swedish Excel saves as "CSV"),
    a hint in both languages that shows the word as it would then read."""
    if codecs.lookup(encoding).name != "utf-8":
        return ""
    with path.open("rb") as stream:
        start = max(0, at - 200)
        stream.seek(start)
        around = stream.read(400)
    try:
        text = around.decode("cp1252")
    except UnicodeDecodeError:
        return ""
    here = at - start
    # cp1252 has one character a byte: the word around the byte, between delimiters.
    bounds = (b",", b";", b"\t", b"\r", b"\n", b'"')
    left = max(around.rfind(byte, 0, here) for byte in bounds)
    ends = [i for byte in bounds if (i := around.find(byte, here)) >= 0]
    word = text[left + 1 : min(ends, default=len(around))].strip()[:40]
    return (
        f"\nTips: filen verkar sparad som Windows-1252 (så sparar svenska Excel CSV-filer), där "
        f"står det {word!r}; ange `encoding: cp1252` för källan i dataset.yaml."
        f"\nHint: the file looks saved as Windows-1252 (as Swedish Excel saves CSV files), "
        f"where it reads {word!r}; declare `encoding: cp1252` on the source in dataset.yaml."
    )


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


def _not_encoded(path: Path, label: str, encoding: str) -> SourceError:
    """Where the bytes stop being `encoding`, found by decoding incrementally (errors only)."""
    wide = wide_encoding(path)
    if wide is not None and codecs.lookup(encoding).name != codecs.lookup(wide).name:
        return SourceError(
            f"{label}: the file is {wide.upper()} (it begins with a {wide.upper()} byte-order "
            f'mark: Excel\'s "Unicode text" is saved so), not {encoding}; save it as CSV UTF-8 '
            "(Excel: CSV UTF-8, comma-separated) and deliver that"
            f'\nTips: filen är {wide.upper()} (Excels "Unicode-text"); spara den som '
            "CSV UTF-8 (kommaavgränsad) i stället."
        )
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as stream:
        while chunk := stream.read(2**20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                at = offset + error.start
                return SourceError(
                    f"{label}: not valid {encoding} (byte {at}, line {_line_at(path, at)}); "
                    "declare the file's `encoding` in dataset.yaml or save it as UTF-8"
                    + _windows_hint(path, at, encoding)
                )
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return SourceError(
            f"{label}: not valid {encoding} (the file ends inside a character, byte {offset}); "
            "declare the file's `encoding` in dataset.yaml or save it as UTF-8"
        )
    return SourceError(f"{label}: not valid {encoding}")


class _QuoteScan:
    """Whether every quote of a CSV file sits where a quote may (a fast, vectorised look).

    In a well-formed file the quotes alternate: an opening quote starts a cell (after the
    delimiter, a line end or the start of the file) or doubles the quote before it, a closing
    quote ends a cell (before the delimiter, a line end or the end) or is doubled. Arrow's
    reader is lenient where this does not hold (`"a"b` reads as `ab`, an unclosed quote
    swallows the rest of the file), so a file that fails this look is read again by Python's
    strict csv module, which finds the line or clears a quote inside an unquoted cell.
    """

    def __init__(self, delimiter: str) -> None:
        self.allowed = np.frombuffer(f'{delimiter}\r\n"'.encode("ascii"), np.uint8)
        self.quotes = 0
        self.previous = ord("\n")  # the start of the file is a line start
        self.suspect = False
        self.pending = False  # the last byte seen was a closing quote: its follower decides

    def feed(self, block: bytes) -> None:
        if self.suspect or not block:
            return
        data = np.frombuffer(block, np.uint8)
        if self.pending:
            self.pending = False
            if data[0] not in self.allowed:
                self.suspect = True
                return
        positions = np.flatnonzero(data == 34)
        if len(positions):
            before = np.empty(len(positions), np.uint8)
            inside = positions > 0
            before[inside] = data[positions[inside] - 1]
            before[~inside] = self.previous
            kinds = (self.quotes + np.arange(len(positions))) % 2  # 0 opens, 1 closes
            opening = kinds == 0
            if not np.isin(before[opening], self.allowed).all():
                self.suspect = True
                return
            closing = positions[~opening]
            last = closing == len(data) - 1
            after = data[closing[~last] + 1]
            if not np.isin(after, self.allowed).all():
                self.suspect = True
                return
            self.pending = bool(last.any())
            self.quotes += len(positions)
        self.previous = int(data[-1])

    def finish(self) -> bool:
        """True when every quote was in place and every quoted cell was closed."""
        return not self.suspect and self.quotes % 2 == 0


def _scan_csv(
    path: Path,
    label: str,
    codec: str,
    encoding: str,
    delimiter: str,
    limits: Limits,
    last: int | None = None,
) -> None:
    """One pass over the raw bytes before parsing: quotes in place, and no UTF-8 file read as
    Latin-1 (or another single-byte encoding), which would publish 'VÃ¥rgÃ¥rda' for 'Vårgårda'.
    """
    utf8 = codec in ("utf-8", "utf-8-sig")
    single = len(delimiter) == 1 and delimiter.isascii()
    quotes = _QuoteScan(delimiter) if _ascii_compatible(codec) and single else None
    # Declared not UTF-8: is it UTF-8 all the same (valid, and with a non-ASCII byte)?
    decoder = None if utf8 or quotes is None else codecs.getincrementaldecoder("utf-8")()
    non_ascii = False
    with path.open("rb") as stream:
        first = True
        while block := stream.read(SCAN_BLOCK_BYTES):
            if first and block.startswith(codecs.BOM_UTF8):
                if decoder is not None:
                    non_ascii = True  # a UTF-8 byte-order mark: UTF-8 for sure
                block = block[3:]
            first = False
            if quotes is not None:
                quotes.feed(block)
            if decoder is not None:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    decoder = None  # not UTF-8: the declared encoding it is
                else:
                    non_ascii = non_ascii or not block.isascii()
    if decoder is not None and non_ascii:
        try:
            decoder.decode(b"", final=True)  # the file does not end inside a character
        except UnicodeDecodeError:
            pass
        else:
            raise _mojibake(path, label, encoding, delimiter)
    if quotes is not None and not quotes.finish():
        _strict_csv_scan(path, label, encoding, delimiter, limits.cell_bytes, _block(limits), last)


def _mojibake(path: Path, label: str, encoding: str, delimiter: str) -> SourceError:
    """The first cell with a non-ASCII character, shown as UTF-8 and as the declared encoding."""
    number, word = 1, "\ufeff"  # when only the byte-order mark is not ASCII
    with path.open("rb") as stream:
        line = 1
        while piece := stream.readline(2**20):  # a bounded piece of a line
            text = piece.decode("utf-8", "replace").removeprefix("\ufeff").strip()
            if not text.isascii():
                number = line
                word = next(cell for cell in text.split(delimiter) if not cell.isascii())
                word = word.strip().strip('"')[:40]
                break
            line += piece.endswith(b"\n")
    wrong = word.encode("utf-8").decode(encoding, "replace")
    return SourceError(
        f"{label}, line {number}: declared `encoding: {encoding}`, but the file is UTF-8 "
        f"({word!r} would be read as {wrong!r}); declare `encoding: utf-8` in dataset.yaml "
        "(or leave `encoding` out)"
    )


def _strict_csv_scan(
    path: Path,
    label: str,
    encoding: str,
    delimiter: str,
    cell_chars: int,
    row_bytes: int,
    last: int | None = None,
) -> None:
    """Read the file with Python's strict csv module and raise at the first malformed line.

    Slower than Arrow, so only done when the fast look found something odd, or Arrow failed:
    a stray quote, an unclosed quote, an oversized cell, a row longer than Arrow's block.
    Lines are read with a bound (csv would hold a 100 MB line whole before judging it).
    Rows after `last` (the declared last data row: notes below a table) are not judged."""
    reading = "utf-8-sig" if _codec(encoding, label) == "utf-8" else encoding

    def lines(stream: Any) -> Iterator[str]:
        number = 0
        while line := stream.readline(row_bytes + 1):
            number += 1
            if len(line) > row_bytes:
                longest = max(len(part) for part in line.split(delimiter))
                kind = (
                    f"a cell longer than {cell_chars:,} characters"
                    if longest > cell_chars
                    else f"a line longer than {row_bytes:,} characters"
                )
                raise SourceError(f"{label}, line {number}: {kind}; " + _raise_limit("cell_bytes"))
            yield line

    try:
        with path.open(encoding=reading, newline="") as stream, _field_limit(cell_chars):
            reader = csv.reader(lines(stream), delimiter=delimiter, strict=True)
            record_line = 1  # where the record being read began
            for record, row in enumerate(reader, start=1):
                if last is not None and record >= last:
                    return
                if sum(len(c.encode()) + 1 for c in row) >= row_bytes:
                    raise SourceError(
                        f"{label}, line {reader.line_num}: a row of more than {row_bytes:,} "
                        "bytes, longer than the reader's block; shorten its cells"
                    )
                record_line = reader.line_num + 1
    except UnicodeDecodeError:
        raise _not_encoded(path, label, encoding) from None
    except csv.Error as error:
        text = str(error)
        if "field larger than field limit" in text:
            raise SourceError(
                f"{label}, line {record_line}: a cell longer than {cell_chars:,} "
                "characters; " + _raise_limit("cell_bytes")
            ) from None
        if "expected after" in text:
            text = 'a quote inside a quoted cell must be doubled (""), and a quoted cell ' + (
                f"must end at the {_delimiter_name(delimiter)} or the line end ({text})"
            )
        elif "unexpected end of data" in text:
            raise SourceError(
                f"{label}, line {record_line}: malformed CSV: a quoted cell that begins on this "
                "line is never closed (a missing quote)"
            ) from None
        raise SourceError(f"{label}, line {reader.line_num}: malformed CSV: {text}") from None


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(delimiter, repr(delimiter))


class ExactRowNumbersNeeded(Exception):
    """The parallel reader set a row aside without telling which: read again, serially."""


def read_csv(
    path: Path,
    label: str,
    encoding: str,
    delimiter: str,
    parallel: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    *,
    problems: SourceProblems | None = None,
    last_data_row: int | None = None,
    stop_at_empty_row: bool = False,
    header_rows: Sequence[int] = (1,),
    first_data_row: int | None = None,
) -> RawSource:
    """Rows of a delimited text file; the first line is the header unless `header_rows` says
    which rows are (title rows above it; several rows joined), data from `first_data_row`
    (default: the row under the header). Rows keep their numbers in the file.

    The parallel reader is three times faster but cannot number the rows it sets aside (blank
    lines, rows with a wrong number of cells); when it meets one, it raises ExactRowNumbersNeeded
    and the caller reads the file again with `parallel=False`, so every origin stays exact.

    A row with the wrong number of cells becomes a problem in `problems` and is read as far as
    it goes (a missing cell NULL, an extra one dropped), so its other cells are checked too; the
    reading goes on, so every such row is reported at once. Without `problems` it is refused.
    Blank rows are left out and counted in `problems.left_out`.
    Reading ends after `last_data_row` (the file's first row is row 1) or, with
    `stop_at_empty_row`, at the first empty row below the data.
    """
    check_size(path, label, limits)
    codec = _codec(encoding, label)
    header, duplicated = _header(path, label, encoding, delimiter, limits, header_rows)
    if parallel:  # the first reading only (the serial one reads the same bytes)
        _scan_csv(path, label, codec, encoding, delimiter, limits, last_data_row)
    batches = _csv_batches(
        path,
        label,
        encoding,
        delimiter,
        header,
        parallel,
        limits,
        _RowRange(last_data_row, stop_at_empty_row, first_data_row or header_rows[-1] + 1),
        problems,
    )
    at = "line 1" if tuple(header_rows) == (1,) else _rows_text(header_rows)
    return RawSource(header, batches, duplicated, header_at=f"{label}, {at}", place=label)


class _RowRange(NamedTuple):
    last: int | None  # the last data row (the file's first row is row 1)
    stop_at_empty: bool  # the first empty row below the data ends the table
    first: int = 2  # the first data row (rows above it: the header and titles)


def _wrong_width(
    label: str, number: int, cells: int, width: int, text: str, delimiter: str
) -> SourceProblem:
    """A row with more or fewer cells than the header, and the likely cause."""
    code = "extra-cell" if cells > width else "missing-cell"
    hint = Text("", "")
    if cells > width:
        shown = yaml_text(delimiter)
        hint = Text(
            f"Tips: en cell som innehåller avgränsaren {shown} måste stå inom citattecken.",
            f"Hint: a cell that holds the delimiter {shown} must be quoted.",
        )
        if delimiter == "," and re.search(r"\d,\d", text):
            hint += Text(
                "Ett tal med decimalkomma delas i två celler i en kommaseparerad fil; sätt det "
                'inom citattecken ("1,5"), eller spara filen semikolonavgränsad och ange '
                '`delimiter: ";"` och `decimal: ","` för källan i dataset.yaml.',
                "A number with a decimal comma splits into two cells in a comma-separated file; "
                'quote it ("1,5"), or save the file separated by semicolons and declare '
                '`delimiter: ";"` and `decimal: ","` on the source in dataset.yaml.',
            )
    return SourceProblem(
        code,
        f"{label}, row {number}",
        f"the row has {cells} cells where the header has {width}. {hint.en}".strip(),
        f"raden har {cells} celler men rubrikraden har {width}. {hint.sv}".strip(),
    )


def _csv_batches(
    path: Path,
    label: str,
    encoding: str,
    delimiter: str,
    header: list[str],
    parallel: bool,
    limits: Limits,
    rows: _RowRange = _RowRange(None, False),
    problems: SourceProblems | None = None,
) -> Iterator[pa.Table]:
    import pyarrow.csv as pacsv

    width = len(header)
    names = [f"c{i}" for i in range(width)]
    skipped: list[int] = []  # record numbers of rows the parser set aside (blank lines)
    # Record numbers of rows with more (True) or fewer (False) cells than the header.
    wrong_rows: dict[bool, list[int]] = {True: [], False: []}
    wrong: list[tuple[int, int, str]] = []  # the first of them: number, cells, text
    unnumbered: list[str] = []
    block = _block(limits)
    first = rows.first  # a data row's number is its position among them plus this

    misfits: list[tuple[int, list[str | None]]] = []  # wrong-width rows, cells fitted
    blank_rows: list[Any] = []  # numbers of rows of blank cells (numpy), for the report

    def set_aside(row: Any) -> str:
        if row.number is None:
            unnumbered.append(row.text)
            return "skip"
        cells = _record_cells(row.text, delimiter)
        if any(cell.strip() for cell in cells):
            wrong_rows[row.actual_columns > width].append(row.number)
            if len(wrong) < LISTED_PER_CODE:
                wrong.append((row.number, row.actual_columns, row.text[:1000]))
            # The row's other cells are still checked: a missing cell is absent (NULL), an
            # extra one is the reported problem.
            misfits.append((row.number, [*cells[:width], *[None] * (width - len(cells))]))
        else:  # an empty line, or one of only delimiters: layout like a blank row
            skipped.append(row.number)
        return "skip"

    def failed(error: Exception) -> SourceError:
        return _csv_error(path, label, encoding, delimiter, error, limits, block)

    def check_set_aside() -> None:
        if unnumbered:
            raise ExactRowNumbersNeeded(label)

    def report_wrong(last: int | None) -> None:
        """Rows of the wrong width up to `last`: problems, or (without a sink) a refusal."""
        listed = [w for w in wrong if last is None or w[0] <= last]
        if not listed:
            return
        if problems is None:
            number, cells, _ = listed[0]
            raise SourceError(f"{label}, row {number}: {cells} cells where the header has {width}")
        for number, cells, text in listed:
            problems.add(_wrong_width(label, number, cells, width, text, delimiter))
        for extra, code in ((True, "extra-cell"), (False, "missing-cell")):
            counted = sum(1 for n in wrong_rows[extra] if last is None or n <= last)
            shown = sum(1 for w in listed if (w[1] > width) == extra)
            problems.count(code, counted - shown)

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows_after_names=first - 1,
                encoding=encoding,
                use_threads=parallel,
                block_size=block,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=set_aside,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid as error:
        raise failed(error) from None
    good = 0
    first_data: int | None = None  # the first row that is not empty
    stop: int | None = None  # the first empty row below it (with rows.stop_at_empty)
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            raise failed(error) from None
        check_set_aside()
        count = batch.num_rows
        # A row's record number: its place among the data rows, plus the rows set aside
        # before it, plus the rows above the data.
        positions = np.arange(good, good + count)
        set_aside_rows = [*skipped, *wrong_rows[True], *wrong_rows[False]]
        aside = np.sort(np.asarray(set_aside_rows, dtype=np.int64)) - first
        if len(aside):
            positions = positions + np.searchsorted(
                aside - np.arange(len(aside)), positions, side="right"
            )
        if good + count > limits.rows:
            raise SourceError(f"{label}: more than {limits.rows:,} rows; " + _raise_limit("rows"))
        good += count
        # Rows whose cells are all blank are layout, not data: dropped (their numbers stay).
        # The first column decides for nearly every row; the others are looked at only when
        # some first cells are blank.
        blank: Any = None
        for i in range(width):
            empty = pc.equal(pc.utf8_length(strip(batch.column(i))), 0)
            blank = empty if blank is None else pc.and_(blank, empty)
            if not pc.any(blank).as_py():
                blank = None
                break
        if rows.stop_at_empty and stop is None:
            empty_rows = np.zeros(count, bool) if blank is None else _numpy_bool(blank)
            if first_data is None and not empty_rows.all():
                first_data = int(positions[np.argmin(empty_rows)]) + first
            if first_data is not None:
                candidates = [n for n in skipped if n > first_data]
                candidates += [
                    int(n) + first for n in positions[empty_rows] if n + first > first_data
                ]
                stop = min(candidates, default=None)
        last = _last_row(rows.last, stop)
        ended = last is not None and count > 0 and int(positions[-1]) + first >= last
        if last is not None and count and int(positions[-1]) + first > last:
            within = positions + first <= last
            batch = batch.filter(pa.array(within))
            positions = positions[within]
            if blank is not None:
                blank = pc.filter(blank, pa.array(within))
        _check_cell_bytes(batch, header, label, positions + first, limits)
        numbers = int64_array(positions + first)
        table = _origin_table(batch.columns, header, label, numbers)
        if blank is not None:
            blank_rows.append(numbers.filter(blank).to_numpy())
            table = table.filter(pc.invert(blank))
            numbers = numbers.filter(pc.invert(blank))
        if misfits:  # those up to this batch's last row (the parser may have run ahead)
            through = int(positions[-1]) + first if count else first - 1
            upto = through if last is None else min(last, through)
            table = _with_misfits(table, numbers, misfits, header, label, upto, limits)
        if table.num_rows:
            yield table
        if ended:
            break
    # A malformed last row may be set aside without a batch after it.
    check_set_aside()
    if rows.stop_at_empty and stop is None and first_data is not None:
        stop = min((n for n in skipped if n > first_data), default=None)  # after every batch
    last = _last_row(rows.last, stop)
    if misfits:
        empty = _origin_table(
            [pa.array([], pa.string())] * width, header, label, pa.array([], pa.int64())
        )
        table = _with_misfits(empty, pa.array([], pa.int64()), misfits, header, label, last, limits)
        if table.num_rows:
            yield table
    report_wrong(last)
    if problems is not None:  # every blank row read (up to the table's end), for the report
        numbers = np.concatenate([*blank_rows, np.asarray(skipped, dtype=np.int64)])
        inside = np.sort(numbers if last is None else numbers[numbers <= last])
        listed = [f"row {n}" for n in inside[:LISTED_LEFT_OUT].tolist()]
        problems.leave_out(label, "blank-row", listed, len(inside))


def _record_cells(text: str, delimiter: str) -> list[str]:
    """The cells of one record as the parser set it aside (quotes and doubled quotes as
    Arrow reads them, line breaks inside quotes kept)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    return [cell for record in reader for cell in record]


def _origin_table(columns: Sequence[Any], header: list[str], label: str, numbers: Any) -> pa.Table:
    """A raw batch: the header's columns and each row's origin ("file, row 7")."""
    origins = pc.binary_join_element_wise(f"{label}, row ", numbers.cast(pa.string()), "")
    return pa.table({**{name: columns[i] for i, name in enumerate(header)}, ORIGIN: origins})


def _with_misfits(
    table: pa.Table,
    numbers: Any,
    misfits: list[tuple[int, list[str | None]]],
    header: list[str],
    label: str,
    last: int | None,
    limits: Limits,
) -> pa.Table:
    """`table` with the rows of the wrong width up to row `last` in their places, so that
    their other cells are checked like any row's. Takes them out of `misfits`."""
    taken = [m for m in misfits if last is None or m[0] <= last]
    misfits[:] = [m for m in misfits if last is not None and m[0] > last]
    if not taken:
        return table
    for number, cells in taken:
        for index, cell in enumerate(cells):
            if cell is not None and len(cell.encode("utf-8")) > limits.cell_bytes:
                raise SourceError(
                    f"{label}, row {number}, column {header[index]!r}: a cell of "
                    f"{len(cell.encode('utf-8')):,} bytes, more than the limit of "
                    f"{limits.cell_bytes:,}; " + _raise_limit("cell_bytes")
                )
    columns = [pa.array([cells[i] for _, cells in taken], pa.string()) for i in range(len(header))]
    extra_numbers = pa.array([number for number, _ in taken], pa.int64())
    merged = pa.concat_tables(
        [table, _origin_table(columns, header, label, extra_numbers).cast(table.schema)]
    )
    order = pc.sort_indices(pa.concat_arrays([numbers, extra_numbers]))
    return merged.take(order)


def _last_row(last: int | None, stop: int | None) -> int | None:
    """The last row to read: `last_data_row`, or the row above the first empty one."""
    ends = [n for n in (last, None if stop is None else stop - 1) if n is not None]
    return min(ends, default=None)


def _numpy_bool(mask: Any) -> Any:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _block(limits: Limits) -> int:
    """Arrow's block: a row must fit in one, so it grows with the cell limit."""
    return max(CSV_BLOCK_BYTES, 4 * limits.cell_bytes)


def _check_cell_bytes(
    batch: pa.RecordBatch, header: list[str], label: str, numbers: Any, limits: Limits
) -> None:
    for i, name in enumerate(header):
        lengths = pc.binary_length(batch.column(i))
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > limits.cell_bytes:
            at = pc.index(pc.greater(lengths, limits.cell_bytes), True).as_py()
            raise SourceError(
                f"{label}, row {int(numbers[at])}, column {name!r}: a cell of "
                f"{longest:,} bytes, more than the limit of {limits.cell_bytes:,}; "
                + _raise_limit("cell_bytes")
            )


def _csv_error(
    path: Path,
    label: str,
    encoding: str,
    delimiter: str,
    error: Exception,
    limits: Limits,
    block: int,
) -> SourceError:
    """Arrow's parse errors name no line: Python's strict reader finds it."""
    text = str(error)
    if isinstance(error, UnicodeDecodeError) or "UTF8" in text or "decode" in text:
        return _not_encoded(path, label, encoding)
    try:
        _strict_csv_scan(path, label, encoding, delimiter, limits.cell_bytes, row_bytes=block)
    except SourceError as located:
        return located
    return SourceError(f"{label}: malformed CSV: {text.splitlines()[0] if text else error}")


# --------------------------------------------------------------------------------------------
# XLSX


class Unsaved:
    """A formula cell without a saved value (the file was written by a program that does not
    calculate): its value is unknown, which is not the same as empty."""

    def __init__(self, formula: str) -> None:
        self.formula = formula


class ErrorValue:
    """A cell holding a spreadsheet error value (#N/A, #DIV/0!, #REF!, #VALUE!, …): a formula
    that failed; its text is no value of the table."""

    def __init__(self, code: str) -> None:
        self.code = code


_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Microsoft's compound file (CFB)
# A stream's name in a compound file's directory is UTF-16LE.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_STRICT_NAMESPACE = b"http://purl.oclc.org/ooxml/spreadsheetml/main"


def _check_inflated(path: Path, label: str, limits: Limits) -> None:
    """An xlsx file is a zip: the sizes its parts declare, uncompressed, are checked before
    openpyxl opens it, so that a small file that inflates to gigabytes is refused at once.
    (zipfile never inflates a part beyond its declared size: a lying header fails its CRC.)
    What is not a workbook openpyxl reads is named first: a password-protected workbook (Excel
    keeps it encrypted in a compound file, not a zip), an Excel 97–2003 .xls, and a workbook
    saved as Strict Open XML (whose sheets openpyxl does not see)."""
    import zipfile

    try:
        with path.open("rb") as stream:
            head = stream.read(len(_OLE2_MAGIC))
            encrypted = head == _OLE2_MAGIC and _holds(stream, _ENCRYPTED_PACKAGE)
    except OSError as error:
        raise SourceError(f"{label}: cannot be read ({error.strerror})") from None
    if head == _OLE2_MAGIC:
        if encrypted:
            raise SourceError(
                f"{label}: the workbook is password-protected (encrypted), so it cannot be "
                "read; save a copy without a password (in Excel: File > Info > Protect "
                "Workbook > Encrypt with Password, clear the password) and deliver that"
            )
        raise SourceError(
            f"{label}: an Excel 97–2003 workbook (.xls), not .xlsx; open it and save it as "
            "'Excel Workbook (*.xlsx)'"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
            strict = False
            if inflated <= limits.inflated_bytes and "xl/workbook.xml" in archive.namelist():
                with archive.open("xl/workbook.xml") as part:
                    strict = _STRICT_NAMESPACE in part.read(64 * 1024)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as error:
        raise SourceError(f"{label}: not a readable .xlsx workbook ({error})") from None
    if inflated > limits.inflated_bytes:
        raise SourceError(
            f"{label}: its parts inflate to {inflated:,} bytes, more than the limit of "
            f"{limits.inflated_bytes:,} (a compressed file that expands this much is refused "
            "before it is read); " + _raise_limit("inflated_bytes")
        )
    if strict:
        raise SourceError(
            f"{label}: the workbook is saved as 'Strict Open XML Spreadsheet', which cannot be "
            "read here; open it and save it as 'Excel Workbook (*.xlsx)'"
        )


def _holds(stream: Any, needle: bytes, chunk: int = 1 << 20) -> bool:
    """Whether the rest of the stream holds `needle`, read a chunk at a time."""
    tail = b""
    while block := stream.read(chunk):
        if needle in tail + block:
            return True
        tail = block[-(len(needle) - 1) :]
    return False


_MERGE = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3}[0-9]{1,7}(?::[A-Z]{1,3}[0-9]{1,7})?)"'
)


def _merged_ranges(archive: Any, member: str, label: str) -> list[tuple[int, int, int, int]]:
    """The sheet's merged cells (min_col, min_row, max_col, max_row), from its XML.

    openpyxl's read-only mode does not report them; they come after the rows, so the XML is
    searched (as bytes, without parsing) before the rows are read."""
    from openpyxl.utils.cell import range_boundaries

    found: set[bytes] = set()
    tail = b""
    with archive.open(member) as stream:
        while chunk := stream.read(2**20):
            data = tail + chunk
            if b"mergeCell" in data:
                found.update(match.group(1) for match in _MERGE.finditer(data))
                if len(found) > MAX_MERGED_RANGES:
                    raise SourceError(
                        f"{label}: more than {MAX_MERGED_RANGES:,} merged cell ranges in one sheet"
                    )
            tail = data[-256:]
    ranges = []
    for ref in found:
        text = ref.decode("ascii")
        if ":" not in text:
            continue
        min_col, min_row, max_col, max_row = range_boundaries(text)
        ranges.append((min_col or 1, min_row or 1, max_col or 1, max_row or 1))
    return sorted(ranges, key=lambda r: (r[1], r[0]))


def _range_text(merged: tuple[int, int, int, int]) -> str:
    from openpyxl.utils.cell import get_column_letter

    min_col, min_row, max_col, max_row = merged
    return f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"


def _coordinate(row: int, column: int) -> str:
    from openpyxl.utils.cell import get_column_letter

    return f"{get_column_letter(column)}{row}"


class _Row(NamedTuple):
    number: int
    values: list[Any]  # up to `SheetRows.width` cells
    beyond: tuple[int, Any] | None  # the first cell past that width that is not blank
    widest: int  # the last column the row's XML names


class SheetRows:
    """The rows the sheet's XML holds, in order, gaps left out (a gap is a blank row).

    openpyxl's own read-only rows are padded to the dimension the file declares (a hostile file
    declares A1:XFD1048576) and cut at it (a sloppy one declares too little); with
    `data_only`, a formula cell without a saved value reads as empty. This parser reads what
    is there and marks such a formula `Unsaved`; once `width` is set (the header's), a row's
    values stop there, so one far-right cell costs nothing per row."""

    def __init__(self, workbook: Any, worksheet: Any) -> None:
        self.workbook = workbook
        self.worksheet = worksheet
        self.width: int | None = None

    def __iter__(self) -> Iterator[_Row]:
        from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

        class Parser(WorkSheetParser):  # type: ignore[misc]
            def parse_cell(self, element: Any) -> dict[str, Any]:
                cell: dict[str, Any] = super().parse_cell(element)
                if cell.get("data_type") == "e" and cell["value"] is not None:
                    cell["value"] = ErrorValue(str(cell["value"]))
                elif cell["value"] is None:
                    formula = element.find(FORMULA_TAG)
                    if formula is not None:
                        cell["value"] = Unsaved("=" + (formula.text or ""))
                return cell

        workbook = self.workbook
        with self.worksheet._get_source() as source:
            parser = Parser(
                source,
                self.worksheet._shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            last = 0
            for number, cells in parser.parse():
                if number <= last:
                    continue  # openpyxl ignores a repeated row number too
                last = number
                widest = max((cell["column"] for cell in cells), default=0)
                width = widest if self.width is None else min(widest, self.width)
                values: list[Any] = [None] * width
                beyond: tuple[int, Any] | None = None
                for cell in cells:
                    if cell["column"] <= width:
                        values[cell["column"] - 1] = cell["value"]
                    elif beyond is None and not _is_blank(cell["value"]):
                        beyond = (cell["column"], cell["value"])
                yield _Row(number, values, beyond, widest)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _BlankRows:
    """A sheet's blank rows met inside its table: counted as left out once a data row
    follows (blank rows under the last data row are the table's margin)."""

    def __init__(self, place: str, problems: SourceProblems | None) -> None:
        self.place = place
        self.problems = problems
        self.pending: list[tuple[int, int]] = []  # ranges of row numbers, inclusive

    def meet(self, first: int, last: int) -> None:
        self.pending.append((first, last))

    def keep(self) -> None:
        if not self.pending or self.problems is None:
            self.pending.clear()
            return
        count = sum(last - first + 1 for first, last in self.pending)
        rows = [
            f"row {n}"
            for n in itertools.islice(
                itertools.chain.from_iterable(range(a, b + 1) for a, b in self.pending),
                LISTED_LEFT_OUT,
            )
        ]
        self.problems.leave_out(self.place, "blank-row", rows, count)
        self.pending.clear()


def read_xlsx(
    path: Path,
    label: str,
    sheet: str,
    header_row: int | Sequence[int],
    first_data_row: int | None,
    where: str,
    limits: Limits = DEFAULT_LIMITS,
    *,
    problems: SourceProblems | None = None,
    last_data_row: int | None = None,
    stop_at_empty_row: bool = True,
    untitled: bool = False,
    every_column: bool = False,
) -> RawSource:
    """The block of rows from `first_data_row` up to the first blank row after the data.

    Notes and footnotes below a table are separated from it by a blank row in every statistics
    spreadsheet we receive; titles above the header are skipped by `header_row`, and header rows
    that continue below it (a unit, an English title) by `first_data_row`. A table that goes on
    after a blank row says where it ends instead: `last_data_row` (blank rows above it are
    skipped), or `stop_at_empty_row=False` (to the sheet's last row).

    With `every_column` (the source maps no `columns`: the header is the table), a value in a
    column without a title is a problem too, as a CSV row's extra cell is; with `columns` the
    source picks its columns and the others are not read.
    A formula without a saved value or an empty cell inside merged cells is a problem in
    `problems` (the cell is read as empty and the reading goes on); without `problems`, refused.

    `header_row` is one row (`header_row` in dataset.yaml: a merged title cell titles only its
    first column, as the sheet's XML has it), or the rows declared by `header_rows`: each
    column's title is joined from them, and a merged cell titles every column it spans. With
    `untitled`, the one column without a title is read too, as '' (a definition names it so).
    """
    import zipfile

    import openpyxl

    check_size(path, label, limits)
    _check_inflated(path, label, limits)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as error:
        raise SourceError(f"{label}: not a readable .xlsx workbook ({error})") from None
    if sheet not in workbook.sheetnames:
        sheets = ", ".join(repr(n) for n in workbook.sheetnames)
        workbook.close()
        raise SourceError(f"{where}: sheet: {label} has no sheet {sheet!r} (sheets: {sheets})")
    worksheet = workbook[sheet]
    place = f"{label}, sheet {sheet!r}"
    try:
        merged = _merged_ranges(workbook._archive, worksheet._worksheet_path, place)
        sheet_rows = SheetRows(workbook, worksheet)
        rows: Iterator[_Row] = iter(sheet_rows)
        header: list[str] | None = None
        counted = 0
        joined: _JoinedHeader | None = None
        if isinstance(header_row, int):
            for number, row, _beyond, _widest in rows:
                counted = number
                if number > header_row:
                    break
                if number == header_row:
                    header = _xlsx_header(row, place, number, limits)
                    break
        else:
            joined = _joined_header(rows, tuple(header_row), merged, place, limits)
            header, counted = joined.titles, joined.counted
            if joined.below is not None:  # the first row under the header: read it again
                rows = itertools.chain([joined.below], rows)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, SyntaxError) as error:
        workbook.close()
        raise SourceError(f"{label}: not a readable .xlsx workbook ({error})") from None
    except AttributeError:  # a chart sheet: no cells
        workbook.close()
        raise SourceError(f"{where}: sheet: {sheet!r} of {label} is not a worksheet") from None
    except BaseException:
        workbook.close()
        raise
    numbers = (header_row,) if isinstance(header_row, int) else tuple(header_row)
    if joined is not None and not any(header or ()):
        workbook.close()
        rows_text = _rows_text(numbers)
        if counted >= numbers[0] or joined.below is not None:
            raise SourceError(
                f"{where}: header_rows: {rows_text} of sheet {sheet!r} of {label} "
                f"{'is' if len(numbers) == 1 else 'are'} empty"
            )
        raise SourceError(f"{where}: header_rows: sheet {sheet!r} of {label} has {counted} rows")
    if header is None:
        workbook.close()
        if counted > numbers[0]:
            raise SourceError(
                f"{where}: header_row: row {header_row} of sheet {sheet!r} of {label} is empty"
            )
        raise SourceError(f"{where}: header_row: sheet {sheet!r} of {label} has {counted} rows")
    # The one column without a title, when a definition names it ('').
    untitled_at = header.index("") if untitled and header.count("") == 1 else -1
    names = list(dict.fromkeys(h for i, h in enumerate(header) if h or i == untitled_at))
    start = first_data_row or numbers[-1] + 1
    sheet_rows.width = len(header)  # cells right of the header are never read
    in_header = [] if joined is not None else _merged_in_row(merged, numbers[0])
    note = ""
    if in_header:
        shown = ", ".join(_range_text(m) for m in in_header[:5])
        top = numbers[0]
        note = (
            f"; row {top} of sheet {sheet!r} has merged cells ({shown}): with `header_row`, a "
            f"merged cell titles only its first column; declare `header_rows: [{top}]` instead "
            f"(`[{top}, {top + 1}]` when the row below tells the spanned columns apart) to give "
            "its title to every column it spans"
        )
    # Merged ranges that reach into the data, for each titled column they cover.
    covering: dict[int, list[tuple[int, int, int, int]]] = {}
    for merged_range in merged:
        if merged_range[3] >= start:
            for column in range(merged_range[0], min(merged_range[2], len(header)) + 1):
                if header[column - 1] or column - 1 == untitled_at:
                    covering.setdefault(column, []).append(merged_range)

    def batches() -> Iterator[pa.Table]:
        try:
            columns: dict[str, list[str]] = {name: [] for name in names}
            origins: list[str] = []
            started = False
            expected = start
            data_rows = 0
            blank = _BlankRows(place, problems)  # blank rows inside the table, for the report
            for number, row, beyond, widest in rows:
                if number < start:
                    continue
                if last_data_row is not None and number > last_data_row:
                    break
                if started and number > expected and stop_at_empty_row:
                    break  # a missing row is a blank row: the block ends
                if started and number > expected:
                    blank.meet(expected, number - 1)  # rows the sheet's XML leaves out
                expected = number + 1
                if widest > limits.columns:
                    raise SourceError(
                        f"{place}, row {number}: {widest:,} columns, more than the limit "
                        f"of {limits.columns:,}; " + _raise_limit("columns")
                    )
                if not beyond and all(_is_blank(cell) for cell in row):
                    if started and stop_at_empty_row:
                        break
                    if started:
                        blank.meet(number, number)
                    continue
                started = True
                blank.keep()
                data_rows += 1
                if every_column and beyond is not None:  # right of the last title: no column
                    _untitled_value(
                        f"{place}, row {number}", number, beyond[0] - 1, beyond[1], problems
                    )
                if data_rows > limits.rows:
                    raise SourceError(
                        f"{place}: more than {limits.rows:,} rows; " + _raise_limit("rows")
                    )
                origin = f"{place}, row {number}"
                cells: dict[str, Any] = {}
                for index, name in enumerate(header):
                    value = row[index] if index < len(row) else None  # a short row
                    if not name and index != untitled_at:
                        if every_column and not _is_blank(value) and not isinstance(value, Unsaved):
                            # as a CSV row with an extra cell: never dropped without a word
                            _untitled_value(origin, number, index, value, problems)
                        continue
                    if isinstance(value, ErrorValue):
                        failed = _error_value_problem(origin, name, number, index, value)
                        if problems is None:
                            raise SourceError(f"{origin}, column {name!r}: {failed.note}")
                        problems.add(failed)
                        value = None
                    elif isinstance(value, Unsaved):
                        unsaved = _unsaved(place, number, index, header, value)
                        if problems is None:
                            raise unsaved
                        problems.add(_unsaved_problem(origin, name, number, index, value))
                        value = None
                    elif value is None:
                        if index + 1 in covering:
                            _check_merged(
                                covering[index + 1], number, index + 1, origin, name, problems
                            )
                    elif (
                        isinstance(value, str)
                        and len(value) * 4 > limits.cell_bytes  # else it cannot be too long
                        and len(value.encode()) > limits.cell_bytes
                    ):
                        raise SourceError(
                            f"{origin}, column {name!r}: a cell of more than "
                            f"{limits.cell_bytes:,} bytes; " + _raise_limit("cell_bytes")
                        )
                    cells[name] = value
                for name in names:
                    columns[name].append(cell_text(cells.get(name)))
                origins.append(origin)
                if len(origins) >= CHUNK_ROWS:
                    yield text_batch(columns, origins)
                    columns = {name: [] for name in names}
                    origins = []
            if origins:
                yield text_batch(columns, origins)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError, SyntaxError) as error:
            raise SourceError(f"{label}: not a readable .xlsx workbook ({error})") from None
        finally:
            workbook.close()

    merged_header = [_range_text(m) for m in in_header]
    letters: dict[str, str] = {}
    for index, title in enumerate(header):
        if title or index == untitled_at:
            letters.setdefault(title, _coordinate(1, index + 1)[:-1])
    duplicated = _duplicated(header)
    return RawSource(
        header,
        batches(),
        duplicated,
        header_at=f"{place}, {_rows_text(numbers)}",
        header_note=note,
        merged_header=merged_header,
        place=place,
        letters=letters,
        title_cells={} if joined is None else joined.cells_of(duplicated),
    )


def _merged_in_row(
    merged: list[tuple[int, int, int, int]], row: int
) -> list[tuple[int, int, int, int]]:
    """Merged cells of one header row that span several columns (each titles only its first)."""
    return [m for m in merged if m[1] <= row <= m[3] and m[2] > m[0]]


class _JoinedHeader(NamedTuple):
    titles: list[str]
    refs: list[list[str]]  # each column's cells its title was joined from ("B6", "H6:K6")
    counted: int  # the last row read
    below: _Row | None  # the first row under the header, read to know the header had ended

    def cells_of(self, titles: set[str]) -> dict[str, str]:
        """For a title several columns share, the columns and the cells each was joined from:
        'columns B (B3:C3, B4) and C (B3:C3, C4)' (one pass over the header, ten columns
        shown: a hostile header may repeat one title 16,384 times)."""
        columns: dict[str, list[int]] = {}
        for index, name in enumerate(self.titles):
            if name in titles:
                columns.setdefault(name, []).append(index)
        found = {}
        for title, indices in columns.items():
            shown = [
                f"{_coordinate(1, index + 1)[:-1]} ({', '.join(self.refs[index])})"
                for index in indices[:LISTED]
            ]
            if len(indices) > LISTED:
                more = len(indices) - LISTED
                found[title] = f"columns {', '.join(shown)}, … and {more:,} more"
            else:
                found[title] = "columns " + ", ".join(shown[:-1]) + " and " + shown[-1]
        return found


def _joined_header(
    rows: Iterator[_Row],
    numbers: tuple[int, ...],
    merged: list[tuple[int, int, int, int]],
    place: str,
    limits: Limits,
) -> _JoinedHeader:
    """Each column's title joined from the header rows `numbers`, top to bottom, with a space.

    A merged cell gives its value to every cell it spans in those rows (its value is kept by
    its first cell, which may lie above the header), and counts once in a column's title however
    many header rows it spans: 'Inflyttade' merged over H6:K6 above 'därav från' merged over
    I7:K7 titles column J 'Inflyttade därav från …'."""
    wanted = set(numbers)
    last = numbers[-1]
    spans = [m for m in merged if any(m[1] <= row <= m[3] for row in numbers)]
    anchor_columns: dict[int, list[int]] = {}
    for span in spans:
        anchor_columns.setdefault(span[1], []).append(span[0])
    values: dict[int, list[str]] = {}
    anchors: dict[tuple[int, int], str] = {}  # (row, column) of a merged range's first cell
    counted = 0
    below: _Row | None = None
    for item in rows:
        if item.number > last:
            below = item
            break
        counted = item.number
        if item.number in wanted:
            values[item.number] = _xlsx_header(item.values, place, item.number, limits)
        for column in anchor_columns.get(item.number, ()):
            cell = item.values[column - 1] if column <= len(item.values) else None
            if isinstance(cell, Unsaved):
                raise _unsaved(place, item.number, column - 1, [], cell)
            anchors[(item.number, column)] = normalise_header(cell)
        if item.number == last:
            break
    width = max([len(cells) for cells in values.values()] + [m[2] for m in spans], default=0)
    if width > limits.columns:
        raise SourceError(
            f"{place}, {_rows_text(numbers)}: {width:,} columns, more than the limit of "
            f"{limits.columns:,}; " + _raise_limit("columns")
        )
    # The merged range over each header cell. Ranges of a sound file never overlap; those of a
    # hostile one may, so each cell is given once (the range that starts leftmost), in one sweep
    # a row: never a pass over every column of every range.
    cover: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for row in numbers:
        done = 0  # the columns up to here have their range
        for span in sorted(m for m in spans if m[1] <= row <= m[3]):
            for column in range(max(span[0], done + 1), span[2] + 1):
                cover[(row, column)] = span
            done = max(done, span[2])
    titles: list[str] = []
    refs: list[list[str]] = []
    for column in range(1, width + 1):
        parts: list[str] = []
        cells: list[str] = []
        seen: set[tuple[int, int, int, int]] = set()
        for row in numbers:
            covering = cover.get((row, column))
            if covering is None:
                found = values.get(row, [])
                text, ref = (found[column - 1] if column <= len(found) else ""), None
            elif covering in seen:
                continue  # a merged cell over several header rows counts once
            else:
                seen.add(covering)
                text, ref = anchors.get((covering[1], covering[0]), ""), _range_text(covering)
            if text:
                parts.append(text)
                cells.append(ref or _coordinate(row, column))
        titles.append(" ".join(parts))
        refs.append(cells)
    return _JoinedHeader(titles, refs, counted, below)


def _xlsx_header(row: list[Any], place: str, number: int, limits: Limits) -> list[str]:
    if len(row) > limits.columns:
        raise SourceError(
            f"{place}, row {number}: {len(row):,} columns, more than the limit of "
            f"{limits.columns:,}; " + _raise_limit("columns")
        )
    for index, cell in enumerate(row):
        if isinstance(cell, Unsaved):
            raise _unsaved(place, number, index, [], cell)
    return [normalise_header(cell) for cell in row]


def _unsaved(place: str, number: int, index: int, header: list[str], cell: Unsaved) -> SourceError:
    name = header[index] if index < len(header) else ""
    column = f", column {name!r}" if name else ""
    return SourceError(
        f"{place}, row {number}{column}: cell {_coordinate(number, index + 1)} holds the formula "
        f"{cell.formula} without a saved value (the file was written by a program that does "
        "not calculate), so its value is unknown; open the file in Excel or LibreOffice and "
        "save it, so that the values are stored"
    )


def _error_value_problem(
    origin: str, name: str, number: int, index: int, cell: ErrorValue
) -> SourceProblem:
    ref = _coordinate(number, index + 1)
    return SourceProblem(
        "spreadsheet-error",
        origin,
        f"cell {ref} holds the error value {cell.code}: its formula failed in the spreadsheet, "
        "so the cell has no value; correct the formula (or its inputs), or clear the cell if "
        "the value is missing",
        f"cellen {ref} har felvärdet {cell.code}: formeln gick fel i kalkylbladet, så cellen "
        "har inget värde; rätta formeln (eller det den räknar med), eller töm cellen om värdet "
        "saknas",
        column=name,
    )


def _untitled_value(
    origin: str, number: int, index: int, value: Any, problems: SourceProblems | None
) -> None:
    ref = _coordinate(number, index + 1)
    shown_value = _short(value if not isinstance(value, ErrorValue) else value.code)
    problem = SourceProblem(
        "untitled-column",
        origin,
        f"cell {ref} holds {shown_value} in a column without a title in the header, so it "
        "belongs to no field; give the column a title (and map it), or clear the cell",
        f"cellen {ref} har {shown_value} i en kolumn utan rubrik, så den hör inte till något "
        "fält; ge kolumnen en rubrik (och koppla den), eller töm cellen",
    )
    if problems is None:
        raise SourceError(f"{origin}: {problem.note}")
    problems.add(problem)


def _unsaved_problem(
    origin: str, name: str, number: int, index: int, cell: Unsaved
) -> SourceProblem:
    ref = _coordinate(number, index + 1)
    return SourceProblem(
        "unsaved-formula",
        origin,
        f"cell {ref} holds the formula {cell.formula} without a saved value (the file was "
        "written by a program that does not calculate), so its value is unknown; open the file "
        "in Excel or LibreOffice and save it, so that the values are stored",
        f"cellen {ref} har formeln {cell.formula} utan sparat värde (filen skrevs av ett "
        "program som inte räknar), så värdet är okänt; öppna filen i Excel eller LibreOffice "
        "och spara den, så att värdena sparas",
        column=name,
    )


def _check_merged(
    merged: list[tuple[int, int, int, int]],
    row: int,
    column: int,
    origin: str,
    name: str,
    problems: SourceProblems | None = None,
) -> None:
    """An empty cell inside merged cells is not empty to the reader of the sheet: a problem
    (refused without `problems`)."""
    for min_col, min_row, max_col, max_row in merged:
        if min_row > row:
            break
        if row <= max_row and (row, column) != (min_row, min_col):
            span = _range_text((min_col, min_row, max_col, max_row))
            cell, first = _coordinate(row, column), _coordinate(min_row, min_col)
            note = (
                f"cell {cell} lies in the merged cells {span}, so it shows the value of {first} "
                "but holds none; unmerge the cells and fill in every row"
            )
            if problems is None:
                raise SourceError(f"{origin}, column {name!r}: {note}")
            problems.add(
                SourceProblem(
                    "merged-cell",
                    origin,
                    note,
                    f"cellen {cell} ligger i de sammanfogade cellerna {span}, så den visar "
                    f"värdet i {first} men har inget eget; dela upp cellerna och fyll i varje rad",
                    column=name,
                )
            )
            return


# --------------------------------------------------------------------------------------------
# JSON


def read_json(path: Path, label: str, source: JsonSource, where: str) -> RawSource:
    """Records of a JSON file; nested mappings are walked by `unnest` into one record per leaf."""
    limits = source.limits
    size = check_size(path, label, limits)
    _check_nesting(path, label, limits.nesting)
    if size > JSON_STREAM_THRESHOLD:
        _check_surrogate_escapes(path, label)  # ijson would turn them into "?" silently
        items = _stream_items(path, label, source)
    else:
        items = iter(_load_items(path, label, source, where))
    raw = records_source(_json_records(items, label, source))
    raw.header_at = f"{label}, record 1"
    return raw


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_nesting(path: Path, label: str, limit: int) -> None:
    """Arrays and objects nested deeper than `limit` are refused before any parser sees them
    (json's recursion and ijson's prefixes grow with the depth: a hostile file exhausts them).

    Bytes are looked at, not parsed: escapes and strings are cut out, brackets are counted."""
    depth = 0
    deepest = 0
    in_string = False
    carry = b""
    with path.open("rb") as stream:
        while block := stream.read(SCAN_BLOCK_BYTES):
            data = carry + block
            carry = b""
            trailing = len(data) - len(data.rstrip(b"\\"))
            if trailing % 2:  # an escape continues into the next block
                data, carry = data[:-1], b"\\"
            data = _ESCAPE.sub(b"", data)
            if in_string:
                end = data.find(b'"')
                if end < 0:
                    continue
                data = data[end + 1 :]
                in_string = False
            data = _STRING.sub(b"", data)
            opened = data.find(b'"')
            if opened >= 0:  # a string continues into the next block
                data = data[:opened]
                in_string = True
            brackets = np.frombuffer(data.translate(None, _NOT_BRACKETS), np.uint8)
            if not len(brackets):
                continue
            steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
            levels = depth + np.cumsum(steps)
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
            if deepest > limit:
                raise SourceError(
                    f"{label}: arrays and objects nested more than {limit} levels deep; a table "
                    "is not nested this deep. " + _raise_limit("nesting").capitalize()
                )


# Python converts integers of more digits than this only on request (sys.int_info): a longer
# one in a source is a problem to name, not a ValueError to escape.
MAX_INTEGER_DIGITS = 4300


class _HugeInteger(str):
    """An integer literal too long to convert: kept as its text until its record is checked."""


def _parse_int(text: str) -> int | _HugeInteger:
    if len(text) > MAX_INTEGER_DIGITS:
        return _HugeInteger(text)
    return int(text)


def _check_characters(text: str, where: str) -> None:
    """Text that UTF-8 can hold: JSON's \\ud800-style escapes can name half of a surrogate
    pair, which is no character (every later write of the text would fail)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise SourceError(
            f"{where}: the escape \\u{code:04x} at character {error.start + 1} is half of a "
            "surrogate pair, no character: the file was cut or written wrongly; write the "
            "character itself"
        ) from None


# A \\u escape of a surrogate (d800–dfff), with the backslashes before it: a high one followed by
# a low one is a pair (one character); any other is half of one.
_SURROGATE_ESCAPE = re.compile(
    rb"(\\*)\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|(\\*)\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _check_surrogate_escapes(path: Path, label: str) -> None:
    """A file for the streaming parser is read once for half surrogate pairs, which ijson's C
    parser would write as "?" without a word (the whole-document parser keeps them for
    _check_characters to name). Blocks overlap, and an escape near a block's end is judged
    with the next block, where its pair may be."""
    overlap = 64
    offset = 0  # of the block in the file
    judged = 0  # escapes ending before this offset have been judged
    previous = b""
    with path.open("rb") as stream:
        following = stream.read(SCAN_BLOCK_BYTES)
        while following:
            block, following = following, stream.read(SCAN_BLOCK_BYTES)
            data = previous + block
            base = offset - len(previous)
            more = bool(following)
            position = 0
            while found := _SURROGATE_ESCAPE.search(data, position):
                slashes = found.group(1) if found.group(1) is not None else found.group(2)
                position = found.end()
                if base + found.end() <= judged:
                    continue
                if more and found.end() > len(data) - 12:
                    break  # judged with the next block
                if len(slashes) % 2:  # an escaped backslash before it: a plain "u"
                    position = found.start() + len(slashes) + 1
                    continue
                if found.group(1) is not None and found.end() - found.start() - len(slashes) == 12:
                    continue  # a whole pair
                escape = data[found.start() + len(slashes) :][:6].decode("ascii")
                raise SourceError(
                    f"{label}: line {_line_at(path, base + found.start() + len(slashes))}: the "
                    f"escape {escape} is half of a surrogate pair, no character: the file was "
                    "cut or written wrongly; write the character itself"
                )
            judged = base + len(data) - (12 if more else 0)
            offset += len(block)
            previous = data[-overlap:]


class _Duplicated(dict[str, Any]):
    """An object that may have held a key twice: `twice` is (key, first value, second value)."""

    twice: tuple[str, Any, Any] | None = None


def _first_duplicate(node: Any) -> tuple[str, Any, Any] | None:
    """The first key given twice in an object of `node` (depth first)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            twice: tuple[str, Any, Any] | None = getattr(item, "twice", None)
            if twice is not None:
                return twice
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return None


def _duplicate_error(where: str, twice: tuple[str, Any, Any]) -> SourceError:
    key, first, second = twice
    return SourceError(
        f"{where}: an object has the key {key!r} twice ({_short(first)} and {_short(second)}); "
        "JSON readers would keep one of them silently: remove or rename the other"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _json_records(items: Iterator[Any], label: str, source: JsonSource) -> Iterator[RawRecord]:
    limits = source.limits
    rows = 0
    for index, item in enumerate(items):
        origin = f"{label}, record {index + 1}"
        if not isinstance(item, dict):
            raise SourceError(f"{origin}: expected an object")
        flat = {key: value for key, value in item.items() if not isinstance(value, dict | list)}
        _check_cells(flat, origin, limits)
        leaves: Iterable[tuple[dict[str, Any], str]]
        if source.unnest is None:
            leaves = [(flat, origin)]
        else:
            nested = item.get(source.unnest.path)
            if not isinstance(nested, dict):
                raise SourceError(f"{origin}: {source.unnest.path!r} is not an object")
            leaves = _leaves(source, flat, nested, origin, limits)
        for cells, where in leaves:
            rows += 1
            if rows > limits.rows:
                raise SourceError(
                    f"{label}: more than {limits.rows:,} rows; " + _raise_limit("rows")
                )
            yield RawRecord(cells, where)


def _leaves(
    source: JsonSource, flat: dict[str, Any], nested: dict[str, Any], origin: str, limits: Limits
) -> Iterator[tuple[dict[str, Any], str]]:
    """One record per leaf of the nested mapping (`unnest`), the flat keys repeated."""
    assert source.unnest is not None
    for keys, value in _walk(nested, len(source.unnest.keys), origin):
        cells = dict(flat)
        cells.update(zip(source.unnest.keys, keys, strict=True))
        cells[source.unnest.value] = value
        path_text = ".".join([source.unnest.path, *keys])
        leaf = f"{origin} ({flat.get('name', '')}), {path_text}"
        _check_cells({source.unnest.value: value}, leaf, limits)
        yield cells, leaf


def _check_cells(cells: dict[str, Any], origin: str, limits: Limits) -> None:
    """A record's values: finite numbers (NaN, Infinity and numbers beyond ±1.8e308 are no JSON
    numbers; Python's parser accepts them, we do not), text within `cell_bytes`, keys within
    `columns`."""
    if len(cells) > limits.columns:
        raise SourceError(
            f"{origin}: {len(cells):,} keys, more than the limit of {limits.columns:,} columns; "
            + _raise_limit("columns")
        )
    for key, value in cells.items():
        if isinstance(key, str) and not key.isascii():
            _check_characters(key, f"{origin}: the key {key.encode('utf-8', 'replace')!r}")
        if isinstance(value, _HugeInteger):
            raise SourceError(
                f"{origin}, key {key!r}: an integer of {len(value.lstrip('-')):,} digits, more "
                f"than the {MAX_INTEGER_DIGITS:,} any reader converts; write it as text (in "
                "quotes) if it is an identifier"
            )
        if isinstance(value, str) and not value.isascii():
            _check_characters(value, f"{origin}, key {key!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SourceError(
                f"{origin}, key {key!r}: {value!r} is not a finite number (NaN, Infinity or a "
                "number beyond ±1.8e308, which JSON cannot hold); write null or leave the key "
                "out for a missing value"
            )
        if (
            isinstance(value, str)
            and len(value) * 4 > limits.cell_bytes
            and len(value.encode()) > limits.cell_bytes
        ):
            raise SourceError(
                f"{origin}, key {key!r}: a value of more than {limits.cell_bytes:,} bytes; "
                + _raise_limit("cell_bytes")
            )


def _load_items(path: Path, label: str, source: JsonSource, where: str) -> list[Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        wide = wide_encoding(path)
        if wide is not None:
            raise SourceError(
                f"{label}: the file is {wide.upper()} (it begins with a {wide.upper()} byte-order "
                "mark); save it as UTF-8, the encoding of JSON files"
            ) from None
        raise SourceError(
            f"{label}: not valid UTF-8 (byte {error.start}, line {_line_at(path, error.start)})"
        ) from None
    twice: list[tuple[str, Any, Any]] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """A key given twice is noted and its object marked, never silently resolved."""
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                marked = _Duplicated(pairs)
                marked.twice = (key, result[key], value)
                twice.append(marked.twice)
                return marked
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=unique_keys, parse_int=_parse_int)
    except json.JSONDecodeError as error:
        raise SourceError(f"{label}: malformed JSON at line {error.lineno}: {error.msg}") from None
    except RecursionError:
        raise SourceError(f"{label}: JSON nested too deeply to be a table") from None
    if isinstance(data, _Duplicated) and data.twice is not None:  # the document's own object
        raise _duplicate_error(label, data.twice)
    if source.records is not None:
        if not isinstance(data, dict) or source.records not in data:
            raise SourceError(f"{where}: records: {label} has no key {source.records!r}")
        data = data[source.records]
    if not isinstance(data, list):
        raise SourceError(f"{label}: expected a list of records")
    if twice:  # in a record (named), or elsewhere in the document
        for index, item in enumerate(data, start=1):
            found = _first_duplicate(item)
            if found is not None:
                raise _duplicate_error(f"{label}, record {index}", found)
        raise _duplicate_error(label, twice[0])
    return data


def _stream_items(path: Path, label: str, source: JsonSource) -> Iterator[Any]:
    """The records of a large file, one at a time (ijson), never the whole document."""
    import ijson

    found: list[bool] = []  # whether any object so far held a key twice

    class UniqueKeys(_Duplicated):
        """ijson's mapping: a repeated key is noted on the object (ijson may build records
        ahead of the one it yields, so the record that holds it is found by a walk)."""

        def __setitem__(self, key: str, value: Any) -> None:
            if key in self:
                if self.twice is None:
                    self.twice = (key, self[key], value)
                found.append(True)
                return
            super().__setitem__(key, value)

    prefix = f"{source.records}.item" if source.records is not None else "item"
    index = 0
    try:
        with path.open("rb") as stream:
            for item in ijson.items(stream, prefix, use_float=True, map_type=UniqueKeys):
                index += 1
                if found:
                    twice = _first_duplicate(item)
                    if twice is not None:
                        raise _duplicate_error(f"{label}, record {index}", twice)
                yield item
    except UnicodeDecodeError:
        raise SourceError(
            f"{label}: after record {index}: text that is not UTF-8, or a \\u escape that is "
            "half of a surrogate pair (\\ud800–\\udfff: no character); write the character "
            "itself"
        ) from None
    except (ijson.JSONError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "overflow" in message:
            message += " (a number beyond ±1.8e308, which JSON readers cannot hold)"
        raise SourceError(f"{label}: malformed JSON after record {index}: {message}") from None


def _walk(node: Any, depth: int, origin: str) -> list[tuple[list[str], Any]]:
    if depth == 0:
        return [([], node)]
    if not isinstance(node, dict):
        raise SourceError(f"{origin}: expected an object {depth} level(s) deeper")
    leaves = []
    for key, child in node.items():
        for keys, value in _walk(child, depth - 1, origin):
            leaves.append(([str(key), *keys], value))
    return leaves
