"""Property-based tests where inputs vary widely: codes, numbers, hostile text."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from opendata.municipalities import MEMBERS, code_for_name, national_register, normalise_code
from opendata.tables import cell_text, csv_bytes, json_bytes, typed_value
from opendata.validate import Table, validate_tables

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(st.integers(min_value=100, max_value=9999))
def test_numeric_codes_become_four_characters(code: int) -> None:
    assert normalise_code(code) == str(code).zfill(4)
    assert normalise_code(float(code)) == str(code).zfill(4)
    assert normalise_code(f"  {str(code).zfill(4)} ") == str(code).zfill(4)


@given(TEXT)
def test_text_that_is_not_a_code_is_not_a_code(text: str) -> None:
    code = normalise_code(text)
    if code is not None:
        assert text.strip().isdigit() and len(text.strip()) in (3, 4)


@given(
    st.sampled_from(sorted(national_register().items())), st.sampled_from(["upper", "lower", "pad"])
)
def test_every_municipality_name_maps_back_to_its_code(item: tuple[str, str], style: str) -> None:
    code, name = item
    written = {"upper": name.upper(), "lower": name.lower(), "pad": f"  {name}   "}[style]
    assert code_for_name(written) == code


@given(st.lists(st.lists(TEXT, min_size=3, max_size=3), max_size=20))
def test_csv_round_trips_any_text(rows: list[list[str]]) -> None:
    data = csv_bytes(["a", "b", "c"], rows)
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed == [["a", "b", "c"], *rows]


@given(
    st.one_of(
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
    )
)
def test_numbers_keep_their_value_from_csv_text_to_json(value: float) -> None:
    text = cell_text(value)
    typed = typed_value(text, {"name": "x", "type": "number"})
    assert typed == value
    assert json.loads(json.dumps(typed)) == value


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from(sorted(MEMBERS)), st.integers(min_value=1990, max_value=2030)),
        st.tuples(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), TEXT),
        max_size=15,
    )
)
def test_valid_rows_give_the_same_rows_in_csv_and_json(
    data: dict[tuple[str, int], tuple[float, str]],
) -> None:
    schema = {
        "fields": [
            {"name": "kommunkod", "type": "string", "constraints": {"pattern": "[0-9]{4}"}},
            {"name": "ar", "type": "year"},
            {"name": "varde", "type": "number"},
            {"name": "text", "type": "string"},
        ],
        "primaryKey": ["kommunkod", "ar"],
    }
    rows = [
        [code, str(year), cell_text(value), text] for (code, year), (value, text) in data.items()
    ]
    table = Table("t", schema, rows, [f"row {i}" for i in range(len(rows))])
    report = validate_tables("prov", [table])
    assert report.valid, report.summary()
    parsed = list(csv.reader(io.StringIO(table.csv().decode("utf-8"), newline="")))[1:]
    records = json.loads(json_bytes(schema, rows))
    assert len(parsed) == len(records) == len(data)
    for row, record in zip(parsed, records, strict=True):
        assert record["kommunkod"] == row[0]
        assert record["ar"] == int(row[1])
        assert record["varde"] == float(row[2])
        assert (record["text"] or "") == row[3]
