"""What a steward sees in the real Prefect UI: Debian's chromium, headless, at 1,440 × 900.

A Prefect server with its UI runs on 127.0.0.1 with its own PREFECT_HOME (the user's profile is
never touched). A steward's run publishes a copy of befolkning with wrong values (one far too
long, one with a decimal comma) through `opendata publish --prefect`; the test then opens the
run's `invalid-<dataset>` artifact, the run's logs and the on-demand deployment's run form as
the steward would, and measures them in the browser. Screenshots land in tests/artifacts/
(git-ignored).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opendata.parameters import defined_names
from tests.browsers import chromium
from tests.cli.test_cli import write_broken_copy
from tests.conftest import REPO, run_cli
from tests.flows.test_deployment import Stack

pytestmark = pytest.mark.integration

sync_api = pytest.importorskip("playwright.sync_api")

WINDOW = {"width": 1440, "height": 900}
TIMEOUT_MS = 60_000  # the UI's first page loads its whole bundle on a busy machine
ARTIFACTS = REPO / "tests" / "artifacts"
LONG = "UPPSKATTNING FRÅN FÖRVALTNINGEN, SE BILAGA TILL DIREKTIONENS PROTOKOLL " * 3


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Prefect server with its UI (what `prefect server start` serves by default)."""
    stack = Stack(tmp_path_factory.mktemp("prefect-ui"))
    stack.env["PREFECT_SERVER_UI_ENABLED"] = "true"
    try:
        server = stack.start(
            "server", "server", "start", "--host", "127.0.0.1", "--port", str(stack.port)
        )
        stack.wait_for_server(server)
        yield stack
    except BaseException:
        print(stack.dump())
        raise
    finally:
        stack.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def page_at(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=WINDOW)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def break_more(workspace: Path, name: str) -> None:
    """Three more wrong values in the copy's CSV: below zero, far too long, a decimal comma."""
    path = workspace / "datasets" / name / "sources/folkmangd.csv"
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    rows[8][3], rows[10][3], rows[12][3] = "-5", LONG, "12,5"
    with path.open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows(rows)


# Every table of the artifact, its box and its container (the UI scrolls a wide table inside
# its container, without a visible scrollbar), and the last column's cells.
MEASURE = """() => {
    const article = document.querySelector('.artifact-data-markdown');
    const tables = [...article.querySelectorAll('table')].map(table => {
        const box = table.parentElement.getBoundingClientRect();
        const last = [...table.querySelectorAll('tr > :last-child')];
        return {
            scrollWidth: table.scrollWidth,
            containerWidth: table.parentElement.clientWidth,
            containerScrollWidth: table.parentElement.scrollWidth,
            columns: table.querySelectorAll('th').length,
            lastRight: Math.max(...last.map(cell => cell.getBoundingClientRect().right)),
            boxRight: box.right,
        };
    });
    return {
        tables,
        articleWidth: article.clientWidth,
        articleScrollWidth: article.scrollWidth,
        pageScrollWidth: document.documentElement.scrollWidth,
        windowWidth: window.innerWidth,
        headings: [...article.querySelectorAll('h3')].map(h => h.innerText),
    };
}"""


def test_a_stewards_invalid_run_reads_well_in_the_prefect_ui(
    ui: Stack, browser: Any, workspace: Path
) -> None:
    name, row = write_broken_copy(workspace, "not-a-number")
    break_more(workspace, name)
    published = run_cli(
        ["publish", name, "--prefect", "--store", str(workspace / "public")],
        workspace,
        api_url=ui.api,
        PREFECT_HOME=str(ui.tmp / "prefect-home"),
        PREFECT_PROFILES_PATH=str(ui.tmp / "prefect-home" / "profiles.toml"),
    )
    assert published.returncode == 1, published.stdout + published.stderr
    [artifact] = ui.post("/artifacts/filter", {"artifacts": {"key": {"any_": [f"invalid-{name}"]}}})
    [flow_run] = ui.post(
        "/flow_runs/filter", {"flow_runs": {"id": {"any_": [artifact["flow_run_id"]]}}}
    )
    assert (flow_run["state"]["type"], flow_run["state"]["message"]) == (
        "FAILED",
        f"Not published: {name} (invalid)",
    )

    # The report, as the artifact's page shows it in a 1,440 px wide window.
    page = page_at(browser, f"{ui.api.removesuffix('/api')}/artifacts/artifact/{artifact['id']}")
    page.wait_for_selector(".artifact-data-markdown table >> nth=1")
    page.get_by_text("Fil / file:").first.wait_for()
    shot(page, "prefect-invalid-report-1440")
    page.evaluate("document.querySelector('.artifact-data-markdown h3').scrollIntoView()")
    page.screenshot(path=str(ARTIFACTS / "prefect-invalid-report-table-1440.png"))
    seen = page.evaluate(MEASURE)
    assert seen["headings"] == [f"Fil / file: {name}/sources/folkmangd.csv"], seen
    _, problems = seen["tables"]  # the problems by kind, then the file's problems
    assert problems["columns"] == 4, seen
    for table in seen["tables"]:
        # Nothing to scroll sideways: each table fits its container, the last column
        # ("what is wrong") inside it, and so does the page.
        assert table["scrollWidth"] <= table["containerWidth"], seen
        assert table["containerScrollWidth"] <= table["containerWidth"], seen
        assert table["lastRight"] <= table["boxRight"] + 1, seen
    assert seen["articleScrollWidth"] <= seen["articleWidth"], seen
    assert seen["pageScrollWidth"] <= seen["windowWidth"], seen
    # The value and what is wrong with it, in Swedish then English, on screen.
    cells = page.locator(".artifact-data-markdown table >> nth=1").locator("tbody tr")
    rows = [cells.nth(i).locator("td").all_inner_texts() for i in range(cells.count())]
    assert rows[0] == [
        str(row),
        "folkmangd",
        "elvatusen",
        "är inte ett heltal\nis not a whole number",
    ]
    assert [r[2] for r in rows] == [
        "elvatusen",
        "-5",
        "UPPSKATTNING FRÅN\nFÖRVALTNINGEN, SE\nBIL…",  # cut at 40 characters
        "12,5",
    ]
    assert rows[3][3] == "är inte ett heltal (tips 1)\nis not a whole number (hint 1)"
    page.close()

    # The run's logs: sentences, no traceback, no raw data.
    page = page_at(browser, f"{ui.api.removesuffix('/api')}/runs/flow-run/{flow_run['id']}")
    page.get_by_text(f"{name}: ogiltig / invalid — 4 fel / 4 problems").first.wait_for()
    shot(page, "prefect-invalid-run-logs-1440")
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and "{'" not in text and "DatasetInvalid" not in text
    page.close()


def open_list(page: Any) -> None:
    """Open the first select of the form (ArrowDown on its button, as a keyboard user does;
    again if the page was not listening yet)."""
    for _ in range(5):
        page.locator(".p-select-button__control").first.focus()
        page.keyboard.press("ArrowDown")
        try:
            page.locator(".p-select-option").first.wait_for(timeout=10_000)
            return
        except sync_api.TimeoutError:
            continue
    pytest.fail("the datasets' list did not open")


def test_the_run_form_offers_the_datasets_in_swedish_first(ui: Stack, browser: Any) -> None:
    ui.run("work-pool", "work-pool", "create", "opendata", "--type", "process")
    ui.run("deploy", "deploy", "--no-prompt", "--name", "publish-on-demand")
    deployment = ui.get("/deployments/name/publish-all/publish-on-demand")
    page = page_at(
        browser, f"{ui.api.removesuffix('/api')}/deployments/deployment/{deployment['id']}/run"
    )
    page.get_by_text("Datamängder / datasets").wait_for()
    shot(page, "prefect-run-form-1440")
    form = page.locator("body").inner_text()
    assert "Property is type" not in form
    for title in (
        "Datamängder / datasets",
        "Publiceringsplats / store",
        "Versionssteg / bump",
        "Provkörning / dry run",
        "Meddelande / message",
    ):
        assert title in form
    assert form.index("Datamängderna att publicera") < form.index("The datasets to publish")
    # `datasets` is a choice of the defined names.
    open_list(page)
    shot(page, "prefect-run-form-datasets-1440")
    options = page.locator(".p-select-option__text").all_inner_texts()
    assert [option.strip() for option in options] == defined_names(REPO), options
    page.keyboard.press("Escape")
    page.locator(".p-select-option").first.wait_for(state="hidden")

    # Submitted untouched, the form starts a run of every dataset (nothing null to refuse).
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/deployments/deployment/**?tab=Runs")
    [flow_run] = ui.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment["id"]]}}})
    assert flow_run["parameters"]["datasets"] == []
    assert json.dumps(flow_run["parameters"]).count("null") == 0, flow_run["parameters"]
    page.close()
