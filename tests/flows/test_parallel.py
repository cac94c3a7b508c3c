"""Issue 11, requirement 1: datasets published side by side.

In this process (threads, `opendata publish --parallel`), and as the flow on an existing Dask
cluster started here (a scheduler and two workers on 127.0.0.1) publishing to SeaweedFS. After
every run: each dataset published exactly once, `verify` clean, the catalog lists them all with
their latest version, and no journal mark is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest

from opendata import layout, run
from opendata.errors import StoreError
from opendata.preparing import DatasetInvalid
from opendata.request import RunRequest
from opendata.storage import open_store
from opendata.verification import verify
from tests.conftest import REPO, run_cli
from tests.publish.test_faults import BASE, make_home
from tests.s3server import S3Server
from tests.storekit import open_kit

IN_PROCESS = 16  # datasets of the in-process runs, 4 at a time (4 rounds of the pool)
# Datasets of the Dask run (two workers of two threads). The issue asks for 200: they take about
# three minutes on a 2-core machine that also runs SeaweedFS and the Prefect server, so the suite
# (which must stay well under 15 minutes) runs 24; TEST_DASK_DATASETS=200 runs the full count.
ON_DASK = int(os.environ.get("TEST_DASK_DATASETS", "24"))


def many_datasets(root: Path, count: int) -> tuple[Path, list[str]]:
    """A home with `count` copies of avfallsplan (`set-000`, ...), each with a value of its own."""
    home = make_home(root)
    template = home / "datasets/avfallsplan"
    names = [f"set-{number:03d}" for number in range(count)]
    for number, name in enumerate(names):
        shutil.copytree(template, home / "datasets" / name)
        goals = home / "datasets" / name / "sources/mal.csv"
        text = goals.read_text("utf-8")
        assert ",35,g per portion" in text
        goals.write_text(text.replace(",35,g per portion", f",{100 + number},g per portion"))
    shutil.rmtree(template)
    return home, names


def assert_published_once(url: str, names: list[str]) -> None:
    """Each dataset has one version, published; the store verifies; the catalog has them all."""
    store = open_store(url)
    hashes = set()
    for name in names:
        history = json.loads(store.read_bytes(f"datasets/{name}/versions.json") or b"{}")
        assert [(v["version"], v["status"]) for v in history["versions"]] == [
            ("1.0.0", "published")
        ], name
        hashes.add(history["versions"][0]["content_hash"])
    assert len(hashes) == len(names)  # every copy's content is its own
    _checked, problems = verify(store, BASE)
    assert [p.describe() for p in problems] == []
    catalog = json.loads(store.read_bytes("catalog.json") or b"{}")
    assert sorted((d["name"], d["latest"]) for d in catalog["datasets"]) == [
        (name, "1.0.0") for name in names
    ]
    assert store.list(layout.STALE) == []


# -- in this process ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_many_datasets_four_at_a_time(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = open_kit(kind, tmp_path / "stores", request, monkeypatch)
    url = kit.new("many")
    home, names = many_datasets(tmp_path / "home", IN_PROCESS)
    lock = threading.Lock()
    active: list[str] = []
    peak = [0]
    threads: set[str] = set()
    real = run.publish_dataset

    def counted(name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with lock:
            active.append(name)
            peak[0] = max(peak[0], len(active))
            threads.add(threading.current_thread().name)
        try:
            return real(name, *args, **kwargs)
        finally:
            with lock:
                active.remove(name)

    monkeypatch.setattr(run, "publish_dataset", counted)
    outcomes = run.run_in_process(RunRequest(store=url, offline=True, home=str(home), parallel=4))
    assert [(o["dataset"], o["status"], o["version"]) for o in outcomes] == [
        (name, "published", "1.0.0") for name in names
    ]
    assert peak == [4] and len(threads) == 4
    assert_published_once(url, names)

    if kind == "s3":
        return
    # Again: nothing changed, so nothing is published twice.
    again = run.run_in_process(RunRequest(store=url, offline=True, home=str(home), parallel=4))
    assert {o["status"] for o in again} == {"unchanged"}
    assert_published_once(url, names)


def test_outcomes_keep_the_order_of_the_names_and_a_failure_stops_no_other(
    tmp_path: Path,
) -> None:
    """Datasets finish in any order; outcomes come in the order asked, a repeated name once,
    failures become rows, and the catalog is updated once, after every dataset."""
    names = [f"d{number}" for number in range(12)]
    finished: list[str] = []

    def publish_one(name: str) -> dict[str, Any]:
        time.sleep(random.uniform(0, 0.05))
        finished.append(name)
        if name == "d3":
            raise StoreError("access denied")
        if name == "d5":
            raise DatasetInvalid("d5 is invalid, nothing published", [])
        return {"dataset": name, "status": "published", "version": "1.0.0", "exit_code": 0}

    catalog_calls: list[tuple[list[str], int]] = []

    def catalog_step(context: run.RunContext, touched: list[str]) -> list[str]:
        catalog_calls.append((list(touched), len(finished)))
        return []

    with pytest.raises(run.RunFailed) as failure:
        run.publish_all(
            RunRequest((*names, "d0"), str(tmp_path / "store"), home=str(tmp_path), parallel=5),
            publish_one=publish_one,
            catalog_step=catalog_step,
        )
    outcomes = failure.value.outcomes
    assert [o["dataset"] for o in outcomes] == names
    assert [o["status"] for o in outcomes if o["status"] != "published"] == ["failed", "invalid"]
    assert outcomes[3]["message"] == "access denied" and outcomes[3]["exit_code"] == 3
    assert str(failure.value) == "Not published: d3 (failed), d5 (invalid)"
    assert failure.value.exit_code == 3
    assert catalog_calls == [(names, 12)]
    assert sorted(finished) == sorted(names)


def test_the_command_publishes_side_by_side_and_refuses_a_bad_count(workspace: Path) -> None:
    done = run_cli(["publish", "--offline", "--parallel", "2", "--json"], workspace)
    assert done.returncode == 0, done.stderr
    statuses = [(o["dataset"], o["status"]) for o in json.loads(done.stdout)]
    assert [name for name, _ in statuses] == sorted(name for name, _ in statuses)
    assert {status for _, status in statuses} == {"published", "skipped"}

    zero = run_cli(["publish", "--offline", "--parallel", "0"], workspace)
    assert zero.returncode == 2
    assert zero.stderr.strip() == (
        "Error: --parallel 0: give how many datasets to publish at once, 1 or more "
        "(1 publishes them one after another)"
    )
    word = run_cli(["publish", "--offline"], workspace, OPENDATA_PARALLEL="many")
    assert word.returncode == 2
    assert word.stderr.strip() == (
        "Error: Invalid configuration: OPENDATA_PARALLEL: 'many' is not a number of datasets "
        "to publish at once: give a whole number, 1 or more (1 publishes one after another), "
        "e.g. 4"
    )
    dask = run_cli(["publish", "--offline"], workspace, OPENDATA_DASK_ADDRESS="http://x:8786")
    assert dask.returncode == 2
    assert "OPENDATA_DASK_ADDRESS: 'http://x:8786' has the scheme 'http'" in dask.stderr


def test_the_flow_chooses_its_task_runner_when_a_run_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask.task_runners import DaskTaskRunner

    import flows.publish as flow_module

    monkeypatch.delenv("OPENDATA_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("OPENDATA_PARALLEL", "3")
    threads = flow_module.publish_all.task_runner.duplicate()
    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 3
    monkeypatch.setenv("OPENDATA_DASK_ADDRESS", "tcp://127.0.0.1:8786")
    dask = flow_module.publish_all.task_runner.duplicate()
    assert isinstance(dask, DaskTaskRunner) and dask.address == "tcp://127.0.0.1:8786"
    # A bad setting is the flow's to report (its artifacts say so): the runner falls back.
    monkeypatch.setenv("OPENDATA_PARALLEL", "0")
    assert isinstance(flow_module.publish_all.task_runner.duplicate(), ThreadPoolTaskRunner)


# -- the flow on a Dask cluster -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dask_command() -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


class DaskCluster:
    """A `dask scheduler` and its `dask worker`s on 127.0.0.1, each in its own process group."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes: list[tuple[subprocess.Popen[bytes], TextIO]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("w")
        process = subprocess.Popen(
            [*dask_command(), *args],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((process, log))
        return process

    def worker_pids(self) -> set[int]:
        return {process.pid for process, _ in self.processes[1:]}

    def logs(self) -> str:
        return "\n".join(
            f"----- {log.name} -----\n{log.read_text(errors='replace')[-5000:]}"
            for log in sorted(self.folder.glob("*.log"))
        )

    def stop(self) -> None:
        for process, log in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            log.close()


@pytest.fixture
def dask_cluster(
    tmp_path: Path, s3_server: S3Server, prefect_api: str, private_tmpdir: Path
) -> Iterator[DaskCluster]:
    """A scheduler and two single-process workers of two threads each, with the repository on
    PYTHONPATH, the S3 server's credentials and the session's Prefect API."""
    from distributed import Client

    folder = tmp_path / "dask"
    folder.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENDATA_", "PREFECT_", "DASK_"))
    }
    env.update(
        s3_server.env(),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        PREFECT_API_URL=prefect_api,
        PREFECT_HOME=str(folder / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        TMPDIR=str(private_tmpdir),  # `verify` then sees what the workers left there too
    )
    cluster = DaskCluster(folder, env)
    try:
        port = cluster.address.rsplit(":", 1)[1]
        cluster.start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"
        )
        for number in range(2):
            cluster.start(
                f"worker-{number}",
                "worker",
                cluster.address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "2",
                "--no-nanny",
                "--no-dashboard",
                "--name",
                f"worker-{number}",
            )
        try:
            with Client(cluster.address, timeout=60) as client:
                client.wait_for_workers(2, timeout=60)
        except Exception:
            pytest.fail(f"the Dask cluster did not start:\n{cluster.logs()}")
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.integration
def test_datasets_on_a_dask_cluster_to_s3(
    dask_cluster: DaskCluster,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flows.publish as flow_module

    kit = open_kit("s3", tmp_path / "stores", request, monkeypatch)
    url = kit.new("dask")
    home, names = many_datasets(tmp_path / "home", ON_DASK)
    monkeypatch.setenv("OPENDATA_DASK_ADDRESS", dask_cluster.address)
    publishers: list[int] = []
    real = flow_module.let_go_of_marks

    def spied(context: Any, found: dict[str, Any]) -> None:
        publishers.extend(owner.pid for owner in found.values())
        real(context, found)

    monkeypatch.setattr(flow_module, "let_go_of_marks", spied)
    started = time.monotonic()
    state = flow_module.publish_all(store=url, home=str(home), offline=True, return_state=True)
    took = time.monotonic() - started
    assert state.is_completed(), f"{state.message}\n{dask_cluster.logs()}"
    outcomes = state.result()
    assert [(o["dataset"], o["status"], o["version"]) for o in outcomes] == [
        (name, "published", "1.0.0") for name in names
    ]
    # Both workers published, and nothing ran in this process.
    assert len(publishers) == ON_DASK and set(publishers) == dask_cluster.worker_pids()
    assert_published_once(url, names)
    print(f"{ON_DASK} datasets on 2 Dask workers: {took:.1f} s")
