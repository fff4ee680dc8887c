"""AST -> opensips.cfg text.

The printer writes canonical OpenSIPS syntax (tabs for blocks, one statement per line). Parsing what it prints
gives back the same AST — the property the corpus round-trip test pins — so `--fix` can render replacement
snippets of nodes with it. Guide-dialect nodes print as their OpenSIPS equivalent when `portable` is set
(request_route -> route, `$msg:len` -> `$ml`, `"a" . "b"` -> "ab"), and as written otherwise.
"""
from __future__ import annotations

from opensips_py.config import ast

_STR_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a"}


def quote(value: str) -> str:
    """A "…" literal whose unescaped value is `value`."""
    out = []
    for ch in value:
        if ch in _STR_ESCAPES:
            out.append(_STR_ESCAPES[ch])
        elif ord(ch) < 32:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class Printer:
    def __init__(self, portable: bool = False, indent: str = "\t"):
        self.portable = portable
        self.indent = indent

    # values --------------------------------------------------------------------------------------
    def value(self, node) -> str:
        if node is None:
            return ""
        if isinstance(node, ast.Str):
            if node.raw and not node.raw.startswith("'"):
                return node.raw if _raw_matches(node) else quote(node.value)
            if node.raw.startswith("'") and "'" not in node.value:
                return node.raw
            return quote(node.value)
        if isinstance(node, ast.FoldedStr):
            return " ".join(self.value(p) for p in node.parts)
        if isinstance(node, ast.Int):
            return node.raw or str(node.value)
        if isinstance(node, ast.Null):
            return "NULL"
        if isinstance(node, ast.IPLiteral):
            return node.text
        if isinstance(node, ast.Word):
            return node.name
        if isinstance(node, ast.PVar):
            return self.pvar(node)
        if isinstance(node, ast.Concat):
            if self.portable and all(isinstance(p, ast.Str) for p in node.parts):
                return quote("".join(p.value for p in node.parts))
            if self.portable:
                return quote("".join(p.value if isinstance(p, ast.Str) else self.pvar(p) for p in node.parts))
            return " . ".join(self.value(p) for p in node.parts)
        if isinstance(node, ast.SocketDef):
            return self.socket(node)
        if isinstance(node, ast.BinOp):
            return f"{self.operand(node.left)} {node.op} {self.operand(node.right)}"
        if isinstance(node, ast.BitNot):
            return f"~{self.operand(node.operand)}"
        if isinstance(node, ast.Compare):
            return f"{self.value(node.left)} {node.op} {self.value(node.right)}"
        if isinstance(node, (ast.Call, ast.RouteCall, ast.AsyncCall, ast.LaunchCall, ast.AssertCall)):
            return self.call(node)
        if isinstance(node, list):
            return " ".join(self.value(v) for v in node)
        raise TypeError(f"cannot print {type(node).__name__}")

    def operand(self, node) -> str:
        """An operand of an arithmetic operator: parenthesised when it is itself an operation, so the
        flat OpenSIPS precedence reads back into the same tree."""
        text = self.value(node)
        if isinstance(node, (ast.BinOp, ast.Compare)):
            return f"({text})"
        return text

    def pvar(self, node: ast.PVar) -> str:
        if node.dialect == "msg_len":
            return "$ml" if self.portable else "$msg:len"
        if node.text and not self.portable:
            return node.text
        ctx = f"<{node.context}>" if node.context else ""
        arg = ""
        if node.arg is not None:
            arg = "(" + (self.pvar(node.arg) if isinstance(node.arg, ast.PVar) else node.arg) + ")"
        index = ""
        if node.index is not None:
            inner = self.pvar(node.index) if isinstance(node.index, ast.PVar) else str(node.index)
            index = f"[{inner}]"
        trs = "".join(self.transformation(t) for t in node.transforms)
        if node.long_form or index or (trs and not node.short_transforms):
            return f"$({ctx}{node.name}{arg}{index}{trs})"
        return f"${ctx}{node.name}{arg}{trs}"

    def transformation(self, node: ast.Transformation) -> str:
        args = "".join("," + (self.pvar(a) if isinstance(a, ast.PVar) else a) for a in node.args)
        return "{" + node.name + args + "}"

    def socket(self, node: ast.SocketDef) -> str:
        text = f"{node.proto}:{node.host}" if node.proto else node.host
        if node.ports:
            text += f":{node.ports}"
        for name, val in node.options:
            if name == "advertise" and self.portable:
                name = "as"
            text += f" {name}" + (f" {val}" if val is not None else "")
        return text

    # conditions ----------------------------------------------------------------------------------
    def cond(self, node) -> str:
        if isinstance(node, ast.Logic):
            right = self.cond(node.right)
            if isinstance(node.right, ast.Logic):
                right = f"({right})"
            return f"{self.cond(node.left)} {node.op} {right}"
        if isinstance(node, ast.Not):
            inner = self.cond(node.operand)
            if isinstance(node.operand, (ast.Logic, ast.Compare, ast.Assign)):
                inner = f"({inner})"
            return f"!{inner}"
        if isinstance(node, ast.Test):
            return f"[{self.value(node.expr)}]"
        if isinstance(node, ast.Truth):
            return self.value(node.value)
        if isinstance(node, ast.Assign):
            return self.assign(node)
        return self.value(node)

    # calls ---------------------------------------------------------------------------------------
    def args(self, args: list) -> str:
        return ", ".join(self.value(a) if a is not None else "" for a in args)

    def call(self, node) -> str:
        if isinstance(node, ast.Call):
            return f"{node.name}({self.args(node.args)})"
        if isinstance(node, ast.RouteCall):
            target = self.pvar(node.target) if isinstance(node.target, ast.PVar) else _route_name(node.target)
            rest = "".join(", " + (self.value(a) if a is not None else "") for a in node.args)
            return f"route({target}{rest})"
        if isinstance(node, ast.AsyncCall):
            timeout = f", {node.timeout}" if node.timeout is not None else ""
            return f"async({self.call(node.call)}, {_route_name(node.resume_route)}{timeout})"
        if isinstance(node, ast.LaunchCall):
            text = self.call(node.call)
            if node.report_route is not None:
                text += f", {_route_name(node.report_route)}"
                if node.text is not None:
                    text += f", {self.value(node.text)}"
            return f"launch({text})"
        if isinstance(node, ast.AssertCall):
            text = f", {self.value(node.text)}" if node.text is not None else ""
            return f"assert({self.cond(node.cond)}{text})"
        raise TypeError(type(node).__name__)

    def assign(self, node: ast.Assign) -> str:
        return f"{self.pvar(node.target)} {node.op} {self.value(node.value)}"

    # statements ----------------------------------------------------------------------------------
    def stmt(self, node, depth: int) -> list[str]:
        pad = self.indent * depth
        if isinstance(node, ast.Block):
            return [pad + "{", *self.stmts(node.stmts, depth + 1), pad + "}"]
        if isinstance(node, ast.CallStmt):
            return [pad + self.call(node.call) + ";"]
        if isinstance(node, ast.AssignStmt):
            return [pad + self.assign(node.assign) + ";"]
        if isinstance(node, ast.If):
            return self.if_lines(node, depth)
        if isinstance(node, ast.While):
            return self.headed(pad + f"while ({self.cond(node.cond)})", node.body, depth)
        if isinstance(node, ast.ForEach):
            head = pad + f"for ({self.pvar(node.var)} in {self.pvar(node.source)})"
            return self.headed(head, node.body, depth)
        if isinstance(node, ast.Switch):
            lines = [pad + f"switch ({self.pvar(node.subject)}) {{"]
            for case in node.cases:
                label = "default:" if case.value is None else f"case {self.value(case.value)}:"
                lines.append(pad + label)
                lines.extend(self.stmts(case.body, depth + 1))
            lines.append(pad + "}")
            return lines
        if isinstance(node, ast.Return):
            if node.value is None and not node.values:
                return [pad + "return;"]
            values = [node.value, *node.values]
            if node.parens or node.values:
                return [pad + "return(" + ", ".join(self.value(v) for v in values) + ");"]
            return [pad + f"return {self.value(node.value)};"]
        if isinstance(node, ast.Exit):
            return [pad + "exit;"]
        if isinstance(node, ast.Drop):
            return [pad + "drop;"]
        if isinstance(node, ast.Break):
            return [pad + "break;"]
        if isinstance(node, ast.Nop):
            return [pad + ";"]
        if isinstance(node, ast.BareWord):
            return [pad + node.name + ";"]
        raise TypeError(type(node).__name__)

    def headed(self, head: str, body, depth: int) -> list[str]:
        """`head { … }` for a block body, `head` then the indented statement otherwise (as written)."""
        pad = self.indent * depth
        if isinstance(body, ast.Block):
            return [head + " {", *self.stmts(body.stmts, depth + 1), pad + "}"]
        return [head, *self.stmt(body, depth + 1)]

    def if_lines(self, node: ast.If, depth: int, keyword: str = "if") -> list[str]:
        pad = self.indent * depth
        lines = self.headed(pad + f"{keyword} ({self.cond(node.cond)})", node.then, depth)
        else_ = node.else_
        if else_ is None:
            return lines
        if isinstance(else_, ast.If):
            nested = self.if_lines(else_, depth)
            nested[0] = pad + "else " + nested[0].lstrip()
            return lines + nested
        return lines + self.headed(pad + "else", else_, depth)

    def stmts(self, stmts: list, depth: int) -> list[str]:
        lines: list[str] = []
        for stmt in stmts:
            lines.extend(self.stmt(stmt, depth))
        return lines

    # top level -----------------------------------------------------------------------------------
    def top(self, node) -> list[str]:
        if isinstance(node, ast.GlobalParam):
            if isinstance(node.value, (ast.SocketDef,)):
                text = self.socket(node.value)
            elif node.value is not None and not isinstance(node.value, list):
                text = self.value(node.value)
            else:
                text = _join_items(node.items)
            name = node.name
            if self.portable and name == "listen":
                name = "socket"
            return [f"{name} = {text}"]
        if isinstance(node, ast.LoadModule):
            return [f"loadmodule {self.value(node.path)}"]
        if isinstance(node, ast.ModParam):
            return [f"modparam({self.value(node.module)}, {self.value(node.param)}, {self.value(node.value)})"]
        if isinstance(node, ast.Route):
            return self.route(node)
        raise TypeError(type(node).__name__)

    def route(self, node: ast.Route) -> list[str]:
        if node.dialect == "function" and not self.portable:
            head = f"function {node.name}()"
        elif node.dialect == "request_route" and not self.portable:
            head = "request_route"
        else:
            head = node.kind
            if node.name is not None:
                label = _route_name(node.name)
                if node.interval is not None:
                    label += f", {node.interval}"
                head += f"[{label}]"
        return [head + " {", *self.stmts(node.body.stmts, 1), "}"]

    def config(self, node: ast.Config) -> str:
        lines: list[str] = []
        previous = None
        for stmt in node.statements:
            if isinstance(stmt, ast.Route) or isinstance(previous, ast.Route) or (
                    previous is not None and type(stmt) is not type(previous)):
                lines.append("")
            lines.extend(self.top(stmt))
            previous = stmt
        return "\n".join(lines).lstrip("\n") + "\n"


def _raw_matches(node: ast.Str) -> bool:
    from opensips_py.config.parser import unescape
    try:
        return unescape(node.raw) == node.value
    except Exception:
        return False


def _route_name(name) -> str:
    if isinstance(name, ast.PVar):
        return Printer().pvar(name)
    text = str(name)
    if text.replace("_", "a").isalnum() and not text[:1].isdigit():
        return text
    if text.isdigit():
        return text
    return quote(text)


def _join_items(items: list[tuple]) -> str:
    out = ""
    previous_kind = None
    for text, kind, *_ in items:
        glue = "" if kind == "GV_PUNCT" or previous_kind == "GV_PUNCT" or previous_kind is None else " "
        if kind == "GV_PUNCT" and text in "{(":
            glue = " " if previous_kind not in (None, "GV_PUNCT") else ""
        out += glue + text
        previous_kind = kind
    return out


def print_config(config: ast.Config, portable: bool = False) -> str:
    return Printer(portable=portable).config(config)


def print_stmt(node, depth: int = 0, portable: bool = False) -> str:
    return "\n".join(Printer(portable=portable).stmt(node, depth))
