"""What one publish run is asked to do, as one serialisable record.

The CLI (`opendata publish`), the flows (`publish-all`, `publish-dataset`, `publish-spread`) and
the spread's batches all say the same things: which datasets, where, what bump, a dry run or not,
offline or refreshing from the APIs, republishing withdrawn data, the version's message and how
many datasets at once. They say it with one `RunRequest`, which `opendata.run` takes whole, so an
option is added in one place and travels everywhere (a batch's flow run gets it as parameters,
a Dask worker as a pickled record, a log or a test as JSON).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, cast, get_args

from opendata.errors import ConfigError
from opendata.state import Bump

BUMPS: tuple[str, ...] = get_args(Bump)


def new_run_id() -> str:
    """A run's own id: what a process that opens a run's settings and store once (run.py's
    RunContext) files them under."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class RunRequest:
    """One publish run's options; None means "the default" (the settings' or every dataset).

    Frozen and made of plain values: it is hashable, pickles to a Dask worker, and turns into
    JSON or the flows' parameters and back without loss (`to_dict`/`from_dict`).
    """

    datasets: tuple[str, ...] | None = None  # None: every dataset defined in the home
    store: str | None = None  # None: OPENDATA_STORE, else public/ in the home
    home: str | None = None  # None: OPENDATA_HOME, else the working directory's repository
    bump: Bump | None = None  # None: the bump the changes require
    dry_run: bool = False
    offline: bool = False
    refresh: bool = False
    republish: bool = False
    message: str | None = None
    parallel: int | None = None  # None: OPENDATA_PARALLEL, else min(4, datasets)
    run_id: str = field(default_factory=new_run_id, compare=False)

    def __post_init__(self) -> None:
        if self.datasets is not None and not isinstance(self.datasets, tuple):
            # A list given by a caller: kept as a tuple, so the request stays hashable.
            object.__setattr__(self, "datasets", tuple(self.datasets))
        if self.bump is not None and self.bump not in BUMPS:
            raise ConfigError(f"bump {self.bump!r}: choose one of {', '.join(BUMPS)}")
        if self.parallel is not None and self.parallel < 1:
            raise ConfigError(
                f"--parallel {self.parallel}: give how many datasets to publish at once, 1 or "
                "more (1 publishes them one after another)"
            )
        if self.offline and self.refresh:
            raise ConfigError("--refresh asks the public APIs and --offline forbids it: choose one")

    @property
    def names(self) -> list[str] | None:
        """The named datasets as a list, or None for every dataset."""
        return list(self.datasets) if self.datasets is not None else None

    def for_datasets(self, names: Sequence[str]) -> RunRequest:
        """The same options for these datasets: a batch of a spread run, a run of its own."""
        return replace(self, datasets=tuple(names), run_id=new_run_id())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record of every option (lists for tuples)."""
        record = asdict(self)
        if self.datasets is not None:
            record["datasets"] = list(self.datasets)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> RunRequest:
        """The request `to_dict` wrote; a key it does not know is refused (a typo would
        otherwise be a default silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ConfigError(f"a run request has no option {', '.join(map(repr, unknown))}")
        values = dict(record)
        if values.get("datasets") is not None:
            values["datasets"] = tuple(values["datasets"])
        return cls(**values)

    @classmethod
    def from_form(
        cls,
        *,
        datasets: Sequence[str] | None = None,
        store: str | None = None,
        bump: str | None = None,
        dry_run: bool = False,
        offline: bool = False,
        home: str | None = None,
        refresh: bool = False,
        message: str | None = None,
        republish: bool = False,
        parallel: int | None = None,
    ) -> RunRequest:
        """A request from the flows' parameters, as the Prefect UI's run form sends them: an
        empty text or an empty choice of datasets means the default (see parameters.py)."""
        return cls(
            datasets=tuple(datasets) if datasets else None,
            store=store or None,
            home=home or None,
            bump=cast("Bump | None", bump or None),
            dry_run=dry_run,
            offline=offline,
            refresh=refresh,
            republish=republish,
            message=message or None,
            parallel=parallel,
        )

    def to_form(self) -> dict[str, Any]:
        """The flows' parameters for this request, leaving out the texts left to their default,
        so that a deployment's own defaults apply to them (a spread run's batches). `parallel`
        is the process's setting (OPENDATA_PARALLEL), not a flow parameter."""
        form: dict[str, Any] = {
            "datasets": self.names,
            "store": self.store,
            "bump": self.bump,
            "dry_run": self.dry_run,
            "offline": self.offline,
            "home": self.home,
            "refresh": self.refresh,
            "message": self.message,
            "republish": self.republish,
        }
        return {key: value for key, value in form.items() if value is not None and value != ""}
