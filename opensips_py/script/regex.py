"""POSIX extended regular expressions (glibc's dialect) run on Python's `re`.

OpenSIPS compiles script regexes with regcomp(REG_EXTENDED, plus REG_ICASE for `=~` and most module
arguments, and REG_NEWLINE for textops): bracket classes like `[[:digit:]]`, GNU escapes (`\\w`, `\\<`), `$`
matching before a newline only. `posix_regex()` translates once and caches.
"""
from __future__ import annotations

import re
import string

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "punct": "".join("\\" + c for c in string.punctuation),
}
_GNU_ESCAPES = {"w": r"\w", "W": r"\W", "s": r"\s", "S": r"\S", "b": r"\b", "B": r"\B", "<": r"\b", ">": r"\b",
                "`": r"\A", "'": r"\Z"}
_SET_SPECIAL = frozenset("\\[]^&~|")
_CACHE: dict[tuple[str, bool, bool], re.Pattern] = {}


def _bracket(src: str, start: int, newline: bool) -> tuple[str, int]:
    """The POSIX bracket expression at src[start] == '[' as a Python set, and the index after it."""
    i = start + 1
    negate = i < len(src) and src[i] == "^"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while i < len(src):
        c = src[i]
        if c == "]" and not first:
            break
        first = False
        if c == "[" and i + 1 < len(src) and src[i + 1] in ":=.":
            kind = src[i + 1]
            close = src.find(kind + "]", i + 2)
            if close < 0:
                raise re.error(f"unterminated [{kind} in bracket expression")
            name = src[i + 2:close]
            if kind == ":":
                if name not in _POSIX_CLASSES:
                    raise re.error(f"unknown character class [:{name}:]")
                members.append(_POSIX_CLASSES[name])
            else:
                members.append("".join("\\" + ch if ch in _SET_SPECIAL else ch for ch in name))
            i = close + 2
            continue
        members.append("\\" + c if c in _SET_SPECIAL else c)
        i += 1
    else:
        raise re.error("unterminated bracket expression")
    if negate and newline:
        members.append(r"\n")  # REG_NEWLINE: a non-matching list never matches a newline
    return "[" + ("^" if negate else "") + "".join(members) + "]", i + 1


def posix_regex(source: str, *, icase: bool = True, newline: bool = True) -> re.Pattern:
    """Compile a POSIX extended regex (glibc dialect) as `re`; flags as regcomp's REG_ICASE / REG_NEWLINE.
    Raises re.error for what regcomp would refuse."""
    key = (source, icase, newline)
    compiled = _CACHE.get(key)
    if compiled is not None:
        return compiled
    out: list[str] = []
    i = 0
    while i < len(source):
        c = source[i]
        if c == "\\" and i + 1 < len(source):
            d = source[i + 1]
            if d in _GNU_ESCAPES:
                out.append(_GNU_ESCAPES[d])
            elif d.isdigit() and d != "0":
                out.append("\\" + d)  # back-reference (a glibc extension to ERE)
            else:
                out.append(re.escape(d))  # any other escaped character is itself
            i += 2
            continue
        if c == "[":
            text, i = _bracket(source, i, newline)
            out.append(text)
            continue
        out.append(c)
        i += 1
    flags = (re.IGNORECASE if icase else 0) | (re.MULTILINE if newline else re.DOTALL)
    compiled = re.compile("".join(out), flags)
    if len(_CACHE) < 4096:
        _CACHE[key] = compiled
    return compiled
