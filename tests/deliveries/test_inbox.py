"""The inbox for machines: a file put under `_inbox/<dataset>/` by any S3 client is a delivery.

Against a real S3 server (SeaweedFS) with one identity per steward besides the pipeline's admin
identity. Each steward's identity is given exactly what `inbox_policy` (the AWS IAM policy that
`opendata steward policy NAME` prints) grants, translated into SeaweedFS's identity actions:
`Write:<bucket>/<prefix>/_inbox/<dataset>/*`. SeaweedFS (4.x) scopes an action to a key prefix
when it ends with `*` (it compares `Write:<bucket>/<key>` with what comes before the `*`), so the
same boundary holds here as on AWS: a steward's key puts files into its own datasets' inboxes and
reads, lists and writes nothing else. One difference: SeaweedFS's `Write` also covers deleting
(and overwriting) within that prefix, which the AWS policy does not grant; nothing outside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from opendata.config import load_settings
from opendata.definitions import Dataset, load_dataset
from opendata.deliveries import INBOX_STEWARD, list_records
from opendata.delivery_app import AppConfig, DeliveryApp
from opendata.errors import ConfigError
from opendata.inbox import INBOX_ACTIONS, inbox_policy, sweep_inbox
from opendata.layout import STEWARDS, Deliveries
from opendata.runners import LocalRunner
from opendata.storage import open_store
from opendata.storage.s3 import S3Store
from tests.conftest import copy_home, run_cli
from tests.s3server import S3Server, _stop, start_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

BUCKET = "opendata-inkorg"
PREFIX = "site"
# Who holds what: anna's avfallsplan shares its first letters with avfallsplan-uppfoljning,
# which is bo's (a policy scoped by a bare name prefix would let anna write there).
STEWARDS_DATASETS = {"anna": ["avfallsplan"], "bo": ["befolkning", "avfallsplan-uppfoljning"]}
DATASETS = ("avfallsplan", "avfallsplan-uppfoljning", "befolkning", "handlingsplan")
MAL = "datasets/avfallsplan/sources/mal.csv"
NEW_GOAL = "test-mal,2,Ett mål som en maskin levererat,10,%,,,https://example.org/mal\n"


def seaweedfs_actions(policy: dict[str, Any]) -> list[str]:
    """An inbox policy's grants as SeaweedFS identity actions (its `Write` is PutObject and the
    multipart calls; a trailing `*` makes the action a key prefix)."""
    actions = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement["Action"]) == set(INBOX_ACTIONS)
        for resource in statement["Resource"]:
            assert resource.startswith("arn:aws:s3:::") and resource.endswith("/*")
            actions.append("Write:" + resource.removeprefix("arn:aws:s3:::"))
    return actions


@dataclass
class StewardKey:
    access_key: str
    secret_key: str = field(repr=False)  # never in a test's output


@dataclass
class InboxServer:
    server: S3Server
    keys: dict[str, StewardKey]

    def steward(self, name: str) -> S3Client:
        """A boto3 client signing with the steward's own key (as their machine would)."""
        key = self.keys[name]
        return self.server.client(
            aws_access_key_id=key.access_key, aws_secret_access_key=key.secret_key
        )


@pytest.fixture(scope="module")
def inbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InboxServer]:
    """SeaweedFS with the admin identity (the pipeline) and one identity per steward, each
    allowed what `inbox_policy` allows them; the bucket exists (the admin created it)."""
    keys = {
        name: StewardKey("AK" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30))
        for name in STEWARDS_DATASETS
    }
    identities = [
        {
            "name": f"steward-{name}",
            "credentials": [{"accessKey": key.access_key, "secretKey": key.secret_key}],
            "actions": seaweedfs_actions(inbox_policy(BUCKET, PREFIX, STEWARDS_DATASETS[name])),
        }
        for name, key in keys.items()
    ]
    server, process = start_server(
        tmp_path_factory.mktemp("seaweedfs-inbox"), identities=identities
    )
    try:
        server.client().create_bucket(Bucket=BUCKET)
        yield InboxServer(server, keys)
    finally:
        _stop(process)


@pytest.fixture
def store(inbox_server: InboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Store:
    """The pipeline's store (admin identity from boto3's standard chain), emptied first."""
    admin = inbox_server.server.client()
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            admin.delete_object(Bucket=BUCKET, Key=item["Key"])
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in inbox_server.server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    opened = open_store(f"s3://{BUCKET}/{PREFIX}")
    assert isinstance(opened, S3Store)
    return opened


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return copy_home(tmp_path / "home", *DATASETS)


def loaded(home: Path, *names: str) -> dict[str, Dataset]:
    return {name: load_dataset(home / "datasets" / name, home / "schemas") for name in names}


def denied(call: Callable[..., object], **arguments: Any) -> str:
    """The S3 error code of a call that must be refused."""
    with pytest.raises(ClientError) as refused:
        call(**arguments)
    return str(refused.value.response["Error"]["Code"])


# -- the policy ------------------------------------------------------------------------------


def test_inbox_policy_is_exactly_put_into_the_datasets_inboxes() -> None:
    expected = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OpendataInbox",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": [
                    "arn:aws:s3:::opendata-borasregionen/site/_inbox/befolkning/*",
                    "arn:aws:s3:::opendata-borasregionen/site/_inbox/avfallsplan/*",
                ],
            }
        ],
    }
    datasets = ["befolkning", "avfallsplan", "befolkning"]
    assert inbox_policy("opendata-borasregionen", "site", datasets) == expected
    assert inbox_policy("opendata-borasregionen", "/site/", datasets) == expected
    bare = inbox_policy("opendata-borasregionen", "", ["avfallsplan"])
    assert bare["Statement"][0]["Resource"] == [
        "arn:aws:s3:::opendata-borasregionen/_inbox/avfallsplan/*"
    ]
    deep = inbox_policy("b-1", "a/b", ["avfallsplan"])
    assert deep["Statement"][0]["Resource"] == ["arn:aws:s3:::b-1/a/b/_inbox/avfallsplan/*"]


@pytest.mark.parametrize(
    ("bucket", "prefix", "datasets"),
    [
        ("b-1", "site", []),
        ("b-1", "site", ["*"]),
        ("b-1", "site", ["avfallsplan/../befolkning"]),
        ("b-1", "site", [""]),
        ("b-1", "s*", ["avfallsplan"]),
        ("b-1", "${aws:username}", ["avfallsplan"]),
        ("b-*", "site", ["avfallsplan"]),
        ("", "site", ["avfallsplan"]),
    ],
)
def test_inbox_policy_names_nothing_wider(bucket: str, prefix: str, datasets: list[str]) -> None:
    with pytest.raises(ConfigError):
        inbox_policy(bucket, prefix, datasets)


def test_steward_policy_command(store: S3Store, home: Path, tmp_path: Path) -> None:
    """`opendata steward policy NAME` prints the policy for the steward's datasets (JSON only
    on stdout, to hand to `aws iam put-user-policy`); exit 2 for an unknown steward or a store
    that is not S3."""
    env = {"OPENDATA_HOME": str(home), "OPENDATA_STORE": store.url}
    added = run_cli(
        ["steward", "add", "anna", "--organisation", "Borås stad", "--datasets", "avfallsplan"],
        home,
        **env,
    )
    assert added.returncode == 0, added.stderr
    shown = run_cli(["steward", "policy", "anna"], home, **env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == inbox_policy(BUCKET, PREFIX, ["avfallsplan"])
    assert "_inbox/avfallsplan/" in shown.stderr

    unknown = run_cli(["steward", "policy", "nobody"], home, **env)
    assert unknown.returncode == 2
    assert "no steward 'nobody'" in unknown.stderr
    assert unknown.stdout == ""

    local = run_cli(["steward", "policy", "anna", "--store", str(tmp_path / "public")], home)
    assert local.returncode == 2
    assert "needs an s3:// store" in local.stderr
    assert local.stdout == ""


# -- what a steward's key may do -------------------------------------------------------------


def test_a_stewards_key_writes_only_its_own_datasets_inbox(
    inbox_server: InboxServer, store: S3Store
) -> None:
    store.create(STEWARDS, b'{"format": 1, "stewards": []}\n')
    store.create(f"{Deliveries.ROOT}/records/avfallsplan/x.json", b"{}")
    store.create("catalog.json", b"{}")
    anna = inbox_server.steward("anna")
    inbox = f"{PREFIX}/_inbox"

    # Its own datasets' inbox: a PUT, and a multipart upload (started, a part, aborted).
    anna.put_object(Bucket=BUCKET, Key=f"{inbox}/avfallsplan/x.csv", Body=b"a,b\n1,2\n")
    upload = anna.create_multipart_upload(Bucket=BUCKET, Key=f"{inbox}/avfallsplan/big.csv")
    anna.upload_part(
        Bucket=BUCKET,
        Key=f"{inbox}/avfallsplan/big.csv",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"a,b\n",
    )
    anna.abort_multipart_upload(
        Bucket=BUCKET, Key=f"{inbox}/avfallsplan/big.csv", UploadId=upload["UploadId"]
    )
    assert store.read_bytes("_inbox/avfallsplan/x.csv") == b"a,b\n1,2\n"

    # Another steward's inboxes, even one whose name starts like its own; the inbox itself;
    # anything else in the store.
    for key in (
        f"{inbox}/befolkning/x.csv",
        f"{inbox}/avfallsplan-uppfoljning/x.csv",
        f"{inbox}/x.csv",
        f"{PREFIX}/_private/stewards.json",
        f"{PREFIX}/catalog.json",
        "elsewhere.csv",
    ):
        assert denied(anna.put_object, Bucket=BUCKET, Key=key, Body=b"x") == "AccessDenied", key
    assert (
        denied(anna.create_multipart_upload, Bucket=BUCKET, Key=f"{inbox}/befolkning/big.csv")
        == "AccessDenied"
    )
    # A key that climbs out of its inbox is refused outright, not resolved.
    climbing = f"{inbox}/avfallsplan/../befolkning/x.csv"
    assert denied(anna.put_object, Bucket=BUCKET, Key=climbing, Body=b"x") in (
        "AccessDenied",
        "InvalidRequest",
    )

    # Nothing can be read: not the private area (directly, or copied into its own inbox), not
    # what it put itself; and nothing listed.
    for key in (
        f"{PREFIX}/{STEWARDS}",
        f"{PREFIX}/{Deliveries.ROOT}/records/avfallsplan/x.json",
        f"{inbox}/avfallsplan/x.csv",
    ):
        assert denied(anna.get_object, Bucket=BUCKET, Key=key) == "AccessDenied", key
        assert denied(anna.head_object, Bucket=BUCKET, Key=key) in ("403", "AccessDenied"), key
    private = {"Bucket": BUCKET, "Key": f"{PREFIX}/{STEWARDS}"}
    copy = f"{inbox}/avfallsplan/copy.json"
    assert denied(anna.copy_object, Bucket=BUCKET, Key=copy, CopySource=private) == "AccessDenied"
    assert denied(anna.list_objects_v2, Bucket=BUCKET) == "AccessDenied"
    for prefix in (f"{PREFIX}/", f"{PREFIX}/_private/", f"{inbox}/avfallsplan/"):
        assert denied(anna.list_objects_v2, Bucket=BUCKET, Prefix=prefix) == "AccessDenied"
    # The other steward's key is held to its own inboxes the same way.
    bo = inbox_server.steward("bo")
    bo.put_object(Bucket=BUCKET, Key=f"{inbox}/avfallsplan-uppfoljning/n.csv", Body=b"x")
    refused = denied(bo.put_object, Bucket=BUCKET, Key=f"{inbox}/avfallsplan/n.csv", Body=b"x")
    assert refused == "AccessDenied"
    assert store.read_bytes("_inbox/avfallsplan/x.csv") == b"a,b\n1,2\n"
    assert store.read_bytes(STEWARDS) == b'{"format": 1, "stewards": []}\n'


# -- what the pipeline makes of it -----------------------------------------------------------


def delivered_bytes(home: Path) -> bytes:
    return (home / MAL).read_bytes() + NEW_GOAL.encode()


def test_a_file_in_the_inbox_becomes_a_delivery(
    inbox_server: InboxServer, store: S3Store, home: Path, tmp_path: Path
) -> None:
    data = delivered_bytes(home)
    digest = hashlib.sha256(data).hexdigest()
    inbox_server.steward("anna").put_object(
        Bucket=BUCKET, Key=f"{PREFIX}/_inbox/avfallsplan/mal.csv", Body=data
    )

    new, refused = sweep_inbox(store, loaded(home, *DATASETS), tmp_path)

    assert refused == []
    assert [record.dataset for record in new] == ["avfallsplan"]
    record = new[0]
    assert record.state == "received"
    assert record.via == "inbox"
    assert record.steward == INBOX_STEWARD
    assert record.source == "sources/mal.csv"
    assert record.file == "mal.csv"
    assert record.sha256 == digest
    assert record.bytes == len(data)
    assert [t.state for t in record.history] == ["received"]
    assert store.read_bytes(Deliveries.file(digest)) == data
    assert digest in Deliveries.file(digest) and Deliveries.file(digest).startswith(
        "_private/deliveries/files/"
    )
    assert list_records(store, "avfallsplan") == [record]
    assert store.list(Deliveries.inbox("avfallsplan")) == []

    # Looking again finds nothing new.
    assert sweep_inbox(store, loaded(home, *DATASETS), tmp_path) == ([], [])


def test_a_file_matching_no_declared_source_is_moved_aside_with_a_note(
    inbox_server: InboxServer, store: S3Store, home: Path, tmp_path: Path
) -> None:
    inbox_server.steward("anna").put_object(
        Bucket=BUCKET, Key=f"{PREFIX}/_inbox/avfallsplan/budget.csv", Body=b"x,y\n1,2\n"
    )

    new, refused = sweep_inbox(store, loaded(home, *DATASETS), tmp_path)

    assert new == []
    assert len(refused) == 1 and "budget.csv" in refused[0]
    assert list_records(store, "avfallsplan") == []
    left = store.list(Deliveries.inbox("avfallsplan"))
    assert "_inbox/avfallsplan/budget.csv" not in left
    assert store.read_bytes("_inbox/avfallsplan/refused/budget.csv") == b"x,y\n1,2\n"
    notes = [key for key in left if key.endswith("-budget.csv.txt")]
    assert len(notes) == 1 and notes[0].startswith("_inbox/avfallsplan/refused/")
    note = (store.read_bytes(notes[0]) or b"").decode()
    assert "matches no declared source of avfallsplan" in note
    assert "sources/mal.csv" in note and "sources/malomraden.csv" in note
    # What was set aside is not taken in again.
    assert sweep_inbox(store, loaded(home, *DATASETS), tmp_path) == ([], [])


def test_the_delivery_app_takes_in_the_inbox_and_checks_it(
    inbox_server: InboxServer, store: S3Store, home: Path
) -> None:
    """The running app's periodic look (`resume`) takes the file in and its run (a LocalRunner,
    no Prefect) checks it like any delivery."""
    data = delivered_bytes(home)
    inbox_server.steward("anna").put_object(
        Bucket=BUCKET, Key=f"{PREFIX}/_inbox/avfallsplan/mal.csv", Body=data
    )
    settings = load_settings(home=home, store=store.url)
    app = DeliveryApp(AppConfig(settings=settings, store=store, offline=True))
    try:
        runner = app.runner
        assert isinstance(runner, LocalRunner)
        app.resume(first=True)
        assert runner.idle.wait(timeout=600), "the delivery run did not finish"
    finally:
        app.close()

    [record] = list_records(store, "avfallsplan")
    assert record.via == "inbox"
    assert [t.state for t in record.history][:2] == ["received", "validating"]
    assert record.state == "ready", record.error or record.problems
    assert record.version is not None
    assert store.list(Deliveries.inbox("avfallsplan")) == []
