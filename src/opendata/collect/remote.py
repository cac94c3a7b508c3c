"""Sources that ask a public API: Kolada, SCB's PxWeb and Trafikanalys.

Each API's base URL is a setting (OPENDATA_KOLADA_URL, OPENDATA_PXWEB_URL, OPENDATA_TRAFA_URL)
so stewards can point at a mirror and tests at a local server. Answers are cached in the store's
private area for the source's `cache_hours`, so a re-run within that time asks nothing. An empty
answer is an error, never an empty dataset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opendata.collect.http import ApiClient, ResponseCache, RetryPolicy, Row
from opendata.collect.kolada import fetch_kolada
from opendata.collect.pxweb import fetch_pxweb
from opendata.collect.raw import RawRecord
from opendata.collect.trafa import fetch_trafa
from opendata.config import Settings, retry_backoff
from opendata.definitions import ApiSource, KoladaSource, PxwebSource, TrafaSource
from opendata.errors import DefinitionError, SourceResponseError, SourceUnavailable
from opendata.layout import CACHE_PREFIX
from opendata.municipalities import MEMBERS
from opendata.storage import Store


def retry_policy() -> RetryPolicy:
    """Exponential backoff from OPENDATA_RETRY_BACKOFF seconds (the store's I/O uses it too)."""
    base = retry_backoff()
    return RetryPolicy(base_delay=base, max_delay=max(30.0, base))


class RemoteSources:
    """Fetches the records of API sources for the collectors (see collect.core.RemoteFetcher)."""

    def __init__(self, settings: Settings, store: Store, now: datetime | None = None) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self.requests_sent = 0

    def fetch(self, source: ApiSource) -> tuple[list[RawRecord], str]:
        """The source's records and its label; SourceUnavailable (naming the source by its
        label) when it cannot be reached, SourceResponseError when its answer is wrong."""
        cache = ResponseCache(
            self.store, prefix=CACHE_PREFIX, expiry=timedelta(hours=source.cache_hours)
        )
        label = self.label(source)
        with ApiClient(cache=cache, retry=retry_policy()) as client:
            try:
                rows = self._rows(client, source)
            except SourceUnavailable as error:
                error.source = label
                raise
            finally:
                self.requests_sent += client.requests_sent
        if not rows:
            raise SourceResponseError(f"{label}: answered no data; nothing is published from it")
        return [RawRecord(dict(row), f"{label}, {_describe(row)}") for row in rows], label

    def label(self, source: ApiSource) -> str:
        """The source as its records' origins name it: the API and where it was asked."""
        settings = self.settings
        if isinstance(source, KoladaSource):
            return f"Kolada {settings.kolada_url}"
        if isinstance(source, PxwebSource):
            return f"SCB PxWeb {settings.pxweb_url} table {source.table}"
        if isinstance(source, TrafaSource):
            return f"Trafikanalys {settings.trafa_url} query {source.query}"
        raise DefinitionError(f"unsupported API source kind {source!r}")  # pragma: no cover

    def _rows(self, client: ApiClient, source: ApiSource) -> list[Row]:
        settings = self.settings
        if isinstance(source, KoladaSource):
            last = source.years.last or (self.now or datetime.now(UTC)).year
            years = list(range(source.years.first, last + 1))
            rows = fetch_kolada(client, settings.kolada_url, source.kpis, list(MEMBERS), years)
            for row in rows:
                row["enhet"] = source.units.get(str(row["kpi"]))
            return rows
        if isinstance(source, PxwebSource):
            return fetch_pxweb(client, settings.pxweb_url, source.table, source.selection)
        if isinstance(source, TrafaSource):
            return fetch_trafa(client, settings.trafa_url, source.query)
        raise DefinitionError(f"unsupported API source kind {source!r}")  # pragma: no cover


def _describe(row: Row) -> str:
    keys = ("kpi", "kommunkod", "ar", "kon")
    shown = [f"{key} {row[key]}" for key in keys if row.get(key) is not None]
    return ", ".join(shown) or "row"


def remote_sources(settings: Settings, store: Store) -> RemoteSources:
    return RemoteSources(settings, store)
