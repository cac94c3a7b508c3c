"""The inbox: files a steward puts under `_inbox/<dataset>/` with any S3 client (their own key
may do nothing else), taken in as deliveries like the page's and the API's; and the access
policy that limits such a key to its inboxes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from pathlib import Path
from typing import Any

from opendata.definition_files import SLUG
from opendata.definitions import Dataset
from opendata.deliveries import INBOX_STEWARD, receive
from opendata.delivery_records import DeliveryRecord, DeliveryRefused, display_name, new_id
from opendata.errors import (
    ConfigError,
)
from opendata.layout import Deliveries
from opendata.storage import Store

log = logging.getLogger("opendata.deliveries")


# -- the inbox: a file put under `_inbox/<dataset>/` by any S3 client ----------------------------


def sweep_inbox(
    store: Store, datasets: dict[str, Dataset], scratch: Path
) -> tuple[list[DeliveryRecord], list[str]]:
    """Turn every file in the datasets' inboxes into a delivery, then remove it from the inbox
    (only once it is kept). Returns the new deliveries and what was refused (the file is moved
    to `_inbox/<dataset>/refused/` with a note beside it, so a machine's mistake is visible)."""
    new: list[DeliveryRecord] = []
    refused: list[str] = []
    for name, dataset in datasets.items():
        prefix = Deliveries.inbox(name)
        for key in store.list(prefix):
            relative = key[len(prefix) :]
            if relative.startswith("refused/") or "/" in relative:
                continue
            local = scratch / secrets.token_hex(8)
            try:
                if not store.download(key, local):
                    continue
                try:
                    record, created = receive(
                        store,
                        dataset,
                        local,
                        relative,
                        steward=INBOX_STEWARD,
                        organisation=f"S3-inkorgen {prefix}",
                        via="inbox",
                    )
                except DeliveryRefused as error:
                    refused.append(f"{key}: {error.message}")
                    store.create(
                        f"{prefix}refused/{new_id()}-{display_name(relative)}.txt",
                        error.message.encode(),
                    )
                    store.copy(key, f"{prefix}refused/{display_name(relative)}")
                else:
                    if created:
                        new.append(record)
                store.delete(key)
            finally:
                local.unlink(missing_ok=True)
    return new, refused


def copy_upload(stream: Any, target: Path, limit: int) -> tuple[int, str]:
    """Copy a file-like object to `target`, hashing it; DeliveryRefused(413) past `limit`."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise DeliveryRefused(413, f"the file is larger than {limit:,} bytes")
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


# -- the inbox's access policy: what a steward's own S3 key may do -------------------------------

INBOX_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
# A wildcard or a policy variable (`${aws:username}`) in a Resource would widen it.
_POLICY_UNSAFE = re.compile(r"[*?$\s]")


def inbox_policy(bucket: str, prefix: str, datasets: list[str]) -> dict[str, Any]:
    """The AWS IAM policy for one steward's own S3 key: put files (as one PUT or a multipart
    upload) into the inboxes of `datasets` below the store's `prefix`, and nothing else: no
    reading, no listing, no deleting, nothing in `_private/` or in what is published.

    Attach it to the steward's IAM user (`opendata steward policy NAME` prints it). ConfigError
    for a dataset that is not a dataset name, or a wildcard anywhere."""
    folder = prefix.strip("/")
    base = f"{folder}/" if folder else ""
    names = list(dict.fromkeys(datasets))
    if not names:
        raise ConfigError("an inbox policy needs at least one dataset")
    for name in names:
        if not SLUG.match(name):
            raise ConfigError(f"{name[:80]!r} is not a dataset name [a-z0-9-]")
    if not bucket or _POLICY_UNSAFE.search(bucket) or _POLICY_UNSAFE.search(base):
        raise ConfigError(
            f"s3://{bucket}/{folder}: a bucket or prefix with a wildcard, '$' or a space cannot "
            "be named exactly in a policy"
        )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OpendataInbox",
                "Effect": "Allow",
                "Action": list(INBOX_ACTIONS),
                "Resource": [
                    f"arn:aws:s3:::{bucket}/{base}{Deliveries.inbox(name)}*" for name in names
                ],
            }
        ],
    }
