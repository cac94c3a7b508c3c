"""Prefect flows that publish the datasets; all logic lives in `opendata` (the core).

`publish_all` runs every dataset as its own subflow, so one invalid or failing dataset does not
stop the others; the run then ends Failed with a message naming those that did not publish.
Only the I/O tasks retry, and only when the error is transient.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import Task, exponential_backoff

from opendata.catalog import rebuild_catalog
from opendata.collect.remote import remote_sources
from opendata.config import load_settings, retry_backoff
from opendata.definitions import discover
from opendata.errors import ConfigError, OpendataError, is_transient
from opendata.package import BuiltPackage
from opendata.publish import (
    DatasetInvalid,
    Outcome,
    Prepared,
    load,
    prepare,
    publish_package,
    require_valid,
    skipped,
)
from opendata.storage import open_store
from opendata.versioning import Bump

RETRIES = 3
RETRY_BACKOFF = retry_backoff()


class RunFailed(OpendataError):
    """Some datasets were invalid or failed; carries every dataset's outcome for the CLI."""

    def __init__(
        self, message: str, outcomes: list[dict[str, Any]], catalog_error: str | None = None
    ) -> None:
        super().__init__(message, outcomes, catalog_error)
        self.message = message
        self.outcomes = outcomes
        self.catalog_error = catalog_error
        codes = [o["exit_code"] for o in outcomes] + ([3] if catalog_error else [])
        self.exit_code = max(codes, default=3)

    def __str__(self) -> str:
        return self.message


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
    settings = load_settings(home=home)
    remote = None if offline else remote_sources(settings, open_store(store_url))
    return prepare(settings, name, remote, refresh)


@task(
    name="publish-version",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_if_transient,
)
def publish_version(
    package: BuiltPackage, store_url: str, base_url: str, bump: Bump | None, dry_run: bool
) -> Outcome:
    return publish_package(open_store(store_url), package, base_url, bump=bump, dry_run=dry_run)


@task(
    name="update-catalog",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BACKOFF),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_if_transient,
)
def update_catalog(store_url: str, base_url: str, touched: list[str]) -> list[str]:
    return rebuild_catalog(open_store(store_url), base_url, touched)


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
    logger = get_run_logger()
    settings = load_settings(store=store, home=home)
    if offline and load(settings, name).needs_remote:
        outcome = skipped(
            open_store(settings.store_url),
            name,
            settings.base_url,
            "collected from a public API; skipped offline (run without --offline to collect)",
        )
        logger.info("%s: skipped (offline)", name)
        return outcome.to_dict()
    prepared = collect_and_validate(name, home, settings.store_url, offline, refresh)
    try:
        package = require_valid(prepared)
        outcome = publish_version(package, settings.store_url, settings.base_url, bump, dry_run)
    finally:
        prepared.discard()
    logger.info("%s: %s %s", name, outcome.status, outcome.version)
    return outcome.to_dict()


def outcome_of_failure(name: str, error: BaseException) -> Outcome:
    """The report row of a dataset whose subflow failed."""
    if isinstance(error, DatasetInvalid):
        return Outcome(name, "invalid", message=error.message, exit_code=1, problems=error.problems)
    exit_code = error.exit_code if isinstance(error, OpendataError) else 3
    message = str(error) if isinstance(error, OpendataError) else f"{type(error).__name__}: {error}"
    return Outcome(name, "failed", message=message, exit_code=exit_code)


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
    their files (e.g. befolkning from SCB's PxWeb).
    """
    if offline and refresh:
        raise ConfigError("--refresh asks the public APIs and --offline forbids it: choose one")
    logger = get_run_logger()
    settings = load_settings(store=store, home=home)
    names = datasets or discover(settings.datasets_dir)
    outcomes: list[dict[str, Any]] = []
    for name in names:
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
            outcomes.append(state.result())
        else:
            error = state.result(raise_on_failure=False)
            if not isinstance(error, BaseException):
                error = RuntimeError(f"subflow ended {state.type.value}: {state.message}")
            outcome = outcome_of_failure(name, error)
            logger.error("%s: %s: %s", name, outcome.status, outcome.message)
            outcomes.append(outcome.to_dict())
    problems = []
    failed = [o for o in outcomes if o["status"] in ("invalid", "failed")]
    if failed:
        problems.append(
            "Not published: " + ", ".join(f"{o['dataset']} ({o['status']})" for o in failed)
        )
    catalog_error = None
    if not dry_run:
        try:
            update_catalog(settings.store_url, settings.base_url, names)
        except OpendataError as error:
            catalog_error = f"catalog not updated: {error}"
            logger.error(catalog_error)
            problems.append(catalog_error)
    if problems:
        raise RunFailed("; ".join(problems), outcomes, catalog_error)
    return outcomes
