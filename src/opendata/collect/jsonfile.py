"""JSON sources, one record per item (or per leaf, with `unnest`): `read(source, context)`.

Files up to JSON_STREAM_THRESHOLD are parsed whole by the standard parser (exact line numbers in
errors), larger ones by ijson's streaming parser. Nesting, duplicate keys, lone surrogates and
huge integers are refused before they could change a value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from opendata.collect.common import (
    SCAN_BLOCK_BYTES,
    ReadContext,
    check_size,
    excerpt,
    line_at,
    raise_limit_hint,
    wide_encoding,
)
from opendata.collect.raw import (
    RawRecord,
    RawSource,
    records_source,
)
from opendata.definitions import JsonSource, Limits
from opendata.errors import SourceError

# JSON files up to this size are parsed whole (exact line numbers in errors); larger ones stream.
JSON_STREAM_THRESHOLD = 64 * 2**20


def read(source: JsonSource, context: ReadContext) -> RawSource:
    """Records of a JSON file; nested mappings are walked by `unnest` into one record per leaf."""
    path, label, where = context.path, context.label, context.where
    limits = source.limits
    size = check_size(path, label, limits)
    _check_nesting(path, label, limits.nesting)
    if size > JSON_STREAM_THRESHOLD:
        _check_surrogate_escapes(path, label)  # ijson would turn them into "?" silently
        items = _stream_items(path, label, source)
    else:
        items = iter(_load_items(path, label, source, where))
    raw = records_source(_json_records(items, label, source))
    raw.header_at = f"{label}, record 1"
    return raw


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_nesting(path: Path, label: str, limit: int) -> None:
    """Arrays and objects nested deeper than `limit` are refused before any parser sees them
    (json's recursion and ijson's prefixes grow with the depth: a hostile file exhausts them).

    Bytes are looked at, not parsed: escapes and strings are cut out, brackets are counted."""
    depth = 0
    deepest = 0
    in_string = False
    carry = b""
    with path.open("rb") as stream:
        while block := stream.read(SCAN_BLOCK_BYTES):
            data = carry + block
            carry = b""
            trailing = len(data) - len(data.rstrip(b"\\"))
            if trailing % 2:  # an escape continues into the next block
                data, carry = data[:-1], b"\\"
            data = _ESCAPE.sub(b"", data)
            if in_string:
                end = data.find(b'"')
                if end < 0:
                    continue
                data = data[end + 1 :]
                in_string = False
            data = _STRING.sub(b"", data)
            opened = data.find(b'"')
            if opened >= 0:  # a string continues into the next block
                data = data[:opened]
                in_string = True
            brackets = np.frombuffer(data.translate(None, _NOT_BRACKETS), np.uint8)
            if not len(brackets):
                continue
            steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
            levels = depth + np.cumsum(steps)
            deepest = max(deepest, int(levels.max()))
            depth = int(levels[-1])
            if deepest > limit:
                raise SourceError(
                    f"{label}: arrays and objects nested more than {limit} levels deep; a table "
                    "is not nested this deep. " + raise_limit_hint("nesting").capitalize()
                )


# Python converts integers of more digits than this only on request (sys.int_info): a longer
# one in a source is a problem to name, not a ValueError to escape.
MAX_INTEGER_DIGITS = 4300


class _HugeInteger(str):
    """An integer literal too long to convert: kept as its text until its record is checked."""


def _parse_int(text: str) -> int | _HugeInteger:
    if len(text) > MAX_INTEGER_DIGITS:
        return _HugeInteger(text)
    return int(text)


def _check_characters(text: str, where: str) -> None:
    """Text that UTF-8 can hold: JSON's \\ud800-style escapes can name half of a surrogate
    pair, which is no character (every later write of the text would fail)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise SourceError(
            f"{where}: the escape \\u{code:04x} at character {error.start + 1} is half of a "
            "surrogate pair, no character: the file was cut or written wrongly; write the "
            "character itself"
        ) from None


# A \\u escape of a surrogate (d800–dfff), with the backslashes before it: a high one followed by
# a low one is a pair (one character); any other is half of one.
_SURROGATE_ESCAPE = re.compile(
    rb"(\\*)\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|(\\*)\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _check_surrogate_escapes(path: Path, label: str) -> None:
    """A file for the streaming parser is read once for half surrogate pairs, which ijson's C
    parser would write as "?" without a word (the whole-document parser keeps them for
    _check_characters to name). Blocks overlap, and an escape near a block's end is judged
    with the next block, where its pair may be."""
    overlap = 64
    offset = 0  # of the block in the file
    judged = 0  # escapes ending before this offset have been judged
    previous = b""
    with path.open("rb") as stream:
        following = stream.read(SCAN_BLOCK_BYTES)
        while following:
            block, following = following, stream.read(SCAN_BLOCK_BYTES)
            data = previous + block
            base = offset - len(previous)
            more = bool(following)
            position = 0
            while found := _SURROGATE_ESCAPE.search(data, position):
                slashes = found.group(1) if found.group(1) is not None else found.group(2)
                position = found.end()
                if base + found.end() <= judged:
                    continue
                if more and found.end() > len(data) - 12:
                    break  # judged with the next block
                if len(slashes) % 2:  # an escaped backslash before it: a plain "u"
                    position = found.start() + len(slashes) + 1
                    continue
                if found.group(1) is not None and found.end() - found.start() - len(slashes) == 12:
                    continue  # a whole pair
                escape = data[found.start() + len(slashes) :][:6].decode("ascii")
                raise SourceError(
                    f"{label}: line {line_at(path, base + found.start() + len(slashes))}: the "
                    f"escape {escape} is half of a surrogate pair, no character: the file was "
                    "cut or written wrongly; write the character itself"
                )
            judged = base + len(data) - (12 if more else 0)
            offset += len(block)
            previous = data[-overlap:]


class _Duplicated(dict[str, Any]):
    """An object that may have held a key twice: `twice` is (key, first value, second value)."""

    twice: tuple[str, Any, Any] | None = None


def _first_duplicate(node: Any) -> tuple[str, Any, Any] | None:
    """The first key given twice in an object of `node` (depth first)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            twice: tuple[str, Any, Any] | None = getattr(item, "twice", None)
            if twice is not None:
                return twice
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return None


def _duplicate_error(where: str, twice: tuple[str, Any, Any]) -> SourceError:
    key, first, second = twice
    return SourceError(
        f"{where}: an object has the key {key!r} twice ({excerpt(first)} and {excerpt(second)}); "
        "JSON readers would keep one of them silently: remove or rename the other"
    )


def _json_records(items: Iterator[Any], label: str, source: JsonSource) -> Iterator[RawRecord]:
    limits = source.limits
    rows = 0
    for index, item in enumerate(items):
        origin = f"{label}, record {index + 1}"
        if not isinstance(item, dict):
            raise SourceError(f"{origin}: expected an object")
        flat = {key: value for key, value in item.items() if not isinstance(value, dict | list)}
        _check_cells(flat, origin, limits)
        leaves: Iterable[tuple[dict[str, Any], str]]
        if source.unnest is None:
            leaves = [(flat, origin)]
        else:
            nested = item.get(source.unnest.path)
            if not isinstance(nested, dict):
                raise SourceError(f"{origin}: {source.unnest.path!r} is not an object")
            leaves = _leaves(source, flat, nested, origin, limits)
        for cells, where in leaves:
            rows += 1
            if rows > limits.rows:
                raise SourceError(
                    f"{label}: more than {limits.rows:,} rows; " + raise_limit_hint("rows")
                )
            yield RawRecord(cells, where)


def _leaves(
    source: JsonSource, flat: dict[str, Any], nested: dict[str, Any], origin: str, limits: Limits
) -> Iterator[tuple[dict[str, Any], str]]:
    """One record per leaf of the nested mapping (`unnest`), the flat keys repeated."""
    assert source.unnest is not None
    for keys, value in _walk(nested, len(source.unnest.keys), origin):
        cells = dict(flat)
        cells.update(zip(source.unnest.keys, keys, strict=True))
        cells[source.unnest.value] = value
        path_text = ".".join([source.unnest.path, *keys])
        leaf = f"{origin} ({flat.get('name', '')}), {path_text}"
        _check_cells({source.unnest.value: value}, leaf, limits)
        yield cells, leaf


def _check_cells(cells: dict[str, Any], origin: str, limits: Limits) -> None:
    """A record's values: finite numbers (NaN, Infinity and numbers beyond ±1.8e308 are no JSON
    numbers; Python's parser accepts them, we do not), text within `cell_bytes`, keys within
    `columns`."""
    if len(cells) > limits.columns:
        raise SourceError(
            f"{origin}: {len(cells):,} keys, more than the limit of {limits.columns:,} columns; "
            + raise_limit_hint("columns")
        )
    for key, value in cells.items():
        if isinstance(key, str) and not key.isascii():
            _check_characters(key, f"{origin}: the key {key.encode('utf-8', 'replace')!r}")
        if isinstance(value, _HugeInteger):
            raise SourceError(
                f"{origin}, key {key!r}: an integer of {len(value.lstrip('-')):,} digits, more "
                f"than the {MAX_INTEGER_DIGITS:,} any reader converts; write it as text (in "
                "quotes) if it is an identifier"
            )
        if isinstance(value, str) and not value.isascii():
            _check_characters(value, f"{origin}, key {key!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SourceError(
                f"{origin}, key {key!r}: {value!r} is not a finite number (NaN, Infinity or a "
                "number beyond ±1.8e308, which JSON cannot hold); write null or leave the key "
                "out for a missing value"
            )
        if (
            isinstance(value, str)
            and len(value) * 4 > limits.cell_bytes
            and len(value.encode()) > limits.cell_bytes
        ):
            raise SourceError(
                f"{origin}, key {key!r}: a value of more than {limits.cell_bytes:,} bytes; "
                + raise_limit_hint("cell_bytes")
            )


def _load_items(path: Path, label: str, source: JsonSource, where: str) -> list[Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        wide = wide_encoding(path)
        if wide is not None:
            raise SourceError(
                f"{label}: the file is {wide.upper()} (it begins with a {wide.upper()} byte-order "
                "mark); save it as UTF-8, the encoding of JSON files"
            ) from None
        raise SourceError(
            f"{label}: not valid UTF-8 (byte {error.start}, line {line_at(path, error.start)})"
        ) from None
    twice: list[tuple[str, Any, Any]] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """A key given twice is noted and its object marked, never silently resolved."""
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                marked = _Duplicated(pairs)
                marked.twice = (key, result[key], value)
                twice.append(marked.twice)
                return marked
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=unique_keys, parse_int=_parse_int)
    except json.JSONDecodeError as error:
        raise SourceError(f"{label}: malformed JSON at line {error.lineno}: {error.msg}") from None
    except RecursionError:
        raise SourceError(f"{label}: JSON nested too deeply to be a table") from None
    if isinstance(data, _Duplicated) and data.twice is not None:  # the document's own object
        raise _duplicate_error(label, data.twice)
    if source.records is not None:
        if not isinstance(data, dict) or source.records not in data:
            raise SourceError(f"{where}: records: {label} has no key {source.records!r}")
        data = data[source.records]
    if not isinstance(data, list):
        raise SourceError(f"{label}: expected a list of records")
    if twice:  # in a record (named), or elsewhere in the document
        for index, item in enumerate(data, start=1):
            found = _first_duplicate(item)
            if found is not None:
                raise _duplicate_error(f"{label}, record {index}", found)
        raise _duplicate_error(label, twice[0])
    return data


def _stream_items(path: Path, label: str, source: JsonSource) -> Iterator[Any]:
    """The records of a large file, one at a time (ijson), never the whole document."""
    import ijson

    found: list[bool] = []  # whether any object so far held a key twice

    class UniqueKeys(_Duplicated):
        """ijson's mapping: a repeated key is noted on the object (ijson may build records
        ahead of the one it yields, so the record that holds it is found by a walk)."""

        def __setitem__(self, key: str, value: Any) -> None:
            if key in self:
                if self.twice is None:
                    self.twice = (key, self[key], value)
                found.append(True)
                return
            super().__setitem__(key, value)

    prefix = f"{source.records}.item" if source.records is not None else "item"
    index = 0
    try:
        with path.open("rb") as stream:
            for item in ijson.items(stream, prefix, use_float=True, map_type=UniqueKeys):
                index += 1
                if found:
                    twice = _first_duplicate(item)
                    if twice is not None:
                        raise _duplicate_error(f"{label}, record {index}", twice)
                yield item
    except UnicodeDecodeError:
        raise SourceError(
            f"{label}: after record {index}: text that is not UTF-8, or a \\u escape that is "
            "half of a surrogate pair (\\ud800–\\udfff: no character); write the character "
            "itself"
        ) from None
    except (ijson.JSONError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "overflow" in message:
            message += " (a number beyond ±1.8e308, which JSON readers cannot hold)"
        raise SourceError(f"{label}: malformed JSON after record {index}: {message}") from None


def _walk(node: Any, depth: int, origin: str) -> list[tuple[list[str], Any]]:
    if depth == 0:
        return [([], node)]
    if not isinstance(node, dict):
        raise SourceError(f"{origin}: expected an object {depth} level(s) deeper")
    leaves = []
    for key, child in node.items():
        for keys, value in _walk(child, depth - 1, origin):
            leaves.append(([str(key), *keys], value))
    return leaves
