"""The site in a real browser: Debian's chromium, headless, through Playwright's sync API.

The real datasets are published to a scratch store whose base URL is the URL of the
`opendata serve` server in front of it, so every link on the pages resolves. avfallsplan has a
second version (one corrected value). Screenshots land in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opendata.catalog import rebuild_catalog
from opendata.config import load_settings
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package
from opendata.serve import make_server
from opendata.storage import LocalStore
from tests.browsers import chromium
from tests.conftest import OFFLINE_DATASETS, REPO, copy_home

pytestmark = pytest.mark.integration

sync_api = pytest.importorskip("playwright.sync_api")

TIMEOUT_MS = 15_000
DATASETS = OFFLINE_DATASETS
ARTIFACTS = REPO / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, store folder): the server starts first, the datasets are published with its URL."""
    root = tmp_path_factory.mktemp("site")
    server = make_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        home = tmp_path_factory.mktemp("repo")
        copy_home(home)
        settings = load_settings(home=home, base_url=base)
        store = LocalStore(root)
        for name in DATASETS:
            publish_package(store, require_valid(prepare(settings, name)), base)
        goals = home / "datasets/avfallsplan/sources/mal.csv"
        goals.write_text(
            goals.read_text("utf-8").replace(",35,g per portion", ",30,g per portion"), "utf-8"
        )
        outcome = publish_package(store, require_valid(prepare(settings, "avfallsplan")), base)
        assert outcome.version == "1.0.1"
        rebuild_catalog(store, base)
        yield base, root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Watch:
    """Console errors, uncaught exceptions and every request a page makes."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"{m.text} ({m.location.get('url')})")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


def new_page(browser: Any, viewport: dict[str, int], **options: Any) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport=viewport, accept_downloads=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page, Watch(page)


def visible_datasets(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "li.dataset", "items => items.filter(i => !i.hidden).map(i => i.id)"
    )
    return ids


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_filter_follow_download_and_old_version(browser: Any, site: tuple[str, Path]) -> None:
    base, root = site
    context, page, watch = new_page(browser, DESKTOP)
    try:
        page.goto(base)
        assert page.locator("html").get_attribute("lang") == "sv"
        assert page.locator("#filter").is_visible()
        assert visible_datasets(page) == DATASETS
        assert page.locator("#filter-status").inner_text() == "Visar 5 av 5 dataset."
        shot(page, "index-desktop")

        # Free text, then theme, then both; the query is kept in the address.
        page.get_by_label("Sök i titel, beskrivning och nyckelord").fill("avfall")
        assert visible_datasets(page) == ["avfallsplan", "handlingsplan", "vaxthusgasutslapp"]
        assert page.locator("#filter-status").inner_text() == "Visar 3 av 5 dataset."
        assert "q=avfall" in page.url
        shot(page, "index-filtered")
        page.get_by_label("Sök i titel, beskrivning och nyckelord").fill("")
        page.get_by_label("Tema").select_option("TRAN")
        assert visible_datasets(page) == ["personbilar-drivmedel"]
        page.get_by_label("Sök i titel, beskrivning och nyckelord").fill("avfall")
        assert visible_datasets(page) == []
        assert page.locator("#filter-none").is_visible()
        page.get_by_role("button", name="Rensa").click()
        sync_api.expect(page.locator("li.dataset:not([hidden])")).to_have_count(5)
        assert visible_datasets(page) == DATASETS
        # Folded diacritics: "vaxthus" finds "växthus"; a reload keeps the filter from the URL.
        page.get_by_label("Sök i titel, beskrivning och nyckelord").fill("vaxthus")
        assert visible_datasets(page) == ["vaxthusgasutslapp"]
        page.reload()
        assert visible_datasets(page) == ["vaxthusgasutslapp"]
        assert (
            page.get_by_label("Sök i titel, beskrivning och nyckelord").input_value() == "vaxthus"
        )

        # Follow a dataset link.
        page.goto(base)
        page.get_by_role("link", name="Gemensam avfallsplan 2021–2030 – målområden och mål").click()
        page.wait_for_url(f"{base}datasets/avfallsplan/")
        assert (
            page.locator("h1").inner_text() == "Gemensam avfallsplan 2021–2030 – målområden och mål"
        )
        shot(page, "dataset-desktop")

        # Download the CSV through the page's own link; its SHA-256 is the one shown.
        row = page.locator("table.downloads tr[data-file='mal.csv']")
        shown = row.locator("code.hash").inner_text()
        with page.expect_download() as info:
            row.get_by_role("link", name="mal.csv").click()
        download = info.value
        data = Path(download.path()).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shown
        assert data == (root / "datasets/avfallsplan/1.0.1/mal.csv").read_bytes()
        assert row.locator("td[data-label='Storlek']").get_attribute("data-bytes") == str(len(data))
        assert download.suggested_filename == "mal.csv"

        # An older version, two clicks from the index: the version list, then its anchor.
        page.goto(base)
        item = page.locator("li#avfallsplan")
        item.locator("summary").click()
        item.get_by_role("link", name="1.0.0", exact=True).click()
        page.wait_for_url(f"{base}datasets/avfallsplan/#v1.0.0")
        old = page.locator("[id='v1.0.0']")
        assert page.evaluate("document.querySelector(':target').id") == "v1.0.0"
        assert old.locator("details").evaluate("d => d.open")  # the script opened its files
        assert old.locator("h3").inner_text().startswith("Version 1.0.0")
        assert "30,g" not in (root / "datasets/avfallsplan/1.0.0/mal.csv").read_text("utf-8")
        old_sha = old.locator("tr[data-file='mal.csv'] code.hash").inner_text()
        stored_old = (root / "datasets/avfallsplan/1.0.0/mal.csv").read_bytes()
        assert old_sha == hashlib.sha256(stored_old).hexdigest() != shown
        shot(page, "dataset-version-1.0.0")
        # No page of the site logged an error (checked before leaving for a bare JSON file,
        # for which the browser asks for a /favicon.ico the store does not have).
        assert watch.errors == []
        with page.expect_response(lambda r: r.url.endswith("/1.0.0/datapackage.json")) as answer:
            old.get_by_role("link", name="datapackage.json för version 1.0.0").click()
        response = answer.value
        assert response.status == 200
        descriptor = json.loads(response.body())
        assert (descriptor["name"], descriptor["version"]) == ("avfallsplan", "1.0.0")
        page.wait_for_url(f"{base}datasets/avfallsplan/1.0.0/datapackage.json")

        # Everything came from the site itself.
        assert [url for url in watch.requests if not url.startswith(base)] == []
    finally:
        context.close()


def test_every_page_on_a_phone_without_errors(browser: Any, site: tuple[str, Path]) -> None:
    base, _ = site
    context, page, watch = new_page(
        browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    try:
        page.goto(base)
        no_horizontal_scroll(page)
        shot(page, "index-mobile")
        for name in DATASETS:
            page.goto(f"{base}datasets/{name}/")
            assert page.locator("h1").is_visible()
            no_horizontal_scroll(page)
            # The JSON-LD parses in the browser too.
            ld = json.loads(page.locator("script[type='application/ld+json']").inner_text())
            assert ld["@type"] == "Dataset" and ld["version"]
        page.goto(f"{base}datasets/befolkning/")
        shot(page, "dataset-mobile")
        # The places' pages (the dct:Location IRIs), with their boxes and centres.
        for path in ("region/", "kommuner/1490/"):
            page.goto(f"{base}{path}")
            assert page.locator("h1").is_visible()
            assert "dcat:centroid" in page.locator("main").inner_text()
            no_horizontal_scroll(page)
        shot(page, "place-mobile")
        assert watch.errors == []
        assert [url for url in watch.requests if not url.startswith(base)] == []
    finally:
        context.close()


def test_without_javascript_the_whole_list_shows(browser: Any, site: tuple[str, Path]) -> None:
    base, _ = site
    context, page, watch = new_page(browser, DESKTOP, java_script_enabled=False)
    try:
        page.goto(base)
        assert visible_datasets(page) == DATASETS
        assert (
            page.locator("li.dataset").evaluate_all("items => items.map(i => i.offsetHeight > 0)")
            == [True] * 5
        )
        assert not page.locator("#filter").is_visible()
        assert watch.errors == []
    finally:
        context.close()


def test_a_missing_browser_is_a_named_skip_or_in_ci_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without chromium the browser tests say why they skip; where .ci/run requires the browser
    they fail instead, so a machine without it never passes as green."""
    import tests.browsers as browsers

    monkeypatch.setattr(browsers, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv(browsers.REQUIRED, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"chromium is not installed at .*no-chromium"):
        browsers.require_browser()
    monkeypatch.setenv(browsers.REQUIRED, "1")
    with pytest.raises(pytest.fail.Exception, match="the browser tests must run here"):
        browsers.require_browser()
