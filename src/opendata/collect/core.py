"""Shared steps after reading: legend symbols, municipality codes, column mapping, melting."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opendata.definitions import (
    ApiSource,
    CsvSource,
    Dataset,
    DatasetSource,
    FileSource,
    JsonSource,
    ResourceDefinition,
    Shaping,
    XlsxSource,
)
from opendata.errors import (
    DefinitionError,
    InvalidSourceData,
    RemoteSourceNeeded,
    SourceError,
)
from opendata.municipalities import MEMBERS, code_for_name, national_register, normalise_code

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class CollectedRow:
    """One output row and where it came from (for error messages)."""

    values: dict[str, Cell]
    origin: str


@dataclass(frozen=True)
class RawRecord:
    """A record as read from a source: header text -> cell, and its location."""

    cells: dict[str, Any]
    origin: str


def normalise_header(value: object) -> str:
    """Header text with layout whitespace collapsed ('Etanol/    etanolflexifuel')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


ResolveDataset = Callable[[str, str], list[CollectedRow]]


class RemoteFetcher(Protocol):
    """Asks a public API for a source's records (see opendata.collect.remote)."""

    def fetch(self, source: ApiSource) -> tuple[list[RawRecord], str]:
        """The records of `source` and a label naming where they came from."""
        ...


def collect_resource(
    dataset: Dataset,
    resource: ResourceDefinition,
    resolve_dataset: ResolveDataset,
    remote: RemoteFetcher | None = None,
) -> list[CollectedRow]:
    """All rows of one resource, from each of its sources in order.

    Without `remote` (offline), a source that needs a public API raises RemoteSourceNeeded.
    """
    fields = [field["name"] for field in dataset.schemas[resource.name]["fields"]]
    field_types = {
        f["name"]: f.get("type", "string") for f in dataset.schemas[resource.name]["fields"]
    }
    rows: list[CollectedRow] = []
    for index, source in enumerate(resource.sources):
        where = f"{dataset.definition_file}: resources.{resource.name}.sources.{index}"
        if isinstance(source, DatasetSource):
            produced = resolve_dataset(source.dataset, source.resource)
        elif isinstance(source, ApiSource):
            if remote is None:
                raise RemoteSourceNeeded(
                    f"{dataset.name}: resource {resource.name} is collected from {source.kind}, "
                    "a public API, and this run asks no remote source (--offline)"
                )
            records, label = remote.fetch(source)
            produced = shape(records, source, fields, field_types, label, where)
        else:
            path = dataset.source_path(source.path)
            label = f"{dataset.folder.name}/{source.path}"
            records = _read(source, path, label, where)
            produced = shape(records, source, fields, field_types, label, where)
        for row in produced:
            extra = sorted(set(row.values) - set(fields))
            if extra:
                raise DefinitionError(
                    f"{where}: produces field(s) {', '.join(extra)} that schema "
                    f"{resource.schema_} does not have"
                )
        rows.extend(produced)
    return rows


def _read(source: FileSource, path: Any, label: str, where: str) -> list[RawRecord]:
    from opendata.collect import files

    if isinstance(source, XlsxSource):
        return files.read_xlsx(
            path, label, source.sheet, source.header_row, source.first_data_row, where
        )
    if isinstance(source, CsvSource):
        return files.read_csv(path, label, source.encoding, source.delimiter)
    if isinstance(source, JsonSource):
        return files.read_json(path, label, source, where)
    raise DefinitionError(f"{where}: unsupported source kind")  # pragma: no cover


def shape(
    records: Sequence[RawRecord],
    source: Shaping,
    fields: list[str],
    field_types: dict[str, str],
    label: str,
    where: str,
) -> list[CollectedRow]:
    """Map columns, resolve municipalities, filter to members, melt and add constants."""
    headers = list(records[0].cells) if records else []
    declared = dict(source.columns) if source.columns is not None else {}
    if source.columns is None:
        declared = _identity_mapping(source, headers)
    if isinstance(source, JsonSource) and source.unnest is not None:
        for name in (*source.unnest.keys, source.unnest.value):
            declared.setdefault(name, name)
    mapping = {field: normalise_header(header) for field, header in declared.items()}
    melt = getattr(source, "melt", None)
    melt_columns = [normalise_header(header) for header in melt.columns] if melt else []
    needed = dict(mapping)
    if source.municipality is not None:
        column = source.municipality.code or source.municipality.name or ""
        needed["<municipality>"] = column
    if melt is not None:
        for header in melt_columns:
            needed[f"melt.columns {header!r}"] = header
    if records:
        _require_headers(needed, headers, where, label)

    decimal_comma = isinstance(source, CsvSource) and source.decimal == ","
    numeric = {name for name, kind in field_types.items() if kind in ("number", "integer", "year")}
    out: list[CollectedRow] = []
    seen_members: set[str] = set()
    for record in records:
        cells = {key: _symbol(value, source.symbols) for key, value in record.cells.items()}
        values: dict[str, Cell] = {}
        if source.municipality is not None:
            code = _municipality(cells, source, record.origin)
            if code is None:
                continue
            if source.municipality.members_only and code not in MEMBERS:
                continue
            seen_members.add(code)
            values["kommunkod"] = code
            if "kommun" in fields and "kommun" not in mapping:
                values["kommun"] = national_register()[code]
        for field, header in mapping.items():
            values[field] = cells.get(header)
        for field, constant in source.constants.items():
            values[field] = constant
        if melt is None:
            out.append(CollectedRow(_clean(values, numeric, decimal_comma), record.origin))
            continue
        for header in melt_columns:
            melted = dict(values)
            melted[melt.variable] = header
            melted[melt.value] = cells.get(header)
            origin = f"{record.origin}, column {header!r}"
            out.append(CollectedRow(_clean(melted, numeric, decimal_comma), origin))

    municipality = source.municipality
    if municipality is not None and municipality.members_only and municipality.require_all:
        missing = sorted(set(MEMBERS) - seen_members)
        if missing:
            names = ", ".join(f"{MEMBERS[c]} ({c})" for c in missing)
            raise InvalidSourceData(f"{label}: member municipalities missing: {names}")
    return out


def _identity_mapping(source: Shaping, headers: Iterable[str]) -> dict[str, str]:
    """Without `columns`, headers are the field names (the plain CSV contract)."""
    if isinstance(source, JsonSource) and source.unnest is not None:
        return {}
    skip: set[str] = set()
    if source.municipality is not None:
        skip.add(source.municipality.code or source.municipality.name or "")
    melt = getattr(source, "melt", None)
    if melt is not None:
        skip.update(melt.columns)
    return {header: header for header in headers if header and header not in skip}


def _require_headers(needed: dict[str, str], headers: list[str], where: str, label: str) -> None:
    present = set(headers)
    for key, header in needed.items():
        if header not in present:
            shown = ", ".join(repr(h) for h in headers if h)
            raise SourceError(
                f"{where}: {key}: column {header!r} is not in {label} (columns: {shown})"
            )


def _symbol(value: Any, symbols: dict[str, str | int | None]) -> Any:
    if isinstance(value, str) and symbols:
        stripped = value.strip()
        if stripped in symbols:
            return symbols[stripped]
    return value


def _municipality(cells: dict[str, Any], source: Shaping, origin: str) -> str | None:
    spec = source.municipality
    assert spec is not None
    if spec.code is not None:
        return normalise_code(cells.get(normalise_header(spec.code)))
    value = cells.get(normalise_header(spec.name))
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidSourceData(f"{origin}: column {spec.name!r}: no municipality name")
    code = code_for_name(str(value))
    if code is None:
        raise InvalidSourceData(
            f"{origin}: column {spec.name!r}: {str(value)!r} is not the name of a Swedish "
            "municipality"
        )
    return code


def _clean(values: dict[str, Any], numeric: set[str], decimal_comma: bool) -> dict[str, Cell]:
    cleaned: dict[str, Cell] = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip()
            if decimal_comma and key in numeric:
                value = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        cleaned[key] = value
    return cleaned
