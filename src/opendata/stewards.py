"""Stewards: who may deliver files for which datasets, and how they prove who they are.

The registry lives in the store's private area (`_private/stewards.json`, never in the
repository and never served), so the delivery app, the workers and `opendata steward` read the
same one wherever the store is. It keeps only hashes: an access token and a password are
hashed with Argon2id (argon2-cffi, the OWASP recommendation), so a copy of the registry gives
nobody a way in. A token is `odt_<token id>_<secret>`: the id finds the steward without trying
every hash, the secret (256 random bits) is what the hash checks.

Like versions.json, the file carries a `format` number and is replaced with a compare-and-swap,
so two administrators adding stewards at once both get their change in.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opendata.contention import PATIENCE
from opendata.errors import ConfigError, LostRace, StoreError
from opendata.layout import STEWARDS
from opendata.storage import Store

STEWARDS_FORMAT = 1
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TOKEN = re.compile(r"^odt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 hashes any length; a megabyte "password" is a denial of service

_HASHER = PasswordHasher()


class Steward(BaseModel):
    """One steward as stored: names, the datasets they hold, and hashes only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    organisation: str
    datasets: list[str]
    token_id: str
    token_hash: str
    password_hash: str | None = None
    created: str
    updated: str

    def holds(self, dataset: str) -> bool:
        return dataset in self.datasets


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = STEWARDS_FORMAT
    stewards: list[Steward] = Field(default_factory=list)

    def get(self, name: str) -> Steward | None:
        return next((s for s in self.stewards if s.name == name), None)


Role = Literal["token", "password"]


def now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ConfigError(
            f"{name[:80]!r} is not a steward name: use lower-case letters, digits, '.', '_' "
            "and '-' (at most 63), e.g. anna.svensson"
        )
    return name


def read_registry(store: Store) -> tuple[Registry, str | None]:
    """The registry and its ETag (an empty registry and None when there is none yet)."""
    found = store.read(STEWARDS)
    if found is None:
        return Registry(), None
    try:
        record = json.loads(found[0])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StoreError(f"{STEWARDS} in {store.url} is not JSON ({error})") from None
    stored = record.get("format") if isinstance(record, dict) else None
    if isinstance(stored, int) and stored > STEWARDS_FORMAT:
        raise StoreError(
            f"{STEWARDS} in {store.url}: written by a newer opendata (format {stored}); "
            "upgrade opendata"
        )
    try:
        return Registry.model_validate(record), found[1]
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StoreError(f"{STEWARDS} in {store.url} is corrupt: {where}: {first['msg']}") from None


def update_registry(store: Store, change: Callable[[Registry], Registry]) -> Registry:
    """Apply `change` with a compare-and-swap, reading again after a lost race."""
    for _ in PATIENCE.attempts():
        registry, etag = read_registry(store)
        changed = change(registry)
        data = json.dumps(changed.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
        try:
            store.replace(STEWARDS, data.encode("utf-8"), etag)
        except LostRace:
            continue
        return changed
    raise StoreError(f"{STEWARDS} kept changing while we were updating it")


def new_token() -> tuple[str, str, str]:
    """A new token: (token, its id, the Argon2 hash of its secret)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"odt_{token_id}_{secret}", token_id, _HASHER.hash(secret)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise ConfigError(f"the password must be at most {MAX_PASSWORD} characters long")
    return password


def add_steward(
    store: Store,
    name: str,
    organisation: str,
    datasets: Iterable[str],
    password: str | None = None,
) -> tuple[Steward, str]:
    """Create or update a steward; returns it and its new token (shown once, never stored)."""
    check_name(name)
    organisation = " ".join(organisation.split())
    if not organisation:
        raise ConfigError("--organisation: give the steward's organisation, e.g. 'Borås stad'")
    held = list(dict.fromkeys(d.strip() for d in datasets if d.strip()))
    password_hash = _HASHER.hash(check_password(password)) if password is not None else None
    token, token_id, token_hash = new_token()
    when = now_text()

    def change(registry: Registry) -> Registry:
        old = registry.get(name)
        steward = Steward(
            name=name,
            organisation=organisation,
            datasets=held,
            token_id=token_id,
            token_hash=token_hash,
            password_hash=password_hash or (old.password_hash if old else None),
            created=old.created if old else when,
            updated=when,
        )
        others = [s for s in registry.stewards if s.name != name]
        return Registry(stewards=sorted([*others, steward], key=lambda s: s.name))

    registry = update_registry(store, change)
    found = registry.get(name)
    assert found is not None
    return found, token


def remove_steward(store: Store, name: str) -> bool:
    """Remove a steward (their token and password stop working at once); False if unknown."""
    removed: list[bool] = []

    def change(registry: Registry) -> Registry:
        removed[:] = [registry.get(name) is not None]
        return Registry(stewards=[s for s in registry.stewards if s.name != name])

    update_registry(store, change)
    return removed[0]


def _verify(stored_hash: str, secret: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash to verify against when the name or token id is unknown, so that a wrong name takes as
# long as a wrong password (no way to find out which stewards exist by timing).
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def steward_for_token(registry: Registry, token: str) -> Steward | None:
    """The steward whose token this is, or None."""
    match = TOKEN.match(token.strip())
    if match is None:
        return None
    token_id, secret = match.groups()
    steward = next((s for s in registry.stewards if s.token_id == token_id), None)
    if steward is None:
        _verify(_DUMMY_HASH, secret)
        return None
    return steward if _verify(steward.token_hash, secret) else None


def steward_for_password(registry: Registry, name: str, password: str) -> Steward | None:
    """The steward signing in with this name and password, or None."""
    if len(password) > MAX_PASSWORD:
        return None
    steward = registry.get(name.strip().lower())
    if steward is None or steward.password_hash is None:
        _verify(_DUMMY_HASH, password)
        return None
    return steward if _verify(steward.password_hash, password) else None
