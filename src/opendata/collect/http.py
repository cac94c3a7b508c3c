"""A small JSON client over httpx for the statistics APIs: timeouts, retries, an optional cache.

Failures are sorted by kind, once, here:

- transient (retried with exponential backoff and jitter): connection errors, timeouts, other
  transport errors, HTTP 429 (its `Retry-After`, seconds or an HTTP-date, is honoured up to a
  cap) and HTTP 5xx. When the last attempt fails too: `SourceUnavailable`.
- terminal (raised at once): any other 4xx, and an answer that is not JSON. The collectors add
  their own shape checks and raise `SourceResponseError` through `malformed`.

Messages name the method and the URL with any credentials removed (user info, and the values of
query parameters such as `key` or `token`), never the credentials themselves.

`ResponseCache` keeps JSON answers in a Store under a private prefix (never published): within
its expiry a request is answered from the cache and nothing is sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from opendata.collect.raw import Cell
from opendata.errors import ConflictError, SourceResponseError, SourceUnavailable
from opendata.layout import CACHE_PREFIX
from opendata.storage.base import Store

logger = logging.getLogger(__name__)

Row = dict[str, Cell]
"""One tidy output row of a collector: column name -> value."""

QueryParams = Mapping[str, str | int | float | Sequence[str | int]]
Clock = Callable[[], datetime]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
USER_AGENT = "borasregionen-opendata/0.1 (open data pipeline)"
SENSITIVE_PARAMETERS = ("key", "token", "secret", "password", "passwd", "auth", "signature")
EXCERPT = 200  # characters of an error body quoted in a message


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: `attempts` tries in all, the n-th retry after about
    `base_delay * 2**(n-1)` seconds (at most `max_delay`), spread by ±`jitter` (a fraction) so
    that parallel runs do not retry in step. A `Retry-After` is waited for as given, up to
    `max_retry_after` seconds."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 120.0

    def delay(self, retry: int, rng: Callable[[], float]) -> float:
        """Seconds to wait before retry number `retry` (1-based) when the server said nothing."""
        nominal = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        spread = nominal * self.jitter * (2.0 * rng() - 1.0)
        return max(0.0, min(self.max_delay, nominal + spread))


def safe_url(url: str | httpx.URL) -> str:
    """`url` without user info and with the values of credential-like parameters redacted."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    query = [
        (name, "***" if any(word in name.lower() for word in SENSITIVE_PARAMETERS) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe=",|:*"), ""))


def secrets_of(url: str | httpx.URL) -> list[str]:
    """The credentials in `url`: its password and the values of credential-like parameters."""
    parts = urlsplit(str(url))
    found = [parts.password] if parts.password else []
    found += [
        value
        for name, value in parse_qsl(parts.query)
        if value and any(word in name.lower() for word in SENSITIVE_PARAMETERS)
    ]
    return found


def scrub(text: str, url: str | httpx.URL) -> str:
    """`text` (an error body) with any credential of `url` it echoes replaced by ***."""
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return text


def malformed(url: str | httpx.URL, problem: str) -> SourceResponseError:
    """The error for an answer of the wrong shape; the caller raises it."""
    return SourceResponseError(f"{safe_url(url)}: malformed answer: {problem}")


def full_url(url: str, params: QueryParams | None = None) -> httpx.URL:
    """`url` with `params` added (lists become repeated parameters)."""
    if not params:
        return httpx.URL(url)
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in params.items():
        if isinstance(value, str | int | float):
            pairs.append((name, str(value)))
        else:
            pairs.extend((name, str(item)) for item in value)
    return httpx.URL(url).copy_merge_params(pairs)


def canonical_url(url: httpx.URL) -> str:
    """The URL with its query parameters sorted: equal requests get equal cache keys."""
    parts = urlsplit(str(url))
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, query, ""))


class ResponseCache:
    """JSON answers kept in a Store, keyed by a hash of (method, URL with sorted query, body).

    Each entry is one JSON object under `prefix` (private: never part of a published package)
    holding the answer and when it was fetched. An entry older than `expiry` is refetched.
    """

    def __init__(
        self,
        store: Store,
        prefix: str = CACHE_PREFIX,
        expiry: timedelta = timedelta(hours=24),
        clock: Clock = utc_now,
    ) -> None:
        if not prefix.endswith("/"):
            prefix += "/"
        self.store = store
        self.prefix = prefix
        self.expiry = expiry
        self.clock = clock

    def key(self, method: str, url: httpx.URL, body: Any = None) -> str:
        material = json.dumps(
            [method.upper(), canonical_url(url), body],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return f"{self.prefix}{hashlib.sha256(material.encode('utf-8')).hexdigest()}.json"

    def get(self, method: str, url: httpx.URL, body: Any = None) -> tuple[bool, Any]:
        """(True, answer) for a fresh entry; (False, None) for none, an expired or a bad one."""
        found = self.store.read(self.key(method, url, body))
        if found is None:
            return False, None
        try:
            entry = json.loads(found[0])
            fetched = datetime.fromisoformat(entry["fetched"])
            answer = entry["answer"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring an unreadable cache entry for %s", safe_url(url))
            return False, None
        if fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        if self.clock() - fetched >= self.expiry:
            return False, None
        return True, answer

    def put(self, method: str, url: httpx.URL, body: Any, answer: Any) -> None:
        key = self.key(method, url, body)
        entry = {
            "fetched": self.clock().isoformat(),
            "method": method.upper(),
            "url": safe_url(url),
            "answer": answer,
        }
        data = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")
        found = self.store.read(key)
        # ConflictError: another run cached the same request meanwhile; its answer is as good.
        with contextlib.suppress(ConflictError):
            self.store.replace(key, data, None if found is None else found[1])


class _Transient(Exception):
    """One failed attempt that may pass; `wait` is what the server asked for, if anything."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class ApiClient:
    """GET or POST for JSON, with retries by kind of failure and an optional response cache.

    `requests_sent` counts the HTTP requests actually sent (each retry is one more; a cache hit
    is none), `cache_hits` the requests answered from the cache.
    """

    def __init__(
        self,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cache: ResponseCache | None = None,
        clock: Clock = utc_now,
        rng: Callable[[], float] = random.random,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        if self.retry.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        self.sleep = sleep
        self.cache = cache
        self.clock = clock
        self.rng = rng
        self._lock = threading.Lock()
        self._sent = 0
        self._hits = 0
        self._http = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            follow_redirects=True,
            transport=transport,
        )

    @property
    def requests_sent(self) -> int:
        return self._sent

    @property
    def cache_hits(self) -> int:
        return self._hits

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_json(self, url: str, params: QueryParams | None = None) -> Any:
        return self.request_json("GET", url, params=params)

    def post_json(self, url: str, body: Any, params: QueryParams | None = None) -> Any:
        return self.request_json("POST", url, params=params, body=body)

    def request_json(
        self, method: str, url: str, *, params: QueryParams | None = None, body: Any = None
    ) -> Any:
        """The decoded JSON answer; raises SourceUnavailable or SourceResponseError."""
        target = full_url(url, params)
        if self.cache is not None:
            hit, answer = self.cache.get(method, target, body)
            if hit:
                with self._lock:
                    self._hits += 1
                logger.debug("%s %s answered from the cache", method, safe_url(target))
                return answer
        answer = self._with_retries(method, target, body)
        if self.cache is not None:
            self.cache.put(method, target, body, answer)
        return answer

    def _with_retries(self, method: str, url: httpx.URL, body: Any) -> Any:
        shown = f"{method} {safe_url(url)}"
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(method, url, body, shown)
            except _Transient as failure:
                if attempt == attempts:
                    raise SourceUnavailable(
                        f"{shown}: the source cannot be reached: {failure.reason} "
                        f"(gave up after {attempts} attempt{'s' if attempts > 1 else ''})",
                        request=shown,
                        reason=failure.reason,
                        attempts=attempts,
                    ) from None
                if failure.wait is not None:
                    wait = min(failure.wait, self.retry.max_retry_after)
                else:
                    wait = self.retry.delay(attempt, self.rng)
                logger.warning(
                    "%s: %s; retry %d of %d in %.1f s",
                    shown,
                    failure.reason,
                    attempt,
                    attempts - 1,
                    wait,
                )
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, method: str, url: httpx.URL, body: Any, shown: str) -> Any:
        with self._lock:
            self._sent += 1
        try:
            if body is None:
                response = self._http.request(method, url)
            else:
                response = self._http.request(method, url, json=body)
        except httpx.UnsupportedProtocol as error:
            raise SourceResponseError(f"{shown}: cannot be requested: {error}") from None
        except httpx.TimeoutException as error:
            raise _Transient(f"{type(error).__name__} (no answer in time)") from None
        except httpx.TransportError as error:
            raise _Transient(f"{type(error).__name__}: {error}") from None
        except httpx.TooManyRedirects:
            raise SourceResponseError(f"{shown}: too many redirects") from None
        except httpx.DecodingError as error:
            raise SourceResponseError(f"{shown}: malformed answer: {error}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(
                f"HTTP {status} {response.reason_phrase}".rstrip(),
                self._retry_after(response.headers.get("Retry-After")),
            )
        if not 200 <= status < 300:
            excerpt = scrub(" ".join(response.text[:EXCERPT].split()), url)
            raise SourceResponseError(
                f"{shown}: HTTP {status} {response.reason_phrase}"
                + (f": {excerpt}" if excerpt else "")
            )
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("Content-Type", "no Content-Type")
            start = scrub(" ".join(response.text[:60].split()), url)
            raise SourceResponseError(
                f"{shown}: malformed answer: not JSON ({kind}, starting {start!r})"
                if response.content
                else f"{shown}: malformed answer: empty body, not JSON"
            ) from None

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds from a Retry-After header (delay-seconds or HTTP-date), None if unusable."""
        if value is None or not value.strip():
            return None
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - self.clock()).total_seconds()
        if seconds != seconds:  # NaN
            return None
        return max(0.0, seconds)
