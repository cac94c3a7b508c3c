"""Issue 10, requirement 2: long work says what it is doing, retries of a slow API as they happen.

The library logs (logger `opendata`); the CLI shows its warnings on stderr in any case and its
progress in a terminal, so a steward waiting on an unreachable or slow API is not left in
silence.
"""

from __future__ import annotations

from pathlib import Path

from tests.collect.test_uppfoljning import serve_waste_kpis
from tests.conftest import run_cli
from tests.fakeapis import FakeApis


def test_retries_of_a_slow_api_are_shown_as_they_happen(
    workspace: Path, fake_apis: FakeApis
) -> None:
    serve_waste_kpis(fake_apis)
    fake_apis.fail("/v3/data", "500", times=2)
    done = run_cli(
        ["validate", "avfallsplan-uppfoljning"],
        workspace,
        OPENDATA_KOLADA_URL=fake_apis.kolada,
        OPENDATA_RETRY_BACKOFF="0.05",
        OPENDATA_STORE=str(workspace / "public"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    retries = [line for line in done.stderr.splitlines() if "retry" in line]
    assert len(retries) == 2, done.stderr
    assert retries[0].startswith(f"GET {fake_apis.kolada}/data")
    assert "retry 1 of" in retries[0] and "retry 2 of" in retries[1]
    assert done.stdout.startswith("avfallsplan-uppfoljning: valid")


def test_in_a_terminal_each_dataset_and_resource_shows_its_rows(workspace: Path) -> None:
    """Run under a pseudo-terminal, as a steward does: progress lines appear as work is done."""
    import os
    import pty
    import subprocess
    import sys

    controller, terminal = pty.openpty()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "PREFECT_"))
    }
    environment.update(OPENDATA_STORE=str(workspace / "public"), COLUMNS="120")
    process = subprocess.Popen(
        [sys.executable, "-m", "opendata", "publish", "--offline", "avfallsplan"],
        cwd=workspace,
        env=environment,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=120) == 0, output.decode("utf-8", "replace")
    os.close(controller)
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode("utf-8", "replace"))
    assert "avfallsplan: malomraden, 6 rows collected" in text, text
    assert "avfallsplan: mal, " in text and "avfallsplan: valid" in text, text
    assert text.count("avfallsplan: published 1.0.0") == 1, text
