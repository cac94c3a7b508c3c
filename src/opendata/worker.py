"""`opendata worker`: Prefect's process worker on the work pool, stopping on SIGTERM at once.

Prefect 3.9's `prefect worker start` turns a SIGTERM into a SIGINT to itself, and under its
command line's event loop that SIGINT cancels a task the worker outlives: measured here, a worker
given SIGTERM (or SIGINT) with nothing to do was still polling 80 s later, until systemd's
TimeoutStopSec or a test's SIGKILL ended it. This runs the same ProcessWorker with the same
settings (PREFECT_API_URL, PREFECT_WORKER_*) and, on SIGTERM or SIGINT, stops its loops: it
takes no new flow run and exits. A flow run in progress stops on its own SIGTERM, which the
service manager sends to every process of the unit (KillMode=control-group), and releases its
claims (termination.py); the worker sends its flow runs SIGTERM as well (for a manager that
signals only the main process) and waits for them to stop before its loops end.
"""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import suppress
from typing import Any

# Prefect's work pool of prefect.yaml's deployments.
DEFAULT_POOL = "opendata"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long the flow runs in progress have to stop once told to (a run stops at its next safe
# point, within seconds: termination.py); the service manager's TimeoutStopSec is longer.
GRACE_SECONDS = 30.0


def children() -> list[int]:
    """This process's children (the flow runs ProcessWorker started), from /proc."""
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":  # the parent's pid, after the state
            found.append(int(entry.name))
    return found


async def stop_children(grace: float) -> None:
    """SIGTERM to each flow run in progress (a process of its own, which a signal to the worker
    alone would not reach), then wait, `grace` seconds at most, for them to stop: each lets go
    of its claims and reports its state to the API before the worker's loops end."""
    for pid in children():
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = asyncio.get_running_loop().time() + grace
    while children() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)


async def serve(pool: str, limit: int | None, name: str | None, printer: Any = print) -> None:
    """Run the worker until SIGTERM or SIGINT, then stop it (or until it fails on its own)."""
    from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS
    from prefect.workers.process import ProcessWorker

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        stopping.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    worker = ProcessWorker(
        name=name,
        work_pool_name=pool,
        limit=limit,
        heartbeat_interval_seconds=int(PREFECT_WORKER_HEARTBEAT_SECONDS.value()),
    )
    running = asyncio.create_task(worker.start(printer=printer))
    waiting = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # the worker ended by itself: its error, if any, is the answer
            return
        printer(f"{signal.Signals(received[0]).name}: the worker takes no new flow run and stops")
        await stop_children(GRACE_SECONDS)
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
        printer(f"Worker {worker.name!r} stopped")
    finally:
        waiting.cancel()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def run(pool: str = DEFAULT_POOL, limit: int | None = None, name: str | None = None) -> None:
    """`serve` in its own event loop: the command's body."""
    asyncio.run(serve(pool, limit, name))
