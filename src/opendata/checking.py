"""`opendata validate`'s work: one dataset collected and checked as a run would, nothing built
or published.

A dataset named is read as a run reads it, with its stewards' current deliveries in the store;
a dataset folder given by path is read as it stands (a steward trying a definition before it is
committed). The command only renders what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opendata.config import Settings
from opendata.definitions import Dataset, load_dataset
from opendata.errors import DefinitionError
from opendata.periods import stale_year_warnings
from opendata.preparing import collect_tables, discard_workspace, new_workspace
from opendata.storage import open_store
from opendata.validate import Report, validate_tables


@dataclass(frozen=True)
class Checked:
    """A dataset's verdict: its report, or why it was not collected (`skipped`)."""

    dataset: str
    report: Report | None
    skipped: str | None = None


def dataset_folder(settings: Settings, target: str) -> tuple[Path, bool]:
    """The folder `target` names (a dataset of the home, or a path) and whether it was named."""
    by_path = "/" in target or Path(target).is_dir()
    folder = Path(target) if by_path else settings.datasets_dir / target
    if not (folder / "dataset.yaml").is_file():
        raise DefinitionError(f"no dataset at {folder} (no dataset.yaml)")
    return folder, not by_path


def refers_to_other_datasets(dataset: Dataset) -> bool:
    """A `dataset` source may itself be collected from an API: ask for the client then too."""
    return any(
        getattr(source, "kind", None) == "dataset"
        for resource in dataset.definition.resources
        for source in resource.sources
    )


def check_dataset(settings: Settings, target: str, offline: bool = False) -> Checked:
    """Collect and validate the dataset `target` names, with the steward's warnings (years in
    a title that are not the data's); offline, one collected from a public API is skipped."""
    folder, by_name = dataset_folder(settings, target)
    dataset = load_dataset(folder, settings.schemas_dir)
    if offline and dataset.needs_remote:
        return Checked(dataset.name, None, "collected from a public API; --offline")
    remote = None
    if not offline and (dataset.needs_remote or refers_to_other_datasets(dataset)):
        from opendata.collect.remote import remote_sources

        remote = remote_sources(settings, open_store(settings.store_url))
    workspace = new_workspace(dataset.name)
    try:
        delivered_to = open_store(settings.store_url) if by_name else None
        if delivered_to is not None:
            # A dataset named is validated as a run reads it: with its stewards' deliveries.
            from opendata.delivered import load_delivered

            dataset = load_delivered(settings, delivered_to, dataset.name, workspace)
        tables = collect_tables(settings, dataset, remote, workspace=workspace, store=delivered_to)
        report = validate_tables(dataset.name, tables, scratch=workspace)
        report.warnings.extend(stale_year_warnings(dataset, tables))
    finally:
        discard_workspace(workspace)
    return Checked(dataset.name, report)
