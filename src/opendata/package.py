"""Building a data package: CSV, JSON and Parquet per resource, hashes, descriptor, report.

The files are written to a workspace folder on disk, chunk by chunk, and hashed as they are
written; the package carries a content hash that ignores `version` and `created` and the layout of
the copies of a table's rows (the Parquet copy's bytes, which a newer Parquet writer may lay out
differently, and the JSON copy's, which count as the JSON of releases before issue 18 had them),
so re-publishing identical content is a no-op.

The descriptor is a Data Package v2 (`$schema`, contributors' `roles`, `languages`, the v2
profiles of resources and Table Schemas) that the official v2 JSON Schemas accept: every copy of
a table, CSV, JSON and Parquet, is a resource of `"type": "table"` that frictionless 5 reads row
by row. The content hash and the diff read descriptors through `comparable`, which maps a v2
descriptor to the v1 shape earlier releases wrote, so a format change alone is not a change: a
store published before it stays `unchanged` until its data or metadata really change (and then
the new version is written in the current format).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendata.definitions import Dataset, SourceInfo
from opendata.engine.outputs import Digest, WrittenFile, write_outputs
from opendata.layout import VALIDATION
from opendata.municipalities import MEMBERS
from opendata.tables import Table
from opendata.validate import Report

# Data Package v2 profiles (frictionless 5.21 reads them).
DATAPACKAGE_V2 = "https://datapackage.org/profiles/2.0/datapackage.json"
DATARESOURCE_V2 = "https://datapackage.org/profiles/2.0/dataresource.json"
TABLESCHEMA_V2 = "https://datapackage.org/profiles/2.0/tableschema.json"

LICENSES = {
    "CC-BY-4.0": {
        "name": "CC-BY-4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
        "title": "Creative Commons Attribution 4.0 International",
    },
    "CC0-1.0": {
        "name": "CC0-1.0",
        "path": "https://creativecommons.org/publicdomain/zero/1.0/",
        "title": "CC0 1.0 Universal",
    },
}

MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}
# The resource name of each format's copy of a table (`folkmangd`, `folkmangd-json`, ...).
RESOURCE_SUFFIX = {"csv": "", "json": "-json", "parquet": "-parquet"}
# v2's one resource type: a table, which frictionless 5 reads as rows of the Table Schema.
TABLE = "table"


@dataclass(frozen=True)
class BuiltPackage:
    """Files of one version (name -> file on disk) and the descriptor that lists them."""

    name: str
    descriptor: dict[str, Any]
    files: dict[str, WrittenFile]
    content_hash: str
    rows: dict[str, int]
    folder: Path

    def descriptor_bytes(self) -> bytes:
        return dump_json(self.descriptor)

    def with_version(self, version: str, created: str) -> BuiltPackage:
        descriptor = {**self.descriptor, "version": version, "created": created}
        return BuiltPackage(
            self.name, descriptor, self.files, self.content_hash, self.rows, self.folder
        )


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_package(
    dataset: Dataset, tables: Sequence[Table], report: Report, folder: Path
) -> BuiltPackage:
    """The package for validated tables, written into `folder` (version and created are set
    when publishing)."""
    definition = dataset.definition
    files: dict[str, WrittenFile] = {}
    json_v1: dict[str, Digest] = {}
    resources: list[dict[str, Any]] = []
    by_name = {resource.name: resource for resource in definition.resources}
    folder.mkdir(parents=True, exist_ok=True)
    for table in tables:
        meta = by_name[table.name]
        written = write_outputs(table, folder, scratch=folder.parent)
        for suffix in ("csv", "json", "parquet"):
            path = f"{table.name}.{suffix}"
            data = written[path]
            files[path] = data
            if data.v1 is not None:
                json_v1[path] = data.v1
            resource = table_resource(
                f"{table.name}{RESOURCE_SUFFIX[suffix]}",
                path,
                meta.title.sv,
                suffix,
                data,
                table.schema,
                empty=table.row_count == 0,
            )
            if meta.description is not None:
                resource["description"] = meta.description.sv
            if meta.title.en or (meta.description and meta.description.en):
                resource["translations"] = {
                    "en": _drop_none(
                        {
                            "title": meta.title.en,
                            "description": meta.description.en if meta.description else None,
                        }
                    )
                }
            resources.append(resource)

    publishers = []
    for source in definition.sources:
        if source.publisher not in publishers:
            publishers.append(source.publisher)
    english = bool(definition.title.en or definition.description.en or list(definition.keywords.en))
    descriptor: dict[str, Any] = {
        "$schema": DATAPACKAGE_V2,
        "name": dataset.name,
        "title": definition.title.sv,
        "description": definition.description.sv,
        "version": None,
        "created": None,
        "licenses": [LICENSES[definition.license]],
        "keywords": [*definition.keywords.sv, *definition.keywords.en],
        "sources": [
            *(_source_entry(source) for source in definition.sources),
            *dataset.deliveries,
        ],
        "contributors": [
            {"title": definition.publisher, "roles": ["publisher"]},
            {
                "title": definition.contact_point.name,
                "email": definition.contact_point.email,
                "roles": ["maintainer"],
            },
            *({"title": name, "roles": ["author"]} for name in publishers),
        ],
        "languages": ["sv", "en"] if english else ["sv"],
        "translations": {
            "en": _drop_none(
                {
                    "title": definition.title.en,
                    "description": definition.description.en,
                    "keywords": list(definition.keywords.en) or None,
                }
            )
        },
        "themes": list(definition.themes),
        "accrualPeriodicity": definition.accrual_periodicity,
        "contactPoint": {
            "name": definition.contact_point.name,
            "email": definition.contact_point.email,
        },
        "spatial": [{"kommunkod": code, "kommun": name} for code, name in MEMBERS.items()],
        "attribution": attribution(dataset),
        "resources": resources,
    }
    period = temporal_coverage(dataset, tables)
    if period is not None:
        descriptor["temporal"] = period
    validation = folder / VALIDATION
    validation.write_bytes(dump_json(report.to_dict()))
    files[VALIDATION] = WrittenFile(
        validation, validation.stat().st_size, sha256(validation.read_bytes())
    )
    return BuiltPackage(
        name=dataset.name,
        descriptor=descriptor,
        files=files,
        content_hash=content_hash(descriptor, json_v1),
        rows=dict(report.rows),
        folder=folder,
    )


def table_resource(
    name: str,
    path: str,
    title: str,
    suffix: str,
    data: WrittenFile,
    schema: Mapping[str, Any],
    *,
    empty: bool = False,
) -> dict[str, Any]:
    """The resource of one copy of a table, as the v2 JSON Schemas and frictionless 5 take it.

    Every copy is `"type": "table"` (v2's only type), so frictionless 5 reads its rows by the
    Table Schema: without it, it reads a JSON resource as one JSON document and a Parquet one
    as a plain file. The exception is the JSON copy of an empty table: frictionless 5.21 cannot
    read an empty JSON array as a table (`cannot extract JSON tabular data`), so that copy
    declares no type (a file, as v2 allows). `bytes` only on the CSV: frictionless 5.21 counts
    no bytes of a JSON or Parquet file it reads as a table, so it would report any size they
    declared wrong (versions.json and catalog.json keep every file's size). The `hash` stays on
    every copy."""
    resource: dict[str, Any] = {"$schema": DATARESOURCE_V2, "name": name}
    if not (suffix == "json" and empty):
        resource["type"] = TABLE
    resource.update(path=path, title=title, format=suffix, mediatype=MEDIA_TYPES[suffix])
    if suffix != "parquet":  # a binary file has no encoding
        resource["encoding"] = "utf-8"
    if suffix == "csv":
        resource["bytes"] = data.bytes
    resource["hash"] = f"sha256:{data.sha256}"
    resource["schema"] = {"$schema": TABLESCHEMA_V2, **schema}
    return resource


def comparable(
    descriptor: Mapping[str, Any], json_v1: Mapping[str, Digest] | None = None
) -> dict[str, Any]:
    """A v1 or v2 descriptor in the v1 shape (key order kept), for comparing content: a v2
    descriptor's `$schema` becomes v1's `profile`, a single role in `roles` becomes `role`, the
    resource and Table Schema profiles go, and `languages` goes (it follows from the English
    `translations`, which stay). A resource's `type` is v1's: none on the CSV and JSON copies,
    `file` on the Parquet copy. `json_v1` (by path): the size and SHA-256 of JSON copies in the
    v1 layout (`WrittenFile.v1`), which v1's JSON resources carry as `bytes` and `hash`. A v1
    descriptor comes back as it is, so the hashes that stores recorded before v2 still match the
    same content."""
    out: dict[str, Any] = {}
    if "$schema" in descriptor and "profile" not in descriptor:
        out["profile"] = "data-package"
    for key, value in descriptor.items():
        if key in ("$schema", "languages"):
            continue
        if key == "contributors" and isinstance(value, list):
            value = [_v1_contributor(c) if isinstance(c, Mapping) else c for c in value]
        elif key == "resources" and isinstance(value, list):
            value = [_v1_resource(r, json_v1 or {}) if isinstance(r, Mapping) else r for r in value]
        out[key] = value
    return out


def _v1_contributor(contributor: Mapping[str, Any]) -> dict[str, Any]:
    roles = contributor.get("roles")
    if not (isinstance(roles, list) and len(roles) == 1 and "role" not in contributor):
        return dict(contributor)
    return {
        ("role" if k == "roles" else k): (roles[0] if k == "roles" else v)
        for k, v in contributor.items()
    }


def _v1_resource(resource: Mapping[str, Any], json_v1: Mapping[str, Digest]) -> dict[str, Any]:
    kind = resource.get("format")
    digest = json_v1.get(str(resource.get("path"))) if kind == "json" else None
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if key == "$schema" or (digest is not None and key == "bytes"):
            continue
        if key == "type" and value == TABLE:
            # v1 declared no type but the Parquet copy's, `file` (right after the name, where
            # v2's `table` is).
            if kind == "parquet":
                out["type"] = "file"
            continue
        if key == "hash" and digest is not None:
            out["bytes"] = digest.bytes
            value = f"sha256:{digest.sha256}"
        elif key == "schema" and isinstance(value, Mapping) and "$schema" in value:
            value = {k: v for k, v in value.items() if k != "$schema"}
        out[key] = value
    return out


def content_hash(descriptor: Mapping[str, Any], json_v1: Mapping[str, Digest] | None = None) -> str:
    """What makes two versions the same: everything but the version's number and time, and the
    layout of the copies of the rows (the CSV's hash is in): the Parquet copy's bytes do not
    count, and the JSON copy's count as it was laid out in v1 (`json_v1`, by path; a JSON copy
    not in it counts as the descriptor says). Read in the v1 shape (`comparable`), so that
    the descriptor format is not content: the same content hashes as it did before v2."""
    descriptor = comparable(descriptor, json_v1)
    content = {key: value for key, value in descriptor.items() if key not in ("version", "created")}
    if isinstance(content.get("sources"), list):
        # Who delivered a file is provenance, not content: the same data delivered again by
        # someone else (a spreadsheet saved anew) makes no new version.
        content["sources"] = [
            s for s in content["sources"] if not (isinstance(s, Mapping) and DELIVERY_KEY in s)
        ]
    content["resources"] = [
        {k: v for k, v in resource.items() if k not in ("bytes", "hash")}
        if resource.get("format") == "parquet"
        else resource
        for resource in descriptor.get("resources", [])
    ]
    return sha256(dump_json(content))


DELIVERY_KEY = "opendata:delivery"  # a package source that a steward delivered (deliveries.py)

TEMPORAL_TYPES = ("year", "yearmonth", "date", "datetime")


def temporal_coverage(dataset: Dataset, tables: Sequence[Table]) -> dict[str, str] | None:
    """The period the data covers: the definition's, else the span of its date and year fields."""
    declared = dataset.definition.temporal
    if declared is not None:
        return {"start": _day(declared.start, first=True), "end": _day(declared.end, first=False)}
    from opendata.engine.db import connect, quote_identifier, quote_literal

    starts: list[str] = []
    ends: list[str] = []
    with connect() as con:
        for table in tables:
            for field in table.schema["fields"]:
                if field.get("type") not in TEMPORAL_TYPES:
                    continue
                column = quote_identifier(field["name"])
                found = con.execute(
                    f"SELECT min({column}) FILTER (WHERE {column} <> ''), "
                    f"max({column}) FILTER (WHERE {column} <> '') "
                    f"FROM read_parquet({quote_literal(str(table.path))})"
                ).fetchone()
                if found is not None and found[0] is not None:
                    starts.append(_day(str(found[0]), first=True))
                    ends.append(_day(str(found[1]), first=False))
    if not starts:
        return None
    return {"start": min(starts), "end": max(ends)}


def _day(value: str, *, first: bool) -> str:
    """A year, year-month, date or datetime as the first or last day it covers."""
    import calendar

    value = value[:10]
    if len(value) == 4:
        return f"{value}-01-01" if first else f"{value}-12-31"
    if len(value) == 7:
        year, month = int(value[:4]), int(value[5:7])
        last = calendar.monthrange(year, month)[1]
        return f"{value}-01" if first else f"{value}-{last:02d}"
    return value


def attribution(dataset: Dataset) -> str:
    """The text a re-user cites: the original publishers, then us, then the licence."""
    definition = dataset.definition
    origins = ", ".join(dict.fromkeys(source.publisher for source in definition.sources))
    return (
        f"Källa: {origins}. Bearbetning: {definition.publisher}. "
        f"Licens: {LICENSES[definition.license]['title']}."
    )


def _source_entry(source: SourceInfo) -> dict[str, Any]:
    """Provenance as a Data Package source: the URL as `path`, the steward's file by name."""
    return _drop_none(
        {
            "title": source.title,
            "path": source.url,
            "publisher": source.publisher,
            "file": source.path.rsplit("/", 1)[-1] if source.path else None,
            "origin": source.origin,
            "license": source.license,
        }
    )


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
