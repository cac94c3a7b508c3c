"""`python -m bench.spread`: one spread run of N datasets on Prefect's server on SQLite, then on
PostgreSQL, side by side (`make bench-spread`; issue 21).

Each database gets the steps of tests/flows/test_spread.py on a fresh stack on 127.0.0.1: a Prefect
server (PostgreSQL: a throwaway cluster from tests/pgserver.py, Unix socket only), the work pool
`opendata`, the deployments, three process workers taking two runs each, and one run of
`publish-spread/publish-spread` over N copies of avfallsplan in BATCHES batches (default 6: one
for each run the workers can hold). Printed for each: the spread run's time (from Prefect's
start and end times) and the whole wall time with the server's start-up and deployments,
whether every dataset was published once and `verify` is clean, how many batches Prefect had to
launch again (Crashed, or Failed for its API), how many log lines say `database is locked`
(server, workers, their flow runs) and how many requests the server answered with a 5xx (its
access log). Times are printed, never asserted. A run of 1,000 takes tens of minutes on two
cores, so it is not part of `make bench`.

    python -m bench.spread [--datasets 1000] [--batches 6] [--databases sqlite postgresql]
    (or BENCH_SPREAD_DATASETS=200 make bench-spread)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from opendata.storage import open_store
from opendata.verification import verify
from tests.flows.test_deployment import Stack
from tests.flows.test_spread import BASE, run_spread
from tests.pgserver import postgres_server


@contextlib.contextmanager
def database_url(kind: str) -> Iterator[str | None]:
    """None for Prefect's default SQLite file (in the stack's PREFECT_HOME), else a fresh
    PostgreSQL database, stopped on the way out."""
    if kind == "sqlite":
        yield None
        return
    with postgres_server() as server:
        yield server.database("prefect_bench")


def seconds_between(start: str | None, end: str | None) -> float:
    if not start or not end:
        return float("nan")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def measure(kind: str, datasets: list[str], batches: int, root: Path) -> str:
    """One spread run on `kind`'s database: its line of the report."""
    folder = root / kind
    folder.mkdir()
    stack = Stack(folder)
    try:
        with database_url(kind) as url:
            if url is not None:
                stack.env["PREFECT_API_DATABASE_CONNECTION_URL"] = url
            started = time.perf_counter()
            try:
                parent, launches = run_spread(stack, datasets, batches)
                wall = time.perf_counter() - started
                every = stack.post(
                    "/flow_runs/filter", {"flow_runs": {"name": {"like_": "batch-"}}}
                )
            finally:
                stack.stop_all()  # the logs are complete once every process has stopped
        locked, answers = stack.trouble()
    except BaseException:
        print(stack.dump()[-20000:])
        raise
    published = 0
    for name in datasets:
        versions = folder / "store" / "datasets" / name / "versions.json"
        if versions.exists():
            history = json.loads(versions.read_text())
            published += [v["version"] for v in history["versions"]] == ["1.0.0"]
    problems = verify(open_store(str(folder / "store")), BASE)[1]
    errors = sum(count for status, count in answers.items() if status >= 500)
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(answers.items()) if s >= 500) or "-"
    shutil.rmtree(folder, ignore_errors=True)
    spread = seconds_between(parent.get("start_time"), parent.get("end_time"))
    return (
        f"  {kind:<10}  spread run {spread:7.1f} s  (wall {wall:7.1f} s)  "
        f"{parent['state']['type']}, {published:,}/{len(datasets):,} published once, "
        f"verify {len(problems)} problems, batches relaunched {len(every) - len(launches)}; "
        f"'database is locked' {locked:,} lines, 5xx answers {errors:,} ({by_status}) "
        f"of {sum(answers.values()):,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        type=int,
        default=int(os.environ.get("BENCH_SPREAD_DATASETS", "1000")),
        help="how many (default 1000, or BENCH_SPREAD_DATASETS)",
    )
    parser.add_argument("--batches", type=int, default=6, help="batches (default 6)")
    parser.add_argument(
        "--databases",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
        help="which servers, in order (default both)",
    )
    arguments = parser.parse_args()
    datasets = [f"avfall-{n:04d}" for n in range(arguments.datasets)]
    print(
        f"publish-spread of {len(datasets):,} datasets in {arguments.batches} batches, "
        "three workers (two runs each), Prefect's server on:",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-spread-") as folder:
        for kind in arguments.databases:
            print(measure(kind, datasets, arguments.batches, Path(folder)), flush=True)


if __name__ == "__main__":
    main()
