"""`opendata diff`'s work: which two published versions to compare, and their changes.

Any two listed versions of a dataset (withdrawn ones included, while their files are kept) can
be compared; by default the latest and the one before it. The changes come from the versions'
own files, re-read into a scratch folder (the published descriptors and data, never the
repository's sources), and with them the steward's word on each version in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from opendata.diffing import diff
from opendata.errors import DefinitionError
from opendata.preparing import discard_workspace, new_workspace
from opendata.publish import load_version
from opendata.state import SemVer, read_history
from opendata.storage import Store
from opendata.versioning import Changes


@dataclass(frozen=True)
class Comparison:
    """The changes from `older` to `newer`; `messages` the reasons given for the versions
    after `older` up to `newer` (newest last). `changes` is None when `newer` is the first
    version: there is nothing before it to compare with."""

    name: str
    older: SemVer | None
    newer: SemVer
    changes: Changes | None
    messages: list[tuple[SemVer, str]]


def compare_versions(
    store: Store,
    name: str,
    from_version: str | None = None,
    to_version: str | None = None,
    *,
    where: str | None = None,
) -> Comparison:
    """The changes between two listed versions of `name` (default: the latest and the one
    before it); a version that is not listed is a DefinitionError naming those that are.
    `where` names the store in that message as the person gave it (default: its URL)."""
    record, _ = read_history(store, name)
    listed = sorted(v.version for v in record.listed())
    known = [str(v) for v in listed]
    if not known:
        raise DefinitionError(f"{name}: nothing published in {where or store.url}")
    for given in (from_version, to_version):
        if given is not None and given not in known:
            raise DefinitionError(f"{name} has no version {given} (versions: {', '.join(known)})")
    newer = SemVer.parse(to_version) if to_version else (record.latest or listed[-1])
    if from_version is None:
        older_ones = [v for v in listed if v < newer]
        if not older_ones:
            return Comparison(name, None, newer, None, [])
        from_version = str(older_ones[-1])
    older = SemVer.parse(from_version)
    workspace = new_workspace(name)
    try:
        old_descriptor, old_files = load_version(store, name, from_version, workspace / "old")
        new_descriptor, new_files = load_version(store, name, newer, workspace / "new")
        changes = diff(old_descriptor, old_files, new_descriptor, new_files, scratch=workspace)
    finally:
        discard_workspace(workspace)
    # The steward's word on each version in between (the later one of the two included).
    messages = [
        (v.version, v.message)
        for v in sorted(record.listed(), key=lambda v: v.version)
        if older < v.version <= newer and v.message
    ]
    return Comparison(name, older, newer, changes, messages)
