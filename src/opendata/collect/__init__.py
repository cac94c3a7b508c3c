"""Collectors: each turns a declared source into staged rows. One module per file format
(csvfile.py, xlsxfile.py, jsonfile.py), each with `read(source, context)` and chosen by the
source's `kind` from formats.READERS, what they share in common.py; kolada.py, pxweb.py and
trafa.py the public APIs; raw.py what every reader hands on; core.py the shaping after reading.

Every row remembers where it came from (file, sheet, row), so that a validation error on the
published table can be reported against the steward's own file.
"""

from opendata.collect.core import collect_resource

__all__ = ["collect_resource"]
