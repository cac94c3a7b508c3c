"""prefect.yaml's pull step (opendata.workdir): where a deployment's flow run finds the code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from opendata import workdir
from opendata.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _keep_cwd() -> Iterator[None]:
    here = Path.cwd()
    try:
        yield
    finally:
        os.chdir(here)


def test_the_pull_step_is_this_function() -> None:
    pull = yaml.safe_load((REPO / "prefect.yaml").read_text())["pull"]
    assert pull == [
        {"opendata.workdir.set_working_directory": {"directory": "{{ $OPENDATA_HOME }}"}}
    ]


def test_without_opendata_home_the_packages_checkout_is_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENDATA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert workdir.set_working_directory("") == {"directory": str(REPO)}
    assert Path.cwd() == REPO
    # An unfilled placeholder counts as unset.
    os.chdir(tmp_path)
    assert workdir.set_working_directory("{{ $OPENDATA_HOME }}") == {"directory": str(REPO)}


def test_opendata_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "flows").mkdir(parents=True)
    (home / "flows" / "publish.py").write_text("")
    monkeypatch.delenv("OPENDATA_HOME", raising=False)
    assert workdir.set_working_directory(str(home)) == {"directory": str(home)}
    assert Path.cwd() == home
    # Filled in from the environment when the deployment holds "" .
    os.chdir(tmp_path)
    monkeypatch.setenv("OPENDATA_HOME", str(home))
    assert workdir.set_working_directory("") == {"directory": str(home)}


def test_no_checkout_and_no_opendata_home_says_what_to_set(tmp_path: Path) -> None:
    installed = tmp_path / "site-packages" / "opendata" / "workdir.py"
    installed.parent.mkdir(parents=True)
    installed.write_text("")
    with pytest.raises(ConfigError) as raised:
        workdir.repository_root(None, package_file=installed)
    message = str(raised.value)
    assert message == (
        "The flow run cannot find the repository (OPENDATA_HOME is not set and the opendata "
        "package is not installed from a checkout): set OPENDATA_HOME to the repository root "
        "(the folder with prefect.yaml and flows/publish.py) in the worker's environment, "
        'e.g. `OPENDATA_HOME="$PWD" prefect worker start --pool opendata` from that folder.'
    )
    assert "\n" not in message


def test_a_wrong_opendata_home_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"OPENDATA_HOME is '.*', which holds no flows/publish"):
        workdir.repository_root(str(tmp_path))
    with pytest.raises(ConfigError, match="relative path"):
        workdir.repository_root("some/where")
