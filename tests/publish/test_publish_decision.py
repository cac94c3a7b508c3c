"""The publish protocol's decision, on plain data: what a run does with its package given the
pointer's entries (unchanged, a withdrawn version's data, another live run's claim, or the next
version and why), before it writes anything."""

from __future__ import annotations

from datetime import UTC, datetime

from opendata.liveness import Owner
from opendata.publish import LiveClaim, Publish, Unchanged, WithdrawnMatch, decide
from opendata.state import Claim, FileRecord, Release, SemVer, Status, VersionEntry
from opendata.versioning import Changes, ResourceChanges

ME = Owner("host", "boot-1", 100, "2026-01-01T00:00:00Z")
OTHER = Owner("host", "boot-1", 200, "2026-01-01T00:00:00Z")
MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROWS_ADDED = Changes([ResourceChanges("t", "changed", rows_added=3)], [])


def release(version: str, content: str, status: Status = Status.PUBLISHED) -> Release:
    withdrawn = status is Status.WITHDRAWN
    return Release(
        version=SemVer.parse(version),
        status=status,
        published="2026-01-01T00:00:00Z",
        content_hash=content,
        datapackage=f"{version}/datapackage.json",
        bump=None,
        summary="first version",
        rows={"t": 1},
        files={"t.csv": FileRecord(bytes=1, sha256="0" * 64)},
        withdrawn="2026-02-01T00:00:00Z" if withdrawn else None,
        reason="a wrong figure" if withdrawn else None,
    )


def claim(
    version: str, content: str, owner: Owner | None, status: Status = Status.PENDING
) -> Claim:
    return Claim(
        version=SemVer.parse(version),
        status=status,
        content_hash=content,
        claimed="2026-03-01T11:59:00Z",
        owner=owner,
    )


def test_the_latest_versions_data_is_unchanged() -> None:
    versions: list[VersionEntry] = [release("1.0.0", "a"), release("1.1.0", "b")]
    decision = decide(versions, "b", ME, live=[])
    assert isinstance(decision, Unchanged) and str(decision.latest.version) == "1.1.0"


def test_an_older_versions_data_is_a_new_version() -> None:
    versions: list[VersionEntry] = [release("1.0.0", "a"), release("1.1.0", "b")]
    decision = decide(versions, "a", ME, live=[])
    assert isinstance(decision, Publish)
    assert str(decision.choose_version(ROWS_ADDED, None, MOMENT).version) == "1.2.0"


def test_a_withdrawn_versions_data_is_not_published_again_unless_asked() -> None:
    versions: list[VersionEntry] = [
        release("1.0.0", "a"),
        release("1.1.0", "b", Status.WITHDRAWN),
    ]
    decision = decide(versions, "b", ME, live=[])
    assert isinstance(decision, WithdrawnMatch)
    assert str(decision.tombstone.version) == "1.1.0"
    assert decision.latest is not None and str(decision.latest.version) == "1.0.0"
    again = decide(versions, "b", ME, live=[], republish=True)
    assert isinstance(again, Publish)
    assert str(again.choose_version(ROWS_ADDED, None, MOMENT).version) == "1.2.0"


def test_a_withdrawal_no_longer_stands_once_the_data_was_republished() -> None:
    versions: list[VersionEntry] = [
        release("1.0.0", "b", Status.WITHDRAWN),
        release("1.1.0", "b"),
        release("1.2.0", "c"),
    ]
    assert isinstance(decide(versions, "b", ME, live=[]), Publish)


def test_another_live_runs_claim_is_waited_for() -> None:
    versions: list[VersionEntry] = [release("1.0.0", "a"), claim("1.1.0", "x", OTHER)]
    decision = decide(versions, "b", ME, live=[SemVer.parse("1.1.0")])
    assert isinstance(decision, LiveClaim) and decision.claim.owner == OTHER
    # The same claim on the same data, live: another run publishes exactly this; wait too.
    same = decide(
        [release("1.0.0", "a"), claim("1.1.0", "b", OTHER)], "b", ME, [SemVer.parse("1.1.0")]
    )
    assert isinstance(same, LiveClaim)


def test_a_dead_runs_claim_on_the_same_data_is_taken_over_with_its_time() -> None:
    versions: list[VersionEntry] = [release("1.0.0", "a"), claim("1.1.0", "b", OTHER)]
    decision = decide(versions, "b", ME, live=[])
    assert isinstance(decision, Publish)
    assert decision.resumed is not None and decision.displaced == []
    chosen = decision.choose_version(ROWS_ADDED, "major", MOMENT)
    assert (str(chosen.version), chosen.claimed) == ("1.1.0", "2026-03-01T11:59:00Z")


def test_our_own_live_claim_on_the_same_data_is_resumed() -> None:
    versions: list[VersionEntry] = [release("1.0.0", "a"), claim("1.1.0", "b", ME)]
    decision = decide(versions, "b", ME, live=[SemVer.parse("1.1.0")])
    assert isinstance(decision, Publish) and decision.resumed is not None


def test_dead_claims_on_other_data_give_way_and_free_their_numbers() -> None:
    versions: list[VersionEntry] = [
        release("1.0.0", "a"),
        claim("1.1.0", "x", OTHER),
        claim("1.2.0", "y", None, Status.ABANDONED),
    ]
    decision = decide(versions, "b", ME, live=[])
    assert isinstance(decision, Publish) and decision.resumed is None
    assert [str(v.version) for v in decision.displaced] == ["1.1.0", "1.2.0"]
    chosen = decision.choose_version(ROWS_ADDED, None, MOMENT)
    assert (str(chosen.version), chosen.claimed) == ("1.1.0", "2026-03-01T12:00:00Z")


def test_the_next_version_says_which_bump_and_why() -> None:
    first = decide([], "a", ME, live=[])
    assert isinstance(first, Publish)
    chosen = first.choose_version(None, None, MOMENT)
    assert (str(chosen.version), chosen.applied, chosen.required, chosen.reason) == (
        "1.0.0",
        None,
        None,
        "first version",
    )
    later = decide([release("1.0.0", "a")], "b", ME, live=[])
    assert isinstance(later, Publish)
    asked = later.choose_version(ROWS_ADDED, "major", MOMENT)
    assert (str(asked.version), asked.applied, asked.required) == ("2.0.0", "major", "minor")
    assert asked.reason == "major as asked; the changes need minor: rows added (minor)"
    needed = later.choose_version(ROWS_ADDED, "patch", MOMENT)
    assert (str(needed.version), needed.applied) == ("1.1.0", "minor")
