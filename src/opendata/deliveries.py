"""Deliveries: source files that stewards hand in, kept for good, checked, and published.

A delivery is one file for one declared source of one dataset. Its life:

    received → validating → invalid | unchanged | ready → published
                                   (or failed: something a steward cannot fix went wrong)

- **Kept.** The bytes are stored once, immutable and content-addressed by SHA-256, in the
  store's private area (`_private/deliveries/files/…`), with a record of who delivered them,
  when, from which file name and for which source (`_private/deliveries/records/<dataset>/<id>`).
  Nothing a steward delivered is ever deleted or overwritten. The same bytes delivered again for
  the same dataset and source are the earlier delivery: no new record, no new run, no version.
- **Read in place of the repository's copy.** A dataset's current source files are its latest
  published deliveries (`_private/deliveries/current/<dataset>.json`); every run (the schedule,
  `opendata publish`, a delivery's own check) reads those instead of the repository's copies,
  which are what a fresh store starts from.
- **Checked like any run.** A delivery is collected and validated with the dataset's other
  sources by the same functions as `opendata publish` (`preparing.prepare`), so its problems are
  `opendata validate`'s, word for word; a valid one gets the version, bump and diff a publish
  would make (a dry run of the publish protocol).
- **Published on request** (`publish_delivery`), or at once where the dataset's definition says
  `deliveries: {publish: automatic}`; the version records the deliveries it was made from.

Every record is replaced with a compare-and-swap, so two processes (the delivery app and a
Prefect worker) never both take one delivery through a step; two deliveries of one dataset are
serialised by the publish protocol's claims. All keys come from `layout.Deliveries`; what a
publish reads of the deliveries (the current ones, the dataset loaded with them) is in
opendata.delivered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from opendata import layout
from opendata.catalog import rebuild_catalog
from opendata.collect.core import RemoteFetcher
from opendata.config import Settings
from opendata.contention import PATIENCE, Patience
from opendata.definitions import Dataset, FileSource, load_dataset
from opendata.delivered import Current, CurrentFile, load_delivered, read_current
from opendata.delivery_records import (
    FINAL,
    DeliveryRecord,
    DeliveryRefused,
    DeliveryState,
    Transition,
    Via,
    change_record,
    display_name,
    dump_record,
    ending,
    file_sha256,
    find_record,
    list_records,
    moved,
    new_id,
    now_text,
    read_record,
    update_current,
)
from opendata.errors import (
    ConflictError,
    DefinitionError,
    InvalidSourceData,
    LostRace,
    OpendataError,
    SourceError,
)
from opendata.layout import Deliveries
from opendata.liveness import Owner, current_owner
from opendata.package import BuiltPackage
from opendata.periods import stale_year_warnings
from opendata.preparing import discard_workspace, new_workspace, prepare_dataset
from opendata.publish import Outcome, publish_package
from opendata.storage import Store

log = logging.getLogger("opendata.deliveries")

STALLED = timedelta(minutes=15)
INBOX_STEWARD = "inkorg"
MAX_PROBLEMS = 200  # listed on a delivery (all are counted), as validation.json lists 100 a kind


# -- which declared source a file is --------------------------------------------------------------


def declared_sources(dataset: Dataset) -> list[FileSource]:
    return [source for _, source in dataset.file_sources()]


def byte_limit(dataset: Dataset, source: str | None = None) -> int:
    """The most bytes a delivery may have: the declared source's `limits.bytes` (the largest of
    the dataset's file sources when the source is not known yet)."""
    sources = declared_sources(dataset)
    if source is not None:
        chosen = [s for s in sources if s.matches(source) is not None]
        sources = chosen or sources
    return max((s.limits.bytes for s in sources), default=0)


def match_source(dataset: Dataset, filename: str, source: str | None = None) -> str:
    """The declared source path a delivered file replaces (a concrete path for a pattern).

    With `source` it must be a declared path or match a declared pattern; without it the
    file's name picks the source whose file name it is (or whose pattern it matches), and a
    dataset with a single file source takes any file. DeliveryRefused(422) names the declared
    sources otherwise."""
    sources = declared_sources(dataset)
    declared = [s.path for s in sources]
    if not sources:
        raise DeliveryRefused(
            422, f"{dataset.name} has no file sources: it is collected from public APIs"
        )
    if source is not None:
        wanted = source.strip().lstrip("./")
        if not wanted.startswith("sources/") and "/" not in wanted:
            wanted = f"sources/{wanted}"
        for candidate in sources:
            if candidate.matches(wanted) is not None:
                return wanted
        raise DeliveryRefused(
            422,
            f"{source[:200]!r} is not a declared source of {dataset.name}; its sources: "
            + ", ".join(declared),
            declared,
        )
    name = display_name(filename)
    for candidate in sources:
        folder = PurePosixPath(candidate.path).parent.as_posix()
        concrete = f"{folder}/{name}" if folder != "." else name
        if candidate.matches(concrete) is not None:
            return concrete
    if len(sources) == 1 and sources[0].placeholder is None:
        return sources[0].path
    raise DeliveryRefused(
        422,
        f"{name!r} matches no declared source of {dataset.name}: name the file as one of "
        + ", ".join(declared)
        + ", or say which it replaces with the field `source`",
        declared,
    )


# -- receiving ------------------------------------------------------------------------------------


def receive(
    store: Store,
    dataset: Dataset,
    file: Path,
    filename: str,
    *,
    steward: str,
    organisation: str,
    via: Via,
    source: str | None = None,
    message: str | None = None,
    sha256: str | None = None,
) -> tuple[DeliveryRecord, bool]:
    """Keep a delivered file and its record; returns the record and whether it is new.

    The file must already be within the byte limit (the API refuses larger ones before they
    are stored). The same bytes for the same source as an earlier delivery are that delivery
    (False): nothing is stored twice and no run starts."""
    declared = match_source(dataset, filename, source)
    size = file.stat().st_size
    limit = byte_limit(dataset, declared)
    if size > limit:
        raise DeliveryRefused(
            413, f"the file is {size:,} bytes; {dataset.name} takes at most {limit:,} per file"
        )
    digest = sha256 or file_sha256(file)
    index = Deliveries.by_content(dataset.name, declared, digest)
    earlier = store.read_bytes(index)
    if earlier is not None:
        found = read_record(store, dataset.name, json.loads(earlier)["id"])
        if found is not None:
            return found[0], False
    note = " ".join((message or "").split())[:1000] or None
    when = now_text()
    record = DeliveryRecord(
        id=new_id(),
        dataset=dataset.name,
        state="received",
        source=declared,
        file=display_name(filename),
        bytes=size,
        sha256=digest,
        steward=steward,
        organisation=organisation,
        via=via,
        received=when,
        updated=when,
        message=note,
        history=[Transition(state="received", at=when)],
    )
    # The bytes first, then the record, then the index: a crash between leaves at most a file
    # kept twice over (the same key) or a delivery that the same bytes make again.
    store.create_file(Deliveries.file(digest), file)
    store.create(Deliveries.record(dataset.name, record.id), dump_record(record))
    store.create(index, json.dumps({"id": record.id}).encode())
    log.info("%s: delivery %s of %s by %s received", dataset.name, record.id, declared, steward)
    return record, True


# -- checking and publishing ----------------------------------------------------------------------


def _problems(prepared_report: Any) -> list[dict[str, Any]]:
    problems = []
    for problem in prepared_report.problems:
        row = asdict(problem)
        where_sv, where_en = problem.where()
        row["where_sv"], row["where_en"] = where_sv, where_en
        row["text"] = problem.explain()
        problems.append(row)
    return problems


def source_problem(error: OpendataError) -> dict[str, Any]:
    """A file that cannot be read at all, as one problem of the report."""
    text = str(error)
    return {
        "resource": None,
        "code": "source-error",
        "message": text,
        "message_sv": text,
        "message_en": text,
        "where_sv": "",
        "where_en": "",
        "text": text,
    }


def dataset_page(settings: Settings, name: str, version: str | None) -> str:
    page = settings.base_url + layout.dataset_page_key(name)
    return f"{page}#v{version}" if version else page


def check_batch(
    settings: Settings,
    store: Store,
    batch: Sequence[DeliveryRecord],
    remote: RemoteFetcher | None = None,
) -> list[DeliveryRecord]:
    """Collect and validate the dataset with the batch's files; each record ends `invalid`,
    `unchanged` or `ready` (a dry run of the publish says which version it would make), or
    `failed`. Deliveries of a source made stale by a later one in the batch end `failed`."""
    name = batch[0].dataset
    latest: dict[str, DeliveryRecord] = {}
    for record in batch:
        latest[record.source] = record
    chosen = list(latest.values())
    ids = [r.id for r in chosen]
    results: list[DeliveryRecord] = []
    for record in batch:
        if latest[record.source] is not record:
            newer = latest[record.source].id
            note = f"ersatt av leveransen {newer} / replaced by delivery {newer}"
            done = change_record(store, name, record.id, ending("failed", error=note))
            if done is not None:
                results.append(done)

    def dry_run(package: BuiltPackage) -> dict[str, Any]:
        dry = publish_package(store, package, settings.base_url, dry_run=True)
        return _dry_outcome(settings, dry) | {"rows": sum(package.rows.values())}

    outcome = _with_deliveries(settings, store, chosen, remote, dry_run)
    state = outcome.pop("state")
    for record in chosen:
        others = [i for i in ids if i != record.id]
        done = change_record(store, name, record.id, ending(state, together_with=others, **outcome))
        if done is not None:
            results.append(done)
    return results


def _with_deliveries(
    settings: Settings,
    store: Store,
    records: Sequence[DeliveryRecord],
    remote: RemoteFetcher | None,
    valid: Callable[[BuiltPackage], dict[str, Any]],
) -> dict[str, Any]:
    """Collect and validate the dataset with `records`' files; the outcome (a record's new
    `state` and what goes with it) is `valid(package)`'s for valid data, else the problems.
    Whatever goes wrong becomes an outcome: a delivery never stays `validating`."""
    name = records[0].dataset
    workspace = new_workspace(name)
    try:
        dataset = load_delivered(settings, store, name, workspace, records)
        prepared = prepare_dataset(settings, dataset, remote, workspace=workspace)
        # What the steward should correct that does not stop publishing (stale years).
        warnings = [w.explain() for w in stale_year_warnings(prepared.dataset, prepared.tables)]
        warnings += prepared.report.notes()  # rows left out as layout (blank, skip_rows)
        if prepared.package is None:
            report = prepared.report
            return {
                "state": "invalid",
                "problems": _problems(report)[:MAX_PROBLEMS],
                "problem_count": report.total,
                "warnings": warnings,
            }
        return valid(prepared.package) | {"warnings": warnings}
    except (SourceError, InvalidSourceData) as error:
        return {"state": "invalid", "problems": [source_problem(error)], "problem_count": 1}
    except OpendataError as error:
        return {"state": "failed", "error": str(error)}
    except Exception as error:  # a bug must not leave the delivery `validating` for ever
        log.exception("%s: deliveries %s failed", name, ", ".join(r.id for r in records))
        return {"state": "failed", "error": f"{type(error).__name__}: {error}"}
    finally:
        discard_workspace(workspace)


def _dry_outcome(settings: Settings, dry: Outcome) -> dict[str, Any]:
    if dry.status == "published":
        return {
            "state": "ready",
            "version": dry.version,
            "previous_version": dry.previous_version,
            "bump": dry.bump,
            "reason": dry.reason,
            "diff": dry.diff,
        }
    if dry.status == "unchanged":
        return {
            "state": "unchanged",
            "version": dry.version,
            "previous_version": dry.previous_version,
            "reason": (
                f"samma data som version {dry.version}; ingen ny version / the same data as "
                f"version {dry.version}; no new version"
            ),
            "page": dataset_page(settings, dry.dataset, dry.version),
        }
    # The data is that of a withdrawn version: not published again by a delivery.
    return {"state": "unchanged", "reason": dry.message, "version": dry.version}


def publish_batch(
    settings: Settings,
    store: Store,
    record: DeliveryRecord,
    remote: RemoteFetcher | None = None,
) -> list[DeliveryRecord]:
    """Publish a `ready` delivery (with the deliveries checked together with it) as the next
    version: the files become the dataset's current sources first, so that no later run reads
    the older ones, then the version is published and the catalog updated."""
    name = record.dataset
    together = [record]
    for other_id in record.together_with:
        found = read_record(store, name, other_id)
        if found is not None and found[0].state == "ready":
            together.append(found[0])
    when = now_text()
    message = record.message
    previous, _ = read_current(store, name)

    def current_with(current: Current) -> Current:
        sources = dict(current.sources)
        for delivered in together:
            sources[delivered.source] = CurrentFile(
                delivery=delivered.id,
                sha256=delivered.sha256,
                file=delivered.file,
                steward=delivered.steward,
                organisation=delivered.organisation,
                delivered=delivered.received,
                published=when,
            )
        return current.model_copy(update={"sources": sources})

    def publish(package: BuiltPackage) -> dict[str, Any]:
        update_current(store, name, current_with)
        try:
            done = publish_package(store, package, settings.base_url, message=message)
        except BaseException:
            # Not published: the dataset goes on being read from what it was read from.
            update_current(store, name, lambda _current: previous)
            raise
        rebuild_catalog(store, settings.base_url, [name])
        if done.status != "published":
            return _dry_outcome(settings, done)
        return {
            "state": "published",
            "version": done.version,
            "previous_version": done.previous_version,
            "url": done.url,
            "page": dataset_page(settings, name, done.version),
            "published": now_text(),
        }

    outcome = _with_deliveries(settings, store, together, remote, publish)
    state = outcome.pop("state")
    results = []
    for delivered in together:
        changed = change_record(store, name, delivered.id, lambda r: moved(r, state, **outcome))
        if changed is not None:
            results.append(changed)
    if state == "published":
        log.info("%s: %s published from delivery %s", name, outcome.get("version"), record.id)
    return results


def request_publish(
    store: Store, record: DeliveryRecord, by: str, message: str | None
) -> DeliveryRecord:
    """Mark a `ready` delivery to be published (the run does it); DeliveryRefused(409) when it
    is not ready."""
    note = " ".join((message or "").split())[:1000] or None

    def change(current: DeliveryRecord) -> DeliveryRecord | None:
        if current.state != "ready":
            raise DeliveryRefused(
                409,
                f"delivery {current.id} is {current.state}, not ready: only a checked, valid "
                "delivery is published",
            )
        if current.publish_requested is not None:
            return None
        return current.model_copy(
            update={
                "publish_requested": now_text(),
                "published_by": by,
                "message": note or current.message,
                "updated": now_text(),
            }
        )

    changed = change_record(store, record.dataset, record.id, change)
    if changed is None:
        found = read_record(store, record.dataset, record.id)
        assert found is not None
        return found[0]
    return changed


LEASE_STALE = timedelta(minutes=15)


@contextlib.contextmanager
def dataset_lease(store: Store, name: str, patience: Patience = PATIENCE) -> Iterator[None]:
    """One delivery run of a dataset at a time, across processes and machines: a lease object
    created with a compare-and-swap, holding its owner. A lease whose owner is gone (this
    machine can tell) or that is older than LEASE_STALE (a run on another machine) is taken
    over; otherwise the run waits for it, pausing as contention.py does."""
    key = Deliveries.lease(name)
    me = current_owner()
    mine = secrets.token_hex(8)
    data = json.dumps({"token": mine, "owner": me.to_record(), "taken": now_text()}).encode()
    for _attempt in patience.attempts():
        found = store.read(key)
        try:
            if found is None:
                store.replace(key, data, None)
                break
            if _lease_gone(found[0]):
                store.replace(key, data, found[1])
                break
        except LostRace:
            continue
    else:
        raise ConflictError(f"{name}: another delivery run kept the dataset for too long")
    try:
        yield
    finally:
        found = store.read(key)
        if found is not None and json.loads(found[0]).get("token") == mine:
            store.delete(key)


def _lease_gone(raw: bytes) -> bool:
    try:
        record = json.loads(raw)
        taken = datetime.fromisoformat(str(record["taken"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return True  # not a lease this code wrote: nothing holds it
    owner = Owner.from_record(record.get("owner"))
    alive = owner.alive() if owner is not None else None
    if alive is False:
        return True
    return datetime.now(UTC) - taken > LEASE_STALE


def process_dataset(
    settings: Settings,
    store: Store,
    name: str,
    remote: RemoteFetcher | None = None,
) -> list[DeliveryRecord]:
    """Everything waiting for a dataset's run: the received deliveries are checked together
    (and published at once where the definition says `publish: automatic`), and the ready ones
    whose publication was asked for are published. One run of a dataset at a time
    (`dataset_lease`), so two deliveries of one dataset are never interleaved."""
    with dataset_lease(store, name):
        return _process_dataset(settings, store, name, remote)


def _process_dataset(
    settings: Settings,
    store: Store,
    name: str,
    remote: RemoteFetcher | None = None,
) -> list[DeliveryRecord]:
    done: list[DeliveryRecord] = []
    records = list_records(store, name)
    # This run holds the dataset's lease: a delivery still `validating` belongs to a run that
    # died (a kill, a crash) and is checked again now.
    waiting = [r for r in records if r.state in ("received", "validating")]
    claimed = []
    for record in waiting:
        took = change_record(
            store,
            name,
            record.id,
            lambda r: (
                moved(r, "validating", waiting=None)
                if r.state in ("received", "validating")
                else None
            ),
        )
        if took is not None:
            claimed.append(took)
    if claimed:
        done.extend(check_batch(settings, store, claimed, remote))
    automatic = _automatic(settings, name)
    for record in list_records(store, name):
        if record.state == "ready" and (record.publish_requested or automatic):
            if automatic and record.publish_requested is None:
                record = request_publish(store, record, record.steward, None)
            done.extend(publish_batch(settings, store, record, remote))
    return done


def _automatic(settings: Settings, name: str) -> bool:
    try:
        dataset = load_dataset(settings.datasets_dir / name, settings.schemas_dir)
    except DefinitionError:
        return False
    return dataset.definition.deliveries.publish == "automatic"


def _stalled(
    record: DeliveryRecord, now: datetime | None = None, store: Store | None = None
) -> bool:
    """A delivery `validating` whose run died (a kill, a crash): no run holds its dataset's
    lease (a live run holds it until its deliveries are done), or it has been quiet for long."""
    if record.state != "validating":
        return False
    if store is not None:
        lease = store.read(Deliveries.lease(record.dataset))
        if lease is None or _lease_gone(lease[0]):
            return True
    updated = datetime.fromisoformat(record.updated.replace("Z", "+00:00"))
    return (now or datetime.now(UTC)) - updated > STALLED


def pending_datasets(store: Store, names: Iterable[str], stuck_only: bool = False) -> list[str]:
    """The datasets with deliveries waiting for a run (to start after a restart or an outage).

    `stuck_only`: only those whose run could not be asked for (`waiting`: Prefect did not
    answer) or has not moved them for STALLED (a run that crashed or never came)."""
    now = datetime.now(UTC)
    waiting = []
    for name in names:
        for record in list_records(store, name):
            due = record.state == "received" or (
                record.state == "ready" and record.publish_requested is not None
            )
            if stuck_only:
                updated = datetime.fromisoformat(record.updated.replace("Z", "+00:00"))
                quiet = now - updated > STALLED
                due = (due and (record.waiting is not None or quiet)) or _stalled(
                    record, now, store
                )
            else:
                due = due or _stalled(record, now, store)
            if due:
                waiting.append(name)
                break
    return waiting


def mark_waiting(store: Store, name: str, note: str) -> None:
    """Say on every delivery still waiting for its run why it has not started (Prefect does
    not answer): the delivery is kept and starts when it does."""
    for record in list_records(store, name):
        if record.state == "received" or (record.state == "ready" and record.publish_requested):
            change_record(
                store,
                name,
                record.id,
                lambda r: r.model_copy(update={"waiting": note}) if r.waiting != note else None,
            )


def clear_waiting(store: Store, name: str) -> None:
    for record in list_records(store, name):
        if record.waiting is not None:
            change_record(
                store,
                name,
                record.id,
                lambda r: r.model_copy(update={"waiting": None}) if r.waiting else None,
            )


__all__ = [
    "FINAL",
    "Current",
    "DeliveryRecord",
    "DeliveryRefused",
    "DeliveryState",
    "byte_limit",
    "check_batch",
    "find_record",
    "list_records",
    "match_source",
    "process_dataset",
    "publish_batch",
    "read_current",
    "receive",
    "request_publish",
]


def outcome_markdown(records: Sequence[DeliveryRecord]) -> str:
    """A delivery run's outcome for the Prefect UI (the run's artifact): one section per
    delivery, its problems as sentences (Swedish, then English), text from the file escaped."""
    lines = ["# Leveranser / Deliveries", ""]
    for record in records:
        lines.append(
            f"## {_md(record.file)} · {_md(record.dataset)} · {record.state}"
            + (f" {record.version}" if record.version else "")
        )
        lines.append("")
        lines.append(
            f"Levererad av {_md(record.steward)} ({_md(record.organisation)}) {record.received}"
            f", SHA-256 `{record.sha256}`"
        )
        lines.append("")
        if record.reason:
            lines.extend([_md(record.reason), ""])
        if record.error:
            lines.extend([_md(record.error), ""])
        for problem in (record.problems or [])[:50]:
            where = problem.get("cell") or (f"rad {problem['row']}" if problem.get("row") else "")
            sv = problem.get("message_sv") or problem.get("message") or ""
            en = problem.get("message_en") or problem.get("message") or ""
            lines.append(f"- **{_md(where)}** {_md(sv)}  \n  *{_md(en)}*")
        if record.problems:
            lines.append("")
    return "\n".join(lines)


def _md(text: object) -> str:
    """Text from a file as literal Markdown: every character Markdown or HTML would read
    escaped, on one line."""
    value = " ".join(str(text).split())
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>&~])", r"\\\1", value)
