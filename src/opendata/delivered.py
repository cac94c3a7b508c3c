"""What a run reads of the stewards' deliveries: the files a dataset is read from now.

Publishing needs only this much of opendata.deliveries (which receives, checks and publishes
deliveries, and so builds on publish and the catalog): the record of the current deliveries,
`_private/deliveries/current/<dataset>.json`, and the dataset loaded with them in place of the
repository's copies. Kept apart so that publish never imports the module that imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opendata.config import Settings
from opendata.definitions import Dataset, load_dataset
from opendata.errors import DefinitionError, StoreError
from opendata.layout import Deliveries
from opendata.package import DELIVERY_KEY
from opendata.storage import Store

RECORD_FORMAT = 1


class CurrentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery: str
    sha256: str
    file: str
    steward: str
    organisation: str
    delivered: str
    published: str
    version: str | None = None


class Current(BaseModel):
    """The delivered files a dataset is read from now, by declared source path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = RECORD_FORMAT
    dataset: str
    sources: dict[str, CurrentFile] = Field(default_factory=dict)


class Checked(Protocol):
    """A delivery being checked (deliveries.DeliveryRecord): read in place of its source."""

    @property
    def source(self) -> str: ...

    def provenance(self) -> dict[str, Any]: ...


def read_current(store: Store, dataset: str) -> tuple[Current, str | None]:
    found = store.read(Deliveries.current(dataset))
    if found is None:
        return Current(dataset=dataset), None
    try:
        return Current.model_validate_json(found[0]), found[1]
    except ValidationError as error:
        raise StoreError(
            f"{Deliveries.current(dataset)} in {store.url} is corrupt: {error.errors()[0]['msg']}"
        ) from None


def load_delivered(
    settings: Settings,
    store: Store,
    name: str,
    workspace: Path,
    extra: Sequence[Checked] = (),
) -> Dataset:
    """The dataset as a run reads it now: its current deliveries (and `extra`, deliveries being
    checked) in place of the repository's copies of those sources."""
    folder = settings.datasets_dir / name
    if not (folder / "dataset.yaml").is_file():
        raise DefinitionError(f"no dataset {name!r}: {folder}/dataset.yaml does not exist")
    current, _ = read_current(store, name)
    chosen: dict[str, dict[str, Any]] = {
        path: {
            "id": entry.delivery,
            "source": path,
            "file": entry.file,
            "steward": entry.steward,
            "organisation": entry.organisation,
            "delivered": entry.delivered,
            "sha256": entry.sha256,
        }
        for path, entry in current.sources.items()
    }
    for record in extra:
        chosen[record.source] = record.provenance()
    if not chosen:
        return load_dataset(folder, settings.schemas_dir)
    target = workspace / "delivered"
    target.mkdir(parents=True, exist_ok=True)
    delivered: dict[str, Path] = {}
    for path, provenance in sorted(chosen.items()):
        local = target / f"{provenance['sha256']}{PurePosixPath(path).suffix[:16]}"
        if not local.exists() and not store.download(Deliveries.file(provenance["sha256"]), local):
            raise StoreError(
                f"the delivered file {provenance['sha256']} ({provenance['file']}) for {name} "
                f"{path} is missing from {store.url}"
            )
        delivered[path] = local
    dataset = load_dataset(folder, settings.schemas_dir, delivered)
    sources = [
        {
            "title": f"Leverans: {provenance['file']}",
            "publisher": provenance["organisation"],
            "file": provenance["file"],
            DELIVERY_KEY: provenance,
        }
        for _, provenance in sorted(chosen.items())
    ]
    return dataset.model_copy(update={"deliveries": sources})
