"""Benchmarks (`make bench`): our validation and packaging against frictionless on the same file.

Prints times and the ratio to the baseline run side by side in the same process; never part of
the test suite. Synthetic rows (benchmarks may use synthetic tables; published datasets may not).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from frictionless import Resource, Schema

from opendata.config import load_settings
from opendata.definitions import discover
from opendata.municipalities import MEMBERS
from opendata.publish import prepare
from opendata.tables import csv_bytes, json_bytes
from opendata.validate import Table, validate_tables

SCHEMA = {
    "fields": [
        {
            "name": "kommunkod",
            "type": "string",
            "constraints": {"required": True, "pattern": "[0-9]{4}"},
        },
        {"name": "ar", "type": "year", "constraints": {"required": True}},
        {"name": "lopnummer", "type": "integer", "constraints": {"required": True}},
        {"name": "varde", "type": "number", "constraints": {"minimum": 0}},
        {"name": "kommentar", "type": "string"},
    ],
    "primaryKey": ["kommunkod", "ar", "lopnummer"],
}


def synthetic_rows(count: int) -> list[list[str]]:
    generator = random.Random(42)
    codes = sorted(MEMBERS)
    return [
        [codes[i % 8], str(1990 + i % 35), str(i), f"{generator.uniform(0, 1e6):.3f}", f"rad {i}"]
        for i in range(count)
    ]


def timed(label: str, function: object) -> float:
    start = time.perf_counter()
    function()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"  {label:<44} {elapsed:8.3f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    arguments = parser.parse_args()

    rows = synthetic_rows(arguments.rows)
    table = Table("data", SCHEMA, rows, [f"row {i}" for i in range(len(rows))])
    print(f"Validation of {arguments.rows:,} synthetic rows (5 fields, 3-field primary key):")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        path.write_bytes(csv_bytes(table.fields, rows))
        resource = Resource(path.name, basepath=folder, schema=Schema.from_descriptor(SCHEMA))
        reports = []
        baseline = timed(
            "frictionless Resource(...).validate() [baseline]",
            lambda: reports.append(resource.validate()),
        )
        assert reports[0].valid and reports[0].task.stats["rows"] == len(rows), reports[0].flatten()
    ours = timed("opendata validate_tables()", lambda: validate_tables("bench", [table]))
    print(f"  ratio opendata / frictionless: {ours / baseline:.2f}")
    timed("CSV serialisation", lambda: csv_bytes(table.fields, rows))
    timed("JSON serialisation", lambda: json_bytes(SCHEMA, rows))

    settings = load_settings()
    print("Collect + validate + package, the repository's datasets:")
    for name in discover(settings.datasets_dir):
        timed(name, lambda name=name: prepare(settings, name))


if __name__ == "__main__":
    main()
