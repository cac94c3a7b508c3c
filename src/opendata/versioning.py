"""Version numbers: semantic versions and the bump a change needs.

The bump follows the Frictionless "Data Package Version" recipe at the level this release can
see from the descriptors: a schema change or a removed resource is MAJOR, an added resource or
more rows is MINOR, anything else (values corrected, rows removed, metadata) is PATCH.
A steward may ask for a larger bump, never a smaller one.
"""

from __future__ import annotations

from typing import Any, Literal

Bump = Literal["major", "minor", "patch"]
ORDER: dict[str, int] = {"patch": 0, "minor": 1, "major": 2}
FIRST_VERSION = "1.0.0"


def parse(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def bumped(version: str, bump: Bump) -> str:
    major, minor, patch = parse(version)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def required_bump(
    old: dict[str, Any], new: dict[str, Any], old_rows: dict[str, int], new_rows: dict[str, int]
) -> Bump:
    """The smallest bump the recipe allows between two descriptors and their row counts."""
    old_resources = {r["name"]: r for r in old.get("resources", [])}
    new_resources = {r["name"]: r for r in new.get("resources", [])}
    if set(old_resources) - set(new_resources):
        return "major"
    if any(
        old_resources[name]["schema"] != new_resources[name]["schema"] for name in old_resources
    ):
        return "major"
    if set(new_resources) - set(old_resources):
        return "minor"
    if any(new_rows.get(name, 0) > old_rows.get(name, 0) for name in new_rows):
        return "minor"
    return "patch"


def next_version(previous: str | None, required: Bump, requested: Bump | None) -> str:
    """The first version, or the previous one bumped by max(required, requested)."""
    if previous is None:
        return FIRST_VERSION
    bump = required
    if requested is not None and ORDER[requested] > ORDER[required]:
        bump = requested
    return bumped(previous, bump)
