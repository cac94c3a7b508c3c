"""The run request (opendata.request): one record of a run's options, from the CLI and the flows
to `opendata.run`, that survives JSON, the flows' parameters and pickling unchanged."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendata.errors import ConfigError
from opendata.parameters import described
from opendata.request import RunRequest
from opendata.run import RunContext, context_for, running

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
texts = st.none() | st.text(max_size=30)
requests = st.builds(
    RunRequest,
    datasets=st.none() | st.lists(names, max_size=4).map(tuple),
    store=texts,
    home=texts,
    bump=st.sampled_from([None, "major", "minor", "patch"]),
    dry_run=st.booleans(),
    offline=st.just(False),
    refresh=st.booleans(),
    republish=st.booleans(),
    message=texts,
    parallel=st.none() | st.integers(min_value=1, max_value=64),
)


@given(requests)
def test_a_request_survives_json_and_pickling(request: RunRequest) -> None:
    """What a Dask worker (pickle) or a log (JSON) gets is the request that was made, its run
    id included (a worker files the run's context under it)."""
    again = RunRequest.from_dict(json.loads(json.dumps(request.to_dict())))
    assert again == request and again.run_id == request.run_id
    assert pickle.loads(pickle.dumps(request)) == request
    assert hash(again) == hash(request)


@given(requests)
def test_the_form_gives_the_same_request_back(request: RunRequest) -> None:
    """A spread run's batch gets its options as the flow's parameters: read back, they are the
    same options (an empty text in the form is the default, as None is)."""
    if request.message == "" or request.store == "" or request.home == "" or request.datasets == ():
        return  # "" and () are the form's "default": they come back as None
    form = request.to_form()
    assert "parallel" not in form and "run_id" not in form
    back = RunRequest.from_form(**form, parallel=request.parallel)
    assert back == request


def test_the_form_leaves_out_only_the_texts_left_empty() -> None:
    form = RunRequest(store="", message=None, dry_run=False, offline=True).to_form()
    assert form == {"dry_run": False, "offline": True, "refresh": False, "republish": False}
    assert RunRequest.from_form(datasets=[], store="", bump="", home="", message="") == (
        RunRequest()
    )


def test_a_batch_is_the_same_options_for_its_datasets_under_a_run_id_of_its_own() -> None:
    request = RunRequest(("a", "b", "c"), store="s3://bucket/x", bump="minor", message="Nytt år")
    batch = request.for_datasets(["b"])
    assert batch.datasets == ("b",) and batch.run_id != request.run_id
    assert batch.to_form() == {**request.to_form(), "datasets": ["b"]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"parallel": 0}, "--parallel 0: give how many datasets to publish at once, 1 or more"),
        ({"offline": True, "refresh": True}, "--refresh asks the public APIs and --offline"),
        ({"bump": "huge"}, "bump 'huge': choose one of major, minor, patch"),
    ],
)
def test_a_request_that_cannot_run_is_refused_when_made(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        RunRequest(**options)


def test_an_unknown_option_is_refused_by_name_not_ignored() -> None:
    record = {**RunRequest().to_dict(), "dryrun": True}
    with pytest.raises(ConfigError, match="a run request has no option 'dryrun'"):
        RunRequest.from_dict(record)


def test_a_run_opens_its_settings_and_store_once_for_every_dataset_in_its_process(
    tmp_path: Path,
) -> None:
    """The flow's threads find the run's context; outside the run (a Dask worker's process
    has none) a context of its own is opened from the request."""
    request = RunRequest(store=str(tmp_path / "public"), home=str(tmp_path))
    context = RunContext.open(request)
    with running(context):
        assert context_for(request) is context
        assert context_for(RunRequest.from_dict(request.to_dict())) is context
    elsewhere = context_for(request)
    assert elsewhere is not context and elsewhere.settings.store_url == context.settings.store_url


def test_each_parameter_description_is_swedish_then_english_in_italics() -> None:
    field = described("Titel / title", "Svensk text.", "English text.")
    assert field.json_schema_extra == {
        "title": "Titel / title",
        "description": "Svensk text.\n\n*English text.*",
    }
