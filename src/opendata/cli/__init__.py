"""The `opendata` command: a thin layer over the core and the flows.

Exit codes (contract): 0 all requested datasets published or unchanged; 1 at least one dataset
invalid; 2 usage or configuration error; 3 storage or other operational failure. This is the one
place where exceptions become plain messages; tracebacks only with --debug.
"""

from __future__ import annotations

import sys
import traceback

import typer

from opendata.cli.app import STATE, app

# Each module registers its commands on the app, in the order `opendata --help` lists them.
# isort: off
from opendata.cli import publishing as publishing
from opendata.cli import datasets as datasets
from opendata.cli import site as site
from opendata.cli import stewards as stewards
from opendata.cli import worker as worker

# isort: on
from opendata.errors import OpendataError, Terminated

__all__ = ["app", "main"]


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
