"""`python -m bench.run`: collect + validate + package time of each of the repository's datasets.

The real datasets are small; what this shows is the fixed cost per dataset of the data path
(staging, the engine's checks, writing CSV, JSON and Parquet), which every publish pays. The
large-table figures are bench.validate and bench.publish_10m. Datasets collected from a public
API are skipped: the benchmarks run offline. Times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from opendata.config import load_settings
from opendata.definitions import discover
from opendata.preparing import load, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="project folder (default: OPENDATA_HOME or here)")
    arguments = parser.parse_args()
    settings = load_settings(home=arguments.home)

    print(f"prepare() per dataset in {settings.home} (collect, validate, package on disk):")
    total = 0.0
    for name in discover(settings.datasets_dir):
        if load(settings, name).needs_remote:
            print(f"  {name:<28} skipped (collected from a public API; benchmarks run offline)")
            continue
        started = time.perf_counter()
        prepared = prepare(settings, name)
        elapsed = time.perf_counter() - started
        total += elapsed
        try:
            rows = sum(prepared.report.rows.values())
            verdict = "valid" if prepared.report.valid else "INVALID"
            print(f"  {name:<28} {elapsed:7.3f} s  {rows:>7,} rows  {verdict}", flush=True)
        finally:
            prepared.discard()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'total':<28} {total:7.3f} s  (peak RSS of this process {peak:.0f} MiB)")


if __name__ == "__main__":
    main()
