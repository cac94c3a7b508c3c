"""Running a plan: a relation's slots compiled to staged SQL, the cells' status computed in passes
of bounded width, and every error counted while the first of each kind are listed in
frictionless's order (row, phase, field). The face (engine/checks.py), the foreign keys and the
CSV reader all run their tables through `run_plan`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from opendata.engine.columns import compile_column
from opendata.engine.compiler import (
    NONE_BIT,
    TYPE_BIT,
    Builder,
    Column,
    NeedKeys,
    fields_of,
    first_row,
    primary_key,
    scalar,
)
from opendata.engine.db import quote_identifier
from opendata.engine.udf import register_udf
from opendata.engine.verdicts import (
    LABEL_ORDER,
    PHASE,
    Found,
    TableVerdict,
    Violation,
    add_count,
    first_of_each,
)


@dataclass
class Slot:
    """One cell frictionless expects in a row: a schema field, or an "any" field the header adds
    for an extra label (field None). `raw` is the cell's SQL over the relation (alias __src)."""

    pos: int
    name: str
    raw: str
    field: dict[str, Any] | None


@dataclass
class Plan:
    """What to check in one relation, as frictionless sees the table after its header."""

    name: str
    relation: str
    schema: dict[str, Any]
    slots: list[Slot]
    cells_sql: str | None = None  # the number of cells in the row (CSV): extra/missing cells
    flags: Sequence[str] = ()  # the caller's own row conditions, counted in the same pass


def source_sql(
    relation: str, slots: list[Slot], cells_sql: str | None = None, flags: Sequence[str] = ()
) -> str:
    items = ["__src.__row AS __row"]
    if cells_sql:
        items.append(f"{cells_sql} AS __n")
    items.extend(f"{slot.raw} AS __c{i}" for i, slot in enumerate(slots))
    items.extend(f"coalesce({flag}, false) AS __x{j}" for j, flag in enumerate(flags))
    return f"(SELECT {', '.join(items)} FROM {relation} AS __src)"


def stage_sql(source: str, stages: list[list[tuple[str, str]]]) -> str:
    sql = source
    for stage in stages:
        if stage:
            items = ", ".join(f"{expr} AS {quote_identifier(alias)}" for alias, expr in stage)
            sql = f"(SELECT *, {items} FROM {sql})"
    return sql


def compile_slots(
    slots: list[Slot], schema: dict[str, Any], keyed: set[str], numeric: set[str]
) -> tuple[list[Column], list[list[tuple[str, str]]]]:
    """Every slot compiled over source_sql's __c{i}; the stages of all columns merged."""
    columns = []
    builders = []
    for i, slot in enumerate(slots):
        b = Builder(f"__f{i}_")
        need = NeedKeys(unique=slot.name in keyed, numeric=slot.name in numeric)
        raw = quote_identifier(f"__c{i}")
        columns.append(compile_column(b, slot.pos, slot.name, raw, slot.field, schema, need))
        builders.append(b)
    depth = max((len(b.stages) for b in builders), default=0)
    stages = [
        [item for b in builders if k < len(b.stages) for item in b.stages[k]] for k in range(depth)
    ]
    return columns, stages


def status_sql(column: Column) -> str:
    """The cell's status bits: None (+ the required bit), type error, or failing constraints
    (checked only on a present, well-typed value, as frictionless does)."""
    terms = []
    required = 0
    for k, (_, _, fails) in enumerate(column.checks):
        bit = 4 << k
        if fails == "__required__":
            required = bit
            continue
        terms.append(f"(CASE WHEN coalesce({fails}, false) THEN {bit} ELSE 0 END)")
    present = " + ".join(terms) if terms else "0"
    return (
        f"(CASE WHEN {column.none} THEN {NONE_BIT | required} "
        f"WHEN NOT {column.ok} THEN {TYPE_BIT} ELSE {present} END)"
    )


class Session:
    """Temporary tables of one check, dropped at the end."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.tables: list[str] = []
        self.on_close: list[str] = []  # statements restoring the connection's settings

    def table(self, stem: str) -> str:
        name = f"__opendata_{stem}_{uuid.uuid4().hex[:12]}"
        self.tables.append(name)
        return quote_identifier(name)

    def close(self) -> None:
        for name in self.tables:
            self.con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
        for statement in self.on_close:
            self.con.execute(statement)
        self.tables.clear()
        self.on_close.clear()


def run_plan(
    session: Session, plan: Plan, limit: int, label_errors: Sequence[Violation] = ()
) -> TableVerdict:
    """Check one table: cells (types, constraints), blank rows, extra/missing cells, unique
    fields and the primary key. One pass computes every cell's status bits (2 bytes a cell)
    and the keyed fields' keys into a temporary table small enough to stay in memory; the
    counts and the first `limit` errors of each type come from it, and the text of a cell is
    read again only for the cells listed."""
    con = session.con
    register_udf(con)
    keyed = _keyed_fields(plan)
    source = source_sql(plan.relation, plan.slots)  # the cells' texts, for the report
    # Every query below orders by __row, so the status table need not keep the source's order:
    # without it DuckDB writes the table in parallel and under the memory limit at twice the
    # speed (0.28 s instead of 0.59 s for 1M x 8 cells at 128MB).
    _unordered_while(session)
    columns, where_is = _status_table(session, plan, keyed.names)

    totals = _count_cells(con, plan, columns, where_is)
    counts: dict[str, int] = {}
    add_count(counts, "blank-row", totals["blank-row"])
    for i in range(len(columns)):
        add_count(counts, "type-error", totals[f"type-error {i}"])
        add_count(counts, "constraint-error", totals[f"constraint-error {i}"])
    if plan.cells_sql:
        add_count(counts, "extra-cell", totals["extra-cell"])
        add_count(counts, "missing-cell", totals["missing-cell"])
    found = _first_cell_errors(con, plan, columns, where_is, totals, source, limit)
    found.extend(_key_errors(con, columns, where_is, keyed, counts, limit))
    for order, violation in enumerate(label_errors):
        found.append(((-1, LABEL_ORDER.get(violation.type, 3), order, 0), violation))
        add_count(counts, violation.type, 1)
    flagged = _flagged(con, where_is, totals, len(plan.flags), limit)
    return TableVerdict(plan.name, totals["rows"], first_of_each(found, limit), counts, flagged)


@dataclass
class _Keyed:
    """The fields whose values are compared across rows: the unique fields, and the primary key
    (empty when the schema has none or the table lacks one of its fields)."""

    unique: list[str]
    primary: list[str]

    @property
    def names(self) -> set[str]:
        return set(self.unique) | set(self.primary)


def _keyed_fields(plan: Plan) -> _Keyed:
    kept = {s.name for s in plan.slots if s.field is not None}
    unique = [
        s.name
        for s in plan.slots
        if s.field is not None and (s.field.get("constraints") or {}).get("unique")
    ]
    pk = primary_key(plan.schema)
    return _Keyed(unique, pk if pk and set(pk) <= kept else [])


def _count_cells(
    con: duckdb.DuckDBPyConnection, plan: Plan, columns: list[Column], where_is: _Status
) -> dict[str, int]:
    """Every count of the check, by name: "rows", "blank-row", "type-error i" and
    "constraint-error i" for the i-th column, "extra-cell", "missing-cell" (when the plan
    counts a row's cells) and "flag j" for the j-th of the caller's flags."""
    width = len(plan.slots)
    aggregates = {
        "rows": (where_is.of(), "count(*)"),
        "blank-row": (where_is.of(), "count_if(__blank)"),
    }
    for i in range(len(columns)):
        where = where_is.of(f"__st{i}")
        aggregates[f"type-error {i}"] = (
            where,
            f"count_if(NOT __blank AND (__st{i} & {TYPE_BIT}) <> 0)",
        )
        aggregates[f"constraint-error {i}"] = (
            where,
            f"sum(CASE WHEN __blank THEN 0 ELSE bit_count(__st{i} >> 2) END)",
        )
    if plan.cells_sql:
        where = where_is.of("__n")
        aggregates["extra-cell"] = (
            where,
            f"sum(CASE WHEN NOT __blank AND __n > {width} THEN __n - {width} END)",
        )
        aggregates["missing-cell"] = (
            where,
            f"sum(CASE WHEN NOT __blank AND __n < {width} THEN {width} - __n END)",
        )
    for j in range(len(plan.flags)):
        aggregates[f"flag {j}"] = (where_is.of(f"__x{j}"), f"count_if(__x{j})")
    return _totals(con, aggregates)


def _first_cell_errors(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    columns: list[Column],
    where_is: _Status,
    totals: dict[str, int],
    source: str,
    limit: int,
) -> Found:
    """The first `limit` rows of each column and kind (enough for the first `limit` of a type),
    with the text read back from `source` for those cells only."""
    width = len(plan.slots)
    queries = []
    n = "__n" if plan.cells_sql else "NULL::BIGINT"
    if totals["blank-row"]:
        queries.append(
            f"(SELECT __row, -1 AS col, 0 AS st, NULL::BIGINT AS n FROM {where_is.of()} "
            f"WHERE __blank ORDER BY __row LIMIT {limit})"
        )
    for i in range(len(columns)):  # type errors, then constraint errors (each its own limit)
        for condition, count in (
            (f"(__st{i} & {TYPE_BIT}) <> 0", totals[f"type-error {i}"]),
            (f"__st{i} >= 4", totals[f"constraint-error {i}"]),
        ):
            if count:  # only the columns with errors: a wide table has hundreds without
                where = where_is.of(f"__st{i}", *(["__n"] if plan.cells_sql else []))
                queries.append(
                    f"(SELECT __row, {i} AS col, __st{i} AS st, {n} AS n FROM {where} "
                    f"WHERE NOT __blank AND {condition} ORDER BY __row LIMIT {limit})"
                )
    if plan.cells_sql:
        for kind, condition in (
            ("extra-cell", f"__n > {width}"),
            ("missing-cell", f"__n < {width}"),
        ):
            if totals[kind]:
                queries.append(
                    f"(SELECT __row, -2 AS col, 0 AS st, __n AS n FROM {where_is.of('__n')} "
                    f"WHERE NOT __blank AND {condition} ORDER BY __row LIMIT {limit})"
                )
    listed = []
    for start in range(0, len(queries), QUERIES_A_PASS):  # a bounded number of sorts at once
        listed.extend(
            con.execute(" UNION ALL ".join(queries[start : start + QUERIES_A_PASS])).fetchall()
        )
    texts = _cell_texts(con, source, {int(r) for r, col, _, _ in listed if col >= 0})
    found: Found = []
    for row, col, status, cells in listed:
        cell = texts.get((int(row), col)) if col >= 0 else None
        found.extend(_cell_violations(plan, columns, int(row), col, status, cell, cells))
    return found


def _key_errors(
    con: duckdb.DuckDBPyConnection,
    columns: list[Column],
    where_is: _Status,
    keyed: _Keyed,
    counts: dict[str, int],
    limit: int,
) -> Found:
    """Unique fields and the primary key, counted into `counts`. A key cell reads as None when
    it is missing or not of its type (status bits 1 or 2): then its key columns are NULL."""
    found: Found = []
    by_name = {c.name: (i, c) for i, c in enumerate(columns) if c.field is not None}
    present = {name: f"(__st{by_name[name][0]} & 3) = 0" for name in keyed.names}
    for name in keyed.unique:
        i, column = by_name[name]
        keys = [f"__k{i}_{j}" for j in range(len(column.keys))]
        where = where_is.of(*keys, f"__st{i}", f"__nan{i}")
        total, repeats = duplicates(con, where, keys, f"{present[name]} AND NOT __nan{i}", limit)
        add_count(counts, "unique-error", total)
        for row, previous in repeats:
            note = f"the same as in the row at position {previous}"
            violation = Violation("unique-error", row, name, None, note)
            found.append(((row, PHASE["unique-error"], column.pos, 0), violation))
    if keyed.primary:
        pk = keyed.primary
        indexes = [by_name[name][0] for name in pk]
        keys = [f"__k{i}_{j}" for i in indexes for j in range(len(columns[i].keys))]
        none = " AND ".join(f"NOT {present[name]}" for name in pk)
        where = f"NOT ({none})" + "".join(f" AND NOT __nan{i}" for i in indexes)
        needed = [*keys, *(f"__st{i}" for i in indexes), *(f"__nan{i}" for i in indexes)]
        keyed_table = where_is.of(*needed)
        total, repeats = duplicates(con, keyed_table, keys, where, limit)
        empty = scalar(con, f"SELECT count(*) FROM {keyed_table} WHERE {none}")
        add_count(counts, "primary-key", total + empty)
        note = 'cells composing the primary keys are all "None"'
        for (row,) in con.execute(
            f"SELECT __row FROM {keyed_table} WHERE {none} ORDER BY __row LIMIT {limit}"
        ).fetchall():
            violation = Violation("primary-key", int(row), None, None, note)
            found.append(((int(row), PHASE["primary-key"], 0, 0), violation))
        for row, previous in repeats:
            note_again = f"the same as in the row at position {previous}"
            violation = Violation("primary-key", row, None, None, note_again)
            found.append(((row, PHASE["primary-key"], 0, 0), violation))
    return found


def _flagged(
    con: duckdb.DuckDBPyConnection,
    where_is: _Status,
    totals: dict[str, int],
    flags: int,
    limit: int,
) -> list[tuple[int, list[int]]]:
    """For each of the caller's flags: how many rows it marks and the first `limit` of them."""
    flagged = []
    for j in range(flags):
        count = totals[f"flag {j}"]
        rows = (
            con.execute(
                f"SELECT __row FROM {where_is.of(f'__x{j}')} WHERE __x{j} "
                f"ORDER BY __row LIMIT {limit}"
            ).fetchall()
            if count
            else []
        )
        flagged.append((count, [int(row) for (row,) in rows]))
    return flagged


# A query's stages carry every column they are given (SELECT *, …): their width, and DuckDB's
# memory a thread, grows with the columns times the stages. Past this many fields the cells are
# checked a group at a time, each group into a table of its own, joined on the row after: a
# table of 1,000 columns then stays within the default 128MB.
COLUMNS_A_PASS = 24
QUERIES_A_PASS = 32
AGGREGATES_A_PASS = 256  # the first errors of this many columns and kinds listed by one query


class _Status:
    """Where the status columns of a check are: one table, or for a wide table one table a
    group of columns (`parts`, each with __row) and the rows' blank flags in `blank`."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.parts: list[str] = []
        self.blank = table
        self.home: dict[str, int] = {}  # a column's name: the part that holds it

    def of(self, *names: str) -> str:
        """A relation with __row, __blank and the columns `names`."""
        if not self.parts:
            return self.table
        wanted = sorted({self.home[name] for name in names})
        if not wanted:
            return self.blank
        views = [
            f"(SELECT __p.* EXCLUDE (__blank{n}), __b.__blank FROM {self.parts[n]} AS __p "
            f"JOIN {self.blank} AS __b ON __b.__row = __p.__row)"
            for n in wanted
        ]
        if len(views) == 1:
            return views[0]
        picked = ", ".join(
            f"__v{k}.* EXCLUDE (__row, __blank)" if k else "__v0.*" for k in range(len(views))
        )
        joined = " ".join(
            f"JOIN {view} AS __v{k} ON __v{k}.__row = __v0.__row"
            for k, view in enumerate(views)
            if k
        )
        return f"(SELECT {picked} FROM {views[0]} AS __v0 {joined})"


def _totals(
    con: duckdb.DuckDBPyConnection, aggregates: dict[str, tuple[str, str]]
) -> dict[str, int]:
    """Each named (relation, aggregate)'s value, by its name: one query a relation, a bounded
    number of aggregates at a time, each aliased by its name and read back by that alias."""
    values: dict[str, int] = {}
    by_relation: dict[str, list[str]] = {}
    for name, (relation, _) in aggregates.items():
        by_relation.setdefault(relation, []).append(name)
    for relation, names in by_relation.items():
        for start in range(0, len(names), AGGREGATES_A_PASS):
            chosen = names[start : start + AGGREGATES_A_PASS]
            items = ", ".join(
                f"{aggregates[name][1]} AS {quote_identifier(name)}" for name in chosen
            )
            result = con.execute(f"SELECT {items} FROM {relation}")
            labels = [column[0] for column in result.description or []]
            rows = result.fetchall()
            assert rows and labels == chosen
            values.update(
                (label, int(value or 0)) for label, value in zip(labels, rows[0], strict=True)
            )
    return values


def _status_table(session: Session, plan: Plan, keyed: set[str]) -> tuple[list[Column], _Status]:
    """The status table (one row a source row: __row, __n, each column's status bits __st{i},
    the keyed columns' keys and NaN flags, __blank, the caller's flags __x{j}) made in one
    pass; for many columns or flags, a table a group of them (a table of thousands of columns
    would hold a block of memory a column): the compiled columns and where they are."""
    con = session.con
    slots = range(len(plan.slots))
    flags = range(len(plan.flags))
    column_groups = [slots[i : i + COLUMNS_A_PASS] for i in range(0, len(slots), COLUMNS_A_PASS)]
    # The flags ride along with the column groups (as many to a group as it takes): each
    # group is a query that binds the whole source relation again (0.15 s at 1,000 columns).
    flags_a_pass = max(COLUMNS_A_PASS, -(-len(flags) // max(1, len(column_groups))))
    flag_groups = [flags[i : i + flags_a_pass] for i in range(0, len(flags), flags_a_pass)]
    count = max(1, len(column_groups), len(flag_groups))
    status = _Status(session.table("cells"))
    columns: list[Column] = []
    for number in range(count):
        group = column_groups[number] if number < len(column_groups) else range(0)
        own_flags = flag_groups[number] if number < len(flag_groups) else range(0)
        chosen = [plan.slots[i] for i in group]
        compiled, stages = compile_slots(chosen, plan.schema, keyed, set())
        items = ["__src.__row AS __row"]
        if plan.cells_sql and number == 0:
            items.append(f"{plan.cells_sql} AS __n")
        items.extend(f"{slot.raw} AS __c{local}" for local, slot in enumerate(chosen))
        items.extend(f"coalesce({plan.flags[j]}, false) AS __x{j}" for j in own_flags)
        source = f"(SELECT {', '.join(items)} FROM {plan.relation} AS __src)"
        names = ["__n"] if plan.cells_sql and number == 0 else []
        final = ["__row", *names]
        for i, column in zip(group, compiled, strict=True):
            final.append(f"CAST({status_sql(column)} AS USMALLINT) AS __st{i}")
            names.append(f"__st{i}")
            if column.field is not None and column.name in keyed:
                for j, key in enumerate(column.keys):
                    final.append(f"{key} AS __k{i}_{j}")
                    names.append(f"__k{i}_{j}")
                final.append(f"coalesce({column.nan or 'false'}, false) AS __nan{i}")
                names.append(f"__nan{i}")
        blank = " AND ".join(f"{c.none}" for c in compiled)
        neutral = "false" if count == 1 else "true"  # a group of flags only: as blank as others
        final.append(
            f"({blank or neutral}) AS " + ("__blank" if count == 1 else f"__blank{number}")
        )
        final.extend(f"__x{j}" for j in own_flags)
        names.extend(f"__x{j}" for j in own_flags)
        part = status.table if count == 1 else session.table(f"cells{number}")
        con.execute(
            f"CREATE TEMP TABLE {part} AS SELECT {', '.join(final)} "
            f"FROM {stage_sql(source, stages)}"
        )
        columns.extend(compiled)
        if count > 1:
            status.parts.append(part)
            status.home.update(dict.fromkeys(names, number))
    if count > 1:  # a row is blank when it is blank in every group
        status.blank = session.table("blank")
        con.execute(
            f"CREATE TEMP TABLE {status.blank} AS SELECT __row, __blank0 AS __blank "
            f"FROM {status.parts[0]}"
        )
        for number, part in enumerate(status.parts[1:], start=1):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {status.blank} AS SELECT __b.__row, "
                f"__b.__blank AND __p.__blank{number} AS __blank FROM {status.blank} AS __b "
                f"JOIN {part} AS __p ON __p.__row = __b.__row"
            )
    return columns, status


def _unordered_while(session: Session) -> None:
    """Insertion order off for this check only: the staged tables' order is their row order,
    which the writers of the outputs rely on after the check."""
    ordered = first_row(session.con, "SELECT current_setting('preserve_insertion_order')")
    if ordered and ordered[0]:
        session.con.execute("SET preserve_insertion_order = false")
        session.on_close.append("SET preserve_insertion_order = true")


def _cell_texts(
    con: duckdb.DuckDBPyConnection, source: str, rows: set[int]
) -> dict[tuple[int, int], str | None]:
    """The text of every cell of the listed rows (a report quotes a few hundred at most)."""
    if not rows:
        return {}
    result: dict[tuple[int, int], str | None] = {}
    fetched = con.execute(
        f"SELECT * FROM {source} WHERE __row IN (SELECT unnest(?::BIGINT[]))", [sorted(rows)]
    )
    names = [d[0] for d in fetched.description]
    for record in fetched.fetchall():
        values = dict(zip(names, record, strict=True))
        for name, value in values.items():
            if name.startswith("__c"):
                result[(int(values["__row"]), int(name[3:]))] = value
    return result


def duplicates(
    con: duckdb.DuckDBPyConnection, relation: str, keys: list[str], where: str, limit: int
) -> tuple[int, list[tuple[int, int]]]:
    """How many rows repeat an earlier row's key (NULLs equal, as None == None), and the first
    `limit` of them with the row they repeat (the latest one before, as frictionless notes)."""
    key_list = ", ".join(keys)
    base = f"(SELECT __row, {key_list} FROM {relation} WHERE {where})"
    if _distinct_integers(con, base, keys):
        return 0, []
    groups = f"SELECT {key_list} FROM {base} GROUP BY ALL HAVING count(*) > 1"
    total = scalar(
        con,
        f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {base} "
        f"GROUP BY {key_list} HAVING count(*) > 1)",
    )
    if not total:
        return 0, []
    join = " AND ".join(f"b.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    repeats = con.execute(
        f"SELECT __row, previous FROM (SELECT b.__row, lag(b.__row) OVER "
        f"(PARTITION BY {', '.join('b.' + k for k in keys)} ORDER BY b.__row) AS previous "
        f"FROM {base} AS b SEMI JOIN ({groups}) AS d ON {join}) "
        f"WHERE previous IS NOT NULL ORDER BY __row LIMIT {limit}"
    ).fetchall()
    return total, [(int(r), int(p)) for r, p in repeats]


DENSE_KEY_SLACK = 4  # a key range up to this many times the rows is marked in an array
DENSE_KEY_BATCH = 1_000_000  # keys fetched at a time (4 MB), so memory stays bounded


def _distinct_integers(con: duckdb.DuckDBPyConnection, base: str, keys: list[str]) -> bool:
    """True when the rows' keys are certainly all different: a single integer key, never NULL,
    in a range not much wider than the rows, marked value by value in an array of one byte per
    possible value (a few milliseconds a million rows, where grouping takes sixty). Any other
    key (composite, text, sparse, with NULLs) is left to the exact grouping, as is a repeat
    found here (the grouping then names the rows)."""
    first, others = keys[0], keys[1:]
    stats = first_row(
        con,
        f"SELECT typeof(any_value({first})), min({first}), max({first}), count({first}), "
        f"count(*){''.join(f', count({k})' for k in others)} FROM {base}",
    )
    if stats is None or stats[4] == 0:
        return True  # no rows, no repeats
    kind, low, high, filled, rows, *other_filled = stats
    if kind not in ("HUGEINT", "BIGINT", "INTEGER") or filled != rows or any(other_filled):
        return False
    span = int(high) - int(low) + 1
    if span > DENSE_KEY_SLACK * rows + 1024:
        return False
    import numpy as np

    seen = np.zeros(span, dtype=bool)
    marked = 0
    offsets = con.sql(f"SELECT CAST({first} - ({int(low)}) AS UINTEGER) FROM {base}")
    reader = offsets.to_arrow_reader(DENSE_KEY_BATCH)
    try:  # closed however the loop ends: an unfinished result blocks the connection
        for batch in reader:
            values = batch.column(0).to_numpy()
            if seen[values].any():
                return False  # a key of an earlier batch
            seen[values] = True
            now = int(np.count_nonzero(seen))
            if now - marked != len(values):
                return False  # a key repeated within this batch
            marked = now
    finally:
        reader.close()
    return True


def _cell_violations(
    plan: Plan,
    columns: list[Column],
    row: int,
    col: int,
    status: int,
    cell: str | None,
    cells: int | None,
) -> Found:
    if col == -1:
        return [((row, PHASE["blank-row"], 0, 0), Violation("blank-row", row, None, None, ""))]
    if col == -2:
        assert cells is not None
        width = len(plan.slots)
        if cells > width:
            return [
                (
                    (row, PHASE["extra-cell"], position, 0),
                    Violation("extra-cell", row, None, None, f"cell at position {position}"),
                )
                for position in range(width + 1, cells + 1)
            ]
        return [
            (
                (row, PHASE["missing-cell"], slot.pos, 0),
                Violation("missing-cell", row, slot.name or None, None, ""),
            )
            for slot in plan.slots[cells:]
        ]
    column = columns[col]
    if status & TYPE_BIT:
        return [
            ((row, 0, column.pos, 0), Violation("type-error", row, column.name, cell, column.note))
        ]
    return [
        ((row, 0, column.pos, k + 1), Violation("constraint-error", row, column.name, cell, note))
        for k, (_, note, _) in enumerate(column.checks)
        if status & (4 << k)
    ]


def schema_slots(schema: dict[str, Any]) -> list[Slot]:
    return [
        Slot(pos, str(f["name"]), f"__src.{quote_identifier(str(f['name']))}", f)
        for pos, f in enumerate(fields_of(schema), start=1)
    ]
