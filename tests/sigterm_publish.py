"""`opendata publish` that pauses after the N-th write to the store, for tests/publish/test_sigterm.py.

`python -m tests.sigterm_publish PAUSE_AFTER OPENDATA-ARGUMENTS...`: at the pause it prints
`paused <key>` and waits, as a slow write would (until SIGTERM's stop, at most a minute), so
that the test can send SIGTERM mid-protocol: after the claim, or after a version's first file.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import opendata.run
from opendata import termination
from opendata.cli import main
from opendata.storage import Store, open_store
from tests.fault_publish import KillingStore

WRITES = [0]
PAUSE_AFTER = 0
PAUSED_FILE = ""
LOCK = threading.Lock()


class PausingStore(KillingStore):
    def _wrote(self, key: str) -> None:
        with LOCK:
            WRITES[0] += 1
            pause = WRITES[0] == self.kill_after
        if pause:
            print("paused", key, flush=True)
            if PAUSED_FILE:
                Path(PAUSED_FILE).write_text(str(os.getpid()))
            deadline = time.monotonic() + 60
            # In the main thread SIGTERM's handler raises here; in a dataset's thread the run
            # sets STOP and the publish stops at its next safe point.
            while not termination.STOP.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)


def pausing_open_store(url: str) -> Store:
    return PausingStore(open_store(url), PAUSE_AFTER)


def install() -> None:
    """For a Prefect flow run (tests/flows/test_deployment.py): a `sitecustomize` on the worker's
    PYTHONPATH calls this; SIGTERM_TEST_PAUSE_AFTER says after which write to pause, and the
    process writes its pid to SIGTERM_TEST_PAUSED at the pause."""
    global PAUSE_AFTER, PAUSED_FILE
    PAUSE_AFTER = int(os.environ["SIGTERM_TEST_PAUSE_AFTER"])
    PAUSED_FILE = os.environ.get("SIGTERM_TEST_PAUSED", "")
    opendata.run.open_store = pausing_open_store  # type: ignore[attr-defined]


if __name__ == "__main__":
    PAUSE_AFTER = int(sys.argv[1])
    opendata.run.open_store = pausing_open_store  # type: ignore[attr-defined]
    sys.argv = ["opendata", *sys.argv[2:]]
    main()
