"""`opendata verify`: every published file re-hashed against its descriptor, the pointers' claims
and killed runs' marks, and every file derived from catalog.json compared with what the
pointers give now.

On its own (not in publish.py): it checks the publish protocol's files and the catalog's
derived files alike, and the catalog builds on publish, so living in either would make the
two import each other.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from opendata import journal, layout, scratch
from opendata.engine.outputs import WrittenFile
from opendata.latest import latest_descriptor
from opendata.layout import DESCRIPTOR
from opendata.liveness import current_owner
from opendata.publish import STALE_CLAIM, VerifyProblem, claim_live
from opendata.state import Release, SemVer, Status, VersionEntry, claims, read_history
from opendata.storage import Store


def _stored_digest(store: Store, key: str) -> WrittenFile | None:
    """Size and SHA-256 of a stored object, streamed through a temporary file (tables may be
    larger than memory)."""
    from opendata.engine.outputs import file_digest

    folder = scratch.new_folder("verify")
    try:
        target = folder / "object"
        if not store.download(key, target):
            return None
        return file_digest(target)
    finally:
        scratch.discard_folder(folder)


def verify(store: Store, base_url: str) -> tuple[int, list[VerifyProblem]]:
    """Re-hash every published file against its descriptor and the pointer's record.

    Returns the number of files checked and the problems found (missing, altered, wrong size).
    """
    problems: list[VerifyProblem] = []
    checked = 0
    pointers = (layout.dataset_of_pointer(key) for key in store.list(layout.DATASETS))
    names = sorted({name for name in pointers if name is not None})
    for name in names:
        history, _ = read_history(store, name)
        for entry in history.versions:
            if not isinstance(entry, Release) or entry.files_deleted:
                continue  # claims have no files to check; deleted ones are gone on purpose
            version = entry.version
            expected = {f: (r.bytes, r.sha256) for f, r in entry.files.items()}
            descriptor_bytes = store.read_bytes(layout.version_key(name, version, DESCRIPTOR))
            if descriptor_bytes is not None:
                for resource in json.loads(descriptor_bytes).get("resources", []):
                    # (A JSON or Parquet copy declares no `bytes`: versions.json has them.)
                    if resource["path"] not in expected and "bytes" in resource:
                        expected[resource["path"]] = (
                            resource["bytes"],
                            resource["hash"].split(":", 1)[1],
                        )
            for filename, (size, digest) in sorted(expected.items()):
                key = layout.version_key(name, version, filename)
                checked += 1
                found = _stored_digest(store, key)
                if found is None:
                    problems.append(VerifyProblem(key, "missing"))
                elif found.bytes != size:
                    problems.append(
                        VerifyProblem(key, f"{found.bytes} bytes, the descriptor says {size}")
                    )
                elif found.sha256 != digest:
                    problems.append(
                        VerifyProblem(key, f"sha256 {found.sha256}, the descriptor says {digest}")
                    )
        latest = history.latest
        if latest and not any(
            p.key.startswith(f"{layout.version_prefix(name, latest)}/") for p in problems
        ):
            raw = store.read_bytes(layout.version_key(name, latest, DESCRIPTOR))
            stable = store.read_bytes(layout.latest_key(name, DESCRIPTOR))
            checked += 1
            if raw is not None and stable != latest_descriptor(json.loads(raw), base_url, name):
                problems.append(
                    VerifyProblem(
                        layout.latest_key(name, DESCRIPTOR), f"does not point at {latest}"
                    )
                )
            release = next(
                v for v in history.versions if isinstance(v, Release) and v.version == latest
            )
            checked += _check_latest_copies(store, name, latest, release, problems)
        problems.extend(_dead_claims(name, history.versions))
    problems.extend(_unfinished_runs(store))
    from opendata.catalog.build import verify_derived

    derived_checked, derived_problems = verify_derived(store, base_url)
    return checked + derived_checked, problems + derived_problems


def _check_latest_copies(
    store: Store, name: str, version: SemVer, entry: Release, problems: list[VerifyProblem]
) -> int:
    """The `latest/` copies hold the bytes of the latest version's files."""
    checked = 0
    for filename, record in sorted(entry.files.items()):
        if filename == DESCRIPTOR:
            continue
        key = layout.latest_key(name, filename)
        checked += 1
        found = _stored_digest(store, key)
        if found is None:
            problems.append(VerifyProblem(key, f"missing (latest is {version})"))
        elif found.sha256 != record.sha256:
            problems.append(VerifyProblem(key, f"is not the file of {version}, the latest version"))
    return checked


def _dead_claims(name: str, versions: list[VersionEntry]) -> list[VerifyProblem]:
    """Claims of runs that ended without publishing: their partial files wait for the next
    publish of the dataset, which removes them."""
    me = current_owner()
    moment = datetime.now(UTC)
    found = []
    for entry in claims(versions):
        dead = entry.status is Status.ABANDONED or (
            entry.status is Status.PENDING and not claim_live(entry, me, moment, STALE_CLAIM)
        )
        if dead:
            found.append(
                VerifyProblem(
                    f"{layout.version_prefix(name, entry.version)}/",
                    "claimed by a run that ended without publishing it; the next publish of "
                    f"{name} removes what it wrote",
                )
            )
    return found


def _unfinished_runs(store: Store) -> list[VerifyProblem]:
    """Marks of killed runs, unfinished writes in the store and scratch files in TMPDIR."""
    found = [
        VerifyProblem(
            mark.key,
            f"a run changing {mark.dataset} was killed before its derived files (latest copies, "
            "catalog, DCAT, pages) were rebuilt; the next publish of any dataset repairs them",
        )
        for mark in journal.dead_marks(store)
    ]
    found.extend(
        VerifyProblem(leftover, "an unfinished write of a killed run (removed by the next run)")
        for leftover in store.leftovers(thorough=True)
    )
    found.extend(
        VerifyProblem(str(path), "scratch space of a killed run (removed by the next run)")
        for path in scratch.leftovers()
    )
    return found
