"""Prefect flows that publish the datasets: the orchestration of `opendata.run`, as tasks.

`publish_all` runs every dataset as its own subflow (`publish_dataset`), so one invalid or
failing dataset does not stop the others; the run then ends Failed with a message naming those
that did not publish. Only the I/O tasks retry, and only when the error is transient. The loop,
the outcomes, the catalog update and the exit code are `opendata.run`'s: the same functions
that `opendata publish` runs in-process when no Prefect API is configured.

What a steward reads in the UI (Flow run → Artifacts): `publish_all` leaves a table of the
datasets (key `publish-summary`) on every run, failed runs included, and a report per dataset
whose data is wrong (key `invalid-<dataset>`), built by `opendata.reporting`. Failure
notifications are an automation (automations/notify-on-failure.yaml, `make notify`).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import Task, exponential_backoff

from opendata import reporting, run
from opendata.config import retry_backoff
from opendata.errors import OpendataError, is_transient
from opendata.package import BuiltPackage
from opendata.publish import Outcome, Prepared, publish_package
from opendata.run import RETRIES, RunFailed, outcome_of_failure
from opendata.versioning import Bump

__all__ = [
    "RETRIES",
    "SUMMARY_KEY",
    "RunFailed",
    "collect_and_validate",
    "outcome_of_failure",
    "publish_all",
    "publish_artifacts",
    "publish_dataset",
    "publish_version",
    "update_catalog",
]

RETRY_BACKOFF = retry_backoff()
SUMMARY_KEY = "publish-summary"


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry I/O only when the error may pass (a timeout, a 503), never on a data problem."""
    try:
        state.result()
    except Exception as error:
        return is_transient(error)
    return False


@task(name="collect-and-validate")
def collect_and_validate(
    name: str, home: str | None, store_url: str, offline: bool, refresh: bool
) -> Prepared:
    return run.collect_and_validate(name, home, store_url, offline, refresh)


@task(
    name="publish-version",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF),
    retry_jitter_factor=run.JITTER,
    retry_condition_fn=retry_if_transient,
)
def publish_version(
    package: BuiltPackage, store_url: str, base_url: str, bump: Bump | None, dry_run: bool
) -> Outcome:
    # `publish_package` is looked up in this module when the task runs (tests replace it).
    return run.publish_version(package, store_url, base_url, bump, dry_run, publish=publish_package)


@task(
    name="update-catalog",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF),
    retry_jitter_factor=run.JITTER,
    retry_condition_fn=retry_if_transient,
)
def update_catalog(store_url: str, base_url: str, touched: list[str]) -> list[str]:
    return run.update_catalog(store_url, base_url, touched)


@flow(name="publish-dataset", flow_run_name="publish-{name}")
def publish_dataset(
    name: str,
    store: str | None = None,
    bump: Bump | None = None,
    dry_run: bool = False,
    home: str | None = None,
    offline: bool = False,
    refresh: bool = False,
) -> dict[str, Any]:
    """Collect, validate and publish one dataset; raises (flow Failed) if it cannot.

    Offline, a dataset collected from a public API is `skipped`: its last published version
    stays latest.

    Args:
        name: The dataset to publish: its folder name under datasets/, e.g. "befolkning".
        store: Where to publish: a folder or a store URL such as s3://bucket/prefix, without
            credentials. Empty: OPENDATA_STORE of the worker, else public/ in the repository.
        bump: Make at least this version bump: major, minor or patch. Empty: the bump the
            changes require (a new column is minor, changed rows are patch, ...).
        dry_run: Collect, validate and work out the new version, but publish nothing.
        home: The repository folder holding datasets/ and schemas/. Empty: OPENDATA_HOME,
            else the working directory.
        offline: Ask no public API; a dataset collected from one is skipped (its last
            version stays).
        refresh: Collect resources that have a public API source (e.g. SCB) from the API
            instead of their files.
    """
    return run.publish_dataset(
        name,
        store,
        bump,
        dry_run,
        home,
        offline,
        refresh,
        prepare_step=collect_and_validate,
        publish_step=publish_version,
        logger=get_run_logger(),
    )


@flow(name="publish-all")
def publish_all(
    datasets: list[str] | None = None,
    store: str | None = None,
    bump: Bump | None = None,
    dry_run: bool = False,
    offline: bool = False,
    home: str | None = None,
    refresh: bool = False,
) -> list[dict[str, Any]]:
    """Publish the named datasets (all when none are named), each on its own.

    Every run leaves a table of what happened to each dataset, and a report for each dataset
    whose data is wrong, under Artifacts. A store URL with credentials is refused before
    anything runs: credentials belong in the worker's environment.

    Args:
        datasets: The datasets to publish: folder names under datasets/, e.g.
            ["befolkning", "avfallsplan"]. Empty: every dataset.
        store: Where to publish: a folder or a store URL such as s3://bucket/prefix, without
            credentials. Empty: OPENDATA_STORE of the worker, else public/ in the repository.
        bump: Make at least this version bump: major, minor or patch. Empty: the bump the
            changes require (a new column is minor, changed rows are patch, ...).
        dry_run: Collect, validate and work out the new versions, but publish nothing.
        offline: Ask no public API; datasets collected from one are skipped (their last
            versions stay).
        home: The repository folder holding datasets/ and schemas/. Empty: OPENDATA_HOME,
            else the working directory.
        refresh: Collect resources that have a public API source (e.g. befolkning from SCB's
            PxWeb) from the API instead of their files.
    """

    def publish_one(name: str) -> dict[str, Any]:
        state = publish_dataset(
            name,
            store=store,
            bump=bump,
            dry_run=dry_run,
            home=home,
            offline=offline,
            refresh=refresh,
            return_state=True,
        )
        if state.is_completed():
            result: dict[str, Any] = state.result()
            return result
        error = state.result(raise_on_failure=False)
        if not isinstance(error, Exception):
            error = RuntimeError(f"subflow ended {state.type.value}: {state.message}")
        raise error

    try:
        outcomes = run.publish_all(
            datasets,
            store,
            bump,
            dry_run,
            offline,
            home,
            refresh,
            publish_one=publish_one,
            catalog_step=update_catalog,
            logger=get_run_logger(),
        )
    except RunFailed as failure:
        publish_artifacts(failure.outcomes, failure.catalog_error)
        raise
    except OpendataError as error:
        publish_artifacts([], stopped=str(error))
        raise
    publish_artifacts(outcomes)
    return outcomes


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
