"""`opendata steward …` (who may deliver files for which datasets) and `opendata deliveries
serve` (the delivery page and API)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from opendata import layout
from opendata.cli.app import StoreOption, app, settings_for
from opendata.cli.publishing import is_s3
from opendata.config import prefect_api_url, redact_url
from opendata.definitions import discover
from opendata.errors import (
    ConfigError,
    DefinitionError,
)

steward_app = typer.Typer(
    no_args_is_help=True, help="Stewards: who may deliver files for which datasets."
)
app.add_typer(steward_app, name="steward")
deliveries_app = typer.Typer(no_args_is_help=True, help="The delivery page and API.")
app.add_typer(deliveries_app, name="deliveries")


def _steward_store(store: str | None) -> Any:
    from opendata.storage import open_store
    from opendata.storage.open import check_store

    settings = settings_for(store)
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
    from opendata.inbox import inbox_policy
    from opendata.stewards import read_registry
    from opendata.storage.s3 import S3Store

    settings = settings_for(store)
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

    settings = settings_for(store)
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
