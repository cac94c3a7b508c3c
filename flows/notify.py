"""Create or update the failure notification on the Prefect server: `python -m flows.notify`.

    python -m flows.notify --webhook https://hooks.example.org/...   # or OPENDATA_NOTIFY_WEBHOOK
    make notify OPENDATA_NOTIFY_WEBHOOK=https://hooks.example.org/...

The automations are kept in automations/notify-on-failure.yaml. The webhook's URL is the
operator's (often a secret token): it is saved in a Webhook block (`opendata-notify`), whose id
replaces `webhook-block:opendata-notify` in the file, and never printed. Running the command
again updates the block and the automations in place (matched by name), so it never makes a
second notification.

`prefect automation create --from-file` cannot do this: it has no way to refer to a block by
name, and each call creates another copy.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import yaml

from opendata.config import prefect_api_url, redact_url
from opendata.errors import ConfigError, OpendataError, PrefectUnavailable

DEFINITION = Path(__file__).resolve().parents[1] / "automations" / "notify-on-failure.yaml"
BLOCK_NAME = "opendata-notify"
PLACEHOLDER = "webhook-block:"
ENVIRONMENT = "OPENDATA_NOTIFY_WEBHOOK"


def check_webhook(url: str | None) -> str:
    """The webhook URL, or a ConfigError (exit 2) saying how to give one."""
    if not url or not url.strip():
        raise ConfigError(
            f"no webhook: pass --webhook URL or set {ENVIRONMENT} (the address your chat tool or "
            "mail gateway gives for incoming webhooks)"
        )
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Never echo the URL: it often carries a token.
        raise ConfigError("the webhook must be an http:// or https:// URL with a host name")
    return url


def fill_blocks(value: Any, blocks: Mapping[str, UUID]) -> Any:
    """`value` with every `webhook-block:<name>` string replaced by that block's id."""
    if isinstance(value, dict):
        return {key: fill_blocks(item, blocks) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_blocks(item, blocks) for item in value]
    if isinstance(value, str) and value.startswith(PLACEHOLDER):
        name = value.removeprefix(PLACEHOLDER)
        if name not in blocks:
            raise ConfigError(f"{value!r}: no such webhook block is made by this command")
        return str(blocks[name])
    return value


def load_automations(path: Path, blocks: Mapping[str, UUID]) -> list[Any]:
    """The automations of `path` (a list under `automations:`), blocks filled in, validated."""
    from prefect.events.schemas.automations import AutomationCore
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot be read: {error}") from None
    entries = data.get("automations") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a list under `automations:`")
    automations = []
    for index, entry in enumerate(entries):
        try:
            automations.append(AutomationCore.model_validate(fill_blocks(entry, blocks)))
        except ValidationError as error:
            raise ConfigError(f"{path}: automation {index + 1}: {error}") from None
    return automations


def install(webhook: str, path: Path = DEFINITION) -> list[tuple[str, str]]:
    """Save the webhook block and create or update each automation; (name, what was done)."""
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client
    from prefect.types import SecretDict
    from pydantic import SecretStr

    block = Webhook(
        method="POST",
        url=SecretStr(webhook),
        headers=SecretDict({"Content-Type": "application/json"}),
    )
    block_id: UUID = block.save(BLOCK_NAME, overwrite=True)  # type: ignore[assignment]
    automations = load_automations(path, {BLOCK_NAME: block_id})
    done = []
    with get_client(sync_client=True) as client:
        for automation in automations:
            existing = client.read_automations_by_name(automation.name)
            if existing:
                client.update_automation(existing[0].id, automation)
                for extra in existing[1:]:  # copies made by hand (`prefect automation create`)
                    client.delete_automation(extra.id)
                done.append((automation.name, "updated"))
            else:
                client.create_automation(automation)
                done.append((automation.name, "created"))
    return done


def check_api() -> str:
    """The configured Prefect API, answering; else an error that says what to do."""
    import httpx

    found = prefect_api_url()
    if found is None:
        raise ConfigError(
            "no Prefect server configured: the notification lives on the server that runs the "
            "deployments; start it (`prefect server start`) and set PREFECT_API_URL "
            "(`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`), see prefect.yaml"
        )
    url, where = found
    try:
        httpx.get(url.rstrip("/") + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError:
        raise PrefectUnavailable(
            f"cannot reach the Prefect API at {redact_url(url)} ({where}): "
            "start it with `prefect server start`"
        ) from None
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.notify",
        description=(
            "Create or update the automation that calls a webhook when a publish-all or "
            "process-deliveries run fails or crashes, or a publish-all run completes with skips "
            f"({DEFINITION.relative_to(DEFINITION.parents[1])})."
        ),
    )
    parser.add_argument(
        "--webhook",
        default=os.environ.get(ENVIRONMENT),
        help=f"the URL to POST to when a run fails (default: ${ENVIRONMENT})",
    )
    parser.add_argument(
        "--file", type=Path, default=DEFINITION, help="the automations (default: %(default)s)"
    )
    arguments = parser.parse_args(argv)
    try:
        webhook = check_webhook(arguments.webhook)
        url = check_api()
        done = install(webhook, arguments.file)
    except OpendataError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    for name, what in done:
        print(
            f"Automation {name!r} {what} on {redact_url(url)}: a failed or crashed publish-all "
            "or process-deliveries run, and a publish-all run completed with skips (a public "
            f"API out of reach), is posted to the webhook kept in the block {BLOCK_NAME!r}."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
