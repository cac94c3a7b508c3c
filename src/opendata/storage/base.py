"""The Store interface: the few operations the publish protocol needs, with their guarantees.

- `create` never overwrites: version files are immutable (`If-None-Match: *` on S3).
- `replace` is a compare-and-swap on the ETag read before (`If-Match` on S3), so a concurrent
  publisher loses cleanly instead of silently undoing the other's work.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from opendata import layout
from opendata.contention import PATIENCE
from opendata.errors import ConflictError, LostRace, StoreError

CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
    ".rdf": "application/rdf+xml",
    ".ttl": "text/turtle",
    ".jsonld": "application/ld+json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

# Files under a version's prefix never change: caches may keep them for a year. Pointers, the
# catalog, the pages and the `latest` copies change with every publish: a minute at most.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_LIVED = "public, max-age=60, must-revalidate"


def content_type_for(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


def cache_control_for(key: str) -> str:
    return IMMUTABLE if layout.VERSION_FILE.match(key) else SHORT_LIVED


def check_key(key: str) -> str:
    """Keys are relative POSIX paths without '..': they never leave the store."""
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or any(part in ("..", ".", "") for part in parts):
        raise ValueError(f"invalid store key {key!r}")
    return key


def check_head_size(max_bytes: int) -> int:
    if max_bytes < 1:
        raise ValueError(f"read_head needs max_bytes >= 1, not {max_bytes}")
    return max_bytes


class Store(ABC):
    """Where packages are published. Keys are '/'-separated paths below the store root."""

    url: str

    @abstractmethod
    def read(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None if there is no such object."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Write a new object; never overwrite.

        Returns False (and writes nothing) when the object already holds exactly `data`, which
        makes a re-run after a crash idempotent; raises ConflictError when it holds other bytes.
        """

    def create_file(self, key: str, path: Path) -> bool:
        """`create` from a file on disk; stores override it to stream large files."""
        return self.create(key, path.read_bytes())

    @abstractmethod
    def replace(self, key: str, data: bytes, expected_etag: str | None) -> str:
        """Write `data` if the object still has `expected_etag` (None: must not exist).

        Returns the new ETag; raises ConflictError when someone else changed the object.
        """

    def folders_holding(self, prefix: str, name: str) -> list[str]:
        """The folders right below `prefix` that hold a key `name` (the datasets: the folders
        of `datasets` with a versions.json), sorted. From `list` here; a store that can look
        at one level without listing every key below it does (a folder store of 10,000
        datasets holds a million files)."""
        found = set()
        for key in self.list(prefix):
            parts = key.removeprefix(prefix.rstrip("/") + "/").split("/")
            if len(parts) == 2 and parts[1] == name:
                found.add(parts[0])
        return sorted(found)

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys below `prefix`, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object (only `withdraw --delete-files` does this to version files)."""

    def copy(self, source: str, target: str) -> None:
        """Make `target` a copy of `source` (the `latest/` copies); stores copy server-side."""
        data = self.read_bytes(source)
        if data is None:
            raise StoreError(f"{source} is missing from {self.url}")
        self.write_if_changed(target, data)

    def read_bytes(self, key: str) -> bytes | None:
        found = self.read(key)
        return None if found is None else found[0]

    def read_head(self, key: str, max_bytes: int) -> bytes | None:
        """The first `max_bytes` of the object (all of it when shorter), or None if missing.

        For a look at the start of a large file (the page's preview of a CSV) without reading
        all of it: stores override this to read only the start (a ranged GET on S3).
        """
        check_head_size(max_bytes)
        data = self.read_bytes(key)
        return None if data is None else data[:max_bytes]

    def download(self, key: str, target: Path) -> bool:
        """Copy the object into the local file `target`; False if there is no such object.

        For files too large to hold in memory (a previous version's table, for the diff): stores
        override this to stream.
        """
        data = self.read_bytes(key)
        if data is None:
            return False
        target.write_bytes(data)
        return True

    def leftovers(self, thorough: bool = True) -> Sequence[str]:
        """Unfinished writes of runs that ended without finishing them (a killed run's temporary
        files, an S3 multipart upload never completed), described for `opendata verify`.
        `thorough` also looks where finding them costs a walk of the whole store."""
        return []

    def clean_leftovers(self, thorough: bool = False) -> Sequence[str]:
        """Remove `leftovers()` (never a live run's unfinished write); returns what was removed.
        Every catalog rebuild (the end of every run) calls it, not `thorough` (cheap)."""
        return []

    def discard_unfinished(self, prefix: str) -> Sequence[str]:
        """Remove unfinished writes below `prefix` (S3: incomplete multipart uploads), whoever
        began them. Only for a caller that holds the claim on `prefix`, so that no live run can
        be writing there; returns the keys whose unfinished writes were removed."""
        return []

    def replace_pieces(
        self, key: str, pieces: Iterable[bytes | memoryview], expected_etag: str | None
    ) -> str:
        """`replace` with the bytes in pieces (a store that can write them as they come, without
        joining them, overrides this: catalog.json of 10,000 datasets is 150 MB)."""
        return self.replace(key, b"".join(pieces), expected_etag)

    def etag(self, key: str) -> str | None:
        """The object's ETag (what `read` gives with its bytes), or None if there is none;
        stores answer it without the bytes (S3: a HEAD)."""
        found = self.read(key)
        return None if found is None else found[1]

    def write_derived(self, key: str, data: bytes) -> bool:
        """`write_if_changed` for a file made again from others (a page, a DCAT document), of
        which a build writes hundreds of thousands: it need not be durable before `sync`, which
        the build calls before it records what the files were made from. S3 writes are durable
        when they return, so this is `write_if_changed` unless a store can do better."""
        return self.write_if_changed(key, data)

    def create_derived(self, key: str, data: bytes) -> bool:
        """`create` for a file a build makes once and never changes (a version folder's pointer
        page, whose bytes depend on the version number alone): durable at `sync`, like
        `write_derived`'s files."""
        return self.create(key, data)

    def sync(self) -> None:
        """Make every `write_derived` so far durable (see there); nothing to do on S3."""
        return None  # S3: durable already

    def write_if_changed(self, key: str, data: bytes) -> bool:
        """Replace a derived file (catalog, page) only when its bytes change; True if written.

        A derived file has no owner: another run may replace it between our read and our
        write. That is no conflict to report but a reason to compare again, since the runs
        check catalog.json afterwards and derive again whatever came from an older one."""
        for _ in PATIENCE.attempts():
            found = self.read(key)
            if found is not None and found[0] == data:
                return False
            try:
                self.replace(key, data, None if found is None else found[1])
            except LostRace:
                continue
            return True
        raise ConflictError(f"{key} kept changing while we were publishing")
