"""Issue 10, requirements 6 and 7: changes explained, withdrawals that stick.

- A corrected value reads old → new in changes.json, `opendata diff`, `opendata history` and on
  the dataset page (in Swedish there: "1 rad ändrad"); the steward's message on why the version
  was made is kept in versions.json, changes.json, catalog.json, the page and the DCAT version's
  adms:versionNotes (still SHACL-valid).
- Many changes: the first 20 rows of each kind are listed (in key order), the rest counted.
- A dry run returns the version it would make, why, and the diff, and writes nothing.
- Data equal to a withdrawn version's is not published again (status `withdrawn`, exit 0, a
  message that says which version is withdrawn, when, why, which is latest and how to publish it
  anyway; the CLI's table, the run's log and the UI's table keep the two versions apart) unless
  the steward republishes it; `opendata withdraw` says so.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import Graph, URIRef

from opendata.catalog import rebuild_catalog
from opendata.catalog.dcat import version_graph
from opendata.catalog.pages import render_dataset_page
from opendata.config import load_settings
from opendata.diffing import diff
from opendata.preparing import prepare, require_valid
from opendata.publish import Outcome, publish_package, withdraw
from opendata.reporting import CHANGES, STATUS, VERSION, summary_rows
from opendata.run import outcome_line
from opendata.storage import LocalStore
from opendata.versioning import (
    Changes,
    ResourceChanges,
    SchemaChange,
    change_text,
    row_lines,
    summary_sv,
)
from tests.catalog.test_dcat import ADMS, assert_valid_dcat_ap_3, texts
from tests.catalog.test_pages import parse
from tests.conftest import copy_home, run_cli, snapshot
from tests.publish.test_versioning import package

BASE = "https://data.example.se/oppna-data/"
MAL = "datasets/avfallsplan/sources/mal.csv"
MESSAGE = "Målvärdet för matsvinn rättat efter direktionens beslut 2025-03-01"
TIMES = [datetime(2025, 3, day, 5, 0, tzinfo=UTC) for day in (1, 2, 3, 4, 5, 6, 7)]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return copy_home(tmp_path / "repo")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def publish(home: Path, store: LocalStore, when: datetime | None = None, **options: Any) -> Outcome:
    settings = load_settings(home=home, base_url=BASE)
    prepared = prepare(settings, "avfallsplan")
    try:
        return publish_package(store, require_valid(prepared), BASE, now=when, **options)
    finally:
        prepared.discard()


def edit(home: Path, old: str, new: str) -> None:
    path = home / MAL
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def stored(store: LocalStore, key: str) -> Any:
    return json.loads(store.read_bytes(key) or b"null")


def cli(home: Path, store: LocalStore, *args: str) -> str:
    result = run_cli([*args, "--store", str(store.root)], home, OPENDATA_BASE_URL=BASE)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# -- a corrected value, with the steward's message --------------------------------------------


def test_a_corrected_value_reads_old_to_new_with_its_message_everywhere(
    home: Path, store: LocalStore
) -> None:
    assert publish(home, store, TIMES[0]).version == "1.0.0"
    edit(home, ",35,g per portion", ",30,g per portion")
    outcome = publish(home, store, TIMES[1], message=f"  {MESSAGE}\n")
    assert (outcome.status, outcome.version, outcome.changes) == (
        "published",
        "1.0.1",
        "mal: 1 row changed",
    )
    assert (outcome.bump, outcome.required_bump) == ("patch", "patch")
    assert outcome.reason == "patch: values changed (patch)"
    rebuild_catalog(store, BASE)

    # versions.json and changes.json
    history = stored(store, "datasets/avfallsplan/versions.json")
    assert history["format"] == 4
    entries = {v["version"]: v for v in history["versions"]}
    assert entries["1.0.1"]["message"] == MESSAGE  # on one line, trimmed
    assert "message" not in entries["1.0.0"]  # left out when there is none
    changes = stored(store, "datasets/avfallsplan/1.0.1/changes.json")
    assert (changes["summary"], changes["summary_sv"], changes["message"]) == (
        "mal: 1 row changed",
        "mal: 1 rad ändrad",
        MESSAGE,
    )
    assert changes["reasons"] == [{"reason": "values changed", "bump": "patch"}]
    mal = next(r for r in changes["resources"] if r["name"] == "mal")
    assert mal["keys"] == {
        "fields": [["id"]],
        "added": [],
        "removed": [],
        "changed": [["matsvinn-per-portion"]],
    }
    assert mal["changed_values"] == [
        {
            "key": ["matsvinn-per-portion"],
            "cells": [{"field": "malvarde", "old": "35", "new": "30"}],
        }
    ]
    assert stored(store, "datasets/avfallsplan/latest/changes.json") == changes

    # catalog.json
    catalog = stored(store, "catalog.json")
    versions = {v["version"]: v for v in catalog["datasets"][0]["versions"]}
    assert (versions["1.0.1"]["message"], versions["1.0.0"]["message"]) == (MESSAGE, None)

    # The page, in Swedish: the message, the summary and the cell before and after.
    page = parse((store.read_bytes("datasets/avfallsplan/index.html") or b"").decode())
    section = page.by_id("v1.0.1")
    facts = {
        dt.words(): dd.words()
        for dt, dd in zip(section.find_all("dt"), section.find_all("dd"), strict=True)
    }
    assert facts["Anledning"] == MESSAGE
    assert facts["Ändringar"] == "mal: 1 rad ändrad"
    table = section.find("table", class_="cells")
    assert table.find("caption").words() == "1 rad ändrad: värdet före och efter"
    (row,) = table.find("tbody").find_all("tr")
    assert [cell.words() for cell in row.find_all("th") + row.find_all("td")] == [
        "id matsvinn-per-portion",
        "malvarde",
        "35",
        "30",
    ]
    assert "rows changed" not in page.words() and "first version" not in page.words()
    assert "första versionen" in page.by_id("v1.0.0").words()
    # The index shows the steward's message where there is one, else the summary.
    index = parse((store.read_bytes("index.html") or b"").decode())
    listed = index.by_id("avfallsplan").find("details").find_all("li")
    assert [item.words() for item in listed] == [
        f"1.0.1 – 2025-03-02 senaste – {MESSAGE}",
        "1.0.0 – 2025-03-01 – första versionen",
    ]

    # DCAT: the version's notes in English and, with the message, in Swedish; SHACL-valid.
    # The record on the harvest page carries the latest's notes; each version's own document
    # its own.
    graph = Graph().parse(data=store.read_bytes("dcat/catalog.rdf"), format="xml")
    catalog = json.loads(store.read_bytes("catalog.json") or b"{}")
    (entry,) = catalog["datasets"]
    latest = version_graph(catalog, entry, "1.0.1")
    notes = texts(latest, URIRef(f"{BASE}datasets/avfallsplan/1.0.1/"), ADMS.versionNotes)
    assert notes == {"en": "mal: 1 row changed", "sv": f"{MESSAGE} (ändringar: mal: 1 rad ändrad)"}
    assert texts(graph, URIRef(f"{BASE}datasets/avfallsplan/"), ADMS.versionNotes) == notes
    older = version_graph(catalog, entry, "1.0.0")
    first = texts(older, URIRef(f"{BASE}datasets/avfallsplan/1.0.0/"), ADMS.versionNotes)
    assert first == {"en": "first version", "sv": "första versionen"}
    assert_valid_dcat_ap_3(graph)
    assert_valid_dcat_ap_3(latest + older)

    # The command line: diff and history.
    assert cli(home, store, "diff", "avfallsplan").splitlines() == [
        "avfallsplan 1.0.0 → 1.0.1: patch change (values changed)",
        f"  why 1.0.1: {MESSAGE}",
        "  mal: 1 row changed",
        "    changed id=matsvinn-per-portion: malvarde 35 → 30",
    ]
    as_json = json.loads(cli(home, store, "diff", "avfallsplan", "--json"))
    assert as_json["message"] == MESSAGE
    assert as_json["resources"][1]["changed_values"] == mal["changed_values"]
    assert cli(home, store, "history", "avfallsplan").splitlines() == [
        "1.0.1 (latest)  2025-03-02T05:00:00Z  published  9 rows  [patch] mal: 1 row changed",
        f"    why: {MESSAGE}",
        "    mal: changed id=matsvinn-per-portion: malvarde 35 → 30",
        "1.0.0  2025-03-01T05:00:00Z  published  9 rows  [first] first version",
    ]


def test_a_message_is_one_line_and_not_a_report(home: Path, store: LocalStore) -> None:
    from opendata.errors import DefinitionError

    publish(home, store, TIMES[0])
    edit(home, ",35,g per portion", ",30,g per portion")
    before = snapshot(store.root)
    with pytest.raises(DefinitionError, match=r"^the message is 1001 characters; say why"):
        publish(home, store, TIMES[1], message="x" * 1001)
    assert snapshot(store.root) == before
    assert publish(home, store, TIMES[1], message=" \n ").status == "published"
    history = stored(store, "datasets/avfallsplan/versions.json")
    assert "message" not in history["versions"][-1]  # an empty message is none


# -- many changes --------------------------------------------------------------------------------


def test_many_changes_list_the_first_20_of_each_kind_and_count_the_rest() -> None:
    """Keys in the files' order (numbers by value: 2 before 10), 20 of each kind listed, the
    changed ones with their cells; the counts are all of them."""
    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "namn", "type": "string"},
            {"name": "varde", "type": "integer"},
        ],
        "primaryKey": ["id"],
    }
    old_rows = [f"{i},rad {i},{i}" for i in range(1, 201)]  # ids 1..200
    new_rows = [f"{i},rad {i},{i + 1 if i <= 100 else i}" for i in range(31, 201)]  # 1..30 gone
    new_rows += [f"{i},ny rad,0" for i in range(201, 226)]  # 25 added
    old, new = package(old_rows, schema), package(new_rows, schema)
    changes = diff(old[0], old[1], new[0], new[1])
    (resource,) = changes.resources
    assert (resource.rows_added, resource.rows_removed, resource.rows_changed) == (25, 30, 70)
    assert resource.keys is not None and resource.values is not None
    assert resource.keys["changed"] == [[str(i)] for i in range(31, 51)]
    assert resource.keys["removed"] == [[str(i)] for i in range(1, 21)]
    assert resource.keys["added"] == [[str(i)] for i in range(201, 221)]
    assert [row.key for row in resource.values] == resource.keys["changed"]
    assert [(c.field, c.old, c.new) for c in resource.values[0].cells] == [("varde", "31", "32")]
    assert changes.summary() == "t: 25 rows added, 30 rows removed, 70 rows changed"
    assert summary_sv(changes.summary()) == (
        "t: 25 rader tillagda, 30 rader borttagna, 70 rader ändrade"
    )
    assert changes.why() == (
        "minor: rows added (minor), rows removed (patch), values changed (patch)"
    )
    # The listed added rows with every value of the new version, the removed ones of the old.
    assert resource.added_rows is not None and resource.removed_rows is not None
    assert resource.added_rows.fields == ["id", "namn", "varde"]
    assert resource.added_rows.rows == [[str(i), "ny rad", "0"] for i in range(201, 221)]
    assert resource.removed_rows.rows == [[str(i), f"rad {i}", str(i)] for i in range(1, 21)]
    record = changes.to_dict("1.0.0", "1.1.0", "minor")["resources"][0]
    assert record["added_rows"]["rows"][0] == ["201", "ny rad", "0"]
    assert record["removed_rows"] == {
        "fields": ["id", "namn", "varde"],
        "rows": [[str(i), f"rad {i}", str(i)] for i in range(1, 21)],
    }
    assert Changes.from_dict(changes.to_dict("1.0.0", "1.1.0", "minor")) == changes
    lines = row_lines(resource)
    assert lines[0] == "changed id=31: varde 31 → 32"
    assert lines[20] == "… and 50 more rows changed"
    assert lines[21] == "added id=201: namn=ny rad, varde=0"
    assert lines[-1] == "… and 10 more rows removed"
    assert row_lines(resource, 2) == [
        "changed id=31: varde 31 → 32",
        "changed id=32: varde 32 → 33",
        "… and 68 more rows changed",
        "added id=201: namn=ny rad, varde=0",
        "added id=202: namn=ny rad, varde=0",
        "… and 23 more rows added",
        "removed id=1: namn=rad 1, varde=1",
        "removed id=2: namn=rad 2, varde=2",
        "… and 28 more rows removed",
    ]


def test_the_page_lists_the_first_rows_and_counts_the_rest(home: Path, store: LocalStore) -> None:
    publish(home, store, TIMES[0])
    edit(home, ",35,g per portion", ",30,g per portion")
    publish(home, store, TIMES[1])
    rebuild_catalog(store, BASE)
    catalog = stored(store, "catalog.json")
    (entry,) = catalog["datasets"]
    record = stored(store, "datasets/avfallsplan/1.0.1/changes.json")
    mal = next(r for r in record["resources"] if r["name"] == "mal")
    mal.update(rows_changed=120, rows_added=45, rows_removed=1)
    mal["keys"]["added"] = [[f"nytt-{i}"] for i in range(20)]
    mal["keys"]["removed"] = [["gammalt"]]
    mal["changed_values"][0]["cells"].append({"field": "enhet", "old": "", "new": "<b>g</b>"})
    page = parse(render_dataset_page(entry, {}, catalog, {"1.0.1": record}))
    changes = page.by_id("v1.0.1-mal")
    assert changes.find("h4").words() == "Ändrade rader i mal"
    table = changes.find("table", class_="cells")
    assert table.find("caption").words() == (
        "De första 1 av 120 ändrade raderna: värdet före och efter"
    )
    rows = [[c.words() for c in r.find_all("th") + r.find_all("td")] for r in table.find_all("tr")]
    assert rows[2] == ["id matsvinn-per-portion", "enhet", "(tomt)", "<b>g</b>"]  # text, escaped
    added = changes.find("p", class_="rows-added").words()
    assert added.startswith("Tillagda rader (de första 20 av 45): id nytt-0; id nytt-1;")
    assert changes.find("p", class_="rows-removed").words() == "Borttagna rader: id gammalt."


def test_a_diff_of_many_rows_fetches_only_the_listed_ones() -> None:
    """Every one of 200 000 rows changed: 20 are listed with their cells, the rest counted."""
    schema = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "v", "type": "integer"}],
        "primaryKey": ["id"],
    }
    old = package([f"{i},{i}" for i in range(200_000)], schema)
    new = package([f"{i},{i + 1}" for i in range(200_000)], schema)
    (resource,) = diff(old[0], old[1], new[0], new[1]).resources
    assert resource.rows_changed == 200_000
    assert resource.values is not None and len(resource.values) == 20
    assert [row.key for row in resource.values][-1] == ["19"]


# -- a dry run -------------------------------------------------------------------------------------


def test_a_dry_run_says_the_version_why_and_the_diff(home: Path, store: LocalStore) -> None:
    publish(home, store, TIMES[0])
    edit(home, ",35,g per portion", ",30,g per portion")
    with (home / MAL).open("a", encoding="utf-8") as stream:
        stream.write("ny-mal,2,Ett nytt mål,,,,,https://example.org/\n")
    before = snapshot(store.root)
    outcome = publish(home, store, dry_run=True)
    assert snapshot(store.root) == before
    assert (outcome.status, outcome.dry_run, outcome.version, outcome.previous_version) == (
        "published",
        True,
        "1.1.0",
        "1.0.0",
    )
    assert (outcome.bump, outcome.required_bump) == ("minor", "minor")
    assert outcome.reason == "minor: rows added (minor), values changed (patch)"
    assert outcome.changes == "mal: 1 row added, 1 row changed"
    assert outcome.diff is not None
    assert (outcome.diff["from"], outcome.diff["to"]) == ("1.0.0", "1.1.0")
    mal = next(r for r in outcome.diff["resources"] if r["name"] == "mal")
    assert mal["keys"]["added"] == [["ny-mal"]]
    assert mal["changed_values"][0]["cells"] == [{"field": "malvarde", "old": "35", "new": "30"}]
    bigger = publish(home, store, dry_run=True, bump="major")
    assert (bigger.version, bigger.bump, bigger.required_bump) == ("2.0.0", "major", "minor")
    assert bigger.reason == (
        "major as asked; the changes need minor: rows added (minor), values changed (patch)"
    )
    assert snapshot(store.root) == before
    # The outcome is the --json summary's object: it stays plain JSON.
    json.dumps(outcome.to_dict())


# -- a withdrawal sticks ----------------------------------------------------------------------


WITHDRAWN = (
    "not published: the data equals 1.0.1, which was withdrawn 2025-03-03 05:00 UTC (reason: "
    "Fel målvärde); latest is 1.0.0. To publish it anyway as a new version: "
    "opendata publish avfallsplan --republish"
)


def test_data_of_a_withdrawn_version_is_not_published_again(home: Path, store: LocalStore) -> None:
    publish(home, store, TIMES[0])
    edit(home, ",35,g per portion", ",30,g per portion")
    publish(home, store, TIMES[1])
    withdraw(store, "avfallsplan", "1.0.1", "Fel målvärde", BASE, now=TIMES[2])
    rebuild_catalog(store, BASE)
    before = snapshot(store.root)

    # The schedule's plain publish, and a dry run: withdrawn, nothing written.
    for dry_run in (False, True):
        outcome = publish(home, store, TIMES[3], dry_run=dry_run)
        assert (outcome.status, outcome.version, outcome.previous_version) == (
            "withdrawn",
            "1.0.0",
            "1.0.0",
        )
        assert (outcome.message, outcome.exit_code) == (WITHDRAWN, 0)
        assert (outcome.withdrawn_version, outcome.withdrawn_reason) == ("1.0.1", "Fel målvärde")
        assert outcome.url == f"{BASE}datasets/avfallsplan/1.0.0/datapackage.json"
        assert snapshot(store.root) == before
    # The run's log line and the UI's table name the withdrawn version and the latest apart.
    assert outcome_line(outcome.to_dict()) == f"avfallsplan: {WITHDRAWN}"
    (row,) = summary_rows([outcome.to_dict()])
    assert (row[STATUS], row[VERSION]) == ("inte publicerad \\/ not published", "1\\.0\\.0")
    assert html.unescape(re.sub(r"\\(.)", r"\1", row[CHANGES])) == (
        "samma data som 1.0.1, som drogs tillbaka (skäl: Fel målvärde); senaste är 1.0.0; "
        "parametern republish publicerar den ändå / the data equals 1.0.1, which was withdrawn "
        "(reason: Fel målvärde); latest is 1.0.0; the parameter republish publishes it anyway"
    )

    # Republished on purpose: a new version; then the same data is simply unchanged.
    again = publish(home, store, TIMES[3], republish=True, message="Målvärdet är nu beslutat")
    assert (again.status, again.version, again.changes) == (
        "published",
        "1.0.2",
        "mal: 1 row changed",
    )
    assert publish(home, store, TIMES[4]).status == "unchanged"

    # A republished version lifts the withdrawal: going back and forth publishes as usual.
    edit(home, ",30,g per portion", ",35,g per portion")
    assert publish(home, store, TIMES[5]).version == "1.0.3"
    edit(home, ",35,g per portion", ",30,g per portion")
    assert publish(home, store, TIMES[6]).version == "1.0.4"


def test_when_every_version_is_withdrawn_the_data_is_not_published(
    home: Path, store: LocalStore
) -> None:
    publish(home, store, TIMES[0])
    withdraw(store, "avfallsplan", "1.0.0", "Ska inte publiceras", BASE, now=TIMES[1])
    outcome = publish(home, store, TIMES[2])
    assert (outcome.status, outcome.version, outcome.url) == ("withdrawn", None, None)
    assert outcome.message == (
        "not published: the data equals 1.0.0, which was withdrawn 2025-03-02 05:00 UTC (reason: "
        "Ska inte publiceras); no version is published. To publish it anyway as a new version: "
        "opendata publish avfallsplan --republish"
    )
    assert publish(home, store, TIMES[3], republish=True).version == "1.0.1"


def test_withdraw_says_so_and_publish_reports_withdrawn_with_exit_0(
    home: Path, store: LocalStore
) -> None:
    publish(home, store, TIMES[0])
    edit(home, ",35,g per portion", ",30,g per portion")
    publish(home, store, TIMES[1])
    assert cli(home, store, "withdraw", "avfallsplan", "1.0.1", "--reason", "Fel").splitlines() == [
        "avfallsplan 1.0.1 withdrawn (its files kept); latest is now 1.0.0",
        "The same data will not be published again (publish and the schedule report avfallsplan "
        "as withdrawn); to publish it anyway: opendata publish avfallsplan --republish",
    ]
    published = run_cli(
        ["publish", "avfallsplan", "--no-prefect", "--json", "--store", str(store.root)],
        home,
        OPENDATA_BASE_URL=BASE,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    (outcome,) = json.loads(published.stdout)
    assert (outcome["status"], outcome["version"], outcome["withdrawn_version"]) == (
        "withdrawn",
        "1.0.0",
        "1.0.1",
    )
    assert outcome["message"].startswith("not published: the data equals 1.0.1, which was ")
    assert not (store.root / "datasets/avfallsplan/1.0.2").exists()

    # As a steward reads it: 1.0.1 is the withdrawn one, 1.0.0 the latest.
    shown = run_cli(
        ["publish", "avfallsplan", "--no-prefect", "--store", str(store.root)],
        home,
        OPENDATA_BASE_URL=BASE,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.splitlines()[:2] == [
        "dataset      status                                 version         rows",
        "avfallsplan  not published: equals withdrawn 1.0.1  1.0.0 (latest)  9",
    ]
    assert re.search(
        r"^avfallsplan: not published: the data equals 1\.0\.1, which was withdrawn "
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(reason: Fel\); latest is 1\.0\.0\. To publish it anyway "
        r"as a new version: opendata publish avfallsplan --republish$",
        shown.stderr,
        re.M,
    ), shown.stderr


# -- the summary in Swedish ---------------------------------------------------------------------

NAMES = st.from_regex(r"[a-zåäö][a-zåäö0-9_]{0,11}", fullmatch=True).filter(
    lambda n: not any(word in n for word in ("row", "field", "resource", "metadata", "key"))
)
SCHEMA_CHANGES = st.one_of(
    st.builds(lambda f: SchemaChange("field-added", f, f"field {f} added", "major"), NAMES),
    st.builds(lambda f: SchemaChange("field-removed", f, f"field {f} removed", "major"), NAMES),
    st.builds(
        lambda f, g: SchemaChange("field-renamed", f, f"field {f} renamed to {g}", "major"),
        NAMES,
        NAMES,
    ),
    st.builds(
        lambda f: SchemaChange("field-retyped", f, f"field {f} re-typed integer → number", "major"),
        NAMES,
    ),
    st.builds(
        lambda f: SchemaChange(
            "constraint-stricter", f, f"field {f}: enum ['a', 'b'] → ['a']", "major"
        ),
        NAMES,
    ),
    st.builds(
        lambda f: SchemaChange("field-metadata", f, f"field {f} description changed", "patch"),
        NAMES,
    ),
    st.just(SchemaChange("primary-key", None, "primary key changed", "major")),
    st.just(SchemaChange("foreign-keys", None, "foreign keys added or changed", "major")),
    st.just(SchemaChange("foreign-keys", None, "foreign keys removed", "minor")),
    st.just(SchemaChange("resource-metadata", None, "descriptive metadata changed", "patch")),
)
COUNTS = st.integers(min_value=0, max_value=3) | st.integers(min_value=0, max_value=10**7)
RESOURCES = st.one_of(
    st.builds(
        ResourceChanges,
        NAMES,
        st.just("changed"),
        COUNTS,
        COUNTS,
        COUNTS,
        schema=st.lists(SCHEMA_CHANGES, max_size=3),
    ),
    st.builds(ResourceChanges, NAMES, st.sampled_from(["added", "removed"])),
)
ENGLISH = re.compile(
    r"\b(rows?|added|removed|changed|field|resource|renamed|re-typed|description|primary|"
    r"foreign|metadata changed|formats|first version|no changes)\b"
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(RESOURCES, max_size=4),
    st.lists(NAMES, max_size=3) | st.just(["title", "formats added: csv, parquet"]),
)
def test_every_summary_reads_in_swedish(
    resources: list[ResourceChanges], metadata: list[str]
) -> None:
    """Whatever changed, the Swedish summary keeps the names and leaves no English phrase."""
    changes = Changes(resources, metadata)
    swedish = summary_sv(changes.summary())
    assert not ENGLISH.search(swedish), swedish
    # As the pages show it: the same, with the changed metadata named in words.
    shown = change_text(changes.summary(), "sv")
    assert not ENGLISH.search(shown), shown
    assert "metadata" not in shown
    for resource in resources:
        assert f"{resource.name}: " in shown
    for resource in resources:
        assert f"{resource.name}: " in swedish
    for count in (r.rows_changed for r in resources if r.status == "changed" and r.rows_changed):
        assert (
            f"{count} rad ändrad" in swedish if count == 1 else f"{count} rader ändrade" in swedish
        )
    assert summary_sv("mal: 1 rows changed") == "mal: 1 rad ändrad"  # as releases before said it
