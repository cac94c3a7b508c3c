"""The file readers, chosen by the source's `kind` as dataset.yaml spells it: a new format is
one new module with `read(source, context)` and one line in READERS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import opendata.collect.csvfile as csvfile
import opendata.collect.jsonfile as jsonfile
import opendata.collect.xlsxfile as xlsxfile
from opendata.collect.common import ReadContext
from opendata.collect.raw import RawSource
from opendata.definitions import CsvSource, JsonSource, XlsxSource

# Each reader takes its own source type; the table is keyed by that type's `kind`.
READERS: dict[str, Callable[[Any, ReadContext], RawSource]] = {
    "csv": csvfile.read,
    "xlsx": xlsxfile.read,
    "json": jsonfile.read,
}


def read_file(source: CsvSource | XlsxSource | JsonSource, context: ReadContext) -> RawSource:
    """The raw rows of a file source, by the reader of its kind."""
    return READERS[source.kind](source, context)
