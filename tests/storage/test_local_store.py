"""LocalStore: read_head (the start of a file, read without reading the rest), folders_holding."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opendata.errors import StoreError
from opendata.storage import LocalStore, content_type_for
from opendata.storage.base import Store


def test_read_head_gives_the_first_bytes_or_none(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    data = bytes(range(256)) * 40
    store.create("datasets/x/1.0.0/t.csv", data)
    store.create("datasets/x/1.0.0/empty.csv", b"")
    assert store.read_head("datasets/x/1.0.0/t.csv", 100) == data[:100]
    assert store.read_head("datasets/x/1.0.0/t.csv", len(data)) == data
    assert store.read_head("datasets/x/1.0.0/t.csv", 10 * len(data)) == data
    assert store.read_head("datasets/x/1.0.0/t.csv", 1) == data[:1]
    assert store.read_head("datasets/x/1.0.0/empty.csv", 64) == b""
    assert store.read_head("datasets/x/1.0.0/missing.csv", 64) is None
    assert store.read_head("datasets/nothing/here.csv", 64) is None
    for size in (0, -1):
        with pytest.raises(ValueError, match="max_bytes"):
            store.read_head("datasets/x/1.0.0/t.csv", size)
    with pytest.raises(ValueError, match="invalid store key"):
        store.read_head("../outside.csv", 64)


def test_read_head_reads_only_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    big = store.root / "datasets/x/1.0.0/big.csv"
    big.parent.mkdir(parents=True)
    with big.open("wb") as stream:
        stream.truncate(512 * 1024 * 1024)  # a sparse 512 MiB file: cheap to make, costly to read

    def refuse(*_: object) -> None:
        raise AssertionError("read_head read the whole file")

    monkeypatch.setattr(LocalStore, "read", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert store.read_head("datasets/x/1.0.0/big.csv", 64 * 1024) == bytes(64 * 1024)


def test_read_head_of_a_folder_is_a_store_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.create("datasets/x/1.0.0/t.csv", b"a\r\n")
    with pytest.raises(StoreError, match=r"cannot read datasets/x/1\.0\.0"):
        store.read_head("datasets/x/1.0.0", 64)


def test_the_default_read_head_of_a_store_cuts_what_read_returns(tmp_path: Path) -> None:
    """A Store that does not override read_head (a wrapper, a test double) still has one."""

    class Minimal(Store):
        url = "memory:"

        def __init__(self) -> None:
            self.objects = {"k": b"0123456789"}

        def read(self, key: str) -> tuple[bytes, str] | None:
            data = self.objects.get(key)
            return None if data is None else (data, "etag")

        def create(self, key: str, data: bytes) -> bool:
            raise NotImplementedError

        def replace(self, key: str, data: bytes, expected_etag: str | None) -> str:
            raise NotImplementedError

        def list(self, prefix: str) -> list[str]:
            return sorted(self.objects)

        def delete(self, key: str) -> None:
            raise NotImplementedError

    store = Minimal()
    assert store.read_head("k", 4) == b"0123"
    assert store.read_head("k", 100) == b"0123456789"
    assert store.read_head("missing", 4) is None
    with pytest.raises(ValueError, match="max_bytes"):
        store.read_head("k", 0)


def test_parquet_has_its_media_type() -> None:
    assert content_type_for("datasets/x/1.0.0/t.parquet") == "application/vnd.apache.parquet"
    assert content_type_for("datasets/x/latest/T.PARQUET") == "application/vnd.apache.parquet"
    assert content_type_for("datasets/x/1.0.0/t.csv") == "text/csv; charset=utf-8"


def test_derived_files_wait_for_one_sync_few_by_fsync_many_by_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_derived leaves its files to `sync`: while they are few each gets its fsync there
    (not one as it is written), past UNSYNCED_MOST the file system gets one syncfs instead.
    Unchanged bytes are not written and so not synced; create stays durable on its own."""
    from opendata.storage import local

    store = LocalStore(tmp_path / "store")
    synced: list[str] = []
    real_fsync = local.os.fsync
    monkeypatch.setattr(
        local.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), None)[1]
    )
    flushed: list[int] = []

    class Libc:
        def syncfs(self, fd: int) -> int:
            flushed.append(fd)
            return 0

    monkeypatch.setattr(local, "_libc", lambda: Libc())
    assert store.write_derived("a/page.html", b"one")
    assert store.write_derived("b/page.html", b"two")
    assert not store.write_derived("a/page.html", b"one")  # unchanged: not written
    assert synced == []  # nothing waited for the disk yet
    store.sync()
    assert sorted(Path(p).relative_to(store.root).as_posix() for p in synced) == [
        "a/page.html",
        "b/page.html",
    ]
    assert flushed == []
    synced.clear()
    store.sync()  # nothing new
    assert synced == [] and flushed == []
    monkeypatch.setattr(local, "UNSYNCED_MOST", 3)
    for number in range(5):
        store.write_derived(f"many/{number}.html", b"x")
    store.sync()
    assert synced == [] and len(flushed) == 1
    assert (store.root / "many/4.html").read_bytes() == b"x"
    monkeypatch.setattr(local.os, "fsync", real_fsync)
    assert store.create("datasets/x/1.0.0/t.csv", b"data")
    assert not store.create("datasets/x/1.0.0/t.csv", b"data")  # the same bytes: no new write


def test_the_next_run_removes_a_killed_writers_temporary_file_and_never_a_live_ones(
    tmp_path: Path,
) -> None:
    """A writer killed mid-write leaves its file in `_private/tmp/` with its lock released; the
    catalog rebuild that ends every run removes it. A live writer's file (locked) stays."""
    import fcntl

    from opendata.catalog import rebuild_catalog
    from opendata.layout import TEMPORARY

    store = LocalStore(tmp_path / "store")
    folder = store.root / TEMPORARY
    folder.mkdir(parents=True)
    (folder / ".tmp-killed1").write_bytes(b"half a parquet file")
    (folder / ".tmp-killed2").write_bytes(b"")
    live = folder / ".tmp-live"
    live.write_bytes(b"being written")
    handle = os.open(live, os.O_RDONLY)
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        assert sorted(store.leftovers()) == [
            f"{TEMPORARY}/.tmp-killed1",
            f"{TEMPORARY}/.tmp-killed2",
        ]
        rebuild_catalog(store, "http://localhost:8000/")
        assert sorted(path.name for path in folder.iterdir()) == [".tmp-live"]
    finally:
        os.close(handle)
    assert list(store.leftovers()) == [f"{TEMPORARY}/.tmp-live"]  # its writer is gone now


def test_folders_holding_looks_one_level_down_as_the_listing_would(tmp_path: Path) -> None:
    """The folder store's own way (one directory read) names what the generic one, from the
    whole listing, names."""
    store = LocalStore(tmp_path)
    for key in (
        "datasets/b/versions.json",
        "datasets/a/versions.json",
        "datasets/a/1.0.0/versions.json",
        "datasets/c/1.0.0/data.csv",
        "datasets-extra/d/versions.json",
    ):
        store.create(key, b"{}")
    (tmp_path / "datasets" / "e").mkdir()
    (tmp_path / "datasets" / "e" / "versions.json").mkdir()  # a folder, not a file
    (tmp_path / "datasets" / "f.json").write_bytes(b"{}")
    generic = Store.folders_holding(store, "datasets", "versions.json")
    assert store.folders_holding("datasets", "versions.json") == generic == ["a", "b"]
    assert store.folders_holding("nothing-here", "versions.json") == []
