"""Where a deployment's flow run finds this repository (prefect.yaml's pull step).

A process worker starts each flow run in a fresh temporary folder; before the flow is loaded,
Prefect runs the deployment's pull steps, and ours moves into the repository root so that the
entrypoint `flows/publish.py` and the folders datasets/ and schemas/ are found. The root is

- OPENDATA_HOME, when it is set (in the worker's environment, or written into the deployment
  when it was set at `prefect deploy`);
- otherwise the repository the `opendata` package is imported from (the usual editable install
  of the repository's virtualenv: src/opendata/ lies two folders below the root);
- otherwise nothing: the run fails with one sentence saying to set OPENDATA_HOME.
"""

from __future__ import annotations

import os
from pathlib import Path

from opendata.errors import ConfigError

# What makes a folder this repository's root: the deployments' file and the flows' entrypoint.
MARKERS = ("prefect.yaml", "flows/publish.py")

_SET_IT = (
    "set OPENDATA_HOME to the repository root (the folder with prefect.yaml and "
    "flows/publish.py) in the worker's environment, "
    'e.g. `OPENDATA_HOME="$PWD" prefect worker start --pool opendata` from that folder'
)


def is_repository(folder: Path) -> bool:
    return all((folder / marker).is_file() for marker in MARKERS)


def package_repository(package_file: Path | None = None) -> Path | None:
    """The repository root the `opendata` package is imported from, if it is imported from one."""
    here = (package_file or Path(__file__)).resolve()
    # src/opendata/<module>.py → the repository root is three levels up.
    candidate = here.parents[2] if len(here.parents) > 2 else None
    return candidate if candidate is not None and is_repository(candidate) else None


def repository_root(home: str | None, package_file: Path | None = None) -> Path:
    """OPENDATA_HOME (`home`) when given, else the package's repository; ConfigError otherwise."""
    if home:
        folder = Path(home).expanduser()
        if not folder.is_absolute():
            raise ConfigError(
                f"OPENDATA_HOME is {home!r}, a relative path the flow run cannot resolve: "
                f"{_SET_IT}."
            )
        # A home may be a repository's copy with only the flows, datasets/ and schemas/.
        if not (folder / "flows" / "publish.py").is_file():
            raise ConfigError(
                f"OPENDATA_HOME is {home!r}, which holds no flows/publish.py: {_SET_IT}."
            )
        return folder.resolve()
    found = package_repository(package_file)
    if found is None:
        raise ConfigError(
            "The flow run cannot find the repository (OPENDATA_HOME is not set and the opendata "
            f"package is not installed from a checkout): {_SET_IT}."
        )
    return found


def set_working_directory(directory: str = "") -> dict[str, str]:
    """Prefect pull step: move into the repository root (see the module's docstring).

    `directory` is prefect.yaml's `{{ $OPENDATA_HOME }}`: the path written at `prefect deploy`,
    or filled in from the worker's environment at run time ("" when the variable is unset; an
    unfilled placeholder counts as unset too).
    """
    home = directory.strip()
    if home.startswith("{{"):
        home = ""
    root = repository_root(home or os.environ.get("OPENDATA_HOME", "").strip() or None)
    os.chdir(root)
    return {"directory": str(root)}
