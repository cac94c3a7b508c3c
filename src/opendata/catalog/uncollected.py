"""Datasets that are defined but have never been collected: what the index page says of them.

A dataset collected from a public API has no version until a run reaches that API: a fresh
install that publishes offline (`make run`), or one whose API was down at every run so far,
has nothing of it in the store. The index lists such a dataset as "Ännu inte insamlad / not
yet collected", with its title and description from its definition and why, instead of leaving
it out without a word.

catalog.json and the DCAT files are derived from published versions only, so such a dataset is
not in them (a dcat:Dataset needs distributions; catalog.json lists versions). The run that
skipped it writes a small record to the store's private area,
`_private/catalog/not-collected/<name>.json` (its title, description, the APIs it is collected
from and why it was not collected): the index is derived from the store alone, whichever
process rebuilds it (a run, a delivery, `opendata verify`), and a record of a dataset that
has a catalog entry by now is not shown. One file per dataset: runs of different datasets
never write the same record.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Literal, TypedDict

from opendata import layout
from opendata.definitions import REMOTE_KINDS, Dataset
from opendata.storage import Store

FORMAT = 1

Why = Literal["offline", "unreachable"]
# The public APIs as the index names them.
API_NAMES = {"kolada": "Kolada", "pxweb": "SCB (PxWeb)", "trafa": "Trafikanalys"}


class NotCollected(TypedDict):
    """What the index shows of a dataset that has no version yet."""

    name: str
    title: str
    title_en: str | None
    description: str
    description_en: str | None
    apis: list[str]  # the public APIs it is collected from, by name ("Kolada")
    why: Why  # `offline`: the last run asked no API; `unreachable`: its API did not answer


def record_key(name: str) -> str:
    return layout.not_collected_key(name)


def record_of(dataset: Dataset, why: Why) -> NotCollected:
    """The record of a dataset a run did not collect, from its definition."""
    definition = dataset.definition
    kinds = [
        source.kind
        for resource in definition.resources
        for source in [*resource.sources, *(resource.live or [])]
        if source.kind in REMOTE_KINDS
    ]
    return {
        "name": dataset.name,
        "title": definition.title.sv,
        "title_en": definition.title.en,
        "description": definition.description.sv,
        "description_en": definition.description.en,
        "apis": [API_NAMES.get(kind, kind) for kind in dict.fromkeys(kinds)],
        "why": why,
    }


def note(store: Store, record: NotCollected) -> bool:
    """Keep `record` for the index (rewritten only when it changed); True when written."""
    data = json.dumps({"format": FORMAT, **record}, ensure_ascii=False, sort_keys=True)
    return store.write_if_changed(record_key(record["name"]), (data + "\n").encode("utf-8"))


def recorded(store: Store) -> list[str]:
    """The names of the datasets that have a record, sorted."""
    names = []
    for key in store.list(layout.NOT_COLLECTED):
        file = key.removeprefix(f"{layout.NOT_COLLECTED}/")
        if "/" not in file and file.endswith(".json"):
            names.append(file.removesuffix(".json"))
    return sorted(names)


def forget(store: Store, names: Iterable[str]) -> list[str]:
    """Remove the records of `names` that exist; the names removed."""
    existing = set(recorded(store))
    gone = [name for name in names if name in existing]
    for name in gone:
        store.delete(record_key(name))
    return gone


def waiting(store: Store, listed: Collection[str]) -> list[NotCollected]:
    """The records of datasets not `listed` in the catalog, by name: what the index shows as
    not yet collected. A record that cannot be read is left out (the next run writes it anew)."""
    found: list[NotCollected] = []
    for name in recorded(store):
        if name in listed:
            continue
        raw = store.read_bytes(record_key(name))
        try:
            record = json.loads(raw) if raw else None
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                continue
            found.append(
                {
                    "name": str(record["name"]),
                    "title": str(record["title"]),
                    "title_en": _text(record.get("title_en")),
                    "description": str(record["description"]),
                    "description_en": _text(record.get("description_en")),
                    "apis": [str(api) for api in record["apis"]],
                    "why": "unreachable" if record["why"] == "unreachable" else "offline",
                }
            )
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _text(value: object) -> str | None:
    return None if value is None else str(value)
