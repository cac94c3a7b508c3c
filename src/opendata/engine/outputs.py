"""The published files of a table, written in one sorted pass: CSV, JSON and Parquet.

DuckDB sorts the staged rows by primary key (spilling to disk past its memory limit) and renders
each row's CSV line and JSON object in SQL; Python only moves Arrow buffers into files and
hashes them as they are written. The CSV bytes are exactly what the row-by-row writer made
(csv.writer with QUOTE_MINIMAL and CRLF), the JSON bytes json.dumps(ensure_ascii=False,
indent=1) of the rows typed by the Table Schema, a `number` always as a float (`12.0`, so that
DuckDB, pandas and pyarrow read the column as floating point). Releases before that wrote an
integral number without its fraction (`12`): the JSON copy's size and SHA-256 in that layout
(`WrittenFile.v1`) are hashed along, because the content hash counts them (package.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from opendata.engine.db import connect, quote_identifier, quote_literal
from opendata.tables import CHUNK_ROWS, ORIGIN, POSITION, Table

CSV_LINE = "__csv"
JSON_OBJECT = "__json"
JSON_OBJECT_V1 = "__json_v1"  # the object as releases before issue 18 wrote it (hashed only)
# Python's float() grammar in ASCII (the CSV holds stripped text): such keys sort as numbers.
NUMERIC_KEY = (
    r"^[+-]?(([0-9](_?[0-9])*)(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)"
    r"([eE][+-]?[0-9](_?[0-9])*)?$|^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
)
CONTROL = "[\\x00-\\x1f]"


@dataclass(frozen=True)
class Digest:
    """The size and SHA-256 of some bytes."""

    bytes: int
    sha256: str


@dataclass(frozen=True)
class WrittenFile:
    """A file of the package on local disk, with what the descriptor says of it."""

    path: Path
    bytes: int
    sha256: str
    # A JSON copy: the size and SHA-256 the same rows had as JSON in the layout releases before
    # issue 18 wrote (an integral `number` without its fraction). Not written anywhere; the
    # content hash counts it in place of the file's own, so the same rows hash as they did.
    v1: Digest | None = None


class HashingWriter:
    """Writes to a file and hashes the same bytes on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream: BinaryIO = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.stream.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self, v1: Digest | None = None) -> WrittenFile:
        self.stream.close()
        return WrittenFile(self.path, self.size, self.digest.hexdigest(), v1)


class Hasher:
    """Hashes bytes that are not written anywhere (the JSON copy in the v1 layout)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.digest.update(data)
        self.size += len(data)

    def result(self) -> Digest:
        return Digest(self.size, self.digest.hexdigest())


def file_digest(path: Path) -> WrittenFile:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(2**20):
            digest.update(chunk)
            size += len(chunk)
    return WrittenFile(path, size, digest.hexdigest())


def key_fields(schema: dict[str, Any]) -> list[str]:
    key = schema.get("primaryKey")
    if not key:
        return []
    return [key] if isinstance(key, str) else list(key)


NUMERIC_TYPES = ("integer", "number", "year")


def order_by(schema: dict[str, Any]) -> str:
    """Primary-key order: numbers (text that float() reads) first and numerically, then text;
    ties keep the order of collection (the old stable sort). Key fields of a numeric type hold
    numbers only once valid, so they sort by value without the regex."""
    terms = []
    types = {f["name"]: f.get("type", "string") for f in schema["fields"]}
    for name in key_fields(schema):
        column = quote_identifier(name)
        number = f"TRY_CAST(replace({column}, '_', '') AS DOUBLE)"
        if types.get(name) in NUMERIC_TYPES:
            terms.append(f"{number} NULLS LAST")
            continue
        # (0, value, "") for numbers, (1, 0, text) for the rest: equal numbers keep their order.
        numeric = f"regexp_matches({column}, {quote_literal(NUMERIC_KEY)})"
        terms.append(f"(CASE WHEN {numeric} THEN {number} END) NULLS LAST")
        terms.append(f"(CASE WHEN {numeric} THEN '' ELSE {column} END)")
    terms.append(POSITION)
    return ", ".join(terms)


def _never_quoted(field: dict[str, Any]) -> bool:
    """Valid cells of these fields cannot hold a comma, a quote or a line end."""
    kind = field.get("type", "string")
    if kind in ("integer", "number"):
        return "groupChar" not in field and field.get("decimalChar", ".") == "."
    return kind in ("year", "date")


def csv_cell_sql(column: str, only_field: bool, field: dict[str, Any] | None = None) -> str:
    """csv.writer's QUOTE_MINIMAL: quote when the cell holds a comma, a quote or a line end."""
    if field is not None and not only_field and _never_quoted(field):
        return column
    quoted = f"'\"' || replace({column}, '\"', '\"\"') || '\"'"
    condition = f"regexp_matches({column}, '[,\"\\r\\n]')"
    if only_field:  # csv.writer quotes a row made of one empty field
        condition = f"({condition} OR {column} = '')"
    return f"(CASE WHEN {condition} THEN {quoted} ELSE {column} END)"


def json_string_sql(column: str) -> str:
    """json.dumps(text, ensure_ascii=False): DuckDB's to_json, but control characters as
    Python escapes them (lower-case hex), which matters only for the rare text that has them."""
    replaced = column
    replaced = f"replace(replace({replaced}, '\\', '\\\\'), '\"', '\\\"')"
    short = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
    for code in range(32):
        escape = short.get(code, f"\\u{code:04x}")
        replaced = f"replace({replaced}, chr({code}), {quote_literal(escape)})"
    return (
        f"(CASE WHEN regexp_matches({column}, '{CONTROL}') THEN '\"' || {replaced} || '\"' "
        f"ELSE CAST(to_json({column}) AS VARCHAR) END)"
    )


def missing_values(field: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    values = field.get("missingValues", schema.get("missingValues", [""]))
    return [str(v) for v in values]


def json_value_sql(field: dict[str, Any], schema: dict[str, Any], *, v1: bool = False) -> str:
    """A cell as the JSON value of its Table Schema type (null for a missing value).

    A `number` is json.dumps of a float: always with a fraction or an exponent (`12.0`, `1.5`,
    `1e+16`; DuckDB's shortest round-trip text of a DOUBLE is Python's), so that readers that
    type a JSON column from its values (DuckDB's read_json, pandas, pyarrow) read floating
    point, not integers. `v1`: the layout of releases before issue 18, an integral number as
    written without its fraction (`12`)."""
    from opendata.engine.checks import typed_sql

    column = quote_identifier(field["name"])
    kind = field.get("type", "string")
    typed = typed_sql(field, column, schema)
    if kind in ("integer", "year"):
        value = f"CAST({typed} AS VARCHAR)"
    elif kind == "number":
        as_float = f"CAST(CAST({typed} AS DOUBLE) AS VARCHAR)"
        value = as_float
        if v1:
            integral = f"NOT regexp_matches({column}, '[.eE]')"
            as_integer = f"CAST(CAST(CAST({typed} AS DOUBLE) AS HUGEINT) AS VARCHAR)"
            value = f"(CASE WHEN {integral} THEN {as_integer} ELSE {as_float} END)"
    elif kind == "boolean":
        value = f"(CASE WHEN {typed} THEN 'true' ELSE 'false' END)"
    else:
        value = json_string_sql(column)
    missing = ", ".join(quote_literal(v) for v in missing_values(field, schema))
    return f"(CASE WHEN {column} IN ({missing}) THEN 'null' ELSE {value} END)"


def json_object_sql(schema: dict[str, Any], *, v1: bool = False) -> str:
    """json.dumps's indent=1 layout of one row: ' {\\n  "key": value,\\n  ...\\n }'."""
    parts = []
    for field in schema["fields"]:
        key = json.dumps(field["name"], ensure_ascii=False)
        parts.append(f"{quote_literal(f'  {key}: ')}, {json_value_sql(field, schema, v1=v1)}")
    if not parts:
        return "' {}'"
    body = ", ',' || chr(10), ".join(parts)
    return f"concat(' {{' || chr(10), {body}, chr(10) || ' }}')"


def has_v1_layout(schema: dict[str, Any]) -> bool:
    """Whether the JSON copy's v1 layout differs from today's: only `number` cells differ."""
    return any(field.get("type") == "number" for field in schema["fields"])


def text_columns(table: Table) -> list[str]:
    """The rendered text columns of output_query, before the typed ones."""
    return [CSV_LINE, JSON_OBJECT, *([JSON_OBJECT_V1] if has_v1_layout(table.schema) else [])]


def output_query(table: Table) -> str:
    from opendata.engine.checks import typed_sql

    fields = table.schema["fields"]
    cells = [csv_cell_sql(quote_identifier(f["name"]), len(fields) == 1, f) for f in fields]
    line = f"concat({', '.join(cells)})" if len(cells) > 1 else (cells[0] if cells else "''")
    if len(cells) > 1:
        line = f"concat_ws(',', {', '.join(cells)})"
    typed = [
        f"{typed_sql(f, column, table.schema)} AS {column}"
        for f in fields
        for column in [quote_identifier(f["name"])]
    ]
    v1 = (
        f"',' || chr(10) || {json_object_sql(table.schema, v1=True)} AS {JSON_OBJECT_V1}, "
        if has_v1_layout(table.schema)
        else ""
    )
    return (
        f"SELECT {line} || chr(13) || chr(10) AS {CSV_LINE}, "
        f"',' || chr(10) || {json_object_sql(table.schema)} AS {JSON_OBJECT}, "
        f"{v1}{', '.join(typed)} "
        # Sorted first, rendered after: the sort holds (and spills) the staged text only, and
        # the rendered lines are made batch by batch as the writers ask for them.
        f"FROM (SELECT * FROM read_parquet({quote_literal(str(table.path))}) "
        f"{'' if table.in_key_order else 'ORDER BY ' + order_by(table.schema)})"
    )


def string_bytes(array: pa.Array) -> memoryview:
    """The concatenated UTF-8 of a string array, straight from its Arrow buffer."""
    if array.type == pa.large_string():
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    else:
        array = array.cast(pa.string())
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    start, end = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    data = array.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[start:end]


def csv_header(fields: list[str]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerow(fields)
    return buffer.getvalue().encode("utf-8")


def sorted_batches(table: Table, scratch: Path | None = None) -> Iterator[pa.RecordBatch]:
    with connect(scratch) as con:
        yield from con.sql(output_query(table)).to_arrow_reader(CHUNK_ROWS)


THREADED = True


class _Worker:
    """One writer thread fed through a short queue, so that DuckDB renders the next batch while
    the previous one is written, hashed and compressed (all of which release the GIL)."""

    def __init__(self, work: Callable[[pa.RecordBatch], None]) -> None:
        self.work = work
        self.queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.work(batch)
                except BaseException as error:  # re-raised in the caller's thread
                    self.error = error

    def put(self, batch: pa.RecordBatch) -> None:
        if self.error is not None:
            raise self.error
        if not THREADED:
            self.work(batch)
            return
        self.queue.put(batch)

    def finish(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def write_outputs(
    table: Table, folder: Path, scratch: Path | None = None
) -> dict[str, WrittenFile]:
    """`<name>.csv`, `<name>.json` and `<name>.parquet` of the table, in primary-key order."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_out = HashingWriter(folder / f"{table.name}.csv")
    json_out = HashingWriter(folder / f"{table.name}.json")
    # The JSON copy in the v1 layout, hashed only (when it differs from the file's bytes).
    json_v1 = Hasher() if has_v1_layout(table.schema) else None
    jsons: list[HashingWriter | Hasher] = [json_out, *([json_v1] if json_v1 else [])]
    parquet_path = folder / f"{table.name}.parquet"
    csv_out.write(csv_header(table.fields))
    parquet: list[pq.ParquetWriter] = []
    first = [True]

    def write_text(batch: pa.RecordBatch) -> None:
        csv_out.write(string_bytes(batch.column(0)))
        for column, out in enumerate(jsons, start=1):
            objects = string_bytes(batch.column(column))
            if first[0]:
                out.write(b"[\n")
                objects = objects[2:]  # the first object has no ",\n" before it
            out.write(objects)
        first[0] = False

    def write_typed(batch: pa.RecordBatch) -> None:
        typed = pa.Table.from_batches([batch]).select(table.fields)
        if not parquet:
            parquet.append(_parquet_writer(parquet_path, typed.schema, table))
        parquet[0].write_table(typed, row_group_size=CHUNK_ROWS)

    workers = [_Worker(write_text), _Worker(write_typed)]
    try:
        try:
            for batch in sorted_batches(table, scratch):
                if batch.num_rows:
                    for worker in workers:
                        worker.put(batch)
        finally:
            for worker in workers:
                worker.finish()
        for out in jsons:
            out.write(b"[]\n" if first[0] else b"\n]\n")
    finally:
        csv_file = csv_out.close()
        json_file = json_out.close()
        if not parquet:
            with connect(scratch) as con:
                query = output_query(table)
                text = ", ".join(text_columns(table))
                empty = con.sql(
                    f"SELECT * EXCLUDE ({text}) FROM ({query}) LIMIT 0"
                ).to_arrow_table()
            parquet.append(_parquet_writer(parquet_path, empty.schema, table))
        parquet[0].close()
    v1 = json_v1.result() if json_v1 else Digest(json_file.bytes, json_file.sha256)
    return {
        f"{table.name}.csv": csv_file,
        f"{table.name}.json": WrittenFile(json_file.path, json_file.bytes, json_file.sha256, v1),
        f"{table.name}.parquet": file_digest(parquet_path),
    }


def _parquet_writer(path: Path, schema: pa.Schema, table: Table) -> pq.ParquetWriter:
    """Column types from the Table Schema; the schema itself rides along as file metadata, and
    pandas' metadata says which dtypes the columns are (pandas_metadata)."""
    described = schema.with_metadata(
        {
            "table_schema": json.dumps(table.schema, ensure_ascii=False, sort_keys=True),
            "pandas": json.dumps(pandas_metadata(schema), sort_keys=True),
        }
    )
    return pq.ParquetWriter(path, described, compression="zstd")


# Arrow types as pandas' nullable dtypes: without them pyarrow's to_pandas() makes an integer
# column with nulls float64 (a year 2021 with a missing one beside it comes back as 2021.0, which
# frictionless refuses as a year) and a missing number NaN.
_NULLABLE_DTYPES = {
    pa.int8(): ("int8", "Int8"),
    pa.int16(): ("int16", "Int16"),
    pa.int32(): ("int32", "Int32"),
    pa.int64(): ("int64", "Int64"),
    pa.float64(): ("float64", "Float64"),
    pa.bool_(): ("bool", "boolean"),
}


def pandas_metadata(schema: pa.Schema) -> dict[str, Any]:
    """The `pandas` schema metadata (pandas' own format, as pyarrow writes it from a DataFrame)
    of a frame with no index whose integer, number and boolean columns have pandas' nullable
    dtypes: pandas.read_parquet, and frictionless, which reads Parquet through pandas, read a
    year as an integer and a missing cell as missing. Other readers ignore it."""
    columns = []
    for field in schema:
        logical, dtype = _NULLABLE_DTYPES.get(field.type, (_pandas_type(field.type), "object"))
        if pa.types.is_timestamp(field.type):
            dtype = f"timestamp[{field.type.unit}][pyarrow]"
        columns.append(
            {
                "name": field.name,
                "field_name": field.name,
                "pandas_type": logical,
                "numpy_type": dtype,
                "metadata": None,
            }
        )
    return {"index_columns": [], "column_indexes": [], "columns": columns}


def _pandas_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "datetime"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_time(kind):
        return "time"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "unicode"
    return "object"


def sorted_text_rows(table: Table) -> list[list[str]]:
    """Every row as text in primary-key order, its origin last (small tables and tests)."""
    columns = ", ".join(quote_identifier(name) for name in [*table.fields, ORIGIN])
    with connect() as con:
        rows = con.execute(
            f"SELECT {columns} FROM read_parquet({quote_literal(str(table.path))}) "
            f"ORDER BY {order_by(table.schema)}"
        ).fetchall()
    return [[str(cell) for cell in row] for row in rows]


def text_rows(table: Table) -> list[list[str]]:
    """Every row of `table` as text, in primary-key order (small tables and tests)."""
    return [row[:-1] for row in sorted_text_rows(table)]


def sorted_origins(table: Table) -> list[str]:
    """Every row's origin, in primary-key order (small tables and tests)."""
    return [row[-1] for row in sorted_text_rows(table)]
