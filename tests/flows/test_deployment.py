"""prefect.yaml end to end: a real Prefect server, work pool, deployment and process worker.

Everything runs on 127.0.0.1 with its own PREFECT_HOME (the user's profile is never touched) and
publishes to a temporary store (never to the repository's public/). The steps are the ones a
steward follows (see the comments in prefect.yaml):

    prefect work-pool create opendata --type process
    prefect deploy --name publish-on-demand
    prefect worker start --pool opendata         # what `prefect deploy` prints; no OPENDATA_HOME
    prefect deployment run 'publish-all/publish-on-demand' --param datasets='["befolkning"]'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("prefect")
PREFECT = (str(_SCRIPT),) if _SCRIPT.is_file() else (sys.executable, "-m", "prefect")
OPENDATA = (sys.executable, "-m", "opendata")
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# An answer in uvicorn's access log (the server started with `--log-level INFO`):
#   INFO:     127.0.0.1:50412 - "POST /api/task_runs/ HTTP/1.1" 503
ANSWER = re.compile(r'"[A-Z]+ \S+ HTTP/[0-9.]+" (\d{3})\b')
LOCKED = "database is locked"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """The subprocesses of one test: their environment, their logs, and their clean-up."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.store = tmp_path / "store"
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.processes: list[tuple[str, subprocess.Popen[bytes], TextIO]] = []
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT_", "OPENDATA_"))
        }
        env.update(
            PREFECT_HOME=str(tmp_path / "prefect-home"),
            PREFECT_PROFILES_PATH=str(tmp_path / "prefect-home" / "profiles.toml"),
            PREFECT_API_URL=self.api,
            PREFECT_API_DATABASE_CONNECTION_URL=(
                f"sqlite+aiosqlite:///{tmp_path / 'prefect-home' / 'prefect.db'}"
            ),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_CLI_PROMPT="false",
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_HEARTBEAT_SECONDS="5",
            OPENDATA_HOME=str(REPO),
            OPENDATA_STORE=str(self.store),
            PYTHONUNBUFFERED="1",
        )
        self.env = env

    def start(
        self,
        name: str,
        *args: str,
        cwd: Path = REPO,
        unset: tuple[str, ...] = (),
        program: tuple[str, ...] = PREFECT,
    ) -> subprocess.Popen[bytes]:
        """A long-running `prefect ...` (or `program ...`) in its own process group, logging to
        logs/<name>.log."""
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen(
            [*program, *args],
            cwd=cwd,
            env={key: value for key, value in self.env.items() if key not in unset},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process, log))
        return process

    def start_worker(
        self, name: str, *args: str, cwd: Path = REPO, unset: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        """`opendata worker --pool opendata ARGS`: the README's worker (Prefect's process
        worker, stopping at once on SIGTERM)."""
        return self.start(
            name, "worker", "--pool", "opendata", *args, cwd=cwd, unset=unset, program=OPENDATA
        )

    def run(self, name: str, *args: str, unset: tuple[str, ...] = (), timeout: float = 120) -> str:
        """A short `prefect ...` run from the repository root; fails the test if it fails."""
        done = subprocess.run(
            [*PREFECT, *args],
            cwd=REPO,
            env={key: value for key, value in self.env.items() if key not in unset},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        (self.logs / f"{name}.log").write_text(output)
        if done.returncode != 0:
            pytest.fail(f"`prefect {' '.join(args)}` exited {done.returncode}:\n{output}")
        return output

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def start_server(self, *args: str) -> subprocess.Popen[bytes]:
        """`prefect server start` on this stack's port, on the database its environment names
        (SQLite in its PREFECT_HOME unless a test sets PREFECT_API_DATABASE_CONNECTION_URL),
        logging every answer (`--log-level INFO`: uvicorn's access log) so that a test can
        count the 5xx; returns once /api/health answers."""
        server = self.start(
            "server",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-ui",
            "--analytics-off",
            "--log-level",
            "INFO",
            *args,
        )
        self.wait_for_server(server)
        return server

    def trouble(self) -> tuple[int, Counter[int]]:
        """What a busy server's database shows in the logs: how many lines say `database is
        locked` (server, workers and their flow runs), and the server's answers by status."""
        locked = 0
        for log in self.logs.glob("*.log"):
            lines = log.read_text(errors="replace").splitlines()
            locked += sum(LOCKED in line for line in lines)
        server = self.logs / "server.log"
        text = server.read_text(errors="replace") if server.exists() else ""
        return locked, Counter(int(status) for status in ANSWER.findall(text))

    def wait_for_server(self, server: subprocess.Popen[bytes], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"the Prefect server exited {server.returncode}\n{self.dump()}")
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"the Prefect server did not answer /api/health in {timeout}s\n{self.dump()}")

    def dump(self) -> str:
        """Every log so far (the tail of long ones), for a failure message."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"----- {log.name} -----\n{text[-20000:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        """Stop the worker before the server; kill each process group if it does not exit."""
        for _name, process, log in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    # `prefect worker start` outlives SIGTERM (opendata/worker.py): not long.
                    process.wait(timeout=5)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            # Flow-run subprocesses of the worker share its process group: make sure none remains.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            log.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        yield stack
    finally:
        stack.stop_all()


def wait_for_flow_run(stack: Stack, flow_run_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            flow_run: dict[str, Any] = stack.get(f"/flow_runs/{flow_run_id}")
        except (httpx.TransportError, httpx.HTTPStatusError) as error:
            # A server busy on SQLite answers 503 or late for seconds: ask again (a 4xx
            # is this test's mistake and fails it).
            status = getattr(getattr(error, "response", None), "status_code", 503)
            if status < 500:
                raise
            time.sleep(1)
            continue
        if (flow_run.get("state") or {}).get("type") in TERMINAL:
            return flow_run
        time.sleep(1)
    pytest.fail(f"flow run {flow_run_id} not finished after {timeout}s\n{stack.dump()}")


@pytest.mark.integration
def test_on_demand_deployment_publishes_only_the_requested_dataset(stack: Stack) -> None:
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
    try:
        stack.run("work-pool", "work-pool", "create", "opendata", "--type", "process")
        # Deployed without OPENDATA_HOME, the pull step keeps the placeholder for the worker.
        deployed = stack.run(
            "deploy",
            "deploy",
            "--no-prompt",
            "--name",
            "publish-on-demand",
            unset=("OPENDATA_HOME",),
        )
        # Prefect tells the steward how to start a worker: that command must work as it is.
        assert "prefect worker start --pool 'opendata'" in " ".join(deployed.split()), deployed
        deployment = stack.get("/deployments/name/publish-all/publish-on-demand")
        assert deployment["work_pool_name"] == "opendata"
        assert deployment["pull_steps"] == [
            {"opendata.workdir.set_working_directory": {"directory": "{{ $OPENDATA_HOME }}"}}
        ]

        # Started away from the repository and without OPENDATA_HOME: the pull step finds the
        # checkout the worker's `opendata` package comes from.
        stack.start(
            "worker",
            "worker",
            "start",
            "--pool",
            "opendata",
            cwd=stack.tmp,
            unset=("OPENDATA_HOME",),
        )
        output = stack.run(
            "deployment-run",
            "deployment",
            "run",
            "publish-all/publish-on-demand",
            "--param",
            'datasets=["befolkning"]',
        )
        found = UUID.search(output.split("UUID", 1)[-1]) or UUID.search(output)
        assert found, output
        flow_run = wait_for_flow_run(stack, found.group(0))
        assert flow_run["parameters"]["datasets"] == ["befolkning"]
        assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]

        datasets = stack.store / "datasets"
        assert sorted(p.name for p in datasets.iterdir()) == ["befolkning"]
        descriptor = json.loads((datasets / "befolkning/1.0.0/datapackage.json").read_text())
        assert descriptor["version"] == "1.0.0"
        catalog = json.loads((stack.store / "catalog.json").read_text())
        assert [(d["name"], d["latest"]) for d in catalog["datasets"]] == [("befolkning", "1.0.0")]
    except BaseException:
        print(stack.dump())
        raise


@pytest.mark.integration
@pytest.mark.parametrize("signalled", ["flow-run", "worker"])
def test_a_flow_run_stopped_by_sigterm_releases_its_claim(stack: Stack, signalled: str) -> None:
    """SIGTERM mid-publish, to the deployment's flow-run process (a machine stopping sends it to
    every process) or to the worker alone (`systemctl stop` with KillMode=mixed, `kill PID`):
    the run ends at once, the claim it took is released, nothing half-written is visible; the
    worker, told so, takes no new run and exits."""
    from opendata.storage import open_store
    from opendata.verification import verify

    hooks = stack.tmp / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('SIGTERM_TEST_PAUSE_AFTER'):\n"
        "    import tests.sigterm_publish\n"
        "    tests.sigterm_publish.install()\n"
    )
    paused = stack.tmp / "paused"
    stack.env.update(
        PYTHONPATH=os.pathsep.join([str(hooks), str(REPO), os.environ.get("PYTHONPATH", "")]),
        SIGTERM_TEST_PAUSE_AFTER="2",  # the journal's mark, then the claim
        SIGTERM_TEST_PAUSED=str(paused),
    )
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
    try:
        stack.run("work-pool", "work-pool", "create", "opendata", "--type", "process")
        stack.run("deploy", "deploy", "--no-prompt", "--name", "publish-on-demand")
        worker = stack.start_worker("worker", cwd=stack.tmp)
        output = stack.run(
            "deployment-run",
            "deployment",
            "run",
            "publish-all/publish-on-demand",
            "--param",
            'datasets=["befolkning"]',
        )
        found = UUID.search(output.split("UUID", 1)[-1]) or UUID.search(output)
        assert found, output
        deadline = time.monotonic() + 240
        while not paused.exists():
            assert time.monotonic() < deadline, f"the run never reached its claim\n{stack.dump()}"
            time.sleep(0.5)
        pid = int(paused.read_text())
        store = open_store(str(stack.store))
        pending = json.loads(store.read_bytes("datasets/befolkning/versions.json") or b"")
        assert [(v["status"], v["owner"]["pid"]) for v in pending["versions"]] == [("pending", pid)]

        os.kill(pid if signalled == "flow-run" else worker.pid, signal.SIGTERM)
        if signalled == "worker":
            assert worker.wait(timeout=60) == 0, stack.dump()  # a guard against a hang only
            assert "SIGTERM: the worker takes no new flow run and stops" in stack.dump()
        flow_run = wait_for_flow_run(stack, found.group(0), timeout=60)
        assert flow_run["state"]["type"] in ("CRASHED", "FAILED", "CANCELLED"), flow_run["state"]
        released = json.loads(store.read_bytes("datasets/befolkning/versions.json") or b"")
        assert released["versions"] == []
        assert not [k for k in store.list("datasets/befolkning/") if "/1.0.0/" in k]
        _, problems = verify(store, "http://localhost:8000/")
        assert all(p.key.startswith("_private/stale/") for p in problems), problems
    except BaseException:
        print(stack.dump())
        raise
