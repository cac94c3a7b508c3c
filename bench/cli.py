"""Issue 10, requirement 1: what a steward waits for, `opendata publish` of one small dataset.

Whole processes on a fresh HOME (no Prefect profile, no PREFECT_API_URL: the command runs in its
own process), a fresh store each time: `opendata validate avfallsplan`, then `opendata publish
avfallsplan` (a first version) and again (unchanged). Target: publish at most 3 s wall. Printed,
never asserted; exits 1 only when a command fails, because then its time means nothing.

    python -m bench.cli [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench.measure import MIB, clean_environment, run_measured, tail, venv_command

REPO = Path(__file__).resolve().parents[1]
DATASET = "avfallsplan"
TARGET_SECONDS = 3.0


def make_home(root: Path) -> Path:
    """A copy of the one dataset and the schemas: what a steward's checkout holds."""
    (root / "datasets").mkdir(parents=True)
    shutil.copytree(REPO / "datasets" / DATASET, root / "datasets" / DATASET)
    shutil.copytree(REPO / "schemas", root / "schemas")
    return root


def measure(label: str, argv: list[str], home: Path, env: dict[str, str]) -> tuple[float, bool]:
    seconds, peak, code, out, err = run_measured(argv, env, home)
    ok = code == 0
    print(f"  {label:<36} {seconds:6.2f} s  {peak / MIB:6.0f} MiB peak", flush=True)
    if not ok:
        print(f"      exit {code}: {tail(out + err, 5)}", flush=True)
    return seconds, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    opendata = venv_command("opendata")
    print(f"opendata publish {DATASET} as a whole process, fresh HOME and store, no Prefect API:")
    ok = True
    publishes = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        for run in range(arguments.runs):
            root = Path(scratch) / f"run-{run}"
            home = make_home(root / "repo")
            (root / "home").mkdir()
            env = clean_environment(HOME=str(root / "home"), OPENDATA_STORE=str(root / "store"))
            _, good = measure("opendata validate", [opendata, "validate", DATASET], home, env)
            ok &= good
            seconds, good = measure(
                "opendata publish (first version)", [opendata, "publish", DATASET], home, env
            )
            ok &= good
            publishes.append(seconds)
            _, good = measure(
                "opendata publish (unchanged)", [opendata, "publish", DATASET], home, env
            )
            ok &= good
    best = min(publishes)
    verdict = "met" if best <= TARGET_SECONDS else "NOT met"
    print(f"  best publish {best:.2f} s; target at most {TARGET_SECONDS:.0f} s: {verdict}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
