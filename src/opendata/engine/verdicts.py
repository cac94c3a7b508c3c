"""What the checks report: one violation, one table's verdict, and the order errors are listed in.

Every part of the engine (the executor, the foreign keys, the CSV reader) reports in these terms,
so they live below all of them."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field


class Unsupported(ValueError):
    """The fast path cannot give frictionless's verdict here: fall back to frictionless."""


@dataclass(frozen=True)
class Violation:
    """One error as frictionless reports it (``type`` is frictionless's error type)."""

    type: str
    row: int | None
    field: str | None
    cell: str | None
    note: str


@dataclass
class TableVerdict:
    """Errors of one table: the first `limit` of each type listed, every type counted."""

    name: str
    rows: int
    errors: list[Violation]
    counts: dict[str, int]
    # For each of the caller's flags (check_table's `flags`), in order: how many rows it
    # marks and the first `limit` of them. Not errors of frictionless's: the caller's own.
    flagged: list[tuple[int, list[int]]] = dataclass_field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and not any(self.counts.values())


# Where an error sorts inside its row: frictionless's order (cell errors, extra and missing
# cells, then unique, primary key and foreign key errors).
PHASE = {
    "type-error": 0,
    "constraint-error": 0,
    "extra-cell": 1,
    "missing-cell": 2,
    "blank-row": 0,
    "unique-error": 3,
    "primary-key": 4,
    "foreign-key": 5,
}
LABEL_ORDER = {
    "source-error": -1,
    "extra-label": 0,
    "missing-label": 1,
    "blank-label": 2,
    "duplicate-label": 2,
    "incorrect-label": 2,
}


Found = list[tuple[tuple[int, int, int, int], Violation]]


def add_count(counts: dict[str, int], kind: str, count: int) -> None:
    if count:
        counts[kind] = counts.get(kind, 0) + count


def first_of_each(found: Found, limit: int) -> list[Violation]:
    """The first `limit` violations of each type, in frictionless's order within a row."""
    found.sort(key=lambda item: item[0])
    taken: dict[str, int] = {}
    result = []
    for _, violation in found:
        if taken.get(violation.type, 0) < limit:
            taken[violation.type] = taken.get(violation.type, 0) + 1
            result.append(violation)
    return result
