"""Python's ``re.compile(f"^{pattern}$").match`` as an RE2 regex, for DuckDB's regexp_matches.

Table Schema patterns are Python regexes; the checks run them in SQL, whose regexes are RE2's.
`re2_pattern` translates token by token where the meaning is the same and raises `Inexpressible`
where it is not (the schema then goes to frictionless)."""

from __future__ import annotations

import functools
import re
import threading

import duckdb

# str.isspace(): what str.strip(), int() and Decimal() strip.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
WS_CLASS = r"[\t\n\x0B\x0C\r\x1C-\x1F ]"  # the ASCII part of Python's \s, for RE2


class Inexpressible(Exception):
    """A Python regex feature RE2 cannot express with the same meaning."""


PY_WORD = r"\p{L}\p{N}_"


def re2_pattern(pattern: str) -> str:
    """An RE2 regex with exactly the meaning of Python's ``re.compile(f"^{pattern}$").match``.

    Python's \\d, \\w and \\s are Unicode-aware (RE2's are ASCII), ``$`` also matches before a
    trailing newline, and an alternation in the pattern is not wrapped (``^a|b$``): the result is
    ``^(?:^P\\n?$)`` with P translated token by token; anything else raises Inexpressible."""
    try:
        re.compile(f"^{pattern}$")
    except re.error as error:
        raise Inexpressible(f"Python cannot compile it ({error})") from error
    out: list[str] = []
    i = 0
    n = len(pattern)
    ws = "".join(" " if c == " " else f"\\x{{{ord(c):X}}}" for c in PY_WHITESPACE)
    while i < n:
        char = pattern[i]
        if char == "\\":
            token, i = _translate_escape(pattern, i, in_class=False, ws=ws)
            out.append(token)
            continue
        if char == "[":
            token, i = _translate_class(pattern, i, ws)
            out.append(token)
            continue
        if char == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif pattern.startswith("(?P<", i):
                end = pattern.index(">", i)
                out.append(pattern[i : end + 1])
                i = end + 1
            elif pattern.startswith("(?", i):
                raise Inexpressible("lookarounds, flags and other (?...) groups are not supported")
            else:
                out.append("(")
                i += 1
            continue
        if char == "^":  # start of the text, as Python's without MULTILINE
            out.append("^")
            i += 1
            continue
        if char == "$":
            # Python's $ is the end, or before a newline that ends the text: RE2's end after an
            # optional newline, the same wherever nothing after it can match that newline (only
            # more anchors, closing groups and an alternative's end follow).
            if not re.match(r"[$)]*(?:\||$)", pattern[i + 1 :]):
                raise Inexpressible("a $ followed by more of the pattern is not supported")
            out.append("(?:\\n?$)")
            i += 1
            continue
        if char in "*+?":
            out.append(char)
            i += 1
            if i < n and pattern[i] == "+":
                raise Inexpressible("possessive quantifiers are not supported")
            if i < n and pattern[i] == "?":
                out.append("?")
                i += 1
            continue
        if char == "{":
            match = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:])
            if match and (match.group(1) or match.group(2) or match.group(3)):
                low, comma, high = match.groups()  # Python's {,} is {0,}, {,n} is {0,n}
                if (low and int(low) > 1000) or (high and int(high) > 1000):
                    raise Inexpressible("repetition counts above 1000")
                out.append("{" + (low or "0") + comma + high + "}")
                i += match.end()
                if i < n and pattern[i] == "+":
                    raise Inexpressible("possessive quantifiers are not supported")
                if i < n and pattern[i] == "?":
                    out.append("?")
                    i += 1
            else:
                out.append(r"\{")
                i += 1
            continue
        if char == "}":
            out.append(r"\}")
            i += 1
            continue
        out.append(char)
        i += 1
    translated = "^(?:^" + "".join(out) + r"\n?$)"
    try:
        with _RE2_LOCK:  # one connection, shared by the threads of a parallel publish
            _re2_checker().execute("SELECT regexp_matches('', ?)", [translated]).fetchall()
    except duckdb.Error as error:
        raise Inexpressible(f"RE2 cannot compile {translated!r} ({error})") from error
    return translated


_RE2_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _re2_checker() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB, only to compile translated patterns with RE2."""
    return duckdb.connect(":memory:", config={"autoload_known_extensions": False})


def _translate_escape(pattern: str, i: int, *, in_class: bool, ws: str) -> tuple[str, int]:
    if i + 1 >= len(pattern):
        raise Inexpressible("a trailing backslash")
    char = pattern[i + 1]
    simple = {"d": r"\p{Nd}", "w": PY_WORD, "s": ws}
    negated = {"D": r"\P{Nd}", "W": PY_WORD, "S": ws}
    if char in simple:
        body = simple[char]
        if in_class:
            return body, i + 2
        return (body if char == "d" else f"[{body}]"), i + 2
    if char in negated:
        if in_class:
            if char == "D":
                return r"\P{Nd}", i + 2
            raise Inexpressible(f"\\{char} inside a character class")
        return (r"\P{Nd}" if char == "D" else f"[^{negated[char]}]"), i + 2
    if char in "ntrfva":
        return "\\" + char, i + 2
    if char == "b":
        if in_class:
            return r"\x{8}", i + 2
        raise Inexpressible("Unicode word boundaries (\\b)")
    if char == "x":
        match = re.match(r"[0-9a-fA-F]{2}", pattern[i + 2 :])
        if not match:
            raise Inexpressible("a malformed \\x escape")
        return f"\\x{{{match.group(0)}}}", i + 4
    if char in "uU":
        width = 4 if char == "u" else 8
        match = re.match(f"[0-9a-fA-F]{{{width}}}", pattern[i + 2 :])
        if not match:
            raise Inexpressible(f"a malformed \\{char} escape")
        return f"\\x{{{match.group(0)}}}", i + 2 + width
    if char.isascii() and char.isalnum():
        raise Inexpressible(f"the escape \\{char}")
    if char.isascii():
        return "\\" + char, i + 2
    return char, i + 2


def _translate_class(pattern: str, i: int, ws: str) -> tuple[str, int]:
    out = ["["]
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        i += 1
    first = True
    while True:
        if i >= len(pattern):
            raise Inexpressible("an unterminated character class")
        char = pattern[i]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if char == "\\":
            token, i = _translate_escape(pattern, i, in_class=True, ws=ws)
            out.append(token)
            continue
        if char == "[":
            if pattern.startswith("[:", i) or pattern.startswith("[=", i):
                raise Inexpressible("POSIX classes inside a character class")
            out.append(r"\[")
        elif char == "]":
            out.append(r"\]")
        else:
            out.append(char)
        i += 1
