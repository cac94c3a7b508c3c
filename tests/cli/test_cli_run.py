"""`opendata publish` without Prefect: fast, checked before any work, no secret let through.

- No Prefect API configured: the run happens in this process (Prefect never imported) with the
  same outcomes and files as the flow, and transient store errors are retried as the flow's tasks
  retry them.
- A configured API that does not answer: one line saying what to do, exit 3.
- A wrong setting: exit 2 before anything runs (even with an API configured), saying what to set,
  never echoing a credential.
- `make run`'s command succeeds while both cores are busy with other work.

No test here times a command: how long a publish takes depends on the machine and whatever else
runs on it, so bench.guards and bench.cli measure it (and print it against a reference) instead.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata import run
from opendata.config import prefect_api_url, redact_url
from opendata.errors import ConfigError, StoreError, TransientStoreError
from opendata.request import RunRequest
from opendata.storage.open import bucket_problem, check_store_url
from tests.catalog.test_pages import parse
from tests.cli.test_cli import FIRST_RUN
from tests.conftest import run_cli

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fresh_home(tmp_path: Path) -> dict[str, str]:
    """A HOME and PREFECT_HOME with nothing in them: no Prefect profile, no AWS files."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "PREFECT_HOME": str(home / ".prefect"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }


def digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# -- in-process ---------------------------------------------------------------------------------

WATCH_PREFECT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('prefect imported:', any(m.split('.')[0] == 'prefect'"
    " for m in sys.modules), file=sys.stderr))\n"
    "from opendata.cli import main\n"
    "sys.argv = ['opendata', *sys.argv[1:]]\n"
    "main()\n"
)


def test_without_an_api_the_run_is_in_process(workspace: Path, fresh_home: dict[str, str]) -> None:
    result = run_cli(["publish", "--offline"], workspace, **fresh_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:7] == FIRST_RUN
    assert f"Published to {workspace / 'public'}" in result.stdout
    catalog = json.loads((workspace / "public/catalog.json").read_bytes())
    assert {d["name"]: d["latest"] for d in catalog["datasets"]}["avfallsplan"] == "1.0.0"
    # A fresh offline install (`make run`): the dataset collected from Kolada has no version,
    # and the index says so rather than leaving it out; catalog.json and DCAT do not list it.
    assert "avfallsplan-uppfoljning" not in {d["name"] for d in catalog["datasets"]}
    index = parse((workspace / "public/index.html").read_text("utf-8"))
    waiting = index.find("ul", class_="not-collected").by_id("avfallsplan-uppfoljning")
    assert waiting.find("h2").words() == (
        "Uppföljning av avfallsplanen – avfallsnyckeltal per kommun "
        "Ännu inte insamlad / not yet collected"
    )
    why = waiting.find("p", class_="notice").words()
    assert why.startswith("Hämtas från Kolada (öppet API); publiceringen kördes senast utan")
    assert "avfallsplan-uppfoljning" not in (workspace / "public/dcat/catalog.rdf").read_text()

    # One small dataset: no Prefect module is even imported.
    (workspace / "datasets/avfallsplan/sources/mal.csv").write_text(
        (workspace / "datasets/avfallsplan/sources/mal.csv")
        .read_text("utf-8")
        .replace(",35,g per portion", ",30,g per portion"),
        "utf-8",
    )
    watched = subprocess.run(
        [sys.executable, "-c", WATCH_PREFECT, "publish", "--json", "avfallsplan"],
        cwd=workspace,
        env={**_clean_env(), **fresh_home},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert watched.returncode == 0, watched.stderr
    assert "prefect imported: False" in watched.stderr
    (outcome,) = json.loads(watched.stdout)
    assert (outcome["status"], outcome["version"], outcome["changes"]) == (
        "published",
        "1.0.1",
        "mal: 1 row changed",
    )


def _clean_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDATA_", "PREFECT_"))}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


@pytest.mark.integration
def test_in_process_and_flow_publish_the_same(
    workspace: Path, fresh_home: dict[str, str], prefect_api: str
) -> None:
    """Same outcomes (--json) and the same files, byte for byte except each run's time."""
    runs = {}
    for way, api in (("in-process", None), ("flow", prefect_api)):
        store = workspace.parent / way
        result = run_cli(
            ["publish", "--json", "--store", str(store), "avfallsplan", "handlingsplan"],
            workspace,
            api,
            **fresh_home,
        )
        assert result.returncode == 0, result.stderr
        runs[way] = (json.loads(result.stdout), digests(store))
    assert runs["in-process"][0] == runs["flow"][0]
    in_process, flow = runs["in-process"][1], runs["flow"][1]
    assert in_process.keys() == flow.keys()
    # datapackage.json, versions.json, the catalog and the pages carry the time of the run.
    same = [key for key in flow if key.endswith((".csv", ".parquet", "validation.json"))]
    assert len(same) > 10
    assert {key: in_process[key] for key in same} == {key: flow[key] for key in same}


def test_a_transient_store_error_is_retried_in_process(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = run.publish_package

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        if len(calls) < 3:
            raise TransientStoreError("cannot write datasets/avfallsplan/x: S3 SlowDown (503)")
        return real(*args, **kwargs)

    slept: list[float] = []
    retries: list[tuple[str, int]] = []
    monkeypatch.setenv("OPENDATA_RETRY_BACKOFF", "2")
    monkeypatch.setattr(run, "publish_package", flaky)
    outcomes = run.run_in_process(
        RunRequest(("avfallsplan",), store=str(workspace / "public"), home=str(workspace)),
        sleep=slept.append,
        on_retry=lambda step, error, attempt, delay: retries.append((step, attempt)),
    )
    assert [(o["status"], o["version"]) for o in outcomes] == [("published", "1.0.0")]
    assert len(calls) == 3
    assert retries == [("publish_version", 1), ("publish_version", 2)]
    # Prefect's exponential backoff (2 s, 4 s, ...) with ±50% jitter.
    assert 1 <= slept[0] <= 3 and 2 <= slept[1] <= 6, slept


def test_a_terminal_store_error_is_not_retried_in_process(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        raise StoreError("access denied")

    slept: list[float] = []
    monkeypatch.setattr(run, "publish_package", broken)
    with pytest.raises(run.RunFailed) as failed:
        run.run_in_process(
            RunRequest(
                ("avfallsplan", "handlingsplan"),
                store=str(workspace / "public"),
                home=str(workspace),
            ),
            sleep=slept.append,
        )
    outcomes = failed.value.outcomes
    assert [(o["status"], o["message"], o["exit_code"]) for o in outcomes] == [
        ("failed", "access denied", 3),
        ("failed", "access denied", 3),
    ]
    assert failed.value.exit_code == 3
    assert len(calls) == 2 and slept == []


def test_the_cli_says_when_it_retries(
    workspace: Path, fresh_home: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process through the CLI's own code (typer's runner): the steward sees each retry."""
    from typer.testing import CliRunner

    from opendata.cli import app

    real = run.publish_package
    calls: list[str] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append("call")
        if len(calls) == 1:
            raise TransientStoreError("cannot write datasets/avfallsplan/x: S3 SlowDown (503)")
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "publish_package", flaky)
    monkeypatch.chdir(workspace)
    for key, value in fresh_home.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("OPENDATA_RETRY_BACKOFF", "0")
    result = CliRunner().invoke(app, ["publish", "avfallsplan"])
    assert result.exit_code == 0, result.output
    retry = "cannot write datasets/avfallsplan/x: S3 SlowDown (503); retry 1 of 3 in 0.0 s"
    assert f"publishing: {retry}" in result.stderr
    assert result.stderr.count(retry) == 1, result.stderr  # reported once, not also logged
    assert "avfallsplan  published  1.0.0    9" in result.stdout


# -- a configured Prefect API that does not answer ----------------------------------------------


def test_an_unreachable_api_in_the_environment_is_one_line_of_help(
    workspace: Path, fresh_home: dict[str, str]
) -> None:
    api = f"http://127.0.0.1:{free_port()}/api"
    result = run_cli(["publish", "avfallsplan"], workspace, api, **fresh_home)
    assert result.returncode == 3
    assert result.stderr == (
        f"Error: cannot reach the Prefect API at {api} (set in the environment): start it "
        "with `prefect server start`, or publish without Prefect: unset PREFECT_API_URL "
        "(or pass --no-prefect)\n"
    )
    assert result.stdout == ""
    assert not (workspace / "public").exists()

    # --no-prefect publishes all the same, in this process.
    anyway = run_cli(["publish", "--no-prefect", "avfallsplan"], workspace, api, **fresh_home)
    assert anyway.returncode == 0, anyway.stderr
    assert "avfallsplan  published  1.0.0    9" in anyway.stdout


def test_an_unreachable_api_in_the_profile_names_the_profile(
    workspace: Path, fresh_home: dict[str, str]
) -> None:
    api = f"http://127.0.0.1:{free_port()}/api"
    profiles = Path(fresh_home["PREFECT_HOME"]) / "profiles.toml"
    profiles.parent.mkdir()
    profiles.write_text(f'active = "local"\n\n[profiles.local]\nPREFECT_API_URL = "{api}"\n')
    result = run_cli(["publish", "avfallsplan"], workspace, **fresh_home)
    assert result.returncode == 3
    assert result.stderr == (
        f"Error: cannot reach the Prefect API at {api} (set in the Prefect profile 'local' of "
        f"{profiles}): start it with `prefect server start`, or publish without Prefect: "
        "`prefect config unset PREFECT_API_URL` (or pass --no-prefect)\n"
    )


def test_which_prefect_api_is_configured(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    home.mkdir()
    base = {"PREFECT_HOME": str(home)}
    assert prefect_api_url(base) is None  # a fresh home: no profiles file
    (home / "profiles.toml").write_text(
        'active = "ephemeral"\n[profiles.ephemeral]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n'
        '[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
    )
    assert prefect_api_url(base) is None
    assert prefect_api_url({**base, "PREFECT_PROFILE": "local"}) == (
        "http://127.0.0.1:4200/api",
        f"set in the Prefect profile 'local' of {home / 'profiles.toml'}",
    )
    # The environment wins over the profile, even empty (Prefect reads "" as "no API").
    env = {**base, "PREFECT_PROFILE": "local", "PREFECT_API_URL": "http://h:1/api"}
    assert prefect_api_url(env) == ("http://h:1/api", "set in the environment")
    assert prefect_api_url({**env, "PREFECT_API_URL": ""}) is None
    # PREFECT_PROFILES_PATH points elsewhere; a file Prefect cannot read either means no API.
    other = tmp_path / "other.toml"
    other.write_text('active = "x"\n[profiles.x]\nPREFECT_API_URL = "http://x:2/api"\n')
    assert prefect_api_url({**base, "PREFECT_PROFILES_PATH": str(other)}) == (
        "http://x:2/api",
        f"set in the Prefect profile 'x' of {other}",
    )
    other.write_text("active = [")
    assert prefect_api_url({**base, "PREFECT_PROFILES_PATH": str(other)}) is None


# -- configuration errors: exit 2 before any work, no secret echoed -----------------------------

CONFIG_ERRORS = {
    "credentials in --store": (
        ["--store", f"s3://{ACCESS_KEY}:{SECRET}@opendata-bucket/prefix"],
        {},
        "Error: Invalid configuration: OPENDATA_STORE: s3://***@opendata-bucket/prefix: "
        "credentials do not belong in the store URL; give them as AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead",
    ),
    "credentials in OPENDATA_STORE": (
        [],
        {"OPENDATA_STORE": f"s3://{ACCESS_KEY}:{SECRET}@opendata-bucket"},
        "credentials do not belong in the store URL",
    ),
    "bad bucket name": (
        ["--store", "s3://Open_Data/prefix"],
        {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET},
        "Error: OPENDATA_STORE=s3://Open_Data/prefix: the S3 bucket name 'Open_Data' may hold "
        "only lowercase letters, digits, dots and hyphens",
    ),
    "malformed endpoint": (
        ["--store", "s3://opendata-bucket/prefix"],
        {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_ENDPOINT_URL": "http//127.0.0.1:8333",
        },
        "Error: AWS_ENDPOINT_URL='http//127.0.0.1:8333' is not an absolute http:// or https:// "
        "URL; set it to the S3 server's address",
    ),
    "no credentials": (
        ["--store", "s3://opendata-bucket/prefix"],
        {},
        "Error: no complete S3 credentials found for s3://opendata-bucket/prefix (set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
    ),
    "half the credentials": (
        ["--store", "s3://opendata-bucket/prefix"],
        {"AWS_ACCESS_KEY_ID": ACCESS_KEY},
        "AWS_SECRET_ACCESS_KEY is missing in the environment",
    ),
    "unsupported store": (
        ["--store", "gs://opendata-bucket"],
        {},
        "Error: OPENDATA_STORE=gs://opendata-bucket: unsupported store URL",
    ),
    "base URL not absolute": (
        [],
        {"OPENDATA_BASE_URL": "data.example.se/oppnadata"},
        "Error: Invalid configuration: OPENDATA_BASE_URL: 'data.example.se/oppnadata' is not an "
        "absolute http:// or https:// URL; set it to the public http:// or https:// address",
    ),
    "base URL with credentials": (
        [],
        {"OPENDATA_BASE_URL": f"https://steward:{SECRET}@data.example.se/"},
        "OPENDATA_BASE_URL: 'https://***@data.example.se/' must not carry credentials",
    ),
}


@pytest.mark.parametrize("case", CONFIG_ERRORS)
def test_a_configuration_error_is_exit_2_before_any_work(
    case: str, workspace: Path, fresh_home: dict[str, str]
) -> None:
    args, env, message = CONFIG_ERRORS[case]
    # A Prefect API is configured (and down): the setting is refused before it is asked.
    api = f"http://127.0.0.1:{free_port()}/api"
    result = run_cli(["publish", *args, "avfallsplan"], workspace, api, **{**fresh_home, **env})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
    assert "Prefect" not in result.stderr
    for secret in (SECRET, ACCESS_KEY):
        assert secret not in result.stdout + result.stderr
    assert not (workspace / "public").exists()


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(st.characters(blacklist_characters="@/?#[]", min_codepoint=33), min_size=1),
    password=st.text(st.characters(blacklist_characters="@/?#[]", min_codepoint=33), min_size=4),
    scheme=st.sampled_from(["s3", "file", "http", "gs"]),
)
def test_credentials_in_any_store_url_are_never_echoed(
    user: str, password: str, scheme: str
) -> None:
    url = f"{scheme}://{user}:{password}@opendata-bucket/prefix"
    with pytest.raises(ConfigError) as refused:
        check_store_url(url)
    shown, reason = str(refused.value).split(": ", 1)
    assert shown == redact_url(url)
    assert shown in (f"{scheme}://***@opendata-bucket/prefix", f"{scheme}://***")
    assert reason == (
        "credentials do not belong in the store URL; "
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
    )


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("opendata", True),
        ("borasregionen.opendata-2024", True),
        ("ab", False),
        ("a" * 64, False),
        ("Opendata", False),
        ("open_data", False),
        ("-opendata", False),
        ("opendata-", False),
        ("open..data", False),
        ("192.168.5.4", False),
        ("xn--opendata", False),
        ("opendata-s3alias", False),
    ],
)
def test_bucket_names_follow_the_s3_rules(name: str, valid: bool) -> None:
    assert (bucket_problem(name) is None) is valid


# -- a busy machine -----------------------------------------------------------------------------


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Two CPU-bound processes: both cores of the test machine busy with other work."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait(timeout=10)


def test_make_run_succeeds_while_both_cores_are_busy(
    workspace: Path, fresh_home: dict[str, str], busy_cores: None
) -> None:
    """`make run` is `opendata publish --offline`: here into the workspace's own store."""
    result = run_cli(["publish", "--offline"], workspace, **fresh_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:7] == FIRST_RUN
    assert "Traceback" not in result.stderr
