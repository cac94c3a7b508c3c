"""The catalog of many synthetic datasets × 20 versions: a full build, then one-dataset updates.

Issue 11: a one-dataset update of a 10,000 × 20 catalog within 2 s and 500 MB. Prints the wall
time and peak RSS of the full build of catalog.json, the index page, the places' pages, the DCAT
documents and every dataset page, then of three updates, each in a process of its own (so its
peak memory is its own, not the build's): a new version of an existing dataset (what a publish
costs), the same rebuild with nothing changed, and a new dataset (which moves every Hydra page), and a full rebuild after a release that
changed the DCAT code (every DCAT file made again; the pages were made by code that did not
change, and are not).
Synthetic metadata, local store. `--keep DIR` builds the store once in DIR and reuses it.

    python -m bench.catalog                      # 1,000 datasets
    python -m bench.catalog --datasets 10000 --keep /tmp/catalog-10k
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
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


def version_entry(
    name: str, number: int, data: bytes, published: str | None = None
) -> dict[str, object]:
    version = f"1.{number}.0"
    return {
        "version": version,
        "status": "published",
        "published": published or f"2026-01-{1 + number % 28:02d}T00:00:00Z",
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


def new_version(root: Path, name: str) -> None:
    """Give dataset `name` one more version, as a publish would (pointer and descriptor),
    published now: the catalog's own dates change too, as they do in a real publish."""
    history_path = root / "datasets" / name / "versions.json"
    history = json.loads(history_path.read_bytes())
    data = (root / "datasets" / name / history["latest"] / "data.csv").read_bytes()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = version_entry(name, len(history["versions"]), data, now)
    history["versions"].append(entry)
    history["latest"] = entry["version"]
    folder = root / "datasets" / name / str(entry["version"])
    folder.mkdir()
    (folder / "datapackage.json").write_bytes(
        dump_json(descriptor(name, str(entry["version"]), data))
    )
    (folder / "data.csv").write_bytes(data)
    history_path.write_bytes(dump_json(history))


def new_dataset(root: Path, name: str, versions: int) -> None:
    data = root / "datasets" / "d0000"
    del data
    folder = root / "datasets" / name
    csv = b"kommunkod,ar,varde\r\n1490,2000,0.5\r\n"
    entries = [version_entry(name, number, csv) for number in range(versions)]
    latest = str(entries[-1]["version"])
    (folder / latest).mkdir(parents=True)
    (folder / "versions.json").write_bytes(
        dump_json({"dataset": name, "latest": latest, "versions": entries})
    )
    (folder / latest / "datapackage.json").write_bytes(dump_json(descriptor(name, latest, csv)))
    (folder / latest / "data.csv").write_bytes(csv)


def pretend_dcat_changed(root: Path) -> None:
    """The store as the first publish after a release that changed the DCAT code finds it:
    every record of a DCAT file names other code (the DCAT pages' code, each dataset's cached
    fragment, each dataset's versions' documents); the pages' records still hold."""
    listings_path = root / "_private" / "catalog" / "listings.json"
    listings = json.loads(listings_path.read_bytes())
    listings["dcat_code"] = "other code"
    listings_path.write_text(json.dumps(listings, ensure_ascii=False) + "\n", "utf-8")
    for path in (root / "_private" / "catalog" / "dcat").glob("*.json"):
        fragment = json.loads(path.read_bytes())
        fragment["key"] = "other code"
        path.write_text(json.dumps(fragment, ensure_ascii=False), "utf-8")
    for path in (root / "_private" / "catalog" / "versions").glob("*.json"):
        keys = json.loads(path.read_bytes())
        keys["documents"] = "other code"
        path.write_text(json.dumps(keys, sort_keys=True) + "\n", "utf-8")


def rebuild(root: str, touched: str | None) -> None:
    """One rebuild in this process: prints its wall time, peak RSS and the files written."""
    started = time.perf_counter()
    written = rebuild_catalog(LocalStore(Path(root)), BASE, None if touched is None else [touched])
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"seconds": elapsed, "peak": peak, "written": written}))


def measured(root: Path, touched: str | None) -> dict[str, object]:
    command = [sys.executable, "-m", "bench.catalog", "--rebuild", str(root)]
    if touched is not None:
        command += ["--touched", touched]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(label: str, result: dict[str, object]) -> None:
    written = [str(key) for key in result["written"]]  # type: ignore[attr-defined]
    shown = ", ".join(written[:8]) + (f", … ({len(written)} in all)" if len(written) > 8 else "")
    print(
        f"  {label:<34} {float(result['seconds']):7.2f} s, "  # type: ignore[arg-type]
        f"peak {int(result['peak']) / 2**20:5.0f} MiB; wrote {shown or 'nothing'}"  # type: ignore[call-overload]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build the store here once and reuse it")
    parser.add_argument("--rebuild", help=argparse.SUPPRESS)
    parser.add_argument("--touched", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.rebuild:
        rebuild(arguments.rebuild, arguments.touched)
        return
    with tempfile.TemporaryDirectory(prefix="opendata-catalog-bench-") as scratch:
        root = arguments.keep or Path(scratch)
        print(f"Catalog of {arguments.datasets:,} datasets × {arguments.versions} versions:")
        if not (root / "catalog.json").exists():
            populate(root, arguments.datasets, arguments.versions)
            result = measured(root, None)
            report("full build", result)
        size = (root / "catalog.json").stat().st_size
        dcat = sum(p.stat().st_size for p in (root / "dcat").iterdir())
        print(f"  catalog.json {size / 2**20:.1f} MiB, DCAT documents {dcat / 2**20:.1f} MiB")
        number = sum(1 for _ in (root / "datasets").iterdir())
        name = f"d{number // 2:04d}"
        new_version(root, name)
        report(f"one-dataset update ({name})", measured(root, name))
        report("the same, nothing changed", measured(root, name))
        added = f"e{number:05d}"
        new_dataset(root, added, arguments.versions)
        report(f"a new dataset ({added})", measured(root, added))
        # A publish after a release that changed the DCAT code: every DCAT file is made again.
        pretend_dcat_changed(root)
        report("full rebuild after a DCAT code change", measured(root, None))


if __name__ == "__main__":
    main()
