"""The fast path's own value readers and schema rules, against frictionless itself.

`opendata.engine.readers` lets the fast path read constraint values and vet a schema without
importing frictionless; these tests hold it to frictionless's answers on generated values,
fields and schemas, so that the two cannot drift apart.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from frictionless import Field, Schema
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata.engine.readers import schema_problem, value_reader

TYPES = ["string", "integer", "number", "boolean", "date", "datetime", "time", "year", "yearmonth"]
TEXTS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            " 12 ",
            "1_000",
            "007",
            "1.0",
            "1e3",
            "NaN",
            "-Infinity",
            "1,5",
            "1.234,5",
            "5%",
            "€ 12",
            "2024-02-29",
            "2023-02-29",
            "2024-2-9",
            "2024-01-01T10:00:00Z",
            "2024-01-01T24:00:00",
            "10:00:00",
            "10:00:00+01:00",
            "2024-13",
            "2024-01",
            " 2024",
            "true",
            "TRUE",
            "yes",
            "0",
            "1",
            "\u0663\u0664",
            "+5",
            "-0",
        ]
    ),
)
VALUES = st.one_of(
    TEXTS,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)  # what JSON gives a constraint: no Decimals
FIELDS = st.fixed_dictionaries(
    {"name": st.just("f"), "type": st.sampled_from(TYPES)},
    optional={
        "bareNumber": st.booleans(),
        "groupChar": st.sampled_from([",", " ", "."]),
        "decimalChar": st.sampled_from([",", "."]),
        "trueValues": st.lists(st.sampled_from(["yes", "ja", "1", "Y"]), min_size=1, max_size=2),
        "falseValues": st.lists(st.sampled_from(["no", "nej", "0", "N"]), min_size=1, max_size=2),
    },
)


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, tuple):  # frictionless's yearmonth is a named tuple
        return tuple(ours) == tuple(theirs) if isinstance(ours, tuple) else False
    if isinstance(theirs, Decimal) and theirs.is_nan():
        return isinstance(ours, Decimal) and ours.is_nan()
    return type(ours) is type(theirs) and ours == theirs


@settings(max_examples=600, deadline=None)
@given(FIELDS, VALUES)
def test_constraint_values_read_as_frictionless_reads_them(
    field: dict[str, Any], value: Any
) -> None:
    theirs = Field.from_descriptor(dict(field)).create_value_reader()(value)
    ours = value_reader(field)(value)
    assert same(ours, theirs), (field, value, ours, theirs)


CONSTRAINT_VALUES = st.one_of(
    st.booleans(), st.integers(-5, 5), st.text(max_size=3), st.lists(st.integers(0, 3), max_size=2)
)
SCHEMA_FIELDS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b", "c"]),
        "type": st.sampled_from([*TYPES, "geopoint", "any"]),
    },
    optional={
        "constraints": st.dictionaries(
            st.sampled_from(
                [
                    "required",
                    "unique",
                    "minimum",
                    "maximum",
                    "minLength",
                    "maxLength",
                    "pattern",
                    "enum",
                    "exclusiveMinimum",
                ]
            ),
            CONSTRAINT_VALUES,
            max_size=3,
        ),
        "format": st.sampled_from(["default", "%d/%m/%Y", "any", "email"]),
        "bareNumber": st.one_of(st.booleans(), st.just("no")),
        "missingValues": st.one_of(st.lists(st.sampled_from(["", "NA", "-"])), st.just("NA")),
    },
)


@settings(max_examples=600, deadline=None)
@given(
    st.lists(SCHEMA_FIELDS, min_size=0, max_size=3),
    st.one_of(st.none(), st.sampled_from(["a", "b", "z"]), st.lists(st.sampled_from(["a", "c"]))),
)
def test_a_schema_we_vouch_for_is_one_frictionless_accepts(
    fields: list[dict[str, Any]], key: Any
) -> None:
    schema: dict[str, Any] = {"fields": fields}
    if key is not None:
        schema["primaryKey"] = key
    if schema_problem(schema) is None:
        Schema.from_descriptor(schema)  # raises if frictionless rejects it


def test_the_project_schemas_are_vouched_for() -> None:
    import json
    from pathlib import Path

    for path in sorted(Path("schemas").glob("*.json")):
        schema = json.loads(path.read_text("utf-8"))
        assert schema_problem(schema) is None, path
        Schema.from_descriptor(schema)
