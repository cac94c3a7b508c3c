"""Issue 11: one run shared by the workers of a work pool (flows/publish.py:publish_spread).

A real Prefect server on 127.0.0.1, one process work pool and three workers (each taking at most
two flow runs at once, so the work cannot all land on one), the deployments of prefect.yaml, and
a repository folder of twelve small datasets. The spread run splits them into four batches, each
a run of publish-on-demand; every dataset must be published exactly once, the catalog complete
and `verify` clean. The same run again with the server on PostgreSQL (tests/pgserver.py), where
no log may say `database is locked` and the server may answer nothing with a 5xx.
`bench/spread.py` runs it with 1,000 datasets on both and counts what SQLite costs.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import PrefectHTTPStatusError
from prefect.states import Completed, Crashed, Failed

from flows.publish import CRASHED_BATCH_RELAUNCHES, needs_relaunch, patiently, run_batches
from opendata.contention import Patience
from opendata.run import batches_of
from opendata.storage import open_store
from opendata.verification import verify
from tests.conftest import FIXTURE_HOME
from tests.flows.test_deployment import REPO, UUID, Stack, stack, wait_for_flow_run
from tests.pgserver import PostgresServer, postgres

__all__ = ["postgres", "stack"]  # the fixtures, imported for this module's tests

# The run of 1,000 datasets takes minutes on a 2-core machine: the suite runs twelve,
# TEST_SPREAD_DATASETS=1000 (and TEST_SPREAD_BATCHES) the full count.
DATASETS = [f"avfall-{n:04d}" for n in range(int(os.environ.get("TEST_SPREAD_DATASETS", "12")))]
BATCHES = int(os.environ.get("TEST_SPREAD_BATCHES", "4"))
BASE = "http://localhost:8000/"


def test_a_crashed_batch_is_launched_again_a_failed_one_is_not() -> None:
    """Prefect declares a batch Crashed when it loses its process or its heartbeats (a busy
    server's SQLite locks): launched again, up to CRASHED_BATCH_RELAUNCHES times. A batch that
    Failed failed on its own terms and is reported, not launched again."""
    endings = {  # batch number: the states of its successive launches
        1: [Completed()],
        2: [Crashed(), Crashed(), Completed()],
        3: [Failed(message="Flow run encountered an exception: RunFailed: 1 of 2 invalid")],
        4: [Crashed()] * (CRASHED_BATCH_RELAUNCHES + 2),
        5: [Failed(message=f"Flow run encountered an exception: {API_503}"), Completed()],
    }
    launches: list[tuple[int, int]] = []
    final: dict[uuid.UUID, FlowRun] = {}

    def launch(number: int, group: list[str], attempt: int) -> FlowRun:
        launches.append((number, attempt))
        flow_run_id = uuid.uuid4()
        final[flow_run_id] = FlowRun(
            id=flow_run_id,
            flow_id=uuid.uuid4(),
            name=f"batch-{number}",
            state=endings[number][attempt - 1],
        )
        return FlowRun(id=flow_run_id, flow_id=uuid.uuid4(), name=f"batch-{number}")

    def wait(ids: list[uuid.UUID]) -> dict[uuid.UUID, FlowRun]:
        return {flow_run_id: final[flow_run_id] for flow_run_id in ids}

    groups = [["a"], ["b", "c"], ["d"], ["e"], ["f"]]
    settled = run_batches(groups, launch, wait)
    outcome = [(n, g, run.state.type.value if run.state else None, k) for n, g, run, k in settled]
    assert outcome == [
        (1, ["a"], "COMPLETED", 1),
        (2, ["b", "c"], "COMPLETED", 3),
        (3, ["d"], "FAILED", 1),
        (4, ["e"], "CRASHED", CRASHED_BATCH_RELAUNCHES + 1),
        (5, ["f"], "COMPLETED", 2),
    ]
    assert sorted(launches) == [
        (1, 1),
        (2, 1),
        (2, 2),
        (2, 3),
        (3, 1),
        *((4, k) for k in range(1, CRASHED_BATCH_RELAUNCHES + 2)),
        (5, 1),
        (5, 2),
    ]


API_503 = (
    "PrefectHTTPStatusError: Server error '503 Service Unavailable' for url "
    "'http://127.0.0.1:4200/api/task_runs/'"
)


@pytest.mark.parametrize(
    ("message", "relaunched"),
    [
        (API_503, True),
        ("ReadTimeout: timed out", True),
        ("httpx.ConnectError: [Errno 111] Connection refused", True),
        ("PrefectHTTPStatusError: Client error '429 Too Many Requests' for url 'x'", True),
        ("PrefectHTTPStatusError: Client error '404 Not Found' for url 'x'", False),
        ("RunFailed: avfall-0001 invalid (row 7, column 'ar': 'x' is not a year)", False),
        ("ValueError: Server error '503' in a dataset's own message", False),
    ],
)
def test_a_batch_that_failed_for_the_api_is_relaunched_one_that_failed_on_data_is_not(
    message: str, relaunched: bool
) -> None:
    state = Failed(message=f"Flow run encountered an exception: {message}")
    assert needs_relaunch(state) is relaunched
    assert needs_relaunch(Crashed()) and not needs_relaunch(Completed())


def busy(status: int) -> PrefectHTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:4200/api/task_runs/")
    response = httpx.Response(status, request=request)
    return PrefectHTTPStatusError(f"Server error '{status}'", request=request, response=response)


@pytest.mark.integration
def test_prefect_words_a_flow_that_its_api_failed_the_way_needs_relaunch_reads(
    prefect_api: str,
) -> None:
    """The message needs_relaunch reads is written by Prefect's engine: a flow whose call to the
    API got a 503 (or timed out) is relaunched, one that raised our RunFailed is not."""
    from prefect import flow

    from opendata.run import RunFailed

    @flow
    def api_unavailable() -> None:
        raise busy(503)

    @flow
    def api_too_slow() -> None:
        raise httpx.ReadTimeout("timed out")

    @flow
    def data_invalid() -> None:
        raise RunFailed("1 of 2 datasets did not publish: avfall-0001 invalid", [])

    assert needs_relaunch(api_unavailable(return_state=True))
    assert needs_relaunch(api_too_slow(return_state=True))
    assert not needs_relaunch(data_invalid(return_state=True))


def test_the_spread_asks_a_busy_api_again_and_gives_up_on_other_errors() -> None:
    """Launching a batch and reading its state: a 503 or a timeout is asked again (the
    launch's idempotency key makes that the same flow run); a 404 or a bug is raised at once;
    a server busy for longer than the patience is raised with its own error."""
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    patience = Patience(
        seconds=60, first_pause=1, longest_pause=30, clock=lambda: now[0], sleep=sleep
    )
    answers: list[BaseException | str] = [busy(503), httpx.ReadTimeout("slow"), "flow run"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert patiently(call, patience) == "flow run" and len(pauses) == 2
    answers[:] = [busy(404)]
    with pytest.raises(PrefectHTTPStatusError):
        patiently(call, patience)
    answers[:] = [busy(503)] * 1000
    with pytest.raises(PrefectHTTPStatusError) as raised:
        patiently(call, patience)
    assert raised.value.response.status_code == 503 and now[0] >= 60


def test_batches_cover_every_name_once_in_order() -> None:
    names = [f"d{n}" for n in range(10)]
    assert batches_of(names, 3) == [names[0:4], names[4:7], names[7:10]]
    assert batches_of(names, 20) == [[name] for name in names]
    assert batches_of(names[:1], 3) == [names[:1]]
    assert batches_of([], 3) == []


def a_home(root: Path, datasets: list[str] = DATASETS) -> Path:
    """A repository folder as a worker sees it: the flows, the schemas, copies of one
    dataset named `datasets`."""
    (root / "datasets").mkdir(parents=True)
    (root / "flows").symlink_to(REPO / "flows", target_is_directory=True)
    shutil.copytree(FIXTURE_HOME / "schemas", root / "schemas")
    for name in datasets:
        shutil.copytree(FIXTURE_HOME / "datasets" / "avfallsplan", root / "datasets" / name)
    return root


def run_spread(
    stack: Stack, datasets: list[str], batches: int, workers: int = 3
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The steward's steps on a fresh server: the pool, the deployments, `workers` workers
    (each taking at most two runs at once) and one spread run of `datasets` in `batches`;
    returns the spread run and the last launch of each batch, by name, once it has ended."""
    home = a_home(stack.tmp / "home", datasets)
    stack.start_server()
    stack.run("work-pool", "work-pool", "create", "opendata", "--type", "process")
    stack.run(
        "deploy",
        "deploy",
        "--no-prompt",
        "--name",
        "publish-on-demand",
        "--name",
        "publish-spread",
        unset=("OPENDATA_HOME",),
    )
    stack.env["OPENDATA_HOME"] = str(home)
    for number in range(1, workers + 1):
        stack.start_worker(
            f"worker-{number}", "--name", f"worker-{number}", "--limit", "2", cwd=stack.tmp
        )
    output = stack.run(
        "deployment-run",
        "deployment",
        "run",
        "publish-spread/publish-spread",
        "--param",
        f"batches={batches}",
    )
    found = UUID.search(output.split("UUID", 1)[-1]) or UUID.search(output)
    assert found, output
    parent = wait_for_flow_run(stack, found.group(0), timeout=600 + 2 * len(datasets))
    # A batch Prefect declared Crashed was launched again: its last launch counts.
    response = stack.post("/flow_runs/filter", {"flow_runs": {"name": {"like_": "batch-"}}})
    last_launches = {run["name"]: run for run in sorted(response, key=lambda run: run["created"])}
    return parent, sorted(last_launches.values(), key=lambda run: run["name"])


@pytest.mark.integration
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_spread_run_is_shared_by_the_workers_of_the_pool(
    stack: Stack, database: str, request: pytest.FixtureRequest
) -> None:
    """On SQLite (Prefect's default) and on PostgreSQL (the production layout); on PostgreSQL
    no log says `database is locked` and the server answers no request with a 5xx."""
    if database == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        stack.env["PREFECT_API_DATABASE_CONNECTION_URL"] = postgres.database("prefect_spread")
    try:
        parent, batches = run_spread(stack, DATASETS, BATCHES)
        assert parent["state"]["type"] == "COMPLETED", (parent["state"], stack.dump())

        # Four batches, each a completed run of publish-on-demand, covering every dataset once.
        assert [run["name"] for run in batches] == [
            f"batch-{n}-of-{BATCHES}" for n in range(1, BATCHES + 1)
        ]
        assert all(run["state"]["type"] == "COMPLETED" for run in batches)
        covered = [name for run in batches for name in run["parameters"]["datasets"]]
        assert sorted(covered) == DATASETS
        # The workers shared them: no worker can hold more than two runs at a time.
        ran = [
            number
            for number in (1, 2, 3)
            if "batch-" in (stack.logs / f"worker-{number}.log").read_text(errors="replace")
        ]
        assert len(ran) >= 2, stack.dump()

        # Every dataset published exactly once, the catalog complete, verify clean.
        for name in DATASETS:
            history = json.loads((stack.store / "datasets" / name / "versions.json").read_text())
            assert [v["version"] for v in history["versions"]] == ["1.0.0"], name
        catalog = json.loads((stack.store / "catalog.json").read_text())
        assert sorted((d["name"], d["latest"]) for d in catalog["datasets"]) == [
            (name, "1.0.0") for name in DATASETS
        ]
        assert verify(open_store(str(stack.store)), BASE)[1] == []

        if database == "postgresql":
            stack.stop_all()  # the logs are complete once every process has stopped
            locked, answers = stack.trouble()
            assert answers[201] >= len(DATASETS), answers  # the access log was read
            errors = {status: n for status, n in answers.items() if status >= 500}
            assert (locked, errors) == (0, {}), stack.dump()
    except BaseException:
        print(stack.dump())
        raise
