"""What starts a dataset's delivery run: Prefect's own events, or a worker thread in the app.

- `PrefectRunner`: the app sends Prefect the event `opendata.delivery.received` (or
  `opendata.delivery.publish-requested`) about the resource `opendata.dataset.<name>`; the
  deployment `process-deliveries` in prefect.yaml has a trigger on those events (one run per
  dataset after a short quiet spell, so several files delivered together make one run). No
  polling of ours starts a run. When Prefect does not answer, the deliveries are kept, their
  records say so (`waiting`), and the event is sent again once Prefect answers.
- `LocalRunner`: without a configured Prefect API the app runs the same function
  (`deliveries.process_dataset`) in its own worker thread, as `opendata publish` does without
  Prefect.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import httpx

from opendata import termination
from opendata.config import redact_url
from opendata.errors import Terminated

log = logging.getLogger("opendata.deliveries")

RECEIVED = "opendata.delivery.received"
PUBLISH_REQUESTED = "opendata.delivery.publish-requested"
WAITING_NOTE = (
    "Prefect svarar inte; leveransen är sparad och kontrolleras när Prefect svarar igen / "
    "Prefect does not answer; the delivery is kept and checked once Prefect answers again"
)


def resource_id(dataset: str) -> str:
    return f"opendata.dataset.{dataset}"


class Runner(Protocol):
    def start(self, dataset: str, event: str = RECEIVED, delivery: str | None = None) -> bool:
        """Ask for the dataset's delivery run; False when it could not be asked for now."""

    def close(self) -> None: ...


class LocalRunner:
    """One worker thread that runs `process(dataset)` for each dataset asked for, in order; a
    dataset asked for again while it waits is run once."""

    def __init__(self, process: Callable[[str], object]) -> None:
        self.process = process
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.waiting: set[str] = set()
        self.lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()
        self.thread = threading.Thread(target=self._work, name="deliveries", daemon=True)
        self.thread.start()

    def start(self, dataset: str, event: str = RECEIVED, delivery: str | None = None) -> bool:
        with self.lock:
            if dataset in self.waiting:
                return True
            self.waiting.add(dataset)
            self.idle.clear()
        self.queue.put(dataset)
        return True

    def _work(self) -> None:
        while True:
            dataset = self.queue.get()
            if dataset is None:
                return
            with self.lock:
                self.waiting.discard(dataset)
            if termination.STOP.is_set():
                return  # closing: the datasets still waiting are resumed when the app restarts
            try:
                self.process(dataset)
            except Terminated:
                log.warning("%s: the delivery run stopped (the app is stopping)", dataset)
                return
            except Exception:  # a run's own failures are on its records; this is a bug
                log.exception("%s: the delivery run failed", dataset)
            finally:
                with self.lock:
                    if not self.waiting and self.queue.empty():
                        self.idle.set()

    def close(self) -> None:
        """Stop (the app got SIGTERM, uvicorn ends the lifespan): a publish in progress stops
        at its next safe point and releases its claim (termination.py), the datasets still
        waiting are left to the next start of the app (it resumes every waiting delivery)."""
        stopping = not termination.STOP.is_set()
        termination.STOP.set()
        self.queue.put(None)
        self.thread.join(timeout=60)
        if stopping:
            termination.STOP.clear()  # this process may go on (tests, an embedding program)


class PrefectRunner:
    """Sends the delivery events to the Prefect API's events endpoint (POST /events)."""

    def __init__(self, api_url: str, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def start(self, dataset: str, event: str = RECEIVED, delivery: str | None = None) -> bool:
        body = [
            {
                "id": str(uuid.uuid4()),
                "occurred": datetime.now(UTC).isoformat(),
                "event": event,
                "resource": {
                    "prefect.resource.id": resource_id(dataset),
                    "prefect.resource.name": dataset,
                },
                "payload": {"dataset": dataset, "delivery": delivery},
            }
        ]
        try:
            answer = httpx.post(f"{self.api_url}/events", json=body, timeout=self.timeout)
        except httpx.HTTPError as error:
            log.warning("Prefect at %s does not answer: %s", redact_url(self.api_url), error)
            return False
        if answer.status_code >= 300:
            log.warning(
                "Prefect at %s refused the event: HTTP %d",
                redact_url(self.api_url),
                answer.status_code,
            )
            return False
        return True

    def close(self) -> None:
        return None
