"""Issue 10, requirement 2: long work says what it is doing, retries of a slow API as they happen.

The library logs (logger `opendata`); the CLI shows its warnings on stderr in any case and its
progress in a terminal, so a steward waiting on an unreachable or slow API is not left in
silence.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.fakeapis import FakeApis
from tests.test_uppfoljning import serve_waste_kpis


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
