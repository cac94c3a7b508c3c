"""The delivery run: check (and publish) what stewards delivered for one dataset.

Started by Prefect itself: the deployment `process-deliveries` (prefect.yaml) has a trigger on
the events the delivery app sends (`opendata.delivery.received`,
`opendata.delivery.publish-requested`, resource `opendata.dataset.<name>`), one run per
dataset after a quiet spell. Thin wiring of `opendata.deliveries.process_dataset`; the run
fails (and the failure notification fires) when a delivery is invalid or could not be handled.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from opendata import deliveries, termination
from opendata.collect.remote import remote_sources
from opendata.config import load_settings
from opendata.errors import OpendataError, is_transient
from opendata.storage import open_store


class DeliveriesNotPublished(OpendataError):
    """A delivery of the run was invalid or failed: the steward sees why on the page."""


@task(
    name="process-deliveries",
    retries=3,
    retry_delay_seconds=[2, 4, 8],
    retry_condition_fn=lambda task, run, state: _transient(state),
)
def process(dataset: str, home: str | None, offline: bool) -> list[dict[str, Any]]:
    settings = load_settings(home=home)
    store = open_store(settings.store_url)
    remote = None if offline else remote_sources(settings, store)
    records = deliveries.process_dataset(settings, store, dataset, remote)
    return [record.model_dump(mode="json") for record in records]


def _transient(state: Any) -> bool:
    try:
        state.result()
    except Exception as error:
        return is_transient(error)
    return False


@flow(name="process-deliveries", flow_run_name="deliveries-{dataset}")
def process_deliveries(
    dataset: str, home: str | None = None, offline: bool = False
) -> list[dict[str, Any]]:
    """Kontrollera och publicera leveranser till ett dataset / Check and publish the
    deliveries of one dataset.

    Args:
        dataset: Datasetet vars leveranser körs / The dataset whose deliveries are run.
        home: Repository-roten (standard: OPENDATA_HOME) / The repository root.
        offline: Fråga inga öppna API:er / Ask no public API.
    """
    logger = get_run_logger()
    with termination.on_sigterm():  # SIGTERM: the publish in progress releases its claim
        done = process(dataset, home, offline)
    records = [deliveries.DeliveryRecord.model_validate(r) for r in done]
    for record in records:
        logger.info(
            "%s: leverans %s (%s) är %s%s / delivery %s is %s",
            record.dataset,
            record.id,
            record.file,
            record.state,
            f" ({record.version})" if record.version else "",
            record.id,
            record.state,
        )
    if records:
        create_markdown_artifact(
            key=f"deliveries-{dataset}",
            markdown=deliveries.outcome_markdown(records),
            description=f"Leveranser till {dataset} / deliveries of {dataset}",
        )
    bad = [r for r in records if r.state in ("invalid", "failed")]
    if bad:
        message = "; ".join(
            f"{r.file}: {r.state}"
            + (f" ({r.problem_count} problem)" if r.problem_count else "")
            + (f": {r.error}" if r.error else "")
            for r in bad
        )
        logger.error("%s: inte publicerat / not published: %s", dataset, message)
        raise DeliveriesNotPublished(f"{dataset}: not published: {message}")
    return done
