"""Property-based tests where inputs vary widely: codes, numbers, hostile text."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata.engine.outputs import write_outputs
from opendata.municipalities import MEMBERS, code_for_name, national_register, normalise_code
from opendata.tables import ORIGIN, TableWriter, cell_text
from opendata.validate import validate_tables

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


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from(sorted(MEMBERS)), st.integers(min_value=1990, max_value=2030)),
        st.tuples(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), TEXT),
        max_size=15,
    )
)
def test_valid_rows_give_the_same_rows_in_csv_json_and_parquet(
    data: dict[tuple[str, int], tuple[float, str]],
) -> None:
    schema = {
        "fields": [
            {"name": "kommunkod", "type": "string", "constraints": {"pattern": "[0-9]{4}"}},
            {"name": "ar", "type": "year"},
            {"name": "varde", "type": "number"},
            # Any text, formulas too (allowed here: the field is published exactly).
            {"name": "text", "type": "string", "opendata:allowFormulas": True},
        ],
        "primaryKey": ["kommunkod", "ar"],
    }
    rows = [
        [code, str(year), cell_text(value), text.strip()]
        for (code, year), (value, text) in data.items()
    ]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        writer = TableWriter("t", schema, folder / "t.parquet")
        columns = {
            name: pa.array([row[i] for row in rows], pa.string())
            for i, name in enumerate(["kommunkod", "ar", "varde", "text"])
        }
        columns[ORIGIN] = pa.array([f"row {i}" for i in range(len(rows))], pa.string())
        writer.write(pa.table(columns))
        table = writer.close()
        report = validate_tables("prov", [table])
        assert report.valid, report.summary()
        written = write_outputs(table, folder / "out")
        text = written["t.csv"].path.read_bytes().decode("utf-8")
        parsed = list(csv.reader(io.StringIO(text, newline="")))[1:]
        records = json.loads(written["t.json"].path.read_bytes())
        parquet = pq.read_table(written["t.parquet"].path).to_pylist()
    assert len(parsed) == len(records) == len(parquet) == len(data)
    for row, record, typed in zip(parsed, records, parquet, strict=True):
        assert record["kommunkod"] == row[0] == typed["kommunkod"]
        assert record["ar"] == int(row[1]) == typed["ar"]
        assert record["varde"] == float(row[2]) == typed["varde"]
        assert (record["text"] or "") == row[3] == (typed["text"] or "")
