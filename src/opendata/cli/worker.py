"""`opendata worker`: a Prefect process worker on the pool that stops when told to."""

from __future__ import annotations

from typing import Annotated

import typer

from opendata.cli.app import app


@app.command()
def worker(
    pool: Annotated[str, typer.Option("--pool", help="The work pool to take flow runs from.")] = (
        "opendata"
    ),
    limit: Annotated[
        int | None, typer.Option("--limit", help="Flow runs at once (default: no limit).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The worker's name.")] = None,
) -> None:
    """Run a Prefect process worker on the pool (as `prefect worker start --pool opendata`),
    stopping at once on SIGTERM or SIGINT: no new flow run, the running ones told to stop."""
    from opendata.worker import run

    run(pool, limit, name)
