"""The stored state: each dataset's `versions.json` and the store's `catalog.json`, typed.

Both files outlive the code that wrote them: a store is published to for years, by whatever
release of opendata is installed. So, as dlt does for its versioned storage, each carries a
`format` integer, and every read goes through one function per file (`load_history`,
`load_catalog`) that

- accepts the current format;
- reads an older one by migrating it in memory, one format at a time (files from before formats
  existed have no `format` key: they are format 1); the next write stores the current format;
- refuses a newer format (StoreError: "written by a newer opendata (format N); upgrade
  opendata"), since an older release cannot know what a newer one meant;
- refuses anything that does not parse, or does not fit the model, naming the file and the
  field (StoreError, exit code 3): a misread pointer could publish over a version.

The models are strict on read (no extra keys, no coercion): every key a release writes is
declared here, so a key this code does not know is a file it must not rewrite.

- `History` (versions.json): the dataset's versions, each a `Claim` (a run's claim on a version
  number: `pending` while the run writes it, `abandoned` once a later run found the run dead) or
  a `Release` (`published`, or `withdrawn` with a tombstone's `withdrawn`, `reason` and
  `files_deleted`; since format 3 with the steward's `message`, why the version was made).
- `Catalog` (catalog.json): the public index every other derived file is built from. It is a
  JSON document that readers, the pages and the DCAT builder take as it is, so it is typed as
  TypedDicts (the same dicts, checked by mypy and validated on read).

`SemVer` is the one version-number type and `Status` the one type of a version's status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
    with_config,
)
from pydantic_core import core_schema
from typing_extensions import TypedDict  # pydantic needs its TypedDict on Python < 3.12

from opendata.errors import StoreError
from opendata.layout import CATALOG, versions_key
from opendata.liveness import Owner
from opendata.storage import Store

# The format each file is written in; raise it (and add a migration below) when a shape changes.
VERSIONS_FORMAT = 4
CATALOG_FORMAT = 4
# Files written before formats existed (no `format` key).
UNVERSIONED = 1

Bump = Literal["major", "minor", "patch"]
BUMP_ORDER: dict[Bump, int] = {"patch": 0, "minor": 1, "major": 2}


# -- version numbers ----------------------------------------------------------------------------


class InvalidVersion(ValueError):
    """A text that is not a version number MAJOR.MINOR.PATCH."""


_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", re.ASCII)


@dataclass(frozen=True, order=True, slots=True)
class SemVer:
    """A version number MAJOR.MINOR.PATCH (no pre-release or build part: we publish none).

    Ordered as the tuple (major, minor, patch); `str()` gives the text `parse` reads, and no
    two texts parse to one version (no leading zeros), so a version keeps its one spelling.
    """

    major: int
    minor: int
    patch: int

    def __post_init__(self) -> None:
        if min(self.major, self.minor, self.patch) < 0:
            raise InvalidVersion(f"{self.major}.{self.minor}.{self.patch}: parts must be >= 0")

    @classmethod
    def parse(cls, text: str) -> SemVer:
        found = _SEMVER.fullmatch(text) if isinstance(text, str) else None
        if found is None:
            raise InvalidVersion(f"{text!r} is not a version number MAJOR.MINOR.PATCH")
        major, minor, patch = (int(part) for part in found.groups())
        return cls(major, minor, patch)

    def bump(self, kind: Bump) -> SemVer:
        if kind == "major":
            return SemVer(self.major + 1, 0, 0)
        if kind == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        """Stored as its text: parsed on read (a bad one is a corrupt file), str() on write."""

        def validate(value: Any) -> SemVer:
            return value if isinstance(value, SemVer) else cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.to_string_ser_schema(when_used="json")
        )


FIRST_VERSION = SemVer(1, 0, 0)


def _check_version(text: str) -> str:
    SemVer.parse(text)
    return text


# A version number kept as text (catalog.json), checked on read.
VersionText = Annotated[str, AfterValidator(_check_version)]


# -- statuses -----------------------------------------------------------------------------------


class Status(StrEnum):
    """Where a version stands. Only `published` and `withdrawn` are listed in the catalog."""

    PENDING = "pending"  # claimed by a run that is writing its files
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"  # a tombstone: listed with the reason, no longer latest
    ABANDONED = "abandoned"  # a dead run's claim, displaced: its files are being removed


LISTED = frozenset({Status.PUBLISHED, Status.WITHDRAWN})
CLAIMED = frozenset({Status.PENDING, Status.ABANDONED})


def _check_timestamp(text: str) -> str:
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ValueError(f"{text!r} is not a UTC time like 2025-01-31T10:00:00Z") from None
    return text


def _check_sha256(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError(f"{text!r} is not a SHA-256 digest (64 hex digits)")
    return text


# Times as the pointers store them (whole seconds, UTC, `Z`), kept as that text.
Timestamp = Annotated[str, AfterValidator(_check_timestamp)]
Sha256 = Annotated[str, AfterValidator(_check_sha256)]
Count = Annotated[int, Field(ge=0)]


# -- versions.json ------------------------------------------------------------------------------


class _Record(BaseModel):
    """A stored record: no unknown keys; optional keys in `omitted` are left out when unset, so
    the bytes written are those the dicts before these models gave."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    omitted: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        record = handler(self)
        for key in self.omitted:
            if isinstance(record, dict) and record.get(key) is None:
                record.pop(key, None)
        return record


class FileRecord(_Record):
    bytes: Count
    sha256: Sha256


class Claim(_Record):
    """A run's claim on a version number (written before any of the version's files)."""

    omitted = ("owner",)

    version: SemVer
    status: Literal[Status.PENDING, Status.ABANDONED]
    content_hash: str
    claimed: Timestamp
    owner: Owner | None = None  # claims from before owners were recorded have none


class Delivery(_Record):
    """A file a steward delivered that a version was made from (format 4): who, for which
    organisation, when, and the SHA-256 of the bytes kept in the store's private area."""

    id: str
    source: str  # the declared source path the file was read as
    file: str  # the file's name as the steward's computer called it (shown, never a path)
    steward: str
    organisation: str
    delivered: Timestamp
    sha256: Sha256


class Release(_Record):
    """A published version, or the tombstone of a withdrawn one."""

    omitted = ("message", "withdrawn", "reason", "files_deleted", "deliveries")

    version: SemVer
    status: Literal[Status.PUBLISHED, Status.WITHDRAWN]
    published: Timestamp
    content_hash: str
    datapackage: str
    bump: Bump | None  # None for the first version
    summary: str
    message: str | None = None  # the steward's word on why the version was made (format 3)
    rows: dict[str, Count]
    files: dict[str, FileRecord]
    withdrawn: Timestamp | None = None
    reason: str | None = None
    files_deleted: bool | None = None  # absent: False (the files are kept)
    deliveries: list[Delivery] | None = None  # the delivered files it was made from (format 4)

    @model_validator(mode="after")
    def _tombstone(self) -> Release:
        if self.status is Status.WITHDRAWN and (self.withdrawn is None or self.reason is None):
            raise ValueError("a withdrawn version needs `withdrawn` and `reason`")
        tombstone = (self.withdrawn, self.reason, self.files_deleted)
        if self.status is Status.PUBLISHED and tombstone != (None, None, None):
            raise ValueError("a published version has no `withdrawn`, `reason` or `files_deleted`")
        return self


VersionEntry = Annotated[Claim | Release, Field(discriminator="status")]


class History(_Record):
    """A dataset's versions.json: its versions in the order they were claimed, and `latest`,
    the newest published one (the stable `latest/` URLs point at it)."""

    format: int = VERSIONS_FORMAT
    dataset: str
    latest: SemVer | None
    versions: list[VersionEntry]

    @model_validator(mode="after")
    def _consistent(self) -> History:
        numbers = [entry.version for entry in self.versions]
        repeated = sorted({str(n) for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValueError(f"version {', '.join(repeated)} is listed more than once")
        if self.latest is not None and not any(
            entry.version == self.latest and entry.status is Status.PUBLISHED
            for entry in self.versions
        ):
            raise ValueError(f"latest {self.latest} is not a published version")
        return self

    @classmethod
    def empty(cls, name: str) -> History:
        return cls(dataset=name, latest=None, versions=[])

    def entry(self, version: SemVer | str) -> VersionEntry | None:
        """The entry of `version` (a number, or its text as a steward typed it)."""
        return next((v for v in self.versions if str(v.version) == str(version)), None)

    def listed(self) -> list[Release]:
        """The published and withdrawn versions, newest first (what the catalog lists)."""
        releases = [v for v in self.versions if isinstance(v, Release)]
        return sorted(releases, key=lambda v: v.version, reverse=True)

    def with_versions(self, versions: list[VersionEntry]) -> History:
        """This history with `versions`; `latest` follows them (the newest published)."""
        newest = newest_published(versions)
        return History(
            dataset=self.dataset,
            latest=newest.version if newest else None,
            versions=versions,
        )

    def dump(self) -> bytes:
        """The bytes of versions.json, always in the current format."""
        record = self.model_dump(mode="json")
        record["format"] = VERSIONS_FORMAT
        return _dump_json(record)


def newest_published(versions: Iterable[VersionEntry]) -> Release | None:
    live = [v for v in versions if v.status is Status.PUBLISHED and isinstance(v, Release)]
    return max(live, key=lambda v: v.version) if live else None


def claims(versions: Iterable[VersionEntry]) -> list[Claim]:
    return [v for v in versions if isinstance(v, Claim)]


def load_history(raw: bytes, name: str, where: str) -> History:
    """The one reader of versions.json: current format, migrated older one, or StoreError.

    `where` names the store in messages (its URL).
    """
    key = versions_key(name)
    record = _decode(raw, key, where)
    migrated = _migrate(record, key, where, VERSIONS_FORMAT, _VERSIONS_MIGRATIONS)
    try:
        history = History.model_validate_json(json.dumps(migrated), strict=True)
    except ValidationError as error:
        raise _corrupt(key, where, _describe(error)) from None
    if history.dataset != name:
        raise _corrupt(key, where, f"dataset is {history.dataset!r}, not {name!r}")
    return history


def read_history(store: Store, name: str) -> tuple[History, str | None]:
    """The dataset's versions pointer and its ETag (an empty history and None when nothing was
    claimed yet): what a compare-and-swap on versions.json starts from."""
    found = store.read(versions_key(name))
    if found is None:
        return History.empty(name), None
    return load_history(found[0], name, store.url), found[1]


# -- catalog.json -------------------------------------------------------------------------------

# Readers take catalog.json as the JSON it is (pages, DCAT, harvesters), so its records are
# TypedDicts. Their keys are declared in the order the catalog writes them: validation returns
# them in that order, so a catalog read and written again keeps its bytes.


@with_config(ConfigDict(extra="forbid"))
class CatalogFile(TypedDict):
    """A file of the latest version of a table, in one format."""

    name: str
    format: str
    mediatype: str
    bytes: Count
    sha256: Sha256
    url: str
    latest_url: str | None


@with_config(ConfigDict(extra="forbid"))
class CatalogResource(TypedDict):
    name: str
    title: str | None
    title_en: str | None
    description: str | None
    description_en: str | None
    schema: dict[str, Any]  # the Table Schema, as the descriptor has it
    rows: Count | None
    files: list[CatalogFile]


@with_config(ConfigDict(extra="forbid"))
class CatalogVersionFile(TypedDict):
    name: str
    url: str
    bytes: Count
    sha256: Sha256


@with_config(ConfigDict(extra="forbid"))
class CatalogDelivery(TypedDict):
    id: str
    source: str
    file: str
    steward: str
    organisation: str
    delivered: Timestamp
    sha256: Sha256


@with_config(ConfigDict(extra="forbid"))
class CatalogVersion(TypedDict):
    version: VersionText
    status: Literal[Status.PUBLISHED, Status.WITHDRAWN]
    published: Timestamp
    bump: Bump | None
    changes: str | None
    message: str | None  # the steward's word on why the version was made (format 3)
    rows: dict[str, Count]
    datapackage: str
    files: list[CatalogVersionFile]
    withdrawn: NotRequired[Timestamp | None]
    reason: NotRequired[str | None]
    files_deleted: NotRequired[bool]
    deliveries: NotRequired[list[CatalogDelivery]]  # format 4: the delivered files it came from


@with_config(ConfigDict(extra="forbid"))
class CatalogValidation(TypedDict):
    valid: bool
    url: str


@with_config(ConfigDict(extra="forbid"))
class CatalogEntry(TypedDict):
    """One dataset: the metadata of its latest version (of its newest tombstone when every
    version is withdrawn) and every listed version, newest first."""

    name: str
    title: str
    title_en: str | None
    description: str | None
    description_en: str | None
    themes: list[str]
    keywords: list[str]
    keywords_en: list[str]
    license: dict[str, Any]
    attribution: str | None
    publisher: str
    contact_point: dict[str, Any] | None
    accrual_periodicity: str | None
    temporal: dict[str, Any] | None
    spatial: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    landing_page: str
    issued: Timestamp | None
    modified: Timestamp | None
    latest: VersionText | None
    datapackage: str | None
    datapackage_bytes: Count | None
    datapackage_sha256: Sha256 | None
    formats: list[str]
    validation: CatalogValidation
    resources: list[CatalogResource]
    versions: list[CatalogVersion]


@with_config(ConfigDict(extra="forbid"))
class Catalog(TypedDict):
    format: int
    title: str
    title_en: str
    description: str
    description_en: str
    publisher: str
    homepage: str
    license: dict[str, Any]
    datasets: list[CatalogEntry]


_CATALOG = TypeAdapter(Catalog)


@dataclass(frozen=True)
class StoredCatalog:
    """catalog.json as read: the document (in the current format), its bytes and ETag, and
    the format it was stored in."""

    catalog: Catalog
    data: bytes
    etag: str
    stored_format: int

    @property
    def current(self) -> bool:
        return self.stored_format == CATALOG_FORMAT


def load_catalog(raw: bytes, where: str) -> tuple[Catalog, int]:
    """The one reader of catalog.json: the document in the current format and the format it
    was stored in; StoreError for a newer format or a corrupt file."""
    record = _decode(raw, CATALOG, where)
    stored = _format_of(record, CATALOG, where)
    migrated = _migrate(record, CATALOG, where, CATALOG_FORMAT, _CATALOG_MIGRATIONS)
    try:
        catalog = _CATALOG.validate_json(json.dumps(migrated), strict=True)
    except ValidationError as error:
        raise _corrupt(CATALOG, where, _describe(error), derived=True) from None
    return catalog, stored


def read_catalog(store: Store) -> StoredCatalog | None:
    """catalog.json from the store (None when there is none yet)."""
    found = store.read(CATALOG)
    if found is None:
        return None
    catalog, stored = load_catalog(found[0], store.url)
    return StoredCatalog(catalog, found[0], found[1], stored)


def dump_catalog(catalog: Catalog) -> bytes:
    """The bytes of catalog.json (the document carries its format, set by whoever built it)."""
    return _dump_json(catalog)


# -- formats and migrations ---------------------------------------------------------------------

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _versions_1_to_2(record: dict[str, Any]) -> dict[str, Any]:
    """Format 2 added `format` itself; the records are as before."""
    return {"format": 2, **{k: v for k, v in record.items() if k != "format"}}


def _catalog_1_to_2(record: dict[str, Any]) -> dict[str, Any]:
    return {"format": 2, **{k: v for k, v in record.items() if k != "format"}}


def _versions_2_to_3(record: dict[str, Any]) -> dict[str, Any]:
    """Format 3 lets a version carry a `message` (left out when there is none): a format 2 file
    is a format 3 one as it is. The format moved so that a release that cannot read `message`
    says "upgrade opendata" instead of calling the file corrupt."""
    return {**record, "format": 3}


def _catalog_2_to_3(record: dict[str, Any]) -> dict[str, Any]:
    """Format 3 gives every version a `message` (null when there is none)."""
    datasets = record.get("datasets")
    if isinstance(datasets, list):
        for entry in datasets:
            versions = entry.get("versions") if isinstance(entry, dict) else None
            for version in versions if isinstance(versions, list) else []:
                if isinstance(version, dict):
                    version.setdefault("message", None)
    return {**record, "format": 3}


def _deliveries_3_to_4(record: dict[str, Any]) -> dict[str, Any]:
    """Format 4 lets a version carry the `deliveries` it was made from (left out when there are
    none): a format 3 file is a format 4 one as it is. The format moved so that a release that
    cannot read `deliveries` says "upgrade opendata" instead of calling the file corrupt."""
    return {**record, "format": 4}


# Migration from format N to N + 1, by N.
_VERSIONS_MIGRATIONS: dict[int, Migration] = {
    1: _versions_1_to_2,
    2: _versions_2_to_3,
    3: _deliveries_3_to_4,
}
_CATALOG_MIGRATIONS: dict[int, Migration] = {
    1: _catalog_1_to_2,
    2: _catalog_2_to_3,
    3: _deliveries_3_to_4,
}


def _decode(raw: bytes, key: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise _corrupt(key, where, f"not JSON ({error})", derived=key == CATALOG) from None
    if not isinstance(record, dict):
        raise _corrupt(key, where, "not a JSON object", derived=key == CATALOG)
    return record


def _format_of(record: dict[str, Any], key: str, where: str) -> int:
    if "format" not in record:
        return UNVERSIONED
    found = record["format"]
    if isinstance(found, bool) or not isinstance(found, int) or found < UNVERSIONED:
        raise _corrupt(key, where, f"format {found!r} is not a format opendata writes")
    return found


def _migrate(
    record: dict[str, Any], key: str, where: str, current: int, steps: dict[int, Migration]
) -> dict[str, Any]:
    """`record` brought to the `current` format one step at a time; a newer one is refused."""
    found = _format_of(record, key, where)
    if found > current:
        raise StoreError(
            f"{key} in {where}: written by a newer opendata (format {found}); upgrade opendata "
            f"(this one reads formats {UNVERSIONED} to {current})"
        )
    while found < current:
        record = steps[found](record)
        found += 1
    return record


def _corrupt(key: str, where: str, detail: str, *, derived: bool = False) -> StoreError:
    if derived:
        remedy = (
            "it is derived from the datasets' versions.json: delete it and run "
            "`opendata publish` to derive it again"
        )
    else:
        remedy = "restore it from a backup of the store (it is the dataset's list of versions)"
    return StoreError(f"{key} in {where} is corrupt: {detail}; {remedy}")


def _describe(error: ValidationError) -> str:
    """The first problem pydantic found, as `versions[2].status: ...` (never the whole input)."""
    problems = error.errors(include_url=False)
    first = problems[0]
    path = ""
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union", "nullable")):
            if part in ("Claim", "Release", "pending", "abandoned", "published", "withdrawn"):
                continue
            path += f".{part}" if path else str(part)
    if first["type"] == "union_tag_invalid":
        statuses = ", ".join(status.value for status in Status)
        message = f"status {first['ctx']['tag']!r} is not one of {statuses}"
    elif first["type"] == "union_tag_not_found":
        message = "a version without a status"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
        message = re.sub(r"<Status\.\w+: ('\w+')>", r"\1", message)  # enum reprs as their text
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{path}: {message}{more}" if path else f"{message}{more}"


def _dump_json(value: Any) -> bytes:
    # As opendata.package.dump_json (imported lazily there to keep this module light).
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
