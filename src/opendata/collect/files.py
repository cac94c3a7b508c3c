"""File sources: CSV, XLSX and JSON, read as the steward received them."""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from opendata.collect.core import RawRecord, normalise_header
from opendata.definitions import JsonSource
from opendata.errors import DefinitionError, SourceError


def read_csv(path: Path, label: str, encoding: str, delimiter: str) -> list[RawRecord]:
    """Rows of a delimited text file; the first line is the header."""
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{label}: not valid {encoding} (byte {error.start}); declare the file's "
            "`encoding` in dataset.yaml or save it as UTF-8"
        ) from None
    except LookupError:
        raise DefinitionError(f"{label}: unknown encoding {encoding!r}") from None
    text = text.removeprefix("\ufeff")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        lines = list(reader)
    except csv.Error as error:
        raise SourceError(f"{label}: malformed CSV: {error}") from None
    if not lines:
        raise SourceError(f"{label}: the file is empty (no header row)")
    header = [normalise_header(h) for h in lines[0]]
    records = []
    for number, line in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in line):
            continue
        if len(line) != len(header):
            raise SourceError(
                f"{label}, row {number}: {len(line)} cells where the header has {len(header)}"
            )
        records.append(RawRecord(dict(zip(header, line, strict=True)), f"{label}, row {number}"))
    return records


def read_xlsx(
    path: Path, label: str, sheet: str, header_row: int, first_data_row: int | None, where: str
) -> list[RawRecord]:
    """The block of rows from `first_data_row` up to the first blank row after the data.

    Notes and footnotes below a table are separated from it by a blank row in every statistics
    spreadsheet we receive; titles above the header are skipped by `header_row`, and header rows
    that continue below it (a unit, an English title) by `first_data_row`.
    """
    rows = _sheet_rows(path, path.stat().st_mtime_ns, sheet, label, where)
    if header_row > len(rows):
        raise SourceError(f"{where}: header_row: sheet {sheet!r} of {label} has {len(rows)} rows")
    header = [normalise_header(cell) for cell in rows[header_row - 1]]
    records: list[RawRecord] = []
    started = False
    start = first_data_row or header_row + 1
    for number, row in enumerate(rows[start - 1 :], start=start):
        blank = all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)
        if blank:
            if started:
                break
            continue
        started = True
        cells = {name: value for name, value in zip(header, row, strict=False) if name}
        records.append(RawRecord(cells, f"{label}, sheet {sheet!r}, row {number}"))
    return records


@lru_cache(maxsize=32)
def _sheet_rows(
    path: Path, mtime_ns: int, sheet: str, label: str, where: str
) -> list[tuple[Any, ...]]:
    import zipfile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise SourceError(f"{label}: not a readable .xlsx workbook ({error})") from None
    try:
        if sheet not in workbook.sheetnames:
            names = ", ".join(repr(n) for n in workbook.sheetnames)
            raise SourceError(f"{where}: sheet: {label} has no sheet {sheet!r} (sheets: {names})")
        return [tuple(row) for row in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_json(path: Path, label: str, source: JsonSource, where: str) -> list[RawRecord]:
    """Records of a JSON file; nested mappings are walked by `unnest` into one record per leaf."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise SourceError(f"{label}: not valid UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise SourceError(f"{label}: malformed JSON at line {error.lineno}: {error.msg}") from None
    if source.records is not None:
        if not isinstance(data, dict) or source.records not in data:
            raise SourceError(f"{where}: records: {label} has no key {source.records!r}")
        data = data[source.records]
    if not isinstance(data, list):
        raise SourceError(f"{label}: expected a list of records")
    records: list[RawRecord] = []
    for index, item in enumerate(data):
        origin = f"{label}, record {index + 1}"
        if not isinstance(item, dict):
            raise SourceError(f"{origin}: expected an object")
        flat = {key: value for key, value in item.items() if not isinstance(value, dict | list)}
        if source.unnest is None:
            records.append(RawRecord(flat, origin))
            continue
        nested = item.get(source.unnest.path)
        if not isinstance(nested, dict):
            raise SourceError(f"{origin}: {source.unnest.path!r} is not an object")
        for keys, value in _walk(nested, len(source.unnest.keys), origin):
            cells = dict(flat)
            cells.update(zip(source.unnest.keys, keys, strict=True))
            cells[source.unnest.value] = value
            path_text = ".".join([source.unnest.path, *keys])
            records.append(RawRecord(cells, f"{origin} ({flat.get('name', '')}), {path_text}"))
    return records


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
