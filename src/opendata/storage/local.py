"""A store in a local folder, with the same guarantees as S3's conditional writes.

Every write goes to a temporary file in the target's folder first: `create` publishes it with
os.link (fails if the name exists: an exclusive create), `replace` with os.replace under a lock
(atomic: a reader sees the old or the new file, never half of one).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opendata.errors import ConflictError, StoreError
from opendata.storage.base import Store, check_head_size, check_key


def etag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def read(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {key} from {self.root}: {error.strerror}") from None
        return data, etag_of(data)

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
        target = self._path(key)
        with self._staged(target, data) as staged:
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
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            os.close(handle)
        except OSError as error:
            raise StoreError(f"cannot write {target}: {error.strerror}") from None
        staged = Path(name)
        try:
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
        finally:
            staged.unlink(missing_ok=True)
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
            current = self.read(key)
            current_etag = None if current is None else current[1]
            if current_etag != expected_etag:
                raise ConflictError(f"{key} changed in {self.root} while we were publishing")
            with self._staged(target, data) as staged:
                os.replace(staged, target)
        return etag_of(data)

    def copy(self, source: str, target: str) -> None:
        """A copy through a temporary file and an atomic rename: readers never see half."""
        source_path, target_path = self._path(source), self._path(target)
        try:
            target_path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".tmp-", dir=target_path.parent)
            os.close(handle)
            shutil.copyfile(source_path, name)
            os.chmod(name, 0o644)
            os.replace(name, target_path)
        except FileNotFoundError:
            Path(name).unlink(missing_ok=True)
            raise StoreError(f"{source} is missing from {self.root}") from None
        except OSError as error:
            raise StoreError(f"cannot copy {source} to {target}: {error.strerror}") from None

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
    def _staged(self, target: Path, data: bytes) -> Iterator[Path]:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(name, 0o644)
        except OSError as error:
            raise StoreError(f"cannot write {target}: {error.strerror}") from None
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    @contextmanager
    def _locked(self, target: Path) -> Iterator[None]:
        """An exclusive lock on the target's folder: no lock files litter the published tree."""
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target.parent, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
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
