"""One way to open DuckDB: no extension downloads, bounded memory, spill to a scratch folder."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# Memory DuckDB may use before it spills sorts, joins and aggregates to disk. It is what bounds
# the peak of a publish, whatever the size of the table.
DEFAULT_MEMORY_LIMIT = os.environ.get("OPENDATA_ENGINE_MEMORY", "384MB")


def connect(
    scratch: Path | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads an extension (there is no internet here)."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "memory_limit": memory_limit,
        "threads": max(1, min(os.cpu_count() or 1, 4)),
        "preserve_insertion_order": True,
    }
    if scratch is not None:
        config["temp_directory"] = str(scratch)
    con = duckdb.connect(":memory:", config=config)
    # The few cells whose Python reading SQL cannot express (Unicode digits, say) go through
    # one registered function; ordinary cells never do.
    from opendata.engine.checks import register_udf

    register_udf(con)
    return con


def quote_identifier(name: str) -> str:
    """A column or table name as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A Python string as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"
