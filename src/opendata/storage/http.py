"""A published site read over HTTP(S): the read side of the Store interface, for researchers.

`opendata history NAME --store https://data.example.se/` and `opendata diff NAME A B --store …`
read a store through its public URL (OPENDATA_BASE_URL, where `versions.json`, the version
folders and `changes.json` are served): plain GETs, a ranged GET for the start of a file, and
downloads streamed to disk. Nothing is written: `create`, `replace` and `delete` refuse, and so
does `list`, which HTTP has no way to answer; what a reader needs to know of the versions is in
`versions.json`. open_store gives this store only to commands that read (ConfigError
otherwise, exit 2).

A missing file is 404, and 403 where the site is a bucket that lets anyone read its objects but
not list them (S3 answers 403 for a key it does not have); both read as "no such object".
Anything else (a 5xx, a refused connection, a timeout) is a StoreError (exit 3).
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPResponse
from pathlib import Path
from urllib.parse import quote

from opendata import __version__
from opendata.config import redact_url
from opendata.errors import ConfigError, StoreError
from opendata.storage.base import Store, check_head_size, check_key

TIMEOUT = 60.0  # seconds without a byte before a request is given up
MISSING = (403, 404, 410)
READ_ONLY = (
    "is a published site read over HTTP: opendata reads it (history, diff, list) but cannot "
    "write to it; publish to a folder, file:// or s3://bucket/prefix"
)


class _Unsatisfiable(Exception):
    """416: the range asked for lies beyond the file (an empty file, on S3)."""


class HttpStore(Store):
    """The store whose root is served at `url` (an http:// or https:// URL), read-only."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.timeout = timeout

    def _url(self, key: str) -> str:
        return self.url + quote(check_key(key), safe="/")

    @contextmanager
    def _get(
        self, key: str, headers: dict[str, str] | None = None
    ) -> Iterator[HTTPResponse | None]:
        """The response to a GET of `key` (None when there is no such object)."""
        request = urllib.request.Request(
            self._url(key),
            headers={"User-Agent": f"opendata/{__version__}", **(headers or {})},
        )
        response: HTTPResponse | None = None
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 416:  # a range of an empty file (S3); read_head reads it whole
                raise _Unsatisfiable from None
            if error.code not in MISSING:
                raise StoreError(
                    f"{redact_url(self.url)}{key}: the server answered {error.code} {error.reason}"
                ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise StoreError(f"cannot read {redact_url(self.url)}{key}: {reason}") from None
        if response is None:
            yield None
            return
        with response:
            yield response

    def _body(self, response: HTTPResponse, key: str) -> bytes:
        try:
            return response.read()
        except OSError as error:
            raise StoreError(f"reading {redact_url(self.url)}{key} failed: {error}") from None

    def read(self, key: str) -> tuple[bytes, str] | None:
        with self._get(key) as response:
            if response is None:
                return None
            data = self._body(response, key)
            etag = response.headers.get("ETag") or hashlib.sha256(data).hexdigest()
        return data, etag

    def read_head(self, key: str, max_bytes: int) -> bytes | None:
        """A ranged GET of the first `max_bytes`; a server that ignores the range sends the
        whole file (200), of which only the start is read."""
        check_head_size(max_bytes)
        try:
            with self._get(key, {"Range": f"bytes=0-{max_bytes - 1}"}) as response:
                if response is None:
                    return None
                try:
                    return response.read(max_bytes)
                except OSError as error:
                    raise StoreError(
                        f"reading {redact_url(self.url)}{key} failed: {error}"
                    ) from None
        except _Unsatisfiable:
            data = self.read_bytes(key)
            return None if data is None else data[:max_bytes]

    def download(self, key: str, target: Path) -> bool:
        """Stream the object into `target` (a previous version's table may be large)."""
        with self._get(key) as response:
            if response is None:
                return False
            try:
                with target.open("wb") as stream:
                    shutil.copyfileobj(response, stream, 1 << 20)
            except OSError as error:
                target.unlink(missing_ok=True)
                raise StoreError(f"reading {redact_url(self.url)}{key} failed: {error}") from None
        return True

    def _refuse(self) -> ConfigError:
        return ConfigError(f"{redact_url(self.url)} {READ_ONLY}")

    def list(self, prefix: str) -> list[str]:
        raise StoreError(
            f"{redact_url(self.url)}: a site read over HTTP cannot be listed; its versions are "
            "in each dataset's versions.json"
        )

    def create(self, key: str, data: bytes) -> bool:
        raise self._refuse()

    def replace(self, key: str, data: bytes, expected_etag: str | None) -> str:
        raise self._refuse()

    def delete(self, key: str) -> None:
        raise self._refuse()

    def copy(self, source: str, target: str) -> None:
        raise self._refuse()
