"""Worker processes for a full catalog build on a folder store (catalog/build.py).

A full build writes every dataset's page and its versions' pages and documents: 800,000 files at
10,000 datasets × 20 versions, all CPU (templates and RDF serialisers), one dataset independent
of the next. So past build.PARALLEL_FROM datasets they are made by one worker a core.

The workers are plain `python -m opendata.catalog.workers` processes fed one JSON line a task
(the store's folder, the catalog's header, the entries of CHUNK datasets) and answering one JSON
line (the keys written, the records that vouch for them), not multiprocessing's: its spawn and
forkserver methods import the caller's main module again in every worker (a script without a
`__main__` guard would run again), and fork copies a process whose other threads (Prefect's,
boto3's) may hold locks. A worker writes with `write_derived` and syncs before it answers; the
caller writes the records after its own sync. A worker that fails stops the build with its
message (a StoreError stays one), and the workers are stopped with it.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from opendata.catalog.dataset_pages import dataset_files
from opendata.catalog.splice import CatalogView
from opendata.errors import StoreError
from opendata.storage import LocalStore

CHUNK = 20  # datasets a task: a few seconds of work, a small message
AHEAD = 2  # tasks a worker is given before the first is answered


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """In a worker: write the datasets' files; the keys written and the records to keep."""
    store = LocalStore(Path(task["root"]))
    header = task["header"]
    written: list[str] = []
    records: list[tuple[str, bytes]] = []
    for entry_text in task["entries"]:
        for key, content in dataset_files(store, header, entry_text.encode("utf-8"), True, records):
            if store.write_derived(key, content):
                written.append(key)
    store.sync()  # before the records go back to be written
    return {"written": written, "records": [[key, data.decode("utf-8")] for key, data in records]}


def main() -> None:
    """A worker: one task a line on stdin, one answer a line on stdout, until stdin closes."""
    for line in sys.stdin:
        try:
            answer = run_task(json.loads(line))
        except StoreError as error:
            answer = {"error": str(error), "store": True}
        except Exception:
            answer = {"error": traceback.format_exc(), "store": False}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def write_dataset_files(
    store: LocalStore,
    view: CatalogView,
    names: Iterable[str],
    workers: int,
    records: list[tuple[str, bytes]],
) -> list[str]:
    """The datasets' files written by `workers` processes; the keys written, in the datasets'
    order; `records` gets what the files were made from (the caller writes them after a sync).
    Only AHEAD tasks a worker are in memory at a time, not the whole catalog's entries."""
    tasks = _tasks(store, view, names)
    answers: dict[int, dict[str, Any]] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "opendata.catalog.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for _ in range(workers)
    ]

    def feed(process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        waiting: queue.SimpleQueue[int] = queue.SimpleQueue()
        in_flight = 0
        try:
            while not failures:
                with lock:
                    task = next(tasks, None)
                if task is not None:
                    number, message = task
                    process.stdin.write(message)
                    process.stdin.flush()
                    waiting.put(number)
                    in_flight += 1
                if in_flight and (task is None or in_flight >= AHEAD):
                    line = process.stdout.readline()
                    if not line:
                        raise StoreError("a catalog worker stopped before it answered")
                    answer = json.loads(line)
                    if "error" in answer:
                        kind = StoreError if answer["store"] else RuntimeError
                        raise kind(answer["error"])
                    answers[waiting.get()] = answer
                    in_flight -= 1
                if task is None and not in_flight:
                    return
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=feed, args=(process,)) for process in processes]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            if failures:
                process.kill()
            process.wait()
    if failures:
        raise failures[0]
    written: list[str] = []
    for number in sorted(answers):
        written.extend(answers[number]["written"])
        records.extend((key, data.encode("utf-8")) for key, data in answers[number]["records"])
    return written


def _tasks(store: LocalStore, view: CatalogView, names: Iterable[str]) -> Any:
    """The tasks as (number, JSON line), made as the workers take them."""
    header = view.header
    chunk: list[str] = []
    number = 0
    for name in names:
        entry_bytes = view.entry_bytes(name)
        if entry_bytes is None:
            continue
        chunk.append(bytes(entry_bytes).decode("utf-8"))
        if len(chunk) == CHUNK:
            yield number, _message(store, header, chunk)
            number, chunk = number + 1, []
    if chunk:
        yield number, _message(store, header, chunk)


def _message(store: LocalStore, header: Any, entries: list[str]) -> str:
    return json.dumps({"root": str(store.root), "header": header, "entries": entries}) + "\n"


if __name__ == "__main__":
    main()
