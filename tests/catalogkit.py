"""A store written by hand in the published layout, for the catalog tests.

Versions are written file by file as the README's "What is published" describes them (version
folder, `versions.json`, `latest/` copies), without the publish pipeline: a version may have the
old shape (CSV and JSON per table, what every store holds from before Parquet) or the new one
(also `<table>.parquet`, resource `<table>-parquet`). Everything is fixed (times, rows), so the
derived files are byte-for-byte reproducible and can be pinned.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from opendata.latest import update_latest
from opendata.storage import Store

PARQUET_MEDIATYPE = "application/vnd.apache.parquet"

KOMMUNER_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
        {"name": "kommun", "type": "string", "constraints": {"required": True}},
    ],
    "primaryKey": ["kommunkod"],
}
VARDEN_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
        {"name": "ar", "type": "integer", "constraints": {"required": True}},
        {"name": "varde", "type": "number", "unit": "ton"},
        {"name": "kommentar", "type": "string"},
    ],
    "primaryKey": ["kommunkod", "ar"],
}
KOMMUNER = [["1490", "Borås"], ["1442", "Vårgårda"], ["1443", "Bollebygd"]]
VARDEN = [
    ["1442", "2023", "2", "rad\nbrytning"],
    ["1443", "2024", "", "åäö <b>fet</b>"],
    ["1490", "2023", "1.5", 'citat "inom" citattecken, och komma'],
]


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    schema: dict[str, Any]
    rows: list[list[str]]
    title_en: str | None = None
    description: str | None = None


def tables(extra_rows: int = 0) -> list[Table]:
    """Two small tables; `extra_rows` adds rows to `varden` (a minor version's new data)."""
    rows = [*VARDEN, *([f"{1500 + i}", "2024", str(i), ""] for i in range(extra_rows))]
    return [
        Table("kommuner", "Kommuner", KOMMUNER_SCHEMA, KOMMUNER, "Municipalities"),
        Table(
            "varden",
            "Värden per kommun och år",
            VARDEN_SCHEMA,
            rows,
            "Values by municipality and year",
            "Syntetiska värden för tester.",
        ),
    ]


def big_tables(rows: int) -> list[Table]:
    """`varden` with many rows whose comments hold commas, quotes and line breaks."""
    small = tables()
    data = [
        [f"{1000 + i % 9000:04d}", str(1900 + i // 9000), str(i), f'rad {i}\n"två", åäö ' * 3]
        for i in range(rows)
    ]
    return [small[0], Table("varden", "Värden", small[1].schema, data)]


@dataclass
class Version:
    number: str
    published: str
    tables: list[Table]
    parquet: bool = False
    bump: str | None = None
    summary: str = "first version"
    withdrawn: dict[str, Any] | None = None  # {"withdrawn": time, "reason": text}
    files: dict[str, bytes] = field(default_factory=dict)


def csv_bytes(table: Table) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f["name"] for f in table.schema["fields"]])
    writer.writerows(table.rows)
    return out.getvalue().encode("utf-8")


def _typed(kind: str, cell: str) -> Any:
    if cell == "":
        return None
    if kind == "integer":
        return int(cell)
    if kind == "number":
        return float(cell)
    return cell


def json_bytes(table: Table) -> bytes:
    fields = table.schema["fields"]
    records = [
        {f["name"]: _typed(f["type"], cell) for f, cell in zip(fields, row, strict=True)}
        for row in table.rows
    ]
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def parquet_bytes(table: Table) -> bytes:
    kinds = {"integer": pa.int64(), "number": pa.float64()}
    columns = {
        f["name"]: pa.array(
            [_typed(f["type"], row[i]) for row in table.rows], kinds.get(f["type"], pa.string())
        )
        for i, f in enumerate(table.schema["fields"])
    }
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def descriptor(name: str, version: Version) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The version's datapackage.json and its data files, in the published shape."""
    files: dict[str, bytes] = {}
    resources: list[dict[str, Any]] = []
    for table in version.tables:
        shapes = [
            ("csv", "text/csv", csv_bytes(table), table.name),
            ("json", "application/json", json_bytes(table), f"{table.name}-json"),
        ]
        if version.parquet:
            shapes.append(
                ("parquet", PARQUET_MEDIATYPE, parquet_bytes(table), f"{table.name}-parquet")
            )
        for suffix, mediatype, data, resource_name in shapes:
            path = f"{table.name}.{suffix}"
            files[path] = data
            resource: dict[str, Any] = {
                "name": resource_name,
                "path": path,
                "title": table.title,
                "format": suffix,
                "mediatype": mediatype,
            }
            if suffix != "parquet":
                resource["encoding"] = "utf-8"
            resource |= {"bytes": len(data), "hash": f"sha256:{sha256(data)}"}
            resource["schema"] = table.schema
            if table.description:
                resource["description"] = table.description
            if table.title_en:
                resource["translations"] = {"en": {"title": table.title_en}}
            resources.append(resource)
    document = {
        "profile": "data-package",
        "name": name,
        "title": "Provdata för katalogen",
        "description": "Syntetiska data för katalogens tester.",
        "version": version.number,
        "created": version.published,
        "licenses": [
            {
                "name": "CC-BY-4.0",
                "path": "https://creativecommons.org/licenses/by/4.0/",
                "title": "Creative Commons Attribution 4.0 International",
            }
        ],
        "keywords": ["prov", "test"],
        "sources": [{"title": "Testkälla", "publisher": "Testutgivare"}],
        "translations": {"en": {"title": "Test data for the catalog", "keywords": ["test"]}},
        "themes": ["ENVI"],
        "accrualPeriodicity": "annual",
        "contactPoint": {"name": "Test", "email": "test@example.org"},
        "spatial": [{"kommunkod": code, "kommun": kommun} for code, kommun in KOMMUNER],
        "attribution": "Källa: Testutgivare.",
        "temporal": {"start": "2023-01-01", "end": "2024-12-31"},
        "resources": resources,
    }
    return document, files


def write_dataset(store: Store, name: str, versions: list[Version], base_url: str) -> None:
    """Write every version of `name`, then its versions.json and the latest/ copies."""
    entries = []
    for version in versions:
        document, files = descriptor(name, version)
        files["validation.json"] = dump({"valid": True})
        files["changes.json"] = dump({"version": version.number, "summary": version.summary})
        files["datapackage.json"] = dump(document)
        for filename, data in files.items():
            store.create(f"datasets/{name}/{version.number}/{filename}", data)
        version.files = files
        entry: dict[str, Any] = {
            "version": version.number,
            "status": "published",
            "published": version.published,
            "content_hash": sha256(files["datapackage.json"]),
            "datapackage": f"{version.number}/datapackage.json",
            "bump": version.bump,
            "summary": version.summary,
            "rows": {t.name: len(t.rows) for t in version.tables},
            "files": {f: {"bytes": len(d), "sha256": sha256(d)} for f, d in files.items()},
        }
        if version.withdrawn:
            entry |= {"status": "withdrawn", **version.withdrawn}
        entries.append(entry)
    live = [e["version"] for e in entries if e["status"] == "published"]
    latest = live[-1] if live else None
    history = {"dataset": name, "latest": latest, "versions": entries}
    store.replace(f"datasets/{name}/versions.json", dump(history), None)
    if latest:
        update_latest(store, name, latest, base_url)


def old_shape(name: str = "prov") -> list[Version]:
    """Two versions as every store has them from before Parquet: CSV and JSON only."""
    return [
        Version("1.0.0", "2024-03-01T05:00:12Z", tables()),
        Version(
            "1.1.0",
            "2024-06-10T05:00:03Z",
            tables(extra_rows=2),
            bump="minor",
            summary="varden: 2 rows added",
        ),
    ]


def mixed_shape() -> list[Version]:
    """An old version (CSV, JSON) followed by one that also has Parquet."""
    return [
        Version("1.0.0", "2024-03-01T05:00:12Z", tables()),
        Version(
            "1.1.0",
            "2024-06-10T05:00:03Z",
            tables(extra_rows=2),
            parquet=True,
            bump="minor",
            summary="varden: 2 rows added",
        ),
    ]
