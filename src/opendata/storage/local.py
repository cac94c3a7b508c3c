"""A store in a local folder, with the same guarantees as S3's conditional writes.

Every write goes to a temporary file first: `create` publishes it with os.link (fails if the name
exists: an exclusive create), `replace` with os.replace under a lock (atomic: a reader sees the
old or the new file, never half of one). Temporary files live in the store's private area
(`_private/tmp/`, never served or listed), each locked by its writer while it is written: a
killed writer's file is found by the free lock and removed by the next run, and no `.tmp` file
ever appears beside published files.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import fcntl
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from opendata.errors import ConflictError, LostRace, StoreError
from opendata.layout import TEMPORARY  # writes in progress (see the docstring)
from opendata.storage.base import Store, check_head_size, check_key

FOLDERS_REMEMBERED = 65536
UNSYNCED_MOST = 512  # files write_derived leaves for one fsync each at `sync` (see there)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, for syncfs(2) (Linux), or None where there is none to load."""
    try:
        library = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None
    return library if hasattr(library, "syncfs") else None


def etag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The ETag of a local file is the SHA-256 of its bytes. Hashing a 150 MB catalog.json on every
# read and again in every compare-and-swap costs a second per publish, so each ETag is kept for
# the file it was computed from: a file is never changed in place here (every write is a new
# file renamed over the old), so a file with the same device, inode, size and change times is
# the same file with the same bytes.
_ETAGS: dict[tuple[int, int, int, int, int], str] = {}
_ETAGS_KEPT = 4096


def _identity(status: os.stat_result) -> tuple[int, int, int, int, int]:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _remember(status: os.stat_result, etag: str) -> str:
    if len(_ETAGS) >= _ETAGS_KEPT:
        _ETAGS.clear()
    _ETAGS[_identity(status)] = etag
    return etag


def _etag_of_file(path: Path) -> str | None:
    """The file's ETag (None if there is no file), hashed only when not known already."""
    try:
        with path.open("rb") as stream:
            status = os.fstat(stream.fileno())
            known = _ETAGS.get(_identity(status))
            if known is not None:
                return known
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
    except FileNotFoundError:
        return None
    return _remember(status, digest)


class LocalStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()
        # write_derived's files not yet durable: fsynced one by one at `sync` while they are
        # few (a publish: tens), the whole file system flushed once when many (a full build)
        self._unsynced: builtins.list[Path] | None = []
        # Folders this store made or found (a full catalog build writes 800,000 files into
        # 200,000 folders: one mkdir each, not one a file). Forgotten when many, or when one
        # has gone (`_folder`).
        self._folders: set[str] = set()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def read(self, key: str) -> tuple[bytes, str] | None:
        try:
            with self._path(key).open("rb") as stream:
                status = os.fstat(stream.fileno())
                data = stream.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
        known = _ETAGS.get(_identity(status))
        return data, known if known is not None else _remember(status, etag_of(data))

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None

    def etag(self, key: str) -> str | None:
        try:
            return _etag_of_file(self._path(key))
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None

    def write_if_changed(self, key: str, data: bytes) -> bool:
        """As Store.write_if_changed, under the folder's lock: the stored file is compared a
        chunk at a time (a different size is enough), never read whole."""
        return self._write_if_changed(key, data, durable=True)

    def write_derived(self, key: str, data: bytes) -> bool:
        """As write_if_changed, without waiting for the disk (fsync costs 1–4 ms a file, most of
        a full catalog build's 800,000 files): `sync` makes them all durable at once, before
        the build records what they were made from. A crash before that leaves files that the
        records do not vouch for, so the next build writes them again."""
        written = self._write_if_changed(key, data, durable=False)
        if written and self._unsynced is not None:
            self._unsynced.append(self._path(key))
            if len(self._unsynced) > UNSYNCED_MOST:
                self._unsynced = None  # many: flush the file system at `sync`
        return written

    def sync(self) -> None:
        """Make write_derived's files durable: each with fsync while they are few, else the
        store's whole file system with one syncfs(2) (which on a busy machine also waits for
        everybody else's writes: worth it only for many files)."""
        unsynced, self._unsynced = self._unsynced, []
        if unsynced is not None:
            for path in unsynced:
                try:
                    descriptor = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # replaced or deleted since: nothing of ours to make durable
                except OSError as error:
                    raise StoreError(f"cannot sync {path}: {error.strerror}") from None
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            return
        try:
            descriptor = os.open(self.root, os.O_RDONLY)
        except OSError as error:
            raise StoreError(f"cannot open {self.root}: {error.strerror}") from None
        try:
            library = _libc()
            if library is None or library.syncfs(descriptor) != 0:
                os.sync()  # no syncfs here (not Linux), or it failed: flush every file system
        finally:
            os.close(descriptor)

    def _write_if_changed(self, key: str, data: bytes, durable: bool) -> bool:
        target = self._path(key)
        with self._locked(target):
            try:
                if _same_bytes(target, data):
                    return False
            except OSError as error:
                raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
            with self._staged(target, data, durable) as staged:
                os.replace(staged, target)
                _remember(os.stat(target), etag_of(data))
        return True

    def read_head(self, key: str, max_bytes: int) -> bytes | None:
        """The first `max_bytes` of the file: only those are read, however large the file."""
        check_head_size(max_bytes)
        try:
            with self._path(key).open("rb") as stream:
                return stream.read(max_bytes)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None

    def create(self, key: str, data: bytes) -> bool:
        return self._create(key, data, durable=True)

    def create_derived(self, key: str, data: bytes) -> bool:
        """As create, without waiting for the disk: `sync` makes it durable (see write_derived)."""
        written = self._create(key, data, durable=False)
        if written and self._unsynced is not None:
            self._unsynced.append(self._path(key))
            if len(self._unsynced) > UNSYNCED_MOST:
                self._unsynced = None
        return written

    def _create(self, key: str, data: bytes, durable: bool) -> bool:
        target = self._path(key)
        try:
            if _same_bytes(target, data):
                return False  # created before, with these bytes: nothing to stage
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
        with self._staged(target, data, durable) as staged:
            try:
                os.link(staged, target)
            except FileExistsError:
                if target.read_bytes() == data:
                    return False
                raise ConflictError(
                    f"{key} already exists in {self.root} with other content; "
                    "published files are never overwritten"
                ) from None
        return True

    def create_file(self, key: str, path: Path) -> bool:
        """`create` from a file on disk, streamed: copied beside the target, then linked."""
        target = self._path(key)
        with self._temporary(target) as (staged, _):
            try:
                shutil.copyfile(path, staged)
                with staged.open("rb") as stream:
                    os.fsync(stream.fileno())
                os.chmod(staged, 0o644)
            except OSError as error:
                raise StoreError(f"cannot write {target}: {error.strerror}") from None
            try:
                os.link(staged, target)
            except FileExistsError:
                if _same_file_bytes(target, path):
                    return False
                raise ConflictError(
                    f"{key} already exists in {self.root} with other content; "
                    "published files are never overwritten"
                ) from None
        return True

    def download(self, key: str, target: Path) -> bool:
        try:
            shutil.copyfile(self._path(key), target)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
        return True

    def replace(self, key: str, data: bytes, expected_etag: str | None) -> str:
        target = self._path(key)
        with self._locked(target):
            try:
                current_etag = _etag_of_file(target)
            except OSError as error:
                raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
            if current_etag != expected_etag:
                raise LostRace(f"{key} changed in {self.root} while we were publishing")
            etag = etag_of(data)
            with self._staged(target, data) as staged:
                os.replace(staged, target)
                _remember(os.stat(target), etag)
        return etag

    def replace_pieces(
        self, key: str, pieces: Iterable[bytes | memoryview], expected_etag: str | None
    ) -> str:
        """`replace`, writing the pieces to the temporary file as they come (never joined)."""
        target = self._path(key)
        with self._locked(target):
            try:
                current_etag = _etag_of_file(target)
            except OSError as error:
                raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
            if current_etag != expected_etag:
                raise LostRace(f"{key} changed in {self.root} while we were publishing")
            digest = hashlib.sha256()
            with self._temporary(target) as (staged, _):
                try:
                    with staged.open("wb") as stream:
                        for piece in pieces:
                            digest.update(piece)
                            stream.write(piece)
                        stream.flush()
                        os.fsync(stream.fileno())
                    os.chmod(staged, 0o644)
                except OSError as error:
                    raise StoreError(f"cannot write {target}: {error.strerror}") from None
                os.replace(staged, target)
                return _remember(os.stat(target), digest.hexdigest())

    def copy(self, source: str, target: str) -> None:
        """A copy through a temporary file and an atomic rename: readers never see half."""
        source_path, target_path = self._path(source), self._path(target)
        with self._temporary(target_path) as (staged, _):
            try:
                shutil.copyfile(source_path, staged)
                os.chmod(staged, 0o644)
                os.replace(staged, target_path)
            except FileNotFoundError:
                raise StoreError(f"{source} is missing from {self.root}") from None
            except OSError as error:
                raise StoreError(f"cannot copy {source} to {target}: {error.strerror}") from None

    def folders_holding(self, prefix: str, name: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(
            entry.name
            for entry in entries
            if not entry.name.startswith(".")
            and entry.is_dir(follow_symlinks=False)
            and os.path.isfile(os.path.join(entry.path, name))
        )

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        keys = [
            path.relative_to(self.root).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        ]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @contextmanager
    def _staged(self, target: Path, data: bytes, durable: bool = True) -> Iterator[Path]:
        with self._temporary(target) as (staged, handle):
            try:
                view = memoryview(data)
                while view:  # written through the handle mkstemp gave: no second open
                    view = view[os.write(handle, view) :]
                os.fchmod(handle, 0o644)
                if durable:
                    os.fsync(handle)
            except OSError as error:
                raise StoreError(f"cannot write {target}: {error.strerror}") from None
            yield staged

    @contextmanager
    def _temporary(self, target: Path) -> Iterator[tuple[Path, int]]:
        """A new empty file in the private temporary folder (its path and an open handle),
        locked by us while it exists; the target's folder is made too (the file is then linked
        or renamed into it)."""
        folder = f"{self.root}/{TEMPORARY}"
        try:
            self._folder(str(target.parent))
            self._folder(folder)
            try:
                handle, name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            except FileNotFoundError:  # the folder went since we made it
                self._folders.discard(folder)
                self._folder(folder)
                handle, name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:
            raise StoreError(f"cannot write {target}: {error.strerror}") from None
        try:
            yield Path(name), handle
        finally:
            with contextlib.suppress(FileNotFoundError):  # renamed into place: gone already
                os.unlink(name)
            os.close(handle)

    def _folder(self, folder: str) -> None:
        """Make the folder (and its parents) unless this store made or found it before."""
        if folder in self._folders:
            return
        os.makedirs(folder, exist_ok=True)
        if len(self._folders) >= FOLDERS_REMEMBERED:
            self._folders.clear()
        self._folders.add(folder)

    def leftovers(self, thorough: bool = True) -> Sequence[str]:
        """Temporary files of writers that died (their lock is free) and, when `thorough`, `.tmp-`
        files beside published files (left by versions of this store from before the private
        folder; finding them walks the whole store)."""
        found: builtins.list[str] = []
        folder = self.root / TEMPORARY
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".tmp-") and _lock_free(path):
                    found.append(path.relative_to(self.root).as_posix())
        for path in sorted(self.root.rglob(".tmp-*")) if thorough else []:
            if path.is_file() and path.parent != folder:
                found.append(path.relative_to(self.root).as_posix())
        return found

    def clean_leftovers(self, thorough: bool = False) -> Sequence[str]:
        removed: builtins.list[str] = []
        for relative in self.leftovers(thorough):
            path = self.root / relative
            if path.parent != self.root / TEMPORARY or _lock_free(path):
                path.unlink(missing_ok=True)
                removed.append(relative)
        return removed

    @contextmanager
    def _locked(self, target: Path) -> Iterator[None]:
        """An exclusive lock on the target's folder: no lock files litter the published tree."""
        folder = str(target.parent)
        self._folder(folder)
        try:
            descriptor = os.open(folder, os.O_RDONLY)
        except FileNotFoundError:  # removed since we made it: make it again
            self._folders.discard(folder)
            self._folder(folder)
            descriptor = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def _lock_free(path: Path) -> bool:
    """Whether no live writer holds the lock on this temporary file."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(descriptor)
    return True


def _same_bytes(path: Path, data: bytes) -> bool:
    """Whether the file holds exactly `data` (False if there is no file)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if os.fstat(descriptor).st_size != len(data):
            return False
        view = memoryview(data)
        for start in range(0, len(data), 2**20):
            wanted = view[start : start + 2**20]
            chunk = os.read(descriptor, len(wanted))
            while len(chunk) < len(wanted):  # a short read: read on to the chunk's end
                more = os.read(descriptor, len(wanted) - len(chunk))
                if not more:
                    return False
                chunk += more
            if chunk != wanted:
                return False
        return os.read(descriptor, 1) == b""
    finally:
        os.close(descriptor)


def _same_file_bytes(first: Path, second: Path) -> bool:
    """Whether two files hold the same bytes, compared a chunk at a time."""
    if first.stat().st_size != second.stat().st_size:
        return False
    with first.open("rb") as one, second.open("rb") as other:
        while True:
            chunk = one.read(2**20)
            if chunk != other.read(2**20):
                return False
            if not chunk:
                return True
