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


def described(title: str, swedish: str, english: str) -> Any:
    """A parameter's title in the form (Swedish first), instead of its name, and its
    description: a Swedish paragraph, then the English one in italics. Written here once for
    every flow that takes the parameter (Prefect would otherwise read each flow's docstring)."""
    return Field(json_schema_extra={"title": title, "description": f"{swedish}\n\n*{english}*"})


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
    described(
        "Datamängder / datasets",
        "Datamängderna att publicera, valda bland dem som finns under datasets/. Inga valda: "
        "alla (som de står i körningens projektmapp).",
        "The datasets to publish, chosen among those under datasets/. None chosen: every "
        "dataset (as listed in the run's repository folder).",
    ),
]
Store = Annotated[
    str | None,
    TEXT,
    described(
        "Publiceringsplats / store",
        "Var de publiceras: en mapp eller en adress som s3://hink/prefix, utan "
        "inloggningsuppgifter. Tomt: arbetarens OPENDATA_STORE, annars public/ i projektet.",
        "Where to publish: a folder or a store URL such as s3://bucket/prefix, without "
        "credentials. Empty: OPENDATA_STORE of the worker, else public/ in the repository.",
    ),
]
Home = Annotated[
    str | None,
    TEXT,
    described(
        "Projektmapp / home",
        "Projektets mapp, den med datasets/ och schemas/ (densamma för alla arbetare). Tomt: "
        "arbetarens OPENDATA_HOME, annars dess arbetsmapp.",
        "The repository folder holding datasets/ and schemas/ (the same for every worker). "
        "Empty: the worker's OPENDATA_HOME, else its working directory.",
    ),
]
Message = Annotated[
    str | None,
    TEXT,
    described(
        "Meddelande / message",
        "Varför versionen görs, i en mening som katalogens läsare förstår (sparas med "
        "versionen, visas på dess sida och i DCAT). Tomt: inget.",
        "Why this version is made, in a sentence a reader of the catalog understands (kept "
        "with the version, shown on its page and in DCAT). Empty: none.",
    ),
]
BumpChoice = Annotated[
    BumpOption | None,
    WithJsonSchema({"type": "string", "enum": ["", "major", "minor", "patch"]}),
    described(
        "Versionssteg / bump",
        "Gör minst detta versionssteg: major, minor eller patch. Tomt: det steg ändringarna "
        "kräver (en ny kolumn är minor, ändrade rader patch, ...).",
        "Make at least this version bump: major, minor or patch. Empty: the bump the changes "
        "require (a new column is minor, changed rows are patch, ...).",
    ),
]
DryRun = Annotated[
    bool,
    described(
        "Provkörning / dry run",
        "Hämta, kontrollera och räkna ut de nya versionerna, men publicera inget.",
        "Collect, validate and work out the new versions, but publish nothing.",
    ),
]
Offline = Annotated[
    bool,
    described(
        "Utan API:er / offline",
        "Fråga inga öppna API:er; en datamängd som hämtas från ett hoppas över (dess senaste "
        "version ligger kvar).",
        "Ask no public API; a dataset collected from one is skipped (its last version stays).",
    ),
]
Refresh = Annotated[
    bool,
    described(
        "Hämta från API:erna / refresh",
        "Hämta resurser som har en källa i ett öppet API (t.ex. befolkning från SCB:s PxWeb) "
        "från API:et i stället för från deras filer.",
        "Collect resources that have a public API source (e.g. befolkning from SCB's PxWeb) "
        "from the API instead of their files.",
    ),
]
Republish = Annotated[
    bool,
    described(
        "Publicera tillbakadragen data / republish",
        "Publicera data som är lika med en tillbakadragen version som en ny version ändå (utan "
        "detta publiceras sådan data inte igen).",
        "Publish data equal to a withdrawn version as a new version anyway (without it such "
        "data is not published again).",
    ),
]
Name = Annotated[
    str,
    described(
        "Datamängd / name",
        'Datamängden att publicera: dess mapp under datasets/, t.ex. "befolkning".',
        'The dataset to publish: its folder under datasets/, e.g. "befolkning".',
    ),
]
Batches = Annotated[
    int,
    described(
        "Antal delkörningar / batches",
        "I hur många flödeskörningar datamängderna delas: högst så många arbetare som ska dela "
        "på arbetet (fler delar bara köar).",
        "Into how many flow runs the datasets are split: at most the number of workers that "
        "should share the work (more batches only queue).",
    ),
]
Deployment = Annotated[
    str,
    described(
        "Driftsättning / deployment",
        "Driftsättningen som varje del kör, som flödesnamn/driftsättningsnamn; arbetarna i dess "
        "arbetspool delar på delarna.",
        "The deployment each batch runs, as flow-name/deployment-name; its work pool's workers "
        "share the batches.",
    ),
]
PollSeconds = Annotated[
    float,
    described(
        "Sekunder mellan kontrollerna / poll seconds",
        "Hur ofta delarnas tillstånd läses medan körningen väntar, i sekunder.",
        "How often the batches' states are read while waiting, in seconds.",
    ),
]
