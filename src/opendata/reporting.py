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
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from opendata import problems

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
    # The data equals a withdrawn version's: the dataset is not withdrawn, that version is.
    "withdrawn": "inte publicerad / not published",
}
BUMPS = {
    "major": "major",
    "minor": "minor",
    "patch": "patch",
    "first": "första versionen / first version",
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
    if status == "withdrawn" and outcome.get("withdrawn_version"):
        return escape(withdrawn_text(outcome), limit=1000)
    if status == "skipped" and outcome.get("unreachable"):
        return escape(unreachable_text(outcome), limit=1000)
    return escape(outcome.get("message") or "")


def unreachable_text(outcome: Mapping[str, Any]) -> str:
    """Why a dataset was skipped because a public API could not be reached, Swedish first:
    the source, that nothing was collected and which version stays; then the run's English
    message, which says what failed."""
    latest = outcome.get("version")
    stays = (
        f"senaste publicerade versionen {latest} ligger kvar"
        if latest
        else "ingen version är publicerad ännu"
    )
    return (
        f"källan {outcome.get('unreachable')} kunde inte nås, så datamängden hämtades inte "
        f"i den här körningen; {stays} / {outcome.get('message') or ''}"
    )


def withdrawn_text(outcome: Mapping[str, Any]) -> str:
    """Why data equal to a withdrawn version was not published, Swedish first: which version
    is withdrawn (and why), which is latest, and how to publish it anyway."""
    withdrawn, latest = outcome.get("withdrawn_version"), outcome.get("version")
    why = outcome.get("withdrawn_reason") or ""
    sv_latest = f"senaste är {latest}" if latest else "ingen version är publicerad"
    en_latest = f"latest is {latest}" if latest else "no version is published"
    return (
        f"samma data som {withdrawn}, som drogs tillbaka (skäl: {why}); {sv_latest}; "
        "parametern republish publicerar den ändå / "
        f"the data equals {withdrawn}, which was withdrawn (reason: {why}); {en_latest}; "
        "the parameter republish publishes it anyway"
    )


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
    """The row in the steward's file, and below it the spreadsheet cell (`Blad1!C6`)."""
    row = _source_row(problem)
    cell = problem.get("cell")
    lines = [escape(row, limit=None)] if row is not None else []
    if cell:
        lines.append(wrapped(cell, WHERE_WIDTH, NAME_LIMIT))
    return BREAK.join(lines)


def _sort_key(problem: Mapping[str, Any]) -> tuple[str, int, str]:
    row = _source_row(problem)
    return (_file(problem), row if row is not None else -1, str(problem.get("field") or ""))


# The report's problem table must fit the Prefect UI's artifact column (868 px at a 1,440 px
# window) although the UI never wraps a table cell: every cell is cut into short lines joined
# by BREAK, the one tag the report writes itself (source text is escaped and cannot write one).
BREAK = "<br>"
WHERE_WIDTH = 14  # characters per line: row and cell, column, value, what is wrong
COLUMN_WIDTH = 18
VALUE_WIDTH = 18
NOTE_WIDTH = 40
NAME_LIMIT = 40  # characters of a column's name or a cell's value shown, then "…"
HEADING_PIECE = 30  # a file's path may break after a slash or after this many characters

_QUOTED_VALUE = re.compile(
    r"""^('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?: … \([\d,]+ characters\))?:?\s+""", re.S
)


def wrapped(text: object, width: int, limit: int | None = None) -> str:
    """`text` escaped (see `escape`), at most `limit` characters of it, in lines of at most
    `width` characters joined by BREAK: broken between words, a longer word cut."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    lines = textwrap.wrap(flat, width, break_on_hyphens=False) if flat else []
    return BREAK.join(escape(line, limit=None) for line in lines)


def file_heading(path: str) -> str:
    """A file's path as a heading's text: escaped, able to break after each slash (`<wbr>`)
    and within a long name, so that no path is wider than the column."""
    flat = " ".join(path.split())
    if len(flat) > CELL_LIMIT:
        flat = flat[: CELL_LIMIT - 1] + "…"
    pieces = []
    for part in flat.split("/"):
        words = []
        for word in part.split(" "):
            chunks = [word[i : i + HEADING_PIECE] for i in range(0, len(word), HEADING_PIECE)]
            words.append("<wbr>".join(escape(chunk, limit=None) for chunk in chunks))
        pieces.append(" ".join(words))
    return (escape("/") + "<wbr>").join(pieces)


def _without_value(text: str, value: str) -> str:
    """`text` without the quoted cell value it starts with (the table shows the value)."""
    match = _QUOTED_VALUE.match(text)
    if not match or not value:
        return text
    try:
        quoted = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return text
    return text[match.end() :] if isinstance(quoted, str) and value.startswith(quoted) else text


def _main_and_hint(text: str, marker: str) -> tuple[str, str]:
    """A message's own sentence, and the hint after it (`Tips: …`, `Hint: …`) if it has one."""
    head, found, tail = text.partition(f" {marker} ")
    if not found:
        return ("", text) if text.startswith(f"{marker} ") else (text.strip(), "")
    return head.strip().removesuffix("."), f"{marker} {tail.strip()}"


def what_is_wrong(problem: Mapping[str, Any], value: str) -> tuple[str, str, tuple[str, str]]:
    """What is wrong with a problem's cell, in Swedish and in English (either may be empty; the
    value it starts with left out), and its hint in both languages (empty when none)."""
    _, note = _split_value(problem)
    sv_text = str(problem.get("message_sv") or "")
    en_text = str(problem.get("message_en") or note if sv_text else note)
    sv, sv_hint = _main_and_hint(_without_value(sv_text, value), "Tips:")
    en, en_hint = _main_and_hint(_without_value(en_text, value), "Hint:")
    if sv == en:
        sv = ""
    return sv, en, (sv_hint, en_hint)


def problem_row(problem: Mapping[str, Any], hints: dict[tuple[str, str], int]) -> str:
    """One problem as a row of its file's table: row (and cell), column, value, what is wrong.

    A hint is numbered once in `hints` (the report lists them after the tables) and the row
    points to it."""
    value, _ = _split_value(problem)
    sv, en, hint = what_is_wrong(problem, value)
    if any(hint):
        number = hints.setdefault(hint, len(hints) + 1)
        sv = f"{sv} (tips {number})" if sv else sv
        en = f"{en} (hint {number})" if en else f"(tips {number} / hint {number})"
    note = [wrapped(sv, NOTE_WIDTH, CELL_LIMIT)] if sv else []
    if en:
        english = wrapped(en, NOTE_WIDTH, CELL_LIMIT)
        note.append(f"*{english}*" if sv else english)
    column = problem.get("column") or problem.get("field") or ""
    cells = [
        _where(problem),
        wrapped(column, COLUMN_WIDTH, NAME_LIMIT),
        wrapped(value, VALUE_WIDTH, NAME_LIMIT),
        BREAK.join(note),
    ]
    return "| " + " | ".join(cells) + " |"


def kind_label(code: str) -> str:
    """A problem's kind as the report heads it: its declared title (problems.py) and code."""
    label = problems.title(code)
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
            "1. Öppna filen som står som rubrik ovanför tabellen och gå till raden i kolumnen "
            "**Rad** "
            "(radnumret som kalkylbladet visar till vänster; i en CSV-fil är filens första "
            "rad rad 1). "
            "*Open the file named above the table and go to the row under "
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
    lines += ["", "## Felen i radordning / The problems, in row order", ""]
    hints: dict[tuple[str, str], int] = {}
    shown_problems = problems[:limit]
    for number, problem in enumerate(shown_problems):
        file = _file(problem)
        if number == 0 or file != _file(shown_problems[number - 1]):
            if number:
                lines.append("")
            lines += [
                f"### Fil / file: {file_heading(file)}",
                "",
                "| Rad / row | Kolumn / column | Värde / value | Vad är fel / what is wrong |",
                "|---:|---|---|---|",
            ]
        lines.append(problem_row(problem, hints))
    if hints:
        lines += ["", "## Tips / Hints", ""]
        lines += [
            f"{number}. {escape(sv, limit=1000)}" + (f" *{escape(en, limit=1000)}*" if en else "")
            for (sv, en), number in hints.items()
        ]
    hidden = max(sum(counts.values()), len(problems)) - min(limit, len(problems))
    if hidden > 0:
        lines += [
            "",
            f"… och {_count(hidden)} till / … and {_count(hidden)} more "
            "(`opendata validate` visar alla / lists them all)",
        ]
    return "\n".join(lines) + "\n"
