"""The one way the tests start a browser: Debian's chromium driven by Playwright.

Without chromium the browser tests skip with a reason `-ra` prints in the summary; where the
browser must be there (CI: `.ci/run` installs it and sets OPENDATA_REQUIRE_BROWSER=1) they fail
instead, so that a missing browser never passes as a green run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRED = "OPENDATA_REQUIRE_BROWSER"


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def require_browser() -> None:
    """Skip the calling test (fail it where OPENDATA_REQUIRE_BROWSER is set) without a browser."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get(REQUIRED):
        pytest.fail(f"{reason}, and {REQUIRED} is set: the browser tests must run here")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless chromium, closed on the way out. Its singleton socket must fit
    AF_UNIX's path limit, so its TMPDIR is /tmp, not a test's deep temporary folder."""
    require_browser()
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=ARGS,
            timeout=30_000,
            env={**os.environ, "TMPDIR": "/tmp"},
        )
        try:
            yield launched
        finally:
            launched.close()
