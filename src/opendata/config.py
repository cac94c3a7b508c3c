"""Typed settings from the environment (prefix OPENDATA_), with errors a steward can act on."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opendata.errors import ConfigError

DEFAULT_BASE_URL = "http://localhost:8000/"


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

    @field_validator("base_url")
    @classmethod
    def _absolute_with_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("kolada_url", "pxweb_url", "trafa_url")
    @classmethod
    def _absolute_without_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

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
        problems = "; ".join(
            f"OPENDATA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
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
