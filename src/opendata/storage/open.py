"""Choosing the store implementation from its URL, and checking a store's settings up front.

`check_store_url` is cheap (no network, no boto3) and runs on every `open_store`; `check_store`
adds what needs boto3 (S3 credentials) and runs once, before a publish starts any work, so a
wrong setting is a configuration error (exit 2) that says what to set, not a failure halfway.
Messages never echo a secret: a store URL is printed through `redact_url`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from opendata.config import has_credentials, redact_url, url_problem
from opendata.errors import ConfigError
from opendata.storage.base import Store, check_key
from opendata.storage.local import LocalStore

# Amazon's rules for general purpose bucket names:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
CREDENTIALS_HINT = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"


def bucket_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 bucket name, or None."""
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not BUCKET_CHARS.match(name):
        return (
            "may hold only lowercase letters, digits, dots and hyphens, and must begin and end "
            "with a letter or digit"
        )
    if ".." in name:
        return "must not have two dots in a row"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must not look like an IP address"
    if name.startswith(BUCKET_PREFIXES) or name.endswith(BUCKET_SUFFIXES):
        return "uses a prefix or suffix that S3 reserves"
    return None


def s3_endpoint() -> tuple[str, str] | None:
    """The custom S3 endpoint boto3 will use and the variable it comes from (None: AWS)."""
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    for variable in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if os.environ.get(variable):
            return os.environ[variable], variable
    return None


def check_store_url(url: str, read_only: bool = False) -> None:
    """Refuse a store URL (and for s3://, an endpoint) that cannot work, before any I/O.

    An http(s) URL is a published site, which the commands that only read (`read_only`:
    history, diff, list) read over HTTP; any other command is refused it."""
    if has_credentials(url):
        # Never echo it: the part before '@' would be a secret.
        raise ConfigError(
            f"{redact_url(url)}: credentials do not belong in the store URL; {CREDENTIALS_HINT}"
        )
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        from opendata.storage.http import READ_ONLY

        if not read_only:
            raise ConfigError(f"OPENDATA_STORE={url} {READ_ONLY}")
        problem = url_problem(url)
        if problem:
            raise ConfigError(f"OPENDATA_STORE={url} {problem}")
        return
    if parsed.scheme in ("", "file"):
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise ConfigError(
                f"OPENDATA_STORE={url}: a file:// URL names a folder on this machine "
                "(file:///path/to/folder), not a host"
            )
        return
    if parsed.scheme != "s3":
        raise ConfigError(
            f"OPENDATA_STORE={url}: unsupported store URL; use a folder path, file:// or "
            "s3://bucket/prefix (or, to read a published site, its http(s):// address)"
        )
    if parsed.query or parsed.fragment or parsed.params:
        raise ConfigError(f"OPENDATA_STORE={url}: an s3:// store URL has no query or fragment")
    if not parsed.netloc:
        raise ConfigError(f"OPENDATA_STORE={url}: the S3 bucket is missing (s3://bucket/prefix)")
    problem = bucket_problem(parsed.netloc)
    if problem:
        raise ConfigError(f"OPENDATA_STORE={url}: the S3 bucket name {parsed.netloc!r} {problem}")
    prefix = parsed.path.strip("/")
    if prefix:
        try:
            check_key(prefix)
        except ValueError:
            raise ConfigError(
                f"OPENDATA_STORE={url}: invalid key prefix {prefix!r} (plain path segments, "
                "no '.', '..' or empty ones)"
            ) from None
    endpoint = s3_endpoint()
    if endpoint:
        value, variable = endpoint
        problem = url_problem(value)
        if problem:
            raise ConfigError(
                f"{variable}={redact_url(value)!r} {problem}; set it to the S3 server's address, "
                "e.g. http://127.0.0.1:8333 (or unset it for AWS S3)"
            )


def check_store(url: str) -> None:
    """Everything `check_store_url` checks (for a store to write to: no http(s) URL) and, for
    s3://, that credentials are configured.

    The credentials are looked up as boto3 will (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
    AWS_PROFILE and ~/.aws, container or instance roles), only to see that some exist.
    """
    check_store_url(url)
    if urlparse(url).scheme != "s3":
        return
    from botocore.exceptions import BotoCoreError, PartialCredentialsError, ProfileNotFound

    from opendata.storage.s3 import new_session

    try:
        credentials = new_session().get_credentials()
    except ProfileNotFound:
        profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        raise ConfigError(
            f"AWS_PROFILE={profile}: no such profile in ~/.aws/config or ~/.aws/credentials; "
            "set AWS_PROFILE to a profile that exists, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        ) from None
    except PartialCredentialsError as error:
        provider = error.kwargs.get("provider")
        where = "in the environment" if provider == "env" else f"from {provider}"
        raise ConfigError(
            f"incomplete S3 credentials for {redact_url(url)}: {error.kwargs.get('cred_var')} "
            f"is missing {where}; {CREDENTIALS_HINT}"
        ) from None
    except BotoCoreError as error:
        raise ConfigError(
            f"cannot read the S3 credentials for {redact_url(url)} ({type(error).__name__}); "
            f"{CREDENTIALS_HINT}"
        ) from None
    if credentials is None:
        raise ConfigError(
            f"no complete S3 credentials found for {redact_url(url)} ({CREDENTIALS_HINT})"
        )


def open_store(url: str, read_only: bool = False) -> Store:
    """A folder path or file:// URL gives a LocalStore; s3:// is the object-storage store; an
    http(s) URL, for the commands that only read (`read_only`), the published site read over
    HTTP (anything else refuses it: ConfigError)."""
    check_store_url(url, read_only)
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        from opendata.storage.http import HttpStore

        return HttpStore(url)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url)
        return LocalStore(path.expanduser().resolve())
    # Imported here: boto3 takes a while to load and only S3 stores need it.
    from opendata.storage.s3 import S3Store

    return S3Store.from_url(url)


def setup_bucket(url: str, public: bool = True) -> list[str]:
    """Create an s3:// store's bucket if needed and, when `public`, let anyone read what the
    site publishes; returns what was done, a line each. Any other store has no bucket to set
    up: a ConfigError says so (without echoing anything secret)."""
    store = open_store(url) if urlparse(url).scheme == "s3" else None
    from opendata.storage.s3 import S3Store

    if not isinstance(store, S3Store):
        raise ConfigError(
            f"setup-bucket is for an s3:// store; OPENDATA_STORE is {redact_url(url)}"
        )
    return store.ensure_bucket(public=public)
