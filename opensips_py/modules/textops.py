"""textops: regular-expression search and rewrite of the raw SIP message and its body."""
from __future__ import annotations

from opensips_py.modules.exports import B, F, L, O, R, Arg, ArgKind, Function, ModuleExports

_ROFBL = R | O | F | B | L
_RE = Arg("re", ArgKind.REGEX)
_TXT = Arg("txt")
_SUBST = Arg("subst_expr")
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
