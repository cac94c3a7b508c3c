"""The catalog for 1,000 synthetic datasets × 20 versions: a full build, then a one-dataset update.

Prints time and peak memory (the process's peak resident set size) of the full build of catalog.json, the index page,
the DCAT files and every dataset page, and the time of the incremental rebuild after one dataset
gets a new version (what a publish of one dataset costs). Synthetic metadata, local store.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from opendata.catalog import rebuild_catalog
from opendata.package import dump_json, sha256
from opendata.storage import LocalStore

BASE = "http://localhost:8000/"
SCHEMA = {
    "fields": [
        {"name": "kommunkod", "type": "string"},
        {"name": "ar", "type": "year"},
        {"name": "varde", "type": "number", "unit": "t"},
    ],
    "primaryKey": ["kommunkod", "ar"],
}


def version_entry(name: str, number: int, data: bytes) -> dict[str, object]:
    version = f"1.{number}.0"
    return {
        "version": version,
        "status": "published",
        "published": f"2026-01-{1 + number % 28:02d}T00:00:00Z",
        "content_hash": sha256(f"{name}{number}".encode()),
        "datapackage": f"{version}/datapackage.json",
        "bump": "minor" if number else None,
        "summary": f"data: {number} rows added" if number else "first version",
        "rows": {"data": 8 + number},
        "files": {"data.csv": {"bytes": len(data), "sha256": sha256(data)}},
    }


def descriptor(name: str, version: str, data: bytes) -> dict[str, object]:
    return {
        "name": name,
        "title": f"Dataset {name}",
        "description": f"Syntetiskt dataset {name} för att mäta katalogen.",
        "version": version,
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "keywords": ["mätning", "benchmark"],
        "themes": ["ENVI"],
        "accrualPeriodicity": "annual",
        "contactPoint": {"name": "Bench", "email": "bench@example.org"},
        "temporal": {"start": "2015-01-01", "end": "2024-12-31"},
        "spatial": [{"kommunkod": "1490", "kommun": "Borås"}],
        "translations": {"en": {"title": f"Dataset {name}"}},
        "resources": [
            {
                "name": "data",
                "path": "data.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": len(data),
                "hash": f"sha256:{sha256(data)}",
                "schema": SCHEMA,
            }
        ],
    }


def populate(root: Path, datasets: int, versions: int) -> LocalStore:
    store = LocalStore(root)
    data = b"kommunkod,ar,varde\r\n" + b"".join(
        f"1490,{2000 + i},{i}.5\r\n".encode() for i in range(8)
    )
    for index in range(datasets):
        name = f"d{index:04d}"
        entries = [version_entry(name, number, data) for number in range(versions)]
        latest = str(entries[-1]["version"])
        folder = root / "datasets" / name
        (folder / latest).mkdir(parents=True)
        (folder / "versions.json").write_bytes(
            dump_json({"dataset": name, "latest": latest, "versions": entries})
        )
        (folder / latest / "datapackage.json").write_bytes(
            dump_json(descriptor(name, latest, data))
        )
        (folder / latest / "data.csv").write_bytes(data)
    return store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opendata-catalog-bench-") as scratch:
        root = Path(scratch)
        store = populate(root, arguments.datasets, arguments.versions)
        print(f"Catalog of {arguments.datasets:,} datasets × {arguments.versions} versions:")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        written = rebuild_catalog(store, BASE)
        full = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        print(f"  peak RSS before the build {before / 1024:.0f} MiB")
        size = (root / "catalog.json").stat().st_size
        print(
            f"  full build: {full:7.2f} s, peak {peak / 2**20:.0f} MiB, {len(written)} files written"
        )
        print(f"  catalog.json {size / 2**20:.1f} MiB")

        name = "d0000"
        history_path = root / "datasets" / name / "versions.json"
        history = json.loads(history_path.read_bytes())
        data = (root / "datasets" / name / history["latest"] / "data.csv").read_bytes()
        entry = version_entry(name, arguments.versions, data)
        history["versions"].append(entry)
        history["latest"] = entry["version"]
        (root / "datasets" / name / str(entry["version"])).mkdir()
        (root / "datasets" / name / str(entry["version"]) / "datapackage.json").write_bytes(
            dump_json(descriptor(name, str(entry["version"]), data))
        )
        (root / "datasets" / name / str(entry["version"]) / "data.csv").write_bytes(data)
        history_path.write_bytes(dump_json(history))
        started = time.perf_counter()
        written = rebuild_catalog(store, BASE, [name])
        one = time.perf_counter() - started
        print(
            f"  one-dataset update: {one:7.2f} s, {len(written)} files written: {', '.join(written)}"
        )
        print(f"  ratio one-dataset update / full build: {one / full:.2f}")


if __name__ == "__main__":
    main()
