"""Dataset definitions: `datasets/<name>/dataset.yaml`, read strictly.

An unknown key, a wrong type, a path that leaves the dataset folder or a schema that does not
exist is a DefinitionError naming the file and the key: a typo must never be silently ignored.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from opendata.definition_files import (
    DEFINITION_FILE,
    PATTERN_NAME,
    PLACEHOLDER,
    SLUG,
    pattern_regex,
    read_yaml,
    resolve_inside,
)
from opendata.errors import DefinitionError
from opendata.table_schemas import field_names, load_schema


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in Swedish, with English where the metadata has it."""

    sv: str
    en: str | None = None


class Keywords(Strict):
    sv: list[str] = []
    en: list[str] = []


class Contact(Strict):
    name: str
    email: str


class Temporal(Strict):
    """A period: ISO dates or years (a year means all of it)."""

    start: str = Field(pattern=r"^\d{4}(-\d{2}-\d{2})?$")
    end: str = Field(pattern=r"^\d{4}(-\d{2}-\d{2})?$")


class SourceInfo(Strict):
    """Provenance of a source: carried into the data package's `sources`."""

    title: str
    publisher: str
    path: str | None = None
    url: str | None = None
    origin: str | None = None
    license: str | None = None


class Municipality(Strict):
    """Which column identifies the municipality: its code, or its name (mapped to a code)."""

    code: str | None = None
    name: str | None = None
    members_only: bool = True
    require_all: bool = Field(
        default=True, description="every member must be in the source (off for sparse APIs)"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Municipality:
        if (self.code is None) == (self.name is None):
            raise ValueError("give exactly one of 'code' (column of codes) or 'name'")
        return self


class Melt(Strict):
    """Turn a wide table (one column per year) into long rows."""

    columns: list[str]
    variable: str
    value: str


class Shaping(Strict):
    """How read records become rows: column mapping, constants, municipalities, legend symbols."""

    columns: dict[str, str] | None = None
    constants: dict[str, str | int | float] = {}
    municipality: Municipality | None = None
    symbols: dict[str, str | int | None] = Field(
        default_factory=dict,
        description="legend symbols and their meaning, e.g. {'–': 0, '..': null}",
    )
    left_empty: list[str] = Field(
        default_factory=list,
        description="schema fields this source leaves empty on purpose (else each field must "
        "be filled by a column, a constant or the municipality)",
    )


class SkipRows(Strict):
    """Rows left out of a source: those whose cell in `column` matches `matches`.

    `matches` is a regular expression (RE2 syntax: no look-arounds or back-references),
    searched in the cell's text without its surrounding spaces: `^(Totalt|Summa)` leaves out
    the rows whose cell starts with Totalt or Summa."""

    column: str
    matches: str

    @field_validator("matches")
    @classmethod
    def _a_pattern(cls, value: str) -> str:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:  # Arrow's own engine (RE2) applies it, so Arrow judges it
            pc.match_substring_regex(pa.array([""], pa.string()), value)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise ValueError(f"not a regular expression RE2 reads: {error}") from None
        return value


class Limits(Strict):
    """What a source file may hold, checked while it is read so that a hostile file fails early.

    The defaults are generous for the tables we publish (a spreadsheet at Excel's own limits, a
    CSV of tens of millions of rows); a source that truly needs more says so in dataset.yaml.
    """

    bytes: int = Field(default=4 * 2**30, ge=1, description="size of the file on disk")
    inflated_bytes: int = Field(
        default=256 * 2**20, ge=1, description="an xlsx file's parts, uncompressed, together"
    )
    rows: int = Field(default=100_000_000, ge=1)
    columns: int = Field(default=16_384, ge=1, description="Excel's own limit")
    cell_bytes: int = Field(default=2**20, ge=1, description="one cell's text, in UTF-8")
    nesting: int = Field(default=64, ge=1, description="levels of JSON arrays and objects")


# A header over several rows: each column's title is joined from these rows, top to bottom.
HeaderRows = Annotated[
    list[Annotated[int, Field(ge=1)]],
    Field(
        min_length=1,
        description="rows a column's title is joined from (a title over the years, say); merged "
        "header cells title every column they span",
    ),
]


def _header_rows(rows: list[int] | None, info: ValidationInfo) -> list[int] | None:
    """Rows top to bottom; never beside `header_row` (one of them would be left unread)."""
    if rows is None:
        return rows
    if info.data.get("header_row") is not None:
        raise ValueError(
            "header_row is given too: give header_row (one row of column titles) or "
            "header_rows (the rows each title is joined from), not both"
        )
    if any(b <= a for a, b in itertools.pairwise(rows)):
        raise ValueError("give the rows top to bottom, each once, e.g. [6, 7]")
    return rows


def _check_table_rows(
    header_row: int | None,
    header_rows: list[int] | None,
    first_data_row: int | None,
    last_data_row: int | None,
) -> None:
    """The data comes below the header."""
    last_header = header_rows[-1] if header_rows is not None else header_row or 1
    if first_data_row is not None and first_data_row <= last_header:
        if header_rows is None:
            raise ValueError("first_data_row must be below header_row")
        raise ValueError(f"first_data_row must be below the header's last row ({last_header})")
    first = first_data_row or last_header + 1
    if last_data_row is not None and last_data_row < first:
        raise ValueError(f"last_data_row must be at or below the first data row ({first})")


class FileSource(Shaping):
    path: str
    limits: Limits = Limits()
    allow_empty: bool = Field(
        default=False,
        description="a header without rows is published as an empty table (else refused)",
    )
    skip_rows: list[SkipRows] = Field(
        default_factory=list,
        description="rows to leave out (a total row, a sum), by a pattern in one column",
    )

    @field_validator("path")
    @classmethod
    def _relative_inside(cls, value: str) -> str:
        path = Path(value)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError("must be a path inside the dataset folder (no '..', not absolute)")
        folder, _, _ = value.rpartition("/")
        if "{" in folder or "}" in folder or not PATTERN_NAME.fullmatch(path.name):
            raise ValueError(
                "a file name may hold one placeholder such as {ar} (a field of the schema that "
                "takes the part of the name it stands for), and no other braces"
            )
        return value

    @property
    def placeholder(self) -> str | None:
        """The field a pattern path's placeholder fills (`sources/fordon-{ar}.xlsx`: ar)."""
        found = PLACEHOLDER.search(Path(self.path).name)
        return found.group(1) if found else None

    def matches(self, path: str) -> dict[str, str] | None:
        """Whether the concrete `path` is this source's (its placeholder's value, if any)."""
        if self.placeholder is None:
            return {} if path == self.path else None
        found = pattern_regex(self.path).fullmatch(path)
        return None if found is None else {self.placeholder: found.group(1)}

    def concrete(self, path: str, value: str) -> Self:
        """This source read from one file that its pattern matches, the placeholder's field
        filled with the part of the name it stands for (a whole number when it is one)."""
        assert self.placeholder is not None
        constant: str | int = int(value) if value.isdigit() and len(value) < 10 else value
        return self.model_copy(
            update={"path": path, "constants": {**self.constants, self.placeholder: constant}}
        )


AnyFileSource = TypeVar("AnyFileSource", bound=FileSource)


class CsvSource(FileSource):
    kind: Literal["csv"]
    encoding: str = "utf-8"
    delimiter: str = Field(
        default=",", description='between cells: "," or ";" (Swedish Excel), "\\t", "|"'
    )
    decimal: Literal[".", ","] = "."
    melt: Melt | None = None
    header_row: int | None = Field(
        default=None, ge=1, description="the row of the column titles (default 1; above: titles)"
    )
    header_rows: HeaderRows | None = None
    first_data_row: int | None = Field(
        default=None, ge=2, description="first row of data (default: the row under the header)"
    )
    last_data_row: int | None = Field(
        default=None, ge=2, description="the last row of data (the file's first row is row 1)"
    )
    stop_at_empty_row: bool = Field(
        default=False, description="the table ends at its first empty row (else those are skipped)"
    )

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 or value in '"\r\n':
            raise ValueError('must be one character, such as "," or ";" (not a quote or line end)')
        return value

    @field_validator("header_rows")
    @classmethod
    def _top_to_bottom(cls, rows: list[int] | None, info: ValidationInfo) -> list[int] | None:
        return _header_rows(rows, info)

    @model_validator(mode="after")
    def _data_below_header(self) -> CsvSource:
        _check_table_rows(
            self.header_row, self.header_rows, self.first_data_row, self.last_data_row
        )
        return self

    @property
    def header_numbers(self) -> tuple[int, ...]:
        """The header's rows, top to bottom (the first row unless declared)."""
        if self.header_rows is not None:
            return tuple(self.header_rows)
        return (self.header_row or 1,)

    @property
    def data_start(self) -> int:
        return self.first_data_row or self.header_numbers[-1] + 1


class XlsxSource(FileSource):
    kind: Literal["xlsx"]
    sheet: str
    header_row: int | None = Field(default=None, ge=1, description="the row of the column titles")
    header_rows: HeaderRows | None = None
    first_data_row: int | None = Field(
        default=None, ge=2, description="first row of data (default: the row under the header)"
    )
    melt: Melt | None = None
    last_data_row: int | None = Field(default=None, ge=2, description="the last row of data")
    stop_at_empty_row: bool | None = Field(
        default=None,
        description="the table ends at its first empty row (the default, unless last_data_row "
        "says where it ends: then empty rows above it are skipped)",
    )

    @field_validator("header_rows")
    @classmethod
    def _top_to_bottom(cls, rows: list[int] | None, info: ValidationInfo) -> list[int] | None:
        return _header_rows(rows, info)

    @model_validator(mode="after")
    def _data_below_header(self) -> XlsxSource:
        if self.header_row is None and self.header_rows is None:
            raise ValueError(
                "give header_row (the row of the column titles, e.g. 6) or header_rows (the "
                "rows each column's title is joined from, e.g. [6, 7])"
            )
        _check_table_rows(
            self.header_row, self.header_rows, self.first_data_row, self.last_data_row
        )
        return self

    @property
    def header_numbers(self) -> tuple[int, ...]:
        """The header's rows, top to bottom."""
        if self.header_rows is not None:
            return tuple(self.header_rows)
        assert self.header_row is not None
        return (self.header_row,)

    @property
    def data_start(self) -> int:
        return self.first_data_row or self.header_numbers[-1] + 1

    @property
    def stops_at_empty_row(self) -> bool:
        if self.stop_at_empty_row is not None:
            return self.stop_at_empty_row
        return self.last_data_row is None


class Unnest(Strict):
    """Walk nested objects: `path` to a mapping, one output field per level of keys."""

    path: str
    keys: list[str] = Field(min_length=1)
    value: str


class JsonSource(FileSource):
    kind: Literal["json"]
    records: str | None = Field(default=None, description="key of the list of records")
    unnest: Unnest | None = None


class Years(Strict):
    """A span of years; without `last`, up to the current year (collected every year)."""

    first: int = Field(ge=1900, le=2100)
    last: int | None = Field(default=None, ge=1900, le=2100)


class ApiSource(Shaping):
    """A public API; its answers are cached in the store's private area for `cache_hours`."""

    cache_hours: float = Field(default=24.0, ge=0)


class KoladaSource(ApiSource):
    """Kolada v3: KPI values per member municipality and year (OPENDATA_KOLADA_URL)."""

    kind: Literal["kolada"]
    kpis: list[Annotated[str, Field(pattern=r"^[A-Z][0-9]{5}$")]] = Field(min_length=1)
    years: Years
    units: dict[str, str] = Field(
        default_factory=dict, description="unit per KPI (Kolada's metadata has none)"
    )

    @model_validator(mode="after")
    def _a_unit_per_kpi(self) -> KoladaSource:
        missing = [kpi for kpi in self.kpis if kpi not in self.units]
        if missing:
            raise ValueError(f"units: no unit for {', '.join(missing)}")
        return self


class PxwebSource(ApiSource):
    """SCB PxWeb v2: one table, a selection per variable (OPENDATA_PXWEB_URL)."""

    kind: Literal["pxweb"]
    table: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    selection: dict[str, list[str]]


class TrafaSource(ApiSource):
    """Trafikanalys' API: one query (OPENDATA_TRAFA_URL)."""

    kind: Literal["trafa"]
    query: Annotated[str, Field(min_length=1)]


REMOTE_KINDS = ("kolada", "pxweb", "trafa")


class DatasetSource(Strict):
    """A resource of another dataset of this repository (e.g. the member municipalities)."""

    kind: Literal["dataset"]
    dataset: str
    resource: str
    left_empty: list[str] = Field(
        default_factory=list, description="fields of ours the other resource leaves empty"
    )

    @field_validator("dataset", "resource")
    @classmethod
    def _slug(cls, value: str) -> str:
        # A name, never a path: `../x` or `/etc` would load a definition from anywhere on disk.
        if not SLUG.match(value):
            raise ValueError(
                f"{value!r} is not a name: give the other dataset's (or resource's) name, "
                "a slug [a-z0-9-] such as befolkning, not a path"
            )
        return value


Source = Annotated[
    CsvSource | XlsxSource | JsonSource | DatasetSource | KoladaSource | PxwebSource | TrafaSource,
    Field(discriminator="kind"),
]


LiveSource = Annotated[KoladaSource | PxwebSource | TrafaSource, Field(discriminator="kind")]


class ResourceDefinition(Strict):
    name: str
    title: Text
    description: Text | None = None
    schema_: str = Field(alias="schema")
    sources: list[Source] = Field(min_length=1)
    live: list[LiveSource] | None = Field(
        default=None,
        description="public-API sources used instead of `sources` by `publish --refresh`",
    )

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError("must be a slug: lower-case letters, digits and '-'")
        return value


class DeliveryPolicy(Strict):
    """What happens to a valid delivery: `review` waits for the steward's Publish (the page's
    button, `POST /api/deliveries/<id>/publish`), `automatic` publishes it at once."""

    publish: Literal["review", "automatic"] = "review"


class DatasetDefinition(Strict):
    """What a steward writes in dataset.yaml."""

    title: Text
    description: Text
    license: Literal["CC-BY-4.0", "CC0-1.0"] = "CC-BY-4.0"
    publisher: str = "Boråsregionen, Sjuhärads kommunalförbund"
    contact_point: Contact
    keywords: Keywords = Keywords()
    themes: list[
        Literal[
            "AGRI",
            "ECON",
            "EDUC",
            "ENER",
            "ENVI",
            "GOVE",
            "HEAL",
            "INTR",
            "JUST",
            "REGI",
            "SOCI",
            "TECH",
            "TRAN",
        ]
    ] = []
    accrual_periodicity: Literal["annual", "irregular", "monthly", "quarterly"] = "annual"
    temporal: Temporal | None = Field(
        default=None, description="the period covered, when the data's own dates do not say it"
    )
    sources: list[SourceInfo] = Field(min_length=1)
    resources: list[ResourceDefinition] = Field(min_length=1)
    deliveries: DeliveryPolicy = DeliveryPolicy()


class Dataset(BaseModel):
    """A definition together with where it lives and the Table Schemas it names."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    folder: Path
    definition: DatasetDefinition
    schemas: dict[str, dict[str, Any]]
    # Declared source path -> the delivered file read in its place (opendata.deliveries).
    delivered: dict[str, Path] = {}
    # Provenance of each delivered file read, for the package's sources.
    deliveries: list[dict[str, Any]] = []

    @property
    def needs_remote(self) -> bool:
        """Whether collecting asks a public API (such datasets are `skipped` offline)."""
        return any(
            source.kind in REMOTE_KINDS
            for resource in self.definition.resources
            for source in resource.sources
        )

    @property
    def definition_file(self) -> Path:
        return self.folder / DEFINITION_FILE

    def source_path(self, relative: str) -> Path:
        """A source path from the definition, resolved and kept inside the dataset folder; a
        delivered file when a steward delivered one for this path."""
        if relative in self.delivered:
            return self.delivered[relative]
        return resolve_inside(
            self.folder, relative, f"{self.definition_file}: path", "dataset folder"
        )

    def file_sources(self) -> list[tuple[str, FileSource]]:
        """Every declared file source with its resource's name (patterns as declared)."""
        return [
            (resource.name, source)
            for resource in self.definition.resources
            for source in resource.sources
            if isinstance(source, FileSource)
        ]

    def concrete_sources(self, source: AnyFileSource) -> list[AnyFileSource]:
        """The files a source is read from: itself, or for a pattern every file it matches in
        the dataset's folder and among the delivered files, in order of their paths."""
        if source.placeholder is None:
            return [source]
        root = self.folder.resolve()
        found: dict[str, str] = {}
        folder = (root / source.path).parent
        where = f"{self.definition_file}: path"
        parent = source.path.rsplit("/", 1)[0] if "/" in source.path else "."
        if folder.is_dir() and resolve_inside(self.folder, parent, where, "dataset folder"):
            for candidate in folder.iterdir():
                relative = candidate.relative_to(root).as_posix()
                value = source.matches(relative)
                if value and candidate.is_file():
                    found[relative] = next(iter(value.values()))
        for relative in self.delivered:
            value = source.matches(relative)
            if value:
                found[relative] = next(iter(value.values()))
        return [source.concrete(path, found[path]) for path in sorted(found)]


def _describe(error: ValidationError, file: Path) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{file}: {key}: {message}")
    return "\n".join(lines)


def load_dataset(
    folder: Path, schemas_dir: Path, delivered: dict[str, Path] | None = None
) -> Dataset:
    """Read and check one dataset folder; every problem is a DefinitionError naming the file.

    `delivered` maps declared source paths to files stewards delivered in their place."""
    name = folder.name
    file = folder / DEFINITION_FILE
    if not SLUG.match(name):
        raise DefinitionError(f"{folder}: dataset name {name!r} is not a slug [a-z0-9-]")
    if not file.is_file():
        raise DefinitionError(f"{file}: no such file (every dataset folder needs one)")
    raw = read_yaml(file)
    if not isinstance(raw, dict):
        raise DefinitionError(f"{file}: must be a mapping of keys to values")
    try:
        definition = DatasetDefinition.model_validate(raw)
    except ValidationError as error:
        raise DefinitionError(_describe(error, file)) from None

    names = [resource.name for resource in definition.resources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DefinitionError(f"{file}: resources: duplicate name(s) {', '.join(duplicates)}")

    schemas: dict[str, dict[str, Any]] = {}
    for index, resource in enumerate(definition.resources):
        schemas[resource.name] = load_schema(
            schemas_dir, resource.schema_, f"{file}: resources.{index}.schema"
        )
    check_foreign_keys(definition, schemas, schemas_dir)
    dataset = Dataset(
        name=name, folder=folder, definition=definition, schemas=schemas, delivered=delivered or {}
    )
    for index, resource in enumerate(definition.resources):
        fields = [f.get("name") for f in schemas[resource.name]["fields"]]
        for group, sources in (("sources", resource.sources), ("live", resource.live or [])):
            for number, declared in enumerate(sources):
                unknown = [name for name in declared.left_empty if name not in fields]
                if unknown:
                    raise DefinitionError(
                        f"{file}: resources.{index}.{group}.{number}.left_empty: "
                        f"{', '.join(repr(n) for n in unknown)} "
                        f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of "
                        f"schema {resource.schema_} (its fields: "
                        f"{', '.join(repr(f) for f in fields)})"
                    )
        for number, source in enumerate(resource.sources):
            if isinstance(source, FileSource) and source.placeholder is not None:
                if source.placeholder not in fields:
                    raise DefinitionError(
                        f"{file}: resources.{index}.sources.{number}.path: the placeholder "
                        f"{{{source.placeholder}}} is not a field of schema {resource.schema_} "
                        f"(its fields: {', '.join(repr(f) for f in fields)})"
                    )
                if not dataset.concrete_sources(source):
                    raise DefinitionError(
                        f"{file}: resources.{index}.sources.{number}.path: no file matches "
                        f"{source.path!r}"
                    )
            elif isinstance(source, FileSource):
                path = dataset.source_path(source.path)
                if not path.is_file():
                    raise DefinitionError(
                        f"{file}: resources.{index}.sources.{number}.path: "
                        f"no such file {source.path!r}"
                    )
    return dataset


def check_foreign_keys(
    definition: DatasetDefinition, schemas: dict[str, dict[str, Any]], schemas_dir: Path
) -> None:
    """Each foreign key names a resource of the dataset (or "", its own) and fields of that
    resource's schema."""
    for resource in definition.resources:
        schema = schemas[resource.name]
        for number, entry in enumerate(schema.get("foreignKeys", [])):
            reference = entry["reference"]
            target = reference.get("resource", "") or resource.name
            where = f"{schemas_dir / resource.schema_}: foreignKeys.{number}.reference"
            if target not in schemas:
                raise DefinitionError(
                    f"{where}.resource: {target!r} is not a resource of the dataset "
                    f"(its resources: {', '.join(map(repr, schemas))})"
                )
            fields = [field["name"] for field in schemas[target]["fields"]]
            unknown = [
                name for name in field_names(reference["fields"]) or [] if name not in fields
            ]
            if unknown:
                raise DefinitionError(
                    f"{where}.fields: {', '.join(map(repr, unknown))} not a field of "
                    f"{target!r} (its fields: {', '.join(map(repr, fields))})"
                )


def discover(datasets_dir: Path) -> list[str]:
    """Names of the dataset folders (those holding a dataset.yaml), sorted."""
    if not datasets_dir.is_dir():
        return []
    return sorted(p.name for p in datasets_dir.iterdir() if (p / DEFINITION_FILE).is_file())
