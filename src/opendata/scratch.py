"""Private scratch space in TMPDIR that a killed run cannot leave behind for long.

Every folder or spool file a run makes in TMPDIR is named `opendata-…` and carries a lock (an
exclusive `flock` held for as long as the run uses it). The kernel drops the lock when the process
dies, however it dies, so the next run's `sweep()` can tell a dead run's leftovers (lock free)
from a live run's work (lock held), on any host sharing nothing but the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

PREFIX = "opendata-"
MAKING = "opendata~"  # the name of a folder or file until it is locked
LOCK = ".owner.lock"

# Open lock descriptors of this process's live scratch folders, by folder.
_held: dict[Path, int] = {}
# Threads of one process publishing side by side: a folder or file is made and locked, and TMPDIR
# swept, one thread at a time, so that a sweep never sees a new folder between the two steps.
_making = threading.Lock()


def scratch_root() -> Path:
    return Path(tempfile.gettempdir())


def new_folder(stem: str, root: Path | None = None) -> Path:
    """A new private folder `opendata-<stem>-…`, locked until `discard_folder`.

    It is made and locked under a name sweeps ignore (`opendata~…`) and only then renamed: so
    another process's sweep never finds it between the two steps and takes it for a dead run's.
    """
    with _making:
        while True:
            made = Path(tempfile.mkdtemp(prefix=f"{MAKING}{stem}-", dir=root or scratch_root()))
            descriptor = os.open(made / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            folder = made.with_name(PREFIX + made.name.removeprefix(MAKING))
            try:
                os.rename(made, folder)  # fails when the (unlikely) name is taken and not empty
            except OSError:
                os.close(descriptor)
                shutil.rmtree(made, ignore_errors=True)
                continue
            _held[folder] = descriptor
            return folder


def discard_folder(folder: Path) -> None:
    """Remove a folder made by `new_folder` and let go of its lock."""
    shutil.rmtree(folder, ignore_errors=True)
    descriptor = _held.pop(folder, None)
    if descriptor is not None:
        os.close(descriptor)


@contextlib.contextmanager
def spool_file(stem: str) -> Iterator[Path]:
    """A private, locked temporary file (e.g. bytes spooled for a multipart upload)."""
    with _making:
        while True:
            descriptor, made = tempfile.mkstemp(prefix=f"{MAKING}{stem}-", dir=scratch_root())
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            name = str(Path(made).with_name(PREFIX + Path(made).name.removeprefix(MAKING)))
            try:
                os.link(made, name)  # locked before it has a name a sweep looks at
            except OSError:
                os.close(descriptor)
                Path(made).unlink(missing_ok=True)
                continue
            Path(made).unlink()
            break
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
        os.close(descriptor)


def _owner_gone(lock_path: Path) -> bool:
    """Whether nobody holds the lock at `lock_path` (its process ended)."""
    try:
        descriptor = os.open(lock_path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(descriptor)  # closing drops the lock we may just have taken
    return True


def leftovers(root: Path | None = None) -> list[Path]:
    """Scratch folders and spool files in TMPDIR whose run has ended without removing them."""
    found = []
    base = root or scratch_root()
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(PREFIX) or entry.is_symlink():
            continue
        lock = entry / LOCK if entry.is_dir() else entry
        if (entry.is_dir() and not lock.is_file()) or not _owner_gone(lock):
            continue
        if entry in _held:
            continue
        found.append(entry)
    return sorted(found)


def sweep(root: Path | None = None) -> list[Path]:
    """Remove what dead runs left in TMPDIR; returns what was removed."""
    removed = []
    with _making:
        found = leftovers(root)
    for entry in found:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
