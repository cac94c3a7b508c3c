"""A delivery's record: its state and history, kept beside the delivered file in the store's
private area, and changed only by compare-and-swap, so that two processes never lose each other's
transitions. The states are a typed Literal; the record has a format version (RECORD_FORMAT).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opendata.contention import PATIENCE
from opendata.delivered import RECORD_FORMAT, Current, read_current
from opendata.errors import (
    LostRace,
    OpendataError,
    StoreError,
)
from opendata.layout import Deliveries
from opendata.storage import Store

log = logging.getLogger("opendata.deliveries")
MAX_FILENAME = 255

DeliveryState = Literal[
    "received", "validating", "invalid", "ready", "unchanged", "published", "failed"
]
FINAL: tuple[DeliveryState, ...] = ("invalid", "unchanged", "published", "failed")
Via = Literal["page", "api", "inbox"]
ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$")
# A delivery that has been `validating` this long without a word lost its run (a crash).


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: DeliveryState
    at: str
    note: str | None = None


class DeliveryRecord(BaseModel):
    """One delivery as stored (and, but for `format` and `history`, as the API shows it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = RECORD_FORMAT
    id: str
    dataset: str
    state: DeliveryState
    source: str
    file: str
    bytes: int
    sha256: str
    steward: str
    organisation: str
    via: Via
    received: str
    updated: str
    message: str | None = None
    problems: list[dict[str, Any]] | None = None
    problem_count: int | None = None
    warnings: list[str] = Field(default_factory=list)
    version: str | None = None
    previous_version: str | None = None
    bump: str | None = None
    reason: str | None = None
    diff: dict[str, Any] | None = None
    rows: int | None = None
    error: str | None = None
    url: str | None = None
    page: str | None = None
    published: str | None = None
    publish_requested: str | None = None
    published_by: str | None = None
    together_with: list[str] = Field(default_factory=list)
    waiting: str | None = None
    history: list[Transition] = Field(default_factory=list)

    def provenance(self) -> dict[str, Any]:
        """What the package's sources and versions.json keep of it (state.Delivery)."""
        return {
            "id": self.id,
            "source": self.source,
            "file": self.file,
            "steward": self.steward,
            "organisation": self.organisation,
            "delivered": self.received,
            "sha256": self.sha256,
        }

    def public(self) -> dict[str, Any]:
        """The API's answer: the record without its storage details."""
        shown = self.model_dump(mode="json", exclude={"format", "history"})
        shown["history"] = [t.model_dump(mode="json", exclude_none=True) for t in self.history]
        return shown


# -- small helpers --------------------------------------------------------------------------------


def now_text(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_id(now: datetime | None = None) -> str:
    """Sortable by time of arrival, unguessable after it."""
    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(6)}"


def check_id(delivery_id: str) -> str:
    if not ID.match(delivery_id):
        raise DeliveryRefused(404, f"no delivery {delivery_id[:40]!r}")
    return delivery_id


def display_name(filename: str) -> str:
    """The name a steward's computer gave the file, for showing only: never a path. Folders a
    browser sent along, control and format characters (a right-to-left override) and surplus
    length go."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\u200e\u200f")
    name = re.sub(r"[\u202a-\u202e\u2066-\u2069]", "", name).strip()
    if len(name.encode("utf-8")) > MAX_FILENAME:
        stem, dot, suffix = name.rpartition(".")
        suffix = suffix[:16] if dot else ""
        name = (stem or name)[: MAX_FILENAME // 4] + (f".{suffix}" if suffix else "")
    return name or "namnlös"


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def dump_record(model: BaseModel) -> bytes:
    return (json.dumps(model.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n").encode()


# -- reading and writing records ------------------------------------------------------------------


def read_record(store: Store, dataset: str, delivery_id: str) -> tuple[DeliveryRecord, str] | None:
    found = store.read(Deliveries.record(dataset, check_id(delivery_id)))
    if found is None:
        return None
    try:
        return DeliveryRecord.model_validate_json(found[0]), found[1]
    except ValidationError as error:
        raise StoreError(
            f"{Deliveries.record(dataset, delivery_id)} in {store.url} is corrupt: "
            f"{error.errors()[0]['msg']}"
        ) from None


def find_record(store: Store, datasets: Iterable[str], delivery_id: str) -> DeliveryRecord | None:
    """The delivery with this id, among the datasets' (ids do not name their dataset)."""
    check_id(delivery_id)
    for dataset in datasets:
        found = read_record(store, dataset, delivery_id)
        if found is not None:
            return found[0]
    return None


def list_records(store: Store, dataset: str) -> list[DeliveryRecord]:
    """The dataset's deliveries, oldest first."""
    records = []
    for key in store.list(Deliveries.records(dataset)):
        delivery_id = PurePosixPath(key).stem
        if ID.match(delivery_id):
            found = read_record(store, dataset, delivery_id)
            if found is not None:
                records.append(found[0])
    return sorted(records, key=lambda r: r.id)


def change_record(
    store: Store,
    dataset: str,
    delivery_id: str,
    change: Callable[[DeliveryRecord], DeliveryRecord | None],
) -> DeliveryRecord | None:
    """Apply `change` to the stored record with a compare-and-swap; `change` returns None to
    leave it as it is (then None is returned: another process got there first)."""
    for _ in PATIENCE.attempts():
        found = read_record(store, dataset, delivery_id)
        if found is None:
            raise StoreError(f"delivery {delivery_id} of {dataset} is missing from {store.url}")
        record, etag = found
        changed = change(record)
        if changed is None:
            return None
        try:
            store.replace(Deliveries.record(dataset, delivery_id), dump_record(changed), etag)
        except LostRace:
            continue
        return changed
    raise StoreError(f"delivery {delivery_id} kept changing while we were updating it")


def moved(
    record: DeliveryRecord, state: DeliveryState, note: str | None = None, **changes: Any
) -> DeliveryRecord:
    when = now_text()
    history = [*record.history, Transition(state=state, at=when, note=note)]
    return record.model_copy(
        update={"state": state, "updated": when, "history": history, **changes}
    )


def ending(
    state: DeliveryState, **changes: Any
) -> Callable[[DeliveryRecord], DeliveryRecord | None]:
    """The change that moves a record to `state` with `changes`."""

    def change(record: DeliveryRecord) -> DeliveryRecord:
        return moved(record, state, **changes)

    return change


def update_current(store: Store, dataset: str, change: Callable[[Current], Current]) -> Current:
    for _ in PATIENCE.attempts():
        current, etag = read_current(store, dataset)
        changed = change(current)
        if changed == current:
            return current
        try:
            store.replace(Deliveries.current(dataset), dump_record(changed), etag)
        except LostRace:
            continue
        return changed
    raise StoreError(f"{Deliveries.current(dataset)} kept changing while we were updating it")


# -- errors a caller turns into an answer --------------------------------------------------------


class DeliveryRefused(OpendataError):
    """A delivery that is not taken: `status` is the HTTP status the API answers with."""

    exit_code = 2

    def __init__(self, status: int, message: str, declared: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.declared = list(declared)

    def __str__(self) -> str:
        return self.message
