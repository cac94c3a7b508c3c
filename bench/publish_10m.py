"""Issue 8, requirement 4: `opendata publish` of 10,000,000 rows to S3, against the floor.

The publish of a large table should cost at most three times the unavoidable work — parsing the
source CSV once and uploading the bytes that end up in the store — and stay under 1 GiB of peak
memory. Both sides run as whole processes against the same local SeaweedFS (tests/s3server.py):

- ours: `opendata publish bench --store s3://…` with OPENDATA_HOME set, through the Prefect flow
  on Prefect's temporary local server, as a steward runs it (PREFECT_HOME in a scratch folder;
  the server's database is created by a warm-up run outside the timed part);
- the floor: a fresh interpreter that reads the source CSV with pyarrow.csv.read_csv and uploads,
  with boto3 `upload_file` (TransferConfig max_concurrency=4), the very files our publish wrote
  under datasets/bench/<version>/ (downloaded beforehand, outside the timed part), to another
  bucket.

Then one value is changed in the middle of the table and the publish runs again: the store must
say 1.0.1, a patch, whose changes.json lists that row's key as changed. Timings are printed,
never asserted; the script exits 1 only when a publish gives a wrong result.

    python -m bench.publish_10m [--rows 10000000] [--changed-id N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.measure import GIB, MIB, clean_environment, run_measured, tail, venv_command
from bench.synthetic import make_home, write_csv
from tests.s3server import S3Server, _stop, start_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FLOOR_TARGET = 3.0  # ours / floor, at most
MEMORY_CEILING = GIB
PREFIX = "opendata"  # inside each bucket
SOURCE = Path("datasets/bench/sources/data.csv")  # inside a bench home

# The floor, run as `python -c FLOOR_CODE source folder bucket prefix`: parse once, upload once.
FLOOR_CODE = """
import sys
from pathlib import Path

import boto3
import pyarrow.csv
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

source, folder, bucket, prefix = sys.argv[1:5]
pyarrow.csv.read_csv(source)
client = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
transfer = TransferConfig(max_concurrency=4)
for path in sorted(Path(folder).iterdir()):
    client.upload_file(str(path), bucket, prefix + path.name, Config=transfer)
"""

# Starts Prefect's temporary server once, so that creating its database is not timed.
WARMUP_CODE = """
from prefect import flow

@flow
def warm_up() -> int:
    return 1

warm_up()
"""


@dataclass
class Run:
    """One whole-process run: time, peak RSS and what it said."""

    label: str
    seconds: float
    peak: int
    ok: bool
    note: str = ""


def show(run: Run) -> Run:
    mark = "" if run.ok else "  ** FAILED **"
    print(f"  {run.label:<44} {run.seconds:9.2f} s {run.peak / MIB:9.1f} MiB{mark}", flush=True)
    if run.note:
        print(f"      {run.note}", flush=True)
    return run


def warm_up_prefect(environment: dict[str, str]) -> None:
    """Run a trivial flow twice: the first creates Prefect's database (not part of a publish),
    the second shows the fixed cost every `opendata publish` pays for its temporary server."""
    for label in ("creates the database", "fixed cost of a flow run"):
        argv = [sys.executable, "-c", WARMUP_CODE]
        seconds, peak, code, out, err = run_measured(argv, environment)
        state = "" if code == 0 else f": exit {code}: {tail(out + err, 8)}"
        print(
            f"  Prefect warm-up, a trivial flow ({label}; not timed): {seconds:.1f} s, "
            f"{peak / MIB:.0f} MiB{state}",
            flush=True,
        )


def publish(home: Path, store: str, environment: dict[str, str], expected: str) -> Run:
    """`opendata publish bench --store <store> --json`: status published, version `expected`."""
    argv = [venv_command("opendata"), "publish", "bench", "--store", store, "--json"]
    seconds, peak, code, out, err = run_measured(argv, environment, home)
    label = f"opendata publish ({expected})"
    try:
        outcome = json.loads(out[out.index("[") :])[0]
    except (ValueError, IndexError, KeyError):
        return Run(label, seconds, peak, False, f"exit {code}: {tail(out + err, 10)}")
    ok = code == 0 and outcome["status"] == "published" and outcome["version"] == expected
    note = f"{outcome['status']} {outcome['version']}, {outcome.get('rows')} rows"
    if outcome.get("changes"):
        note += f"; {outcome['changes']}"
    if outcome.get("message"):
        note += f"; {outcome['message'][:2000]}"
    if not ok:
        note += f" (exit {code}, expected published {expected}): {tail(err, 8)}"
    return Run(label, seconds, peak, ok, note)


def download_version(client: S3Client, bucket: str, version: str, folder: Path) -> list[Path]:
    """Every object our publish wrote under datasets/bench/<version>/, into `folder`."""
    folder.mkdir(parents=True)
    prefix = f"{PREFIX}/datasets/bench/{version}/"
    paths = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            path = folder / item["Key"][len(prefix) :]
            client.download_file(bucket, item["Key"], str(path))
            paths.append(path)
    return sorted(paths)


def empty_bucket(client: S3Client, bucket: str) -> None:
    """Free the server's disk: the floor's copies are not looked at again."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])


def floor(
    home: Path, server: S3Server, environment: dict[str, str], files: Path, version: str
) -> Run:
    """Parse the source once with pyarrow and upload our publish's files to a fresh bucket."""
    bucket = server.new_bucket("floor")
    argv = [
        sys.executable,
        "-c",
        FLOOR_CODE,
        str(home / SOURCE),
        str(files),
        bucket,
        f"{PREFIX}/datasets/bench/{version}/",
    ]
    seconds, peak, code, out, err = run_measured(argv, environment, home)
    note = "" if code == 0 else f"exit {code}: {tail(out + err, 8)}"
    empty_bucket(server.client(), bucket)
    return Run(f"floor: read_csv + upload_file ({version})", seconds, peak, code == 0, note)


def read_json(client: S3Client, bucket: str, key: str) -> Any:
    return json.loads(client.get_object(Bucket=bucket, Key=f"{PREFIX}/{key}")["Body"].read())


def check_patch(client: S3Client, bucket: str, changed_id: int) -> tuple[bool, str]:
    """versions.json says 1.0.1 is latest and a patch; its changes.json lists the changed key."""
    problems = []
    history = read_json(client, bucket, "datasets/bench/versions.json")
    entry = next((v for v in history["versions"] if v["version"] == "1.0.1"), None)
    if history.get("latest") != "1.0.1":
        problems.append(f"latest is {history.get('latest')}, expected 1.0.1")
    if entry is None or entry.get("bump") != "patch" or entry.get("status") != "published":
        problems.append(f"versions.json entry for 1.0.1: {entry and {**entry, 'files': '…'}}")
    changes = read_json(client, bucket, "datasets/bench/1.0.1/changes.json")
    resource: dict[str, Any] = next(
        (r for r in changes.get("resources", []) if r.get("name") == "data"), {}
    )
    listed = (resource.get("keys") or {}).get("changed")
    expected_counts = (resource.get("rows_added"), resource.get("rows_removed"))
    if changes.get("bump") != "patch":
        problems.append(f"changes.json bump {changes.get('bump')!r}")
    if resource.get("rows_changed") != 1 or expected_counts != (0, 0):
        problems.append(f"changes.json counts {resource}")
    if listed != [[str(changed_id)]]:
        problems.append(f"changes.json changed keys {listed}, expected [['{changed_id}']]")
    if problems:
        return False, "; ".join(problems)
    return True, (
        f"versions.json: latest 1.0.1, bump patch, summary {entry and entry.get('summary')!r}; "
        f"changes.json: data rows_changed 1, keys.changed {listed}"
    )


def describe(paths: list[Path]) -> str:
    total = sum(path.stat().st_size for path in paths)
    files = ", ".join(f"{p.name} {p.stat().st_size / MIB:.1f}" for p in paths)
    return f"{len(paths)} files, {total / MIB:.1f} MiB ({files} MiB)"


def ratio(ours: Run, base: Run) -> str:
    return f"{ours.seconds / base.seconds:.2f}" if ours.ok and base.ok else "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--changed-id", type=int, help="the id whose antal changes (middle)")
    parser.add_argument(
        "--prefect-api-url", help="a running Prefect server (default: Prefect's temporary one)"
    )
    arguments = parser.parse_args(argv)
    rows: int = arguments.rows
    changed_id: int = rows // 2 + 1 if arguments.changed_id is None else arguments.changed_id

    runs: list[Run] = []
    pairs: list[tuple[Run, Run]] = []
    with tempfile.TemporaryDirectory(prefix="opendata-bench-publish-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        home = make_home(root / "home", rows)
        size = (home / SOURCE).stat().st_size / MIB
        print(
            f"Publishing {rows:,} rows of bench.synthetic ({size:.1f} MiB of CSV, generated in "
            f"{time.perf_counter() - started:.1f} s) to a local SeaweedFS, whole processes:",
            flush=True,
        )
        (root / "s3").mkdir()
        server, process = start_server(root / "s3")
        try:
            client = server.client()
            extra = {"OPENDATA_HOME": str(home), "PREFECT_HOME": str(root / "prefect")}
            if arguments.prefect_api_url:
                extra["PREFECT_API_URL"] = arguments.prefect_api_url
            environment = clean_environment(**server.env(), **extra)
            if not arguments.prefect_api_url:
                warm_up_prefect(environment)
            bucket = server.new_bucket("ours")
            store = f"s3://{bucket}/{PREFIX}"

            for version in ("1.0.0", "1.0.1"):
                if version == "1.0.1":
                    write_csv(home / SOURCE, rows, changed_id=changed_id)
                    print(f"\nSecond publish: antal of id {changed_id} changed", flush=True)
                ours = show(publish(home, store, environment, version))
                runs.append(ours)
                if not ours.ok:
                    break
                files = download_version(client, bucket, version, root / f"files-{version}")
                print(f"      {version}: {describe(files)}")
                base = show(floor(home, server, environment, root / f"files-{version}", version))
                runs.append(base)
                pairs.append((ours, base))

            if len(pairs) == 2:
                ok, note = check_patch(client, bucket, changed_id)
                print(f"  store check: {'OK' if ok else 'WRONG'}: {note}")
                runs.append(Run("store check (1.0.1 is a patch)", 0.0, 0, ok, note))
        finally:
            _stop(process)

    print(f"\nSummary ({rows:,} rows)")
    for ours, base in pairs:
        print(
            f"  {ours.label:<26} {ours.seconds:8.2f} s {ours.peak / MIB:8.1f} MiB   "
            f"floor {base.seconds:8.2f} s {base.peak / MIB:8.1f} MiB   "
            f"ours/floor {ratio(ours, base):>5} (target <= {FLOOR_TARGET:g}); "
            f"peak target < {MEMORY_CEILING / MIB:.0f} MiB"
        )
    if not all(run.ok for run in runs):
        print("\nA publish failed or gave a wrong result: see above.")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
