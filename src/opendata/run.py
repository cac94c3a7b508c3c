"""A publish run: every dataset on its own, then the catalog, then one exit code. No Prefect.

A run is asked for with one RunRequest (opendata.request), from the CLI or a flow; its settings
are loaded and checked and its store opened once, as its RunContext, which every step takes.
The same functions run in two ways:

- in-process (`run_in_process`, what `opendata publish` does when no Prefect API is configured):
  the I/O steps are wrapped by `retrying` (retry only when `is_transient(error)`, three retries
  with exponential backoff and jitter, the sleep injectable for tests);
- as a Prefect flow (flows/publish.py): each step becomes a task (Prefect retries the I/O
  tasks with the same count and backoff), each dataset a task submitted to the flow's task
  runner (threads, or an existing Dask cluster), and the flow passes them here.

Datasets are published side by side (OPENDATA_PARALLEL at once, `--parallel`): the publish
protocol is safe for concurrent publishers of different datasets, and each dataset has its own
DuckDB connection, scratch folder and journal mark. A dataset that is invalid or fails becomes an
outcome row; the others still publish. The catalog is updated once, after every dataset. The run
raises `RunFailed` (with every outcome) when anything did not publish or the catalog failed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from contextvars import copy_context
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any, ParamSpec, TypeVar

from opendata import termination
from opendata.catalog import rebuild_catalog, uncollected
from opendata.collect.remote import remote_sources
from opendata.config import Settings, load_settings, retry_backoff
from opendata.definitions import discover
from opendata.errors import (
    ConfigError,
    InvalidSourceData,
    OpendataError,
    SourceError,
    SourceUnavailable,
    Terminated,
    is_transient,
)
from opendata.package import BuiltPackage
from opendata.periods import stale_year_warnings
from opendata.preparing import DatasetInvalid, Prepared, load, prepare, require_valid
from opendata.publish import Outcome, publish_package, skipped
from opendata.reporting import artifact_key, counted_in_all, is_data_problem
from opendata.request import RunRequest
from opendata.storage import Store, open_store
from opendata.storage.open import check_store
from opendata.validate import Problem

RETRIES = 3  # retries of an I/O step after its first attempt (Prefect's `retries`)
JITTER = 0.5  # each delay is drawn within ±50% of the exponential backoff

Logger = logging.Logger | logging.LoggerAdapter[Any]
PrepareStep = Callable[[str, "RunContext"], "Prepared | Unreachable"]
PublishStep = Callable[[BuiltPackage, "RunContext"], Outcome]
CatalogStep = Callable[["RunContext", list[str]], list[str]]
OnRetry = Callable[[str, BaseException, int, float], None]
# Starts one dataset and returns what waits for its outcome (raising if it did not publish).
Submit = Callable[[str], Callable[[], dict[str, Any]]]

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("opendata.run")
# A library logs through its logger; where nobody configured logging, nothing is printed
# (the CLI prints its own summary and retry lines).
logging.getLogger("opendata").addHandler(logging.NullHandler())


class RunFailed(OpendataError):
    """Some datasets were invalid or failed; carries every dataset's outcome for the CLI."""

    def __init__(
        self, message: str, outcomes: list[dict[str, Any]], catalog_error: str | None = None
    ) -> None:
        super().__init__(message, outcomes, catalog_error)
        self.message = message
        self.outcomes = outcomes
        self.catalog_error = catalog_error
        self.exit_code = exit_code(outcomes, catalog_error) if outcomes or catalog_error else 3

    def __str__(self) -> str:
        return self.message


def exit_code(outcomes: Iterable[Mapping[str, Any]], catalog_error: str | None = None) -> int:
    """The run's exit code (the README's table): the highest of its datasets' (0 for one
    published, unchanged or skipped offline, 1 invalid, 3 failed or skipped because a public
    API could not be reached), 3 when the catalog was not updated."""
    codes = [int(o.get("exit_code") or 0) for o in outcomes] + ([3] if catalog_error else [])
    return max(codes, default=0)


# -- a source that cannot be reached --------------------------------------------------------------

# The name of a run's final state (a Completed one: the run did its work) when a dataset was
# skipped because a public API it is collected from could not be reached.
SKIPS_STATE = "Completed with skips"


@dataclass(frozen=True)
class Unreachable:
    """A dataset not collected because a public API it needs did not answer (SourceUnavailable:
    connection refused, timeouts, 429 or 5xx through every retry of collect/http.py). Not a
    data problem and not a crash: the run skips the dataset, whose last version stays latest.

    `source` names the API as a steward knows it ("Kolada https://api.kolada.se/v3"), `cause`
    what failed ("GET …: ConnectError: …; gave up after 5 attempts")."""

    dataset: str
    source: str
    cause: str

    @classmethod
    def of(cls, name: str, error: SourceUnavailable) -> Unreachable:
        if error.request and error.reason:
            attempts = error.attempts or 1
            cause = (
                f"{error.request}: {error.reason}; gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''}"
            )
        else:
            cause = str(error)
        return cls(name, error.source or "a public API", cause)

    def explain(self, latest: str | None) -> str:
        """Why the dataset was skipped, naming the source, what failed and what stays."""
        stays = (
            f"its last published version {latest} stays latest"
            if latest
            else "no version of it is published yet"
        )
        return (
            f"{self.source} cannot be reached ({self.cause}): not collected in this run, "
            f"{stays}; the next run collects it once the source answers"
        )


def unreachable_skips(outcomes: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The outcomes of datasets skipped because a public API could not be reached."""
    return [o for o in outcomes if o.get("status") == "skipped" and o.get("unreachable")]


def skips_message(outcomes: Iterable[Mapping[str, Any]]) -> str | None:
    """What a run's final state says of the datasets it skipped because a public API could
    not be reached (None: none was), each with its reason."""
    skips = unreachable_skips(outcomes)
    if not skips:
        return None
    return "Skipped, a source cannot be reached: " + "; ".join(
        f"{o['dataset']} ({o.get('message')})" for o in skips
    )


def spread_skips_message(batches: list[tuple[str, str]], count: int) -> str | None:
    """What a spread run's final state says of its batches (flow run name, state message) that
    completed with skips, out of `count` batches (None: none did)."""
    if not batches:
        return None
    return f"{len(batches)} of {count} batches completed with skips: " + "; ".join(
        f"{name}: {message}" for name, message in batches
    )


# -- configuration ------------------------------------------------------------------------------


def check_configuration(request: RunRequest) -> Settings:
    """The run's settings, checked before any work: a ConfigError (exit 2) says what to set."""
    settings = load_settings(store=request.store, home=request.home, parallel=request.parallel)
    check_store(settings.store_url)
    retry_backoff()
    return settings


@dataclass(frozen=True)
class RunContext:
    """A run's request with its settings loaded and its store opened: once per run in each
    process that runs its datasets (the CLI's or the flow's; a Dask worker opens its own from
    the request, with its own environment's settings and credentials)."""

    request: RunRequest
    settings: Settings
    store: Store

    @classmethod
    def open(cls, request: RunRequest) -> RunContext:
        """The request's context, its settings checked first (a ConfigError says what to set)."""
        settings = check_configuration(request)
        return cls(request, settings, open_store(settings.store_url))


# The contexts of the runs going on in this process, by run id (see `running` and `context_for`).
_RUNNING: dict[str, RunContext] = {}


@contextmanager
def running(context: RunContext) -> Iterator[RunContext]:
    """Make `context` the one `context_for` gives this run's datasets in this process (the
    flow's threads), for as long as the run lasts."""
    _RUNNING[context.request.run_id] = context
    try:
        yield context
    finally:
        _RUNNING.pop(context.request.run_id, None)


def context_for(request: RunRequest) -> RunContext:
    """The context of the run `request` belongs to: the one this process opened for it, or,
    in a process that did not (a Dask worker), one of its own."""
    found = _RUNNING.get(request.run_id)
    return found if found is not None and found.request == request else RunContext.open(request)


def datasets_to_publish(datasets: list[str] | None, settings: Settings) -> list[str]:
    """The named datasets, each once in the order given, or every dataset of the home."""
    return unique(datasets or discover(settings.datasets_dir))


def batches_of(names: list[str], count: int) -> list[list[str]]:
    """`names` in at most `count` batches of nearly equal size, in order, none empty: the flow
    runs a work pool's workers share (a batch per flow run, any worker taking any batch)."""
    if count < 1:
        raise ConfigError(f"batches must be at least 1, not {count}")
    count = min(count, len(names))
    size, extra = divmod(len(names), count) if count else (0, 0)
    batches, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        batches.append(names[start:end])
        start = end
    return batches


# -- retries ------------------------------------------------------------------------------------


def retry_delays(backoff: float, retries: int = RETRIES) -> list[float]:
    """Prefect's `exponential_backoff`: backoff, 2×backoff, 4×backoff, ..."""
    return [backoff * 2**attempt for attempt in range(retries)]


def retrying(
    step: Callable[P, T],
    *,
    retries: int = RETRIES,
    backoff: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: OnRetry | None = None,
) -> Callable[P, T]:
    """`step` retried like the flow's I/O tasks: only on a transient error, with backoff.

    `backoff` defaults to OPENDATA_RETRY_BACKOFF (read now: a bad value is a ConfigError).
    `on_retry(step name, error, attempt number, delay)` is told before each wait.
    """
    delays = retry_delays(retry_backoff() if backoff is None else backoff, retries)
    name = getattr(step, "__name__", "step")

    def attempt(*args: P.args, **kwargs: P.kwargs) -> T:
        for number, delay in enumerate([*delays, None], start=1):
            try:
                return step(*args, **kwargs)
            except Exception as error:
                if delay is None or not is_transient(error):
                    raise
                wait = random.uniform(delay * (1 - JITTER), delay * (1 + JITTER))
                if on_retry is not None:  # the caller reports it (once)
                    on_retry(name, error, number, wait)
                else:
                    log.warning(
                        "%s: %s; retry %d of %d in %.1f s", name, error, number, retries, wait
                    )
                sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    attempt.__name__ = name
    return attempt


# -- the steps (the flow's tasks wrap these) ----------------------------------------------------


def collect_and_validate(name: str, context: RunContext) -> Prepared | Unreachable:
    """Collect and validate one dataset (public APIs through the store's cache unless offline).

    A public API that cannot be reached is no error of this step: it returns Unreachable (so
    the flow's task completes, without a traceback), and the dataset is skipped."""
    settings, store, request = context.settings, context.store, context.request
    remote = None if request.offline else remote_sources(settings, store)
    # The store's current deliveries are the dataset's sources where stewards delivered them.
    try:
        prepared = prepare(settings, name, remote, request.refresh, store=store)
    except SourceUnavailable as error:
        return Unreachable.of(name, error)
    try:  # the steward's warnings (years in the title that are not the data's): no verdict
        prepared.report.warnings.extend(stale_year_warnings(prepared.dataset, prepared.tables))
    except BaseException:
        prepared.discard()
        raise
    return prepared


def publish_version(
    package: BuiltPackage, context: RunContext, publish: Callable[..., Outcome] | None = None
) -> Outcome:
    """Write one built package as a new version (or find it unchanged, or withdrawn), as the
    request asks (bump, dry run, message, republish).

    `publish` replaces `publish_package` (looked up at call time, so tests may patch it).
    """
    write = publish or publish_package
    request = context.request
    options: dict[str, Any] = {"bump": request.bump, "dry_run": request.dry_run}
    if request.message is not None:
        options["message"] = request.message
    if request.republish:
        options["republish"] = True
    return write(context.store, package, context.settings.base_url, **options)


def update_catalog(context: RunContext, touched: list[str]) -> list[str]:
    """Rebuild catalog.json, the DCAT files and the pages for the datasets this run touched."""
    return rebuild_catalog(context.store, context.settings.base_url, touched)


# -- one dataset, then the whole run ------------------------------------------------------------


def publish_dataset(
    name: str,
    context: RunContext,
    *,
    prepare_step: PrepareStep = collect_and_validate,
    publish_step: PublishStep = publish_version,
    logger: Logger = log,
) -> dict[str, Any]:
    """Collect, validate and publish one dataset; raises if it cannot (DatasetInvalid, ...).

    Offline, a dataset collected from a public API is `skipped`: its last published version
    stays latest. So is one whose public API cannot be reached (the step returns Unreachable),
    with exit code 3 and the reason. A dataset skipped before any version of it was published
    is noted for the index page (catalog/uncollected.py), except in a dry run.
    """
    termination.check()
    settings, request = context.settings, context.request
    if request.offline:
        dataset = load(settings, name)
        if dataset.needs_remote:
            outcome = skipped(
                context.store,
                name,
                settings.base_url,
                "collected from a public API; skipped offline (run without --offline to collect)",
            )
            if outcome.version is None and not request.dry_run:
                uncollected.note(context.store, uncollected.record_of(dataset, "offline"))
            logger.info("%s: skipped (offline)", name)
            return outcome.to_dict()
    prepared = prepare_step(name, context)
    if isinstance(prepared, Unreachable):
        outcome = skip_unreachable(context, prepared)
        logger.warning("%s: skipped: %s", name, outcome.message)
        return outcome.to_dict()
    try:
        termination.check()
        package = require_valid(prepared)
        outcome = publish_step(package, context)
    finally:
        prepared.discard()
    logger.info("%s", outcome_line(outcome.to_dict()))
    left_out = [entry for entries in prepared.report.left_out.values() for entry in entries]
    return {
        **outcome.to_dict(),
        "warnings": [w.to_dict() for w in prepared.report.warnings],
        "left_out": [entry.to_dict() for entry in left_out],
    }


def skip_unreachable(context: RunContext, found: Unreachable) -> Outcome:
    """The outcome of a dataset whose public API could not be reached: `skipped`, its last
    published version still latest, exit code 3 (operational: a later run may succeed), the
    reason in its message and the source in `unreachable`."""
    settings, target = context.settings, context.store
    outcome = skipped(target, found.dataset, settings.base_url, "")
    if outcome.version is None and not context.request.dry_run:
        dataset = load(settings, found.dataset)
        uncollected.note(target, uncollected.record_of(dataset, "unreachable"))
    return replace(
        outcome, message=found.explain(outcome.version), exit_code=3, unreachable=found.source
    )


def outcome_line(outcome: Mapping[str, Any]) -> str:
    """The run's log line for a dataset it published, found unchanged or did not publish
    again: `befolkning: published 1.1.0`; data equal to a withdrawn version says which version
    that is and which is latest (the outcome's message)."""
    name = outcome["dataset"]
    if outcome["status"] == "withdrawn" and outcome.get("message"):
        return f"{name}: {outcome['message']}"
    return f"{name}: {outcome['status']} {outcome.get('version')}"


LOGGED_PROBLEMS = 3  # an invalid dataset's problems quoted in the run's log


def failure_text(outcome: Mapping[str, Any], artifacts: bool = False) -> str:
    """The run's log entry for a dataset that did not publish, in sentences (a data problem is
    no crash: no traceback, no raw data). Wrong data: how many problems, where its report is
    (`artifacts`: the flow's `invalid-<dataset>`), and the first problems as `opendata
    validate` words them; anything else: the error's message."""
    name = str(outcome["dataset"])
    message = str(outcome.get("message") or "")
    if not is_data_problem(outcome):
        return f"{name}: {outcome['status']}: {message}"
    problems = list(outcome.get("problems") or [])
    if problems:
        count = max(len(problems), sum(counted_in_all(message).values()))
        what = f"{count:,} fel / {count:,} problem{'s' if count != 1 else ''}"
    else:
        what = "en källfil kan inte läsas / a source file cannot be read"
    head = f"{name}: ogiltig / invalid — {what}"
    if artifacts:
        key = artifact_key("invalid", name)
        head += f"; se artefakten {key} / see the artifact {key}"
    if not problems:
        return f"{head}\n{message}"
    known = {field.name for field in fields(Problem)}
    lines = [
        Problem(**{k: v for k, v in problem.items() if k in known}).explain()
        for problem in problems[:LOGGED_PROBLEMS]
    ]
    if count > LOGGED_PROBLEMS:
        more = count - LOGGED_PROBLEMS
        lines.append(f"... och {more:,} fel till / ... and {more:,} more problems")
    return "\n".join([head, *lines])


def data_problem(name: str, error: BaseException) -> dict[str, Any] | None:
    """The outcome of a dataset whose data is wrong (exit code 1), else None: the steward
    corrects a source, so a flow reports it as an outcome, not as a task that crashed."""
    outcome = outcome_of_failure(name, error).to_dict()
    return outcome if is_data_problem(outcome) else None


def outcome_of_failure(name: str, error: BaseException) -> Outcome:
    """The report row of a dataset that could not be published.

    Wrong data is `invalid` (exit 1) whether the validator found it or the source file could
    not be read as declared (a SourceError or InvalidSourceData names file and row): either
    way the steward corrects a source; `failed` is for what a steward cannot fix in the data.
    """
    if isinstance(error, DatasetInvalid):
        return Outcome(name, "invalid", message=error.message, exit_code=1, problems=error.problems)
    if isinstance(error, SourceError | InvalidSourceData):
        return Outcome(name, "invalid", message=str(error), exit_code=1)
    exit_code = error.exit_code if isinstance(error, OpendataError) else 3
    message = str(error) if isinstance(error, OpendataError) else f"{type(error).__name__}: {error}"
    return Outcome(name, "failed", message=message, exit_code=exit_code)


def unique(names: Iterable[str]) -> list[str]:
    """`names` without repeats, in their order.

    A dataset is published once per run: two publishers of one dataset in one process would
    share the claim's owner (the process), and each would take the other's claim for its own.
    """
    return list(dict.fromkeys(names))


def in_threads(
    publish_one: Callable[[str], dict[str, Any]], parallel: int, stack: ExitStack
) -> Submit:
    """`submit` for `publish_all` in this process: `parallel` threads, or the caller's thread.

    Per dataset everything is its own: DuckDB connection, scratch folder, store client, journal
    mark (one per dataset and process). A thread that fails fails only its dataset.
    """
    if parallel <= 1:
        # One after another in the calling thread, when the run waits for each outcome.
        return lambda name: partial(publish_one, name)
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="publish")
    # On the way out (Ctrl-C included) datasets not started yet are not started at all.
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)

    def submit(name: str) -> Callable[[], dict[str, Any]]:
        # The caller's context (a Prefect run's, say) goes with the dataset into its thread.
        return pool.submit(copy_context().run, publish_one, name).result

    return submit


def publish_all(
    request: RunRequest | RunContext,
    *,
    publish_one: Callable[[str], dict[str, Any]] | None = None,
    submit: Submit | None = None,
    catalog_step: CatalogStep = update_catalog,
    logger: Logger = log,
    on_outcome: Callable[[dict[str, Any]], None] | None = None,
    artifacts: bool = False,
) -> list[dict[str, Any]]:
    """Publish the request's datasets (all when it names none), side by side; then the catalog.

    The settings are loaded and checked and the store opened once, for the whole run (or the
    caller did it, passing the run's context): `publish_one(name)` publishes one
    dataset or raises (default: `publish_dataset` with the plain steps and this run's
    context); `parallel` of them run at once in threads (the request's, default
    OPENDATA_PARALLEL, else min(4, datasets); 1: one after another). A caller with its own
    executor (the flow's task runner) passes `submit(name)`, which starts one dataset and
    returns what waits for its outcome (an outcome `invalid` is a dataset whose data is wrong,
    as is an error raised); its tasks find this run's context with `context_for(request)`.
    Outcomes are in the order of the names, whatever order the datasets finish in; each that
    did not publish is logged in sentences (`failure_text`; `artifacts`: the run leaves a
    report per invalid dataset, and the log says where). The catalog is updated once, after
    all of them. Returns every outcome, or raises RunFailed carrying them when a dataset did
    not publish or the catalog could not be updated.
    """
    context = request if isinstance(request, RunContext) else RunContext.open(request)
    with running(context):
        return _publish_all(
            context, publish_one, submit, catalog_step, logger, on_outcome, artifacts
        )


def _publish_all(
    context: RunContext,
    publish_one: Callable[[str], dict[str, Any]] | None,
    submit: Submit | None,
    catalog_step: CatalogStep,
    logger: Logger,
    on_outcome: Callable[[dict[str, Any]], None] | None,
    artifacts: bool,
) -> list[dict[str, Any]]:
    settings, request = context.settings, context.request
    names = datasets_to_publish(request.names, settings)
    if publish_one is None:
        publish_one = partial(publish_dataset, context=context)
    outcomes: list[dict[str, Any]] = []
    with ExitStack() as stack:
        # SIGTERM stops the run at the datasets' next safe points (termination.py); entered
        # first, so it is left last, once the threads have stopped.
        stack.enter_context(termination.on_sigterm())
        if submit is None:
            submit = in_threads(publish_one, settings.parallel_for(len(names)), stack)
        started: list[tuple[str, Callable[[], dict[str, Any]]]] = []
        try:
            for name in names:
                termination.check()
                started.append((name, _started(submit, name)))
            for name, wait in started:
                try:
                    outcome = wait()
                except Exception as error:
                    outcome = outcome_of_failure(name, error).to_dict()
                if outcome["status"] in ("invalid", "failed"):
                    logger.error("%s", failure_text(outcome, artifacts))
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        except Terminated:
            # Each dataset started stops at its next safe point, releasing its claim: wait for
            # them all (a published one stays published), then stop.
            termination.STOP.set()
            logger.warning("SIGTERM: stopping the datasets in progress")
            for _name, wait in started:
                with suppress(BaseException):
                    wait()
            raise
    problems = []
    failed = [o for o in outcomes if o["status"] in ("invalid", "failed")]
    if failed:
        problems.append(
            "Not published: " + ", ".join(f"{o['dataset']} ({o['status']})" for o in failed)
        )
    catalog_error = None
    if not request.dry_run:
        tidy_not_collected(context, outcomes, every=request.datasets is None, logger=logger)
        try:
            catalog_step(context, names)
        except OpendataError as error:
            catalog_error = f"catalog not updated: {error}"  # RunFailed carries it: the
            problems.append(catalog_error)  # caller reports it once (CLI, flow)
    if problems:
        skips = skips_message(outcomes)  # said too, beside what failed
        if skips:
            problems.append(skips)
        raise RunFailed("; ".join(problems), outcomes, catalog_error)
    return outcomes


def tidy_not_collected(
    context: RunContext, outcomes: list[dict[str, Any]], every: bool, logger: Logger = log
) -> None:
    """Remove the index's notes of datasets that are no longer "not yet collected" (see
    catalog/uncollected.py): those of this run's datasets that have a version now and, when the
    run covered `every` dataset, those of datasets no longer defined. Only tidiness (the index
    never shows a dataset that has a catalog entry): a store that fails here is logged, it does
    not fail the run."""
    ran = {o["dataset"] for o in outcomes}
    versioned = {o["dataset"] for o in outcomes if o.get("version")}
    try:
        recorded = uncollected.recorded(context.store)
        gone = [n for n in recorded if n in versioned or (every and n not in ran)]
        uncollected.forget(context.store, gone)
    except OpendataError as error:
        logger.warning("notes of datasets not yet collected not tidied: %s", error)


def _started(submit: Submit, name: str) -> Callable[[], dict[str, Any]]:
    """`submit(name)`; a dataset that cannot even be started fails alone, when waited for."""
    try:
        return submit(name)
    except Exception as error:
        problem = error  # `error` itself is gone once the except clause ends

        def failed() -> dict[str, Any]:
            raise problem

        return failed


def run_in_process(
    request: RunRequest | RunContext,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: OnRetry | None = None,
    on_outcome: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """`publish_all` in this process, the I/O steps retried as the flow's tasks are.

    The request's `parallel` datasets at once (default OPENDATA_PARALLEL, else min(4,
    datasets)).
    """
    publish_step = retrying(publish_version, sleep=sleep, on_retry=on_retry)
    catalog_step = retrying(update_catalog, sleep=sleep, on_retry=on_retry)
    context = request if isinstance(request, RunContext) else RunContext.open(request)

    def publish_one(name: str) -> dict[str, Any]:
        return publish_dataset(name, context, publish_step=publish_step)

    with running(context):
        return _publish_all(
            context, publish_one, None, catalog_step, log, on_outcome, artifacts=False
        )
