"""A run that gets SIGTERM stops within seconds and lets go of what it holds.

`on_sigterm()` is entered at a run's boundary (run.publish_all, for `opendata publish` and the
Prefect flows alike). In the process's main thread it installs a SIGTERM handler that sets
`STOP` and raises `Terminated` there; each dataset's thread sees `STOP` at its next safe point
(`check()`: before a dataset starts, before its claim, between the files of its version, before
the pointer) and raises `Terminated` too. On the way out:

- a claim taken but not yet published is released (publish.py: the version's files are removed
  and the claim leaves versions.json), so no run, here or on another machine, waits for it;
- a version whose pointer was written stays published; its journal mark stays, and the next
  run (of any dataset) rebuilds the derived files, as after a kill;
- scratch folders are removed by the `finally` blocks that own them.

A second SIGTERM while stopping is ignored (the clean-up finishes); SIGKILL still ends it all.
When the handler replaced was a function (Prefect's engine's, which raises its own
TerminationSignal), it is called once the run has stopped, so Prefect records the run's end as
it would have; otherwise `Terminated` reaches the caller (the CLI exits 143 with its message).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from opendata.errors import Terminated

STOP = threading.Event()


def check() -> None:
    """Raise Terminated when the process was asked to stop."""
    if STOP.is_set():
        raise Terminated()


def _handler(signum: int, _frame: object) -> None:
    if STOP.is_set():
        return  # already stopping: let the clean-up finish
    STOP.set()
    raise Terminated(signum)


@contextmanager
def on_sigterm() -> Iterator[None]:
    """Stop on SIGTERM while inside (see the module's docstring); a no-op outside the main
    thread (signal handlers belong to it) and when already inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is _handler:
        yield
        return
    signal.signal(signal.SIGTERM, _handler)
    try:
        yield
    except Terminated as stop:
        if callable(previous):
            previous(stop.signum, None)  # Prefect's engine: raises its TerminationSignal
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        STOP.clear()
