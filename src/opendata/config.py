"""Typed settings from the environment (prefix OPENDATA_), with errors a steward can act on."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opendata.errors import ConfigError

DEFAULT_BASE_URL = "http://localhost:8000/"
# Datasets published at once when OPENDATA_PARALLEL is not set (fewer when the run has fewer).
DEFAULT_PARALLEL = 4
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def project_root() -> Path:
    """The repository root: where `datasets/`, `schemas/` and the default store live.

    OPENDATA_HOME overrides it, so an installed package (or a Prefect worker started elsewhere)
    still finds the definitions.
    """
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "datasets").is_dir() and (candidate / "schemas").is_dir():
            return candidate
    return here


class Settings(BaseSettings):
    """Everything the pipeline reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="OPENDATA_", extra="ignore")

    home: Path = Field(default_factory=project_root, description="repository root")
    store: str = Field(default="", description="folder, file:// URL or s3://bucket/prefix")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="public URL of the store root")
    kolada_url: str = Field(default="https://api.kolada.se/v3", description="Kolada API v3")
    pxweb_url: str = Field(
        default="https://api.scb.se/ov0104/v2beta/api/v2", description="SCB PxWeb API v2"
    )
    trafa_url: str = Field(default="https://api.trafa.se/api", description="Trafikanalys API")
    parallel: int | None = Field(
        default=None, description="datasets published at once (default: min(4, datasets))"
    )
    dask_address: str = Field(
        default="", description="scheduler of an existing Dask cluster the flow runs tasks on"
    )
    deliveries_max_bytes: int = Field(
        default=512 * 2**20, ge=1, description="the largest file the delivery app takes"
    )
    deliveries_trusted_proxies: str = Field(
        default="",
        description="addresses (or networks) of the single-sign-on proxy, comma-separated",
    )
    deliveries_identity_header: str = Field(
        default="", description="the header the trusted proxy names the signed-in person in"
    )
    deliveries_secure_cookies: bool = Field(
        default=False, description="session cookies only over HTTPS (behind a TLS proxy)"
    )
    inbox_interval: float = Field(
        default=30.0, gt=0, description="seconds between looks into the store's inbox"
    )

    @field_validator("deliveries_trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        from ipaddress import ip_network

        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ip_network(part, strict=False)
            except ValueError:
                raise ValueError(
                    f"{part[:60]!r} is not an IP address or network, e.g. 127.0.0.1 or 10.0.0.0/8"
                ) from None
        return value

    @property
    def trusted_proxies(self) -> list[str]:
        return [p.strip() for p in self.deliveries_trusted_proxies.split(",") if p.strip()]

    @field_validator("store")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        # Checked here, the first place a store URL is read, so that a secret given in it is
        # refused before anything is logged or handed to Prefect (never echoed back).
        if has_credentials(value):
            raise ValueError(
                f"{redact_url(value)}: credentials do not belong in the store URL; give them as "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute_with_slash(cls, value: str) -> str:
        problem = url_problem(value)
        if problem:
            raise ValueError(
                f"{redact_url(value)!r} {problem}; set it to the public http:// or https:// "
                "address where the store's root is served, e.g. https://data.example.se/"
            )
        return value if value.endswith("/") else value + "/"

    @field_validator("kolada_url", "pxweb_url", "trafa_url")
    @classmethod
    def _absolute_without_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("parallel", mode="before")
    @classmethod
    def _positive_count(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            raise ValueError(
                f"{text[:40]!r} is not a number of datasets to publish at once: give a whole "
                "number, 1 or more (1 publishes one after another), e.g. 4"
            )
        return int(text)

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str) -> str:
        value = value.strip()
        if value and dask_address_problem(value):
            raise ValueError(
                f"{redact_url(value)[:80]!r} {dask_address_problem(value)}; give the address of "
                "the Dask scheduler, e.g. tcp://10.0.0.5:8786, or leave it unset to publish "
                "with threads in the flow's process"
            )
        return value

    def parallel_for(self, datasets: int) -> int:
        """How many of `datasets` to publish at once: OPENDATA_PARALLEL, else min(4, datasets)."""
        return self.parallel or max(1, min(DEFAULT_PARALLEL, datasets))

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def schemas_dir(self) -> Path:
        return self.home / "schemas"

    @property
    def store_url(self) -> str:
        """The store to publish to; the embedded default is ./public in the repository."""
        return self.store or str(self.home / "public")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (command-line options) on top."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as error:
        # Only our messages, never pydantic's rendering of the input (it may hold a secret).
        problems = "; ".join(
            f"OPENDATA_{'_'.join(str(p) for p in e['loc']).upper()}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in error.errors()
        )
        raise ConfigError(f"Invalid configuration: {problems}") from None


def retry_backoff() -> float:
    """OPENDATA_RETRY_BACKOFF: seconds before the first retry of a store or API request.

    One reading for both the flow's I/O tasks and the API client, so a bad value is the same
    clear configuration error wherever it is used.
    """
    text = os.environ.get("OPENDATA_RETRY_BACKOFF", "2")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"OPENDATA_RETRY_BACKOFF={text!r}: must be a number of seconds") from None
    if value < 0:
        raise ConfigError(f"OPENDATA_RETRY_BACKOFF={text!r}: must not be negative")
    return value


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def has_credentials(url: str) -> bool:
    """Whether `url` carries a user or password (`scheme://key:secret@host/...`)."""
    if "://" not in url:
        return False
    parts = _split(url)
    return parts is None or "@" in parts.netloc


def redact_url(url: str) -> str:
    """`url` as it may be printed or logged: any user and password replaced by `***`."""
    if "://" not in url:
        return url
    parts = _split(url)
    if parts is None:
        return url.split("://", 1)[0] + "://***"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def url_problem(url: str) -> str | None:
    """What is wrong with an absolute http(s) URL (host, no credentials, no query), if anything."""
    if any(char.isspace() or ord(char) < 32 for char in url):
        return "contains whitespace or control characters"
    parts = _split(url)
    if parts is None or parts.scheme not in ("http", "https"):
        return "is not an absolute http:// or https:// URL"
    if "@" in parts.netloc:
        return "must not carry credentials"
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number in 0-65535)
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    if not parts.hostname:
        return "has no host name"
    if parts.query or parts.fragment:
        return "must not have a query (?…) or a fragment (#…)"
    return None


def dask_address_problem(address: str) -> str | None:
    """What is wrong with a Dask scheduler address (`[scheme://]host:port`), if anything."""
    if any(char.isspace() or ord(char) < 32 for char in address):
        return "contains whitespace or control characters"
    scheme, _, rest = address.rpartition("://")
    if scheme and scheme not in DASK_SCHEMES:
        return f"has the scheme {scheme!r}, not one of {', '.join(DASK_SCHEMES)}"
    if scheme == "inproc":
        return None
    host, _, port = rest.rpartition(":")
    if "@" in rest or "/" in rest.rstrip("/"):
        return "must be only a host and a port"
    if not host or not port.rstrip("/").isdigit() or not 0 < int(port.rstrip("/")) < 65536:
        return "is not host:port with a port from 1 to 65535"
    return None


def prefect_home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def prefect_api_url(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The Prefect API the `opendata` command talks to, and where it is set; None if none.

    The rule (a cheap reading of what Prefect itself does, without importing Prefect):

    1. `PREFECT_API_URL` in the environment decides, even when empty (empty = no API);
    2. otherwise the active profile in the profiles file: `PREFECT_PROFILES_PATH`, else
       `$PREFECT_HOME/profiles.toml` (PREFECT_HOME defaults to ~/.prefect); the active profile is
       `PREFECT_PROFILE`, else the file's `active`; its `PREFECT_API_URL`, if set.

    Prefect's other sources (`.env`, `prefect.toml`, `[tool.prefect]` in pyproject.toml) are
    not read: set the API in the environment or the profile (`prefect config set`).
    """
    env = os.environ if environ is None else environ
    if "PREFECT_API_URL" in env:
        value = env["PREFECT_API_URL"].strip()
        return (value, "set in the environment") if value else None
    path = (
        Path(env["PREFECT_PROFILES_PATH"]).expanduser()
        if env.get("PREFECT_PROFILES_PATH")
        else prefect_home(env) / "profiles.toml"
    )
    try:
        contents = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # No profiles file (a fresh home) or one Prefect could not read either: no API.
        return None
    profiles = contents.get("profiles")
    name = env.get("PREFECT_PROFILE") or contents.get("active")
    if not isinstance(profiles, dict) or not isinstance(name, str):
        return None
    profile = profiles.get(name)
    found = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    if not isinstance(found, str) or not found.strip():
        return None
    return found.strip(), f"set in the Prefect profile {name!r} of {path}"
