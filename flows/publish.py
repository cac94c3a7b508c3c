"""Prefect flows that publish the datasets: the orchestration of `opendata.run`, as tasks.

`publish_all` runs every dataset as its own subflow (`publish_dataset`), so one invalid or
failing dataset does not stop the others; the run then ends Failed with a message naming those
that did not publish. Only the I/O tasks retry, and only when the error is transient. The loop,
the outcomes, the catalog update and the exit code are `opendata.run`'s: the same functions
that `opendata publish` runs in-process when no Prefect API is configured.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import Task, exponential_backoff

from opendata import run
from opendata.config import retry_backoff
from opendata.errors import is_transient
from opendata.package import BuiltPackage
from opendata.publish import Outcome, Prepared, publish_package
from opendata.run import RETRIES, RunFailed, outcome_of_failure
from opendata.versioning import Bump

__all__ = [
    "RETRIES",
    "RunFailed",
    "collect_and_validate",
    "outcome_of_failure",
    "publish_all",
    "publish_dataset",
    "publish_version",
    "update_catalog",
]

RETRY_BACKOFF = retry_backoff()


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

    `offline` asks no remote source: datasets collected from a public API are `skipped`.
    `refresh` collects resources that have `live` sources from their public API instead of
    their files (e.g. befolkning from SCB's PxWeb). `store` is a folder or a store URL without
    credentials (one with credentials is refused before anything runs).
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

    return run.publish_all(
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
