"""Choosing the store implementation from its URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from opendata.errors import ConfigError
from opendata.storage.base import Store
from opendata.storage.local import LocalStore


def open_store(url: str) -> Store:
    """A folder path or file:// URL gives a LocalStore; s3:// is the object-storage store."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url)
        return LocalStore(path.expanduser().resolve())
    if parsed.scheme == "s3":
        # Imported here: boto3 takes a while to load and only S3 stores need it.
        from opendata.storage.s3 import S3Store

        return S3Store.from_url(url)
    raise ConfigError(
        f"OPENDATA_STORE={url}: unsupported store URL; use a folder path, file:// or s3://"
    )
