"""The repository's own datasets/: properties only, never today's figures.

Every other test that needs real data reads the frozen copies in tests/fixtures/home/, so a
steward's delivery (a new year, a new source sheet, one more source entry) leaves them green.
What the repository's datasets must always be, whatever was delivered: each one valid as it
stands, so that `make run` publishes it.
"""

from __future__ import annotations

import pytest

from opendata.config import load_settings
from opendata.definitions import discover
from tests.conftest import REPO, run_cli

NAMES = discover(load_settings(home=REPO).datasets_dir)


def test_the_repository_has_datasets() -> None:
    assert "befolkning" in NAMES  # the other datasets' `kommuner` comes from it


@pytest.mark.parametrize("name", NAMES)
def test_every_repository_dataset_is_valid_as_delivered(name: str) -> None:
    result = run_cli(["validate", "--offline", name], REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith((f"{name}: valid (", f"{name}: skipped ")), result.stdout
