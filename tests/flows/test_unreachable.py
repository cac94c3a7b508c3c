"""Issue 21, item 4: a public API that cannot be reached fails no dataset that does not need it.

The dataset collected from the API (`avfallsplan-uppfoljning`, from Kolada) is `skipped` with
the reason (the source, what failed, which version stays), the others are published, the run
exits 3 (a public API out of reach, the README's table) and, as a Prefect flow, ends in a
Completed state named "Completed with skips" whose message says the same; the failure
notification carries it. A dataset never published is listed on the index as not yet
collected. Kolada is "unreachable" at 127.0.0.1:9 (nothing listens: connection refused) or a
local server in Kolada's wire format that answers 500 every time; a malformed answer is no
skip. No API ever leaves this machine.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import FlowRun
from prefect.states import Completed, Crashed, Failed

import flows.publish as flow_module
from opendata import run
from opendata.catalog import uncollected
from opendata.config import load_settings
from opendata.preparing import load
from opendata.request import RunRequest
from opendata.storage import open_store
from tests.catalog.test_pages import parse
from tests.cli.test_cli import write_broken_copy
from tests.cli.test_cli_run import fresh_home
from tests.conftest import run_cli
from tests.fakeapis import FakeApis
from tests.flows.test_artifacts import artifacts_of, shown_row
from tests.flows.test_flow import logs_of
from tests.flows.test_notify import Receiver, installed, notify, receiver

__all__ = ["fresh_home", "installed", "receiver"]  # fixtures, imported for this module's tests

NAME = "avfallsplan-uppfoljning"
DOWN = "http://127.0.0.1:9/v3"  # nothing listens on the discard port: connection refused
# The fixture's definition asks Kolada for its six KPIs' titles first: that request fails.
REQUEST = (
    f"GET {DOWN}/kpi/U07801,U07482,U07483,U07484,U07485,U07414?per_page=5000: "
    "ConnectError: [Errno 111] Connection refused; gave up after 5 attempts"
)
NEVER_PUBLISHED = (
    f"Kolada {DOWN} cannot be reached ({REQUEST}): not collected in this run, no version of "
    "it is published yet; the next run collects it once the source answers"
)
TITLE = "Uppföljning av avfallsplanen – avfallsnyckeltal per kommun"


def down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kolada out of reach for this process (the flow runs here), retries without waiting."""
    monkeypatch.setenv("OPENDATA_KOLADA_URL", DOWN)
    monkeypatch.setenv("OPENDATA_RETRY_BACKOFF", "0.01")


def index_of(public: Path) -> Any:
    return parse((public / "index.html").read_text("utf-8"))


def test_in_process_the_others_are_published_and_the_unreachable_one_skipped(
    workspace: Path, fresh_home: dict[str, str]
) -> None:
    """`opendata publish` without Prefect, Kolada down: exit 3, not a crash."""
    env = {**fresh_home, "OPENDATA_KOLADA_URL": DOWN, "OPENDATA_RETRY_BACKOFF": "0.01"}
    result = run_cli(["publish", "--json", "avfallsplan", NAME], workspace, **env)
    assert result.returncode == 3, result.stderr
    outcomes = json.loads(result.stdout)
    assert [(o["dataset"], o["status"], o["version"]) for o in outcomes] == [
        ("avfallsplan", "published", "1.0.0"),
        (NAME, "skipped", None),
    ]
    assert outcomes[1]["message"] == NEVER_PUBLISHED
    assert f"{NAME}: skipped: {NEVER_PUBLISHED}" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("Error")]

    public = workspace / "public"
    catalog = json.loads((public / "catalog.json").read_bytes())
    assert [d["name"] for d in catalog["datasets"]] == ["avfallsplan"]
    for dcat in ("rdf", "ttl", "jsonld"):
        assert NAME not in (public / f"dcat/catalog.{dcat}").read_text("utf-8")
    doc = index_of(public)
    assert [
        li.attrs["id"] for li in doc.find("ul", class_="datasets").find_all("li", class_="dataset")
    ] == ["avfallsplan"]
    item = doc.find("ul", class_="not-collected").by_id(NAME)
    assert item.find("h2").words() == f"{TITLE} Ännu inte insamlad / not yet collected"
    assert "som inte gick att nå när publiceringen kördes senast" in item.words()
    verify = run_cli(["verify"], workspace, **fresh_home)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The table says it too, and where to look: the run did its work.
    again = run_cli(["publish", "avfallsplan", NAME], workspace, **env)
    assert again.returncode == 3, again.stderr
    assert again.stdout.splitlines()[:3] == [
        "dataset                  status     version  rows",
        "avfallsplan              unchanged  1.0.0    9",
        f"{NAME}  skipped    -        -",
    ]
    assert f"Published to {public}" in again.stdout
    assert f"\n{NAME}: {NEVER_PUBLISHED}\n" in again.stderr


def test_a_source_answering_500_is_unreachable_a_malformed_answer_is_not(
    workspace: Path, fake_apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only what the client's retries could not get past (here HTTP 500 every time) skips the
    dataset; an answer of the wrong shape is a failure (exit 3), as before."""
    monkeypatch.setenv("OPENDATA_KOLADA_URL", fake_apis.kolada)
    monkeypatch.setenv("OPENDATA_RETRY_BACKOFF", "0.01")
    fake_apis.fail("/v3/", "500")
    outcomes = run.run_in_process(
        RunRequest((NAME,), str(workspace / "public"), home=str(workspace))
    )
    assert [(o["status"], o["exit_code"], o["unreachable"]) for o in outcomes] == [
        ("skipped", 3, f"Kolada {fake_apis.kolada}")
    ]
    assert "HTTP 500 Internal Server Error; gave up after 5 attempts" in outcomes[0]["message"]
    assert run.exit_code(outcomes) == 3

    fake_apis.faults.clear()
    fake_apis.fail("/v3/", "malformed")
    with pytest.raises(run.RunFailed) as caught:
        run.run_in_process(RunRequest((NAME,), str(workspace / "public"), home=str(workspace)))
    [failed] = caught.value.outcomes
    assert (failed["status"], failed["exit_code"], failed["unreachable"]) == ("failed", 3, None)
    assert "malformed answer" in failed["message"]
    assert str(caught.value) == f"Not published: {NAME} (failed)"


def test_with_an_invalid_dataset_beside_it_the_run_fails_and_names_both(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    down(monkeypatch)
    name, _ = write_broken_copy(workspace, "not-a-number")
    with pytest.raises(run.RunFailed) as caught:
        run.run_in_process(RunRequest((name, NAME), str(workspace / "public"), home=str(workspace)))
    assert str(caught.value) == (
        f"Not published: {name} (invalid); "
        f"Skipped, a source cannot be reached: {NAME} ({NEVER_PUBLISHED})"
    )
    assert [(o["status"], o["exit_code"]) for o in caught.value.outcomes] == [
        ("invalid", 1),
        ("skipped", 3),
    ]
    assert caught.value.exit_code == 3  # the highest code wins


@pytest.mark.integration
def test_the_flow_completes_with_skips_and_the_notification_says_why(
    installed: Receiver,
    prefect_api: str,
    workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    made = notify(["--webhook", installed.url], prefect_api, tmp_path)
    assert made.returncode == 0, made.stderr
    down(monkeypatch)
    public = workspace / "public"
    state = flow_module.publish_all(
        datasets=["avfallsplan", NAME], store=str(public), home=str(workspace), return_state=True
    )
    # Completed (the others published, the catalog updated), named for what it skipped.
    assert state.is_completed() and not state.is_failed()
    assert state.name == "Completed with skips"
    assert state.message == f"Skipped, a source cannot be reached: {NAME} ({NEVER_PUBLISHED})"
    outcomes = state.result()
    assert [(o["dataset"], o["status"]) for o in outcomes] == [
        ("avfallsplan", "published"),
        (NAME, "skipped"),
    ]

    # The run's table: skipped, why, in Swedish and English.
    table = artifacts_of(state)["publish-summary"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert shown_row(rows[1])[:3] == [NAME, "hoppades över / skipped", ""]
    assert shown_row(rows[1])[5] == (
        f"källan Kolada {DOWN} kunde inte nås, så datamängden hämtades inte i den här "
        f"körningen; ingen version är publicerad ännu / {NEVER_PUBLISHED}"
    )
    # The log says it in a sentence; no task crashed, so no traceback.
    logs = logs_of(state)
    assert f"{NAME}: skipped: {NEVER_PUBLISHED}" in logs
    assert not [m for m in logs if "Traceback" in m or "SourceUnavailable" in m], logs

    # The webhook hears of it, with the reason.
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    [(_, _, body)] = installed.wait(1, timeout=60)
    message = json.loads(body)
    assert (message["flow_run"], message["state"]) == (flow_run.name, "Completed with skips")
    assert message["text"] == (
        "Publiceringen slutfördes men hoppade över datamängder / Publishing completed but "
        f"skipped datasets: {flow_run.name} (Completed with skips): {state.message}"
    )

    # The index lists it as not yet collected (the flow's catalog step, from the store).
    assert index_of(public).by_id(NAME).find("span", class_="badge").text() == (
        "Ännu inte insamlad / not yet collected"
    )

    # The one-dataset flow ends the same way.
    one = flow_module.publish_dataset(
        NAME, store=str(public), home=str(workspace), return_state=True
    )
    assert (one.type.value, one.name) == ("COMPLETED", "Completed with skips")
    assert one.message == f"Skipped, a source cannot be reached: {NAME} ({NEVER_PUBLISHED})"


def test_a_spread_batch_that_completed_with_skips_did_not_fail() -> None:
    """publish-spread (the README's example) counts a batch "Completed with skips" as done,
    and says which batches skipped what; a Failed or Crashed batch still fails it."""

    def batch(number: int, state: Any) -> tuple[int, list[str], FlowRun, int]:
        flow_run = FlowRun(
            id=uuid.uuid4(), flow_id=uuid.uuid4(), name=f"batch-{number}-of-3", state=state
        )
        return number, [f"d{number}"], flow_run, 1

    skipped = Completed(name=run.SKIPS_STATE, message="Skipped, a source cannot be reached: x")
    rows, failed, skips = flow_module.batch_table(
        [batch(1, Completed()), batch(2, skipped), batch(3, Completed())]
    )
    assert [row["state"] for row in rows] == ["Completed", "Completed with skips", "Completed"]
    assert failed == []
    assert run.spread_skips_message(skips, len(rows)) == (
        "1 of 3 batches completed with skips: batch-2-of-3: Skipped, a source cannot be reached: x"
    )
    rows, failed, skips = flow_module.batch_table(
        [batch(1, Failed()), batch(2, skipped), batch(3, Crashed())]
    )
    assert [row["flow_run"] for row in failed] == ["batch-1-of-3", "batch-3-of-3"]


def test_notes_of_datasets_no_longer_waiting_are_tidied(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run removes the note of a dataset no longer defined; a run that publishes a
    dataset removes its note."""
    public = str(workspace / "public")
    settings = load_settings(store=public, home=workspace)
    store = open_store(settings.store_url)
    record = uncollected.record_of(load(settings, NAME), "offline")
    uncollected.note(store, {**record, "name": "borttagen"})
    uncollected.note(store, {**record, "name": "avfallsplan"})
    run.run_in_process(RunRequest(("avfallsplan",), public, home=str(workspace)))
    assert uncollected.recorded(store) == ["borttagen"]  # not a full run: only its own
    run.run_in_process(RunRequest(None, public, home=str(workspace), offline=True))
    assert uncollected.recorded(store) == [NAME]  # skipped offline, never published
