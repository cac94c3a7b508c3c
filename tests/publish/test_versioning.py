"""The version recipe: which change needs which bump, and what the changelog says."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from opendata.diffing import diff, diff_schema
from opendata.state import SemVer
from opendata.versioning import Bump, next_version

BASE: dict[str, Any] = {
    "fields": [
        {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
        {"name": "ar", "type": "year"},
        {"name": "varde", "type": "integer", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["kommunkod", "ar"],
}


def changed(**edits: Any) -> dict[str, Any]:
    schema = json.loads(json.dumps(BASE))
    for key, value in edits.items():
        if key == "fields":
            schema["fields"] = value(schema["fields"])
        else:
            schema[key] = value
    return schema


@pytest.mark.parametrize(
    ("new", "kind", "bump"),
    [
        (changed(fields=lambda f: [*f, {"name": "ny", "type": "string"}]), "field-added", "major"),
        (changed(fields=lambda f: f[:2]), "field-removed", "major"),
        (
            changed(fields=lambda f: [f[0], f[1], {**f[2], "name": "antal"}]),
            "field-renamed",
            "major",
        ),
        (
            changed(fields=lambda f: [f[0], f[1], {**f[2], "type": "number"}]),
            "field-retyped",
            "major",
        ),
        (
            changed(fields=lambda f: [f[0], f[1], {**f[2], "constraints": {"minimum": 10}}]),
            "constraint-stricter",
            "major",
        ),
        (
            changed(fields=lambda f: [f[0], f[1], {**f[2], "constraints": {}}]),
            "constraint-relaxed",
            "minor",
        ),
        (
            changed(
                fields=lambda f: [
                    {**f[0], "constraints": {"required": True, "pattern": "[0-9]{4}"}},
                    f[1],
                    f[2],
                ]
            ),
            "constraint-stricter",
            "major",
        ),
        (changed(primaryKey=["kommunkod"]), "primary-key", "major"),
        (
            changed(fields=lambda f: [f[0], f[1], {**f[2], "description": "Antal"}]),
            "field-metadata",
            "patch",
        ),
    ],
)
def test_schema_changes_and_their_bumps(new: dict[str, Any], kind: str, bump: Bump) -> None:
    changes = diff_schema(BASE, new)
    assert [(c.kind, c.bump) for c in changes] == [(kind, bump)]


def package(
    rows: list[str], schema: dict[str, Any] = BASE, title: str = "T"
) -> tuple[dict[str, Any], dict[str, Path]]:
    """A descriptor and its CSV file on disk (the diff joins files, it never holds rows)."""
    header = ",".join(f["name"] for f in schema["fields"])
    data = ("\r\n".join([header, *rows]) + "\r\n").encode()
    path = Path(tempfile.mkdtemp(prefix="opendata-test-")) / "t.csv"
    path.write_bytes(data)
    descriptor = {
        "name": "x",
        "title": title,
        "version": "1.0.0",
        "resources": [{"name": "t", "path": "t.csv", "format": "csv", "schema": schema}],
    }
    return descriptor, {"t.csv": path}


ROWS = ["1490,2023,5", "1442,2023,7"]


@pytest.mark.parametrize(
    ("rows", "title", "bump", "summary"),
    [
        (["1490,2023,6", "1442,2023,7"], "T", "patch", "t: 1 row changed"),
        (["1490,2023,5"], "T", "patch", "t: 1 row removed"),
        ([*ROWS, "1443,2024,1"], "T", "minor", "t: 1 row added"),
        (ROWS, "Ny titel", "patch", "metadata changed: title"),
    ],
)
def test_row_and_metadata_changes(rows: list[str], title: str, bump: Bump, summary: str) -> None:
    old = package(ROWS)
    new = package(rows, title=title)
    changes = diff(old[0], old[1], new[0], new[1])
    assert changes.required_bump == bump
    assert changes.summary() == summary


def test_small_changes_list_their_keys() -> None:
    old = package(ROWS)
    new = package(["1490,2023,6", "1443,2024,1"])
    record = diff(old[0], old[1], new[0], new[1]).to_dict("1.0.0", "1.1.0", "minor")
    assert record["resources"][0]["keys"] == {
        "fields": [["kommunkod", "ar"]],
        "added": [["1443", "2024"]],
        "removed": [["1442", "2023"]],
        "changed": [["1490", "2023"]],
    }
    assert record["summary"] == "t: 1 row added, 1 row removed, 1 row changed"


def test_resources_added_and_removed() -> None:
    old = package(ROWS)
    new = json.loads(json.dumps(old[0]))
    new["resources"].append({"name": "u", "path": "u.csv", "format": "csv", "schema": BASE})
    added = diff(old[0], old[1], new, {**old[1], "u.csv": old[1]["t.csv"]})
    assert added.required_bump == "minor"
    assert added.summary() == "u: resource added"
    removed = diff(new, {**old[1], "u.csv": old[1]["t.csv"]}, old[0], old[1])
    assert removed.required_bump == "major"


@pytest.mark.parametrize(
    ("previous", "required", "requested", "expected"),
    [
        (None, "patch", None, "1.0.0"),
        ("1.2.3", "patch", None, "1.2.4"),
        ("1.2.3", "minor", None, "1.3.0"),
        ("1.2.3", "major", None, "2.0.0"),
        ("1.2.3", "patch", "minor", "1.3.0"),
        ("1.2.3", "major", "patch", "2.0.0"),
    ],
)
def test_next_version(
    previous: str | None, required: Bump, requested: Bump | None, expected: str
) -> None:
    before = SemVer.parse(previous) if previous else None
    assert str(next_version(before, required, requested)) == expected


def test_one_changed_value_among_many_rows_is_a_patch_listing_its_key() -> None:
    rows = [f"{1000 + i % 8},{1900 + i // 8},{i}" for i in range(200_000)]
    old = package(rows)
    changed_rows = list(rows)
    changed_rows[123_457] = changed_rows[123_457].rsplit(",", 1)[0] + ",-1"
    new = package(changed_rows)
    record = diff(old[0], old[1], new[0], new[1]).to_dict("1.0.0", "1.0.1", "patch")
    resource = record["resources"][0]
    assert (resource["rows_added"], resource["rows_removed"], resource["rows_changed"]) == (0, 0, 1)
    assert resource["keys"]["changed"] == [["1001", "17332"]]
    assert record["required_bump"] == "patch"
