"""The commands about the published site: serve a local store, set up an S3 bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opendata.cli.app import StoreOption, app, settings_for
from opendata.cli.publishing import warn_default_base_url
from opendata.config import redact_url
from opendata.errors import ConfigError


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

    settings = settings_for(store)
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
    from opendata.storage.open import setup_bucket as set_up

    settings = settings_for(store)
    for line in set_up(settings.store_url, public=public):
        typer.echo(line)
    warn_default_base_url(settings)
    typer.echo(f"Ready: {redact_url(settings.store_url)}; publish with `opendata publish`.")
