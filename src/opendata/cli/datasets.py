"""The commands about one dataset: validate it, list them, its history, the diff of two
versions, withdraw a version, verify the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from opendata.cli.app import StoreOption, app, settings_for
from opendata.config import redact_url
from opendata.definitions import discover
from opendata.errors import DefinitionError


@app.command()
def validate(
    target: Annotated[str, typer.Argument(help="Dataset name or path to a dataset folder.")],
    offline: Annotated[bool, typer.Option("--offline", help="Ask no remote source.")] = False,
    store: StoreOption = None,
) -> None:
    """Validate a dataset without publishing: the report names file, row and field."""
    from opendata.checking import check_dataset
    from opendata.tables import arrow_without_pandas

    arrow_without_pandas()
    checked = check_dataset(settings_for(store), target, offline)
    report = checked.report
    if report is None:
        typer.echo(f"{checked.dataset}: skipped ({checked.skipped})")
        return
    counts = ", ".join(
        f"{name} {rows} row{'' if rows == 1 else 's'}" for name, rows in report.rows.items()
    )
    if report.valid:
        typer.echo(f"{checked.dataset}: valid ({counts})")
    else:
        count = len(report.problems)
        typer.echo(
            f"{checked.dataset}: invalid ({count} problem{'' if count == 1 else 's'}; {counts})"
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

    settings = settings_for(store)
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

    settings = settings_for(store)
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
    from opendata.comparison import compare_versions
    from opendata.storage import open_store
    from opendata.versioning import metadata_words, row_lines

    settings = settings_for(store)
    target = open_store(settings.store_url, read_only=True)
    compared = compare_versions(target, name, from_version, to_version, where=settings.store_url)
    newer, changes, messages = compared.newer, compared.changes, compared.messages
    if compared.older is None or changes is None:
        typer.echo(f"{name} {newer} is the first version")
        return
    from_version = str(compared.older)
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

    settings = settings_for(store)
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

    settings = settings_for(store)
    checked, problems = verify_store(open_store(settings.store_url), settings.base_url)
    for problem in problems:
        typer.echo(problem.describe())
    if problems:
        typer.echo(f"{len(problems)} problems in {checked} files checked")
        raise typer.Exit(1)
    typer.echo(f"OK: {checked} files checked")
