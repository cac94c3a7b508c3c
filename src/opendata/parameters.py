"""The flows' parameters as the Prefect UI's run form shows them (Deployments → Run → Custom run).

Prefect builds the form from each flow's signature: the JSON schema of each parameter's type,
its title (the parameter's name, unless the type gives one) and its description (the flow's
docstring). Two things of that schema decide what a steward sees:

- A parameter that may be None is an `anyOf` of its type and null, and the form then offers a
  choice whose null branch reads `Property is type "None"`. Here each such parameter's schema
  is its one real type with a non-null default ("" or []): the form shows a plain field, and
  what it sends back (an empty field) means what None means to the flow (`empty`).
- `datasets` is a list whose items are the names of the defined datasets (an `enum`, read from
  datasets/ when this module is imported: by `prefect deploy`, by the worker), so the form
  offers them to choose from. (prefect.yaml lets a publish-on-demand run name others: the
  worker's checkout decides, and the flow refuses a name it does not define.)

Only the schema changes: a flow called from Python still takes None for any of these, and
validates names itself (a `home` may hold other datasets than the deploying checkout).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from opendata.config import project_root
from opendata.definitions import discover

# The bump a run may ask for; "" (the form's empty choice) or None: the bump the changes need.
BumpOption = Literal["", "major", "minor", "patch"]


def defined_names(home: Path | None = None) -> list[str]:
    """The datasets defined in `home` (default: OPENDATA_HOME, else the repository found from
    the working directory, as the flows' settings find it), sorted."""
    if home is None:
        configured = os.environ.get("OPENDATA_HOME", "").strip()
        home = Path(configured) if configured else project_root()
    try:
        return discover(home / "datasets")
    except OSError:
        return []


def datasets_schema(names: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of `datasets`: a list of names chosen from `names` (any names when
    there are none to offer)."""
    item: dict[str, Any] = {"type": "string"}
    if names:
        item["enum"] = list(names)
    return {"type": "array", "items": item, "uniqueItems": True}


def titled(title: str) -> Any:
    """A parameter's title in the form (Swedish first), instead of its name."""
    return Field(json_schema_extra={"title": title})


def empty(value: str | None) -> str | None:
    """A text parameter as the flow uses it: None when the form left it empty."""
    return value or None


def chosen(datasets: Sequence[str] | None) -> list[str] | None:
    """`datasets` as the run takes it: None (every dataset) when the form chose none."""
    return list(datasets) if datasets else None


TEXT = WithJsonSchema({"type": "string"})

Datasets = Annotated[
    Sequence[str] | None,
    WithJsonSchema(datasets_schema(defined_names())),
    titled("Datamängder / datasets"),
]
Store = Annotated[str | None, TEXT, titled("Publiceringsplats / store")]
Home = Annotated[str | None, TEXT, titled("Projektmapp / home")]
Message = Annotated[str | None, TEXT, titled("Meddelande / message")]
BumpChoice = Annotated[
    BumpOption | None,
    WithJsonSchema({"type": "string", "enum": ["", "major", "minor", "patch"]}),
    titled("Versionssteg / bump"),
]
DryRun = Annotated[bool, titled("Provkörning / dry run")]
Offline = Annotated[bool, titled("Utan API:er / offline")]
Refresh = Annotated[bool, titled("Hämta från API:erna / refresh")]
Republish = Annotated[bool, titled("Publicera tillbakadragen data / republish")]
Name = Annotated[str, titled("Datamängd / name")]
Batches = Annotated[int, titled("Antal delkörningar / batches")]
Deployment = Annotated[str, titled("Driftsättning / deployment")]
PollSeconds = Annotated[float, titled("Sekunder mellan kontrollerna / poll seconds")]
