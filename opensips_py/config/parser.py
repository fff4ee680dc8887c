"""opensips.cfg text -> AST, with syntax errors as diagnostics (file:line:column, what was expected, a hint).

The grammar is grammar/opensips.lark (LALR, contextual lexer), built once per process. A config that parses
at once goes straight to the AST. One that does not is parsed again statement by statement at the top level,
so that every broken statement is reported in one run and the good ones still reach the checker.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from opensips_py.config import ast
from opensips_py.config.diagnostics import Diagnostic, Severity
from opensips_py.config.preprocess import Preprocessor, Source
from opensips_py.config.pvar import PVarSyntaxError, parse_pvar_token

_GRAMMAR_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "grammar" / "opensips.lark",
    Path(__file__).resolve().parent.parent.parent / "grammar" / "opensips.lark",
)


def grammar_path() -> Path:
    for candidate in _GRAMMAR_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError("grammar/opensips.lark not found next to the opensips_py package")


@functools.cache
def lark_parser() -> Lark:
    """The grammar, compiled once per process (Lark keeps the compiled tables in a cache file keyed by the
    grammar's hash, so a new process skips the LALR construction); parse() gives a Lark tree."""
    return Lark(grammar_path().read_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False, cache=True)


def _parse_to_ast(text: str, source: Source, diagnostics: list[Diagnostic]) -> ast.Config:
    return _ToAst(source, diagnostics).transform(lark_parser().parse(text))


# ---------------------------------------------------------------------------------------------- literals

_ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{2,3}|\r?\n|.)", re.S)


def unescape(raw: str) -> str:
    """The value of a string token: "…" with OpenSIPS's escapes; '…' raw."""
    if raw.startswith("'"):
        return raw[1:-1]
    body = raw[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match) -> str:
        seq = match.group(1)
        if seq in _ESCAPES:
            return _ESCAPES[seq]
        if seq.startswith("x") and len(seq) > 1:
            return chr(int(seq[1:], 16))
        if seq[0] in "01234567" and len(seq) >= 2:
            return chr(int(seq, 8) & 0xFF)
        if seq in ("\n", "\r\n"):
            return ""  # line continuation inside a string
        return "\\" + seq  # unknown escape: the backslash stays

    return _ESCAPE_RE.sub(replace, body)


_BOOLEANS = {"yes": 1, "true": 1, "on": 1, "enable": 1, "no": 0, "false": 0, "off": 0, "disable": 0}


def parse_int(text: str) -> int:
    """OpenSIPS integer literals: decimal, 0x hex, 0 octal, and the boolean words."""
    lowered = text.lower()
    if lowered in _BOOLEANS:
        return _BOOLEANS[lowered]
    if lowered.startswith("0x"):
        return int(text, 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8) if all(c in "01234567" for c in text) else int(text)
    return int(text)


# ---------------------------------------------------------------------------------------------- transformer

def _is_call(node) -> bool:
    return isinstance(node, (ast.Call, ast.RouteCall, ast.AsyncCall, ast.LaunchCall, ast.AssertCall))


def _as_stmt(node, pos: ast.Pos):
    if _is_call(node):
        return ast.CallStmt(node, pos=node.pos)
    if isinstance(node, ast.Assign):
        return ast.AssignStmt(node, pos=node.pos)
    return node


class _ToAst(Transformer):
    """Parse tree -> AST nodes, with positions mapped back through the include map."""

    def __init__(self, source: Source, diagnostics: list[Diagnostic]):
        super().__init__(visit_tokens=False)
        self.source = source
        self.diagnostics = diagnostics

    # positions -------------------------------------------------------------------------------------
    def _pos(self, meta) -> ast.Pos:
        if getattr(meta, "empty", False) or getattr(meta, "line", None) is None:
            return ast.NOPOS
        file, line, column = self.source.locate(meta.line, meta.column)
        _, end_line, end_column = self.source.locate(meta.end_line, meta.end_column)
        return ast.Pos(file, line, column, end_line, end_column)

    def _tpos(self, token: Token) -> ast.Pos:
        return self._pos(token)

    def _string(self, token: Token) -> ast.Str:
        return ast.Str(unescape(str(token)), str(token), pos=self._tpos(token))

    def _literal(self, node):
        """A token or node in value position -> AST value."""
        if isinstance(node, Token):
            if node.type == "STRING":
                return self._string(node)
            if node.type == "NUMBER":
                return ast.Int(parse_int(str(node)), str(node), pos=self._tpos(node))
            if node.type in ("WORD", "ROUTE_KIND"):
                return ast.Word(str(node), pos=self._tpos(node))
            if node.type in ("IPV4", "IPV6", "IPNET"):
                return ast.IPLiteral(str(node), pos=self._tpos(node))
            if node.type == "NULL":
                return ast.Null(pos=self._tpos(node))
        return node

    # top level -------------------------------------------------------------------------------------
    def start(self, children):
        return ast.Config([c for c in children if c is not None])

    @v_args(meta=True)
    def global_param(self, meta, children):
        name_token, items = children
        pos = self._pos(meta)
        value = _interpret_gvalue(str(name_token), items, pos)
        dialect = "advertise" if any(item[0] == "advertise" for item in items) else None
        value_pos = ast.Pos(pos.file, items[0][2][0], items[0][2][1], pos.end_line, pos.end_column)
        return ast.GlobalParam(str(name_token), value, list(items),
                               name_pos=self._tpos(name_token), value_pos=value_pos, pos=pos,
                               dialect=dialect)

    def gvalue(self, children):
        items = []
        for token in children:
            file, line, column = self.source.locate(token.line, token.column)
            items.append((str(token), token.type, (line, column)))
        return items

    @v_args(meta=True)
    def loadmodule(self, meta, children):
        return ast.LoadModule(self._string(children[0]), pos=self._pos(meta))

    @v_args(meta=True)
    def modparam(self, meta, children):
        module, param, value = children
        module_str = self._string(module)
        dialect = "core_modparam" if module_str.value == "core" else None
        return ast.ModParam(module_str, self._string(param), value, pos=self._pos(meta), dialect=dialect)

    def mv_string(self, children):
        strings = [self._string(t) for t in children]
        return strings[0] if len(strings) == 1 else ast.FoldedStr(strings, pos=strings[0].pos)

    def mv_number(self, children):
        return children[0]

    def mv_word(self, children):
        return ast.Word(str(children[0]), pos=self._tpos(children[0]))

    # routes ----------------------------------------------------------------------------------------
    @v_args(meta=True)
    def route_block(self, meta, children):
        kind_token = children[0]
        name = interval = None
        name_pos = ast.NOPOS
        if len(children) == 3:
            name, interval, name_pos = children[1]
        body = children[-1]
        return ast.Route(str(kind_token), name, body, interval, name_pos=name_pos, pos=self._pos(meta))

    @v_args(meta=True)
    def request_route(self, meta, children):
        return ast.Route("route", None, children[-1], pos=self._pos(meta), dialect="request_route")

    def route_label(self, children):
        name_token = children[0]
        name = unescape(str(name_token)) if name_token.type == "STRING" else str(name_token)
        interval = children[1].value if len(children) > 1 else None
        return (name, interval, self._tpos(name_token))

    def keyword_name(self, children):
        return children[0]

    @v_args(meta=True)
    def function_block(self, meta, children):
        name_token, body = children
        return ast.Route("route", str(name_token), body, name_pos=self._tpos(name_token),
                         pos=self._pos(meta), dialect="function")

    @v_args(meta=True)
    def block(self, meta, children):
        pos = self._pos(meta)
        return ast.Block([_as_stmt(c, pos) for c in children], pos=pos)

    # statements ------------------------------------------------------------------------------------
    @v_args(meta=True)
    def nop(self, meta, children):
        return ast.Nop(pos=self._pos(meta))

    @v_args(meta=True)
    def exit_stmt(self, meta, children):
        return ast.Exit(pos=self._pos(meta))

    @v_args(meta=True)
    def drop_stmt(self, meta, children):
        return ast.Drop(pos=self._pos(meta))

    @v_args(meta=True)
    def break_stmt(self, meta, children):
        return ast.Break(pos=self._pos(meta))

    @v_args(meta=True)
    def bare_word(self, meta, children):
        return ast.BareWord(str(children[0]), pos=self._pos(meta))

    @v_args(meta=True)
    def if_stmt(self, meta, children):
        pos = self._pos(meta)
        cond, then = children[0], _as_stmt(children[1], pos)
        else_ = _as_stmt(children[2], pos) if len(children) > 2 else None
        return ast.If(self._cond(cond), then, else_, pos=pos)

    @v_args(meta=True)
    def while_stmt(self, meta, children):
        pos = self._pos(meta)
        return ast.While(self._cond(children[0]), _as_stmt(children[1], pos), pos=pos)

    @v_args(meta=True)
    def for_stmt(self, meta, children):
        pos = self._pos(meta)
        return ast.ForEach(children[0], children[1], _as_stmt(children[2], pos), pos=pos)

    @v_args(meta=True)
    def switch_stmt(self, meta, children):
        return ast.Switch(children[0], list(children[1:]), pos=self._pos(meta))

    @v_args(meta=True)
    def case_clause(self, meta, children):
        pos = self._pos(meta)
        value = self._literal(children[0])
        return ast.Case(value, [_as_stmt(c, pos) for c in children[1:]], pos=pos)

    @v_args(meta=True)
    def default_clause(self, meta, children):
        pos = self._pos(meta)
        return ast.Case(None, [_as_stmt(c, pos) for c in children], pos=pos)

    @v_args(meta=True)
    def return_stmt(self, meta, children):
        pos = self._pos(meta)
        if not children:
            return ast.Return(pos=pos)
        first = children[0]
        if isinstance(first, Tree) and first.data == "return_args":
            values = [self._literal(v) for v in first.children]
            return ast.Return(values[0] if values else None, values[1:], parens=True, pos=pos)
        if isinstance(first, list):
            return ast.Return(first[0] if first else None, first[1:], parens=True, pos=pos)
        return ast.Return(self._literal(first), pos=pos)

    def return_args(self, children):
        return [self._literal(v) for v in children]

    @v_args(meta=True)
    def null(self, meta, children):
        return ast.Null(pos=self._pos(meta))

    @v_args(meta=True)
    def assign(self, meta, children):
        target, op, value = children
        return ast.Assign(target, op, self._literal(value), pos=self._pos(meta))

    def assign_op(self, children):
        return str(children[0])

    # calls -----------------------------------------------------------------------------------------
    @v_args(meta=True)
    def func_call(self, meta, children):
        name_token, args = children
        return ast.Call(str(name_token), args, pos=self._pos(meta))

    @v_args(meta=True)
    def route_call(self, meta, children):
        kind_token, target, *args = children
        pos = self._pos(meta)
        if str(kind_token) != "route":
            self.diagnostics.append(Diagnostic(
                "E001", Severity.ERROR, _loc(pos), f"{kind_token}(…) is not a statement",
                hint="only route(name) calls a route; other route kinds are armed with t_on_branch(), "
                     "t_on_failure(), t_on_reply()"))
        if isinstance(target, Token):
            target_pos = self._tpos(target)
            name = unescape(str(target)) if target.type == "STRING" else str(target)
        else:
            target_pos = target.pos
            name = target
        return ast.RouteCall(name, [self._literal(a) for a in args], target_pos=target_pos, pos=pos)

    @v_args(meta=True)
    def async_call(self, meta, children):
        call, route_name, *rest = children
        timeout = rest[0].value if rest else None
        return ast.AsyncCall(call, _route_name(route_name), timeout, pos=self._pos(meta))

    @v_args(meta=True)
    def launch_call(self, meta, children):
        call = children[0]
        report = _route_name(children[1]) if len(children) > 1 else None
        text = self._literal(children[2]) if len(children) > 2 else None
        return ast.LaunchCall(call, report, text, pos=self._pos(meta))

    @v_args(meta=True)
    def assert_call(self, meta, children):
        text = self._string(children[1]) if len(children) > 1 else None
        return ast.AssertCall(self._cond(children[0]), text, pos=self._pos(meta))

    def arglist(self, children):
        args = list(children)
        if len(args) == 1 and args[0] is None:
            return []
        return args

    def slot(self, children):
        return self._literal(children[0]) if children else None

    @v_args(meta=True)
    def strings(self, meta, children):
        parts = [self._string(t) for t in children]
        return parts[0] if len(parts) == 1 else ast.FoldedStr(parts, pos=self._pos(meta))

    @v_args(meta=True)
    def ip_arg(self, meta, children):
        return ast.IPLiteral(str(children[0]), pos=self._pos(meta))

    @v_args(meta=True)
    def word_arg(self, meta, children):
        return ast.Word(str(children[0]), pos=self._pos(meta))

    @v_args(meta=True)
    def arg_concat(self, meta, children):
        return ast.Concat([self._literal(c) for c in children], pos=self._pos(meta), dialect="concat")

    # conditions ------------------------------------------------------------------------------------
    def _cond(self, node):
        if isinstance(node, ast.PVar):
            return ast.Truth(node, pos=node.pos)
        if isinstance(node, Token):
            value = self._literal(node)
            return ast.Truth(value, pos=value.pos)
        if isinstance(node, ast.Int):
            return ast.Truth(node, pos=node.pos)
        return node

    @v_args(meta=True)
    def logic(self, meta, children):
        left, op, right = children
        op = {"and": "&&", "or": "||"}.get(op, op)
        return ast.Logic(op, self._cond(left), self._cond(right), pos=self._pos(meta))

    def logic_op(self, children):
        return str(children[0])

    @v_args(meta=True)
    def not_cond(self, meta, children):
        return ast.Not(self._cond(children[1]), pos=self._pos(meta))

    def not_op(self, children):
        return str(children[0])

    @v_args(meta=True)
    def test(self, meta, children):
        return ast.Test(self._literal(children[0]), pos=self._pos(meta))

    @v_args(meta=True)
    def compare(self, meta, children):
        left, op, right = children
        return ast.Compare(op, self._literal(left), self._literal(right), pos=self._pos(meta))

    def cmp_op(self, children):
        return str(children[0])

    @v_args(meta=True)
    def truth(self, meta, children):
        value = self._literal(children[0])
        return ast.Truth(value, pos=self._pos(meta))

    @v_args(meta=True)
    def ip_lit(self, meta, children):
        return ast.IPLiteral(str(children[0]), pos=self._pos(meta))

    # expressions -----------------------------------------------------------------------------------
    @v_args(meta=True)
    def binop(self, meta, children):
        left, op, right = children
        return ast.BinOp(op, self._literal(left), self._literal(right), pos=self._pos(meta))

    def bit_op(self, children):
        return str(children[0])

    def arith_op(self, children):
        return str(children[0])

    @v_args(meta=True)
    def bitnot(self, meta, children):
        return ast.BitNot(self._literal(children[0]), pos=self._pos(meta))

    @v_args(meta=True)
    def snumber(self, meta, children):
        token = children[0]
        return ast.Int(parse_int(str(token)), str(token), pos=self._pos(meta))

    @v_args(meta=True)
    def negative(self, meta, children):
        token = children[0]
        return ast.Int(-parse_int(str(token)), "-" + str(token), pos=self._pos(meta))

    @v_args(meta=True)
    def boolean(self, meta, children):
        token = children[0]
        return ast.Int(parse_int(str(token)), str(token), pos=self._pos(meta))

    @v_args(meta=True)
    def pvar(self, meta, children):
        token = children[0]
        pos = self._pos(meta)
        try:
            return parse_pvar_token(str(token), pos)
        except PVarSyntaxError as exc:
            self.diagnostics.append(Diagnostic(
                "E001", Severity.ERROR, _loc(pos), f"malformed pseudo-variable {str(token)!r}: {exc}",
                hint="the long form is $(name(arg)[index]{transformation})"))
            return ast.PVar("", text=str(token), pos=pos)


def _route_name(node) -> str:
    if isinstance(node, Token):
        return unescape(str(node)) if node.type == "STRING" else str(node)
    return str(node)


def _loc(pos: ast.Pos):
    from opensips_py.config.diagnostics import Location
    return Location(pos.file, pos.line, pos.column, pos.end_line, pos.end_column)


# ---------------------------------------------------------------------------------------------- global values

def _interpret_gvalue(name: str, items: list[tuple[str, str, tuple[int, int]]], pos: ast.Pos):
    """The meaning of a global value's tokens: one literal, or a socket definition for socket/listen."""
    if name in ("socket", "listen"):
        return parse_socket([(t, k) for t, k, _ in items], pos)
    if len(items) == 1:
        text, kind, _ = items[0]
        if kind == "STRING":
            return ast.Str(unescape(text), text, pos=pos)
        if kind in ("NUMBER", "BOOL"):
            return ast.Int(parse_int(text), text, pos=pos)
        if kind == "WORD":
            return ast.Word(text, pos=pos)
        if kind in ("IPV4", "IPV6", "IPNET"):
            return ast.IPLiteral(text, pos=pos)
    if len(items) == 2 and items[0][0] == "-" and items[1][1] == "NUMBER":
        return ast.Int(-parse_int(items[1][0]), "-" + items[1][0], pos=pos)
    if all(kind == "STRING" for _, kind, _ in items):
        return ast.FoldedStr([ast.Str(unescape(t), t, pos=pos) for t, _, _ in items], pos=pos)
    return None


_SOCKET_FLAGS = ("anycast", "frag", "reuse_port", "accept_subdomain")
_SOCKET_VALUED = ("as", "advertise", "use_workers", "tos", "tag", "use_auto_scaling_profile")


def parse_socket(items: list[tuple[str, str]], pos: ast.Pos) -> ast.SocketDef | ast.Str | None:
    """`proto:host[:ports] [options]` from the value's tokens; a quoted value stays a Str (it is an error)."""
    if len(items) == 1 and items[0][1] == "STRING":
        return ast.Str(unescape(items[0][0]), items[0][0], pos=pos)
    texts = [t for t, _ in items]
    # the address part ends where the first option word starts
    end = len(texts)
    for i, text in enumerate(texts):
        if i > 0 and text.lower() in _SOCKET_FLAGS + _SOCKET_VALUED and texts[i - 1] != ":":
            end = i
            break
    address = "".join(texts[:end])
    proto, host, ports = split_socket_address(address)
    options: list[tuple[str, str | None]] = []
    i = end
    while i < len(texts):
        word = texts[i].lower()
        if word in _SOCKET_FLAGS:
            options.append((word, None))
            i += 1
            continue
        j = i + 1
        while j < len(texts) and texts[j].lower() not in _SOCKET_FLAGS + _SOCKET_VALUED:
            j += 1
        options.append((word, "".join(texts[i + 1:j]) or None))
        i = j
    return ast.SocketDef(proto, host, ports, options, pos=pos)


_PROTOS = ("udp", "tcp", "tls", "sctp", "ws", "wss", "ipsec", "bin", "bins", "hep_udp", "hep_tcp", "hep_tls",
           "smpp", "msrp", "msrps")


def split_socket_address(address: str) -> tuple[str | None, str, str | None]:
    """'udp:1.2.3.4:5060' -> ('udp', '1.2.3.4', '5060'); IPv6 in brackets; proto optional."""
    proto = None
    rest = address
    head, sep, tail = address.partition(":")
    if sep and head.lower() in _PROTOS:
        proto, rest = head.lower(), tail
    if rest.startswith("["):
        close = rest.find("]")
        host = rest[:close + 1] if close >= 0 else rest
        after = rest[close + 1:] if close >= 0 else ""
        ports = after[1:] if after.startswith(":") else None
        return proto, host, ports or None
    if rest.count(":") > 1:  # a bare IPv6 address, no port
        return proto, rest, None
    host, sep, ports = rest.partition(":")
    return proto, host, (ports if sep else None)


# ---------------------------------------------------------------------------------------------- errors

_TERMINAL_NAMES = {
    "SEMICOLON": "';'", "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['",
    "RSQB": "']'", "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "DOT": "'.'", "PVAR": "a $variable",
    "MSG_LEN": "a $variable", "STRING": "a string", "NUMBER": "a number", "BOOL": "a number",
    "WORD": "a name", "PARAM_NAME": "a parameter name", "ROUTE_KIND": "a route block", "NULL": "NULL",
    "IPV4": "an IP address", "IPV6": "an IP address", "IPNET": "a network", "$END": "end of file",
    "MINUS": "'-'", "PLUS": "'+'", "STAR": "'*'", "SLASH": "'/'", "BANG": "'!'",
    "IF": "'if'", "ELSE": "'else'", "LOADMODULE": "'loadmodule'", "MODPARAM": "'modparam'",
}


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TERMINAL_NAMES.get(t, repr(t.lower()) if t.isupper() and not t.startswith("__")
                                         else t) for t in expected if not t.startswith("__ANON")})
    if not names:
        return ""
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", expected " + (names[0] if len(names) == 1 else "one of " + ", ".join(names))


def syntax_diagnostic(exc: UnexpectedInput, source: Source, text: str) -> Diagnostic:
    """A Lark error -> our diagnostic, with a hint for the mistakes people make most."""
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedEOF):
        lines = text.rstrip().splitlines()
        line = max(len(lines), 1)
        column = len(lines[-1]) + 1 if lines else 1
    location = source.location(line, column)
    source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    hint = None
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        rest = source_line[column - 1:]
        message = f"unexpected character {char!r}"
        if rest.startswith("//"):
            hint = "OpenSIPS has no // comments: use # or /* … */"
        elif char == "$":
            hint = "a pseudo-variable is $name, $name(arg) or $(name(arg)[index]{transformation})"
        elif char == "'" or char == '"':
            hint = "unterminated string?"
    elif isinstance(exc, UnexpectedEOF):
        message = "unexpected end of file" + _describe_expected(set(exc.expected))
        hint = "a '}' or ')' is probably missing"
    else:
        token: Token = exc.token
        expected = set(exc.expected) if exc.expected else set()
        value = str(token)
        message = f"unexpected {value!r}" + _describe_expected(expected)
        if token.type == "$END":
            message = "unexpected end of file" + _describe_expected(expected)
            hint = "a '}' is probably missing"
        elif token.type == "RPAR" and "RPAR" not in expected:
            hint = "unbalanced ')'?"
        elif "SEMICOLON" in expected and token.type != "SEMICOLON":
            hint = "missing ';' at the end of the previous statement?"
        elif token.type == "SEMICOLON" and not expected & {"SEMICOLON"}:
            hint = "top-level statements (params, loadmodule, modparam) take no ';'"
        elif token.type == "LSQB" and "LPAR" in expected:
            hint = "an unbalanced '{' earlier in the file?"
        elif token.type == "WORD" and {"STRING", "PVAR"} & expected:
            hint = f"quote it: \"{value}\" (OpenSIPS compares with literals and $variables only)"
        elif token.type == "LPAR" and "LPAR" not in expected:
            hint = "a call always needs a name before '('"
    if source_line[column - 1:].startswith("//"):
        hint = "OpenSIPS has no // comments: use # or /* … */"
    return Diagnostic("E001", Severity.ERROR, location, "syntax error: " + message, hint=hint)


# ---------------------------------------------------------------------------------------------- chunking

_TOP_START_RE = re.compile(
    r"[ \t]*(?:(?:route|branch_route|failure_route|onreply_route|local_route|startup_route|timer_route|"
    r"event_route|error_route|request_route)\s*[\[{]|(?:route|onreply_route|local_route|startup_route|"
    r"error_route)\b|loadmodule\b|modparam\b|function\b|mpath\b|[A-Za-z][A-Za-z0-9_-]*[ \t]*=(?!=))")
_ROUTE_RESET_RE = re.compile(
    r"(?:route|branch_route|failure_route|onreply_route|local_route|startup_route|timer_route|event_route|"
    r"error_route|request_route)\s*[\[{]")


def _top_level_chunks(text: str) -> list[tuple[int, int]]:
    """(first line index, end line index) of each top-level statement, found by brace depth."""
    lines = text.split("\n")
    starts: list[int] = []
    depth = 0
    for index, line in enumerate(lines):
        if depth <= 0 and _TOP_START_RE.match(line):
            starts.append(index)
            depth = 0
        elif depth > 0 and _ROUTE_RESET_RE.match(line):  # a route at column 1 inside a block: a '}' is missing
            starts.append(index)
            depth = 0
        depth += _brace_delta(line)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [(start, starts[i + 1] if i + 1 < len(starts) else len(lines)) for i, start in enumerate(starts)]


_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')


def _brace_delta(line: str) -> int:
    bare = _STRING_RE.sub("", line)
    return bare.count("{") - bare.count("}")


# ---------------------------------------------------------------------------------------------- entry points

class ParseResult:
    """The AST (possibly partial: statements that failed to parse are missing) and the diagnostics."""

    def __init__(self, config: ast.Config, source: Source | None, diagnostics: list[Diagnostic]):
        self.config = config
        self.source = source
        self.diagnostics = diagnostics

    @property
    def ok(self) -> bool:
        return not any(d.severity == Severity.ERROR for d in self.diagnostics)


def parse_source(source: Source, diagnostics: list[Diagnostic] | None = None) -> ParseResult:
    diagnostics = diagnostics if diagnostics is not None else []
    text = source.text
    attempt: list[Diagnostic] = []
    try:
        config = _parse_to_ast(text, source, attempt)
        diagnostics.extend(attempt)
        return ParseResult(config, source, diagnostics)
    except UnexpectedInput:
        pass
    statements: list = []
    lines = text.split("\n")
    for first, end in _top_level_chunks(text):
        chunk = "\n" * first + "\n".join(lines[first:end])
        if not chunk.strip():
            continue
        chunk_diagnostics: list[Diagnostic] = []
        try:
            config = _parse_to_ast(chunk, source, chunk_diagnostics)
        except UnexpectedInput as exc:
            diagnostics.append(syntax_diagnostic(exc, source, chunk))
            continue
        diagnostics.extend(chunk_diagnostics)
        statements.extend(config.statements)
    return ParseResult(ast.Config(statements), source, diagnostics)


def parse_file(path: str, cwd: str | None = None, max_bytes: int | None = None,
               overlay: dict[str, str] | None = None) -> ParseResult:
    """Read, flatten and parse a config file. Never raises for bad input: look at .diagnostics.
    `overlay` maps paths to text used instead of the files (--fix checks its edits before writing them)."""
    pre = Preprocessor(cwd=cwd, overlay=overlay) if max_bytes is None else \
        Preprocessor(cwd=cwd, max_bytes=max_bytes, overlay=overlay)
    source = pre.load(path)
    if source is None:
        return ParseResult(ast.Config([]), None, pre.diagnostics)
    return parse_source(source, pre.diagnostics)


def parse_text(text: str, name: str = "<string>") -> ParseResult:
    pre = Preprocessor()
    source = pre.load_text(text, name)
    return parse_source(source, pre.diagnostics)
