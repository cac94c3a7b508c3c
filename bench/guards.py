"""`python -m bench.guards`: the times the test suite used to assert, measured and printed instead.

A test that asserts a wall-clock time fails on a busy machine (a publish took 35.5 s against a
limit of 30 s while other work shared the two cores), so the suite asserts what a command does,
and the times are here, each against a reference measured in the same run on the same machine:

- `make run` (`opendata publish --offline` of the repository's datasets, fresh HOME and store, no
  Prefect API): idle, and with both cores busy with two CPU-bound processes (busy ÷ idle);
- a configured Prefect API that does not answer: the one line of help, against the command's
  start-up (`opendata --help`);
- hostile files refused early (README, "Hostile sources and limits"), each against reading a
  genuine file of about its size: JSON nested 200,000 levels deep, an 8 MiB cell, 100,000
  columns, a far-right cell (XFD) in each of 40,000 rows, an xlsx that inflates to 1 GiB (the
  last as a whole `opendata validate`, with its peak memory).

Printed, never asserted; exits 1 only when a case does not end as it should (a refusal that
does not come, a command that fails), because then its time means nothing.

    python -m bench.guards [--skip-run]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.measure import MIB, clean_environment, run_measured, tail, venv_command

REPO = Path(__file__).resolve().parents[1]
FAILED: list[str] = []


def report(label: str, seconds: float, reference: float, what: str) -> None:
    ratio = seconds / reference if reference > 0 else float("inf")
    print(f"  {label:<44} {seconds:7.2f} s  {ratio:6.2f}× {what} ({reference:.2f} s)", flush=True)


def failed(label: str, detail: str) -> None:
    FAILED.append(label)
    print(f"  {label:<44} FAILED: {detail}", flush=True)


def repository_home(root: Path) -> Path:
    """A copy of the repository's datasets/ and schemas/: what `make run` publishes."""
    shutil.copytree(REPO / "datasets", root / "datasets")
    shutil.copytree(REPO / "schemas", root / "schemas")
    return root


@contextmanager
def busy_cores(count: int = 2) -> Iterator[None]:
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait(timeout=10)


def make_run(scratch: Path) -> None:
    opendata = venv_command("opendata")
    times: dict[str, float] = {}
    for mode in ("idle", "busy"):
        root = scratch / f"make-run-{mode}"
        home = repository_home(root / "repo")
        (root / "home").mkdir()
        env = clean_environment(HOME=str(root / "home"), OPENDATA_STORE=str(root / "store"))
        argv = [opendata, "publish", "--offline"]
        if mode == "busy":
            with busy_cores():
                seconds, _, code, out, err = run_measured(argv, env, home)
        else:
            seconds, _, code, out, err = run_measured(argv, env, home)
        if code != 0:
            failed(f"make run ({mode})", f"exit {code}: {tail(out + err, 5)}")
            return
        times[mode] = seconds
    report("make run, both cores busy", times["busy"], times["idle"], "idle")


def unreachable_api(scratch: Path) -> None:
    opendata = venv_command("opendata")
    root = scratch / "unreachable"
    home = repository_home(root / "repo")
    (root / "home").mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = clean_environment(
        HOME=str(root / "home"),
        OPENDATA_STORE=str(root / "store"),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
    )
    start_up, _, _, _, _ = run_measured([opendata, "--help"], env, home)
    seconds, _, code, out, err = run_measured([opendata, "publish", "avfallsplan"], env, home)
    if code != 3 or "cannot reach the Prefect API" not in err:
        failed("unreachable Prefect API", f"exit {code}: {tail(out + err, 5)}")
        return
    report("unreachable Prefect API: one line, exit 3", seconds, start_up, "start-up")


def timed(step: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        result: object = step()
    except Exception as error:  # a refusal is the expected end of a hostile case
        result = error
    return time.perf_counter() - started, result


def collect_case(
    label: str,
    scratch: Path,
    hostile: Callable[[Path], Path],
    genuine: Callable[[Path], Path],
    refused: bool = True,
) -> None:
    """Collect the hostile home's one dataset and the genuine one's; report hostile ÷ genuine.
    `refused`: the hostile file must be refused (else it must be read)."""
    from tests.collect.test_hostile_input import collect

    reference, good = timed(lambda: collect(genuine(scratch / f"{label}-genuine")))
    if isinstance(good, BaseException):
        failed(label, f"the genuine file failed: {good}")
        return
    seconds, bad = timed(lambda: collect(hostile(scratch / f"{label}-hostile")))
    if isinstance(bad, BaseException) != refused:
        failed(label, f"the hostile file was {'read' if refused else f'refused: {bad}'}")
        return
    report(label, seconds, reference, "a genuine file of its size")


def hostile_files(scratch: Path) -> None:
    from tests.collect.test_hostile_input import (
        DEEP_RECORD,
        _bomb,
        _with_sheet,
        _workbook,
        collect,
        csv_home,
        json_home,
        xlsx_home,
    )

    collect(csv_home(scratch / "warm-up", "id,namn,varde\n1,a,1\n"))  # imports, engine start
    deep = "[" * 200_000 + "]" * 200_000
    records = json.dumps([{"id": i, "namn": "a" * 20, "varde": i} for i in range(9_000)])
    collect_case(
        "JSON nested 200,000 levels deep",
        scratch,
        lambda root: json_home(root, DEEP_RECORD.replace("DEEP", deep)),
        lambda root: json_home(root, records),
    )
    cell = "x" * (8 * MIB)
    rows = "".join(f"{i},{'x' * 40},{i}\n" for i in range(1, 8 * MIB // 48))
    collect_case(
        "CSV with an 8 MiB cell",
        scratch,
        lambda root: csv_home(root, f"id,namn,varde\n1,a,1\n2,{cell},2\n3,c,3\n"),
        lambda root: csv_home(root, "id,namn,varde\n" + rows),
    )
    wide = ",".join(f"c{i}" for i in range(100_000)) + "\n" + "1," * 99_999 + "1\n"
    narrow = "id,namn,varde\n" + "".join(f"{i},a,{i}\n" for i in range(1, len(wide) // 12))
    collect_case(
        "CSV with 100,000 columns",
        scratch,
        lambda root: csv_home(root, wide),
        lambda root: csv_home(root, narrow),
    )
    header = (
        b'<row r="1">'
        + b"".join(
            b'<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>' % (col, name)
            for col, name in ((b"A", b"id"), (b"B", b"namn"), (b"C", b"varde"))
        )
        + b"</row>"
    )
    far = b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c>'
        b"</row>" % (i, i, i, i)
        for i in range(2, 40_002)
    )
    near = b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d" t="inlineStr"><is><t>x</t></is></c>'
        b"</row>" % (i, i, i, i)
        for i in range(2, 40_002)
    )
    collect_case(
        "far-right cell in 40,000 rows",
        scratch,
        lambda root: xlsx_home(root, _with_sheet(_workbook([["id"]]), header + far)),
        lambda root: xlsx_home(root, _with_sheet(_workbook([["id"]]), header + near)),
        refused=False,
    )

    opendata = venv_command("opendata")
    env = clean_environment()
    small = xlsx_home(scratch / "bomb-genuine", _workbook([["id", "namn", "varde"], [1, "a", 1]]))
    reference, _, code, out, err = run_measured([opendata, "validate", "prov"], env, small)
    if code != 0:
        failed("xlsx inflating to 1 GiB", f"the genuine workbook: exit {code}: {tail(out + err)}")
        return
    bomb = xlsx_home(scratch / "bomb-hostile", b"")
    _bomb(bomb / "datasets/prov/sources/data.xlsx", 2**30)
    seconds, peak, code, out, err = run_measured([opendata, "validate", "prov"], env, bomb)
    if code != 1 or "inflate" not in err:
        failed("xlsx inflating to 1 GiB", f"exit {code}: {tail(out + err, 5)}")
        return
    report(f"xlsx inflating to 1 GiB ({peak / MIB:.0f} MiB peak)", seconds, reference, "a tiny one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-run", action="store_true", help="leave out the `make run` case")
    arguments = parser.parse_args()
    print("Times the suite no longer asserts (printed against a reference, never asserted):")
    with tempfile.TemporaryDirectory(prefix="bench-guards-") as folder:
        scratch = Path(folder)
        if not arguments.skip_run:
            make_run(scratch)
        unreachable_api(scratch)
        hostile_files(scratch)
    if FAILED:
        sys.exit(1)


if __name__ == "__main__":
    main()
