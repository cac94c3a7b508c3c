"""Publish a 1,000,000-row dataset to SeaweedFS, against plain boto3 upload_file of the same bytes.

Both run in this process, one after the other, against the same local SeaweedFS server (started
here on 127.0.0.1): the ratio is the figure (aim: at most 1.3). Synthetic rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig

from opendata.config import load_settings
from opendata.municipalities import MEMBERS
from opendata.publish import prepare, publish_package, require_valid
from opendata.storage.s3 import S3Store
from tests.s3server import _stop, start_server

SCHEMA = {
    "fields": [
        {"name": "kommunkod", "type": "string", "constraints": {"required": True}},
        {"name": "lopnummer", "type": "integer", "constraints": {"required": True}},
        {"name": "varde", "type": "number"},
        {"name": "kommentar", "type": "string"},
    ],
    "primaryKey": ["lopnummer"],
}


def make_home(root: Path, rows: int) -> Path:
    (root / "schemas").mkdir(parents=True)
    (root / "schemas" / "bench.json").write_text(json.dumps(SCHEMA), "utf-8")
    folder = root / "datasets" / "bench"
    (folder / "sources").mkdir(parents=True)
    generator = random.Random(7)
    codes = sorted(MEMBERS)
    with open(folder / "sources" / "data.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([f["name"] for f in SCHEMA["fields"]])  # type: ignore[index]
        for i in range(rows):
            writer.writerow([codes[i % 8], i, f"{generator.uniform(0, 1e6):.3f}", f"rad {i}"])
    (folder / "dataset.yaml").write_text(
        """title: {sv: Benchmark, en: Benchmark}
description: {sv: Syntetiska rader, en: Synthetic rows}
contact_point: {name: Bench, email: bench@example.org}
sources: [{title: Syntetiskt, publisher: Bench, path: sources/data.csv}]
resources:
  - name: data
    title: {sv: Data}
    schema: bench.json
    sources: [{kind: csv, path: sources/data.csv}]
""",
        "utf-8",
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opendata-bench-") as scratch:
        root = Path(scratch)
        home = make_home(root / "home", arguments.rows)
        started = time.perf_counter()
        package = require_valid(prepare(load_settings(home=home), "bench"))
        elapsed = time.perf_counter() - started
        print(f"{arguments.rows:,} rows: collect + validate + package {elapsed:.1f} s")
        files = package.with_version("1.0.0", "2026-01-01T00:00:00Z").all_files()
        total = sum(len(data) for data in files.values())
        print(f"  version files: {len(files)}, {total / 2**20:.1f} MiB")

        (root / "s3").mkdir()
        server, process = start_server(root / "s3")
        try:
            client = server.client()
            ours_bucket, base_bucket = server.new_bucket("ours"), server.new_bucket("baseline")
            folder = root / "files"
            folder.mkdir()
            for name, data in files.items():
                (folder / name).write_bytes(data)

            started = time.perf_counter()
            for name in files:
                client.upload_file(
                    str(folder / name),
                    base_bucket,
                    f"opendata/datasets/bench/1.0.0/{name}",
                    Config=TransferConfig(max_concurrency=4),
                )
            baseline = time.perf_counter() - started

            store = S3Store(ours_bucket, "opendata", client=client)
            started = time.perf_counter()
            outcome = publish_package(store, package, "http://localhost:8000/")
            ours = time.perf_counter() - started
            assert outcome.status == "published"
        finally:
            _stop(process)
    print(f"  boto3 upload_file of the same bytes [baseline] {baseline:7.2f} s")
    print(f"  opendata publish_package (protocol, checksums)  {ours:7.2f} s")
    print(f"  ratio opendata / baseline: {ours / baseline:.2f}")


if __name__ == "__main__":
    del boto3  # imported for its transfer module's side effects only
    main()
