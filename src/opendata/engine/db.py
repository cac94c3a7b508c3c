"""One way to open DuckDB: no extension downloads, bounded memory, spill to a scratch folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from opendata.engine.sql import quote_identifier, quote_literal
from opendata.engine.udf import register_udf

__all__ = ["connect", "memory_limit", "quote_identifier", "quote_literal"]

# Memory DuckDB may use before it spills sorts, joins and aggregates to disk. It is what bounds
# the peak of a publish, whatever the size of the table.
DEFAULT_MEMORY_LIMIT = "128MB"
MEMORY_SETTING = "OPENDATA_ENGINE_MEMORY"
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)\s*$", re.IGNORECASE)


def memory_limit() -> str:
    """The engine's memory limit from OPENDATA_ENGINE_MEMORY (e.g. "512MB"), or the default."""
    value = os.environ.get(MEMORY_SETTING, DEFAULT_MEMORY_LIMIT)
    if not _SIZE.match(value):
        from opendata.errors import ConfigError

        raise ConfigError(
            f"{MEMORY_SETTING}={value!r} is not a size: give a number and a unit, e.g. 512MB or 2GB"
        )
    return value.strip()


def connect(scratch: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads an extension (there is no internet here)."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "memory_limit": memory_limit(),
        "threads": max(1, min(os.cpu_count() or 1, 4)),
        "preserve_insertion_order": True,
    }
    if scratch is not None:
        config["temp_directory"] = str(scratch)
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")  # our own output goes to the terminal
    # The few cells whose Python reading SQL cannot express (Unicode digits, say) go through
    # one registered function; ordinary cells never do.
    register_udf(con)
    return con
