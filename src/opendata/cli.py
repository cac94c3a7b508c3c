"""The `opendata` command: a thin layer over the core and the flows.

Exit codes (contract): 0 all requested datasets published or unchanged; 1 at least one dataset
invalid; 2 usage or configuration error; 3 storage or other operational failure. This is the one
place where exceptions become plain messages; tracebacks only with --debug.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from opendata import layout
from opendata.config import Settings, load_settings, prefect_api_url, redact_url
from opendata.definitions import discover
from opendata.errors import (
    ConfigError,
    DefinitionError,
    OpendataError,
    PrefectUnavailable,
    Terminated,
)

if TYPE_CHECKING:
    from opendata.versioning import Bump

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Publish Boråsregionen's open data as versioned data packages.",
)

STATE: dict[str, bool] = {"debug": False}


class BumpChoice(StrEnum):
    major = "major"
    minor = "minor"
    patch = "patch"


StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store URL or folder (default: $OPENDATA_STORE or ./public)."),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    STATE["debug"] = debug


def _settings(store: str | None = None) -> Settings:
    return load_settings(store=store)


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
    from opendata.run import check_configuration

    # Every setting is checked before any work, and before Prefect is even imported.
    if parallel is not None and parallel < 1:
        raise ConfigError(
            f"--parallel {parallel}: give how many datasets to publish at once, 1 or more "
            "(1 publishes them one after another)"
        )
    settings = check_configuration(store, None, offline, refresh, parallel)
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
    arguments = (names or None, store, bump.value if bump else None, dry_run, offline, refresh)
    options: dict[str, Any] = {"message": message, "republish": republish}
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
        outcomes, exit_code, catalog_error = run_publish_flow(*arguments, **options)
    else:
        outcomes, exit_code, catalog_error = run_publish_in_process(
            *arguments, parallel=parallel, **options
        )
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


def run_publish_in_process(
    names: list[str] | None,
    store: str | None,
    bump: str | None,
    dry_run: bool,
    offline: bool,
    refresh: bool = False,
    parallel: int | None = None,
    message: str | None = None,
    republish: bool = False,
) -> tuple[list[dict[str, Any]], int, str | None]:
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
        outcomes = run_in_process(
            names,
            store,
            cast("Bump | None", bump),
            dry_run,
            offline,
            refresh=refresh,
            parallel=parallel,
            on_retry=on_retry,
            on_outcome=on_outcome,
            message=message,
            republish=republish,
        )
    except RunFailed as error:  # each dataset's failure was logged as it happened
        if error.catalog_error:
            typer.echo(f"Error: {error.catalog_error}", err=True)
        return error.outcomes, error.exit_code, error.catalog_error
    # Completed: 0, or 3 when a dataset was skipped because a public API could not be reached.
    return outcomes, exit_code(outcomes), None


def run_publish_flow(
    names: list[str] | None,
    store: str | None,
    bump: str | None,
    dry_run: bool,
    offline: bool,
    refresh: bool = False,
    message: str | None = None,
    republish: bool = False,
) -> tuple[list[dict[str, Any]], int, str | None]:
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
        state = publish_all(
            datasets=names,
            store=store,
            bump=bump,
            dry_run=dry_run,
            offline=offline,
            refresh=refresh,
            message=message,
            republish=republish,
            return_state=True,
        )
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


def _refers_to_other_datasets(dataset: Any) -> bool:
    """A `dataset` source may itself be collected from an API: ask for the client then too."""
    return any(
        getattr(source, "kind", None) == "dataset"
        for resource in dataset.definition.resources
        for source in resource.sources
    )


@app.command()
def validate(
    target: Annotated[str, typer.Argument(help="Dataset name or path to a dataset folder.")],
    offline: Annotated[bool, typer.Option("--offline", help="Ask no remote source.")] = False,
    store: StoreOption = None,
) -> None:
    """Validate a dataset without publishing: the report names file, row and field."""
    from opendata.definitions import load_dataset
    from opendata.periods import stale_year_warnings
    from opendata.publish import collect_tables, discard_workspace, new_workspace
    from opendata.storage import open_store
    from opendata.tables import arrow_without_pandas
    from opendata.validate import validate_tables

    arrow_without_pandas()
    settings = _settings(store)
    folder = (
        Path(target) if ("/" in target or Path(target).is_dir()) else settings.datasets_dir / target
    )
    if not (folder / "dataset.yaml").is_file():
        raise DefinitionError(f"no dataset at {folder} (no dataset.yaml)")
    by_name = not ("/" in target or Path(target).is_dir())
    dataset = load_dataset(folder, settings.schemas_dir)
    if offline and dataset.needs_remote:
        typer.echo(f"{dataset.name}: skipped (collected from a public API; --offline)")
        return
    remote = None
    if not offline and (dataset.needs_remote or _refers_to_other_datasets(dataset)):
        from opendata.collect.remote import remote_sources

        remote = remote_sources(settings, open_store(settings.store_url))
    workspace = new_workspace(dataset.name)
    try:
        delivered_to = open_store(settings.store_url) if by_name else None
        if delivered_to is not None:
            # A dataset named is validated as a run reads it: with its stewards' deliveries.
            from opendata.delivered import load_delivered

            dataset = load_delivered(settings, delivered_to, dataset.name, workspace)
        tables = collect_tables(settings, dataset, remote, workspace=workspace, store=delivered_to)
        report = validate_tables(dataset.name, tables, scratch=workspace)
        report.warnings.extend(stale_year_warnings(dataset, tables))
    finally:
        discard_workspace(workspace)
    counts = ", ".join(
        f"{name} {rows} row{'' if rows == 1 else 's'}" for name, rows in report.rows.items()
    )
    if report.valid:
        typer.echo(f"{dataset.name}: valid ({counts})")
    else:
        count = len(report.problems)
        typer.echo(
            f"{dataset.name}: invalid ({count} problem{'' if count == 1 else 's'}; {counts})"
        )
        typer.echo(report.summary())
    for warning in report.warnings:  # a warning changes neither the verdict nor the exit code
        typer.echo(warning.explain())
    for note in report.notes():  # rows left out as layout: what the table does not hold
        typer.echo(note)
    if not report.valid:
        raise typer.Exit(1)


@app.command(name="list")
def list_datasets(store: StoreOption = None) -> None:
    """List the datasets defined in datasets/ and their latest published version."""
    from opendata.definitions import load_dataset
    from opendata.state import read_history
    from opendata.storage import open_store

    settings = _settings(store)
    target = open_store(settings.store_url, read_only=True)
    rows = [("dataset", "latest", "title")]
    for name in discover(settings.datasets_dir):
        history, _ = read_history(target, name)
        title = load_dataset(settings.datasets_dir / name, settings.schemas_dir).definition.title.sv
        rows.append((name, str(history.latest or "-"), title))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for row in rows:
        typer.echo(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")


HISTORY_ROWS = 3  # rows of each kind shown per resource and version by `history`


@app.command()
def history(name: str, store: StoreOption = None) -> None:
    """The versions of a dataset, newest first, with what changed (withdrawn ones with why);
    the first rows added, removed and changed with their values, and how many more. The store
    may be a published site's address (--store https://…/): it is read over HTTP."""
    from opendata.publish import read_changes
    from opendata.state import Status, read_history
    from opendata.storage import open_store
    from opendata.versioning import Changes, change_text, row_lines

    settings = _settings(store)
    target = open_store(settings.store_url, read_only=True)
    record, _ = read_history(target, name)
    shown = record.listed()
    if not shown:
        raise DefinitionError(f"{name}: nothing published in {settings.store_url}")
    for version in shown:
        marker = " (latest)" if version.version == record.latest else ""
        line = f"{version.version}{marker}  {version.published}  {version.status}"
        if version.status is Status.WITHDRAWN:
            line += f" {version.withdrawn}: {version.reason}"
        rows = sum(version.rows.values())
        bump = version.bump or "first"
        typer.echo(f"{line}  {rows} rows  [{bump}] {change_text(version.summary, 'en')}".rstrip())
        if version.message:
            typer.echo(f"    why: {version.message}")
        stored = None
        if version.bump and not version.files_deleted:
            stored = read_changes(target, name, version.version)
        if stored is None:
            continue
        more = False
        for resource in Changes.from_dict(stored).resources:
            for row in row_lines(resource, HISTORY_ROWS):
                more = more or row.startswith("…")
                typer.echo(f"    {resource.name}: {row}")
        if more and stored.get("from"):
            where = f" --store {redact_url(store)}" if store else ""
            typer.echo(
                f"    (all of them: opendata diff {name} {stored['from']} {version.version}{where})"
            )


@app.command()
def diff(
    name: str,
    from_version: Annotated[str | None, typer.Argument(metavar="[FROM]")] = None,
    to_version: Annotated[str | None, typer.Argument(metavar="[TO]")] = None,
    store: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable changes.")] = False,
) -> None:
    """What changed between any two versions (default: the latest and the one before it): the
    first rows of each resource with their values (old → new for changed ones), and how many
    more. The store may be a published site's address (--store https://…/), read over HTTP."""
    from opendata.publish import discard_workspace, load_version, new_workspace
    from opendata.state import SemVer, read_history
    from opendata.storage import open_store
    from opendata.versioning import diff as diff_versions
    from opendata.versioning import metadata_words, row_lines

    settings = _settings(store)
    target = open_store(settings.store_url, read_only=True)
    record, _ = read_history(target, name)
    listed = sorted(v.version for v in record.listed())
    known = [str(v) for v in listed]
    if not known:
        raise DefinitionError(f"{name}: nothing published in {settings.store_url}")
    for given in (from_version, to_version):
        if given is not None and given not in known:
            raise DefinitionError(f"{name} has no version {given} (versions: {', '.join(known)})")
    newer = SemVer.parse(to_version) if to_version else (record.latest or listed[-1])
    if from_version is None:
        older_ones = [v for v in listed if v < newer]
        if not older_ones:
            typer.echo(f"{name} {newer} is the first version")
            return
        from_version = str(older_ones[-1])
    older = SemVer.parse(from_version)
    workspace = new_workspace(name)
    try:
        old_descriptor, old_files = load_version(target, name, from_version, workspace / "old")
        new_descriptor, new_files = load_version(target, name, newer, workspace / "new")
        changes = diff_versions(
            old_descriptor, old_files, new_descriptor, new_files, scratch=workspace
        )
    finally:
        discard_workspace(workspace)
    # The steward's word on each version in between (the later one of the two included).
    messages = [
        (v.version, v.message)
        for v in sorted(record.listed(), key=lambda v: v.version)
        if older < v.version <= newer and v.message
    ]
    if as_json:
        result = changes.to_dict(from_version, str(newer), None)
        result["message"] = messages[-1][1] if messages and messages[-1][0] == newer else None
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{name} {from_version} → {newer}: {changes.headline()}")
    for version, message in messages:
        typer.echo(f"  why {version}: {message}")
    for resource in changes.resources:
        if resource.status == "unchanged":
            continue
        typer.echo(f"  {resource.summary()}")
        for line in row_lines(resource):
            typer.echo(f"    {line}")
    if changes.metadata:
        typer.echo(f"  {', '.join(metadata_words(changes.metadata, 'en'))}")


@app.command()
def withdraw(
    name: str,
    version: str,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the users who cite it.")],
    delete_files: Annotated[
        bool, typer.Option("--delete-files", help="Also delete the version's files.")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Withdraw a published version: it stays listed as a tombstone, latest moves back.

    The same data is not published again by a plain publish or the schedule (they report the
    dataset `withdrawn`); `opendata publish NAME --republish` publishes it as a new version.
    """
    from opendata.catalog import rebuild_catalog
    from opendata.publish import withdraw as withdraw_version
    from opendata.state import read_history
    from opendata.storage import open_store

    settings = _settings(store)
    target = open_store(settings.store_url)
    withdraw_version(target, name, version, reason, settings.base_url, delete_files=delete_files)
    rebuild_catalog(target, settings.base_url, [name])
    record, _ = read_history(target, name)
    files = "its files deleted" if delete_files else "its files kept"
    typer.echo(f"{name} {version} withdrawn ({files}); latest is now {record.latest or 'none'}")
    typer.echo(
        f"The same data will not be published again (publish and the schedule report "
        f"{name} as withdrawn); to publish it anyway: opendata publish {name} --republish"
    )


@app.command()
def verify(store: StoreOption = None) -> None:
    """Re-hash every published file against its descriptor; exit 1 if anything is wrong."""
    from opendata.storage import open_store
    from opendata.verification import verify as verify_store

    settings = _settings(store)
    checked, problems = verify_store(open_store(settings.store_url), settings.base_url)
    for problem in problems:
        typer.echo(problem.describe())
    if problems:
        typer.echo(f"{len(problems)} problems in {checked} files checked")
        raise typer.Exit(1)
    typer.echo(f"OK: {checked} files checked")


@app.command()
def serve(
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port to listen on (default: OPENDATA_BASE_URL's, or 8000)."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    store: StoreOption = None,
) -> None:
    """Serve a local store over HTTP with the right content types."""
    import errno
    from urllib.parse import urlsplit

    from opendata.serve import make_server, run_server

    settings = _settings(store)
    url = settings.store_url
    if "://" in url and not url.startswith("file://"):
        raise ConfigError(
            f"opendata serve serves a local folder, not {redact_url(url)}: an s3:// store is "
            "served by its bucket (see `opendata setup-bucket`)"
        )
    root = Path(url.removeprefix("file://"))
    if not root.is_dir():
        raise ConfigError(f"{root} does not exist yet: run `opendata publish` first")
    base = urlsplit(settings.base_url)
    local = base.scheme == "http" and base.hostname in LOCAL_NAMES
    if port is None:
        port = (base.port or 80) if local else 8000
    try:
        server = make_server(root, host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another `opendata serve`?): stop "
                f"that server or choose another port, e.g. --port {port + 1}"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    address = f"http://{'localhost' if host in LOCAL_NAMES else host}:{port}/"
    typer.echo(f"Serving {root} at {address} (Ctrl-C to stop)")
    if not (local and (base.port or 80) == port):
        typer.echo(
            f"Note: the published pages and files link to {settings.base_url} "
            f"(OPENDATA_BASE_URL). To browse them here, publish with "
            f"OPENDATA_BASE_URL={address} and serve with the same setting.",
            err=True,
        )
    run_server(server)


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


@app.command(name="setup-bucket")
def setup_bucket(
    store: StoreOption = None,
    public: Annotated[
        bool,
        typer.Option("--public/--private", help="Let anyone read what is published (default)."),
    ] = True,
) -> None:
    """Create the s3:// store's bucket if needed and make what is published readable by all."""
    from opendata.storage import open_store
    from opendata.storage.s3 import S3Store

    settings = _settings(store)
    target = open_store(settings.store_url)
    if not isinstance(target, S3Store):
        raise ConfigError(
            "setup-bucket is for an s3:// store; OPENDATA_STORE is "
            + redact_url(settings.store_url)
        )
    for line in target.ensure_bucket(public=public):
        typer.echo(line)
    warn_default_base_url(settings)
    typer.echo(f"Ready: {redact_url(settings.store_url)}; publish with `opendata publish`.")


steward_app = typer.Typer(
    no_args_is_help=True, help="Stewards: who may deliver files for which datasets."
)
app.add_typer(steward_app, name="steward")
deliveries_app = typer.Typer(no_args_is_help=True, help="The delivery page and API.")
app.add_typer(deliveries_app, name="deliveries")


def _steward_store(store: str | None) -> Any:
    from opendata.storage import open_store
    from opendata.storage.open import check_store

    settings = _settings(store)
    check_store(settings.store_url)
    return settings, open_store(settings.store_url)


@steward_app.command("add")
def steward_add(
    name: Annotated[str, typer.Argument(help="The steward's sign-in name, e.g. anna.svensson.")],
    organisation: Annotated[
        str, typer.Option("--organisation", help="The steward's organisation, e.g. 'Borås stad'.")
    ],
    datasets: Annotated[
        str, typer.Option("--datasets", help="Datasets they may deliver, comma-separated.")
    ],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a password for the page from standard input."),
    ] = False,
    store: StoreOption = None,
) -> None:
    """Create or update a steward and print a new access token (shown once, kept only hashed)."""
    from opendata.stewards import add_steward

    settings, target = _steward_store(store)
    names = [d.strip() for d in datasets.split(",") if d.strip()]
    available = discover(settings.datasets_dir)
    unknown = [d for d in names if d not in available]
    if unknown:
        raise DefinitionError(
            f"no such dataset: {', '.join(unknown)} (datasets: {', '.join(available) or 'none'})"
        )
    if not names:
        raise ConfigError("--datasets: name at least one dataset, e.g. --datasets befolkning")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    steward, token = add_steward(target, name, organisation, names, password)
    typer.echo(
        f"Steward {steward.name} ({steward.organisation}) may deliver: "
        f"{', '.join(steward.datasets)}",
        err=True,
    )
    if steward.password_hash:
        typer.echo("They sign in to the page with their password.", err=True)
    typer.echo(
        "Access token, shown only now (keep it secret; `steward add` again makes a new one):",
        err=True,
    )
    typer.echo(token)


@steward_app.command("list")
def steward_list(store: StoreOption = None) -> None:
    """The stewards, their organisations and datasets (never a token or password)."""
    from opendata.stewards import read_registry

    _, target = _steward_store(store)
    registry, _ = read_registry(target)
    if not registry.stewards:
        typer.echo("No stewards yet: opendata steward add NAME --organisation ORG --datasets a,b")
        return
    rows = [("steward", "organisation", "datasets", "password", "updated")]
    for s in registry.stewards:
        rows.append(
            (
                s.name,
                s.organisation,
                ",".join(s.datasets),
                "yes" if s.password_hash else "no",
                s.updated,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@steward_app.command("remove")
def steward_remove(name: str, store: StoreOption = None) -> None:
    """Remove a steward: their token and password stop working at once."""
    from opendata.stewards import remove_steward

    _, target = _steward_store(store)
    if not remove_steward(target, name):
        raise ConfigError(f"no steward {name!r} (opendata steward list shows them)")
    typer.echo(f"Steward {name} removed; their token and password no longer work.")


@steward_app.command("policy")
def steward_policy(
    name: Annotated[str, typer.Argument(help="The steward, e.g. anna.svensson.")],
    store: StoreOption = None,
) -> None:
    """Print the AWS IAM policy for the steward's own S3 key: put files into their datasets'
    inboxes (<prefix>/_inbox/<dataset>/) and nothing else (no reading, no listing, no _private/)."""
    from opendata.deliveries import inbox_policy
    from opendata.stewards import read_registry
    from opendata.storage.s3 import S3Store

    settings = _settings(store)
    if not is_s3(settings):
        raise ConfigError(
            "steward policy is an S3 policy and needs an s3:// store (--store s3://bucket/prefix);"
            " the store is " + redact_url(settings.store_url)
        )
    _, target = _steward_store(store)
    if not isinstance(target, S3Store):
        raise ConfigError("steward policy needs an s3:// store (--store s3://bucket/prefix)")
    registry, _ = read_registry(target)
    steward = registry.get(name)
    if steward is None:
        raise ConfigError(
            f"no steward {name[:80]!r} in {redact_url(settings.store_url)} "
            "(opendata steward list shows them)"
        )
    policy = inbox_policy(target.bucket, target.prefix, steward.datasets)
    typer.echo(json.dumps(policy, indent=2))
    typer.echo(
        f"Attach it to {steward.name}'s own IAM user (e.g. aws iam put-user-policy "
        "--policy-name opendata-inbox --policy-document file://policy.json); their key may then "
        f"put files into {', '.join(map(layout.Deliveries.inbox, steward.datasets))} and nothing "
        "else.",
        err=True,
    )


@deliveries_app.command("serve")
def deliveries_serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8100,
    offline: Annotated[
        bool, typer.Option("--offline", help="Ask no public API when checking deliveries.")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Serve the delivery page (/) and API (/api/...) for the configured store.

    With a Prefect API configured, a delivery starts the `process-deliveries` deployment
    through Prefect's events; without one, this process runs the same steps itself."""
    import errno
    import socket

    import uvicorn

    from opendata.delivery_app import AppConfig, create_app
    from opendata.runners import PrefectRunner
    from opendata.storage import open_store
    from opendata.storage.open import check_store

    settings = _settings(store)
    check_store(settings.store_url)
    api = prefect_api_url()
    runner = PrefectRunner(api[0]) if api else None
    config = AppConfig(
        settings=settings,
        store=open_store(settings.store_url),
        runner=runner,
        offline=offline,
        max_upload=settings.deliveries_max_bytes,
        trusted_proxies=settings.trusted_proxies,
        identity_header=settings.deliveries_identity_header or None,
        secure_cookies=settings.deliveries_secure_cookies,
        inbox_interval=settings.inbox_interval,
    )
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use: stop that server or choose another "
                f"port, e.g. --port {port + 1}"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    finally:
        probe.close()
    where = "Prefect at " + redact_url(api[0]) if api else "this process (no Prefect API)"
    typer.echo(
        f"Deliveries for {redact_url(settings.store_url)} at http://{host}:{port}/ "
        f"(runs: {where}; Ctrl-C to stop)"
    )
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def show_library_messages() -> None:
    """What the library logs reaches the steward on stderr as it happens: warnings always (a
    slow API's retries, say), progress (a line per dataset and resource) in a terminal. Rich
    formats them in a terminal; logs and pipes get plain lines."""
    import logging

    library = logging.getLogger("opendata")
    if any(not isinstance(h, logging.NullHandler) for h in library.handlers):
        return
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.highlighter import NullHighlighter
        from rich.logging import RichHandler

        handler = RichHandler(
            show_time=False, show_path=False, markup=False, highlighter=NullHighlighter()
        )
        handler.setLevel(logging.INFO)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.setLevel(logging.WARNING)
    library.addHandler(handler)
    library.setLevel(logging.INFO)


def main() -> None:
    """Console entry point: turn typed errors into a message and the contract's exit code."""
    show_library_messages()
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except OpendataError as error:
        if STATE["debug"]:
            traceback.print_exc()
        typer.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    except (typer.BadParameter, typer.Abort) as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Terminated as stopped:  # SIGTERM: the run let go of its claims (termination.py)
        typer.echo(f"Error: {stopped}", err=True)
        sys.exit(stopped.exit_code)
    except Exception as error:
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(2)
        if STATE["debug"]:
            traceback.print_exc()
        typer.echo(
            f"Error: {type(error).__name__}: {error} (run with --debug for details)", err=True
        )
        sys.exit(3)
