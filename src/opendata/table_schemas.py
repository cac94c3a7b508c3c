"""The Table Schemas of `schemas/`, read strictly: valid JSON without a key given twice, inside
the schemas folder, and refused before any data is read when frictionless would accept a typo
(an unknown type, a key naming no field, a field given twice) or the table is too wide.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

from opendata.definition_files import read_definition_text, resolve_inside
from opendata.errors import DefinitionError

TABLE_SCHEMA_TYPES = (
    "string",
    "number",
    "integer",
    "boolean",
    "object",
    "array",
    "list",
    "date",
    "time",
    "datetime",
    "year",
    "yearmonth",
    "duration",
    "geopoint",
    "geojson",
    "any",
)


def load_schema(schemas_dir: Path, relative: str, where: str) -> dict[str, Any]:
    """A Table Schema from `schemas/`, refusing paths that leave that folder."""
    path = resolve_inside(schemas_dir, relative, where, "schemas folder")
    if not path.is_file():
        raise DefinitionError(f"{where}: no such schema {relative!r} in {schemas_dir}")
    text = read_definition_text(path)
    try:
        schema = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise DefinitionError(
            f"{path}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except _DuplicateKey as error:
        raise DefinitionError(f"{path}: the key {error.args[0]!r} is given twice") from None
    except RecursionError:
        raise DefinitionError(f"{path}: nested too deeply to be a Table Schema") from None
    check_schema(schema, path)
    return cast(dict[str, Any], schema)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def field_names(value: Any) -> list[str] | None:
    """A key's field names (one name or a list of names), or None when it is neither."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list) and names and all(isinstance(n, str) and n for n in names):
        return names
    return None


# The widest table validated: 1,000 columns take about 30 s on 2 cores (a group of 24 columns a
# pass, tests/engine/test_wide_tables.py); ten thousand would take minutes and are refused at once.
MAX_FIELDS = 2000


def check_schema(schema: Any, path: Path) -> None:
    """What a Table Schema must be before any data is read: every problem a DefinitionError
    naming the file, the key and what is expected (frictionless and the engine both assume
    it; a wrong type or a key naming no field used to escape as an exception, exit 3)."""
    if not isinstance(schema, dict):
        raise DefinitionError(f"{path}: a Table Schema is a JSON object with a list of 'fields'")
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        raise DefinitionError(f"{path}: fields: a Table Schema needs a non-empty list of fields")
    fields_match = schema.get("fieldsMatch", "exact")
    if fields_match not in ("exact", "equal"):
        known = fields_match in ("subset", "superset", "partial")
        if fields_match == "subset":
            why = (
                "lets a table have columns the schema does not name, but here a source names "
                "the columns it publishes: remove fieldsMatch and choose the columns with "
                "`columns` on the source in dataset.yaml"
            )
        elif known:
            why = (
                "lets a table lack some of the schema's fields, but here every field is filled "
                "by a column of the source: remove fieldsMatch and declare the fields that are "
                "empty on purpose with `left_empty` on the source in dataset.yaml"
            )
        else:
            why = (
                "is not one of 'exact', 'equal', 'subset', 'superset' or 'partial' (columns "
                "are matched to fields by their titles here, so 'exact' and 'equal' mean the "
                "same)"
            )
        raise DefinitionError(f"{path}: fieldsMatch: {fields_match!r} {why}")
    if len(fields) > MAX_FIELDS:
        raise DefinitionError(
            f"{path}: fields: {len(fields):,} fields, more than the {MAX_FIELDS:,} a table may "
            "have here (each column is checked on its own, so a table this wide takes many "
            "minutes to validate); split it into tables of fewer columns, or melt it (one row "
            "a value, with `melt` in dataset.yaml)"
        )
    names: list[str] = []
    for number, field in enumerate(fields):
        where = f"{path}: fields.{number}"
        if not isinstance(field, dict):
            raise DefinitionError(f"{where}: a field is an object with a name and a type")
        name = field.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(f"{where}.name: every field needs a name (text)")
        if name in names:
            raise DefinitionError(f"{where}.name: {name!r} is the name of an earlier field too")
        names.append(name)
        kind = field.get("type", "string")
        if kind not in TABLE_SCHEMA_TYPES:
            raise DefinitionError(
                f"{where}.type: {kind!r} is not a Table Schema type (one of "
                f"{', '.join(TABLE_SCHEMA_TYPES)})"
            )
        if "format" in field and not isinstance(field["format"], str):
            raise DefinitionError(f"{where}.format: a format is text, not {field['format']!r}")
        constraints = field.get("constraints", {})
        if not isinstance(constraints, dict):
            raise DefinitionError(f"{where}.constraints: constraints are an object")
        pattern = constraints.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise DefinitionError(f"{where}.constraints.pattern: a pattern is text")
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as error:
                raise DefinitionError(
                    f"{where}.constraints.pattern: {pattern!r} is not a regular expression "
                    f"({error})"
                ) from None
        for flag in ("required", "unique"):
            if flag in constraints and not isinstance(constraints[flag], bool):
                raise DefinitionError(f"{where}.constraints.{flag}: true or false")
        if "enum" in constraints and not isinstance(constraints["enum"], list):
            raise DefinitionError(f"{where}.constraints.enum: a list of the allowed values")
    missing = schema.get("missingValues", [""])
    if not isinstance(missing, list) or not all(
        isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("value"), str))
        for v in missing
    ):
        raise DefinitionError(f"{path}: missingValues: a list of texts")
    if "primaryKey" in schema:
        key = field_names(schema["primaryKey"])
        if key is None:
            raise DefinitionError(f"{path}: primaryKey: a field name or a list of field names")
        unknown = [name for name in key if name not in names]
        if unknown:
            raise DefinitionError(
                f"{path}: primaryKey: {', '.join(map(repr, unknown))} "
                f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of the schema "
                f"(its fields: {', '.join(map(repr, names))})"
            )
    foreign = schema.get("foreignKeys", [])
    if not isinstance(foreign, list):
        raise DefinitionError(f"{path}: foreignKeys: a list of foreign keys")
    for number, entry in enumerate(foreign):
        where = f"{path}: foreignKeys.{number}"
        reference = entry.get("reference") if isinstance(entry, dict) else None
        own = field_names(entry.get("fields")) if isinstance(entry, dict) else None
        if own is None or not isinstance(reference, dict):
            raise DefinitionError(
                f"{where}: a foreign key has 'fields' (names in this schema) and a 'reference' "
                "(a 'resource' and its 'fields')"
            )
        unknown = [name for name in own if name not in names]
        if unknown:
            raise DefinitionError(
                f"{where}.fields: {', '.join(map(repr, unknown))} not a field of the schema "
                f"(its fields: {', '.join(map(repr, names))})"
            )
        other = field_names(reference.get("fields"))
        if other is None or len(other) != len(own):
            raise DefinitionError(
                f"{where}.reference.fields: as many field names as 'fields' ({len(own)})"
            )
        if not isinstance(reference.get("resource", ""), str):
            raise DefinitionError(f"{where}.reference.resource: the name of a resource (text)")
