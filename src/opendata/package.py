"""Building a data package: CSV + JSON per resource, hashes, descriptor, validation report.

The package is built in memory (our tables are small; issue 3 streams large ones) and carries a
content hash that ignores `version` and `created`, so re-publishing identical content is a no-op.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opendata.definitions import Dataset, SourceInfo
from opendata.municipalities import MEMBERS
from opendata.tables import json_bytes
from opendata.validate import Report, Table

DESCRIPTOR = "datapackage.json"
VALIDATION = "validation.json"
CHANGES = "changes.json"

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

MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}


@dataclass(frozen=True)
class BuiltPackage:
    """Files of one version (name -> bytes) and the descriptor that lists them."""

    name: str
    descriptor: dict[str, Any]
    files: dict[str, bytes]
    content_hash: str
    rows: dict[str, int]

    def descriptor_bytes(self) -> bytes:
        return dump_json(self.descriptor)

    def with_version(self, version: str, created: str) -> BuiltPackage:
        descriptor = {**self.descriptor, "version": version, "created": created}
        return BuiltPackage(self.name, descriptor, self.files, self.content_hash, self.rows)

    def all_files(self) -> dict[str, bytes]:
        """Every file of the version; the descriptor last, so it is written last."""
        return {**self.files, DESCRIPTOR: self.descriptor_bytes()}


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_package(dataset: Dataset, tables: Sequence[Table], report: Report) -> BuiltPackage:
    """The package for validated tables (version and created are set when publishing)."""
    definition = dataset.definition
    files: dict[str, bytes] = {}
    resources: list[dict[str, Any]] = []
    by_name = {resource.name: resource for resource in definition.resources}
    for table in tables:
        meta = by_name[table.name]
        csv_data = table.csv()
        json_data = json_bytes(table.schema, table.rows)
        for suffix, data, name in (
            ("csv", csv_data, table.name),
            ("json", json_data, f"{table.name}-json"),
        ):
            path = f"{table.name}.{suffix}"
            files[path] = data
            resource: dict[str, Any] = {
                "name": name,
                "path": path,
                "title": meta.title.sv,
                "format": suffix,
                "mediatype": MEDIA_TYPES[suffix],
                "encoding": "utf-8",
                "bytes": len(data),
                "hash": f"sha256:{sha256(data)}",
                "schema": table.schema,
            }
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
    descriptor: dict[str, Any] = {
        "profile": "data-package",
        "name": dataset.name,
        "title": definition.title.sv,
        "description": definition.description.sv,
        "version": None,
        "created": None,
        "licenses": [LICENSES[definition.license]],
        "keywords": [*definition.keywords.sv, *definition.keywords.en],
        "sources": [_source_entry(source) for source in definition.sources],
        "contributors": [
            {"title": definition.publisher, "role": "publisher"},
            {
                "title": definition.contact_point.name,
                "email": definition.contact_point.email,
                "role": "maintainer",
            },
            *({"title": name, "role": "author"} for name in publishers),
        ],
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
    files[VALIDATION] = dump_json(report.to_dict())
    content = {key: value for key, value in descriptor.items() if key not in ("version", "created")}
    return BuiltPackage(
        name=dataset.name,
        descriptor=descriptor,
        files=files,
        content_hash=sha256(dump_json(content)),
        rows=dict(report.rows),
    )


TEMPORAL_TYPES = ("year", "yearmonth", "date", "datetime")


def temporal_coverage(dataset: Dataset, tables: Sequence[Table]) -> dict[str, str] | None:
    """The period the data covers: the definition's, else the span of its date and year fields."""
    declared = dataset.definition.temporal
    if declared is not None:
        return {"start": _day(declared.start, first=True), "end": _day(declared.end, first=False)}
    starts: list[str] = []
    ends: list[str] = []
    for table in tables:
        for index, field in enumerate(table.schema["fields"]):
            if field.get("type") not in TEMPORAL_TYPES:
                continue
            values = [row[index] for row in table.rows if row[index]]
            if values:
                starts.append(_day(min(values), first=True))
                ends.append(_day(max(values), first=False))
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
