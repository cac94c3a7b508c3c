"""Scratch space in TMPDIR: a killed run's folders and spools are swept, a live run's never."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from opendata import scratch

HOLDER = textwrap.dedent(
    """
    import sys, time
    from opendata import scratch
    folder = scratch.new_folder("holder")
    with scratch.spool_file("holder") as spool:
        spool.write_bytes(b"x")
        print(folder, spool, flush=True)
        time.sleep(120)
    """
)


def test_a_live_runs_scratch_is_kept_and_a_killed_runs_is_swept(private_tmpdir: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        folder, spool = (Path(p) for p in holder.stdout.readline().split())
        assert folder.parent == private_tmpdir and folder.name.startswith("opendata-holder-")
        assert scratch.sweep() == [] and folder.is_dir() and spool.is_file()
        mine = scratch.new_folder("mine")
        assert scratch.leftovers() == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert scratch.leftovers() == sorted([folder, spool])
    assert scratch.sweep() == sorted([folder, spool])
    assert not folder.exists() and not spool.exists() and mine.is_dir()
    scratch.discard_folder(mine)
    assert list(private_tmpdir.iterdir()) == []
