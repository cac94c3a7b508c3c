"""Run one publish in this process and SIGKILL it after the N-th write to the store.

Used by tests/publish/test_faults.py: `python -m tests.fault_publish HOME STORE_URL BASE_URL KILL_AFTER NOW
[touched]` (KILL_AFTER 0: never; NOW the fixed ISO time of the publish; `touched`: rebuild only
the published datasets' catalog entries, as the flow does). Prints the number of writes when it
survives, then the key of each write, a line each (`kill_points` picks where to kill from them).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext
from pathlib import Path

# What the publish imports lazily (the frictionless fallback and schema checks, pandas under
# pyarrow's CSV writer): imported here, so that the fork server holds them and a forked kill
# run does not spend 1.3 s of its 2.5 s importing them again (imports only: no threads run).
import duckdb.func  # noqa: F401
import frictionless  # noqa: F401
import pandas  # noqa: F401
import pyarrow.csv  # noqa: F401

from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.errors import ConflictError
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package
from opendata.storage import Store, open_store


class KillingStore(Store):
    """Passes every call through; dies (SIGKILL, no clean-up) right after the N-th write."""

    def __init__(self, inner: Store, kill_after: int) -> None:
        self.inner = inner
        self.url = inner.url
        self.kill_after = kill_after
        self.writes = 0
        self.keys: list[str] = []

    def _wrote(self, key: str) -> None:
        self.writes += 1
        self.keys.append(key)
        if self.writes == self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def read(self, key: str) -> tuple[bytes, str] | None:
        return self.inner.read(key)

    def create(self, key: str, data: bytes) -> bool:
        written = self.inner.create(key, data)
        if written:
            self._wrote(key)
        return written

    def replace(self, key: str, data: bytes, expected_etag: str | None) -> str:
        etag = self.inner.replace(key, data, expected_etag)
        self._wrote(key)
        return etag

    def copy(self, source: str, target: str) -> None:
        self.inner.copy(source, target)
        self._wrote(target)

    def list(self, prefix: str) -> list[str]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)
        self._wrote(key)


def publish_all(
    home: Path, store: Store, base_url: str, now: datetime, touched_only: bool = False
) -> None:
    """Every dataset of `home`, then the catalog: all of it, or (as the flow does) only the
    entries of the datasets published, when `touched_only`."""
    settings = load_settings(home=home)
    names = sorted(p.name for p in (home / "datasets").iterdir())
    for name in names:
        prepared = prepare(settings, name)
        try:
            publish_package(store, require_valid(prepared), base_url, now=now)
        finally:
            prepared.discard()
    rebuild_catalog(store, base_url, names if touched_only else None)


def main(arguments: list[str]) -> None:
    home, store_url, base_url, kill_after, now = arguments[:5]
    touched_only = arguments[5:] == ["touched"]
    store = KillingStore(open_store(store_url), int(kill_after))
    moment = datetime.fromisoformat(now) if now != "now" else datetime.now(UTC)
    try:
        publish_all(Path(home), store, base_url, moment, touched_only)
    except ConflictError as error:
        print(f"conflict: {error}")
        sys.exit(3)
    print(store.writes)
    print("\n".join(store.keys))


def kill_points(output: str, stride: int = 1) -> list[int]:
    """Where to kill (after which write), from a surviving run's output: after every write of
    the protocol, through catalog.json and the first file derived from it, then after every
    `stride`-th derived file (each one more page or document written the same way, idempotent,
    that the next run writes again) and after the last two (the kept records, the end of the
    claim). With a stride of 1, after every write."""
    lines = output.split()
    writes, keys = int(lines[0]), lines[1:]
    assert len(keys) == writes, output
    protocol = keys.index("catalog.json") + 2
    points = {*range(1, min(protocol, writes) + 1), writes - 1, writes}
    points.update(range(protocol + stride, writes - 1, stride))
    return sorted(point for point in points if point >= 1)


@cache
def _forkserver() -> ForkServerContext:
    """One server process per test session that has imported the publisher: each publish of a
    kill loop is forked from it, a new process (own pid, SIGKILL for real) that does not pay
    the second of imports a new interpreter would."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    # The server listens on a socket in multiprocessing's temporary folder, made (once per
    # process) in TMPDIR: a test's own TMPDIR, under pytest-xdist's popen-gwN folder, makes
    # that path longer than AF_UNIX allows. Make the folder, and start the server, in /tmp.
    given, tempfile.tempdir = tempfile.tempdir, "/tmp" if os.path.isdir("/tmp") else None
    try:
        multiprocessing.util.get_temp_dir()
        forkserver.ensure_running()
    finally:
        tempfile.tempdir = given
    return context


def _forked_main(
    arguments: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str
) -> None:
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # TMPDIR as the test gave it
    os.chdir(cwd)
    for fd, path in ((1, stdout), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    main(arguments)


def run_forked(
    arguments: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """What `python -m tests.fault_publish ARGUMENTS` run by subprocess.run gives (returncode
    -9 when killed, the output as text), in a process forked from the preloaded server."""
    with tempfile.TemporaryDirectory(prefix="fault-publish-") as scratch:
        stdout, stderr = Path(scratch, "stdout"), Path(scratch, "stderr")
        process = _forkserver().Process(
            target=_forked_main, args=(arguments, dict(env), str(cwd), str(stdout), str(stderr))
        )
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(arguments, timeout)
        return subprocess.CompletedProcess(
            arguments,
            process.exitcode,
            stdout.read_text("utf-8") if stdout.exists() else "",
            stderr.read_text("utf-8") if stderr.exists() else "",
        )


if __name__ == "__main__":
    main(sys.argv[1:])
