"""The delivery page in a real browser (Debian's chromium through Playwright): a steward signs
in, delivers a valid file, sees the preview, publishes and follows the link to the version;
an invalid file ends in its report with nothing published; a phone shows it without sideways
scrolling; sign-in attempts are limited.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import chromium
from tests.conftest import REPO
from tests.deliveries.test_deliveries import PASSWORD, Served, changed_goals
from tests.deliveries.test_deliveries import served as served

sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = REPO / "tests" / "artifacts"
TIMEOUT_MS = 120_000


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def sign_in(page: Any, served: Served, password: str = PASSWORD) -> None:
    page.goto(served.url + "/")
    page.fill("#name", "anna")
    page.fill("#password", password)
    page.click("form.signin button[type=submit]")


def no_sideways_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_a_steward_delivers_previews_and_publishes(
    served: Served,
    browser: Any,
    tmp_path: Path,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, served)
    section = page.locator("#dataset-avfallsplan")
    assert "Senaste version" in section.inner_text()
    assert section.locator("dd a").first.inner_text() == "1.0.0"

    section.locator("input[type=file]").set_input_files(str(changed_goals(served, tmp_path)))
    section.locator("#message-avfallsplan").fill("Nytt målvärde för matsvinn")
    section.locator("form.upload button[type=submit]").click()
    outcome = section.locator(".outcome .result[data-state=ready]")
    outcome.wait_for()
    text = outcome.inner_text()
    assert "klar att publicera" in text
    assert "Version 1.0.1 efter 1.0.0 (patch)" in text
    assert "matsvinn-per-portion: malvarde 35 → 30" in text
    page.screenshot(path=str(ARTIFACTS / "delivery-preview.png"), full_page=True)
    assert not (served.store / "datasets/avfallsplan/1.0.1").exists()

    section.locator("form.publish input[name=message]").fill("Nämndens beslut 2026")
    section.locator("form.publish button[type=submit]").click()
    page.locator(".result[data-state=published]").wait_for()
    link = page.locator("a.version-link")
    assert link.get_attribute("href").endswith("/datasets/avfallsplan/index.html#v1.0.1")
    page.screenshot(path=str(ARTIFACTS / "delivery-published.png"), full_page=True)
    assert (served.store / "datasets/avfallsplan/1.0.1/datapackage.json").is_file()
    assert errors == []

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.set_default_timeout(TIMEOUT_MS)
    sign_in(phone, served)
    phone.locator("#dataset-avfallsplan").wait_for()
    assert no_sideways_scroll(phone)
    phone.goto(page.url)
    phone.locator(".result[data-state=published]").wait_for()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(ARTIFACTS / "delivery-phone.png"), full_page=True)


def test_an_invalid_file_ends_in_its_report_with_nothing_published(
    served: Served,
    browser: Any,
    tmp_path: Path,
) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(TIMEOUT_MS)
    sign_in(page, served)
    original = (served.home / "datasets/avfallsplan/sources/mal.csv").read_text("utf-8")
    broken = tmp_path / "mal.csv"
    broken.write_text(
        original.replace(",35,g per portion", ",<b>trettiofem</b>,g per portion"), "utf-8"
    )
    section = page.locator("#dataset-avfallsplan")
    section.locator("input[type=file]").set_input_files(str(broken))
    section.locator("form.upload button[type=submit]").click()
    report = section.locator(".outcome .result[data-state=invalid]")
    report.wait_for()
    text = report.inner_text()
    assert "fel i filen" in text
    assert "'<b>trettiofem</b>'" in text  # shown as text, never as markup
    assert report.locator("b").count() == 0
    assert "kolumn" in text and "malvarde" in text
    assert no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "delivery-invalid.png"), full_page=True)
    assert not (served.store / "datasets/avfallsplan/1.0.1").exists()
    assert report.locator("form.publish").count() == 0


def test_sign_in_is_rate_limited_and_forms_need_their_token(
    served: Served,
    browser: Any,
) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    for _ in range(5):
        sign_in(page, served, "fel-lösenord-123")
        assert "Fel namn eller lösenord" in page.inner_text("body")
    sign_in(page, served)
    assert "För många misslyckade inloggningar" in page.inner_text("body")
    # A form posted from elsewhere (no session, no token) publishes nothing.
    import httpx

    forged = httpx.post(
        f"{served.url}/upload/avfallsplan",
        files={"file": ("mal.csv", b"id\n", "text/csv")},
        headers={"Accept": "application/json"},
    )
    assert forged.status_code == 401
