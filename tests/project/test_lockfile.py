"""requirements.lock agrees with pyproject.toml (tools/lockfile.py), offline.

`make run` installs the lock and nothing else, so a requirement added to pyproject.toml, or
one whose range no longer allows its pin, must fail here until `make lock` is run. The tests
below give the check a pyproject.toml or a lock that disagree, and require it to say how.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tools.lockfile import explain, problems

PYPROJECT = (REPO / "pyproject.toml").read_text(encoding="utf-8")
LOCK = (REPO / "requirements.lock").read_text(encoding="utf-8")
CHANGED = "pyproject.toml's dependency lists (or requires-python) changed since requirements.lock was made"


def test_the_lock_agrees_with_pyproject() -> None:
    found = problems(PYPROJECT, LOCK)
    assert not found, explain(found)


def test_the_message_says_how_to_relock() -> None:
    assert "Re-lock with `make lock`" in explain(["pandas is not in requirements.lock"])


def pinned(name: str) -> str:
    match = re.search(rf"^{name}==(\S+) \\$", LOCK, re.MULTILINE)
    assert match, name
    return match.group(1)


def edited(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old  # the edit really happens
    return text.replace(old, new)


def requirement(name: str) -> str:
    """pyproject.toml's requirement of `name`, quoted as written."""
    match = re.search(rf'^    "{name}[=<>~!][^"]*"', PYPROJECT, re.MULTILINE)
    assert match, name
    return match.group().strip()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            requirement("ijson"),
            f'{requirement("ijson")}, "tomli-w>=1.0"',
            ["tomli-w (project.dependencies: 'tomli-w>=1.0') is not in requirements.lock"],
        ),
        (
            requirement("pandas"),
            '"pandas>=2.2,<2.3"',
            [
                f"pandas is pinned to {pinned('pandas')} in requirements.lock, which "
                "project.dependencies's 'pandas>=2.2,<2.3' does not allow"
            ],
        ),
        (
            requirement("pytest"),
            '"pytest==0.1"',
            [
                f"pytest is pinned to {pinned('pytest')} in requirements.lock, which "
                "project.optional-dependencies.dev's 'pytest==0.1' does not allow"
            ],
        ),
        (
            "requires = [",
            'requires = ["hatch-vcs", ',
            ["hatch-vcs (build-system.requires: 'hatch-vcs') is not in requirements.lock"],
        ),
        # A requirement removed, or requires-python changed: every pin still fits, the digest tells.
        (f"    {requirement('ijson')},\n", "", []),
        ('requires-python = ">=3.11"', 'requires-python = ">=3.12"', []),
    ],
)
def test_a_pyproject_that_disagrees_is_named(old: str, new: str, expected: list[str]) -> None:
    assert problems(edited(PYPROJECT, old, new), LOCK) == [CHANGED, *expected]


def test_an_unrelated_pyproject_change_needs_no_new_lock() -> None:
    """Comments, spacing, order and tool settings are not what the lock is made from."""
    ijson = f"    {requirement('ijson')},\n"
    pyproject = edited(PYPROJECT, ijson, "")
    pyproject = edited(pyproject, "dependencies = [\n", f"dependencies = [\n{ijson}")
    pyproject = edited(pyproject, f"{requirement('pandas')},", '"pandas >= 2.2",  # a comment')
    pyproject = edited(pyproject, "line-length = 100", "line-length = 99")
    assert problems(pyproject, LOCK) == []


def test_a_pin_without_a_hash_is_named() -> None:
    start = LOCK.index(f"\nruff=={pinned('ruff')} \\\n") + 1
    block = LOCK[start : LOCK.index("\n    # via", start) + 1]
    assert block.count("--hash=sha256:") >= 1
    lock = edited(LOCK, block, f"ruff=={pinned('ruff')}\n")
    assert problems(PYPROJECT, lock) == [f"requirements.lock: ruff=={pinned('ruff')} has no --hash"]


def test_a_range_instead_of_a_pin_is_named() -> None:
    lock = edited(LOCK, f"\nruff=={pinned('ruff')} \\\n", "\nruff>=0.1 \\\n")
    assert problems(PYPROJECT, lock) == [
        "requirements.lock: 'ruff>=0.1' is not a pin (name==version)",
        f"ruff (project.optional-dependencies.dev: {requirement('ruff')[1:-1]!r}) is not in requirements.lock",
    ]


def test_a_lock_without_the_digest_is_named() -> None:
    lock = "".join(line for line in LOCK.splitlines(keepends=True) if "sha256: " not in line)
    assert len(lock) < len(LOCK)
    assert problems(PYPROJECT, lock) == [
        "requirements.lock records no digest of pyproject.toml's dependency lists"
    ]
