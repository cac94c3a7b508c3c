"""The publish protocol: a prepared package (preparing.py) written as an immutable version.

A run reads the dataset's pointer (versions.json) and `decide`s, writing nothing: the data is
`Unchanged` (the latest version's), a `WithdrawnMatch` (a withdrawn version's: not published
again unless asked), a `LiveClaim` (another live run is publishing: wait, read again) or
`Publish`, whose `choose_version` names the next version and why. Publishing then writes, in
this order (quilt3's model: immutable files first, the pointer that makes them visible later):

1. the journal mark `_private/stale/<name>/<run>.json` (journal.py: derived files may lag);
2. the claim: a pending entry for the version in versions.json (compare-and-swap), dead runs'
   claims marked abandoned; then the files those left under their version folders are removed;
3. every file of the version under its own prefix, never overwriting: the tables and
   validation.json, then changes.json, the descriptor datapackage.json last;
4. the pointer: the claim becomes a published version (compare-and-swap again), the abandoned
   entries whose files are gone leave it;
5. the stable `latest/` copies, the descriptor last (update_latest).

The run's catalog update (catalog/build.py) then rebuilds catalog.json, the DCAT files and the
pages, and removes the mark. A crash before step 4 leaves what readers see exactly as before (a
re-run takes over its claim and writes the same bytes); one after it leaves the mark, so the
next run of any dataset brings the `latest/` copies and the derived files up to date. The keys
are layout.py's.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from opendata import journal, layout, termination
from opendata.contention import PATIENCE
from opendata.diffing import diff
from opendata.engine.outputs import WrittenFile
from opendata.errors import (
    ConflictError,
    DefinitionError,
    LostRace,
    StoreError,
    Terminated,
)
from opendata.latest import clear_latest, update_latest
from opendata.layout import CHANGES, DESCRIPTOR
from opendata.liveness import Owner, current_owner
from opendata.package import (
    DELIVERY_KEY,
    BuiltPackage,
    dump_json,
    sha256,
)
from opendata.state import (
    CLAIMED,
    Claim,
    Delivery,
    FileRecord,
    History,
    Release,
    SemVer,
    Status,
    VersionEntry,
    claims,
    newest_published,
)
from opendata.state import read_history as read_history  # the one reader, also here
from opendata.storage import Store
from opendata.versioning import Bump, Changes, larger, next_version

# Progress a steward sees while a run works (the CLI shows it in a terminal; the flow's logs).
progress = logging.getLogger("opendata.progress")
MAX_CONFLICTS = 5  # attempts when a conflict is not a lost race (LostRace is retried)
# A claim older than this with no published version behind it belongs to a run that died.
STALE_CLAIM = timedelta(minutes=15)
# How long a publisher waits for another run's claim on the same dataset before giving up.
WAIT_FOR_OTHERS = timedelta(seconds=30)


# `withdrawn`: the data is that of a withdrawn version (`withdrawn_version`), so it was not
# published again (a success, exit code 0: the steward withdrew it on purpose;
# `republish=True` publishes it); `version` stays the latest, as for `unchanged`.
OutcomeStatus = Literal["published", "unchanged", "skipped", "invalid", "failed", "withdrawn"]
# A steward's message on a version: one line, this long at most.
MESSAGE_CHARS = 1000


@dataclass
class Outcome:
    """What happened to one dataset in a run: the `--json` contract's object.

    For a version published (or, in a dry run, the one that would be): `bump` is the bump made,
    `required_bump` the one the changes need and `reason` why ('minor: rows added; also values
    changed (patch)'); a dry run also returns `diff`, the record changes.json would hold (the
    first rows of each resource with their cells old → new, counts for the rest). A
    `withdrawn` outcome names the withdrawn version its data equals (`withdrawn_version`, and
    why it was withdrawn); its `version` is the latest, which stays. A dataset `skipped`
    because a public API could not be reached names that source in `unreachable` (exit code
    3; `message` says what failed).
    """

    dataset: str
    status: OutcomeStatus
    version: str | None = None
    previous_version: str | None = None
    url: str | None = None
    rows: int | None = None
    message: str | None = None
    dry_run: bool = False
    changes: str | None = None
    exit_code: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    bump: Bump | None = None
    required_bump: Bump | None = None
    reason: str | None = None
    diff: dict[str, Any] | None = None
    withdrawn_version: str | None = None
    withdrawn_reason: str | None = None
    unreachable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def skipped(store: Store, name: str, base_url: str, reason: str) -> Outcome:
    """A dataset not collected in this run: its last published version stays latest."""
    history, _ = read_history(store, name)
    latest = str(history.latest) if history.latest else None
    url = base_url + layout.version_key(name, latest, DESCRIPTOR) if latest else None
    return Outcome(name, "skipped", latest, latest, url, message=reason)


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def load_version(
    store: Store, name: str, version: SemVer | str, folder: Path
) -> tuple[dict[str, Any], dict[str, Path]]:
    """A published version's descriptor and its CSV files, downloaded into `folder` (diffs)."""
    raw = store.read_bytes(layout.version_key(name, version, DESCRIPTOR))
    if raw is None:
        raise StoreError(
            f"{layout.version_key(name, version, DESCRIPTOR)} is missing from {store.url}"
        )
    descriptor = json.loads(raw)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for resource in descriptor.get("resources", []):
        if resource.get("format") == "csv":
            target = folder / Path(resource["path"]).name
            key = layout.version_key(name, version, resource["path"])
            if not store.download(key, target):
                raise StoreError(f"{key} is missing from {store.url}")
            files[resource["path"]] = target
    return descriptor, files


def read_changes(store: Store, name: str, version: SemVer | str) -> dict[str, Any] | None:
    """A version's changes.json (None when it is gone or not a JSON object: files deleted on
    withdrawal, or a store that never had one)."""
    raw = store.read_bytes(layout.version_key(name, version, CHANGES))
    try:
        record = json.loads(raw) if raw is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def publish_package(
    store: Store,
    package: BuiltPackage,
    base_url: str,
    *,
    bump: Bump | None = None,
    dry_run: bool = False,
    message: str | None = None,
    republish: bool = False,
    now: datetime | None = None,
    stale_after: timedelta = STALE_CLAIM,
    wait_for_others: timedelta = WAIT_FOR_OTHERS,
) -> Outcome:
    """Publish one validated package as a new immutable version, or report it unchanged.

    `message` is the steward's word on why the version is made: it is kept in versions.json,
    changes.json, the catalog, the page and the DCAT version's notes. Data equal to a withdrawn
    version's is not published again (status `withdrawn`, saying which version and why) unless
    `republish` asks for it: then it becomes a new version like any other change.

    A pointer conflict (another publisher moved versions.json between our read and our write)
    is retried on top of the other's work, for as long as others make progress (LostRace);
    while another live run holds a claim on this dataset we wait for it (up to
    `wait_for_others`), then publish on top of its version or give up with PublishInProgress,
    a ConflictError (exit 3).
    """
    note = check_message(message)
    deadline = time.monotonic() + wait_for_others.total_seconds()
    patience_ends = time.monotonic() + PATIENCE.seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            return _publish_attempt(
                store, package, base_url, bump, dry_run, now, stale_after, note, republish
            )
        except PublishInProgress:
            # Another run is publishing this dataset: wait for it, then publish on top of it.
            if time.monotonic() > deadline:
                raise
            time.sleep(min(0.1 * 2**attempt, 2.0))
        except LostRace:
            # The pointer moved between our read and our write: another run got on, so read
            # it again and publish on top (contention.py: as long as others make progress).
            if time.monotonic() > patience_ends:
                raise
            time.sleep(PATIENCE.pause(attempt))
        except ConflictError:
            # Another's file where ours would go: read again a few times (a dead run's claim
            # may give way), then report it rather than wait on what will not change.
            if attempt >= MAX_CONFLICTS:
                raise


def check_message(message: str | None) -> str | None:
    """A steward's message as it is kept: on one line (whitespace runs as one space), or None
    when empty; DefinitionError (exit 2) when it is too long to be a note."""
    if message is None:
        return None
    text = " ".join(message.split())
    if len(text) > MESSAGE_CHARS:
        raise DefinitionError(
            f"the message is {len(text)} characters; say why the version was made in at most "
            f"{MESSAGE_CHARS} (the details are in its changes)"
        )
    return text or None


def withdrawn_match(versions: list[VersionEntry], content_hash: str) -> Release | None:
    """The withdrawn version whose data this is, unless a later published version has the same
    data (a steward republished it: the withdrawal no longer stands for it)."""
    same = [v for v in versions if isinstance(v, Release) and v.content_hash == content_hash]
    newest = max(same, key=lambda v: v.version, default=None)
    return newest if newest is not None and newest.status is Status.WITHDRAWN else None


def delivered_from(package: BuiltPackage) -> list[Delivery]:
    """The steward deliveries a package was made from (its sources say so)."""
    sources = package.descriptor.get("sources") or []
    return [
        Delivery.model_validate(source[DELIVERY_KEY])
        for source in sources
        if isinstance(source, dict) and DELIVERY_KEY in source
    ]


def withdrawn_message(name: str, tombstone: Release, latest: Release | None) -> str:
    """What a steward reads when the data is a withdrawn version's: which, when, why, and how
    to publish it anyway."""
    withdrawn = tombstone.withdrawn or ""
    when = f"{withdrawn[:10]} {withdrawn[11:16]} UTC" if len(withdrawn) >= 16 else withdrawn
    latest_is = f"latest is {latest.version}" if latest else "no version is published"
    return (
        f"not published: the data equals {tombstone.version}, which was withdrawn {when} "
        f"(reason: {tombstone.reason}); {latest_is}. To publish it anyway as a new version: "
        f"opendata publish {name} --republish"
    )


# -- the decision: pure, from the pointer's entries and the package's hash ---------------------


@dataclass(frozen=True)
class Unchanged:
    """The latest published version holds this data: nothing to publish."""

    latest: Release


@dataclass(frozen=True)
class WithdrawnMatch:
    """The data is that of a withdrawn version: not published again (unless `republish`)."""

    tombstone: Release
    latest: Release | None


@dataclass(frozen=True)
class LiveClaim:
    """Another live run holds a claim on this dataset: wait for it, then decide again."""

    claim: Claim


@dataclass(frozen=True)
class NextVersion:
    """Publish `version` (claimed at `claimed`), the bump `applied` because `reason`."""

    version: SemVer
    claimed: str
    applied: Bump | None  # None for the first version
    required: Bump | None  # the bump the changes need (None for the first version)
    reason: str


@dataclass(frozen=True)
class Publish:
    """The data is new: publish it on top of `latest`. `resumed` is a claim on the same data
    this run takes over (its own, or a dead run's: its files are ours byte for byte);
    `displaced` are the claims of dead runs (and entries an older release marked abandoned),
    whose version numbers are free and whose partial files go once our claim stands."""

    latest: Release | None
    resumed: Claim | None
    displaced: list[VersionEntry]
    numbered: list[SemVer]  # the version numbers taken: the next one comes after them

    def choose_version(
        self, changes: Changes | None, bump: Bump | None, moment: datetime
    ) -> NextVersion:
        """The version to publish and why, given the changes from `latest` (None: the first)."""
        required: Bump = changes.required_bump if changes else "patch"
        if self.resumed is not None:
            version, claimed = self.resumed.version, self.resumed.claimed
        else:
            version = next_version(max(self.numbered, default=None), required, bump)
            claimed = timestamp(moment)
        applied: Bump | None = None
        if self.latest is not None:
            applied = required if bump is None else larger(required, bump)
        return NextVersion(
            version,
            claimed,
            applied,
            required if changes else None,
            changes.why(bump) if changes else "first version",
        )


Decision = Unchanged | WithdrawnMatch | LiveClaim | Publish


def decide(
    versions: list[VersionEntry],
    content_hash: str,
    me: Owner,
    live: Collection[SemVer],
    republish: bool = False,
) -> Decision:
    """What to do with data of `content_hash`, given the pointer's entries and which pending
    claims belong to runs still alive (`live`, their version numbers). Pure: reads nothing."""
    latest = newest_published(versions)
    if latest is not None and latest.content_hash == content_hash:
        return Unchanged(latest)
    tombstone = None if republish else withdrawn_match(versions, content_hash)
    if tombstone is not None:
        return WithdrawnMatch(tombstone, latest)
    pending = [v for v in claims(versions) if v.status is Status.PENDING]
    alive = [v for v in pending if v.version in live]
    resumed = next(
        (
            v
            for v in pending
            if v.content_hash == content_hash and (v not in alive or _owned(v, me))
        ),
        None,
    )
    others = [v for v in alive if v is not resumed]
    if others:
        return LiveClaim(others[0])
    displaced = [v for v in versions if v is not resumed and v.status in CLAIMED]
    numbered = [v.version for v in versions if v not in displaced]
    return Publish(latest, resumed, displaced, numbered)


# -- the protocol: read, decide, then claim, write and commit ----------------------------------


def _publish_attempt(
    store: Store,
    package: BuiltPackage,
    base_url: str,
    bump: Bump | None,
    dry_run: bool,
    now: datetime | None,
    stale_after: timedelta,
    message: str | None = None,
    republish: bool = False,
) -> Outcome:
    name = package.name
    history, etag = read_history(store, name)
    versions = history.versions
    moment = now or datetime.now(UTC)
    me = current_owner()
    live = [
        v.version
        for v in claims(versions)
        if v.status is Status.PENDING and claim_live(v, me, moment, stale_after)
    ]
    decision = decide(versions, package.content_hash, me, live, republish)
    rows = sum(package.rows.values())
    if isinstance(decision, Unchanged):
        same = str(decision.latest.version)
        if not dry_run:
            update_latest(store, name, decision.latest.version, base_url)
        url = base_url + layout.version_key(name, same, DESCRIPTOR)
        return Outcome(name, "unchanged", same, same, url, rows, dry_run=dry_run)
    if isinstance(decision, WithdrawnMatch):
        return _withdrawn_outcome(name, decision, base_url, dry_run)
    if isinstance(decision, LiveClaim):
        other = decision.claim
        raise PublishInProgress(
            f"{name}: version {other.version} is being published by another run "
            f"(claimed {other.claimed}); nothing published, try again when it has finished"
        )

    latest = decision.latest
    previous = str(latest.version) if latest else None
    changes = _changes_since(store, package, latest)
    chosen = decision.choose_version(changes, bump, moment)
    version = chosen.version
    url = base_url + layout.version_key(name, version, DESCRIPTOR)
    summary = changes.summary() if changes else "first version"
    change_record = (changes or Changes([], [])).to_dict(
        previous, str(version), chosen.applied, message
    )
    if changes is None:
        change_record["resources"] = [
            {"name": name_, "status": "added", "rows_added": count}
            for name_, count in package.rows.items()
        ]
    if dry_run:
        return Outcome(
            name,
            "published",
            str(version),
            previous,
            url,
            rows,
            dry_run=True,
            changes=summary,
            bump=chosen.applied,
            required_bump=chosen.required,
            reason=chosen.reason,
            diff=change_record,
        )

    termination.check()
    journal.mark(store, name, moment)
    try:
        history, etag, cleared = _claim(store, package, history, etag, decision, chosen, me)
        files = _write_version(store, package, chosen, change_record)
        release = Release(
            version=version,
            status=Status.PUBLISHED,
            published=chosen.claimed,
            content_hash=package.content_hash,
            datapackage=layout.descriptor_path(version),
            bump=chosen.applied,
            summary=summary,
            message=message,
            rows=dict(package.rows),
            files={f: _file_record(d) for f, d in files.items()},
            deliveries=delivered_from(package) or None,
        )
        history = _commit(store, name, history, etag, release, cleared)
    except Terminated:
        # SIGTERM before the pointer was written (in this thread, or asynchronously in the
        # main one): nobody reads this version; let go of it at once. After the pointer
        # (release_claim finds it published) the version stays, and so does the journal mark:
        # the next run rebuilds the derived files.
        release_claim(store, name, version, me)
        raise

    # An upload of this version that failed and whose abort failed too (an outage the retries
    # outlived) would stay incomplete in the bucket: none can be live now, the version is ours.
    store.discard_unfinished(layout.version_prefix(name, version))

    # 4. The stable latest URLs (the catalog and pages are rebuilt after all datasets).
    if history.latest == version:
        update_latest(store, name, version, base_url)
    note = None
    if changes is not None and any(r.rows_removed for r in changes.resources):
        note = f"note: rows that {previous} had are gone in {version} ({summary})"
    return Outcome(
        name,
        "published",
        str(version),
        previous,
        url,
        rows,
        note,
        changes=summary,
        bump=chosen.applied,
        required_bump=chosen.required,
        reason=chosen.reason,
    )


def _withdrawn_outcome(
    name: str, decision: WithdrawnMatch, base_url: str, dry_run: bool
) -> Outcome:
    latest, tombstone = decision.latest, decision.tombstone
    previous = str(latest.version) if latest else None
    return Outcome(
        name,
        "withdrawn",
        previous,
        previous,
        base_url + layout.version_key(name, previous, DESCRIPTOR) if previous else None,
        sum(latest.rows.values()) if latest else None,  # the rows of the version that stays
        withdrawn_message(name, tombstone, latest),
        dry_run=dry_run,
        withdrawn_version=str(tombstone.version),
        withdrawn_reason=tombstone.reason,
    )


def _changes_since(store: Store, package: BuiltPackage, latest: Release | None) -> Changes | None:
    """What changed from the latest published version (None when there is none)."""
    if latest is None:
        return None
    previous_folder = package.folder.parent / f"previous-{latest.version}"
    try:
        old_descriptor, old_files = load_version(
            store, package.name, latest.version, previous_folder
        )
        new_files = {path: file.path for path, file in package.files.items()}
        return diff(
            old_descriptor, old_files, package.descriptor, new_files, scratch=package.folder
        )
    finally:
        shutil.rmtree(previous_folder, ignore_errors=True)


def _claim(
    store: Store,
    package: BuiltPackage,
    history: History,
    etag: str | None,
    decision: Publish,
    chosen: NextVersion,
    me: Owner,
) -> tuple[History, str | None, set[SemVer]]:
    """1. Claim the version number in the pointer (compare-and-swap): it is ours alone. A
    claim taken over keeps its time; the entries displaced stay listed as abandoned until
    their files are gone, which happens right after. Returns the pointer, its etag and the
    versions whose files were cleared."""
    name, version, resumed = package.name, chosen.version, decision.resumed
    ours = Claim(
        version=version,
        status=Status.PENDING,
        content_hash=package.content_hash,
        claimed=chosen.claimed,
        owner=me,
    )
    displaced = decision.displaced
    entries: list[VersionEntry] = [
        v.model_copy(update={"status": Status.ABANDONED}) if v in displaced else v
        for v in history.versions
        if v is not resumed and not (v in displaced and v.version == version)
    ]
    entries.append(ours)
    history = history.model_copy(update={"versions": entries})
    etag = store.replace(layout.versions_key(name), history.dump(), etag)
    cleared = _clear_displaced(store, name, [v.version for v in displaced])
    store.discard_unfinished(layout.version_prefix(name, version))
    return history, etag, cleared


def _write_version(
    store: Store, package: BuiltPackage, chosen: NextVersion, change_record: dict[str, Any]
) -> dict[str, WrittenFile | bytes]:
    """2. Every file of the version, never overwriting: the data and validation.json, then
    changes.json, the descriptor last. `created` is the claim's time, so a re-run after a
    crash writes byte-identical files. Returns every file written."""
    name, version = package.name, chosen.version
    versioned = package.with_version(str(version), chosen.claimed)
    small = {CHANGES: dump_json(change_record), DESCRIPTOR: versioned.descriptor_bytes()}
    for filename, written in package.files.items():
        termination.check()
        store.create_file(layout.version_key(name, version, filename), written.path)
    for filename, data in small.items():
        termination.check()
        store.create(layout.version_key(name, version, filename), data)
    termination.check()
    return {**package.files, **small}


def _commit(
    store: Store,
    name: str,
    history: History,
    etag: str | None,
    release: Release,
    cleared: set[SemVer],
) -> History:
    """3. The pointer: the claim becomes a published version (compare-and-swap again), and
    the abandoned entries whose files were cleared leave it."""
    entries = [
        release if v.version == release.version else v
        for v in history.versions
        if not (v.status is Status.ABANDONED and v.version in cleared)
    ]
    history = history.with_versions(entries)
    store.replace(layout.versions_key(name), history.dump(), etag)
    return history


def release_claim(store: Store, name: str, version: SemVer, me: Owner) -> bool:
    """Give up our claim on `version` of `name` (a run stopping before its pointer): remove the
    version's files, then the claim from versions.json (compare-and-swap), so that the next run
    here or on any machine publishes at once. Nothing happens when the entry is no longer our
    pending claim (the pointer already published it: it stays). Returns whether it was
    released; a store that fails here leaves the claim to the liveness check (its owner, this
    process, is gone once it exits), and the failure is logged."""
    try:
        history, etag = read_history(store, name)
        ours = next(
            (v for v in claims(history.versions) if v.version == version and _owned(v, me)),
            None,
        )
        if ours is None or ours.status is not Status.PENDING:
            return False
        _clear_displaced(store, name, [version])
        entries = [v for v in history.versions if v is not ours]
        store.replace(
            layout.versions_key(name), history.model_copy(update={"versions": entries}).dump(), etag
        )
    except Exception as error:
        progress.warning("%s: claim on %s not released: %s", name, version, error)
        return False
    progress.info("%s: stopped; claim on %s released", name, version)
    return True


def claim_live(claim: Claim, me: Owner, moment: datetime, stale: timedelta) -> bool:
    """Whether the run that made this claim may still be writing its version."""
    owner = claim.owner
    if owner == me:
        return True
    verdict = owner.alive() if owner is not None else None
    if verdict is not None:
        return verdict
    return moment - _parse_time(claim.claimed) < stale


def _owned(claim: Claim, me: Owner) -> bool:
    return claim.owner == me


def _clear_displaced(store: Store, name: str, versions: list[SemVer]) -> set[SemVer]:
    """Remove what dead runs wrote under the version folders they had claimed: those versions
    were never published, so no reader may find their partial files. Returns the versions
    cleared (their entries can then leave the pointer)."""
    cleared = set()
    for version in versions:
        folder = layout.version_prefix(name, version)
        store.discard_unfinished(folder)
        for key in store.list(folder):
            store.delete(key)
        cleared.add(version)
    return cleared


def _file_record(file: WrittenFile | bytes) -> FileRecord:
    if isinstance(file, bytes):
        return FileRecord(bytes=len(file), sha256=sha256(file))
    return FileRecord(bytes=file.bytes, sha256=file.sha256)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class PublishInProgress(ConflictError):
    """Another live run holds the claim on the next version of this dataset."""


def withdraw(
    store: Store,
    name: str,
    version: str,
    reason: str,
    base_url: str,
    *,
    delete_files: bool = False,
    now: datetime | None = None,
) -> Release:
    """Mark a version withdrawn (a tombstone with the reason) and move latest back."""
    history, etag = read_history(store, name)
    entry = history.entry(version)
    if entry is None:
        raise DefinitionError(f"{name} has no version {version} in {store.url}")
    if not isinstance(entry, Release) or entry.status is not Status.PUBLISHED:
        raise DefinitionError(f"{name} {version} is {entry.status}, not published")
    if not reason.strip():
        raise DefinitionError("withdraw needs a --reason that tells users why")
    tombstone = entry.model_copy(
        update={
            "status": Status.WITHDRAWN,
            "withdrawn": timestamp(now),
            "reason": reason.strip(),
            "files_deleted": delete_files,
        }
    )
    journal.mark(store, name, now)
    updated = history.with_versions([tombstone if v is entry else v for v in history.versions])
    store.replace(layout.versions_key(name), updated.dump(), etag)
    if updated.latest is not None:
        update_latest(store, name, updated.latest, base_url)
    else:
        clear_latest(store, name)
    if delete_files:
        for key in store.list(layout.version_prefix(name, version)):
            store.delete(key)
    return tombstone


@dataclass(frozen=True)
class VerifyProblem:
    key: str
    problem: str

    def describe(self) -> str:
        return f"{self.key}: {self.problem}"
