"""The Prefect flows on a real Prefect API: isolation of failures, retries only when transient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flows.publish as flow_module
from opendata.errors import StoreError, TransientStoreError
from opendata.preparing import DatasetInvalid
from tests.cli.test_cli import write_broken_copy

pytestmark = pytest.mark.integration


def run_all(workspace: Path, names: list[str] | None = None) -> Any:
    return flow_module.publish_all(
        datasets=names, store=str(workspace / "public"), home=str(workspace), return_state=True
    )


def test_one_invalid_dataset_does_not_stop_the_others(workspace: Path, prefect_api: str) -> None:
    name, _ = write_broken_copy(workspace, "not-a-number")
    state = run_all(workspace, ["avfallsplan", name, "handlingsplan"])
    assert state.is_failed()
    assert state.message.endswith(f"Not published: {name} (invalid)")
    error = state.result(raise_on_failure=False)
    assert isinstance(error, flow_module.RunFailed)
    assert [(o["dataset"], o["status"], o["version"]) for o in error.outcomes] == [
        ("avfallsplan", "published", "1.0.0"),
        (name, "invalid", None),
        ("handlingsplan", "published", "1.0.0"),
    ]
    problem = error.outcomes[1]["problems"][0]
    assert problem["field"] == "folkmangd" and problem["code"] == "type-error"
    assert error.exit_code == 1


def logs_of(state: Any) -> list[str]:
    """Every message the flow run logged (its tasks' included), as the UI's Logs tab lists them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()  # the run's logs reach the API in batches: send the last one
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC,
        )
    return [log.message for log in logs]


def test_wrong_data_is_logged_as_sentences_not_as_a_crash(
    workspace: Path, prefect_api: str
) -> None:
    name, row = write_broken_copy(workspace, "not-a-number")
    state = run_all(workspace, [name])
    assert state.is_failed()
    assert state.message == f"Not published: {name} (invalid)"
    logs = logs_of(state)
    file = f"{name}/sources/folkmangd.csv"
    assert (
        f"{name}: ogiltig / invalid — 1 fel / 1 problem; se artefakten invalid-{name} / see the "
        f"artifact invalid-{name}\n"
        f"{file}, rad {row}, kolumn 'folkmangd': 'elvatusen' är inte ett heltal.\n"
        f"    {file}, row {row}, column 'folkmangd': 'elvatusen' is not a whole number. "
        "[type-error]"
    ) in logs
    # No traceback, no exception's repr with its raw problems: a data problem is no crash.
    assert not [m for m in logs if "Traceback" in m or "{'" in m or "Invalid(" in m], logs


def test_the_one_dataset_flow_fails_on_wrong_data_without_a_traceback(
    workspace: Path, prefect_api: str
) -> None:
    name, _ = write_broken_copy(workspace, "not-a-number")
    state = flow_module.publish_dataset(
        name, store=str(workspace / "public"), home=str(workspace), return_state=True
    )
    assert state.is_failed()
    assert state.message == f"Not published: {name} (invalid)"
    assert isinstance(state.result(raise_on_failure=False), DatasetInvalid)
    logs = logs_of(state)
    assert f"{name}: ogiltig / invalid — 1 fel / 1 problem" in [m.split("\n")[0] for m in logs]
    assert not [m for m in logs if "Traceback" in m or "{'" in m], logs


def test_a_transient_store_error_is_retried(
    workspace: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = flow_module.publish_package

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        if len(calls) == 1:
            raise TransientStoreError("503 Slow Down")
        return real(*args, **kwargs)

    monkeypatch.setattr(flow_module, "publish_package", flaky)
    monkeypatch.setattr(flow_module.publish_version, "retry_delay_seconds", [0])
    state = run_all(workspace, ["avfallsplan"])
    assert state.is_completed(), state.message
    assert [o["status"] for o in state.result()] == ["published"]
    assert len(calls) == 2


def test_a_terminal_store_error_is_not_retried(
    workspace: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        raise StoreError("access denied")

    monkeypatch.setattr(flow_module, "publish_package", broken)
    state = run_all(workspace, ["avfallsplan"])
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert [(o["status"], o["message"], o["exit_code"]) for o in error.outcomes] == [
        ("failed", "access denied", 3)
    ]
    assert len(calls) == 1
    # An operational failure keeps its traceback (in its task's log), for whoever runs it.
    logs = logs_of(state)
    assert "avfallsplan: failed: access denied" in logs
    assert any("Traceback" in m and "StoreError: access denied" in m for m in logs), logs
