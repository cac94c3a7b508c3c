"""Names and strings written into DuckDB SQL, whatever characters they hold."""

from __future__ import annotations


def quote_identifier(name: str) -> str:
    """A column or table name as a DuckDB identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A Python string as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"
