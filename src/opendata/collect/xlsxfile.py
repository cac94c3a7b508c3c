"""Spreadsheet (.xlsx) sources, read row by row through openpyxl's read-only parser:
`read(source, context)`.

The workbook's parts are checked before they are parsed (size inflated, encryption, strict
OOXML), header rows are joined across merged cells, and a formula without a saved value, an
error value (#N/A) or a value without a column title is a problem naming its cell, so that no
cell is published other than as the steward's own sheet shows it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from opendata.collect.common import (
    ReadContext,
    check_size,
    duplicated_titles,
    excerpt,
    raise_limit_hint,
    rows_phrase,
)
from opendata.collect.raw import (
    LISTED,
    RawSource,
    normalise_header,
    text_batch,
)
from opendata.definitions import Limits, XlsxSource
from opendata.errors import SourceError
from opendata.tables import (
    CHUNK_ROWS,
    LISTED_LEFT_OUT,
    SourceProblem,
    SourceProblems,
    cell_text,
)

MAX_MERGED_RANGES = 100_000


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
            "before it is read); " + raise_limit_hint("inflated_bytes")
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


def read(source: XlsxSource, context: ReadContext) -> RawSource:
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

    path, label, where, problems = context.path, context.label, context.where, context.problems
    sheet, first_data_row, limits = source.sheet, source.first_data_row, source.limits
    header_row: int | tuple[int, ...] = source.header_numbers
    if source.header_rows is None:  # one row: a merged title cell titles its first column only
        header_row = source.header_numbers[0]
    last_data_row, stop_at_empty_row = source.last_data_row, source.stops_at_empty_row
    untitled = "" in _titles_named(source)
    every_column = source.columns is None
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
        rows_text = rows_phrase(numbers)
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
                        f"of {limits.columns:,}; " + raise_limit_hint("columns")
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
                        f"{place}: more than {limits.rows:,} rows; " + raise_limit_hint("rows")
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
                            f"{limits.cell_bytes:,} bytes; " + raise_limit_hint("cell_bytes")
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
    duplicated = duplicated_titles(header)
    return RawSource(
        header,
        batches(),
        duplicated,
        header_at=f"{place}, {rows_phrase(numbers)}",
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
            f"{place}, {rows_phrase(numbers)}: {width:,} columns, more than the limit of "
            f"{limits.columns:,}; " + raise_limit_hint("columns")
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
            f"{limits.columns:,}; " + raise_limit_hint("columns")
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
    shown_value = excerpt(value if not isinstance(value, ErrorValue) else value.code)
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


def _titles_named(source: XlsxSource) -> set[str]:
    """The column titles a source's definition names (normalised)."""
    named = list((source.columns or {}).values())
    if source.municipality is not None:
        named.append(source.municipality.code or source.municipality.name or "")
    named += source.melt.columns if source.melt is not None else []
    named += [rule.column for rule in source.skip_rows]
    return {normalise_header(title) for title in named}
