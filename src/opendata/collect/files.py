"""File sources: CSV, XLSX and JSON, read as the steward received them, a chunk at a time.

CSV goes through Arrow's streaming reader (every cell as text, nothing inferred); spreadsheets
through openpyxl's read-only mode, row by row; JSON through the standard parser, or ijson's
streaming parser when the file is large. Each yields raw batches of text with the rows' origins.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opendata.collect.core import (
    RawRecord,
    RawSource,
    normalise_header,
    records_source,
    strip,
    text_batch,
)
from opendata.definitions import JsonSource
from opendata.errors import DefinitionError, SourceError
from opendata.tables import CHUNK_ROWS, ORIGIN, cell_text, int64_array

# JSON files up to this size are parsed whole (exact line numbers in errors); larger ones stream.
JSON_STREAM_THRESHOLD = 64 * 2**20
CSV_BLOCK_BYTES = 4 * 2**20


def _header(path: Path, label: str, encoding: str, delimiter: str) -> list[str]:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise DefinitionError(f"{label}: unknown encoding {encoding!r}") from None
    # A byte-order mark is not part of the first header (Excel writes one).
    reading = "utf-8-sig" if codec == "utf-8" else encoding
    try:
        with path.open(encoding=reading, newline="") as stream:
            first = next(csv.reader(stream, delimiter=delimiter, strict=True), None)
    except UnicodeDecodeError:
        raise _not_encoded(path, label, encoding) from None
    except csv.Error as error:
        raise SourceError(f"{label}: malformed CSV: {error}") from None
    if first is None:
        raise SourceError(f"{label}: the file is empty (no header row)")
    if first:
        first[0] = first[0].removeprefix("\ufeff")
    return [normalise_header(h) for h in first]


def _not_encoded(path: Path, label: str, encoding: str) -> SourceError:
    """Where the bytes stop being `encoding`, found by decoding incrementally (errors only)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as stream:
        while chunk := stream.read(2**20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return SourceError(
                    f"{label}: not valid {encoding} (byte {offset + error.start}); declare the "
                    "file's `encoding` in dataset.yaml or save it as UTF-8"
                )
            offset += len(chunk)
    return SourceError(f"{label}: not valid {encoding}")


class ExactRowNumbersNeeded(Exception):
    """The parallel reader set a row aside without telling which: read again, serially."""


def read_csv(
    path: Path, label: str, encoding: str, delimiter: str, parallel: bool = True
) -> RawSource:
    """Rows of a delimited text file; the first line is the header.

    The parallel reader is three times faster but cannot number the rows it sets aside (blank
    lines, rows with a wrong number of cells); when it meets one, it raises ExactRowNumbersNeeded
    and the caller reads the file again with `parallel=False`, so every origin stays exact.
    """
    header = _header(path, label, encoding, delimiter)
    seen: set[str] = set()
    duplicated = {h for h in header if h and (h in seen or seen.add(h))}  # type: ignore[func-returns-value]
    batches = _csv_batches(path, label, encoding, delimiter, header, parallel)
    return RawSource(header, batches, duplicated)


def _csv_batches(
    path: Path, label: str, encoding: str, delimiter: str, header: list[str], parallel: bool
) -> Iterator[pa.Table]:
    import pyarrow.csv as pacsv

    width = len(header)
    names = [f"c{i}" for i in range(width)]
    skipped: list[int] = []  # record numbers of rows the parser set aside (blank lines)
    wrong: list[tuple[int, int]] = []
    unnumbered: list[str] = []

    def set_aside(row: Any) -> str:
        if row.number is None:
            unnumbered.append(row.text)
        elif row.text.strip():
            wrong.append((row.number or 0, row.actual_columns))
        else:
            skipped.append(row.number or 0)
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows_after_names=1,
                encoding=encoding,
                use_threads=parallel,
                block_size=CSV_BLOCK_BYTES,
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
        raise _csv_error(path, label, encoding, error) from None
    good = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            raise _csv_error(path, label, encoding, error) from None
        if unnumbered:
            raise ExactRowNumbersNeeded(label)
        if wrong:
            number, cells = wrong[0]
            raise SourceError(f"{label}, row {number}: {cells} cells where the header has {width}")
        count = batch.num_rows
        # A row's record number: its place among the data rows, plus the rows set aside
        # before it, plus the header.
        positions = np.arange(good, good + count)
        aside = np.sort(np.asarray(skipped, dtype=np.int64)) - 2
        if len(aside):
            positions = positions + np.searchsorted(
                aside - np.arange(len(aside)), positions, side="right"
            )
        good += count
        numbers = int64_array(positions + 2).cast(pa.string())
        columns = {name: batch.column(i) for i, name in enumerate(header)}
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
        origins = pc.binary_join_element_wise(f"{label}, row ", numbers, "")
        table = pa.table({**columns, ORIGIN: origins})
        if blank is not None:
            table = table.filter(pc.invert(blank))
        if table.num_rows:
            yield table


def _csv_error(path: Path, label: str, encoding: str, error: Exception) -> SourceError:
    text = str(error)
    if isinstance(error, UnicodeDecodeError) or "UTF8" in text or "decode" in text:
        return _not_encoded(path, label, encoding)
    return SourceError(f"{label}: malformed CSV: {text.splitlines()[0] if text else error}")


def read_xlsx(
    path: Path, label: str, sheet: str, header_row: int, first_data_row: int | None, where: str
) -> RawSource:
    """The block of rows from `first_data_row` up to the first blank row after the data.

    Notes and footnotes below a table are separated from it by a blank row in every statistics
    spreadsheet we receive; titles above the header are skipped by `header_row`, and header rows
    that continue below it (a unit, an English title) by `first_data_row`.
    """
    import zipfile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise SourceError(f"{label}: not a readable .xlsx workbook ({error})") from None
    if sheet not in workbook.sheetnames:
        sheets = ", ".join(repr(n) for n in workbook.sheetnames)
        workbook.close()
        raise SourceError(f"{where}: sheet: {label} has no sheet {sheet!r} (sheets: {sheets})")
    rows = workbook[sheet].iter_rows(values_only=True)
    header: list[str] | None = None
    counted = 0
    for number, row in enumerate(rows, start=1):
        counted = number
        if number == header_row:
            header = [normalise_header(cell) for cell in row]
            break
    if header is None:
        workbook.close()
        raise SourceError(f"{where}: header_row: sheet {sheet!r} of {label} has {counted} rows")
    seen: set[str] = set()
    duplicated = {h for h in header if h and (h in seen or seen.add(h))}  # type: ignore[func-returns-value]
    names = list(dict.fromkeys(h for h in header if h))
    start = first_data_row or header_row + 1

    def batches() -> Iterator[pa.Table]:
        try:
            columns: dict[str, list[str]] = {name: [] for name in names}
            origins: list[str] = []
            started = False
            for number, row in enumerate(rows, start=header_row + 1):
                if number < start:
                    continue
                blank = all(
                    cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row
                )
                if blank:
                    if started:
                        break
                    continue
                started = True
                cells = {n: v for n, v in zip(header, row, strict=False) if n}
                for name in names:
                    columns[name].append(cell_text(cells.get(name)))
                origins.append(f"{label}, sheet {sheet!r}, row {number}")
                if len(origins) >= CHUNK_ROWS:
                    yield text_batch(columns, origins)
                    columns = {name: [] for name in names}
                    origins = []
            if origins:
                yield text_batch(columns, origins)
        finally:
            workbook.close()

    return RawSource(header, batches(), duplicated)


def read_json(path: Path, label: str, source: JsonSource, where: str) -> RawSource:
    """Records of a JSON file; nested mappings are walked by `unnest` into one record per leaf."""
    if path.stat().st_size > JSON_STREAM_THRESHOLD:
        items = _stream_items(path, label, source)
    else:
        items = iter(_load_items(path, label, source, where))
    return records_source(_json_records(items, label, source))


def _json_records(items: Iterator[Any], label: str, source: JsonSource) -> Iterator[RawRecord]:
    for index, item in enumerate(items):
        origin = f"{label}, record {index + 1}"
        if not isinstance(item, dict):
            raise SourceError(f"{origin}: expected an object")
        flat = {key: value for key, value in item.items() if not isinstance(value, dict | list)}
        if source.unnest is None:
            yield RawRecord(flat, origin)
            continue
        nested = item.get(source.unnest.path)
        if not isinstance(nested, dict):
            raise SourceError(f"{origin}: {source.unnest.path!r} is not an object")
        for keys, value in _walk(nested, len(source.unnest.keys), origin):
            cells = dict(flat)
            cells.update(zip(source.unnest.keys, keys, strict=True))
            cells[source.unnest.value] = value
            path_text = ".".join([source.unnest.path, *keys])
            yield RawRecord(cells, f"{origin} ({flat.get('name', '')}), {path_text}")


def _load_items(path: Path, label: str, source: JsonSource, where: str) -> list[Any]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise SourceError(f"{label}: not valid UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise SourceError(f"{label}: malformed JSON at line {error.lineno}: {error.msg}") from None
    except RecursionError:
        raise SourceError(f"{label}: JSON nested too deeply to be a table") from None
    if source.records is not None:
        if not isinstance(data, dict) or source.records not in data:
            raise SourceError(f"{where}: records: {label} has no key {source.records!r}")
        data = data[source.records]
    if not isinstance(data, list):
        raise SourceError(f"{label}: expected a list of records")
    return data


def _stream_items(path: Path, label: str, source: JsonSource) -> Iterator[Any]:
    """The records of a large file, one at a time (ijson), never the whole document."""
    import ijson

    prefix = f"{source.records}.item" if source.records is not None else "item"
    try:
        with path.open("rb") as stream:
            yield from ijson.items(stream, prefix, use_float=True)
    except ijson.JSONError as error:
        raise SourceError(f"{label}: malformed JSON: {error}") from None


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
