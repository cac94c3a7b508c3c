"""opendata.termination: SIGTERM at a run's boundary, and the delivery app's runner stopping."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from opendata import termination
from opendata.errors import Terminated
from opendata.runners import LocalRunner


def test_sigterm_inside_raises_terminated_and_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as stopped, termination.on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises here
    assert str(stopped.value).startswith("stopped by SIGTERM")
    assert stopped.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) == before
    assert not termination.STOP.is_set()


def test_a_previous_handler_that_is_a_function_has_the_last_word() -> None:
    """Prefect's engine installs one that raises TerminationSignal: it is called once the run
    has stopped, so Prefect records the run's end as it does without us."""
    seen: list[int] = []

    class PrefectSignal(BaseException):
        pass

    def prefects(signum: int, _frame: Any) -> None:
        seen.append(signum)
        raise PrefectSignal

    previous = signal.signal(signal.SIGTERM, prefects)
    try:
        with pytest.raises(PrefectSignal), termination.on_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is prefects
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_threads_stop_at_their_next_check() -> None:
    stopped: list[str] = []

    def dataset() -> None:
        try:
            while True:
                termination.check()
                time.sleep(0.01)
        except Terminated:
            stopped.append("released")

    with pytest.raises(Terminated), termination.on_sigterm():
        thread = threading.Thread(target=dataset)
        thread.start()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            thread.join(timeout=10)
    assert stopped == ["released"]


def test_the_delivery_apps_runner_stops_its_run_and_starts_no_other() -> None:
    started: list[str] = []
    running = threading.Event()

    def process(name: str) -> None:
        started.append(name)
        running.set()
        while True:  # a publish: stops at its next safe point
            termination.check()
            time.sleep(0.01)

    runner = LocalRunner(process)
    runner.start("first")
    runner.start("second")
    assert running.wait(10)
    runner.close()
    assert not runner.thread.is_alive()  # stopped, not left behind by the join's 60 s
    assert started == ["first"]
    assert not termination.STOP.is_set()
