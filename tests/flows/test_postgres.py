"""Prefect's server on PostgreSQL (tests/pgserver.py): the layout README's "Production layout"
describes, where the workers of a pool no longer wait on SQLite's one writer."""

from __future__ import annotations

import httpx
import pytest

from tests import pgserver
from tests.flows.test_deployment import Stack, stack
from tests.pgserver import PostgresServer, postgres

__all__ = ["postgres", "stack"]  # the fixtures, imported for this module's tests


@pytest.mark.integration
def test_the_prefect_server_keeps_its_state_in_postgresql(
    stack: Stack, postgres: PostgresServer
) -> None:
    """Started with PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://…, the server
    migrates the empty database and keeps what it is told there, not in a SQLite file. Its
    role is an ordinary one that owns the database (README, "Production layout": createuser,
    createdb --owner), which may create Prefect's extension pg_trgm. Its access log, which
    the spread test reads for 5xx, records every answer."""
    url = postgres.database("prefect_starts", owner="opendata_prefect")
    stack.env["PREFECT_API_DATABASE_CONNECTION_URL"] = url
    stack.start_server()
    try:
        stack.run("work-pool", "work-pool", "create", "opendata", "--type", "process")
        assert postgres.query("prefect_starts", "SELECT name, type FROM work_pool") == [
            "opendata|process"
        ]
        extensions = postgres.query("prefect_starts", "SELECT extname FROM pg_extension")
        assert "pg_trgm" in extensions  # Prefect's name searches; Debian ships it
        assert not list((stack.tmp / "prefect-home").glob("*.db"))
        missing = httpx.get(f"{stack.api}/deployments/name/no-such/deployment", timeout=10)
        assert missing.status_code == 404
        stack.stop_all()  # the log is complete once the server has stopped
        locked, answers = stack.trouble()
        log = (stack.logs / "server.log").read_text()
        assert '"GET /api/deployments/name/no-such/deployment HTTP/1.1" 404' in log
        assert answers[404] >= 1 and answers[201] >= 1, answers
        assert locked == 0 and not [status for status in answers if status >= 500], answers
    except BaseException:
        print(stack.dump())
        raise


def test_without_postgresql_the_tests_skip_except_where_it_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A machine without PostgreSQL skips with the reason and the package to install; CI,
    which sets OPENDATA_REQUIRE_POSTGRES=1, fails instead of passing green without it."""
    monkeypatch.setattr(pgserver, "postgres_bindir", lambda: None)
    monkeypatch.delenv(pgserver.REQUIRED, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        pgserver.require_postgres()
    monkeypatch.setenv(pgserver.REQUIRED, "1")
    with pytest.raises(pytest.fail.Exception, match="OPENDATA_REQUIRE_POSTGRES is set"):
        pgserver.require_postgres()
