"""Who holds a claim, and whether that run is still alive.

A claim on a dataset's next version records its owner: the machine's boot id, the process id and
the process's start time (from /proc). On the same machine a later run can then tell at once
whether the owner still runs — a killed run's claim does not block a corrected re-run — and a
reused process id is not mistaken for the owner (its start time differs). A claim made on another
machine cannot be checked this way: it counts as live until it is older than the stale limit.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str
    pid: int
    started: str

    @classmethod
    def from_record(cls, record: Any) -> Owner | None:
        """The owner stored in a claim (None for claims from before owners were recorded)."""
        if not isinstance(record, dict):
            return None
        try:
            return cls(
                str(record["host"]), str(record["boot"]), int(record["pid"]), str(record["started"])
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    def alive(self) -> bool | None:
        """True or False when this machine can tell; None for a run on another machine."""
        if not self.boot or self.boot != _boot_id():
            # Another boot of this machine (it restarted: the run is gone) or another machine.
            return False if self.host == socket.gethostname() and self.boot else None
        return _start_time(self.pid) == self.started


@cache
def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def current_owner() -> Owner:
    """This process, as a claim records it."""
    pid = os.getpid()
    return Owner(socket.gethostname(), _boot_id(), pid, _start_time(pid) or "")
