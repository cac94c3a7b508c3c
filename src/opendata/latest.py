"""The stable `latest/` copies of a dataset: the latest version's files under one address
that does not change, the descriptor last, so that a reader who follows it finds every file it
names. Written by a publish after its pointer, cleared when no version is left, repaired by the
next run after a crash (the journal's mark says which).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from opendata import journal, layout
from opendata.errors import (
    StoreError,
)
from opendata.layout import CHANGES, DESCRIPTOR, VALIDATION
from opendata.package import (
    dump_json,
)
from opendata.state import (
    SemVer,
)
from opendata.state import read_history as read_history  # the one reader, also here
from opendata.storage import Store


def latest_descriptor(descriptor: dict[str, Any], base_url: str, name: str) -> bytes:
    """The stable latest descriptor: the version's, with absolute URLs to the version's files.

    It is one object that points only at immutable files, so whoever reads it gets one
    complete, consistent version, even while the `latest/` copies are being replaced.
    """
    version = descriptor["version"]
    stable = json.loads(json.dumps(descriptor))
    for resource in stable["resources"]:
        resource["path"] = base_url + layout.version_key(name, version, resource["path"])
    return dump_json(stable)


def update_latest(store: Store, name: str, version: SemVer | str, base_url: str) -> int:
    """Point the stable `latest/` URLs at `version`; returns the number of objects written.

    The per-file copies first, the descriptor last; a run that finds the descriptor already
    right writes nothing (the descriptor is written last, so the copies are right too).
    """
    raw = store.read_bytes(layout.version_key(name, version, DESCRIPTOR))
    if raw is None:
        raise StoreError(
            f"{layout.version_key(name, version, DESCRIPTOR)} is missing from {store.url}"
        )
    descriptor = json.loads(raw)
    stable = latest_descriptor(descriptor, base_url, name)
    if store.read_bytes(layout.latest_key(name, DESCRIPTOR)) == stable:
        return 0
    journal.mark(store, name)
    names = [r["path"] for r in descriptor["resources"]] + [VALIDATION, CHANGES]
    try:
        for filename in names:
            store.copy(
                layout.version_key(name, version, filename), layout.latest_key(name, filename)
            )
        store.write_if_changed(layout.latest_key(name, DESCRIPTOR), stable)
    except Exception:
        # The pointer names `version`, `latest/` does not yet: whichever run comes next (of
        # any dataset, this run's own catalog update first) copies again. (If even this mark
        # cannot be written, the store is failing: this run's catalog update fails too, and
        # its own mark stays for the next run.)
        with contextlib.suppress(Exception):
            journal.mark_for_repair(store, name)
        raise
    return len(names) + 1


def clear_latest(store: Store, name: str) -> None:
    """No version is left to point at (all withdrawn): the stable URLs answer 404."""
    keys = store.list(layout.latest_prefix(name))
    if keys:
        journal.mark(store, name)
    for key in keys:
        store.delete(key)


def repair_latest(store: Store, name: str, base_url: str) -> None:
    """Make the `latest/` copies follow the pointer again (after a run was killed mid-way)."""
    history, _ = read_history(store, name)
    if history.latest:
        update_latest(store, name, history.latest, base_url)
    elif history.versions:
        clear_latest(store, name)
