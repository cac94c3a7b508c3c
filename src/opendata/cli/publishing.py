"""`opendata publish`: a run asked for in one RunRequest, in this process or as the Prefect
flow, and the table a steward reads after it."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from opendata import layout
from opendata.config import Settings, prefect_api_url, redact_url
from opendata.definitions import discover
from opendata.errors import (
    ConfigError,
    DefinitionError,
    OpendataError,
    PrefectUnavailable,
)

if TYPE_CHECKING:
    from opendata.request import RunRequest
    from opendata.run import RunContext
from opendata.cli.app import STATE, BumpChoice, StoreOption, app


def echo_table(outcomes: list[dict[str, Any]]) -> None:
    """The short table a steward reads after a run."""
    rows = [("dataset", "status", "version", "rows")]
    for o in outcomes:
        status, version = o["status"], o.get("version") or "-"
        if o.get("dry_run") and status == "published":
            status = "would publish"
        if status == "withdrawn" and o.get("withdrawn_version"):
            # The data equals a withdrawn version; the version that stays is the latest.
            status = f"not published: equals withdrawn {o['withdrawn_version']}"
            version = f"{o['version']} (latest)" if o.get("version") else "none"
        rows.append((o["dataset"], status, version, str(o.get("rows") or "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


PrefectChoice = Annotated[
    bool | None,
    typer.Option(
        "--prefect/--no-prefect",
        help=(
            "Run as the Prefect flow `publish-all`, or in this process without Prefect "
            "(default: the flow when a Prefect API is configured, else in this process)."
        ),
    ),
]


@app.command()
def publish(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets (default: all).")] = None,
    store: StoreOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be published.")
    ] = False,
    bump: Annotated[
        BumpChoice | None, typer.Option("--bump", help="Ask for at least this version bump.")
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Ask no remote source.")] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Collect from `live` public-API sources.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
    use_prefect: PrefectChoice = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            help="Datasets published at once (default: $OPENDATA_PARALLEL, else up to 4).",
        ),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(
            "--message", "-m", help="Why this version is made (kept with it, shown to readers)."
        ),
    ] = None,
    republish: Annotated[
        bool,
        typer.Option("--republish", help="Publish data equal to a withdrawn version anyway."),
    ] = False,
) -> None:
    """Collect, validate, package and publish datasets.

    As the Prefect flow when PREFECT_API_URL is configured, else in this process.
    """
    # "Configured": set in the environment, or in the active Prefect profile (see
    # opendata.config.prefect_api_url and the README).
    from opendata.request import RunRequest
    from opendata.run import RunContext

    # Every setting is checked before any work, and before Prefect is even imported.
    request = RunRequest(
        datasets=tuple(names) if names else None,
        store=store,
        bump=bump.value if bump else None,
        dry_run=dry_run,
        offline=offline,
        refresh=refresh,
        republish=republish,
        message=message,
        parallel=parallel,
    )
    context = RunContext.open(request)
    settings = context.settings
    if not dry_run:
        warn_default_base_url(settings)
    available = discover(settings.datasets_dir)
    unknown = [name for name in names or [] if name not in available]
    if unknown:
        raise DefinitionError(
            f"no such dataset: {', '.join(unknown)} (datasets: {', '.join(available) or 'none'})"
        )
    from opendata.tables import arrow_without_pandas

    arrow_without_pandas()
    api = prefect_api_url()
    if use_prefect is None:
        use_prefect = api is not None
    if use_prefect:
        if api is None:
            # Prefect would start its temporary server as a child process, which outlives this
            # command when it is killed: the flow runs only on a server that keeps running.
            raise ConfigError(
                "--prefect needs a Prefect server: start one (`prefect server start`) and set "
                "PREFECT_API_URL (or `prefect config set PREFECT_API_URL=…`); without --prefect "
                "the run needs none"
            )
        check_prefect_api(*api)
        if parallel is not None:
            # The flow runs in this process; its task runner reads the setting when it starts.
            os.environ["OPENDATA_PARALLEL"] = str(parallel)
        outcomes, exit_code, catalog_error = run_publish_flow(request)
    else:
        outcomes, exit_code, catalog_error = run_publish_in_process(context)
    if as_json:
        public = [
            {
                key: o.get(key)
                for key in (
                    "dataset",
                    "status",
                    "version",
                    "previous_version",
                    "url",
                    "rows",
                    "changes",
                    "message",
                    "dry_run",
                    "bump",
                    "required_bump",
                    "reason",
                    "withdrawn_version",
                )
            }
            | {"warnings": o.get("warnings") or [], "left_out": o.get("left_out") or []}
            | ({"diff": o.get("diff")} if o.get("dry_run") else {})
            for o in outcomes
        ]
        typer.echo(json.dumps(public, ensure_ascii=False, indent=2))
    else:
        from opendata.tables import LeftOut
        from opendata.validate import ReportWarning

        echo_table(outcomes)
        for o in outcomes:
            if o.get("dry_run") and o["status"] == "published":
                echo_dry_run(o)
            if o.get("message"):
                typer.echo(f"\n{o['dataset']}: {o['message']}", err=True)
            warnings = [ReportWarning(**w).explain() for w in o.get("warnings") or []]
            if warnings:  # years in a title that are not the data's: published all the same
                typer.echo("\n" + "\n".join(warnings), err=True)
            notes = [LeftOut.from_dict(entry).explain() for entry in o.get("left_out") or []]
            if notes:  # blank rows and skip_rows: what the published table does not hold
                typer.echo("\n" + "\n".join(notes), err=True)
        if catalog_error is not None:
            # The versions above are written; what readers browse and harvest lags them.
            typer.echo(
                f"\nThe catalog of {redact_url(settings.store_url)} was not updated, so it does "
                "not show these versions yet: the next run of any dataset updates it "
                "(`opendata verify` lists what lags)."
            )
        elif any(o["status"] == "published" and not o.get("dry_run") for o in outcomes) or all(
            o["status"] in ("published", "unchanged", "skipped") for o in outcomes
        ):
            typer.echo(f"\nPublished to {redact_url(settings.store_url)}")
            typer.echo(where_to_look(settings))
    raise typer.Exit(exit_code)


def echo_dry_run(outcome: dict[str, Any]) -> None:
    """What a dry run would publish: the version, why, and the changes (as `opendata diff`)."""
    from opendata.versioning import Changes, metadata_words, row_lines

    name, version = outcome["dataset"], outcome.get("version")
    previous = outcome.get("previous_version")
    typer.echo(f"\n{name}: would publish {version}" + (f" after {previous}" if previous else ""))
    if outcome.get("reason"):
        typer.echo(f"  why: {outcome['reason']}")
    diff = outcome.get("diff")
    if isinstance(diff, dict):
        changes = Changes.from_dict(diff)
        for resource in changes.resources:
            if resource.status == "unchanged":
                continue
            typer.echo(f"  {resource.summary()}")
            for line in row_lines(resource):
                typer.echo(f"    {line}")
        if changes.metadata:
            typer.echo(f"  {', '.join(metadata_words(changes.metadata, 'en'))}")


def is_s3(settings: Settings) -> bool:
    return settings.store_url.startswith("s3://")


def where_to_look(settings: Settings) -> str:
    """The run's last line: where a person (or a harvester) finds what was published."""
    if is_s3(settings):
        return (
            f"Catalog: {settings.base_url}{layout.CATALOG}  ·  "
            f"DCAT-AP-SE: {settings.base_url}{layout.DCAT_FILES[0]}"
        )
    return f"Browse it: opendata serve  →  {settings.base_url}"


def warn_default_base_url(settings: Settings) -> None:
    """An s3:// store published with the default base URL links everything to localhost."""
    from opendata.config import DEFAULT_BASE_URL

    if is_s3(settings) and settings.base_url == DEFAULT_BASE_URL:
        typer.echo(
            f"Warning: OPENDATA_BASE_URL is the default {DEFAULT_BASE_URL}, so the catalog, the "
            "DCAT files and the pages will link there; set it to the bucket's public address "
            "(e.g. https://<bucket>.s3.<region>.amazonaws.com/ or your own domain).",
            err=True,
        )


def _unreachable(url: str, where: str) -> PrefectUnavailable:
    """The one line a steward needs when the configured Prefect API does not answer."""
    if where.endswith("environment"):
        without = "unset PREFECT_API_URL"
    else:
        without = "`prefect config unset PREFECT_API_URL`"
    return PrefectUnavailable(
        f"cannot reach the Prefect API at {redact_url(url)} ({where}): start it with "
        f"`prefect server start`, or publish without Prefect: {without} (or pass --no-prefect)"
    )


def check_prefect_api(url: str, where: str) -> None:
    """Ask the configured API's /health before anything is sent to it (a few seconds at most)."""
    import httpx

    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=5)
    except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol):
        raise _unreachable(url, where) from None


def run_publish_in_process(context: RunContext) -> tuple[list[dict[str, Any]], int, str | None]:
    """Run `opendata.run` here, without Prefect: the same steps, retries and outcomes."""
    from opendata.run import RunFailed, exit_code, run_in_process

    if STATE["debug"]:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    steps = {"publish_version": "publishing", "update_catalog": "updating the catalog"}

    def on_retry(step: str, error: BaseException, attempt: int, delay: float) -> None:
        typer.echo(
            f"{steps.get(step, step)}: {error}; retry {attempt} of 3 in {delay:.1f} s", err=True
        )

    def on_outcome(outcome: dict[str, Any]) -> None:
        """Each dataset's outcome is already a progress line of the run's log (see
        show_library_messages): nothing more to print here."""

    try:
        outcomes = run_in_process(context, on_retry=on_retry, on_outcome=on_outcome)
    except RunFailed as error:  # each dataset's failure was logged as it happened
        if error.catalog_error:
            typer.echo(f"Error: {error.catalog_error}", err=True)
        return error.outcomes, error.exit_code, error.catalog_error
    # Completed: 0, or 3 when a dataset was skipped because a public API could not be reached.
    return outcomes, exit_code(outcomes), None


def run_publish_flow(request: RunRequest) -> tuple[list[dict[str, Any]], int, str | None]:
    """Run `publish_all` on the configured Prefect API."""
    # The run's logs go to the Prefect API (UI); the terminal gets our own summary, and
    # Prefect's console log (with tracebacks) only with --debug.
    if not STATE["debug"]:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.publish import RunFailed, publish_all
    from opendata.run import exit_code

    api = prefect_api_url()
    try:
        state = publish_all(**request.to_form(), return_state=True)
    except Exception as error:
        text = str(error)
        if api is not None and (
            type(error).__module__.startswith("httpx") or "Failed to reach API" in text
        ):
            raise _unreachable(*api) from None
        if "ephemeral Prefect API server" in text:
            raise PrefectUnavailable(
                "Prefect's temporary server did not start in time (a busy machine?): start one "
                "with `prefect server start` and set PREFECT_API_URL, or publish without "
                "Prefect (--no-prefect)"
            ) from None
        raise
    if state.is_completed():  # Completed, or "Completed with skips" (see opendata.run)
        outcomes = cast("list[dict[str, Any]]", state.result())
        return outcomes, exit_code(outcomes), None
    failure = state.result(raise_on_failure=False)
    if isinstance(failure, RunFailed):  # each dataset's failure was logged as it happened
        if failure.catalog_error:
            typer.echo(f"Error: {failure.catalog_error}", err=True)
        return failure.outcomes, failure.exit_code, failure.catalog_error
    if isinstance(failure, BaseException):
        raise failure
    raise OpendataError(f"the publish flow ended {state.type.value}: {state.message}")
