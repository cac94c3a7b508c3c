"""The `opendata` command's Typer app and what its commands share: the --store option, the
bump choices, the --debug flag and the settings a command reads."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from opendata.config import Settings, load_settings

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


def settings_for(store: str | None = None) -> Settings:
    """The settings, with the command's --store on top."""
    return load_settings(store=store)
