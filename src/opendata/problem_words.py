"""What a steward reads about a problem the engine found: the validator's note (frictionless's
wording, kept in validation.json) turned into a sentence in Swedish and English that names the
source's own column title, the cell and the other row of a duplicate key."""

from __future__ import annotations

import re
from typing import Any

from opendata.fallback import PATTERN_SECONDS
from opendata.messages import (
    Text,
    note_row_hint,
    number_hint,
    shown,
    total_in_row,
    total_row_hint,
)
from opendata.origins import ORIGIN_PARTS, SWEDISH_WORDS, column_of
from opendata.rules import ALLOW_FORMULAS, NON_FINITE
from opendata.tables import SourceLayout, Table

EARLIER = re.compile(r"^the same as in the row at position (\d+)$")


def earlier_row(note: str) -> int | None:
    match = EARLIER.match(note or "")
    return int(match.group(1)) if match else None


# What a value must look like, by field type (Swedish, English); a format adds its own.
TYPE_TEXTS = {
    "integer": ("ett heltal", "a whole number"),
    "number": ("ett tal", "a number"),
    "year": ("ett årtal (som 2024)", "a year (such as 2024)"),
    "yearmonth": ("år och månad (ÅÅÅÅ-MM)", "a year and month (YYYY-MM)"),
    "date": ("ett datum (ÅÅÅÅ-MM-DD)", "a date (YYYY-MM-DD)"),
    "datetime": ("en tidpunkt (ÅÅÅÅ-MM-DDTtt:mm:ss)", "a date and time (YYYY-MM-DDThh:mm:ss)"),
    "time": ("ett klockslag (tt:mm:ss)", "a time of day (hh:mm:ss)"),
    "boolean": ("sant eller falskt (true/false)", "true or false"),
    "duration": ("en tidslängd (ISO 8601, som P1Y2M)", "a duration (ISO 8601, such as P1Y2M)"),
}
FORMAT_TEXTS = {
    "email": ("en e-postadress", "an e-mail address"),
    "uri": ("en webbadress (URI)", "a web address (URI)"),
    "uuid": ("ett UUID", "a UUID"),
}
BOUND_TEXTS = {
    "minimum": ("är mindre än {}, det minsta tillåtna", "is less than {}, the smallest allowed"),
    "maximum": ("är större än {}, det största tillåtna", "is greater than {}, the largest allowed"),
    "exclusiveMinimum": ("måste vara större än {}", "must be greater than {}"),
    "exclusiveMaximum": ("måste vara mindre än {}", "must be less than {}"),
    "minLength": ("är kortare än {} tecken", "is shorter than {} characters"),
    "maxLength": ("är längre än {} tecken", "is longer than {} characters"),
    "pattern": ("följer inte mönstret {}", "does not follow the pattern {}"),
}
CONSTRAINT_NOTE = re.compile(r'^constraint "(\w+)" is "(.*)"$', re.S)
FOREIGN_NOTE = re.compile(
    r'^for "(?P<fields>.*)": values "(?P<values>.*)" not found in the lookup table '
    r'"(?P<resource>.*)" as "(?P<refs>.*)"$',
    re.S,
)


def human_text(
    table: Table,
    error: Any,
    layout: SourceLayout | None,
    origin: str | None,
    cells: dict[str, str],
    rows: dict[int, tuple[str, dict[str, str]]],
) -> Text:
    """What a steward reads about one of the validator's errors, with the hint for a common
    cause: a total row, a decimal comma, a legend symbol, spaces between thousands."""
    schema_field: dict[str, Any] = next(
        (f for f in table.schema["fields"] if f["name"] == error.field), {}
    )
    value = "" if error.cell is None else str(error.cell)
    code = error.type
    text = _what(table, error, schema_field, value, layout, origin, cells, rows)
    kind = schema_field.get("type", "string")
    if code == "type-error" and kind in ("number", "integer", "year") and layout is not None:
        hint = number_hint(value, layout.kind, layout.decimal, layout.delimiter)
        if hint is not None:
            text += hint
    if layout is not None and layout.kind in ("csv", "xlsx", "json"):
        total = total_in_row(dict(cells))
        if total is not None:
            name, cell = total
            return text + total_row_hint(layout.columns.get(name, name), cell)
        filled = [cell for cell in cells.values() if isinstance(cell, str) and cell.strip()]
        if len(filled) == 1 and origin is not None and layout.kind != "json":
            hint = note_row_hint(filled[0], origin)
            if hint is not None:
                text += hint
    return text


def _what(
    table: Table,
    error: Any,
    schema_field: dict[str, Any],
    value: str,
    layout: SourceLayout | None,
    origin: str | None,
    cells: dict[str, str],
    rows: dict[int, tuple[str, dict[str, str]]],
) -> Text:
    code = error.type
    quoted = shown(value)
    if code == "type-error":
        kind = str(schema_field.get("type", "string"))
        form = str(schema_field.get("format", "default"))
        sv, en = FORMAT_TEXTS.get(form) or TYPE_TEXTS.get(kind, (f"av typen {kind}", kind))
        if kind in ("date", "datetime", "time") and form not in ("default", "any"):
            pattern = form.removeprefix("fmt:")
            sv, en = f"{sv.split(' (')[0]} i formen {pattern}", f"{en.split(' (')[0]} as {pattern}"
        return Text(f"{quoted} är inte {sv}", f"{quoted} is not {en}")
    if code == "constraint-error":
        match = CONSTRAINT_NOTE.match(error.note or "")
        name, limit = (match.group(1), match.group(2)) if match else ("", "")
        if name == "required":
            return Text(
                "värde saknas, men fältet måste ha ett", "no value, but the field needs one"
            )
        if name == "enum":
            allowed = (schema_field.get("constraints") or {}).get("enum") or []
            listed = ", ".join(shown(v) for v in allowed[:10])
            more = f" … ({len(allowed)})" if len(allowed) > 10 else ""
            return Text(
                f"{quoted} är inte ett av de tillåtna värdena: {listed}{more}",
                f"{quoted} is not one of the allowed values: {listed}{more}",
            )
        if name in BOUND_TEXTS:
            sv, en = BOUND_TEXTS[name]
            return Text(f"{quoted} {sv.format(limit)}", f"{quoted} {en.format(limit)}")
        return Text(
            f"{quoted} bryter mot regeln {name} = {limit}",
            f"{quoted} breaks the rule {name} = {limit}",
        )
    if code in ("primary-key", "unique-error"):
        names = (
            [error.field]
            if code == "unique-error"
            else [n for n in (key_fields(table.schema, code) or "").split(", ") if n]
        )
        titles = [_title(layout, n, origin) for n in names]
        earlier = earlier_row(error.note)
        if earlier is None:
            return Text(
                f"nyckeln ({', '.join(titles)}) saknar värde",
                f"the key ({', '.join(titles)}) has no value",
            )
        values = [f"{t} = {shown(cells.get(n, ''))}" for n, t in zip(names, titles, strict=True)]
        pairs_sv, pairs_en = _and(values, "och"), _and(values, "and")
        other = rows.get(earlier, (None, {}))[0]
        where_sv, where_en = _other_row(other, origin, earlier)
        both_sv, both_en = _and(titles, "och"), _and(titles, "and")
        return Text(
            f"{where_sv} har redan {pairs_sv}; två rader får inte ha samma {both_sv}",
            f"{where_en} already has {pairs_en}; no two rows may have the same {both_en}",
        )
    if code == "foreign-key":
        match = FOREIGN_NOTE.match(error.note or "")
        if match:
            names = match["fields"].split(", ")
            target, refs = match["resource"], match["refs"].split(", ")
            if len(refs) != len(names):
                refs = names
            values = [
                f"{ref} = {shown(cells.get(n, ''))}" for n, ref in zip(names, refs, strict=True)
            ]
            return Text(
                f"tabellen {target!r} har ingen rad med {_and(values, 'och')}",
                f"table {target!r} has no row with {_and(values, 'and')}",
            )
    if code == "non-finite-number":
        if re.match(NON_FINITE, value):
            return Text(
                f"{quoted} är inget tal som kan publiceras (NaN och oändligheter har ingen "
                "JSON-form); lämna cellen tom för ett saknat värde",
                f"{quoted} is no number that can be published (NaN and infinities have no JSON "
                "form); leave the cell empty for a missing value",
            )
        return Text(
            f"{quoted} är större än ±1,8e308, det största tal som JSON- och Parquet-kopiorna "
            "rymmer (det skulle bli oändligt); kontrollera värdet, eller gör fältet till text",
            f"{quoted} is beyond ±1.8e308, the largest number the JSON and Parquet copies hold "
            "(it would become infinite); check the value, or make the field a string",
        )
    if code == "pattern-timeout":
        pattern = str((schema_field.get("constraints") or {}).get("pattern", ""))
        return Text(
            f"mönstret {pattern!r} tog mer än {PATTERN_SECONDS:g} s på cellen {quoted} (det "
            "backtrackar: vissa mönster tar timmar på en lång text), så kolumnen kontrollerades "
            "inte vidare; skriv mönstret utan nästlade upprepningar, eller så att det går att "
            "översätta till RE2 (inga lookarounds eller bakåtreferenser)",
            f"the pattern {pattern!r} took more than {PATTERN_SECONDS:g} s on the cell {quoted} "
            "(it backtracks: some patterns take hours on a long text), so the column was not "
            "checked further; write the pattern without nested repetition, or so that it "
            "translates to RE2 (no lookarounds or backreferences)",
        )
    if code == "number-underflow":
        return Text(
            f"{quoted} ligger närmare noll än ±2,2e-308, det minsta tal som JSON- och "
            "Parquet-kopiorna rymmer (det skulle publiceras som 0); kontrollera värdet, eller "
            "gör fältet till text",
            f"{quoted} is closer to zero than ±2.2e-308, the smallest number the JSON and "
            "Parquet copies hold (it would be published as 0); check the value, or make the "
            "field a string",
        )
    if code == "dropped-sign":
        return Text(
            f"{quoted} har ett tecken som `bareNumber: false` tar bort tillsammans med texten "
            "runt talet (ett annat minus än '-', parenteser för ett negativt tal, ett minus "
            "efter talet), så talet skulle publiceras som positivt; skriv talet med '-' först",
            f"{quoted} has a sign that `bareNumber: false` drops with the text around the "
            "number (a minus other than '-', parentheses for a negative, a trailing minus), so "
            "it would be published as positive; write the number with a leading '-'",
        )
    if code == "integer-out-of-range":
        return Text(
            f"{quoted} ligger utanför de 64-bitars heltal (±9 223 372 036 854 775 807) som JSON- "
            "och Parquet-kopiorna rymmer; gör fältet till text om det är en kod",
            f"{quoted} is beyond the 64-bit integers (±9,223,372,036,854,775,807) that the JSON "
            "and Parquet copies hold; make the field a string if it is a code",
        )
    if code == "formula-like-text":
        return Text(
            f"{quoted} börjar med {value[:1]!r}, så ett kalkylprogram som öppnar den publicerade "
            "CSV-filen kör texten som en formel (CSV-injektion); ta bort det första tecknet, "
            f'eller markera fältet `"{ALLOW_FORMULAS}": true` i tabellschemat om sådan text är '
            "avsedd",
            f"{quoted} starts with {value[:1]!r}, so a spreadsheet that opens the published CSV "
            "runs it as a formula (CSV injection); remove the leading character, or mark the "
            f'field `"{ALLOW_FORMULAS}": true` in its Table Schema if such text is meant',
        )
    note = error.note or code
    return Text(f"{note} ({code})", note)


def _title(layout: SourceLayout | None, name: str, origin: str | None) -> str:
    """A field as the steward knows it: its column's title, or its name (a constant)."""
    title = column_of(layout, name, origin)
    return repr(title) if title is not None else repr(name)


def _and(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _other_row(other: str | None, origin: str | None, position: int) -> tuple[str, str]:
    """Where the earlier row is: its row in the same file, or the other file and row."""
    parts = ORIGIN_PARTS.match(other or "")
    if parts is None:
        return f"rad {position} av tabellen", f"row {position} of the table"
    here = ORIGIN_PARTS.match(origin or "")
    same = here is not None and (here["file"], here["sheet"]) == (parts["file"], parts["sheet"])
    word, number = parts["word"], parts["number"]
    short_sv, short_en = f"{SWEDISH_WORDS[word]} {number}", f"{word} {number}"
    if same:
        return short_sv, short_en
    sheet = parts["sheet"] or ""
    return (
        f"{parts['file']}{sheet.replace(', sheet', ', blad', 1)}, {short_sv}",
        f"{parts['file']}{sheet}, {short_en}",
    )


def sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def key_fields(schema: dict[str, Any], code: str) -> str | None:
    if code == "primary-key":
        key = schema.get("primaryKey")
        return ", ".join(key) if isinstance(key, list) else key
    if code == "foreign-key":
        names: list[str] = []
        for fk in schema.get("foreignKeys", []):
            fields = fk["fields"]
            names.extend(fields if isinstance(fields, list) else [fields])
        return ", ".join(names) or None
    return None
