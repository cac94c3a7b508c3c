"""CSV sources, read as the steward received them, a chunk at a time: `read(source, context)`.

Arrow's streaming reader reads every cell as text, nothing inferred, in parallel when it can;
the header (one row, or several joined) is read first with Python's csv module. Every byte is
treated as hostile: a stray quote, a row of the wrong width, bytes that are not the declared
encoding (UTF-8 declared as Latin-1, Excel's Windows-1252) are refused or reported naming the
line, and the declared `limits` (size, rows, columns, cell size) are checked while reading.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opendata.collect.common import (
    SCAN_BLOCK_BYTES,
    ReadContext,
    check_size,
    duplicated_titles,
    line_at,
    raise_limit_hint,
    rows_phrase,
    wide_encoding,
)
from opendata.collect.raw import (
    RawSource,
    normalise_header,
    strip,
)
from opendata.definitions import CsvSource, Limits
from opendata.errors import DefinitionError, SourceError
from opendata.messages import Text, yaml_text
from opendata.tables import (
    LISTED_LEFT_OUT,
    LISTED_PER_CODE,
    ORIGIN,
    SourceProblem,
    SourceProblems,
    int64_array,
)

CSV_BLOCK_BYTES = 4 * 2**20
# The header line is read with this bound (a hostile file may hold one endless line).
HEADER_CHARS = 16 * 2**20


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
            f"{label}: {rows_phrase(rows)} {'is' if len(rows) == 1 else 'are'} the header "
            f"(dataset.yaml), but the file has only {number} row{'s' if number != 1 else ''}"
        )
    if found.get(1):
        found[1][0] = found[1][0].removeprefix("\ufeff")
    header = _joined([found.get(row, []) for row in rows])
    return header, duplicated_titles(header)


def _header_width(record: list[Any], where: str, limits: Limits) -> None:
    if len(record) > limits.columns:
        raise SourceError(
            f"{where}: {len(record):,} columns, more than the limit of "
            f"{limits.columns:,}; " + raise_limit_hint("columns")
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
                    f"{label}: not valid {encoding} (byte {at}, line {line_at(path, at)}); "
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
                raise SourceError(
                    f"{label}, line {number}: {kind}; " + raise_limit_hint("cell_bytes")
                )
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
                "characters; " + raise_limit_hint("cell_bytes")
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


def read(source: CsvSource, context: ReadContext) -> RawSource:
    """Rows of a delimited text file; the first line is the header unless `header_rows` says
    which rows are (title rows above it; several rows joined), data from `first_data_row`
    (default: the row under the header). Rows keep their numbers in the file.

    The parallel reader (`context.parallel`) is three times faster but cannot number the rows
    it sets aside (blank lines, rows with a wrong number of cells); when it meets one, it raises
    ExactRowNumbersNeeded and the caller reads the file again serially, so every origin stays
    exact.

    A row with the wrong number of cells becomes a problem in `context.problems` and is read as
    far as it goes (a missing cell NULL, an extra one dropped), so its other cells are checked
    too; the reading goes on, so every such row is reported at once. Without `problems` it is
    refused.
    Blank rows are left out and counted in `problems.left_out`.
    Reading ends after `last_data_row` (the file's first row is row 1) or, with
    `stop_at_empty_row`, at the first empty row below the data.
    """
    path, label, parallel, problems = (
        context.path,
        context.label,
        context.parallel,
        context.problems,
    )
    encoding, delimiter, limits = source.encoding, source.delimiter, source.limits
    header_rows, last_data_row = source.header_numbers, source.last_data_row
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
        _RowRange(last_data_row, source.stop_at_empty_row, source.data_start),
        problems,
    )
    at = "line 1" if tuple(header_rows) == (1,) else rows_phrase(header_rows)
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
            raise SourceError(
                f"{label}: more than {limits.rows:,} rows; " + raise_limit_hint("rows")
            )
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
                    f"{limits.cell_bytes:,}; " + raise_limit_hint("cell_bytes")
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
                + raise_limit_hint("cell_bytes")
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
