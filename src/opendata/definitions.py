"""Dataset definitions: `datasets/<name>/dataset.yaml`, read strictly.

An unknown key, a wrong type, a path that leaves the dataset folder or a schema that does not
exist is a DefinitionError naming the file and the key: a typo must never be silently ignored.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, cast

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from opendata.errors import DefinitionError

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# A file name with at most one placeholder, `{field}`, standing for a part such as the year.
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
PATTERN_NAME = re.compile(r"^[^{}]*(\{[a-z_][a-z0-9_]*\}[^{}]*)?$")


def pattern_regex(path: str) -> re.Pattern[str]:
    """The concrete paths a pattern path stands for: the placeholder is one or more characters
    of a file name (letters, digits, '.', '_', '-'; never a '/')."""
    found = PLACEHOLDER.search(path)
    if found is None:
        return re.compile(re.escape(path))
    before, after = path[: found.start()], path[found.end() :]
    return re.compile(f"{re.escape(before)}([A-Za-z0-9][A-Za-z0-9._-]*?){re.escape(after)}")


DEFINITION_FILE = "dataset.yaml"
# A dataset.yaml or Table Schema is a page or two; past these it is no definition a steward wrote.
DEFINITION_MAX_BYTES = 1 << 20
DEFINITION_MAX_DEPTH = 32
TABLE_SCHEMA_TYPES = (
    "string",
    "number",
    "integer",
    "boolean",
    "object",
    "array",
    "list",
    "date",
    "time",
    "datetime",
    "year",
    "yearmonth",
    "duration",
    "geopoint",
    "geojson",
    "any",
)


class StrictYamlLoader(yaml.SafeLoader):
    """YAML read as a steward means it: a key given twice is an error naming both lines (not,
    silently, its last value), anchors and aliases are refused (a definition has no use for
    them, and they are how a few lines expand into millions of values), and nesting is bounded
    (PyYAML composes recursively: thousands of levels ended in a RecursionError)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "an alias (*name) is not allowed here: write the value out",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "an anchor (&name) is not allowed here", event.start_mark
            )
        self.depth += 1
        try:
            if self.depth > DEFINITION_MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {DEFINITION_MAX_DEPTH} levels",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:
                continue  # not a possible key: the constructor below says so
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is given twice (first on line {first + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def read_yaml(file: Path) -> Any:
    """A definition file's YAML (see StrictYamlLoader); every problem a DefinitionError naming
    the file and the line."""
    text = read_definition_text(file)
    try:
        return yaml.load(text, Loader=StrictYamlLoader)
    except yaml.YAMLError as error:
        raise DefinitionError(f"{file}: not valid YAML: {error}") from None
    except RecursionError:
        raise DefinitionError(f"{file}: nested too deeply to be a definition") from None


def read_definition_text(file: Path) -> str:
    """A definition file's text: UTF-8 and at most DEFINITION_MAX_BYTES."""
    try:
        with file.open("rb") as stream:
            data = stream.read(DEFINITION_MAX_BYTES + 1)
    except OSError as error:
        raise DefinitionError(f"{file}: cannot be read: {error.strerror}") from None
    if len(data) > DEFINITION_MAX_BYTES:
        raise DefinitionError(
            f"{file}: larger than {DEFINITION_MAX_BYTES // 1024} KiB: not a definition"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DefinitionError(
            f"{file}: not valid UTF-8 (byte {error.start}): save it as UTF-8"
        ) from None


def resolve_inside(root: Path, relative: str, where: str, what: str) -> Path:
    """`root / relative` with symlinks resolved, if that stays inside `root` (the real path of
    the dataset's or the schemas' folder); a loop of symlinks is a DefinitionError too."""
    try:
        real_root = root.resolve()
        resolved = (real_root / relative).resolve()
    except (RuntimeError, OSError) as error:  # 3.11: RuntimeError("Symlink loop from ...")
        raise DefinitionError(f"{where}: {relative!r}: a loop of symbolic links") from error
    if not resolved.is_relative_to(real_root):
        raise DefinitionError(f"{where}: {relative!r} leaves the {what}")
    return resolved


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


def load_schema(schemas_dir: Path, relative: str, where: str) -> dict[str, Any]:
    """A Table Schema from `schemas/`, refusing paths that leave that folder."""
    path = resolve_inside(schemas_dir, relative, where, "schemas folder")
    if not path.is_file():
        raise DefinitionError(f"{where}: no such schema {relative!r} in {schemas_dir}")
    text = read_definition_text(path)
    try:
        schema = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise DefinitionError(
            f"{path}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except _DuplicateKey as error:
        raise DefinitionError(f"{path}: the key {error.args[0]!r} is given twice") from None
    except RecursionError:
        raise DefinitionError(f"{path}: nested too deeply to be a Table Schema") from None
    check_schema(schema, path)
    return cast(dict[str, Any], schema)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _names(value: Any) -> list[str] | None:
    """A key's field names (one name or a list of names), or None when it is neither."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list) and names and all(isinstance(n, str) and n for n in names):
        return names
    return None


# The widest table validated: 1,000 columns take about 30 s on 2 cores (a group of 24 columns a
# pass, tests/test_wide_tables.py); ten thousand would take minutes and are refused at once.
MAX_FIELDS = 2000


def check_schema(schema: Any, path: Path) -> None:
    """What a Table Schema must be before any data is read: every problem a DefinitionError
    naming the file, the key and what is expected (frictionless and the engine both assume
    it; a wrong type or a key naming no field used to escape as an exception, exit 3)."""
    if not isinstance(schema, dict):
        raise DefinitionError(f"{path}: a Table Schema is a JSON object with a list of 'fields'")
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        raise DefinitionError(f"{path}: fields: a Table Schema needs a non-empty list of fields")
    fields_match = schema.get("fieldsMatch", "exact")
    if fields_match not in ("exact", "equal"):
        known = fields_match in ("subset", "superset", "partial")
        if fields_match == "subset":
            why = (
                "lets a table have columns the schema does not name, but here a source names "
                "the columns it publishes: remove fieldsMatch and choose the columns with "
                "`columns` on the source in dataset.yaml"
            )
        elif known:
            why = (
                "lets a table lack some of the schema's fields, but here every field is filled "
                "by a column of the source: remove fieldsMatch and declare the fields that are "
                "empty on purpose with `left_empty` on the source in dataset.yaml"
            )
        else:
            why = (
                "is not one of 'exact', 'equal', 'subset', 'superset' or 'partial' (columns "
                "are matched to fields by their titles here, so 'exact' and 'equal' mean the "
                "same)"
            )
        raise DefinitionError(f"{path}: fieldsMatch: {fields_match!r} {why}")
    if len(fields) > MAX_FIELDS:
        raise DefinitionError(
            f"{path}: fields: {len(fields):,} fields, more than the {MAX_FIELDS:,} a table may "
            "have here (each column is checked on its own, so a table this wide takes many "
            "minutes to validate); split it into tables of fewer columns, or melt it (one row "
            "a value, with `melt` in dataset.yaml)"
        )
    names: list[str] = []
    for number, field in enumerate(fields):
        where = f"{path}: fields.{number}"
        if not isinstance(field, dict):
            raise DefinitionError(f"{where}: a field is an object with a name and a type")
        name = field.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(f"{where}.name: every field needs a name (text)")
        if name in names:
            raise DefinitionError(f"{where}.name: {name!r} is the name of an earlier field too")
        names.append(name)
        kind = field.get("type", "string")
        if kind not in TABLE_SCHEMA_TYPES:
            raise DefinitionError(
                f"{where}.type: {kind!r} is not a Table Schema type (one of "
                f"{', '.join(TABLE_SCHEMA_TYPES)})"
            )
        if "format" in field and not isinstance(field["format"], str):
            raise DefinitionError(f"{where}.format: a format is text, not {field['format']!r}")
        constraints = field.get("constraints", {})
        if not isinstance(constraints, dict):
            raise DefinitionError(f"{where}.constraints: constraints are an object")
        pattern = constraints.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise DefinitionError(f"{where}.constraints.pattern: a pattern is text")
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as error:
                raise DefinitionError(
                    f"{where}.constraints.pattern: {pattern!r} is not a regular expression "
                    f"({error})"
                ) from None
        for flag in ("required", "unique"):
            if flag in constraints and not isinstance(constraints[flag], bool):
                raise DefinitionError(f"{where}.constraints.{flag}: true or false")
        if "enum" in constraints and not isinstance(constraints["enum"], list):
            raise DefinitionError(f"{where}.constraints.enum: a list of the allowed values")
    missing = schema.get("missingValues", [""])
    if not isinstance(missing, list) or not all(
        isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("value"), str))
        for v in missing
    ):
        raise DefinitionError(f"{path}: missingValues: a list of texts")
    if "primaryKey" in schema:
        key = _names(schema["primaryKey"])
        if key is None:
            raise DefinitionError(f"{path}: primaryKey: a field name or a list of field names")
        unknown = [name for name in key if name not in names]
        if unknown:
            raise DefinitionError(
                f"{path}: primaryKey: {', '.join(map(repr, unknown))} "
                f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of the schema "
                f"(its fields: {', '.join(map(repr, names))})"
            )
    foreign = schema.get("foreignKeys", [])
    if not isinstance(foreign, list):
        raise DefinitionError(f"{path}: foreignKeys: a list of foreign keys")
    for number, entry in enumerate(foreign):
        where = f"{path}: foreignKeys.{number}"
        reference = entry.get("reference") if isinstance(entry, dict) else None
        own = _names(entry.get("fields")) if isinstance(entry, dict) else None
        if own is None or not isinstance(reference, dict):
            raise DefinitionError(
                f"{where}: a foreign key has 'fields' (names in this schema) and a 'reference' "
                "(a 'resource' and its 'fields')"
            )
        unknown = [name for name in own if name not in names]
        if unknown:
            raise DefinitionError(
                f"{where}.fields: {', '.join(map(repr, unknown))} not a field of the schema "
                f"(its fields: {', '.join(map(repr, names))})"
            )
        other = _names(reference.get("fields"))
        if other is None or len(other) != len(own):
            raise DefinitionError(
                f"{where}.reference.fields: as many field names as 'fields' ({len(own)})"
            )
        if not isinstance(reference.get("resource", ""), str):
            raise DefinitionError(f"{where}.reference.resource: the name of a resource (text)")


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
            unknown = [name for name in _names(reference["fields"]) or [] if name not in fields]
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
