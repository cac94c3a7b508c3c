"""What a steward reads in the Prefect UI after a run: a summary table of the datasets and, for a
dataset whose data is wrong, a report of its problems. Pure text builders: no Prefect here (the
flow in flows/publish.py turns them into artifacts).

Source text (dataset names, file names, cell values, messages) can hold anything a spreadsheet
holds, and the Prefect UI renders artifact markdown, table cells included, as HTML. So every piece
of it goes through `escape`: HTML's special characters and the table's `|` become character
references and every other ASCII punctuation character is backslash-escaped. No source text can
then open a tag, a link, an image, emphasis, a heading or a new table column; it reads as the
text it was.
"""

from __future__ import annotations

import ast
import hashlib
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

CELL_LIMIT = 300  # characters of source text shown in one cell
LISTED = 50  # problems listed in an invalid dataset's report; the rest are counted

# The columns of the summary table (Swedish first, English beside: stewards read it).
DATASET = "Datamängd / dataset"
STATUS = "Status"
VERSION = "Version"
BUMP = "Ändring / bump"
ROWS = "Rader / rows"
CHANGES = "Vad hände / what happened"
LINK = "Länk / link"
COLUMNS = (DATASET, STATUS, VERSION, BUMP, ROWS, CHANGES, LINK)

STATUSES = {
    "published": "publicerad / published",
    "unchanged": "oförändrad / unchanged",
    "skipped": "hoppades över / skipped",
    "invalid": "ogiltig / invalid",
    "failed": "misslyckades / failed",
    "withdrawn": "tillbakadragen / withdrawn",
}
BUMPS = {
    "major": "major",
    "minor": "minor",
    "patch": "patch",
    "first": "första versionen / first version",
}

# What each kind of problem means, for someone who never read the validator's documentation.
KINDS = {
    "type-error": "fel sorts värde / wrong kind of value",
    "constraint-error": "värdet bryter mot en regel / the value breaks a rule",
    "primary-key": "samma nyckel två gånger / the same key twice",
    "unique-error": "värdet finns redan / the value is already there",
    "foreign-key": "okänd hänvisning / unknown reference",
    "missing-cell": "cell saknas / a cell is missing",
    "extra-cell": "cell för mycket / one cell too many",
    "blank-row": "tom rad / empty row",
    "formula-like-text": "text som liknar en formel / text that looks like a formula",
    "non-finite-number": "tal som inte är ändligt / a number that is not finite",
    "integer-out-of-range": "för stort heltal / integer too large",
    "source-error": "filen kan inte läsas / the file cannot be read",
}

_REFERENCES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "|": "&#124;",
    "\\": "&#92;",
}
_PUNCTUATION = frozenset(string.punctuation)


def escape(text: object, limit: int | None = CELL_LIMIT) -> str:
    """`text` as literal markdown and HTML text on one line, at most `limit` characters of it.

    Line breaks and other whitespace become single spaces (a table cell is one line), control
    characters and lone surrogates U+FFFD; a longer text is cut with "…".
    """
    flat = "".join(
        "\ufffd" if unicodedata.category(char) in ("Cc", "Cs") else char
        for char in " ".join(str(text).split())
    )
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    pieces = []
    for char in flat:
        if char in _REFERENCES:
            pieces.append(_REFERENCES[char])
        elif char in _PUNCTUATION:
            pieces.append("\\" + char)
        else:
            pieces.append(char)
    return "".join(pieces)


def artifact_key(prefix: str, name: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for `name`.

    A name that is not already such a slug gets a short hash of itself, so two names that
    slugify alike (`Avfall_2024`, `avfall-2024`) keep apart.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    if slug != name or not slug:
        slug = f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:6]}".lstrip("-")
    return f"{prefix}-{slug}"


def _semver(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None


def bump_of(outcome: Mapping[str, Any]) -> str | None:
    """The bump the outcome made: its own `bump`, else derived from previous → version."""
    if outcome.get("bump"):
        return str(outcome["bump"])
    version, previous = outcome.get("version"), outcome.get("previous_version")
    if outcome.get("status") != "published" or not version:
        return None
    if not previous:
        return "first"
    new, old = _semver(str(version)), _semver(str(previous))
    if new is None or old is None or len(new) != 3 or len(old) != 3 or new == old:
        return None
    if new[0] != old[0]:
        return "major"
    return "minor" if new[1] != old[1] else "patch"


def is_data_problem(outcome: Mapping[str, Any]) -> bool:
    """Whether a steward must correct source data: invalid, or a source file that cannot be read
    as declared (exit code 1). These get a report of their own."""
    status = outcome.get("status")
    return status == "invalid" or (status == "failed" and outcome.get("exit_code") == 1)


def _count(value: object) -> str:
    return f"{value:,}".replace(",", "\u00a0") if isinstance(value, int) else ""


def _link(url: object) -> str:
    """A markdown link to one of our own URLs; anything not http(s) is shown as text."""
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s<>\"'`\\()\[\]|]+", url):
        return escape(url) if url else ""
    label = escape(url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1], limit=80)
    return f"[{label}]({url})"


def _happened(outcome: Mapping[str, Any], report_key: str | None) -> str:
    status = outcome.get("status")
    if is_data_problem(outcome):
        count = len(outcome.get("problems") or [])
        problems = f"{count} fel / {count} problems: " if count else ""
        return escape(f"{problems}se rapporten {report_key} / see the report {report_key}")
    if status == "published" and outcome.get("dry_run"):
        return escape(
            f"provkörning, inget publicerades / dry run, nothing published: "
            f"{outcome.get('changes') or ''}".rstrip(": ")
        )
    if status == "published":
        return escape(outcome.get("changes") or "")
    return escape(outcome.get("message") or "")


def summary_rows(outcomes: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One row per dataset for the run's table artifact, every cell escaped markdown."""
    rows = []
    for outcome in outcomes:
        name = str(outcome.get("dataset", ""))
        status = str(outcome.get("status", ""))
        report_key = artifact_key("invalid", name) if is_data_problem(outcome) else None
        bump = bump_of(outcome)
        link = "" if outcome.get("dry_run") else _link(outcome.get("url"))
        rows.append(
            {
                DATASET: escape(name),
                STATUS: escape(STATUSES.get(status, status)),
                VERSION: escape(outcome.get("version") or ""),
                BUMP: escape(BUMPS.get(bump, bump) if bump else ""),
                ROWS: _count(outcome.get("rows")),
                CHANGES: _happened(outcome, report_key),
                LINK: link,
            }
        )
    return rows


def stopped_row(message: str) -> dict[str, str]:
    """The table's one row when the run stopped before any dataset (a bad setting)."""
    return {
        DATASET: "",
        STATUS: escape("stoppad / stopped"),
        VERSION: "",
        BUMP: "",
        ROWS: "",
        CHANGES: escape(message),
        LINK: "",
    }


# -- an invalid dataset's report ---------------------------------------------------------------

_SHOWN_VALUE = re.compile(
    r"""^('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?: … \(([\d,]+) characters\))?: (.*)$""", re.S
)
_ORIGIN = re.compile(r"^(.*?)(?:, (?:row|line|rad|cell|cells|rows) .*)?$", re.S)


_IN_ALL = re.compile(r"^\s*in all: (.*)$", re.M)
_KIND_COUNT = re.compile(r"([A-Za-z0-9_-]+) (\d{1,3}(?:,\d{3})*)(?=, |$)")


def counted_in_all(message: str) -> Counter[str]:
    """The problems per kind the validator counted (its "in all: type-error 1,234, ..." line,
    written when it listed only the first of each kind); empty when there is no such line."""
    match = _IN_ALL.search(message)
    if not match:
        return Counter()
    return Counter(
        {code: int(count.replace(",", "")) for code, count in _KIND_COUNT.findall(match.group(1))}
    )


def _value_and_note(problem: Mapping[str, Any]) -> tuple[str, str]:
    """The cell's value and what is wrong with it.

    Problems may carry `value`; otherwise the validator's message starts with the cell's repr
    (`'elvatusen': type is "integer/default"`), which is split off. What is wrong is said in
    Swedish and English when the problem has it (`message_sv`, `message_en`).
    """
    value, note = _split_value(problem)
    if problem.get("message_sv"):
        note = f"{problem['message_sv']} / {problem.get('message_en') or note}"
    return value, note


def _split_value(problem: Mapping[str, Any]) -> tuple[str, str]:
    message = str(problem.get("message") or "")
    if "value" in problem and problem["value"] is not None:
        return str(problem["value"]), message
    match = _SHOWN_VALUE.match(message)
    if match:
        try:
            value = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return "", message
        if isinstance(value, str):
            if match.group(2):
                value += f" … ({match.group(2)} tecken / characters)"
            return value, match.group(3)
    return "", message


def _file(problem: Mapping[str, Any]) -> str:
    if problem.get("file"):
        return str(problem["file"])
    origin = problem.get("origin")
    if origin:
        match = _ORIGIN.match(str(origin))
        return match.group(1) if match else str(origin)
    return f"resurs / resource {problem.get('resource', '')}"


_SOURCE_ROW = re.compile(r", (?:row|line|record) (\d+)")


def _source_row(problem: Mapping[str, Any]) -> int | None:
    """The row in the steward's file (its origin's), else the validator's row."""
    match = _SOURCE_ROW.search(str(problem.get("origin") or ""))
    if match:
        return int(match.group(1))
    row = problem.get("row")
    return row if isinstance(row, int) else None


def _where(problem: Mapping[str, Any]) -> str:
    row = _source_row(problem)
    cell = problem.get("cell")
    shown = str(row) if row is not None else ""
    if cell:
        shown = f"{shown} ({cell})" if shown else str(cell)
    return shown


def _sort_key(problem: Mapping[str, Any]) -> tuple[str, int, str]:
    row = _source_row(problem)
    return (_file(problem), row if row is not None else -1, str(problem.get("field") or ""))


def kind_label(code: str) -> str:
    label = KINDS.get(code)
    return f"{escape(label)} ({escape(code)})" if label else escape(code)


def invalid_report(outcome: Mapping[str, Any], limit: int = LISTED) -> str:
    """The markdown report of a dataset whose data is wrong: what to do first, then the problems
    by kind and by row (the first `limit`; "… and N more" for the rest)."""
    name = str(outcome.get("dataset", ""))
    shown_name = escape(name, limit=80)
    problems = sorted(outcome.get("problems") or [], key=_sort_key)
    lines = [
        f"# {shown_name}: inget publicerades / nothing was published",
        "",
        "Källdata har fel, så ingenting av datamängden publicerades i den här körningen. "
        "Den version som redan är publicerad ligger kvar som den var.",
        "",
        "*The source data has errors, so nothing of this dataset was published in this run. "
        "The version already published stays as it was.*",
        "",
        "## Gör så här / What to do",
        "",
    ]
    if problems:
        lines += [
            "1. Öppna filen i kolumnen **Fil** nedan och gå till raden i kolumnen **Rad** "
            "(radnumret som kalkylbladet visar till vänster; i en CSV-fil är filens första "
            "rad rad 1). "
            "*Open the file named under **Fil / file** and go to the row under "
            "**Rad / row** (the number the spreadsheet shows at the row's left; in a CSV file, "
            "the file's first row is row 1).*",
            "2. Rätta värdet i den kolumn som nämns; **Vad är fel** säger vad som är fel. "
            "Rätta alla rader i listan, de står i radordning. "
            "*Correct the value in the column named; **what is wrong** says what is wrong. "
            "Correct every row listed; they are in row order.*",
        ]
    else:
        lines += [
            "1. Läs felet nedan: det nämner filen och var i filen felet finns. "
            "*Read the error below: it names the file and where in it the error is.*",
            "2. Rätta filen. *Correct the file.*",
        ]
    lines += [
        "3. Spara filen på samma plats och publicera igen. "
        "Med `opendata validate` kan du först kontrollera den på din dator. "
        "*Save the file in the same place and publish again. "
        "`opendata validate` checks it on your computer first.*",
        "",
    ]
    if not problems:
        lines += ["## Felet / The error", ""]
        message = str(outcome.get("message") or "")
        lines += [f"> {escape(line, limit=1000)}" for line in message.splitlines() if line.strip()]
        return "\n".join(lines) + "\n"

    counts = Counter(str(problem.get("code") or "") for problem in problems)
    totals = counted_in_all(str(outcome.get("message") or ""))
    if sum(totals.values()) > len(problems):
        counts = totals  # the validator listed only the first problems of each kind
    lines += [
        "## Fel per sort / Problems by kind",
        "",
        "| Sort / kind | Antal / count |",
        "|---|---:|",
    ]
    lines += [f"| {kind_label(code)} | {_count(count)} |" for code, count in counts.most_common()]
    lines += [
        "",
        "## Felen i radordning / The problems, in row order",
        "",
        "| Fil / file | Rad / row | Kolumn / column | Värde / value | Vad är fel / what is wrong |",
        "|---|---:|---|---|---|",
    ]
    for problem in problems[:limit]:
        value, note = _value_and_note(problem)
        column = problem.get("column") or problem.get("field") or ""
        lines.append(
            "| "
            + " | ".join(
                [
                    escape(_file(problem)),
                    escape(_where(problem)),
                    escape(column),
                    escape(value),
                    escape(note),
                ]
            )
            + " |"
        )
    hidden = max(sum(counts.values()), len(problems)) - min(limit, len(problems))
    if hidden > 0:
        lines += [
            "",
            f"… och {_count(hidden)} till / … and {_count(hidden)} more "
            "(`opendata validate` visar alla / lists them all)",
        ]
    return "\n".join(lines) + "\n"
