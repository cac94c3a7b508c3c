"""Shared steps after reading: legend symbols, municipality codes, column mapping, melting.

Every reader yields `RawBatch`es: the source's cells as text, one column per (normalised) header,
with each row's origin. Shaping works on whole batches with Arrow compute, so a ten-million-row
CSV is shaped at the speed of Arrow, in chunks, and a spreadsheet of eighty rows by the very same
code; values that need Python (municipality names) are mapped once per distinct value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opendata.collect.common import ReadContext
from opendata.collect.csvfile import ExactRowNumbersNeeded
from opendata.collect.formats import read_file
from opendata.collect.raw import (
    RawRecord,
    RawSource,
    listing,
    normalise_header,
    records_source,
    strip,
)
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
    RemoteSourceNeeded,
    SourceError,
)
from opendata.messages import Text, note_row_hint, shown, total_in_row, total_row_hint
from opendata.municipalities import MEMBERS, code_for_name, national_register, normalise_code
from opendata.tables import (
    LISTED_LEFT_OUT,
    ORIGIN,
    SourceLayout,
    SourceProblem,
    SourceProblems,
    Table,
    TableWriter,
    cell_text,
    int64_array,
)


class RemoteFetcher(Protocol):
    """Asks a public API for a source's records (see opendata.collect.remote)."""

    def fetch(self, source: ApiSource) -> tuple[list[RawRecord], str]:
        """The records of `source` and a label naming where they came from."""
        ...


ResolveDataset = Callable[[str, str], Table]


def collect_resource(
    dataset: Dataset,
    resource: ResourceDefinition,
    resolve_dataset: ResolveDataset,
    writer: TableWriter,
    remote: RemoteFetcher | None = None,
) -> Table:
    """All rows of one resource, from each of its sources in order, staged by `writer`.

    Without `remote` (offline), a source that needs a public API raises RemoteSourceNeeded.
    """
    try:
        try:
            _collect(dataset, resource, resolve_dataset, writer, remote, parallel=True)
        except ExactRowNumbersNeeded:
            writer.reset()
            _collect(dataset, resource, resolve_dataset, writer, remote, parallel=False)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _collect(
    dataset: Dataset,
    resource: ResourceDefinition,
    resolve_dataset: ResolveDataset,
    writer: TableWriter,
    remote: RemoteFetcher | None,
    parallel: bool,
) -> None:
    schema_fields = dataset.schemas[resource.name]["fields"]
    fields = [f["name"] for f in schema_fields]
    field_types = {f["name"]: f.get("type", "string") for f in schema_fields}
    concrete = [
        (index, source)
        for index, declared in enumerate(resource.sources)
        for source in (
            dataset.concrete_sources(declared) if isinstance(declared, FileSource) else [declared]
        )
    ]
    for index, source in concrete:
        where = f"{dataset.definition_file}: resources.{resource.name}.sources.{index}"
        if isinstance(source, DatasetSource):
            other = resolve_dataset(source.dataset, source.resource)
            _check_filled_by(other, source, fields, where, resource.schema_)
            for batch in other.batches([*other.fields, ORIGIN]):
                writer.write(_conform(pa.Table.from_batches([batch]), fields))
            # The rows keep their origins, so their layouts and problems come along.
            writer.layouts.extend(other.layouts)
            writer.problems.extend(other.problems, other.problem_counts, other.left_out)
            continue
        if isinstance(source, ApiSource):
            if remote is None:
                raise RemoteSourceNeeded(
                    f"{dataset.name}: resource {resource.name} is collected from "
                    f"{source.kind}, a public API, and this run asks no remote source "
                    "(--offline)"
                )
            records, label = remote.fetch(source)
            raw = records_source(records)
        else:
            path = dataset.source_path(source.path)
            label = f"{dataset.folder.name}/{source.path}"
            context = ReadContext(path, label, where, parallel, writer.problems)
            raw = read_file(source, context)
        shaper = Shaper(
            source, fields, field_types, label, where, resource.schema_, writer.problems
        )
        shaper.format_allowed = {
            f["name"] for f in schema_fields if f.get(ALLOW_FORMAT_CHARACTERS) is True
        }
        for batch in shaper.shape(raw):
            writer.write(batch)
        shaper.finish()
        writer.layouts.append(shaper.layout(source.kind))
        if isinstance(source, FileSource) and not source.allow_empty and not shaper.raw_rows:
            raise SourceError(
                f"{label}: no {'records' if isinstance(source, JsonSource) else 'rows'} below "
                "the header, so the table would be published empty; add the rows, or declare "
                "`allow_empty: true` on this source in dataset.yaml if it is empty on purpose"
            )


def _check_filled_by(
    other: Table, source: DatasetSource, fields: list[str], where: str, schema_name: str
) -> None:
    """Every field of ours comes from the other resource, or is declared `left_empty`."""
    missing = [f for f in fields if f not in other.fields and f not in source.left_empty]
    if missing:
        raise DefinitionError(
            f"{where}: resource {source.resource} of dataset {source.dataset} has no field "
            f"{listing([repr(f) for f in missing])} of schema {schema_name}; declare "
            f"`left_empty: [{', '.join(missing)}]` on this source if they are empty on purpose"
        )


def _conform(batch: pa.Table, fields: list[str]) -> pa.Table:
    """Exactly the schema's fields (missing ones empty) and the origin."""
    empty = pa.array([""] * batch.num_rows, pa.string())
    columns = {name: batch.column(name) if name in batch.column_names else empty for name in fields}
    columns[ORIGIN] = batch.column(ORIGIN)
    return pa.table(columns)


class Shaper:
    """Turns one source's raw batches into rows of the resource's fields."""

    def __init__(
        self,
        source: Shaping,
        fields: list[str],
        field_types: dict[str, str],
        label: str,
        where: str,
        schema_name: str,
        problems: SourceProblems | None = None,
    ) -> None:
        self.source = source
        self.fields = fields
        self.label = label
        self.where = where
        self.schema_name = schema_name
        self.problems = problems if problems is not None else SourceProblems()
        self.raw: RawSource | None = None
        self.identity = False
        rules = source.skip_rows if isinstance(source, FileSource) else []
        self.skips = [(normalise_header(rule.column), rule.matches) for rule in rules]
        # How the report names each rule: its column and its pattern, as dataset.yaml has them.
        self.skip_names = [f"{rule.column!r} ~ {rule.matches!r}" for rule in rules]
        numeric = ("number", "integer", "year")
        self.numeric = {name for name, kind in field_types.items() if kind in numeric}
        self.decimal_comma = isinstance(source, CsvSource) and source.decimal == ","
        melt = getattr(source, "melt", None)
        self.melt_columns = [normalise_header(h) for h in melt.columns] if melt else []
        self.seen_members: set[str] = set()
        self.unknown_names: set[tuple[str, str]] = set()
        self.mapping: dict[str, str] = {}
        self.raw_rows = 0  # rows the source held (before members are picked)
        self.format_allowed: set[str] = set()  # fields whose schema allows format characters

    def shape(self, raw: RawSource) -> Iterator[pa.Table]:
        source = self.source
        declared = dict(source.columns) if source.columns is not None else {}
        unnest = isinstance(source, JsonSource) and source.unnest is not None
        # Without `columns` (and `unnest`), the header's titles are the fields.
        identity = source.columns is None and not unnest
        self.raw = raw
        self.identity = identity
        if identity:
            # A title's layout whitespace is folded (a line break in a header cell): a field
            # whose name folds to the title is that column, as one with the very name is.
            folded = {normalise_header(name): name for name in self.fields}
            declared = {
                folded.get(header, header): header
                for header in _identity_mapping(source, raw.headers)
            }
            self._check_header_fields(raw, list(declared))
        if isinstance(source, JsonSource) and source.unnest is not None:
            for name in (*source.unnest.keys, source.unnest.value):
                declared.setdefault(name, name)
        self.mapping = {name: normalise_header(header) for name, header in declared.items()}
        self._check_produced()
        needed = dict(self.mapping)
        if source.municipality is not None:
            key = "code" if source.municipality.code is not None else "name"
            needed[f"municipality.{key}"] = normalise_header(getattr(source.municipality, key))
        melt = getattr(source, "melt", None)
        if melt is not None:
            for header in self.melt_columns:
                needed[f"melt.columns {header!r}"] = header
        for header, _ in self.skips:
            needed[f"skip_rows {header!r}"] = header
        if raw.headers:
            self._check_untitled(raw, needed)
            note = raw.header_note + self._delimiter_hint(raw)
            _require_headers(needed, raw.headers, self.where, self.label, note)
        twice = sorted(raw.duplicated & set(needed.values()))
        if twice and twice[0] in raw.title_cells:
            raise SourceError(
                f"{raw.header_at}: {raw.title_cells[twice[0]]} have the same title {twice[0]!r}; "
                "add the header row that tells them apart to `header_rows` in dataset.yaml, so "
                "that it is clear which one to publish"
            )
        if twice:
            raise SourceError(
                f"{raw.header_at or self.label}: column {twice[0]!r} appears more than once in "
                "the header; rename one of them so that it is clear which one to publish"
            )
        known = set(raw.headers)
        for batch in raw.batches:
            if identity:
                self._check_new_keys(batch, known)
            if self.skips:
                batch = self._skip(batch)
            self.raw_rows += batch.num_rows
            shaped = self._shape_batch(batch)
            if shaped.num_rows:
                yield shaped

    def _check_untitled(self, raw: RawSource, needed: dict[str, str]) -> None:
        """A title '' in the definition names the column without a title (the first column of
        a CSV file written with R's row names, say): there must be exactly one."""
        keys = [key for key, title in needed.items() if title == ""]
        if not keys:
            return
        untitled = [index for index, title in enumerate(raw.headers) if not title]
        if len(untitled) == 1:
            return
        if isinstance(self.source, XlsxSource):
            from openpyxl.utils.cell import get_column_letter

            shown = [get_column_letter(index + 1) for index in untitled]
        else:
            shown = [str(index + 1) for index in untitled]
        start = f"{self.where}: {keys[0]}: '' names the column without a title"
        if not untitled:
            titles = listing([repr(h) for h in raw.headers])
            raise SourceError(f"{start}, but every column of {self.label} has one ({titles})")
        raise SourceError(
            f"{start}, but {self.label} has {len(untitled):,} columns without one (columns "
            f"{listing(shown)}, at {raw.header_at}), so it cannot say which; name the column by "
            "a title instead (with `header_rows`, a title in another row of the header counts)"
        )

    def _skip(self, batch: pa.Table) -> pa.Table:
        """The rows that no `skip_rows` rule matches (Arrow's RE2, on the trimmed cell)."""
        matched: Any = None
        for (header, pattern), rule in zip(self.skips, self.skip_names, strict=True):
            if header not in batch.column_names:
                continue  # a record without the key
            hit = pc.fill_null(
                pc.match_substring_regex(strip(batch.column(header)), pattern), False
            )
            if matched is not None:  # a row two rules match is counted under the first
                hit = pc.and_(hit, pc.invert(matched))
            self._leave_out(batch.column(ORIGIN).filter(hit), rule)
            matched = hit if matched is None else pc.or_(matched, hit)
        if matched is None:
            return batch
        if self.problems.listed and pc.any(matched).as_py():
            # What the reader found in a row left out is no problem (a total row's formula).
            self.problems.discard(set(batch.column(ORIGIN).filter(matched).to_pylist()))
        return batch.filter(pc.invert(matched))

    def _leave_out(self, origins: Any, rule: str) -> None:
        """Count the rows a rule leaves out, for the report (the first few by their row)."""
        if not len(origins):
            return
        place = self.raw.place if self.raw is not None and self.raw.place else self.label
        shown = origins.slice(0, LISTED_LEFT_OUT).to_pylist()
        rows = [o[len(place) + 2 :] if o.startswith(place + ", ") else o for o in shown]
        self.problems.leave_out(place, "skip_rows", rows, len(origins), rule)

    def _check_header_fields(self, raw: RawSource, titles: list[str]) -> None:
        """Without `columns`, every titled column is a field: one the schema lacks is a problem
        of the source file (named with its header), not of dataset.yaml."""
        if raw.merged_header:
            raise SourceError(
                f"{raw.header_at}: merged cells {listing(raw.merged_header)} in the header title "
                "only their first column with `header_row`; declare the header with `header_rows` "
                "instead (adding the row below when it tells the spanned columns apart) to give a "
                "merged title to every column it spans, or choose the columns to publish with "
                "`columns` in dataset.yaml"
            )
        extra = [title for title in dict.fromkeys(titles) if title not in self.fields]
        if extra:
            what = "column {} is not a field" if len(extra) == 1 else "columns {} are not fields"
            raise SourceError(
                f"{raw.header_at or self.label}: "
                + what.format(listing([repr(h) for h in extra]))
                + f" of schema {self.schema_name} (its fields: "
                f"{listing([repr(f) for f in self.fields])}); "
                "remove them from the file, add them to the schema, or choose the columns to "
                "publish with `columns` in dataset.yaml" + self._delimiter_hint(raw)
            )

    def _delimiter_hint(self, raw: RawSource) -> str:
        """A hint in both languages when the header reads as one column holding `;` (or a
        tab): the file is separated by it."""
        from opendata.messages import delimiter_hint

        if not isinstance(self.source, CsvSource):
            return ""
        hint = delimiter_hint(raw.headers, self.source.delimiter)
        return f"\n{hint.sv}\n{hint.en}" if hint else ""

    def _check_new_keys(self, batch: pa.Table, known: set[str]) -> None:
        """Records (JSON, APIs) may bring keys the first record lacked: without `columns`, such
        a key is a field like any other (mapped from here on: the earlier records lacked it), and
        one the schema lacks must not vanish silently."""
        for name in batch.column_names:
            if name == ORIGIN or name in known:
                continue
            known.add(name)
            if name in self.fields:
                self.mapping.setdefault(name, name)
                continue
            column = batch.column(name)
            filled = pc.greater(pc.utf8_length(column), 0)
            if pc.any(filled).as_py():
                origin = batch.column(ORIGIN)[pc.index(filled, True).as_py()].as_py()
                raise SourceError(
                    f"{origin}: key {name!r} is not a field of schema {self.schema_name} (its "
                    f"fields: {listing([repr(f) for f in self.fields])}); remove it from the "
                    "file, add it to the schema, or choose the fields with `columns` in "
                    "dataset.yaml"
                )

    def _check_produced(self) -> None:
        """Fields a source would fill that the schema does not have: a definition error."""
        produced = set(self.mapping) | set(self.source.constants)
        if self.source.municipality is not None:
            produced.add("kommunkod")
        melt = getattr(self.source, "melt", None)
        if melt is not None:
            produced.update((melt.variable, melt.value))
        extra = sorted(produced - set(self.fields))
        if extra:
            raise DefinitionError(
                f"{self.where}: produces field(s) {', '.join(extra)} that schema "
                f"{self.schema_name} does not have"
            )
        filled = sorted(produced & set(self.source.left_empty))
        if filled:
            raise DefinitionError(
                f"{self.where}: left_empty: {', '.join(repr(f) for f in filled)} "
                f"{'is' if len(filled) == 1 else 'are'} filled by this source "
                f"({self._filled_by(filled[0])}); take {'it' if len(filled) == 1 else 'them'} "
                "out of left_empty"
            )

    def _filled_by(self, name: str) -> str:
        if name in self.source.constants:
            return f"constants: {name}"
        if name in self.mapping:
            return f"column {self.mapping[name]!r}"
        return "the municipality" if name == "kommunkod" else "melt"

    def _filled(self) -> set[str]:
        """The fields this source gives a value: columns, constants, municipality, melt."""
        filled = set(self.mapping) | set(self.source.constants)
        if self.source.municipality is not None:
            filled.add("kommunkod")
            if "kommun" in self.fields:
                filled.add("kommun")
        melt = getattr(self.source, "melt", None)
        if melt is not None:
            filled.update((melt.variable, melt.value))
        return filled

    def _shape_batch(self, batch: pa.Table) -> pa.Table:
        source = self.source
        cells = {name: self._symbols(batch.column(name)) for name in batch.column_names}
        origins = batch.column(ORIGIN)
        values: dict[str, Any] = {}
        if source.municipality is not None:
            codes, keep = self._municipalities(cells, origins)
            cells = {name: pc.filter(column, keep) for name, column in cells.items()}
            origins = pc.filter(origins, keep)
            codes = pc.filter(codes, keep)
            values["kommunkod"] = codes
            if "kommun" in self.fields and "kommun" not in self.mapping:
                register = national_register()
                values["kommun"] = _map_distinct(codes, lambda code: register[code])
        rows = len(origins)
        for name, header in self.mapping.items():
            values[name] = cells[header] if header in cells else _constant("", rows)
        for name, constant in source.constants.items():
            values[name] = _constant(cell_text(constant), rows)
        melt = getattr(source, "melt", None)
        if melt is None:
            return self._finish(values, origins, rows)
        parts = []
        for header in self.melt_columns:
            melted = dict(values)
            melted[melt.variable] = _constant(header, rows)
            melted[melt.value] = cells[header]
            where = pc.binary_join_element_wise(origins, f", column {header!r}", "")
            parts.append(self._finish(melted, where, rows))
        if not parts:
            return self._finish({}, pa.array([], pa.string()), 0)
        # One row per (record, melted column), in the order the old row-by-row code made them.
        combined = pa.concat_tables(parts)
        count = len(parts)
        order = (np.arange(count)[None, :] * rows + np.arange(rows)[:, None]).ravel()
        return combined.take(int64_array(order))

    def _symbols(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        """Legend symbols ('–', '..') replaced by what the legend says they mean."""
        symbols = self.source.symbols
        if not symbols:
            return column
        stripped = strip(column)
        keys = pa.array(list(symbols), pa.string())
        meanings = pa.array([cell_text(value) for value in symbols.values()], pa.string())
        index = pc.index_in(stripped, value_set=keys)
        replaced = pc.take(meanings, pc.fill_null(index, 0))
        result: pa.ChunkedArray = pc.if_else(pc.is_valid(index), replaced, column)
        return result

    def _municipalities(
        self, cells: dict[str, pa.ChunkedArray], origins: pa.ChunkedArray
    ) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
        """Each row's municipality code, and which rows to keep (members, real codes)."""
        spec = self.source.municipality
        assert spec is not None
        if spec.code is not None:
            codes = _map_distinct(cells[normalise_header(spec.code)], normalise_code)
        else:
            column_name = normalise_header(spec.name)
            column = cells[column_name]

            def code_of(name: str) -> str | None:
                if not name.strip():
                    return "\0blank"
                return code_for_name(name) or "\0unknown"

            codes = _map_distinct(column, code_of)
            bad = pc.starts_with(pc.fill_null(codes, ""), "\0")
            if pc.any(bad).as_py():
                self._unknown_names(column_name, cells, codes, bad, origins)
                codes = pc.if_else(bad, pa.scalar(None, pa.string()), codes)
        keep = pc.is_valid(codes)
        if spec.members_only:
            keep = pc.and_(keep, pc.is_in(codes, value_set=pa.array(list(MEMBERS))))
        keep = pc.fill_null(keep, False)
        self.seen_members.update(
            str(code) for code in pc.unique(pc.filter(codes, keep)).to_pylist() if code
        )
        return codes, keep

    def _finish(self, values: dict[str, Any], origins: Any, rows: int) -> pa.Table:
        """Cleaned text for every schema field (stripped; decimal comma for numbers)."""
        columns: dict[str, Any] = {}
        for name in self.fields:
            column = values.get(name)
            if column is None:
                columns[name] = _constant("", rows)
                continue
            column = strip(column)
            if self.decimal_comma and name in self.numeric:
                column = decimal_comma(column)
            if first_control_character(column) is not None:
                self._control_characters(name, column, origins)
            if not _all_ascii(column):
                # Canonically equivalent text is one text: "Borå" + a combining ring (as macOS
                # writes it) is published as, and compared as, "Borås" (NFC).
                column = pc.utf8_normalize(column, "NFC")
                if name not in self.format_allowed:
                    self._format_characters(name, column, origins)
            columns[name] = column
        columns[ORIGIN] = origins
        return pa.table(columns)

    def _control_characters(self, name: str, column: Any, origins: Any) -> None:
        """Every cell of `column` holding a control character becomes a problem (the first
        `LISTED_PER_CODE` listed, all counted); the reading goes on."""
        code = "control-character"
        hits = pc.match_substring_regex(column, CONTROL_PATTERN)
        indices = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
        for number, at in enumerate(indices):
            if not self.problems.wants(code):
                self.problems.count(code, len(indices) - number)  # counted, not listed
                break
            cell = str(column[int(at)].as_py())
            char = next(c for c in cell if ord(c) < 32 and CONTROL_CHARACTERS[ord(c)])
            nul = " (NUL)" if char == chr(0) else ""
            self.problems.add(
                SourceProblem(
                    code,
                    str(origins[int(at)].as_py()),
                    f"{shown(cell)} holds the control character U+{ord(char):04X}{nul}, which "
                    "text tools, XML and web pages cannot show and which usually comes from a "
                    "broken export; remove it from the source",
                    f"{shown(cell)} innehåller styrtecknet U+{ord(char):04X}{nul}, som "
                    "textverktyg, XML och webbsidor inte kan visa och som oftast kommer från en "
                    "trasig export; ta bort det i källan",
                    field=name,
                    column=self.column_of(name),
                )
            )

    def _format_characters(self, name: str, column: Any, origins: Any) -> None:
        """Every cell holding an invisible format character (Unicode category Cf: the
        right-to-left override that shows "txt.exe" as "exe.txt", zero-width spaces, soft
        hyphens, byte-order marks inside text) becomes a problem, as control characters do;
        a field whose schema says `"opendata:allowFormatCharacters": true` may hold them."""
        code = "format-character"
        hits = pc.fill_null(pc.match_substring_regex(column, r"\p{Cf}"), False)
        indices = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
        for number, at in enumerate(indices):
            if not self.problems.wants(code):
                self.problems.count(code, len(indices) - number)
                break
            cell = str(column[int(at)].as_py())
            char = next(c for c in cell if unicodedata.category(c) == "Cf")
            label = unicodedata.name(char, "")
            named = f"U+{ord(char):04X}" + (f" ({label})" if label else "")
            self.problems.add(
                SourceProblem(
                    code,
                    str(origins[int(at)].as_py()),
                    f"{shown(cell)} holds the invisible format character {named}, which changes "
                    "how the text is shown or matched without being seen; remove it from the "
                    'source (or allow it with `"opendata:allowFormatCharacters": true` on the '
                    "field in its Table Schema)",
                    f"{shown(cell)} innehåller det osynliga formattecknet {named}, som ändrar hur "
                    "texten visas eller jämförs utan att synas; ta bort det i källan (eller "
                    'tillåt det med `"opendata:allowFormatCharacters": true` på fältet i dess '
                    "Table Schema)",
                    field=name,
                    column=self.column_of(name),
                )
            )

    def column_of(self, name: str) -> str | None:
        """The source's title of the column a field is read from (None: not from a column)."""
        if name in self.mapping:
            return self.mapping[name]
        municipality = self.source.municipality
        if municipality is not None and name in ("kommunkod", "kommun"):
            return normalise_header(municipality.code or municipality.name)
        return None

    def layout(self, kind: str) -> SourceLayout:
        """How this source's rows lead back to it (after the last batch)."""
        raw = self.raw
        columns = {name: title for name in self.fields if (title := self.column_of(name))}
        source = self.source
        return SourceLayout(
            place=(raw.place if raw is not None else "") or self.label,
            label=self.label,
            kind=kind,
            sheet=source.sheet if isinstance(source, XlsxSource) else None,
            columns=columns,
            letters=dict(raw.letters) if raw is not None else {},
            constants=tuple(source.constants),
            delimiter=source.delimiter if isinstance(source, CsvSource) else ",",
            decimal=source.decimal if isinstance(source, CsvSource) else ".",
            symbols=tuple(source.symbols),
        )

    def _unknown_names(
        self, title: str, cells: dict[str, Any], codes: Any, bad: Any, origins: Any
    ) -> None:
        """Rows whose municipality name maps to no municipality: each a problem (the row is
        left out), once a row of the source (a JSON record, a melted row give several); a
        total row or a note with the hint that leaves it out for good."""
        code = "unknown-municipality"
        column = cells[title]
        for at in np.flatnonzero(pc.fill_null(bad, False).to_numpy(zero_copy_only=False)):
            value = str(column[int(at)].as_py() or "")
            origin = str(origins[int(at)].as_py())
            row = SOURCE_ROW.search(origin)
            seen = (value.strip(), origin[: row.end()] if row else origin)
            if seen in self.unknown_names:
                continue
            if not self.problems.wants(code):
                self.problems.count(code)  # counted, not listed; the look-up set stays small
                continue
            self.unknown_names.add(seen)
            if codes[int(at)].as_py() == "\0blank":
                note, note_sv = "no municipality name", "kommunens namn saknas"
            else:
                note = f"{shown(value)} is not the name of a Swedish municipality"
                note_sv = f"{shown(value)} är inte namnet på en svensk kommun"
            hint = self._row_hint(title, value, cells, int(at), origin)
            if hint is not None:
                note, note_sv = f"{note}. {hint.en}", f"{note_sv}. {hint.sv}"
            self.problems.add(
                SourceProblem(code, origin, note, note_sv, field="kommunkod", column=title)
            )

    def _row_hint(
        self, title: str, value: str, cells: dict[str, Any], at: int, origin: str
    ) -> Text | None:
        """Why a row has no municipality, when it is a total (in any of its cells) or a note."""
        row = {name: column[at].as_py() for name, column in cells.items() if name != ORIGIN}
        total = total_in_row(row)
        if total is not None:
            return total_row_hint(*total)
        return note_row_hint(value, origin) if value.strip() else None

    def finish(self) -> None:
        """After the last batch: every member municipality must have been in the source, and
        every field of the schema filled (or declared `left_empty`)."""
        municipality = self.source.municipality
        if municipality is not None and municipality.members_only and municipality.require_all:
            missing = sorted(set(MEMBERS) - self.seen_members)
            if missing:
                names = ", ".join(f"{MEMBERS[c]} ({c})" for c in missing)
                self.problems.add(
                    SourceProblem(
                        "missing-member",
                        self.label,
                        f"member municipalities missing: {names}",
                        f"medlemskommuner saknas: {names}",
                        field="kommunkod",
                        column=self.column_of("kommunkod"),
                    )
                )
        filled = self._filled()
        for name in self.fields:
            if name in filled or name in self.source.left_empty:
                continue
            if self.identity:
                why = f"the header has no column titled {name!r}"
                why_sv = f"rubrikraden har ingen kolumn som heter {name!r}"
            else:
                why = "`columns` in dataset.yaml names no column for it"
                why_sv = "`columns` i dataset.yaml anger ingen kolumn för det"
            self.problems.add(
                SourceProblem(
                    "missing-label",
                    self.label,
                    f"no column fills field {name!r} of schema {self.schema_name}: {why}; add "
                    "the column, map one to it with `columns`, give it in `constants`, or "
                    f"declare `left_empty: [{name}]` on the source in dataset.yaml if the field "
                    "is empty on purpose",
                    f"ingen kolumn fyller fältet {name!r} i schemat {self.schema_name}: "
                    f"{why_sv}; lägg till kolumnen, koppla en kolumn till fältet med `columns`, "
                    f"ge värdet i `constants`, eller ange `left_empty: [{name}]` för källan i "
                    "dataset.yaml om fältet ska vara tomt",
                    field=name,
                )
            )


# Where an origin names its row ("…, row 7", "…, record 3"): what follows is a part of it.
SOURCE_ROW = re.compile(r", (?:row|record|line) \d+")
# C0 control characters but tab, line feed and carriage return (what XML 1.0 forbids too).
CONTROL_CHARACTERS = np.zeros(256, dtype=bool)
CONTROL_CHARACTERS[[c for c in range(32) if c not in (9, 10, 13)]] = True
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


ALLOW_FORMAT_CHARACTERS = "opendata:allowFormatCharacters"


def _all_ascii(column: pa.Array | pa.ChunkedArray) -> bool:
    """Whether every byte of the text column is ASCII (a numpy look at Arrow's buffers)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if len(chunk) and chunk.buffers()[2] is not None:
            wide = pa.types.is_large_string(chunk.type)
            offsets = np.frombuffer(chunk.buffers()[1], np.int64 if wide else np.int32)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            data = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
            if len(data) and int(data.max()) >= 128:
                return False
    return True


def first_control_character(column: pa.Array | pa.ChunkedArray) -> int | None:
    """The index of the first cell holding a control character, or None.

    A look at the column's bytes (numpy over Arrow's buffer, about a millisecond a million
    cells) clears nearly every column; only one that holds such a byte is searched cell by
    cell. UTF-8 never uses these bytes inside a longer character, so a byte is a character."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    base = 0
    for chunk in chunks:
        if len(chunk) and chunk.buffers()[2] is not None:
            wide = pa.types.is_large_string(chunk.type)
            offsets = np.frombuffer(chunk.buffers()[1], np.int64 if wide else np.int32)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            data = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
            low = data[data < 32]  # tabs and line ends are the usual few, often none
            if len(low) and CONTROL_CHARACTERS[low].any():
                hits = pc.match_substring_regex(chunk, CONTROL_PATTERN)
                at = pc.index(hits, True).as_py()
                if at >= 0:
                    return base + int(at)
        base += len(chunk)
    return None


def _constant(text: str, rows: int) -> pa.Array:
    return pa.array([text] * rows, pa.string()) if rows else pa.array([], pa.string())


def _map_distinct(column: Any, function: Callable[[str], str | None]) -> pa.ChunkedArray:
    """Apply a Python function once per distinct value (codes, names: a few hundred at most)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
    encoded = pc.dictionary_encode(column)
    mapped = pa.array([function(value) for value in encoded.dictionary.to_pylist()], pa.string())
    return pa.chunked_array([pc.take(mapped, encoded.indices)], pa.string())


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


def _require_headers(
    needed: dict[str, str], headers: list[str], where: str, label: str, note: str = ""
) -> None:
    present = set(headers)
    for key, header in needed.items():
        if header not in present:
            shown = listing([repr(h) for h in headers if h])
            raise SourceError(
                f"{where}: {key}: column {header!r} is not in {label} (columns: {shown}){note}"
            )


# Swedish numbers: a decimal comma, and digits grouped in threes by a space (or a no-break or
# narrow no-break space). A space anywhere else ("3 25") is not a group: such a cell is left as
# it is, and validation names it as no number, instead of reading it as 325.
_GROUP_SPACES = "[ \u00a0\u202f]"
_GROUPED_NUMBER = (
    f"^[^0-9]*[0-9]{{1,3}}(?:{_GROUP_SPACES}[0-9]{{3}})+(?:,[0-9]*)?(?:[eE][+-]?[0-9]+)?[^0-9]*$"
)


def decimal_comma(column: Any) -> Any:
    """The cells of a numeric column written with a decimal comma, as Table Schema numbers:
    group spaces removed where they separate groups of three digits, the comma a point."""
    converted = column
    for old, new in (("\u00a0", ""), ("\u202f", ""), (" ", ""), (",", ".")):
        converted = pc.replace_substring(converted, old, new)
    spaced = pc.match_substring_regex(column, _GROUP_SPACES)
    grouped = pc.match_substring_regex(column, _GROUPED_NUMBER)
    misplaced = pc.fill_null(pc.and_(spaced, pc.invert(grouped)), False)
    return pc.if_else(misplaced, column, converted)
