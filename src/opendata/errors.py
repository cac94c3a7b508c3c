"""Typed operational errors.

Data problems are not exceptions: they are rows of a validation report. Everything here is an
operational failure that stops one dataset (or the whole run) and is turned into a plain message
and an exit code at one boundary: the CLI or the flow.
"""

from __future__ import annotations


class OpendataError(Exception):
    """Base class; `exit_code` follows the CLI contract (2 usage/config, 3 operational)."""

    exit_code = 3


class ConfigError(OpendataError):
    """A setting is missing or malformed (environment, command-line option)."""

    exit_code = 2


class DefinitionError(OpendataError):
    """A dataset definition (dataset.yaml, a schema, a source declaration) is wrong.

    The message always names the file and the key, so a steward can fix it without a traceback.
    """

    exit_code = 2


class SourceError(OpendataError):
    """A source file cannot be read as declared: badly encoded, malformed, ambiguous, beyond a
    limit, sheet or column absent.

    A problem with a file's content, not with the definition: the dataset is invalid, exit
    code 1 (the README's contract), and the message names the file and the line, row or cell.
    """

    exit_code = 1


class StoreError(OpendataError):
    """The store failed in a way that retrying will not fix."""

    exit_code = 3


class TransientStoreError(StoreError):
    """The store failed in a way that may pass: retried with backoff by the I/O tasks."""


class ConflictError(StoreError):
    """Someone else's work stands where ours would go: a pointer changed between our read and
    our write, or a file that is never overwritten exists with other content."""


class LostRace(ConflictError):
    """A compare-and-swap lost to another writer: its write went through, so reading again
    and trying again makes progress (contention.py), however many writers run at once."""


class RemoteSourceNeeded(OpendataError):
    """The dataset is collected from a public API and the run is offline: it is `skipped`."""

    exit_code = 0


def is_transient(error: BaseException) -> bool:
    """Whether retrying the operation that raised `error` can help."""
    return isinstance(error, TransientStoreError)


class InvalidSourceData(OpendataError):
    """The source data itself is wrong (a name that maps to no municipality, a member missing).

    A data problem like a validation error: the dataset is `invalid`, exit code 1.
    """

    exit_code = 1


class SourceUnavailable(OpendataError):
    """An API source cannot be reached: a transient failure that persisted through every retry.

    Connection refused or reset, timeouts, HTTP 429 and 5xx are retried with backoff; this is
    raised when the last attempt failed too. Operational (exit code 3): a later run may succeed.
    A publish run does not fail the dataset for it: the dataset is `skipped` (its last published
    version stays) and the run says which source could not be reached (opendata.run).

    `source` names the source as a steward knows it ("Kolada https://api.kolada.se/v3"), once
    the collector that asked it has said so (collect/remote.py); `request` is the request that
    failed last (method and URL without credentials), `reason` its failure, `attempts` how many
    were made.
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        request: str | None = None,
        reason: str | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.request = request
        self.reason = reason
        self.attempts = attempts


class PrefectUnavailable(OpendataError):
    """A Prefect API is configured but does not answer: operational (exit 3), one line of help."""

    exit_code = 3


class SourceResponseError(OpendataError):
    """An API source answered with something retrying will not fix.

    A 4xx status other than 429, or a body that is not JSON or not of the documented shape. The
    message names the URL (without credentials) and what was wrong with the answer.
    """

    exit_code = 3


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM): raised at the run's next safe point, so that the
    `finally` blocks on the way out release what the run holds (see opendata/termination.py).
    A BaseException like KeyboardInterrupt: no `except Exception` swallows it."""

    exit_code = 143  # 128 + SIGTERM, what a shell reports for a process SIGTERM ended

    def __init__(self, signum: int = 15) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return (
            "stopped by SIGTERM: the datasets in progress were stopped and their claims "
            "released; run again to publish them"
        )
