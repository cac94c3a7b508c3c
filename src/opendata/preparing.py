"""A dataset made ready to publish, writing nothing to the store: its sources collected and
staged in a private workspace, validated against its schemas and, when valid, built as a
package on disk. `opendata publish` and the deliveries both start here; the publish protocol
(publish.py) takes the package on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opendata import scratch
from opendata.collect import collect_resource
from opendata.collect.core import RemoteFetcher
from opendata.config import Settings
from opendata.definitions import Dataset, load_dataset
from opendata.delivered import load_delivered
from opendata.errors import (
    DefinitionError,
    OpendataError,
)
from opendata.package import (
    BuiltPackage,
    build_package,
)
from opendata.state import read_history as read_history  # the one reader, also here
from opendata.storage import Store
from opendata.tables import Table, TableWriter
from opendata.validate import Report, validate_tables

# Progress a steward sees while a run works (the CLI shows it in a terminal; the flow's logs).
progress = logging.getLogger("opendata.progress")


class DatasetInvalid(OpendataError):
    """The dataset's data failed validation: nothing of it is published (exit code 1)."""

    exit_code = 1

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, problems or [])
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Prepared:
    """A collected and validated dataset; its staged tables and files live in `workspace`."""

    dataset: Dataset
    tables: list[Table]
    report: Report
    package: BuiltPackage | None
    workspace: Path

    def discard(self) -> None:
        """Remove the staged tables and files (call when the run is done with them)."""
        discard_workspace(self.workspace)


def new_workspace(name: str) -> Path:
    """A private folder for one dataset's staged tables, package files and sort spills.

    What killed runs left in TMPDIR is removed first (scratch.sweep), so kills do not pile up.
    """
    scratch.sweep()
    return scratch.new_folder(name)


def discard_workspace(workspace: Path) -> None:
    scratch.discard_folder(workspace)


def load(settings: Settings, name: str) -> Dataset:
    folder = settings.datasets_dir / name
    if not (folder / "dataset.yaml").is_file():
        raise DefinitionError(f"no dataset {name!r}: {folder}/dataset.yaml does not exist")
    return load_dataset(folder, settings.schemas_dir)


def collect_tables(
    settings: Settings,
    dataset: Dataset,
    remote: RemoteFetcher | None = None,
    refresh: bool = False,
    *,
    workspace: Path | None = None,
    store: Store | None = None,
) -> list[Table]:
    """Every resource of the dataset, collected and staged in `workspace` with their origins.

    Without a workspace, a new one is made that the caller owns (tests and small tools). With
    a `store`, another dataset this one reads from is read with its delivered files too.
    """
    if workspace is None:
        workspace = new_workspace(dataset.name)
    resolving: set[str] = set()
    staged: dict[tuple[str, str], Table] = {}

    def resolve(other: str, resource: str) -> Table:
        if (other, resource) in staged:
            return staged[(other, resource)]
        if other in resolving or other == dataset.name:
            raise DefinitionError(f"{dataset.definition_file}: dataset {other!r} refers to itself")
        resolving.add(other)
        target = load_current(settings, other, store, workspace)
        matches = [r for r in target.definition.resources if r.name == resource]
        if not matches:
            raise DefinitionError(
                f"{dataset.definition_file}: dataset {other!r} has no resource {resource!r}"
            )
        writer = TableWriter(
            resource,
            target.schemas[resource],
            workspace / "staged" / f"{other}--{resource}.parquet",
        )
        table = collect_resource(target, matches[0], resolve, writer, remote)
        resolving.discard(other)
        staged[(other, resource)] = table
        return table

    tables = []
    for resource in dataset.definition.resources:
        schema = dataset.schemas[resource.name]
        if refresh and resource.live:
            resource = resource.model_copy(update={"sources": list(resource.live)})
        writer = TableWriter(
            resource.name, schema, workspace / "staged" / f"{resource.name}.parquet"
        )
        tables.append(collect_resource(dataset, resource, resolve, writer, remote))
    return tables


def load_current(settings: Settings, name: str, store: Store | None, workspace: Path) -> Dataset:
    """The dataset as a run reads it: with a store, its stewards' current deliveries in place
    of the repository's copies of those sources (opendata.delivered)."""
    if store is None:
        return load(settings, name)
    return load_delivered(settings, store, name, workspace)


def prepare(
    settings: Settings,
    name: str,
    remote: RemoteFetcher | None = None,
    refresh: bool = False,
    store: Store | None = None,
) -> Prepared:
    """Collect and validate one dataset and, if it is valid, build its package on disk.

    With a `store`, the dataset is read with the files its stewards delivered there."""
    workspace = new_workspace(name)
    try:
        dataset = load_current(settings, name, store, workspace)
        return prepare_dataset(settings, dataset, remote, refresh, workspace=workspace, store=store)
    except BaseException:
        discard_workspace(workspace)
        raise


def prepare_dataset(
    settings: Settings,
    dataset: Dataset,
    remote: RemoteFetcher | None = None,
    refresh: bool = False,
    *,
    workspace: Path,
    store: Store | None = None,
) -> Prepared:
    """`prepare` for a dataset already loaded (with the deliveries being checked)."""
    name = dataset.name
    tables = collect_tables(settings, dataset, remote, refresh, workspace=workspace, store=store)
    for table in tables:
        progress.info("%s: %s, %s rows collected", name, table.name, f"{table.row_count:,}")
    report = validate_tables(dataset.name, tables, scratch=workspace)
    if report.valid:
        progress.info("%s: valid", name)
    else:
        progress.info("%s: invalid, %d problems", name, len(report.problems))
    package = (
        build_package(dataset, tables, report, workspace / "package") if report.valid else None
    )
    return Prepared(dataset, tables, report, package, workspace)


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
