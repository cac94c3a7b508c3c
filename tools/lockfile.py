"""requirements.lock: every package `make run` installs, pinned, with its files' hashes.

`make lock` writes it (`uv pip compile`, one resolution for Python 3.11 and later on every
platform) from pyproject.toml's dependency lists: the build backend (`[build-system] requires`),
`[project] dependencies` and the `dev` extra, with ALSO_LOCKED below. It records a digest of
those lists in its header, so that `check` (tests/project/test_lockfile.py, and `make run`
before it installs our package) fails when pyproject.toml has changed since:

    python tools/lockfile.py check
    python tools/lockfile.py lock --uv PATH [uv pip compile's options: --upgrade-package NAME]

Only the standard library and `packaging` are imported: `check` runs with the environment's
own Python, `lock` with the one `make lock` installs uv in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
RELOCK = "make lock"
DIGEST_LINE = "# pyproject.toml's dependency lists, sha256: "
# Locked besides what pyproject.toml asks for: the installer itself, and what hatchling asks for
# to build our editable install (its get_requires_for_build_editable: `make run` installs our
# package without build isolation, so the environment must hold it).
ALSO_LOCKED = ["pip", "editables~=0.3"]
# The environments a requirement with a marker is looked for in (the lock's own range).
PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
HASH = re.compile(r"[a-z0-9]+:[0-9a-f]{32,}")


def declared(pyproject: Mapping[str, Any]) -> dict[str, list[str]]:
    """The dependency lists the lock is made from, each by where pyproject.toml declares it."""
    project = pyproject.get("project", {})
    return {
        "build-system.requires": list(pyproject.get("build-system", {}).get("requires", [])),
        "project.dependencies": list(project.get("dependencies", [])),
        "project.optional-dependencies.dev": list(
            project.get("optional-dependencies", {}).get("dev", [])
        ),
    }


def digest(pyproject: Mapping[str, Any]) -> str:
    """SHA-256 of the dependency lists and requires-python, blind to order, spacing and
    comments (what `make lock` resolves from, nothing else)."""
    lists = {
        where: sorted(str(Requirement(r)) for r in reqs)
        for where, reqs in declared(pyproject).items()
    }
    lists["project.requires-python"] = [pyproject.get("project", {}).get("requires-python", "")]
    return hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()


def _logical_lines(text: str) -> Iterator[str]:
    """The lock's requirement lines, continuations joined, comments left out."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield (pending + line).strip()
        pending = ""
    if pending.strip():
        yield pending.strip()


def _applies(marker: Marker | None) -> bool:
    """Whether a requirement's marker holds on Linux with any Python the lock is for."""
    if marker is None:
        return True
    return any(
        marker.evaluate(
            {
                "python_version": version,
                "python_full_version": f"{version}.0",
                "sys_platform": "linux",
                "platform_system": "Linux",
                "os_name": "posix",
            }
        )
        for version in PYTHONS
    )


def problems(pyproject_text: str, lock_text: str) -> list[str]:
    """Every way the lock disagrees with pyproject.toml; empty when it agrees.

    Each requirement of the build backend, the dependencies and the `dev` extra is pinned in
    the lock to a version its specifier allows (an extra such as `boto3-stubs[s3]` is checked
    by its package's pin only); every pin is `name==version` and carries at least one hash; and
    the digest in the lock's header is that of pyproject.toml's lists, so a requirement removed
    or loosened since `make lock` is caught too.
    """
    pyproject = tomllib.loads(pyproject_text)
    found: list[str] = []
    pins: dict[str, list[Version]] = {}
    for line in _logical_lines(lock_text):
        spec, *hashes = re.split(r"\s+--hash=", line)
        try:
            req = Requirement(spec)
            (pin,) = req.specifier
            if pin.operator != "==" or req.url:
                raise ValueError
            version = Version(pin.version)
        except (InvalidRequirement, InvalidVersion, ValueError):
            found.append(f"requirements.lock: {spec!r} is not a pin (name==version)")
            continue
        if not hashes or not all(HASH.fullmatch(h) for h in hashes):
            found.append(f"requirements.lock: {req.name}=={version} has no --hash")
        pins.setdefault(canonicalize_name(req.name), []).append(version)

    recorded = next(
        (
            line[len(DIGEST_LINE) :].strip()
            for line in lock_text.splitlines()
            if line.startswith(DIGEST_LINE)
        ),
        None,
    )
    if recorded is None:
        found.append("requirements.lock records no digest of pyproject.toml's dependency lists")
    elif recorded != digest(pyproject):
        found.append(
            "pyproject.toml's dependency lists (or requires-python) changed since "
            "requirements.lock was made"
        )

    for where, reqs in declared(pyproject).items():
        for text in reqs:
            req = Requirement(text)
            versions = pins.get(canonicalize_name(req.name))
            if not versions:
                if _applies(req.marker):
                    found.append(f"{req.name} ({where}: {text!r}) is not in requirements.lock")
                continue
            for version in versions:
                if not req.specifier.contains(version, prereleases=True):
                    found.append(
                        f"{req.name} is pinned to {version} in requirements.lock, "
                        f"which {where}'s {text!r} does not allow"
                    )
    return found


def explain(found: list[str]) -> str:
    lines = ["requirements.lock does not agree with pyproject.toml:"]
    lines += [f"  - {p}" for p in found]
    lines.append(
        f"Re-lock with `{RELOCK}` (every other pin is kept; README, 'Dependencies: "
        "requirements.lock'), then `make run` installs it."
    )
    return "\n".join(lines)


def python_version(pyproject: Mapping[str, Any]) -> str:
    """The oldest Python requires-python allows (`>=3.11` → 3.11): the lock's lower bound."""
    requires = pyproject.get("project", {}).get("requires-python", "")
    match = re.fullmatch(r"\s*>=\s*(\d+\.\d+)\s*", requires)
    if not match:
        raise SystemExit(f"requires-python {requires!r}: `make lock` expects '>=X.Y'")
    return match.group(1)


def lock(uv: str, options: list[str]) -> None:
    """Resolve pyproject.toml's lists into requirements.lock with uv, then record the digest.

    The lock already there is uv's preference: a version changes only when pyproject.toml no
    longer allows it, or when an option such as `--upgrade-package NAME` asks for it.
    """
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    extra = declared(pyproject)["build-system.requires"] + ALSO_LOCKED
    command = [uv, "pip", "compile", "pyproject.toml", "-", "--extra", "dev", "--universal"]
    command += ["--python-version", python_version(pyproject), "--generate-hashes"]
    command += ["--custom-compile-command", RELOCK, "--output-file", LOCK.name, "--quiet"]
    command += options
    subprocess.run(command, input="\n".join(extra) + "\n", text=True, cwd=ROOT, check=True)
    lines = LOCK.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [line for line in lines if not line.startswith(DIGEST_LINE)]
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(header, f"{DIGEST_LINE}{digest(pyproject)}\n")
    LOCK.write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="fail when requirements.lock disagrees with pyproject.toml")
    lock_parser = commands.add_parser("lock", help="re-resolve requirements.lock with uv")
    lock_parser.add_argument("--uv", default="uv", help="the uv executable")
    args, options = parser.parse_known_args(argv)
    if args.command == "lock":
        lock(args.uv, options)
    elif options:
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    found = problems(PYPROJECT.read_text(encoding="utf-8"), LOCK.read_text(encoding="utf-8"))
    if found:
        print(explain(found), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
