"""Which datasets' derived files (latest copies, catalog, DCAT, pages) may lag their pointer.

A run marks a dataset before it changes what the derived files are built from (its pointer, its
`latest/` copies) and removes the mark once it has rebuilt them. A run killed in between leaves
its mark; because the mark records its owner (liveness.Owner), the next run of ANY dataset sees
that the owner is gone and repairs that dataset's derived files too. So a kill leaves readers a
mixed view only until the next run, and `opendata verify` names the datasets concerned.

Marks live in the store's private area, one object per run and dataset, so that runs never
contend for them: `_private/stale/<dataset>/<boot>-<pid>-<start>.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opendata import layout
from opendata.liveness import Owner, current_owner
from opendata.storage import Store

# A mark whose owner ran on another machine counts as dead after this long (its run would have
# rebuilt the derived files by then).
FOREIGN_MARK_AGE = timedelta(minutes=15)


@dataclass(frozen=True)
class Mark:
    key: str
    dataset: str
    owner: Owner | None
    since: str

    def dead(self, me: Owner, now: datetime) -> bool:
        """Whether the run that made the mark is gone without rebuilding the derived files (a
        mark without owner or time, mark_for_repair's, always is)."""
        if self.owner is None and not self.since:
            return True
        if self.owner == me:
            return False
        verdict = self.owner.alive() if self.owner is not None else None
        if verdict is not None:
            return not verdict
        try:
            moment = datetime.fromisoformat(self.since.replace("Z", "+00:00"))
        except ValueError:
            return True
        return now - moment > FOREIGN_MARK_AGE


def mark_key(dataset: str, owner: Owner) -> str:
    return layout.stale_key(dataset, f"{owner.boot or owner.host}-{owner.pid}-{owner.started or 0}")


def mark(store: Store, dataset: str, now: datetime | None = None) -> str:
    """Record that this run is about to change `dataset`'s pointer or latest copies."""
    owner = current_owner()
    key = mark_key(dataset, owner)
    if store.read(key) is None:
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        record = {
            "dataset": dataset,
            "owner": owner.to_record(),
            "since": moment.isoformat().replace("+00:00", "Z"),
        }
        store.create(key, json.dumps(record, sort_keys=True).encode("utf-8"))
    return key


def mark_for_repair(store: Store, dataset: str) -> None:
    """Record that `dataset`'s derived files lag its pointer and this run could not fix them
    (a `latest/` copy failed after versions.json named the new version): a mark without an
    owner, which every run counts as dead, so the next run of any dataset repairs them."""
    record = {"dataset": dataset, "owner": None, "since": "", "reason": "repair"}
    store.write_if_changed(layout.repair_key(dataset), json.dumps(record, sort_keys=True).encode())


def marks(store: Store) -> list[Mark]:
    """Every mark in the store (a few: one per run in progress or killed)."""
    found = []
    for key in store.list(layout.STALE):
        dataset = layout.dataset_of_mark(key)
        if dataset is None:
            continue
        raw = store.read_bytes(key)
        try:
            record = json.loads(raw or b"")
            owner = Owner.from_record(record.get("owner"))
            since = str(record.get("since", ""))
        except (ValueError, AttributeError):
            owner, since = None, ""
        found.append(Mark(key, dataset, owner, since))
    return found


def dead_marks(store: Store, now: datetime | None = None) -> list[Mark]:
    me = current_owner()
    moment = now or datetime.now(UTC)
    return [m for m in marks(store) if m.dead(me, moment)]


def own_marks(store: Store) -> list[Mark]:
    me = current_owner()
    return [m for m in marks(store) if m.owner == me]
