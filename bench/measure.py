"""Measure a command as a whole process: wall time and peak resident memory.

The figures of issue 8 are about what a steward runs (`opendata validate`, `opendata publish`),
so the benchmarks time whole processes — interpreter start-up, imports, the Prefect flow, exit —
instead of a function inside the benchmark's own process, whose memory would mix with theirs.

Peak RSS is the kernel's `ru_maxrss` from `os.wait4`: the largest resident set of the child or of
any descendant it waited for (a maximum over processes, not a sum over a process tree).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

MIB = 2**20
GIB = 2**30


def venv_command(name: str) -> str:
    """A console script installed beside this interpreter (the virtualenv's bin/), else on PATH.

    sys.executable is not resolved: .venv/bin/python is a symlink to the system interpreter, and
    the scripts live beside the link.
    """
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name!r} is not installed in {Path(sys.executable).parent}")
    return found


def clean_environment(**extra: str) -> dict[str, str]:
    """The current environment without OPENDATA_*/PREFECT_* (a developer's own settings must not
    leak into a measurement), Prefect's analytics off, no cloud metadata look-ups, plus `extra`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENDATA_", "PREFECT_"))
    }
    environment["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    environment["AWS_EC2_METADATA_DISABLED"] = "true"
    environment.update(extra)
    return environment


def run_measured(
    argv: list[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None
) -> tuple[float, int, int, str, str]:
    """Run `argv` to completion: (seconds, peak_rss_bytes, returncode, stdout, stderr).

    Output goes to temporary files rather than pipes, so the measuring process does not read
    while the child runs (no pipe deadlock, no reader thread adding noise); os.wait4 reaps the
    child and returns its rusage, which subprocess.wait would throw away.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    peak = usage.ru_maxrss * 1024  # Linux reports kibibytes
    return seconds, peak, process.returncode, stdout, stderr


def tail(text: str, lines: int = 15) -> str:
    """The end of a command's output, for a failure message."""
    return "\n".join(text.strip().splitlines()[-lines:])
