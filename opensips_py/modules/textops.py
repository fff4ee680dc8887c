"""textops: regular-expression search and rewrite of the raw SIP message and its body.

Theory of operation. OpenSIPS runs these regexes over the received buffer and records each change as a lump
(an offset, a length, new text), applied only when the message is sent. We do the same over the message as
text (`MessageText`): every change is an offset edit on the received text, never visible to later reads in
the same route. The edits are then written into the message's line lumps: the header lines an edit touches
are written again (whole), the body is replaced. So untouched lines stay byte-exact and the other modules'
lumps (append_hf, remove_hf, record_route, the SDP rewriters) keep working next to ours.

Regexes are POSIX extended, compiled as mod_fix.c does (REG_EXTENDED|REG_ICASE|REG_NEWLINE: case-insensitive,
`.` and `[^…]` stop at a line end, `^`/`$` match at line boundaries). `posix_regex()` translates them for
Python's `re`: bracket classes (`[[:digit:]]`), backslashes literal inside brackets, and GNU escapes.
A known difference: POSIX alternation is leftmost-longest, Python's leftmost-first.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Callable

from opensips_py.modules.base import ModuleBase
from opensips_py.modules.exports import B, F, L, O, R, Arg, ArgKind, Function, ModuleExports
from opensips_py.script.context import MsgContext, ScriptError
from opensips_py.script.regex import posix_regex

_ROFBL = R | O | F | B | L
_RE = Arg("re", ArgKind.REGEX)
_TXT = Arg("txt")
# static: CMD_PARAM_NO_EXPAND — the literal reaches subst_parser() as written ('$' anchors, '\1'), and the
# $pvs of the replacement part are read per match.
_SUBST = Arg("subst_expr", no_expand=True)
_SUBST_DOC = ("A sed-like '/re/repl/flags' (flags i, g); the literal is not $pv-expanded (CMD_PARAM_NO_EXPAND), "
              "the replacement may refer to $pvs.")

EXPORTS = ModuleExports(
    name="textops",
    doc="POSIX extended regular expressions over the message (first line, headers, body). Edits are lumps: "
        "applied when the message is sent, not visible to later reads in the same route.",
    functions=(
        Function("search", (_RE,), routes=_ROFBL, doc="Whole message."),
        Function("search_body", (_RE,), routes=_ROFBL, doc="-1 when there is no body."),
        Function("search_append", (_RE, _TXT), routes=_ROFBL),
        Function("search_append_body", (_RE, _TXT), routes=_ROFBL),
        Function("replace", (_RE, _TXT), routes=_ROFBL, doc="First match, after the first line."),
        Function("replace_body", (_RE, _TXT), routes=_ROFBL),
        Function("replace_all", (_RE, _TXT), routes=_ROFBL),
        Function("replace_body_all", (_RE, _TXT), routes=_ROFBL),
        Function("replace_body_atonce", (_RE, _TXT), routes=_ROFBL),
        Function("subst", (_SUBST,), routes=_ROFBL, doc=_SUBST_DOC),
        Function("subst_body", (_SUBST,), routes=_ROFBL, doc=_SUBST_DOC),
        Function("subst_uri", (_SUBST,), routes=R | O | F | B, doc="On the R-URI. " + _SUBST_DOC),
        Function("subst_user", (_SUBST,), routes=R | O | F | B, doc="On the R-URI user. " + _SUBST_DOC),
    ),
)


def as_posix(pattern: re.Pattern | str | None) -> re.Pattern:
    """A CMD_PARAM_REGEX argument (the compiler hands us its source compiled by Python) as OpenSIPS
    compiles it: POSIX ERE, case-insensitive, newline-sensitive."""
    if pattern is None:
        raise ScriptError("missing regular expression")
    source = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)
    try:
        return posix_regex(source)
    except re.error as exc:
        raise ScriptError(f"bad regular expression {source!r}: {exc}") from exc


def search_from(regex: re.Pattern, text: str, pos: int, notbol: bool) -> re.Match | None:
    """regexec() on text[pos:] with REG_NOTBOL when asked: `^` may not match right at pos."""
    if notbol and pos > 0 and text[pos - 1] == "\n":
        return regex.search(text[:pos - 1] + "\x00" + text[pos:], pos)
    return regex.search(text, pos)


def _still_bol(text: str, end: int) -> bool:
    """After a match, the next regexec() is at a string start only behind a line end (re.c)."""
    return end > 0 and text[end - 1] in "\r\n"


# ------------------------------------------------------------------------------------------------ subst expressions

_MAX_REPLACEMENT = 1023  # re.c REPLACE_BUFFER_SIZE - 1: a longer replacement is an error


@dataclass
class SubstExpr:
    """A parsed `/re/replacement/flags` (re.c subst_parser): the regex and the replacement as pieces —
    text, a group number, "\\u" (the current R-URI) or a pseudo-variable spec."""

    regex: re.Pattern
    pieces: tuple[object, ...]
    replace_all: bool
    _refs: dict[int, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SubstExpr:
        from opensips_py.config.pvar import PVarSyntaxError, parse_spec
        if len(text) < 3:
            raise ValueError(f"expression is too short: {text!r}")
        sep = text[0]
        if sep == "\\":
            raise ValueError(f"invalid separator char <\\> in {text!r}")
        p = 1
        while p < len(text) and not (text[p] == sep and text[p - 1] != "\\"):
            p += 1
        if p >= len(text):
            raise ValueError(f"no separator found: {text!r}")
        regex_source = text[1:p]
        if len(text) < p + 2:
            raise ValueError("string too short")
        pieces: list[object] = []
        literal: list[str] = []
        p += 1
        escaped = False
        while True:
            if p >= len(text):
                raise ValueError(f"missing separator: {text!r}")
            c = text[p]
            if escaped:
                escaped = False
                if c.isdigit():
                    pieces.append("".join(literal))
                    literal = []
                    pieces.append(int(c))
                elif c == "u":
                    pieces.append("".join(literal))
                    literal = []
                    pieces.append(_URI)
                else:
                    literal.append({"n": "\n", "r": "\r", "t": "\t"}.get(c, c))
            elif c == "\\":
                escaped = True
            elif c == "$":
                try:
                    spec, end = parse_spec(text, p)
                except PVarSyntaxError as exc:
                    raise ValueError(f"bad specifier in replace part {text!r}: {exc}") from exc
                pieces.append("".join(literal))
                literal = []
                pieces.append(spec)
                p = end
                continue
            elif c == sep:
                break
            else:
                literal.append(c)
            p += 1
        pieces.append("".join(literal))
        icase, newline, replace_all = False, True, False
        for flag in text[p + 1:]:
            if flag == "i":
                icase = True
            elif flag == "s":
                newline = False
            elif flag == "g":
                replace_all = True
            else:
                raise ValueError(f"unknown flag {flag} in {text!r}")
        try:
            regex = posix_regex(regex_source, icase=icase, newline=newline)
        except re.error as exc:
            raise ValueError(f"bad regular expression {regex_source!r}: {exc}") from exc
        return cls(regex, tuple(p for p in pieces if p != ""), replace_all)

    def _value(self, ctx: MsgContext, index: int, spec) -> str:
        ref = self._refs.get(index)
        if ref is None:
            ref = self._refs[index] = runtime_pvar(ctx, spec)
        value = ref.get(ctx)
        if isinstance(value, list):
            value = value[0] if value else None
        return "" if value is None else str(value)

    def replacement(self, match: re.Match, ctx: MsgContext) -> str | None:
        """The replacement text for one match (re.c replace_build); None when it overflows."""
        out: list[str] = []
        for index, piece in enumerate(self.pieces):
            if isinstance(piece, str):
                out.append(piece)
            elif isinstance(piece, int):
                try:
                    out.append(match.group(piece) or "")
                except IndexError:
                    pass  # a group the regex does not have: nothing, as regexec leaves it unset
            elif piece is _URI:
                if ctx.is_request:
                    out.append(ctx.ruri())
            else:
                out.append(self._value(ctx, index, piece))
        text = "".join(out)
        return None if len(text) >= _MAX_REPLACEMENT else text

    def run(self, text: str, ctx: MsgContext) -> list[tuple[int, int, str]] | None:
        """subst_run(): the (start, end, replacement) of the first match, or of all with flag g. [] when
        nothing matches; None on error (an empty match, an overflowing replacement)."""
        found: list[tuple[int, int, str]] = []
        pos, notbol = 0, False
        while True:
            match = search_from(self.regex, text, pos, notbol)
            if match is None:
                return found
            if match.start() == match.end():
                return None
            replacement = self.replacement(match, ctx)
            if replacement is None:
                return None
            found.append((match.start(), match.end(), replacement))
            pos = match.end()
            notbol = not _still_bol(text, pos)
            if not self.replace_all or pos >= len(text):
                return found

    def apply(self, text: str, ctx: MsgContext) -> str | None:
        """subst_str(): the whole text with the substitutions made; None when nothing matched (or error)."""
        found = self.run(text, ctx)
        if not found:
            return None
        out, pos = [], 0
        for start, end, replacement in found:
            out.append(text[pos:start])
            out.append(replacement)
            pos = end
        out.append(text[pos:])
        return "".join(out)


_URI = object()  # "\u" in a replacement
_SUBST_CACHE: dict[str, SubstExpr] = {}


def subst_expr(text: str | None) -> SubstExpr:
    """Parse (once per distinct text) a subst argument; ScriptError when it is malformed."""
    if text is None:
        raise ScriptError("missing subst expression")
    parsed = _SUBST_CACHE.get(text)
    if parsed is None:
        try:
            parsed = SubstExpr.parse(text)
        except ValueError as exc:
            raise ScriptError(f"bad subst. re {text}: {exc}") from exc
        if len(_SUBST_CACHE) < 1024:
            _SUBST_CACHE[text] = parsed
    return parsed


def runtime_pvar(ctx: MsgContext, spec):
    """Compile a pseudo-variable met at run time (a subst replacement), against the process's bindings when
    the proxy core exposes them, else the core handlers."""
    from opensips_py.script.pvars import CORE_HANDLERS, UnknownPseudoVariable, compile_pvar
    bindings = getattr(ctx.process.core, "bindings", None)
    resolve = bindings.pv_handler if bindings is not None else CORE_HANDLERS.get

    def transform(node) -> Callable:
        function = bindings.transform(node.name) if bindings is not None else _registry_transform(node.name)
        args = tuple(node.args)

        def run(tctx: MsgContext, value):
            if function is None:
                return value
            values = [compile_pvar(a, resolve, transform).get(tctx) if not isinstance(a, str) else a
                      for a in args]
            try:
                return function(tctx, value, values)
            except (ValueError, TypeError, IndexError, ScriptError):
                return None

        return run

    try:
        return compile_pvar(spec, resolve, transform)
    except UnknownPseudoVariable as exc:
        raise ScriptError(f"unknown pseudo-variable ${exc.args[0]} in a subst replacement") from exc


def _registry_transform(name: str):
    try:
        from opensips_py.script import transforms
    except ImportError:
        return None
    return transforms.TRANSFORMS.get(name.lower())


# ------------------------------------------------------------------------------------------------ the message as text

def line_end_of(msg) -> str:
    """The line end the message uses ("\\r\\n", or "\\n" for an LF-only message)."""
    start = len(msg.start_line.encode("utf-8", "surrogateescape"))
    return "\r\n" if msg.raw[start:start + 2] == b"\r\n" else "\n"


class MessageText:
    """The received message as text, with the offset edits made on it, written back into its lumps.

    Coordinates are those of `rest`: the message after its first line (OpenSIPS's get_header(): headers,
    the empty line, the body). Header edits rewrite the lines they touch; body edits replace the body. An edit
    that overlaps an earlier one, or spans the empty line between headers and body, is refused.

    If something else replaced the body after us (the SDP helpers of sipmsgops), later body edits apply to
    that body: it becomes the base the body regexes see.
    """

    def __init__(self, msg) -> None:
        self.msg = msg
        eol = self.eol = line_end_of(msg)
        self.lines = [f.raw for f in msg.headers]
        self.first_line = msg.start_line + eol
        self._starts: list[int] = []
        pos = 0
        for line in self.lines:
            self._starts.append(pos)
            pos += len(line) + len(eol)
        self._starts.append(pos)
        self.head_len = pos
        self.body_offset = pos + len(eol)
        self._head = "".join(line + eol for line in self.lines)
        self.body = msg.body.decode("utf-8", "surrogateescape")
        self._rest: str | None = None
        self._head_edits: list[tuple[int, int, str]] = []
        self._body_edits: list[tuple[int, int, str]] = []
        self._written_body: bytes | None = None
        self._owned_replaced: dict[int, str] = {}
        self._owned_removed: set[int] = set()
        self._owned_inserts: list[tuple[int, str]] = []
        self._line_start_index = {start: index for index, start in enumerate(self._starts)}

    # -- reading ------------------------------------------------------------------------------------------
    def _sync_body(self) -> None:
        current = self.msg.lumps.body
        if current is not None and current != self._written_body:
            self.body = current.decode("utf-8", "surrogateescape")
            self._body_edits = []
            self._written_body = current
            self._rest = None

    @property
    def rest(self) -> str:
        """Headers, empty line and body: what replace/subst/search_append scan."""
        self._sync_body()
        if self._rest is None:
            self._rest = self._head + self.eol + self.body
        return self._rest

    @property
    def whole(self) -> str:
        """The whole message as received (what search() scans)."""
        return self.first_line + self._head + self.eol + self.msg.body.decode("utf-8", "surrogateescape")

    def body_text(self) -> str:
        self._sync_body()
        return self.body

    # -- editing ------------------------------------------------------------------------------------------
    @staticmethod
    def _overlaps(edits: list[tuple[int, int, str]], start: int, end: int) -> bool:
        for s, e, _ in edits:
            if max(s, start) < min(e, end) or s < start < e or start < s < end:
                return True
        return False

    def edit(self, changes: list[tuple[int, int, str]]) -> bool:
        """Add replacements (start, end, text) in `rest` coordinates, all or none; False when refused."""
        self._sync_body()
        head, body = [], []
        for start, end, text in changes:
            if end <= self.head_len:
                target, edits, offset = head, self._head_edits, 0
            elif start >= self.body_offset:
                target, edits, offset = body, self._body_edits, self.body_offset
            else:
                return False
            start, end = start - offset, end - offset
            if self._overlaps(edits, start, end) or self._overlaps(target, start, end):
                return False
            target.append((start, end, text))
        self._head_edits.extend(head)
        self._body_edits.extend(body)
        if head:
            self._write_headers()
        if body:
            self._write_body()
        return True

    def edit_body(self, changes: list[tuple[int, int, str]]) -> bool:
        """Like edit(), with offsets in the body."""
        return self.edit([(s + self.body_offset, e + self.body_offset, t) for s, e, t in changes])

    @staticmethod
    def _apply(text: str, base: int, edits: list[tuple[int, int, str]]) -> str:
        out, pos = [], base
        for start, end, replacement in sorted(edits, key=lambda e: e[0]):
            out.append(text[pos - base:start - base])
            out.append(replacement)
            pos = max(pos, end)
        out.append(text[pos - base:])
        return "".join(out)

    def _write_body(self) -> None:
        new = self._apply(self.body, 0, self._body_edits).encode("utf-8", "surrogateescape")
        self.msg.set_body(new)
        self._written_body = new

    def _line_of(self, offset: int) -> int:
        return min(bisect.bisect_right(self._starts, offset) - 1, len(self.lines) - 1)

    def _write_headers(self) -> None:
        lumps = self.msg.lumps
        for index, text in self._owned_replaced.items():
            if lumps.replaced.get(index) == text:
                del lumps.replaced[index]
        lumps.removed.difference_update(self._owned_removed)
        for anchor, text in self._owned_inserts:
            added = lumps.insert.get(anchor, [])
            if text in added:
                added.remove(text)
                if not added:
                    del lumps.insert[anchor]
        self._owned_replaced, self._owned_removed, self._owned_inserts = {}, set(), []
        if not self.lines:
            return
        eol = self.eol
        line_edits = []
        for seq, (s, e, t) in enumerate(self._head_edits):
            anchor = self._line_start_index.get(s)
            if s == e and anchor is not None and t.endswith(eol):
                # whole lines inserted between two lines: an insert lump, which a removal of the next line
                # (remove_hf) does not take away
                lumps.insert.setdefault(anchor, []).append(t[:-len(eol)])
                self._owned_inserts.append((anchor, t[:-len(eol)]))
            else:
                line_edits.append((seq, (s, e, t)))
        spans = sorted(((self._line_of(s), self._line_of(e - 1) if e > s else self._line_of(s), seq, (s, e, t))
                        for seq, (s, e, t) in line_edits), key=lambda span: (span[0], span[2]))
        groups: list[list] = []
        for first, last, _, edit in spans:
            if groups and first <= groups[-1][1]:
                groups[-1][1] = max(groups[-1][1], last)
                groups[-1][2].append(edit)
            else:
                groups.append([first, last, [edit]])
        n = len(self.lines)
        i = 0
        while i < len(groups):
            first, last, edits = groups[i]
            while True:
                text = self._apply(self._head[self._starts[first]:self._starts[last + 1]], self._starts[first], edits)
                if text == "" or text.endswith(eol) or last == n - 1:
                    break
                last += 1  # the line end went away: the next line joins this one
                while i + 1 < len(groups) and groups[i + 1][0] <= last:
                    last = max(last, groups[i + 1][1])
                    edits = edits + groups[i + 1][2]
                    i += 1
            self._write_lines(first, last, text)
            i += 1

    def _write_lines(self, first: int, last: int, text: str) -> None:
        """Write lines first..last as `text` (which may hold several lines, or none at all)."""
        lumps = self.msg.lumps
        keep_first = text != ""
        if text.endswith(self.eol):
            text = text[:-len(self.eol)]
        for index in range(first, last + 1):
            if index in lumps.removed:
                continue  # removed by someone else (remove_hf): that wins, as a deleted lump does
            if index == first and keep_first:
                lumps.replaced[index] = text
                self._owned_replaced[index] = text
            else:
                lumps.removed.add(index)
                self._owned_removed.add(index)


def message_text(ctx: MsgContext) -> MessageText:
    """The MessageText of ctx.msg, kept in ctx.module_state["textops"] so edits accumulate per message."""
    state = ctx.module_state.get("textops")
    if state is None or state.msg is not ctx.msg:
        state = ctx.module_state["textops"] = MessageText(ctx.msg)
    return state


# ------------------------------------------------------------------------------------------------ the module

class Module(ModuleBase):
    """textops's script functions (modules/textops/textops.c); 1 when something matched, -1 otherwise."""

    exports = EXPORTS

    # -- search -------------------------------------------------------------------------------------------
    def search(self, ctx: MsgContext, re_: re.Pattern) -> int:
        if ctx.msg is None:
            return -1
        return 1 if as_posix(re_).search(message_text(ctx).whole) else -1

    def search_body(self, ctx: MsgContext, re_: re.Pattern) -> int:
        if ctx.msg is None or not ctx.msg.body:
            return -1
        body = ctx.msg.body.decode("utf-8", "surrogateescape")
        return 1 if as_posix(re_).search(body) else -1

    def search_append(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        if ctx.msg is None:
            return -1
        text = message_text(ctx)
        match = as_posix(re_).search(text.rest)
        if match is None:
            return -1
        return 1 if text.edit([(match.end(), match.end(), txt or "")]) else -1

    def search_append_body(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        if ctx.msg is None:
            return -1
        text = message_text(ctx)
        body = text.body_text()
        if not body:
            return -1
        match = as_posix(re_).search(body)
        if match is None:
            return -1
        return 1 if text.edit_body([(match.end(), match.end(), txt or "")]) else -1

    # -- replace ------------------------------------------------------------------------------------------
    def replace(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        if ctx.msg is None:
            return -1
        text = message_text(ctx)
        match = as_posix(re_).search(text.rest)
        if match is None:
            return -1
        return 1 if text.edit([(match.start(), match.end(), txt or "")]) else -1

    def replace_body(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        if ctx.msg is None:
            return -1
        text = message_text(ctx)
        body = text.body_text()
        if not body:
            return -1
        match = as_posix(re_).search(body)
        if match is None:
            return -1
        return 1 if text.edit_body([(match.start(), match.end(), txt or "")]) else -1

    @staticmethod
    def _all_matches(regex: re.Pattern, subject: str, txt: str, keep_bol: bool
                     ) -> tuple[list[tuple[int, int, str]], bool]:
        """The replace_all() loop: every match in turn; an empty match stops it as an error (the edits found
        before it still apply, as in textops.c)."""
        found: list[tuple[int, int, str]] = []
        pos, notbol = 0, False
        while pos < len(subject):
            match = search_from(regex, subject, pos, notbol)
            if match is None:
                break
            if match.start() == match.end():
                return found, False
            found.append((match.start(), match.end(), txt))
            pos = match.end()
            notbol = not (keep_bol and _still_bol(subject, pos))
        return found, True

    def replace_all(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        if ctx.msg is None:
            return -1
        text = message_text(ctx)
        found, ok = self._all_matches(as_posix(re_), text.rest, txt or "", True)
        if found and not text.edit(found):
            return -1
        return 1 if found and ok else -1

    def _replace_body_loop(self, ctx: MsgContext, re_: re.Pattern, txt: str, keep_bol: bool) -> int:
        if ctx.msg is None:
            return -1
        text = message_text(ctx)
        body = text.body_text()
        if not body:
            return -1
        found, ok = self._all_matches(as_posix(re_), body, txt or "", keep_bol)
        if found and not text.edit_body(found):
            return -1
        return 1 if found and ok else -1

    def replace_body_all(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        return self._replace_body_loop(ctx, re_, txt, keep_bol=True)

    def replace_body_atonce(self, ctx: MsgContext, re_: re.Pattern, txt: str) -> int:
        """Like replace_body_all(), but `^` never matches right after a previous match (REG_NOTBOL)."""
        return self._replace_body_loop(ctx, re_, txt, keep_bol=False)

    # -- subst --------------------------------------------------------------------------------------------
    def subst(self, ctx: MsgContext, subst_expr_text: str) -> int:
        if ctx.msg is None:
            return -1
        expr = subst_expr(subst_expr_text)
        text = message_text(ctx)
        found = expr.run(text.rest, ctx)
        if not found:
            return -1
        return 1 if text.edit(found) else -1

    def subst_body(self, ctx: MsgContext, subst_expr_text: str) -> int:
        if ctx.msg is None:
            return -1
        expr = subst_expr(subst_expr_text)
        text = message_text(ctx)
        body = text.body_text()
        if not body:
            return -1
        found = expr.run(body, ctx)
        if not found:
            return -1
        return 1 if text.edit_body(found) else -1

    def subst_uri(self, ctx: MsgContext, subst_expr_text: str) -> int:
        """On the current R-URI as a string; the result becomes the new R-URI."""
        if not ctx.is_request:
            return -1
        result = subst_expr(subst_expr_text).apply(ctx.ruri(), ctx)
        if result is None:
            return -1
        ctx.new_uri = result
        return 1

    def subst_user(self, ctx: MsgContext, subst_expr_text: str) -> int:
        """On the current R-URI's user part (an absent user is ""); the result becomes the user."""
        from opensips_py.script.core_functions import current_ruri, rewrite_ruri
        if not ctx.is_request:
            return -1
        uri = current_ruri(ctx)
        if uri is None:
            return -1
        result = subst_expr(subst_expr_text).apply(uri.user or "", ctx)
        if result is None:
            return -1
        return rewrite_ruri(ctx, user=result)
