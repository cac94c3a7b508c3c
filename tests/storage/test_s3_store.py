"""The S3 store against a real S3 server (SeaweedFS): the same guarantees as the local store.

Conditional writes are done by the server, so these tests also prove that the server enforces
them: If-None-Match on PutObject and CompleteMultipartUpload, If-Match on PutObject.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from opendata.catalog import rebuild_catalog
from opendata.catalog.dataset_pages import PREVIEW_BYTES
from opendata.config import load_settings
from opendata.errors import (
    ConfigError,
    ConflictError,
    LostRace,
    StoreError,
    TransientStoreError,
)
from opendata.layout import LISTINGS
from opendata.preparing import prepare, require_valid
from opendata.publish import publish_package
from opendata.storage import LocalStore, open_store
from opendata.storage.base import IMMUTABLE, SHORT_LIVED
from opendata.storage.s3 import S3Store
from tests.catalogkit import Version, big_tables, write_dataset
from tests.conftest import FIXTURE_HOME
from tests.s3server import S3Server

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PREFIX = "site/v1"


@pytest.fixture
def aws_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """boto3's standard chain pointed at the test server, and nothing of the developer's."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return s3_server


@pytest.fixture
def bucket(aws_env: S3Server) -> str:
    return aws_env.new_bucket()


@pytest.fixture
def store(bucket: str) -> S3Store:
    """A store below a prefix in a fresh bucket, opened from its URL as the CLI does."""
    opened = open_store(f"s3://{bucket}/{PREFIX}")
    assert isinstance(opened, S3Store)
    return opened


def raw_client(server: S3Server) -> Any:
    return server.client()


def calls_to(store: S3Store, operation: str) -> list[dict[str, Any]]:
    """Record the parameters of every `operation` call the store's client makes (any thread)."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], **_: Any) -> None:
        with lock:
            # Not the body: holding every part's bytes would defeat the memory check.
            kept = {k: v for k, v in params.items() if k != "Body"}
            seen.append({**kept, "thread": threading.current_thread().name})

    store.client.meta.events.register(f"provide-client-params.s3.{operation}", record)
    return seen


def headers_of(store: S3Store, operation: str) -> list[dict[str, str]]:
    """The HTTP headers of every `operation` request as sent on the wire."""
    seen: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        seen.append(
            {
                k.lower(): v.decode() if isinstance(v, bytes) else v
                for k, v in request.headers.items()
            }
        )

    store.client.meta.events.register(f"before-send.s3.{operation}", record)
    return seen


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def write_random_file(path: Path, size: int, seed: int = 1) -> str:
    """A file of `size` pseudo-random bytes, written in chunks; returns its SHA-256."""
    digest = hashlib.sha256()
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with path.open("wb") as stream:
        written = 0
        counter = 0
        while written < size:
            chunk = (counter.to_bytes(8, "big") + block)[: min(MiB, size - written)]
            stream.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            counter += 1
    return digest.hexdigest()


def stored_sha256(server: S3Server, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = raw_client(server).get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(MiB):
        digest.update(chunk)
    return digest.hexdigest()


# -- the server ---------------------------------------------------------------------------------


def test_the_server_refuses_unsigned_and_wrongly_signed_requests(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    s3_server.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    anonymous = s3_server.client(config=Config(signature_version=UNSIGNED))
    wrong_secret = s3_server.client(aws_secret_access_key="not-the-secret")
    unknown_key = s3_server.client(aws_access_key_id="AKNOSUCHKEY000000000")
    attempts = [
        (anonymous, "AccessDenied"),
        (wrong_secret, "SignatureDoesNotMatch"),
        (unknown_key, "InvalidAccessKeyId"),
    ]
    for client, code in attempts:
        for call in (
            lambda c=client: c.get_object(Bucket=bucket, Key="k"),
            lambda c=client: c.put_object(Bucket=bucket, Key="k", Body=b"y"),
            lambda c=client: c.list_objects_v2(Bucket=bucket),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == code
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3_server.client().get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


# -- opening the store --------------------------------------------------------------------------


def test_open_store_gives_an_s3_store_with_path_style_addressing(bucket: str) -> None:
    store = open_store(f"s3://{bucket}/{PREFIX}/")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.url) == (bucket, PREFIX, f"s3://{bucket}/{PREFIX}")
    assert store.client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL"]
    assert store.client.meta.config.s3 == {"addressing_style": "path"}
    assert store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}
    bare = open_store(f"s3://{bucket}")
    assert isinstance(bare, S3Store) and bare.prefix == "" and bare.url == f"s3://{bucket}"


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "s3://B/x", "s3://bucket/../x", "s3://bucket/x?versionId=1"]
)
def test_malformed_s3_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as refused:
        open_store("s3://AKIDEXAMPLE:hunter2secret@bucket/prefix")
    assert "hunter2secret" not in str(refused.value)
    assert "AKIDEXAMPLE" not in str(refused.value)


# -- the Store guarantees -----------------------------------------------------------------------


def test_create_read_replace_list_delete(store: S3Store, aws_env: S3Server, bucket: str) -> None:
    key = "datasets/x/1.0.0/data.csv"
    assert store.read(key) is None
    assert store.create(key, b"a,b\n1,2\n") is True
    found = store.read(key)
    assert found is not None
    data, etag = found
    assert data == b"a,b\n1,2\n"
    assert etag.startswith('"') and etag.endswith('"')
    # The object lives below the store's prefix.
    names = [o["Key"] for o in raw_client(aws_env).list_objects_v2(Bucket=bucket)["Contents"]]
    assert names == [f"{PREFIX}/{key}"]

    # Never overwritten: the same bytes again is a no-op, other bytes a conflict.
    assert store.create(key, b"a,b\n1,2\n") is False
    with pytest.raises(ConflictError, match=r"already exists.*never overwritten") as conflict:
        store.create(key, b"a,b\n9,9\n")
    assert key in str(conflict.value) and bucket in str(conflict.value)
    assert not isinstance(conflict.value, LostRace)
    assert store.read(key) == (b"a,b\n1,2\n", etag)

    # Compare-and-swap on the ETag.
    pointer = "datasets/x/versions.json"
    first = store.replace(pointer, b"one", None)
    second = store.replace(pointer, b"two", first)
    assert second != first
    assert store.read(pointer) == (b"two", second)
    with pytest.raises(LostRace, match="changed"):
        store.replace(pointer, b"three", first)  # a stale ETag
    with pytest.raises(LostRace, match="changed"):
        store.replace(pointer, b"three", None)  # "must not exist", but it does
    assert store.read_bytes(pointer) == b"two"
    assert store.write_if_changed(pointer, b"two") is False
    assert store.write_if_changed(pointer, b"four") is True
    assert store.read_bytes(pointer) == b"four"

    store.delete(key)
    assert store.read(key) is None
    store.delete(key)  # deleting a missing object is not an error
    with pytest.raises(ConflictError):
        store.replace(key, b"x", etag)  # it was deleted: the ETag no longer holds


def test_list_is_sorted_relative_paginated_and_by_folder(store: S3Store) -> None:
    keys = [f"datasets/d{n % 3}/{n:02d}.json" for n in range(20)]
    for key in reversed(keys):
        store.create(key, b"{}")
    store.create("datasets-extra/x.json", b"{}")
    store.create("catalog.json", b"{}")
    requests = calls_to(store, "ListObjectsV2")
    # Small pages, so the listing has to follow continuation tokens.
    store.client.meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: params.update(MaxKeys=7)
    )
    assert store.list("datasets") == sorted(keys)
    assert len(requests) >= 3
    assert store.list("datasets/") == sorted(keys)
    assert store.list("datasets/d1") == sorted(k for k in keys if k.startswith("datasets/d1/"))
    assert store.list("") == sorted([*keys, "datasets-extra/x.json", "catalog.json"])
    assert store.list("nothing-here") == []


def test_content_type_and_cache_control_are_stored(
    store: S3Store, aws_env: S3Server, bucket: str
) -> None:
    expected = {
        "datasets/x/1.0.0/data.csv": ("text/csv; charset=utf-8", IMMUTABLE),
        "datasets/x/1.0.0/datapackage.json": ("application/json", IMMUTABLE),
        "datasets/x/latest/data.csv": ("text/csv; charset=utf-8", SHORT_LIVED),
        "catalog.json": ("application/json", SHORT_LIVED),
        "index.html": ("text/html; charset=utf-8", SHORT_LIVED),
        "datasets/x/1.0.0/blob.bin": ("application/octet-stream", IMMUTABLE),
    }
    for key in expected:
        store.create(key, b"x")
    store.replace("datasets/x/versions.json", b"{}", None)
    expected["datasets/x/versions.json"] = ("application/json", SHORT_LIVED)
    client = raw_client(aws_env)
    for key, (content_type, cache_control) in expected.items():
        head = client.head_object(Bucket=bucket, Key=f"{PREFIX}/{key}")
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache_control), key


def test_every_upload_carries_a_sha256_the_server_verifies(
    store: S3Store, aws_env: S3Server, bucket: str
) -> None:
    sent = headers_of(store, "PutObject")
    data = b"kommun;ar;varde\n1490;2024;1.5\n"
    store.create("datasets/x/1.0.0/data.csv", data)
    store.replace("datasets/x/versions.json", b"{}", None)
    assert [h.get("x-amz-checksum-sha256") for h in sent] == [sha256_b64(data), sha256_b64(b"{}")]
    assert [h.get("if-none-match") for h in sent] == ["*", "*"]
    head = raw_client(aws_env).head_object(
        Bucket=bucket, Key=f"{PREFIX}/datasets/x/1.0.0/data.csv", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == sha256_b64(data)
    # The server checks the digest: a body that does not match it is refused, nothing stored.
    with pytest.raises(ClientError) as refused:
        raw_client(aws_env).put_object(
            Bucket=bucket,
            Key=f"{PREFIX}/corrupt.csv",
            Body=b"tampered",
            ChecksumSHA256=sha256_b64(data),
        )
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    assert store.read("corrupt.csv") is None


def test_replace_sends_if_match_with_the_etag_read(store: S3Store) -> None:
    sent = headers_of(store, "PutObject")
    etag = store.replace("datasets/x/versions.json", b"one", None)
    store.replace("datasets/x/versions.json", b"two", etag)
    assert sent[-1].get("if-match") == etag and "if-none-match" not in sent[-1]


def test_a_replace_whose_answer_was_lost_is_not_a_conflict(
    store: S3Store, aws_env: S3Server, bucket: str
) -> None:
    """boto3 retries a PUT that timed out; if the first attempt went through, the retry meets
    412. The object then holds exactly our bytes: that is success, not a lost race."""
    key = "datasets/x/versions.json"
    etag = store.replace(key, b"one", None)
    # Our first attempt, done behind the store's back: it went through, its answer was lost.
    raw_client(aws_env).put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=b"two", IfMatch=etag)
    new_etag = store.replace(key, b"two", etag)
    assert store.read(key) == (b"two", new_etag)
    with pytest.raises(ConflictError):
        store.replace(key, b"three", etag)


def test_concurrent_writers_one_wins_the_others_conflict(store: S3Store) -> None:
    """The server's conditional writes are atomic: of 8 racing writers exactly one succeeds."""

    def create(n: int) -> str:
        try:
            return "won" if store.create("datasets/x/1.0.0/data.csv", f"{n}".encode()) else "same"
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(create, range(8)))
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]

    etag = store.replace("datasets/x/versions.json", b"v0", None)

    def replace(n: int) -> str:
        try:
            store.replace("datasets/x/versions.json", f"v{n + 1}".encode(), etag)
            return "won"
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(replace, range(8)))
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]


def test_a_derived_file_replaced_by_another_run_meanwhile_is_compared_again(
    store: S3Store,
) -> None:
    """A derived file (index.html) has no owner: when another publisher replaces it between
    our read and our conditional write, ours is compared with theirs and written, not a
    conflict that fails the publish (the catalog check afterwards settles which is newer)."""
    key = "index.html"
    store.replace(key, b"first", None)
    rival_writes = iter([b"rival", b"rival again"])
    real_read = store.read

    def read_then_rival(read_key: str) -> tuple[bytes, str] | None:
        found = real_read(read_key)
        rival = next(rival_writes, None)
        if read_key == key and rival is not None:
            store.replace(key, rival, real_read(key)[1])  # type: ignore[index]
        return found

    store.read = read_then_rival  # type: ignore[method-assign]
    assert store.write_if_changed(key, b"ours") is True
    assert real_read(key)[0] == b"ours"  # type: ignore[index]
    rival_writes = iter([b"ours"] * 3)  # a rival that wrote our bytes: nothing left to write
    assert store.write_if_changed(key, b"ours") is False


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", "a/../../b", "..", "a/..", ""])
def test_store_keys_never_leave_the_store(store: S3Store, key: str) -> None:
    for attempt in (
        lambda: store.create(key, b"x"),
        lambda: store.read(key),
        lambda: store.replace(key, b"x", None),
        lambda: store.delete(key),
    ):
        with pytest.raises(ValueError, match="invalid store key"):
            attempt()
    assert store.list("") == []


def test_keys_name_the_same_objects_as_local_paths(store: S3Store) -> None:
    """check_key accepts 'a//b' and 'a/./b'; a folder store reads them as 'a/b', so does S3."""
    store.create("datasets//x/./data.csv", b"x")
    assert store.list("") == ["datasets/x/data.csv"]
    assert store.read_bytes("datasets/x/data.csv") == b"x"


# -- large files --------------------------------------------------------------------------------


# -- read_head: the start of an object, one ranged GET ------------------------------------------


def test_read_head_is_one_ranged_get(store: S3Store) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    key = "datasets/x/1.0.0/t.csv"
    store.create(key, data)
    store.create("datasets/x/1.0.0/small.csv", b"a,b\r\n1,2\r\n")
    store.create("datasets/x/1.0.0/empty.csv", b"")
    gets = calls_to(store, "GetObject")
    sent = headers_of(store, "GetObject")

    assert store.read_head(key, 64 * 1024) == data[: 64 * 1024]
    assert [(g["Key"], g["Range"]) for g in gets] == [(f"{PREFIX}/{key}", "bytes=0-65535")]
    assert sent[0]["range"] == "bytes=0-65535"
    assert store.read_head(key, 1) == data[:1]
    assert gets[-1]["Range"] == "bytes=0-0"
    assert store.read_head(key, len(data)) == data
    assert store.read_head(key, 10 * len(data)) == data  # a range past the end: the whole object
    assert store.read_head("datasets/x/1.0.0/small.csv", 64) == b"a,b\r\n1,2\r\n"
    assert store.read_head("datasets/x/1.0.0/empty.csv", 64) == b""  # 416 for an empty object
    assert store.read_head("datasets/x/1.0.0/missing.csv", 64) is None
    assert all("Range" in g for g in gets)
    for size in (0, -5):
        with pytest.raises(ValueError, match="max_bytes"):
            store.read_head(key, size)
    with pytest.raises(ValueError, match="invalid store key"):
        store.read_head("../outside", 64)


def test_read_head_of_a_large_object_transfers_only_its_start(
    store: S3Store, tmp_path: Path
) -> None:
    path = tmp_path / "large.csv"
    write_random_file(path, 20 * MiB)
    key = "datasets/x/1.0.0/large.csv"
    assert store.create_file(key, path) is True
    with path.open("rb") as stream:
        start = stream.read(64 * 1024)
    tracemalloc.start()
    try:
        head = store.read_head(key, 64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert head == start
    assert peak < 2 * MiB, f"peak memory {peak / MiB:.1f} MiB for the head of a 20 MiB object"


def test_read_head_of_a_missing_bucket_is_an_error(aws_env: S3Server) -> None:
    store = S3Store("no-such-bucket-here", PREFIX)
    with pytest.raises(StoreError, match="NoSuchBucket"):
        store.read_head("catalog.json", 64)


def test_a_small_file_is_one_put(store: S3Store, tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_bytes(b"a\n" * 1000)
    puts, parts = calls_to(store, "PutObject"), calls_to(store, "UploadPart")
    assert store.create_file("datasets/x/1.0.0/small.csv", path) is True
    assert store.create_file("datasets/x/1.0.0/small.csv", path) is False
    assert (len(puts), len(parts)) == (2, 0)
    assert store.read_bytes("datasets/x/1.0.0/small.csv") == path.read_bytes()


def test_a_large_file_goes_up_as_a_parallel_multipart_upload(
    store: S3Store, aws_env: S3Server, bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "large.csv"
    size = 40 * MiB + 12345
    expected = write_random_file(path, size)
    key = "datasets/x/1.0.0/large.csv"
    parts = calls_to(store, "UploadPart")
    part_headers = headers_of(store, "UploadPart")
    completes = calls_to(store, "CompleteMultipartUpload")

    assert store.create_file(key, path) is True

    # 40 MiB in 8 MiB parts, sent from several threads, each with its own SHA-256.
    assert len(parts) == 6
    assert sorted(p["PartNumber"] for p in parts) == [1, 2, 3, 4, 5, 6]
    assert len({p["thread"] for p in parts}) > 1
    assert all(h.get("x-amz-checksum-sha256") for h in part_headers)
    assert completes[0]["IfNoneMatch"] == "*"

    head = raw_client(aws_env).head_object(Bucket=bucket, Key=f"{PREFIX}/{key}")
    assert head["ContentLength"] == size
    assert head["ETag"].endswith('-6"')
    assert (head["ContentType"], head["CacheControl"]) == ("text/csv; charset=utf-8", IMMUTABLE)
    assert stored_sha256(aws_env, bucket, f"{PREFIX}/{key}") == expected

    # A re-run finds it there with the same bytes: nothing is uploaded again.
    assert store.create_file(key, path) is False
    assert len(parts) == 6
    assert raw_client(aws_env).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    # Never the whole file in memory: one part per thread at a time (here 2 × 5 MiB of 40 MiB).
    lean = S3Store(bucket, PREFIX, upload_threads=2, part_size=5 * MiB)
    tracemalloc.start()
    try:
        assert lean.create_file("datasets/x/1.0.0/again.csv", path) is True
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 5 * MiB, f"peak memory {peak / MiB:.1f} MiB for a {size / MiB:.1f} MiB file"
    assert stored_sha256(aws_env, bucket, f"{PREFIX}/datasets/x/1.0.0/again.csv") == expected


def test_the_server_verifies_each_parts_checksum(aws_env: S3Server, bucket: str) -> None:
    client = raw_client(aws_env)
    upload = client.create_multipart_upload(Bucket=bucket, Key="part", ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as refused:
        client.upload_part(
            Bucket=bucket,
            Key="part",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"tampered",
            ChecksumSHA256=sha256_b64(b"original"),
        )
    assert refused.value.response["Error"]["Code"] == "BadDigest"
    client.abort_multipart_upload(Bucket=bucket, Key="part", UploadId=upload["UploadId"])


def test_a_large_file_never_overwrites_other_bytes(
    aws_env: S3Server, bucket: str, tmp_path: Path
) -> None:
    store = S3Store(bucket, PREFIX, multipart_threshold=5 * MiB, part_size=5 * MiB)
    first, other = tmp_path / "first.bin", tmp_path / "other.bin"
    write_random_file(first, 12 * MiB, seed=1)
    write_random_file(other, 12 * MiB, seed=2)
    key = "datasets/x/1.0.0/blob.bin"
    assert store.create_file(key, first) is True
    with pytest.raises(ConflictError, match="never overwritten"):
        store.create_file(key, other)
    assert (
        stored_sha256(aws_env, bucket, f"{PREFIX}/{key}")
        == hashlib.sha256(first.read_bytes()).hexdigest()
    )


def test_completing_a_multipart_upload_never_overwrites(
    aws_env: S3Server, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the HEAD check cannot see: the object appears while the parts are uploading.

    CompleteMultipartUpload carries If-None-Match: * and the server refuses it; the upload is
    aborted, and the outcome is decided by comparing bytes, as for `create`.
    """
    store = S3Store(bucket, PREFIX, multipart_threshold=5 * MiB, part_size=5 * MiB)
    path = tmp_path / "blob.bin"
    write_random_file(path, 11 * MiB)
    real_head = store._head
    heads: list[str] = []

    def head_misses_the_first_time(key: str) -> dict[str, Any] | None:
        heads.append(key)
        return None if len(heads) == 1 else real_head(key)

    monkeypatch.setattr(store, "_head", head_misses_the_first_time)

    key = "datasets/x/1.0.0/other.bin"
    store.create(key, b"someone else's bytes")
    with pytest.raises(ConflictError, match="never overwritten"):
        store.create_file(key, path)
    assert store.read_bytes(key) == b"someone else's bytes"

    key = "datasets/x/1.0.0/same.bin"
    heads.clear()
    S3Store(bucket, PREFIX, multipart_threshold=5 * MiB, part_size=5 * MiB).create_file(key, path)
    assert store.create_file(key, path) is False
    assert raw_client(aws_env).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "code"),
    [
        ("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123", "SignatureDoesNotMatch"),
        ("AWS_ACCESS_KEY_ID", "AKIAWRONGKEY00000000", "InvalidAccessKeyId"),
    ],
)
def test_wrong_credentials_are_a_store_error_that_names_no_secret(
    bucket: str,
    aws_env: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    code: str,
) -> None:
    monkeypatch.setenv(variable, value)
    store = open_store(f"s3://{bucket}/{PREFIX}")
    for attempt in (
        lambda: store.read("catalog.json"),
        lambda: store.create("catalog.json", b"{}"),
        lambda: store.replace("catalog.json", b"{}", None),
        lambda: store.list("datasets"),
    ):
        with pytest.raises(StoreError) as failed:
            attempt()
        assert not isinstance(failed.value, TransientStoreError | ConflictError)
        message = str(failed.value)
        assert code in message and bucket in message
        for secret in (value, aws_env.secret_key, aws_env.access_key):
            assert secret not in message


def test_missing_credentials_are_a_configuration_error(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_store(f"s3://{bucket}/{PREFIX}")  # the metadata service is off (aws_env)
    with pytest.raises(ConfigError, match="no complete S3 credentials") as failed:
        store.read("catalog.json")
    assert failed.value.exit_code == 2


def test_a_missing_bucket_is_an_error_not_a_missing_object(aws_env: S3Server) -> None:
    store = open_store("s3://no-such-bucket-here/x")
    with pytest.raises(StoreError, match="NoSuchBucket") as failed:
        store.read("catalog.json")
    assert not isinstance(failed.value, TransientStoreError)
    assert "no-such-bucket-here" in str(failed.value)


def test_an_unreachable_server_is_transient(
    aws_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    store = open_store("s3://some-bucket/x")
    for attempt in (
        lambda: store.read("catalog.json"),
        lambda: store.create("catalog.json", b"{}"),
        lambda: store.list(""),
    ):
        with pytest.raises(TransientStoreError) as failed:
            attempt()
        message = str(failed.value)
        assert "some-bucket" in message and str(closed_port) in message
        assert aws_env.secret_key not in message and aws_env.access_key not in message


def offline_client() -> Any:
    """A client for botocore's Stubber: its answers are canned, nothing goes on the network."""
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIAOFFLINE000000000",
        aws_secret_access_key="offline-secret",
    )


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (503, "SlowDown", True),
        (500, "InternalError", True),
        (400, "RequestTimeout", True),
        (429, "TooManyRequests", True),
        (502, "BadGateway", True),
        (504, "GatewayTimeout", True),
        (403, "AccessDenied", False),
        (400, "InvalidArgument", False),
    ],
)
def test_server_errors_are_transient_client_errors_are_not(
    status: int, code: str, transient: bool
) -> None:
    store = S3Store("bucket", "p", client=offline_client())
    with Stubber(store.client) as stub:
        stub.add_client_error("get_object", code, "the message", status)
        with pytest.raises(StoreError) as failed:
            store.read("catalog.json")
    assert isinstance(failed.value, TransientStoreError) is transient
    assert code in str(failed.value) and "s3://bucket/p" in str(failed.value)


def test_a_conditional_write_conflict_409_is_a_conflict() -> None:
    """AWS answers 409 ConditionalRequestConflict when another conditional write was racing."""
    store = S3Store("bucket", "p", client=offline_client())
    with Stubber(store.client) as stub:
        stub.add_client_error("put_object", "ConditionalRequestConflict", "racing", 409)
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(b"theirs"), 6), "ETag": '"theirs"'},
            {"Bucket": "bucket", "Key": "p/datasets/x/versions.json"},
        )
        with pytest.raises(ConflictError, match="ConditionalRequestConflict"):
            store.replace("datasets/x/versions.json", b"ours", '"before"')


def test_read_head_of_a_server_that_ignores_the_range_reads_no_further() -> None:
    """A server may answer a ranged GET with 200 and the whole object: we read max_bytes only."""

    class Body(io.BytesIO):
        taken = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            self.taken += len(chunk)
            return chunk

    store = S3Store("bucket", "p", client=offline_client())
    body = Body(b"x" * (4 * MiB))
    with Stubber(store.client) as stub:
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(body, 4 * MiB), "ETag": '"e"', "ContentLength": 4 * MiB},
            {"Bucket": "bucket", "Key": "p/datasets/x/1.0.0/t.csv", "Range": "bytes=0-99"},
        )
        assert store.read_head("datasets/x/1.0.0/t.csv", 100) == b"x" * 100
    assert body.taken == 100
    assert body.closed  # the connection is not left with the rest of the object


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (416, "InvalidRange", b""),
        (404, "NoSuchKey", None),
    ],
)
def test_read_head_answers(status: int, code: str, expected: bytes | None) -> None:
    store = S3Store("bucket", "p", client=offline_client())
    with Stubber(store.client) as stub:
        stub.add_client_error("get_object", code, "the message", status)
        assert store.read_head("datasets/x/1.0.0/t.csv", 64) == expected


def test_read_head_errors_are_store_errors() -> None:
    store = S3Store("bucket", "p", client=offline_client())
    with Stubber(store.client) as stub:
        stub.add_client_error("get_object", "SlowDown", "busy", 503)
        stub.add_client_error("get_object", "AccessDenied", "no", 403)
        with pytest.raises(TransientStoreError, match=r"cannot read datasets/x/t\.csv"):
            store.read_head("datasets/x/t.csv", 64)
        with pytest.raises(StoreError, match="AccessDenied") as denied:
            store.read_head("datasets/x/t.csv", 64)
    assert not isinstance(denied.value, TransientStoreError)


# -- end to end ---------------------------------------------------------------------------------


def test_publishing_to_s3_gives_the_same_files_as_a_folder(
    store: S3Store, aws_env: S3Server, bucket: str, tmp_path: Path
) -> None:
    settings = load_settings(home=FIXTURE_HOME)
    local = LocalStore(tmp_path / "public")
    base = "https://data.example.org/"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for name in ("avfallsplan", "handlingsplan"):
        package = require_valid(prepare(settings, name))
        for target in (store, local):
            outcome = publish_package(target, package, base, now=now)
            assert (outcome.status, outcome.version) == ("published", "1.0.0")
    rebuild_catalog(store, base)
    rebuild_catalog(local, base)
    keys = local.list("")
    assert store.list("") == keys
    assert "datasets/avfallsplan/1.0.0/datapackage.json" in keys
    for key in keys:
        if key != LISTINGS:  # it records the store's own ETag of catalog.json
            assert store.read_bytes(key) == local.read_bytes(key), key

    puts = calls_to(store, "PutObject")
    package = require_valid(prepare(settings, "avfallsplan"))
    assert publish_package(store, package, base).status == "unchanged"
    assert puts == []


def test_the_catalog_on_s3_previews_from_ranged_reads_only(
    store: S3Store, aws_env: S3Server, tmp_path: Path
) -> None:
    """The dataset page's preview of a large CSV on S3: a ranged GET, never the whole object;
    and the derived files (with Parquet listed) are the same as from a folder."""
    base = "https://data.example.org/"
    local = LocalStore(tmp_path / "public")
    version = Version("1.0.0", "2024-03-01T05:00:12Z", big_tables(20_000), parquet=True)
    for target in (store, local):
        write_dataset(target, "prov", [version], base)
    size = len(version.files["varden.csv"])
    assert size > 20 * PREVIEW_BYTES
    gets = calls_to(store, "GetObject")
    rebuild_catalog(store, base)
    rebuild_catalog(local, base)
    data_files = {
        f"{PREFIX}/datasets/prov/{folder}/{table}.{suffix}"
        for folder in ("1.0.0", "latest")
        for table in ("kommuner", "varden")
        for suffix in ("csv", "json", "parquet")
    }
    whole = [g["Key"] for g in gets if "Range" not in g]
    assert not data_files & set(whole), "a data file was read whole"
    ranged = sorted((g["Key"], g["Range"]) for g in gets if "Range" in g)
    assert ranged == [
        (f"{PREFIX}/datasets/prov/1.0.0/{table}.csv", f"bytes=0-{PREVIEW_BYTES - 1}")
        for table in ("kommuner", "varden")
    ]
    for key in local.list(""):
        if key != LISTINGS:  # it records the store's own ETag of catalog.json
            assert store.read_bytes(key) == local.read_bytes(key), key
    page = (store.read_bytes("datasets/prov/index.html") or b"").decode()
    assert "de första 10 av 20000 raderna" in page
    assert 'href="1.0.0/varden.parquet"' in page
    head = raw_client(aws_env).head_object(
        Bucket=store.bucket, Key=f"{PREFIX}/datasets/prov/1.0.0/varden.parquet"
    )
    assert head["ContentType"] == "application/vnd.apache.parquet"


def test_folders_holding_names_the_datasets_of_a_store(store: S3Store) -> None:
    """The datasets are the folders of `datasets` with a versions.json (not deeper, not a
    folder beside it whose name starts the same)."""
    for key in (
        "datasets/b/versions.json",
        "datasets/a/versions.json",
        "datasets/a/1.0.0/versions.json",
        "datasets/c/1.0.0/data.csv",
        "datasets-extra/d/versions.json",
    ):
        store.create(key, b"{}")
    assert store.folders_holding("datasets", "versions.json") == ["a", "b"]
    assert store.folders_holding("nothing-here", "versions.json") == []
