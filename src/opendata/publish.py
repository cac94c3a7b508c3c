"""The publish protocol: collect, validate, package, then write an immutable version.

Order of writes (quilt3's model): every file of the version under its own prefix first (never
overwriting), the version's descriptor last among them; only then the stable `latest` copies and
finally the dataset's `versions.json` pointer with a compare-and-swap. A crash before the pointer
leaves what readers see exactly as before, and a re-run completes the same version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from opendata.collect import CollectedRow, collect_resource
from opendata.config import Settings
from opendata.definitions import Dataset, load_dataset
from opendata.errors import DefinitionError, OpendataError, StoreError
from opendata.package import DESCRIPTOR, BuiltPackage, build_package, dump_json, sha256
from opendata.storage import Store
from opendata.tables import cell_text, text_rows
from opendata.validate import Report, Table, validate_tables
from opendata.versioning import Bump, next_version, required_bump

LATEST = "latest"
VERSIONS = "versions.json"


class DatasetInvalid(OpendataError):
    """The dataset's data failed validation: nothing of it is published (exit code 1)."""

    exit_code = 1

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, problems or [])
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        return self.message


@dataclass
class Outcome:
    """What happened to one dataset in a run: the `--json` contract's object."""

    dataset: str
    status: str  # published | unchanged | skipped | invalid | failed
    version: str | None = None
    previous_version: str | None = None
    url: str | None = None
    rows: int | None = None
    message: str | None = None
    dry_run: bool = False
    exit_code: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Prepared:
    dataset: Dataset
    tables: list[Table]
    report: Report
    package: BuiltPackage | None


def dataset_prefix(name: str) -> str:
    return f"datasets/{name}"


def load(settings: Settings, name: str) -> Dataset:
    folder = settings.datasets_dir / name
    if not (folder / "dataset.yaml").is_file():
        raise DefinitionError(f"no dataset {name!r}: {folder}/dataset.yaml does not exist")
    return load_dataset(folder, settings.schemas_dir)


def collect_tables(settings: Settings, dataset: Dataset) -> list[Table]:
    """Every resource of the dataset as canonical text rows, with their origins."""
    resolving: set[str] = set()

    def resolve(other: str, resource: str) -> list[CollectedRow]:
        if other in resolving or other == dataset.name:
            raise DefinitionError(f"{dataset.definition_file}: dataset {other!r} refers to itself")
        resolving.add(other)
        target = load(settings, other)
        matches = [r for r in target.definition.resources if r.name == resource]
        if not matches:
            raise DefinitionError(
                f"{dataset.definition_file}: dataset {other!r} has no resource {resource!r}"
            )
        rows = collect_resource(target, matches[0], resolve)
        resolving.discard(other)
        return rows

    tables = []
    for resource in dataset.definition.resources:
        schema = dataset.schemas[resource.name]
        rows = collect_resource(dataset, resource, resolve)
        fields = [f["name"] for f in schema["fields"]]
        rows = _sorted_by_key(rows, schema)
        tables.append(
            Table(
                name=resource.name,
                schema=schema,
                rows=text_rows(fields, rows),
                origins=[row.origin for row in rows],
            )
        )
    return tables


def _sorted_by_key(rows: list[CollectedRow], schema: dict[str, Any]) -> list[CollectedRow]:
    """Rows in primary-key order, so versions diff cleanly whatever order a source uses."""
    key = schema.get("primaryKey")
    if not key:
        return rows
    names = [key] if isinstance(key, str) else list(key)
    return sorted(rows, key=lambda row: tuple(_sort_text(row.values.get(n)) for n in names))


def _sort_text(value: object) -> tuple[int, float, str]:
    """Numbers (also numbers as text, e.g. years from a header) before text, numerically."""
    text = cell_text(value)
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def prepare(settings: Settings, name: str) -> Prepared:
    """Collect and validate one dataset and, if it is valid, build its package in memory."""
    dataset = load(settings, name)
    tables = collect_tables(settings, dataset)
    report = validate_tables(dataset.name, tables)
    package = build_package(dataset, tables, report) if report.valid else None
    return Prepared(dataset, tables, report, package)


def require_valid(prepared: Prepared) -> BuiltPackage:
    """The package, or DatasetInvalid with the report's problems (file, row, field)."""
    if prepared.package is None:
        report = prepared.report
        count = len(report.problems)
        raise DatasetInvalid(
            f"{report.dataset} is invalid ({count} problem{'s' if count != 1 else ''}), "
            f"nothing published:\n{report.summary()}",
            [asdict(problem) for problem in report.problems],
        )
    return prepared.package


def read_history(store: Store, name: str) -> tuple[dict[str, Any], str | None]:
    """The dataset's versions pointer and its ETag (None when nothing is published yet)."""
    found = store.read(f"{dataset_prefix(name)}/{VERSIONS}")
    if found is None:
        return {"dataset": name, "latest": None, "versions": []}, None
    try:
        return json.loads(found[0]), found[1]
    except json.JSONDecodeError:
        raise StoreError(f"{dataset_prefix(name)}/{VERSIONS} in {store.url} is corrupt") from None


def descriptor_content_hash(descriptor: dict[str, Any]) -> str:
    content = {k: v for k, v in descriptor.items() if k not in ("version", "created")}
    return sha256(dump_json(content))


def publish_package(
    store: Store,
    package: BuiltPackage,
    base_url: str,
    *,
    bump: Bump | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Publish one validated package as a new immutable version, or report it unchanged."""
    name = package.name
    prefix = dataset_prefix(name)
    history, etag = read_history(store, name)
    versions = history.get("versions", [])
    live = [v for v in versions if v.get("status") == "published"]
    latest = live[-1] if live else None
    total_rows = sum(package.rows.values())
    previous_version = latest["version"] if latest else None
    if latest is not None and latest.get("content_hash") == package.content_hash:
        return Outcome(
            dataset=name,
            status="unchanged",
            version=previous_version,
            previous_version=previous_version,
            url=f"{base_url}{prefix}/{previous_version}/{DESCRIPTOR}",
            rows=total_rows,
            dry_run=dry_run,
        )

    required: Bump = "patch"
    if latest is not None:
        old = store.read_bytes(f"{prefix}/{latest['version']}/{DESCRIPTOR}")
        old_descriptor = json.loads(old) if old else {}
        required = required_bump(
            old_descriptor, package.descriptor, latest.get("rows", {}), package.rows
        )
    newest = max((v["version"] for v in versions), key=_semver, default=None)
    version = next_version(newest, required, bump)
    url = f"{base_url}{prefix}/{version}/{DESCRIPTOR}"
    if dry_run:
        return Outcome(name, "published", version, previous_version, url, total_rows, dry_run=True)

    created = (now or datetime.now(UTC)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    existing = store.read_bytes(f"{prefix}/{version}/{DESCRIPTOR}")
    if existing is not None:
        # A crashed run wrote this version but not the pointer: adopt it if it is ours.
        earlier = json.loads(existing)
        if descriptor_content_hash(earlier) != package.content_hash:
            raise StoreError(
                f"{prefix}/{version}/ in {store.url} holds an unlisted version with other "
                "content; move it away or withdraw it before publishing"
            )
        created = earlier["created"]
    versioned = package.with_version(version, created)
    files = versioned.all_files()
    for filename, data in files.items():
        store.create(f"{prefix}/{version}/{filename}", data)
    for filename, data in files.items():
        store.write_if_changed(f"{prefix}/{LATEST}/{filename}", data)

    entry = {
        "version": version,
        "published": created,
        "status": "published",
        "content_hash": package.content_hash,
        "datapackage": f"{version}/{DESCRIPTOR}",
        "rows": package.rows,
        "files": {
            filename: {"bytes": len(data), "sha256": sha256(data)}
            for filename, data in files.items()
        },
    }
    history = {"dataset": name, "latest": version, "versions": [*versions, entry]}
    store.replace(f"{prefix}/{VERSIONS}", dump_json(history), etag)
    return Outcome(name, "published", version, previous_version, url, total_rows)


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
