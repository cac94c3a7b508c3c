"""`python -m bench.parallel`: wall time of publishing N small datasets at 1, 2 and 4 at a time.

The datasets are copies of avfallsplan (`set-0000`, ...), each with a value of its own so that
every one is a new version. Each level runs `opendata publish --offline --no-prefect --parallel
K` as a whole process into a new local store: start-up, every dataset, and the one catalog update
at the end. Times are printed, never asserted. On a machine with few cores the gain is bounded by
the cores (each dataset is mostly CPU: validation, Parquet, JSON, hashing).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.measure import MIB, clean_environment, run_measured, venv_command

REPO = Path(__file__).resolve().parents[1]


def make_home(root: Path, count: int) -> Path:
    """A project folder with `count` copies of avfallsplan, each with a value of its own."""
    home = root / "home"
    (home / "datasets").mkdir(parents=True)
    shutil.copytree(REPO / "schemas", home / "schemas")
    template = REPO / "datasets/avfallsplan"
    goals = (template / "sources/mal.csv").read_text("utf-8")
    for number in range(count):
        target = home / "datasets" / f"set-{number:04d}"
        shutil.copytree(template, target)
        (target / "sources/mal.csv").write_text(
            goals.replace(",35,g per portion", f",{100 + number},g per portion"), "utf-8"
        )
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=int, default=1000, help="how many (default 1000)")
    parser.add_argument(
        "--parallel", type=int, nargs="+", default=[1, 2, 4], help="levels (default 1 2 4)"
    )
    arguments = parser.parse_args()
    opendata = venv_command("opendata")
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as folder:
        root = Path(folder)
        home = make_home(root, arguments.datasets)
        print(f"opendata publish of {arguments.datasets:,} small datasets to a local store:")
        baseline = None
        for level in arguments.parallel:
            store = root / f"store-{level}"
            seconds, peak, code, _out, err = run_measured(
                [opendata, "publish", "--offline", "--no-prefect", "--parallel", str(level)],
                env=clean_environment(OPENDATA_STORE=str(store)),
                cwd=home,
            )
            if code != 0:
                raise SystemExit(f"--parallel {level} exited {code}:\n{err[-3000:]}")
            baseline = baseline or seconds
            print(
                f"  --parallel {level}: {seconds:7.1f} s  "
                f"({arguments.datasets / seconds:5.1f} datasets/s, "
                f"{baseline / seconds:4.2f}x, peak RSS {peak / MIB:.0f} MiB)",
                flush=True,
            )
            shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
