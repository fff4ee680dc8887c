"""--fix: apply the mechanical rewrites findings carry, until nothing fixable is left.

Edits are spans of the original files (line/column from the AST), so everything a fix does not touch — comments,
layout, other statements — stays byte for byte. Overlapping edits in one round are deferred to the next round;
rounds repeat until a check finds nothing more to fix, which makes a second --fix run a no-op.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable

from opensips_py.config.diagnostics import Diagnostic, Edit

MAX_ROUNDS = 8


def _offset(line_starts: list[int], line: int, column: int) -> int:
    return line_starts[line - 1] + column - 1


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    starts.append(len(text) + 1)
    return starts


def _span(starts: list[int], edit: Edit) -> tuple[int, int] | None:
    if edit.start[0] > len(starts) - 1 or edit.end[0] > len(starts) - 1:
        return None
    a, b = _offset(starts, *edit.start), _offset(starts, *edit.end)
    return (a, b) if a <= b else None


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    a, b = span
    for x, y in taken:
        if a == b == x == y:
            continue  # two insertions at one point: both go in, in order
        if a < y and x < b or (a == b and x < a < y) or (x == y and a < x < b):
            return True
    return False


def apply_fixes(texts: dict[str, str], fixes: list) -> tuple[dict[str, str], int]:
    """Apply whole fixes (all of a fix's edits or none) that do not overlap an earlier one.
    Returns the new texts and how many fixes went in."""
    starts = {path: _line_starts(text) for path, text in texts.items()}
    taken: dict[str, list[tuple[int, int]]] = {path: [] for path in texts}
    chosen: dict[str, list[tuple[int, int, str]]] = {path: [] for path in texts}
    seen: set = set()
    applied = 0
    for fix in fixes:
        spans = []
        for edit in fix.edits:
            if edit.file not in texts:
                spans = None
                break
            span = _span(starts[edit.file], edit)
            if span is None or _overlaps(span, taken[edit.file]):
                spans = None
                break
            spans.append((edit.file, span, edit.text))
        if not spans:
            continue
        key = tuple((f, s, t) for f, s, t in spans)
        if key in seen:
            continue
        seen.add(key)
        for path, span, text in spans:
            taken[path].append(span)
            chosen[path].append((span[0], span[1], text))
        applied += 1
    result = {}
    for path, text in texts.items():
        edits = sorted(chosen[path], key=lambda e: (e[0], e[1]))
        out, position = [], 0
        for a, b, new in edits:
            out.append(text[position:a])
            out.append(new)
            position = b
        out.append(text[position:])
        result[path] = "".join(out)
    return result, applied


def fix_files(check: Callable[[], list[Diagnostic]], read: Callable[[str], str],
              write: Callable[[str, str], None]) -> int:
    """Run check → apply fixes → check again, until no fix applies. Returns how many fixes were applied."""
    total = 0
    for _ in range(MAX_ROUNDS):
        fixes = [d.fix for d in check() if d.fix is not None]
        if not fixes:
            break
        paths = sorted({e.file for f in fixes for e in f.edits})
        texts = {path: read(path) for path in paths}
        new_texts, applied = apply_fixes(texts, fixes)
        changed = False
        for path in paths:
            if new_texts[path] != texts[path]:
                write(path, new_texts[path])
                changed = True
        if not applied or not changed:
            break
        total += applied
    return total


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))
