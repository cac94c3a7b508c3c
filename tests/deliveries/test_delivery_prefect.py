"""Issue 17, item 6: a steward's delivery starts its run on the Prefect server, end to end.

A real Prefect server on 127.0.0.1, the deployment `process-deliveries` deployed from
prefect.yaml with its event trigger, a process worker, and the delivery app (`opendata
deliveries serve`) sending Prefect its events. Nothing here polls Prefect to start a run: the
trigger does, once per dataset after its quiet spell (prefect.yaml's own values, not lowered).

- Two files of one dataset delivered within a second make ONE flow run, whose parameters are
  the dataset's name (the trigger's template), whose artifact is `deliveries-<dataset>`, and
  which leaves both deliveries `ready`; asking for publication makes a run that publishes them.
- With Prefect unreachable, an upload is still taken (202) and kept, its record says it is
  waiting for Prefect; once Prefect answers, the app's own loop sends the event again and the
  delivery is checked. (A relay in front of the server stands for the network coming back, so
  that the two tests share one server.) The file is broken: its run fails, and the failure
  notification (automations/notify-on-failure.yaml) posts to a webhook as for any failed run.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opendata import deliveries, delivery_records
from opendata.config import load_settings
from opendata.definitions import load_dataset
from opendata.delivery_app import AppConfig, DeliveryApp
from opendata.runners import RECEIVED, WAITING_NOTE
from opendata.storage import open_store
from tests.conftest import copy_home
from tests.flows.test_deployment import REPO, Stack, free_port, wait_for_flow_run
from tests.flows.test_notify import Receiver, notify

DEPLOYMENT = "process-deliveries/process-deliveries"
OTHER = "matsvinn"  # a second copy of avfallsplan, for the test with Prefect away
HANG = 300.0  # seconds: only a hang takes this long


@dataclass
class Prefect:
    """The module's Prefect server, its `process-deliveries` deployment and worker."""

    stack: Stack
    home: Path
    deployment: dict[str, Any]

    def runs(self, dataset: str) -> list[dict[str, Any]]:
        """The deployment's flow runs for `dataset`, oldest first."""
        found: list[dict[str, Any]] = self.stack.post(
            "/flow_runs/filter",
            {
                "flow_runs": {"deployment_id": {"any_": [self.deployment["id"]]}},
                "sort": "EXPECTED_START_TIME_ASC",
            },
        )
        return [run for run in found if run["parameters"].get("dataset") == dataset]


@pytest.fixture(scope="module")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prefect]:
    tmp = tmp_path_factory.mktemp("deliveries-prefect")
    stack = Stack(tmp)
    home = copy_home(tmp / "home", "avfallsplan")
    shutil.copytree(home / "datasets" / "avfallsplan", home / "datasets" / OTHER)
    (home / "flows").symlink_to(REPO / "flows", target_is_directory=True)
    (tmp / "tmpdir").mkdir()
    stack.env.update(OPENDATA_HOME=str(home), TMPDIR=str(tmp / "tmpdir"))
    try:
        server = stack.start(
            "server",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(stack.port),
            "--no-ui",
            "--analytics-off",
        )
        stack.wait_for_server(server)
        stack.run("work-pool", "work-pool", "create", "opendata", "--type", "process")
        # OPENDATA_HOME set: the deployment's pull step keeps this home (see prefect.yaml).
        stack.run("deploy", "deploy", "--no-prompt", "--name", "process-deliveries")
        deployment = stack.get(f"/deployments/name/{DEPLOYMENT}")
        stack.start_worker("worker", cwd=tmp)
        yield Prefect(stack, home, deployment)
    finally:
        stack.stop_all()


@dataclass
class App:
    """`opendata deliveries serve` in its own process, and a steward's token."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def deliver(self, dataset: str, name: str, content: bytes) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.url}/api/datasets/{dataset}/deliveries",
            headers=self.headers(),
            files={"file": (name, content, "text/csv")},
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def record(self, delivery_id: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.url}/api/deliveries/{delivery_id}", headers=self.headers(), timeout=60
        )
        assert answer.status_code == 200, answer.text
        record: dict[str, Any] = answer.json()
        return record

    def wait_for(self, delivery_id: str, *states: str, dump: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + HANG
        while time.monotonic() < deadline:
            record = self.record(delivery_id)
            if record["state"] in states:
                return record
            time.sleep(0.5)
        raise AssertionError(
            f"delivery {delivery_id} never reached {states}\n{self.log.read_text()}\n{dump}"
        )


@contextlib.contextmanager
def delivery_app(prefect: Prefect, api_url: str, name: str) -> Iterator[App]:
    """The app with PREFECT_API_URL=`api_url`, its inbox loop every second."""
    env = dict(prefect.stack.env, PREFECT_API_URL=api_url, OPENDATA_INBOX_INTERVAL="1")
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "opendata",
            "steward",
            "add",
            name,
            "--organisation",
            "Borås stad",
            "--datasets",
            f"avfallsplan,{OTHER}",
        ],
        cwd=prefect.home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    port = free_port()
    log = prefect.stack.logs / f"app-{name}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "opendata",
                "deliveries",
                "serve",
                "--port",
                str(port),
                "--offline",
            ],
            cwd=prefect.home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    app = App(f"http://127.0.0.1:{port}", token, process, log)
    try:
        deadline = time.monotonic() + HANG
        while True:
            assert process.poll() is None, f"the delivery app exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{app.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (
                f"the delivery app did not start:\n{log.read_text()}"
            )
            time.sleep(0.2)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def changed(home: Path, dataset: str, source: str, old: str, new: str) -> bytes:
    text = (home / "datasets" / dataset / "sources" / source).read_text("utf-8")
    assert old in text
    return text.replace(old, new, 1).encode("utf-8")


@pytest.mark.integration
def test_files_delivered_together_make_one_prefect_run_that_checks_then_publishes(
    prefect: Prefect,
) -> None:
    stack = prefect.stack
    trigger = stack.post("/automations/filter", {})
    ours = [a for a in trigger if a["actions"][0].get("deployment_id") == prefect.deployment["id"]]
    assert len(ours) == 1, trigger
    with delivery_app(prefect, stack.api, "anna") as app:
        goals = changed(
            prefect.home, "avfallsplan", "mal.csv", ",35,g per portion", ",30,g per portion"
        )
        areas = changed(
            prefect.home, "avfallsplan", "malomraden.csv", "Fimpa skräpet", "Fimpa skräpet!"
        )
        first = app.deliver("avfallsplan", "mal.csv", goals)
        second = app.deliver("avfallsplan", "malomraden.csv", areas)
        assert first["state"] == second["state"] == "received"

        ready = [
            app.wait_for(d["id"], "ready", "invalid", "unchanged", "failed", dump=stack.dump())
            for d in (first, second)
        ]
        assert [r["state"] for r in ready] == ["ready", "ready"], (ready, stack.dump())
        assert ready[0]["version"] == ready[1]["version"] == "1.0.0"
        assert sorted(r["source"] for r in ready) == ["sources/mal.csv", "sources/malomraden.csv"]
        assert ready[0]["together_with"] == [second["id"]]
        assert all(r["waiting"] is None for r in ready)

        # One run for the two files (the trigger's debounce), given the dataset's name by the
        # trigger's parameter template, and named by the flow's own run name.
        (run,) = prefect.runs("avfallsplan")
        run = wait_for_flow_run(stack, run["id"], timeout=HANG)
        assert run["parameters"] == {"dataset": "avfallsplan"}
        assert run["name"] == "deliveries-avfallsplan"
        assert run["state"]["type"] == "COMPLETED", (run["state"], stack.dump())
        artifacts = stack.post(
            "/artifacts/filter", {"artifacts": {"key": {"any_": ["deliveries-avfallsplan"]}}}
        )
        assert [a["flow_run_id"] for a in artifacts] == [run["id"]]
        markdown = artifacts[0]["data"]
        assert "## mal\\.csv · avfallsplan · ready 1.0.0" in markdown, markdown
        assert "## malomraden\\.csv · avfallsplan · ready 1.0.0" in markdown, markdown
        assert not (stack.store / "datasets" / "avfallsplan").exists()  # checked, not published

        published = httpx.post(
            f"{app.url}/api/deliveries/{first['id']}/publish",
            headers=app.headers(),
            json={"message": "Nytt målvärde"},
            timeout=60,
        )
        assert published.status_code == 202, published.text
        done = [
            app.wait_for(d["id"], "published", "failed", "invalid", dump=stack.dump())
            for d in (first, second)
        ]
        assert [r["state"] for r in done] == ["published", "published"], (done, stack.dump())

    runs = prefect.runs("avfallsplan")
    assert len(runs) == 2, runs
    publishing = wait_for_flow_run(stack, runs[1]["id"], timeout=HANG)
    assert publishing["parameters"] == {"dataset": "avfallsplan"}
    assert publishing["state"]["type"] == "COMPLETED", (publishing["state"], stack.dump())
    history = json.loads(
        (stack.store / "datasets" / "avfallsplan" / "versions.json").read_text("utf-8")
    )
    assert history["latest"] == "1.0.0"
    (entry,) = history["versions"]
    assert entry["message"] == "Nytt målvärde"
    assert sorted(d["id"] for d in entry["deliveries"]) == sorted([first["id"], second["id"]])


class Relay:
    """The network between the app and Prefect: nothing listens on `port` until `open()`,
    then every connection is relayed to the Prefect server."""

    def __init__(self, upstream: int) -> None:
        self.port = free_port()
        self.upstream = upstream
        self.listener: socket.socket | None = None
        self.stopped = threading.Event()

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.5)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.listener is not None
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stopped.set()
        if self.listener is not None:
            self.listener.close()


@pytest.mark.integration
def test_a_delivery_made_while_prefect_is_away_is_kept_and_checked_once_prefect_answers(
    prefect: Prefect, tmp_path: Path
) -> None:
    """The delivery (a broken file, this time) is kept while Prefect does not answer and
    checked once it does; its run fails, and the failure notification fires as for any run."""
    stack = prefect.stack
    receiver = Receiver()
    relay = Relay(stack.port)
    try:
        installed = notify(["--webhook", receiver.url], stack.api, tmp_path)
        assert installed.returncode == 0, installed.stderr
        with delivery_app(prefect, f"http://127.0.0.1:{relay.port}/api", "bert") as app:
            broken = changed(
                prefect.home, OTHER, "mal.csv", ",35,g per portion", ",trettiofem,g per portion"
            )
            body = app.deliver(OTHER, "mal.csv", broken)
            assert body["state"] == "received"
            kept = app.record(body["id"])
            assert (kept["state"], kept["waiting"]) == ("received", WAITING_NOTE)
            assert prefect.runs(OTHER) == []

            relay.open()  # Prefect answers again: the app's loop sends the event once more
            record = app.wait_for(
                body["id"], "ready", "invalid", "unchanged", "failed", dump=stack.dump()
            )
            assert record["state"] == "invalid", (record, stack.dump())
            assert record["waiting"] is None
            assert record["problem_count"] == 1
            assert "'trettiofem'" in record["problems"][0]["message_sv"]
            assert "does not answer: [Errno 111] Connection refused" in app.log.read_text()

        (run,) = prefect.runs(OTHER)
        run = wait_for_flow_run(stack, run["id"], timeout=HANG)
        assert run["parameters"] == {"dataset": OTHER}
        assert run["state"]["type"] == "FAILED", (run["state"], stack.dump())
        [(_path, _headers, posted)] = receiver.wait(1, timeout=HANG)
        message = json.loads(posted)
        assert (message["flow"], message["flow_run"], message["state"]) == (
            "process-deliveries",
            f"deliveries-{OTHER}",
            "Failed",
        )
        assert message["text"].startswith(
            f"Leveranskörningen misslyckades / The delivery run failed: deliveries-{OTHER} (Failed): "
        )
        assert "mal.csv: invalid (1 problem)" in message["message"]
    finally:
        relay.close()
        receiver.close()


class Runner:
    """Prefect as the app sees it: each event is taken (True) or not answered (False)."""

    def __init__(self) -> None:
        self.answers = True
        self.events: list[str] = []

    def start(self, dataset: str, event: str = RECEIVED, delivery: str | None = None) -> bool:
        self.events.append(dataset)
        return self.answers

    def close(self) -> None:
        return None


def test_the_app_asks_prefect_again_at_every_look_while_it_is_away_and_once_per_stall_after(
    tmp_path: Path,
) -> None:
    """A delivery whose event Prefect did not take is asked for at every look of the app's
    loop until Prefect takes it; one whose event Prefect took but whose run never came (no
    worker, a crash) is asked for again once per STALLED, not at every look, so a worker that
    was away for hours does not come back to a queue of runs."""
    home = copy_home(tmp_path / "home", "avfallsplan")
    settings = load_settings(home=home, store=str(tmp_path / "store"))
    store = open_store(settings.store_url)
    dataset = load_dataset(home / "datasets" / "avfallsplan", settings.schemas_dir)
    record, _ = deliveries.receive(
        store,
        dataset,
        home / "datasets/avfallsplan/sources/mal.csv",
        "mal.csv",
        steward="anna",
        organisation="Borås stad",
        via="api",
    )
    now = [1_000_000.0]
    runner = Runner()
    app = DeliveryApp(AppConfig(settings, store, runner=runner, clock=lambda: now[0]))

    runner.answers = False
    app.start_run("avfallsplan", RECEIVED, record.id)
    app.resume()
    app.resume()
    assert runner.events == ["avfallsplan"] * 3
    assert [r.waiting for r in deliveries.list_records(store, "avfallsplan")] == [WAITING_NOTE]

    runner.answers = True
    app.resume()
    assert runner.events == ["avfallsplan"] * 4
    assert [r.waiting for r in deliveries.list_records(store, "avfallsplan")] == [None]
    app.resume()  # taken, and not quiet: nothing to ask
    assert len(runner.events) == 4

    # Taken, but no run came for STALLED: asked again, once per STALLED.
    delivery_records.change_record(
        store,
        "avfallsplan",
        record.id,
        lambda r: r.model_copy(update={"updated": "2020-01-01T00:00:00Z"}),
    )
    stalled = deliveries.STALLED.total_seconds()
    now[0] += stalled + 1
    app.resume()
    app.resume()
    app.resume()
    assert len(runner.events) == 5
    now[0] += stalled + 1
    app.resume()
    assert len(runner.events) == 6
