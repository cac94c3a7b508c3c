"""Shared fixtures: a scratch copy of the tests' frozen home and a real Prefect API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fakeapis import fake_apis  # noqa: F401  (local Kolada, PxWeb and Trafa servers)
from tests.s3server import s3_server  # noqa: F401  (a real S3 server, shared by the session)

if TYPE_CHECKING:
    from opendata.collect.raw import RawSource

REPO = Path(__file__).resolve().parents[1]
# Frozen copies of datasets/ and schemas/ (tests/fixtures/home/README.md): what tests that need
# real data read, so that a steward's delivery to datasets/ changes no figure a test pins.
FIXTURE_HOME = REPO / "tests" / "fixtures" / "home"
# The frozen datasets that an offline run publishes (all but avfallsplan-uppfoljning, collected
# from Kolada): written here once, for every test that pins what such a run publishes.
OFFLINE_DATASETS = [
    "avfallsplan",
    "befolkning",
    "handlingsplan",
    "personbilar-drivmedel",
    "vaxthusgasutslapp",
]


@pytest.fixture(autouse=True)
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test (and the commands it runs) gets a TMPDIR of its own: `opendata verify` reports
    what killed runs left in TMPDIR, and one test's kills must not show up in another's."""
    import tempfile

    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return folder


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real Prefect API server on 127.0.0.1 for the whole session (Prefect's test harness)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        assert url and url.startswith("http://127.0.0.1")
        yield url


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A scratch home: a copy of the frozen datasets/ and schemas/ (FIXTURE_HOME), publishing
    to its own public/."""
    return copy_home(tmp_path / "repo")


def copy_home(root: Path, *names: str) -> Path:
    """`root` made a home holding copies of the frozen datasets `names` (all when none are
    named) and every schema; returns `root`."""
    source = FIXTURE_HOME / "datasets"
    for name in names or tuple(sorted(p.name for p in source.iterdir())):
        shutil.copytree(source / name, root / "datasets" / name)
    shutil.copytree(FIXTURE_HOME / "schemas", root / "schemas")
    return root


def run_cli(
    args: list[str], cwd: Path, api_url: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the installed `opendata` command as a steward would, in `cwd`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENDATA_", "PREFECT_"))
    }
    environment["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    environment["AWS_EC2_METADATA_DISABLED"] = "true"  # never ask a cloud metadata address
    if api_url:
        environment["PREFECT_API_URL"] = api_url
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "opendata", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time (to prove no rewrite)."""
    return {
        path.relative_to(folder).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def read_sheet(path: Path, label: str, sheet: str, header: int | tuple[int, ...]) -> RawSource:
    """A sheet read by the xlsx reader alone, as a source that maps its own columns declares
    it: `header` is its `header_row` (one row) or its `header_rows` (a tuple)."""
    from opendata.collect import xlsxfile
    from opendata.collect.common import ReadContext
    from opendata.definitions import XlsxSource

    rows = {"header_row": header} if isinstance(header, int) else {"header_rows": list(header)}
    source = XlsxSource.model_validate(
        {"kind": "xlsx", "path": path.name, "sheet": sheet, "columns": {"a": "a"}, **rows}
    )
    return xlsxfile.read(source, ReadContext(path, label, "here"))
