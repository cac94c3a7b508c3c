"""A store in an S3 bucket (AWS S3 or any S3-compatible server), with conditional writes.

- `create` is a PutObject with `If-None-Match: *`: the server refuses to overwrite, atomically.
- `replace` is a PutObject with `If-Match: <etag>` (or `If-None-Match: *` when the caller read
  no object): a compare-and-swap done by the server, no lock needed.
- Every upload carries a SHA-256 checksum that the server verifies before storing anything.
- Large files (`create_file`) go up as a parallel multipart upload, one part per thread, each
  part hashed as it is read and sent with its own SHA-256; the upload is completed with
  `If-None-Match: *`, so it never overwrites either.

Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE
and ~/.aws, container or instance roles); the endpoint of an S3-compatible server from
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (boto3 reads both itself). ETags are the raw strings S3
returns, quotes included, the same in `read` and `replace`.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    FlexibleChecksumError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from opendata import layout, scratch
from opendata.errors import (
    ConfigError,
    ConflictError,
    LostRace,
    OpendataError,
    StoreError,
    TransientStoreError,
)
from opendata.storage.base import (
    Store,
    cache_control_for,
    check_head_size,
    check_key,
    content_type_for,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MiB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MiB  # files above this size go up as a multipart upload
PART_SIZE = 8 * MiB  # S3's minimum is 5 MiB (except for the last part)
MAX_PARTS = 10_000  # S3's maximum: the part size grows for files above ~78 GiB
UPLOAD_THREADS = 4
COMPARE_CHUNK = 1 * MiB

CONNECT_TIMEOUT = 10  # seconds
READ_TIMEOUT = 60  # seconds without a byte from the server, per request
MAX_ATTEMPTS = 2  # boto3's own attempts (one retry): the flow's task retries do the rest

# Errors that a later attempt may not meet: the server is busy, restarting or out of reach.
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
TRANSIENT_CODES = {
    "InternalError",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
}
# A conditional write that lost: the object exists (If-None-Match) or has another ETag (If-Match);
# 409 when another conditional write to the same key was in progress.
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")


def sha256_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def endpoint_from_environment() -> str | None:
    """The custom endpoint boto3 will use, from the environment (the service-specific first)."""
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


@cache
def _data_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def new_session() -> boto3.session.Session:
    """A fresh boto3 session (credentials and settings read from the environment now) that
    shares botocore's loader of service models and endpoints with every other: a session of
    its own would parse them again, a tenth of a second for each store opened."""
    core = botocore.session.Session()
    core.register_component("data_loader", _data_loader())
    return boto3.session.Session(botocore_session=core)


def make_client(endpoint_url: str | None = None, max_pool_connections: int = 10) -> S3Client:
    """A boto3 S3 client: standard credential chain, short timeouts, few retries.

    Path-style addressing (`endpoint/bucket/key`) when a custom endpoint is set: S3-compatible
    servers rarely have a DNS name per bucket. AWS itself keeps the default (virtual hosts).
    """
    endpoint = endpoint_url or endpoint_from_environment()
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    client: S3Client = new_session().client("s3", endpoint_url=endpoint_url, config=config)
    return client


class S3Store(Store):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        upload_threads: int = UPLOAD_THREADS,
    ) -> None:
        if not BUCKET_NAME.match(bucket):
            raise ConfigError(f"invalid S3 bucket name {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            try:
                check_key(prefix)
            except ValueError:
                raise ConfigError(f"invalid S3 key prefix {prefix!r}") from None
        if part_size < 5 * MiB:
            raise ConfigError("the S3 multipart part size must be at least 5 MiB")
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.upload_threads = max(1, upload_threads)
        self.client: S3Client = client or make_client(
            endpoint_url, max_pool_connections=max(10, self.upload_threads + 2)
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Store:
        """`s3://bucket` or `s3://bucket/some/prefix`."""
        parsed = urlparse(url)
        if parsed.scheme != "s3":
            raise ConfigError(f"not an S3 URL: {url}")
        if "@" in parsed.netloc:
            # Never echo it: the part before '@' would be a secret.
            raise ConfigError("credentials do not belong in an s3:// store URL; use AWS_* settings")
        if parsed.query or parsed.fragment or parsed.params:
            raise ConfigError(f"{url}: an s3:// store URL has no query or fragment")
        if not parsed.netloc:
            raise ConfigError(f"{url}: the S3 bucket is missing (s3://bucket/prefix)")
        return cls(parsed.netloc, parsed.path, **options)

    # -- setting up the bucket -----------------------------------------------------------------

    def public_read_policy(self) -> dict[str, Any]:
        """Anyone may GET what the site publishes (layout.PUBLIC_AREAS below the store's
        prefix), and nothing else: not the private area (`_private/`: the API cache, the run
        journal), and no listing of the bucket. An allow-list, so a new private area stays
        private."""
        base = f"arn:aws:s3:::{self.bucket}/{self.prefix + '/' if self.prefix else ''}"
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OpendataPublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": [f"{base}{area}" for area in layout.PUBLIC_AREAS],
                }
            ],
        }

    def ensure_bucket(self, public: bool = True) -> list[str]:
        """Create the bucket when it does not exist and, if `public`, give it the public-read
        policy; returns what was done, for the steward (`opendata setup-bucket`)."""
        done = []
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if _status(error) != 404 and _code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._error(error, "check the bucket", "/") from None
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as create_error:
                raise self._error(create_error, "create the bucket", "/") from None
            done.append(f"created the bucket {self.bucket}")
        except BotoCoreError as error:
            raise self._error(error, "check the bucket", "/") from None
        if public:
            policy = json.dumps(self.public_read_policy(), indent=2)
            try:
                self.client.put_bucket_policy(Bucket=self.bucket, Policy=policy)
            except (ClientError, BotoCoreError) as error:
                raise self._error(error, "set the bucket policy", "/") from None
            areas = ", ".join(layout.PUBLIC_AREAS)
            done.append(f"anyone may now read {areas} (not {layout.PRIVATE}/, no listing)")
        return done

    # -- the Store interface -------------------------------------------------------------------

    def read(self, key: str) -> tuple[bytes, str] | None:
        name = self._name(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
            data = response["Body"].read()
        except ClientError as error:
            if _is_missing(error):
                return None
            raise self._error(error, "read", key) from None
        except BotoCoreError as error:
            raise self._error(error, "read", key) from None
        return data, response["ETag"]

    def read_head(self, key: str, max_bytes: int) -> bytes | None:
        """The first `max_bytes` of the object: a GetObject with `Range: bytes=0-<max_bytes-1>`.

        An empty object answers that range with 416 InvalidRange: its head is b"". A server
        that ignores the range and sends the whole object is read no further than `max_bytes`.
        """
        check_head_size(max_bytes)
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._name(key), Range=f"bytes=0-{max_bytes - 1}"
            )
        except ClientError as error:
            if _is_missing(error):
                return None
            if _code(error) == "InvalidRange" or _status(error) == 416:
                return b""
            raise self._error(error, "read", key) from None
        except BotoCoreError as error:
            raise self._error(error, "read", key) from None
        body = response["Body"]
        try:
            return body.read(max_bytes)
        except BotoCoreError as error:
            raise self._error(error, "read", key) from None
        finally:
            body.close()

    def create(self, key: str, data: bytes) -> bool:
        if len(data) > self.multipart_threshold:
            # Large files go as a parallel multipart upload, which reads its parts from a file.
            with scratch.spool_file("upload") as spool:
                spool.write_bytes(data)
                return self.create_file(key, spool)
        name = self._name(key)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=data,
                IfNoneMatch="*",
                ContentType=content_type_for(key),
                CacheControl=cache_control_for(key),
                ChecksumSHA256=sha256_base64(data),
            )
        except ClientError as error:
            if _is_conflict(error):
                return self._already_there(key, lambda: _same_bytes(self.read(key), data))
            raise self._error(error, "write", key) from None
        except BotoCoreError as error:
            raise self._error(error, "write", key) from None
        return True

    def create_file(self, key: str, path: Path) -> bool:
        """`create` from a file: one PutObject up to the threshold, else a multipart upload."""
        name = self._name(key)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error.strerror}") from None
        if size <= self.multipart_threshold:
            try:
                data = path.read_bytes()
            except OSError as error:
                raise StoreError(f"cannot read {path}: {error.strerror}") from None
            return self.create(key, data)
        # A re-run after a crash finds the object already there: no need to upload it again.
        existing = self._head(key)
        if existing is not None:
            return self._already_there(key, lambda: self._same_as_file(key, path, existing))
        try:
            self._multipart_upload(key, name, path, size)
        except ClientError as error:
            if _is_conflict(error):
                return self._already_there(
                    key, lambda: self._same_as_file(key, path, self._head(key))
                )
            raise self._error(error, "write", key) from None
        except BotoCoreError as error:
            raise self._error(error, "write", key) from None
        return True

    def download(self, key: str, target: Path) -> bool:
        """The object streamed into `target` (ranged parts in parallel, never whole in memory)."""
        try:
            self.client.download_file(self.bucket, self._name(key), str(target))
        except ClientError as error:
            if _is_missing(error):
                return False
            raise self._error(error, "read", key) from None
        except BotoCoreError as error:
            raise self._error(error, "read", key) from None
        return True

    def replace(self, key: str, data: bytes, expected_etag: str | None) -> str:
        name = self._name(key)
        # The compare-and-swap: the server writes only if the object still has our ETag, or,
        # when we read none, if there is still no object.
        condition: dict[str, Any] = (
            {"IfNoneMatch": "*"} if expected_etag is None else {"IfMatch": expected_etag}
        )
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=data,
                ContentType=content_type_for(key),
                CacheControl=cache_control_for(key),
                ChecksumSHA256=sha256_base64(data),
                **condition,
            )
        except ClientError as error:
            # AWS answers If-Match on a deleted object with 404 NoSuchKey: also a lost race.
            if _is_conflict(error) or _code(error) == "NoSuchKey":
                return self._lost_race(key, data, _code(error))
            raise self._error(error, "write", key) from None
        except BotoCoreError as error:
            raise self._error(error, "write", key) from None
        etag = response.get("ETag")
        if etag is None:  # not every S3-compatible server answers a PUT with the ETag
            head = self._head(key)
            if head is None:
                raise TransientStoreError(f"{key} in {self.url} vanished right after our write")
            etag = str(head["ETag"])
        return etag

    def copy(self, source: str, target: str) -> None:
        """A server-side copy (no bytes through us), with the target's own Cache-Control."""
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._name(target),
                CopySource={"Bucket": self.bucket, "Key": self._name(source)},
                MetadataDirective="REPLACE",
                ContentType=content_type_for(target),
                CacheControl=cache_control_for(target),
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as error:
            raise self._error(error, "copy", source) from None
        except BotoCoreError as error:
            raise self._error(error, "copy", source) from None

    def list(self, prefix: str) -> list[str]:
        """Keys below the folder `prefix` (like LocalStore: `a` lists `a/...`, not `ab`)."""
        folder = prefix.strip("/")
        base = self._name(folder) if folder else self.prefix
        start = f"{base}/" if base else ""
        strip = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"]
                    # Folder markers and dot-files (LocalStore hides its temporary files too).
                    if name.endswith("/") or name.rsplit("/", 1)[-1].startswith("."):
                        continue
                    keys.append(name[len(strip) :])
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, "list", prefix or "/") from None
        return sorted(keys)

    def _unfinished_uploads(self, prefix: str) -> Sequence[tuple[str, str]]:
        """(key, upload id) of every multipart upload begun and never completed or aborted."""
        folder = prefix.strip("/")
        base = self._name(folder) if folder else self.prefix
        start = f"{base}/" if base else ""
        strip = f"{self.prefix}/" if self.prefix else ""
        found: builtins.list[tuple[str, str]] = []
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=start
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    found.append((upload["Key"][len(strip) :], upload["UploadId"]))
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, "list uploads", prefix or "/") from None
        return sorted(found)

    def leftovers(self, thorough: bool = True) -> Sequence[str]:
        uploads = self._unfinished_uploads("")
        return [f"{key} (multipart upload never completed)" for key, _ in uploads]

    def discard_unfinished(self, prefix: str) -> Sequence[str]:
        """Abort the multipart uploads below `prefix` (the caller holds its claim, so no live run
        is uploading there: those were begun by a killed run, or by our own failed attempt)."""
        removed: builtins.list[str] = []
        for key, upload_id in self._unfinished_uploads(prefix):
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._name(key), UploadId=upload_id
                )
            except ClientError as error:
                if _code(error) != "NoSuchUpload":
                    raise self._error(error, "abort upload", key) from None
            except BotoCoreError as error:
                raise self._error(error, "abort upload", key) from None
            removed.append(key)
        return removed

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, "delete", key) from None

    # -- helpers -------------------------------------------------------------------------------

    def _full(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _name(self, key: str) -> str:
        # check_key lets 'a//b' and 'a/./b' through (as LocalStore's paths they mean 'a/b'):
        # normalised the same way, so both stores name the same object.
        return self._full(PurePosixPath(check_key(key)).as_posix())

    def _lost_race(self, key: str, data: bytes, code: str) -> str:
        """After a refused replace: ConflictError, unless the object already holds `data`.

        The one exception covers boto3's retry of a write whose answer was lost on the way
        back (a timeout): the retry is refused because the first attempt went through. The
        object then holds exactly our bytes, which is what the caller asked for.
        """
        current = self.read(key)
        if current is not None and current[0] == data:
            return current[1]
        raise LostRace(
            f"{key} changed in {self.url} while we were publishing (S3 {code}); "
            "nothing was overwritten"
        )

    def _already_there(self, key: str, same: Callable[[], bool | None]) -> bool:
        """After a refused create: False if the object holds our bytes, else ConflictError."""
        verdict = same()
        if verdict is None:
            # Refused, yet nothing is there: another conditional write to it is in flight
            # (409) or the object was deleted meanwhile. A retry will settle it.
            raise TransientStoreError(
                f"{key} in {self.url}: a concurrent write to it is in progress; retry"
            )
        if verdict:
            return False
        raise ConflictError(
            f"{key} already exists in {self.url} with other content; "
            "published files are never overwritten"
        )

    def etag(self, key: str) -> str | None:
        head = self._head(key)
        return None if head is None else str(head["ETag"])

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _is_missing(error):
                return None
            raise self._error(error, "read", key) from None
        except BotoCoreError as error:
            raise self._error(error, "read", key) from None
        return dict(response)

    def _same_as_file(self, key: str, path: Path, head: dict[str, Any] | None) -> bool | None:
        """Whether the object holds the file's bytes, compared chunk by chunk while streaming."""
        if head is None:
            return None
        if head.get("ContentLength") != path.stat().st_size:
            return False
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
            with path.open("rb") as stream:
                for chunk in response["Body"].iter_chunks(COMPARE_CHUNK):
                    if stream.read(len(chunk)) != chunk:
                        response["Body"].close()
                        return False
                return stream.read(1) == b""
        except ClientError as error:
            if _is_missing(error):
                return None
            raise self._error(error, "read", key) from None
        except BotoCoreError as error:
            raise self._error(error, "read", key) from None

    def _part_size_for(self, size: int) -> int:
        part = self.part_size
        while -(-size // part) > MAX_PARTS:
            part *= 2
        return part

    def _multipart_upload(self, key: str, name: str, path: Path, size: int) -> None:
        """Upload `path` in parts from several threads, then complete with If-None-Match: *.

        Each thread reads only its own part (so at most `upload_threads` parts are in memory),
        hashes it and sends its SHA-256, which the server verifies. The server's checksum of the
        whole object (SHA-256 of the parts' digests) is checked against ours at the end.
        """
        part_size = self._part_size_for(size)
        offsets = list(range(0, size, part_size))
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket,
            Key=name,
            ContentType=content_type_for(key),
            CacheControl=cache_control_for(key),
            ChecksumAlgorithm="SHA256",
        )
        upload_id = upload["UploadId"]

        def send(number: int, offset: int) -> tuple[CompletedPartTypeDef, bytes]:
            with path.open("rb") as stream:
                stream.seek(offset)
                data = stream.read(min(part_size, size - offset))
            digest = hashlib.sha256(data).digest()
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
            )
            part: CompletedPartTypeDef = {
                "PartNumber": number,
                "ETag": response["ETag"],
                "ChecksumSHA256": base64.b64encode(digest).decode("ascii"),
            }
            return part, digest

        try:
            with ThreadPoolExecutor(self.upload_threads, thread_name_prefix="s3-part") as pool:
                futures = [
                    pool.submit(send, number, offset)
                    for number, offset in enumerate(offsets, start=1)
                ]
                try:
                    results = [future.result() for future in futures]
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
            completed = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": [part for part, _ in results]},
                ChecksumType="COMPOSITE",
                IfNoneMatch="*",
            )
        except BaseException:
            self._abort(name, upload_id)
            raise
        expected = sha256_base64(b"".join(digest for _, digest in results))
        returned = completed.get("ChecksumSHA256")
        if returned is not None and returned.split("-")[0] != expected:
            raise StoreError(
                f"{key} in {self.url}: the server's checksum of the upload ({returned}) differs "
                f"from ours ({expected}-{len(results)})"
            )

    def _abort(self, name: str, upload_id: str) -> None:
        """Best effort: a failed abort leaves parts that a bucket lifecycle rule cleans up."""
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)

    def _error(self, error: Exception, action: str, key: str) -> OpendataError:
        """A StoreError (TransientStoreError if a retry may help) naming bucket, key and code;
        a ConfigError (exit code 2) when no credentials are configured at all.

        Built from the error code, status and the server's message only, with anything that
        looks like an access key removed: never the credentials.
        """
        where = f"{key} in {self.url}" if key != "/" else self.url
        if isinstance(error, ClientError):
            code, status = _code(error), _status(error)
            message = str(error.response.get("Error", {}).get("Message", "")).strip()
            detail = f"S3 {code or 'error'} (HTTP {status})" + (f": {message}" if message else "")
            text = _scrub(f"cannot {action} {where}: {detail}", self.client)
            if status in TRANSIENT_STATUS or code in TRANSIENT_CODES:
                return TransientStoreError(text)
            return StoreError(text)
        if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
            return ConfigError(
                f"cannot {action} {where}: no complete S3 credentials found "
                "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            )
        endpoint = self.client.meta.endpoint_url
        kind = type(error).__name__
        if isinstance(error, (BotoConnectionError, HTTPClientError, FlexibleChecksumError)):
            return TransientStoreError(
                _scrub(f"cannot {action} {where}: {kind} talking to {endpoint}", self.client)
            )
        return StoreError(_scrub(f"cannot {action} {where}: {kind}: {error}", self.client))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _is_missing(error: ClientError) -> bool:
    """No such object (a missing bucket is an error: NoSuchBucket, also a 404)."""
    code = _code(error)
    return code in MISSING_CODES or (_status(error) == 404 and code != "NoSuchBucket")


def _is_conflict(error: ClientError) -> bool:
    return _code(error) in CONFLICT_CODES or _status(error) == 412


def _same_bytes(found: tuple[bytes, str] | None, data: bytes) -> bool | None:
    return None if found is None else found[0] == data


def _scrub(text: str, client: Any = None) -> str:
    """Remove anything shaped like an AWS access key id, and the credentials in use.

    Our messages are built from codes, keys and the server's short message only; this is the
    second line of defence, should a server ever echo a credential back.
    """
    secrets = [
        os.environ.get(name)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    ]
    # The client's own credentials (also those from a profile or a role); a private attribute
    # of botocore, hence the guarded look-up.
    credentials = getattr(getattr(client, "_request_signer", None), "_credentials", None)
    if credentials is not None:
        try:
            frozen = credentials.get_frozen_credentials()
            secrets += [frozen.access_key, frozen.secret_key, frozen.token]
        except Exception:  # refreshing role credentials may fail: the env ones still apply
            pass
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    return ACCESS_KEY_ID.sub("<access key>", text)
