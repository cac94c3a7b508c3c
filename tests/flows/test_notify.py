"""The failure notification on a real Prefect server: `python -m flows.notify` creates the
automation of automations/notify-on-failure.yaml (once, however often it runs), and a Failed
publish-all run makes the server POST to the webhook, a receiver on 127.0.0.1.

The session's Prefect server (Prefect's test harness, tests/conftest.py) runs the event, trigger
and action services that fire automations: they run in its temporary servers too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import flows.publish as flow_module
from flows.notify import BLOCK_NAME, DEFINITION, fill_blocks, load_automations
from opendata.errors import ConfigError
from opendata.run import SKIPS_STATE
from tests.cli.test_cli import write_broken_copy
from tests.conftest import REPO

AUTOMATION = "opendata-notify-on-failure"


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST (path, headers, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    receiver.posts.append((self.path, dict(self.headers), body))
                    receiver.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/opendata"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float) -> list[tuple[str, dict[str, str], bytes]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.posts) >= count, timeout=timeout)
            return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def notify(
    args: list[str], api_url: str | None, tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m flows.notify` as an operator runs it, from the repository root."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENDATA_", "PREFECT_"))
    }
    environment.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),  # never the operator's own profile
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        **env,
    )
    if api_url:
        environment["PREFECT_API_URL"] = api_url
    return subprocess.run(
        [sys.executable, "-m", "flows.notify", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def installed(prefect_api: str, receiver: Receiver, tmp_path: Path) -> Iterator[Receiver]:
    """The automation created by the documented command, pointing at the receiver; removed
    afterwards so that later failing runs of the session call no one."""
    from prefect.client.orchestration import get_client

    try:
        yield receiver
    finally:
        with get_client(sync_client=True) as client:
            for automation in client.read_automations_by_name(AUTOMATION):
                client.delete_automation(automation.id)
            block = client.read_block_document_by_name(BLOCK_NAME, "webhook")
            client.delete_block_document(block.id)


def test_the_kept_definition_is_a_valid_automation() -> None:
    from uuid import uuid4

    block = uuid4()
    [automation] = load_automations(DEFINITION, {BLOCK_NAME: block})
    assert automation.name == AUTOMATION
    assert automation.trigger.expect == {
        "prefect.flow-run.Failed",
        "prefect.flow-run.Crashed",
        # A run that skipped a dataset because a public API was out of reach (opendata.run).
        f"prefect.flow-run.{SKIPS_STATE}",
    }
    [action] = automation.actions
    assert action.type == "call-webhook" and action.block_document_id == block
    with pytest.raises(ConfigError, match="'webhook-block:other': no such webhook block"):
        fill_blocks({"actions": [{"block_document_id": "webhook-block:other"}]}, {})


@pytest.mark.integration
def test_a_failed_run_calls_the_webhook(
    installed: Receiver, prefect_api: str, workspace: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    first = notify(["--webhook", installed.url], prefect_api, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"Automation '{AUTOMATION}' created" in first.stdout
    assert installed.url not in first.stdout + first.stderr  # a webhook URL may hold a token
    # Again, from the environment: the same automation, updated, not a second one.
    again = notify([], prefect_api, tmp_path, OPENDATA_NOTIFY_WEBHOOK=installed.url)
    assert again.returncode == 0, again.stderr
    assert f"Automation '{AUTOMATION}' updated" in again.stdout
    with get_client(sync_client=True) as client:
        assert len(client.read_automations_by_name(AUTOMATION)) == 1

    name, _ = write_broken_copy(workspace, "not-a-number")
    state = flow_module.publish_all(
        datasets=[name], store=str(workspace / "public"), home=str(workspace), return_state=True
    )
    assert state.is_failed()
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)

    [(path, headers, body)] = installed.wait(1, timeout=60)
    assert path == "/hooks/opendata"
    assert headers["Content-Type"] == "application/json"
    message = json.loads(body)
    assert message["flow"] == "publish-all"
    assert message["flow_run"] == flow_run.name
    assert message["flow_run_id"] == str(flow_run.id)
    assert message["state"] == "Failed"
    assert message["message"].endswith(f"Not published: {name} (invalid)")
    assert message["text"].startswith(
        f"Publiceringen misslyckades / Publishing failed: {flow_run.name} (Failed): "
    )
    # The dataset's own subflow failed too, but one failure sends one message.
    time.sleep(3)
    assert len(installed.posts) == 1


def test_without_a_webhook_or_a_server_it_says_what_to_set(tmp_path: Path) -> None:
    missing = notify([], "http://127.0.0.1:9/api", tmp_path)
    assert missing.returncode == 2
    assert "no webhook: pass --webhook URL or set OPENDATA_NOTIFY_WEBHOOK" in missing.stderr

    bad = notify(["--webhook", "ftp://token@example.org/x"], None, tmp_path)
    assert bad.returncode == 2 and "token" not in bad.stderr
    assert "http:// or https:// URL" in bad.stderr

    no_server = notify(["--webhook", "https://hooks.example.org/x"], None, tmp_path)
    assert no_server.returncode == 2
    assert "no Prefect server configured" in no_server.stderr
    assert "PREFECT_API_URL" in no_server.stderr

    down = notify(["--webhook", "https://hooks.example.org/x"], "http://127.0.0.1:9/api", tmp_path)
    assert down.returncode == 3
    assert "cannot reach the Prefect API at http://127.0.0.1:9/api" in down.stderr
