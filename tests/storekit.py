"""Fresh stores of either kind for protocol tests: a local folder or a bucket on SeaweedFS."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from opendata.storage import Store, open_store
from tests.s3server import S3Server


@dataclass
class StoreKit:
    """Makes new, empty stores; `env` is what a subprocess needs to reach them."""

    kind: str
    root: Path
    server: S3Server | None = None

    def new(self, name: str) -> str:
        if self.server is None:
            return str(self.root / name)
        return f"s3://{self.server.new_bucket(name.replace('_', '-')[:40])}/opendata"

    def clone(self, source: str, name: str) -> str:
        """A new store holding exactly the objects of `source`: the same starting point as
        publishing it again, at a fraction of the time (the kill loops need one per kill)."""
        url = self.new(name)
        target = open_store(url)

        def create(item: tuple[str, bytes]) -> bool:
            return target.create(*item)

        with ThreadPoolExecutor(LATENCY_BOUND_THREADS) as pool:
            created = list(pool.map(create, tree(open_store(source)).items()))
        assert all(created)
        return url

    @property
    def env(self) -> dict[str, str]:
        extra = self.server.env() if self.server else {}
        return {**os.environ, **extra, "AWS_EC2_METADATA_DISABLED": "true"}


LATENCY_BOUND_THREADS = 8  # S3 calls wait on the network, not on a core


def tree(store: Store) -> dict[str, bytes]:
    """Every object of a store, by key (read side by side: the kill loops read dozens)."""
    keys = store.list("")
    with ThreadPoolExecutor(LATENCY_BOUND_THREADS) as pool:
        return dict(
            zip(keys, pool.map(lambda key: store.read_bytes(key) or b"", keys), strict=True)
        )


def open_kit(
    kind: str, root: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> StoreKit:
    if kind == "local":
        return StoreKit(kind, root)
    server: S3Server = request.getfixturevalue("s3_server")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return StoreKit(kind, root, server)


def store_of(url: str) -> Store:
    return open_store(url)
