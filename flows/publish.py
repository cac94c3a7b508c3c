"""Prefect flows that publish the datasets: the orchestration of `opendata.run`, as tasks.

`publish_all` submits every dataset as a task of its own (`publish-dataset`, run name
`publish-<dataset>`) to the flow's task runner, so datasets publish side by side and one invalid
or failing dataset does not stop the others; the run then ends Failed with a message naming those
that did not publish. A dataset whose public API cannot be reached is skipped, not failed: a run
with nothing else wrong ends Completed, named "Completed with skips", its message naming the
dataset, the source and what failed (opendata.run.skips_message). The task runner is chosen
when each run starts, from the settings of the process running the flow: an existing Dask
cluster when OPENDATA_DASK_ADDRESS is set (prefect-dask; its workers need this repository on
PYTHONPATH and the store's settings and credentials), else threads in the flow's process,
OPENDATA_PARALLEL of them (default 4). (Prefect 3 runs a subflow in the caller's thread, never
on a task runner: hence a task per dataset.) The `publish-dataset` flow publishes one dataset on
its own, for a deployment or a person.

Only the I/O tasks retry, and only when the error is transient. The loop, the outcomes, the
catalog update and the exit code are `opendata.run`'s: the same functions that `opendata publish`
runs in-process when no Prefect API is configured.

What a steward reads in the UI (Flow run → Artifacts): `publish_all` leaves a table of the
datasets (key `publish-summary`) on every run, failed runs included, and a report per dataset
whose data is wrong (key `invalid-<dataset>`), built by `opendata.reporting`. Failure
notifications are an automation (automations/notify-on-failure.yaml, `make notify`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from uuid import UUID

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, State, TaskRun
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError
from prefect.futures import PrefectFuture
from prefect.logging import get_logger
from prefect.states import Completed, Failed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.tasks import Task, exponential_backoff

from opendata import journal, reporting, run
from opendata.config import DEFAULT_PARALLEL, load_settings, retry_backoff
from opendata.contention import Patience
from opendata.errors import OpendataError, is_transient
from opendata.liveness import Owner, current_owner
from opendata.package import BuiltPackage
from opendata.parameters import (
    Batches,
    BumpChoice,
    Datasets,
    Deployment,
    DryRun,
    Home,
    Message,
    Name,
    Offline,
    PollSeconds,
    Refresh,
    Republish,
    Store,
)
from opendata.preparing import Prepared
from opendata.publish import Outcome, publish_package
from opendata.request import RunRequest
from opendata.run import RETRIES, RunFailed, outcome_of_failure

__all__ = [
    "RETRIES",
    "SUMMARY_KEY",
    "RunFailed",
    "collect_and_validate",
    "outcome_of_failure",
    "publish_all",
    "publish_artifacts",
    "publish_dataset",
    "publish_one",
    "publish_spread",
    "publish_version",
    "task_runner",
    "update_catalog",
]

RETRY_BACKOFF = retry_backoff()
SUMMARY_KEY = "publish-summary"
SPREAD_KEY = "publish-spread"
ON_DEMAND = "publish-all/publish-on-demand"


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry I/O only when the error may pass (a timeout, a 503), never on a data problem."""
    try:
        state.result()
    except Exception as error:
        return is_transient(error)
    return False


# The steps' inputs hold the run's open store: nothing here is cached by its inputs (a publish
# is never skipped as done before), so no input is hashed.
@task(name="collect-and-validate", cache_policy=NO_CACHE)
def collect_and_validate(name: str, context: run.RunContext) -> Prepared | run.Unreachable:
    return run.collect_and_validate(name, context)


@task(
    name="publish-version",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF),
    retry_jitter_factor=run.JITTER,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
def publish_version(package: BuiltPackage, context: run.RunContext) -> Outcome:
    # `publish_package` is looked up in this module when the task runs (tests replace it).
    return run.publish_version(package, context, publish=publish_package)


@task(
    name="update-catalog",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF),
    retry_jitter_factor=run.JITTER,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
def update_catalog(context: run.RunContext, touched: list[str]) -> list[str]:
    return run.update_catalog(context, touched)


# -- one dataset as a task, on the flow's task runner --------------------------------------------


@task(name="publish-dataset", task_run_name="publish-{name}", cache_policy=NO_CACHE)
def publish_one(name: str, request: RunRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """One dataset, wherever the task runner runs it (a thread, a Dask worker).

    The run's context (settings, store) is the flow's in its own process, a Dask worker's own
    elsewhere (run.context_for). Returns the outcome and the process that published it (whose
    journal marks the flow lets go of once the catalog is rebuilt). Wrong data is an outcome
    (`invalid`), not an error: the task completes and the run reports it, without a traceback.
    Any other error carries that process as `publisher`.
    """
    publisher = current_owner().to_record()
    try:
        outcome = run.publish_dataset(
            name,
            run.context_for(request),
            prepare_step=collect_and_validate,
            publish_step=publish_version,
            logger=get_run_logger(),
        )
    except Exception as error:
        invalid = run.data_problem(name, error)
        if invalid is not None:
            return invalid, publisher
        error.publisher = publisher  # type: ignore[attr-defined]
        raise
    return outcome, publisher


class ConfiguredTaskRunner(TaskRunner[PrefectFuture[Any]]):
    """The flow's task runner, chosen when each run starts (Prefect starts a run's runner with
    `duplicate()`): so the settings of the process that runs the flow decide, not those at
    import, and a deployment's worker is configured by its environment."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def duplicate(self) -> Any:
        return task_runner()

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ConfiguredTaskRunner only chooses a task runner: see duplicate()")


def task_runner() -> TaskRunner[Any]:
    """A DaskTaskRunner on OPENDATA_DASK_ADDRESS's cluster, else OPENDATA_PARALLEL threads.

    A bad setting is reported by the flow itself (it checks the settings first, and says so in
    its artifacts): here it only falls back to the default threads.
    """
    try:
        settings = load_settings()
    except OpendataError:
        return ThreadPoolTaskRunner(max_workers=DEFAULT_PARALLEL)
    if settings.dask_address:
        from prefect_dask.task_runners import DaskTaskRunner

        return DaskTaskRunner(address=settings.dask_address)
    return ThreadPoolTaskRunner(max_workers=settings.parallel or DEFAULT_PARALLEL)


def submit_to_runner(request: RunRequest, publishers: dict[str, Owner]) -> run.Submit:
    """`submit` for `run.publish_all`: the dataset's task goes to the flow's task runner.

    Waiting gives the outcome, or raises the task's error; the publishing process of each
    dataset is noted in `publishers`.
    """

    def submit(name: str) -> Callable[[], dict[str, Any]]:
        future = publish_one.submit(name, request)

        def wait() -> dict[str, Any]:
            future.wait()
            state = future.state
            if state.is_completed():
                outcome, publisher = state.result()
                _note(publishers, name, publisher)
                return dict(outcome)
            error = state.result(raise_on_failure=False)
            if not isinstance(error, Exception):
                error = RuntimeError(f"task ended {state.type.value}: {state.message}")
            _note(publishers, name, getattr(error, "publisher", None))
            raise error

        return wait

    return submit


def _note(publishers: dict[str, Owner], name: str, record: Any) -> None:
    owner = Owner.from_record(record)
    if owner is not None:
        publishers[name] = owner


def let_go_of_marks(context: run.RunContext, publishers: dict[str, Owner]) -> None:
    """Remove the journal marks that other processes (Dask workers) made for this run.

    The catalog rebuild removes the marks of the process it runs in and of dead ones; a mark of
    a worker that is still alive would otherwise stay until that worker ends. The catalog has
    just been rebuilt for these datasets, so their marks have served. A failure here is only
    logged: the next run or the worker's end clears them.
    """
    me = current_owner()
    remote = {name: owner for name, owner in publishers.items() if owner != me}
    if not remote:
        return
    try:
        for name, owner in remote.items():
            context.store.delete(journal.mark_key(name, owner))
    except Exception as error:
        get_run_logger().warning("journal marks not removed: %s: %s", type(error).__name__, error)


@flow(name="publish-dataset", flow_run_name="publish-{name}")
def publish_dataset(
    name: Name,
    store: Store = "",
    bump: BumpChoice = "",
    dry_run: DryRun = False,
    home: Home = "",
    offline: Offline = False,
    refresh: Refresh = False,
    message: Message = "",
    republish: Republish = False,
) -> dict[str, Any] | State[Any]:
    """Collect, validate and publish one dataset; the run fails if it cannot.

    Offline, a dataset collected from a public API is `skipped`: its last published version
    stays latest. So is one whose public API cannot be reached, and the run ends Completed
    with skips (run.SKIPS_STATE), its message saying which source and why. Wrong data fails
    the run with its problems logged as sentences (no traceback: it is no crash).

    The parameters are described once, in opendata.parameters (the run form shows them).
    """
    try:
        request = RunRequest.from_form(
            datasets=[name],
            store=store,
            bump=bump,
            dry_run=dry_run,
            offline=offline,
            home=home,
            refresh=refresh,
            message=message,
            republish=republish,
        )
        outcome = run.publish_dataset(
            name,
            run.RunContext.open(request),
            prepare_step=collect_and_validate,
            publish_step=publish_version,
            logger=get_run_logger(),
        )
        return completed(outcome, run.skips_message([outcome]))
    except Exception as error:
        invalid = run.data_problem(name, error)
        if invalid is None:
            raise  # an operational failure: Prefect logs its traceback
        get_run_logger().error("%s", run.failure_text(invalid))
        return Failed(message=f"Not published: {name} (invalid)", data=error)


@flow(name="publish-all", task_runner=ConfiguredTaskRunner())
def publish_all(
    datasets: Datasets = (),
    store: Store = "",
    bump: BumpChoice = "",
    dry_run: DryRun = False,
    offline: Offline = False,
    home: Home = "",
    refresh: Refresh = False,
    message: Message = "",
    republish: Republish = False,
) -> list[dict[str, Any]] | State[Any]:
    """Publish the named datasets (all when none are named), each on its own, side by side.

    Each dataset is a task on the flow's task runner: OPENDATA_PARALLEL threads (default 4),
    or the Dask cluster at OPENDATA_DASK_ADDRESS. Every run leaves a table of what happened to
    each dataset, and a report for each dataset whose data is wrong, under Artifacts. A store
    URL with credentials is refused before anything runs: credentials belong in the worker's
    environment. A run that did not publish everything ends Failed with a message naming what
    did not publish; wrong data is logged as sentences, not as a traceback (it is no crash).
    A dataset whose public API cannot be reached is skipped (its last version stays latest):
    when that is all that went wrong, the run ends "Completed with skips" (a Completed state)
    with a message naming the dataset, the source and what failed.

    The parameters are described once, in opendata.parameters (the run form shows them).
    """
    publishers: dict[str, Owner] = {}
    try:
        request = RunRequest.from_form(
            datasets=datasets,
            store=store,
            bump=bump,
            dry_run=dry_run,
            offline=offline,
            home=home,
            refresh=refresh,
            message=message,
            republish=republish,
        )
        context = run.RunContext.open(request)
        outcomes = run.publish_all(
            context,
            submit=submit_to_runner(request, publishers),
            catalog_step=update_catalog,
            logger=get_run_logger(),
            artifacts=True,
        )
    except RunFailed as failure:
        if failure.catalog_error is not None:
            get_run_logger().error("%s", failure.catalog_error)  # the run's log says it once
        if failure.catalog_error is None and not dry_run:
            let_go_of_marks(context, publishers)
        publish_artifacts(failure.outcomes, failure.catalog_error)
        # Failed with the run's message, not a traceback: each dataset's error is logged
        # already (a traceback by its task when it is an operational one).
        return Failed(message=str(failure), data=failure)
    except OpendataError as error:
        publish_artifacts([], stopped=str(error))
        get_run_logger().error("%s", error)
        return Failed(message=str(error), data=error)
    if not dry_run:
        let_go_of_marks(context, publishers)
    publish_artifacts(outcomes)
    return completed(outcomes, run.skips_message(outcomes))


R = TypeVar("R")


def completed(result: R, skips: str | None) -> R | State[Any]:
    """`result`, or when datasets were skipped because a public API could not be reached, a
    Completed state named so that carries it: the run did its work (the other datasets are
    published, the catalog updated), and the UI, the notification and the CLI say what was
    skipped and why."""
    if skips is None:
        return result
    return Completed(name=run.SKIPS_STATE, message=skips, data=result)


def publish_artifacts(
    outcomes: list[dict[str, Any]], catalog_error: str | None = None, stopped: str | None = None
) -> None:
    """The run's artifacts: a report per dataset whose data is wrong, then the summary table.

    `stopped` is the error of a run that stopped before any dataset (a bad setting). An
    artifact that cannot be written is logged: it never changes how the run ends.
    """
    logger = get_run_logger()
    try:
        for outcome in outcomes:
            if reporting.is_data_problem(outcome):
                name = str(outcome["dataset"])
                create_markdown_artifact(
                    reporting.invalid_report(outcome),
                    key=reporting.artifact_key("invalid", name),
                    description=reporting.escape(
                        f"Fel i källdata för {name}: vad som är fel och hur det rättas / "
                        f"Errors in the source data of {name}: what is wrong and how to fix it"
                    ),
                )
        rows = reporting.summary_rows(outcomes)
        if stopped is not None:
            rows.append(reporting.stopped_row(stopped))
        description = "Vad som hände med varje datamängd / What happened to each dataset"
        if catalog_error:
            description += f". Katalogen uppdaterades inte / {catalog_error}"
        create_table_artifact(
            rows, key=SUMMARY_KEY, description=reporting.escape(description, limit=2000)
        )
    except Exception as error:  # the run's own outcome matters more than its artifacts
        logger.warning("artifacts not written: %s: %s", type(error).__name__, error)


# -- one run over the workers of a work pool ------------------------------------------------------


@flow(name="publish-spread")
def publish_spread(
    datasets: Datasets = (),
    batches: Batches = 3,
    deployment: Deployment = ON_DEMAND,
    store: Store = "",
    bump: BumpChoice = "",
    dry_run: DryRun = False,
    offline: Offline = False,
    home: Home = "",
    refresh: Refresh = False,
    message: Message = "",
    republish: Republish = False,
    poll_seconds: PollSeconds = 2.0,
) -> list[dict[str, Any]] | State[Any]:
    """Share one run among the workers of a work pool: the datasets in batches, each batch a
    flow run of `deployment` that whichever worker of its pool is free picks up.

    Each batch publishes its datasets and updates the catalog for them (concurrent catalog
    updates are compare-and-swap, so none is lost). This run waits for every batch, leaves a
    table of them under Artifacts, and fails naming the batches that did not complete; when
    batches completed with skips (a public API out of reach), it ends so too, naming them. A
    retried run starts no batch twice (each batch's key is this run's id and its number),
    and a batch that ended for Prefect's reasons (Crashed, or Failed because its API did not
    answer) is launched again (CRASHED_BATCH_RELAUNCHES).

    The parameters are described once, in opendata.parameters (the run form shows them).
    """
    logger = get_run_logger()
    request = RunRequest.from_form(
        datasets=datasets,
        store=store,
        bump=bump,
        dry_run=dry_run,
        offline=offline,
        home=home,
        refresh=refresh,
        message=message,
        republish=republish,
    )
    settings = run.check_configuration(request)
    groups = run.batches_of(run.datasets_to_publish(request.names, settings), batches)
    from prefect.runtime import flow_run as this_run

    def launch(number: int, group: list[str], attempt: int) -> FlowRun:
        again = "" if attempt == 1 else f"-attempt-{attempt}"
        child = patiently(  # its idempotency key makes a repeated launch the same flow run
            lambda: cast(  # a sync call here: run_deployment is async only when awaited
                FlowRun,
                run_deployment(
                    deployment,
                    # What the form left empty is left out: the deployment's default applies.
                    parameters=request.for_datasets(group).to_form(),
                    flow_run_name=f"batch-{number}-of-{len(groups)}",
                    idempotency_key=f"{this_run.id}-batch-{number}{again}",
                    timeout=0,  # started, not awaited: the workers run them side by side
                ),
            )
        )
        logger.info(
            "batch %d of %d%s: %s (%s)",
            number,
            len(groups),
            f", attempt {attempt}" if attempt > 1 else "",
            child.name,
            ", ".join(group),
        )
        return child

    settled = run_batches(groups, launch, lambda ids: wait_for_runs(ids, poll_seconds))
    rows, failed, skips = batch_table(settled)
    try:
        create_table_artifact(
            rows,
            key=SPREAD_KEY,
            description=reporting.escape(
                "Körningens delar och hur de slutade / The run's batches and how they ended"
            ),
        )
    except Exception as error:  # the batches' outcome matters more than this table
        logger.warning("artifact not written: %s: %s", type(error).__name__, error)
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(rows)} batches did not complete: "
            + "; ".join(f"{row['flow_run']} {row['state']} ({row['datasets']})" for row in failed)
            + " (each batch's run says why, under its Artifacts and logs)"
        )
    return completed(rows, run.spread_skips_message(skips, len(rows)))


def batch_table(
    settled: list[tuple[int, list[str], FlowRun, int]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]:
    """The spread's table (a row per batch: its number, flow run, final state's name, launches
    and datasets), the rows of the batches that did not complete, and the flow run name and
    state message of each batch that completed with skips (a public API out of reach: the
    batch did its work, so the spread is no failure for it)."""
    rows, failed, skips = [], [], []
    for number, group, child, attempts in settled:
        state = child.state
        row = {
            "batch": f"{number} of {len(settled)}",
            "flow_run": child.name,
            "state": state.name if state else "unknown",
            "attempts": attempts,
            "datasets": ", ".join(group),
        }
        rows.append(row)
        if state is None or not state.is_completed():
            failed.append(row)
        elif state.name == run.SKIPS_STATE:
            skips.append((child.name, state.message or ""))
    return rows, failed, skips


T = TypeVar("T")

# A batch Prefect declares Crashed (its process lost, or its heartbeats not persisted by a
# busy server: SQLite locks under several workers), or that Failed because the Prefect API did
# not answer (ORCHESTRATION_FAILURE), has not failed on its data: it is launched again, as
# often as this. Publishing again is safe: what was published is "unchanged", and a
# still-living first attempt is kept apart by the datasets' claims and compare-and-swap.
CRASHED_BATCH_RELAUNCHES = 2

# How Prefect's engine words a flow run that failed because a call to its own API did (the
# message of the Failed state: "Flow run encountered an exception: <type>: <message>"): a
# server error or a lost connection, not an error of the flow's code or data.
ORCHESTRATION_FAILURE = re.compile(
    r"exception: (?:PrefectHTTPStatusError: Server error '5\d\d"
    r"|PrefectHTTPStatusError: Client error '(?:408|429)"
    r"|(?:httpx\.)?(?:ReadTimeout|WriteTimeout|ConnectTimeout|PoolTimeout|ConnectError"
    r"|ReadError|WriteError|RemoteProtocolError)\b)"
)

# A busy Prefect server (SQLite locked while several workers report) answers 503 or times out
# for minutes; Prefect's client retries each request only a few times. The spread's own calls
# (launching a batch, which its idempotency key makes safe to repeat; reading a batch's state)
# go on for this long before the run gives up.
ORCHESTRATION_PATIENCE = Patience(seconds=600, first_pause=1.0, longest_pause=30.0)


def orchestration_is_busy(error: BaseException) -> bool:
    """Whether `error` is the Prefect API being unavailable for now (worth asking again)."""
    if isinstance(error, PrefectHTTPStatusError):
        return error.response.status_code in {408, 429, 500, 502, 503, 504}
    return isinstance(error, httpx.TransportError)


def needs_relaunch(state: State | None) -> bool:
    """Whether a batch that ended in `state` ended for Prefect's reasons, not its own."""
    if state is None:
        return False
    if state.is_crashed():
        return True
    return state.is_failed() and bool(ORCHESTRATION_FAILURE.search(state.message or ""))


def patiently(call: Callable[[], T], patience: Patience = ORCHESTRATION_PATIENCE) -> T:
    """`call()`, asked again while the Prefect API is busy, up to `patience`."""
    busy: BaseException | None = None
    for attempt in patience.attempts():
        try:
            return call()
        except Exception as error:
            if not orchestration_is_busy(error):
                raise
            busy = error
            get_logger("opendata.spread").warning(
                "the Prefect API is busy (%s), attempt %d; asking again", error, attempt
            )
    assert busy is not None
    raise busy


def run_batches(
    groups: list[list[str]],
    launch: Callable[[int, list[str], int], FlowRun],
    wait: Callable[[list[UUID]], dict[UUID, FlowRun]],
    relaunches: int = CRASHED_BATCH_RELAUNCHES,
) -> list[tuple[int, list[str], FlowRun, int]]:
    """Launch every batch (`launch(number, group, attempt)`), wait until all are final, and
    launch again each that ended for Prefect's reasons (needs_relaunch), up to `relaunches`
    times. Each batch's number, datasets, last flow run (in its final state) and number of
    launches."""
    current = {number: launch(number, group, 1) for number, group in enumerate(groups, start=1)}
    attempts = dict.fromkeys(current, 1)
    while True:
        finished = wait([flow_run.id for flow_run in current.values()])
        current = {number: finished[flow_run.id] for number, flow_run in current.items()}
        again = [
            number
            for number, flow_run in current.items()
            if needs_relaunch(flow_run.state) and attempts[number] <= relaunches
        ]
        if not again:
            return [
                (number, groups[number - 1], current[number], attempts[number])
                for number in sorted(current)
            ]
        for number in again:
            attempts[number] += 1
            current[number] = launch(number, groups[number - 1], attempts[number])


def wait_for_runs(ids: list[UUID], poll_seconds: float) -> dict[UUID, FlowRun]:
    """Every flow run of `ids`, read again until its state is final (a busy API is asked
    again, see patiently)."""
    done: dict[UUID, FlowRun] = {}
    with get_client(sync_client=True) as client:
        while len(done) < len(ids):
            for flow_run_id in ids:
                if flow_run_id in done:
                    continue
                current = patiently(lambda: client.read_flow_run(flow_run_id))  # noqa: B023
                if current.state is not None and current.state.is_final():
                    done[flow_run_id] = current
            if len(done) < len(ids):
                time.sleep(poll_seconds)
    return done
