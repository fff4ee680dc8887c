"""The grammar and the AST: OpenSIPS's lexical rules, precedence, statements, routes and the guide dialect."""
from __future__ import annotations

import pytest

from opensips_py.config import ast
from opensips_py.config.parser import parse_text, unescape

HEAD = 'loadmodule "proto_udp.so"\n'


def parse_ok(text: str) -> ast.Config:
    result = parse_text(text)
    assert not result.diagnostics, [(d.location.line, d.message) for d in result.diagnostics]
    return result.config


def main_body(text: str) -> list:
    config = parse_ok(HEAD + "route {\n" + text + "\n}\n")
    return config.routes()[0].body.stmts


def assigned_value(expr_text: str):
    stmt = main_body(f"$var(x) = {expr_text};")[0]
    assert isinstance(stmt, ast.AssignStmt)
    return stmt.assign.value


def test_arithmetic_operators_share_one_precedence_level_left_to_right():
    value = assigned_value("1 + 2 * 3")  # OpenSIPS: (1 + 2) * 3 = 9
    assert isinstance(value, ast.BinOp) and value.op == "*"
    assert isinstance(value.left, ast.BinOp) and value.left.op == "+"


def test_parentheses_group_arithmetic():
    value = assigned_value("1 + (2 * 3)")
    assert value.op == "+" and isinstance(value.right, ast.BinOp) and value.right.op == "*"


def test_bitwise_operators_bind_looser_than_arithmetic():
    value = assigned_value("1 | 2 + 3")
    assert value.op == "|" and value.right.op == "+"


def test_and_or_share_one_level_left_associative():
    stmt = main_body('if ($var(a) == 1 || $var(b) == 1 && $var(c) == 1) { exit; }')[0]
    cond = stmt.cond  # ((a || b) && c)
    assert isinstance(cond, ast.Logic) and cond.op == "&&"
    assert isinstance(cond.left, ast.Logic) and cond.left.op == "||"


def test_not_binds_tighter_than_and():
    cond = main_body('if (!$var(a) && $var(b)) { exit; }')[0].cond
    assert cond.op == "&&" and isinstance(cond.left, ast.Not)


def test_word_operators_and_or_not():
    cond = main_body('if (not $var(a) and $var(b) or $var(c)) { exit; }')[0].cond
    assert cond.op == "||" and cond.left.op == "&&" and isinstance(cond.left.left, ast.Not)


@pytest.mark.parametrize("text,value", [("0x10", 16), ("010", 8), ("0", 0), ("42", 42), ("yes", 1), ("off", 0),
                                        ("true", 1), ("disable", 0), ("-5", -5)])
def test_integer_literals(text, value):
    literal = assigned_value(text)
    assert isinstance(literal, ast.Int) and literal.value == value


def test_double_quoted_string_escapes():
    assert unescape(r'"a\nb\t\"q\"\\"') == 'a\nb\t"q"\\'
    assert unescape(r'"\x41\101"') == "AA"
    assert unescape(r'"\."') == r"\."  # an unknown escape keeps its backslash


def test_single_quoted_string_is_raw():
    assert unescape(r"'a\nb'") == r"a\nb"


def test_hash_comments_and_nested_block_comments_are_ignored():
    config = parse_ok(HEAD + "/* outer /* inner */ still comment */\n# line comment\nroute { exit; } # tail\n")
    assert len(config.routes()) == 1


def test_double_slash_is_not_a_comment():
    result = parse_text(HEAD + "// not a comment\nroute { exit; }\n")
    assert result.diagnostics and result.diagnostics[0].code == "E001"
    assert "//" in (result.diagnostics[0].hint or "")


def test_line_continuation_outside_strings():
    stmts = main_body('xlog("a", \\\n "b");')
    assert isinstance(stmts[0].call, ast.Call) and len(stmts[0].call.args) == 2


def test_top_level_statements_take_no_semicolon():
    result = parse_text(HEAD + "log_level = 3;\n")
    assert result.diagnostics and result.diagnostics[0].code == "E001"


def test_every_route_type_parses():
    config = parse_ok(HEAD + """
route { exit; }
route[relay] { exit; }
route["quoted name"] { exit; }
route[7] { exit; }
branch_route[b] { exit; }
failure_route[f] { exit; }
onreply_route { exit; }
onreply_route[r] { exit; }
local_route { exit; }
startup_route { exit; }
timer_route[t, 60] { exit; }
event_route[E_CORE_THRESHOLD] { exit; }
error_route { exit; }
""")
    kinds = [(r.kind, r.name) for r in config.routes()]
    assert ("timer_route", "t") in kinds and ("route", "quoted name") in kinds and ("route", "7") in kinds
    timer = [r for r in config.routes() if r.kind == "timer_route"][0]
    assert timer.interval == 60
    assert len(kinds) == 13


def test_statements():
    stmts = main_body("""
    if ($rm == "INVITE") { exit; } else if ($rm == "ACK") { drop; } else { return(-1); }
    while ($var(i) < 10) { $var(i) = $var(i) + 1; break; }
    for ($var(c) in $(ct[*])) { xlog("$var(c)"); }
    switch ($rm) { case "INVITE": exit; case 5: break; default: return; }
    $var(a) := 1; $var(a) += 2; $var(a) -= 1; $var(a) *= 3; $var(a) /= 2; $var(a) %= 5;
    $var(a) &= 1; $var(a) |= 2; $var(a) ^= 3; $avp(x) = NULL;
    if ([$var(a) & 1]) { exit; }
    route(relay, "arg", 5, $var(a));
    return;
    ;
    """)
    kinds = [type(s).__name__ for s in stmts]
    assert kinds[:4] == ["If", "While", "ForEach", "Switch"]
    switch = stmts[3]
    assert [c.value.value if c.value else None for c in switch.cases] == ["INVITE", 5, None]
    assert isinstance(stmts[0].else_, ast.If)
    ops = [s.assign.op for s in stmts if isinstance(s, ast.AssignStmt)]
    assert ops == [":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "="]
    route_call = [s for s in stmts if isinstance(s, ast.CallStmt) and isinstance(s.call, ast.RouteCall)][0]
    assert route_call.call.target == "relay" and len(route_call.call.args) == 3


def test_return_forms():
    stmts = main_body("return; return(); return 1; return(-1); return $var(x); return(1, \"a\", $var(b));")
    assert stmts[0].value is None and stmts[1].value is None
    assert stmts[2].value.value == 1 and stmts[3].value.value == -1
    assert isinstance(stmts[4].value, ast.PVar)
    assert len(stmts[5].values) == 2


def test_function_call_with_empty_slots():
    call = main_body('f(, "x", );')[0].call
    assert call.args[0] is None and call.args[1].value == "x" and call.args[2] is None


def test_async_and_launch():
    stmts = main_body("async(sleep(1), resume, 5); launch(sleep(1), report, \"$ci\");")
    assert isinstance(stmts[0].call, ast.AsyncCall) and stmts[0].call.resume_route == "resume"
    assert stmts[0].call.timeout == 5
    assert isinstance(stmts[1].call, ast.LaunchCall) and stmts[1].call.report_route == "report"


def test_pseudo_variable_forms():
    stmts = main_body('$var(a) = $(hdr(Via)[1]{via.branch}{s.len}); $var(b) = $(avp(x)[$var(i)]); '
                      '$var(c) = $(<request>ru); $var(d) = $socket_in(ip);')
    via = stmts[0].assign.value
    assert via.name == "hdr" and via.arg == "Via" and via.index == 1
    assert [t.name for t in via.transforms] == ["via.branch", "s.len"]
    assert isinstance(stmts[1].assign.value.index, ast.PVar)
    assert stmts[2].assign.value.context == "request"
    assert stmts[3].assign.value.arg == "ip"


def test_transformation_arguments_keep_spaces_and_commas():
    value = assigned_value("$(hdr(CSeq){s.select,1, })")
    assert value.transforms[0].args == ["1", " "]


def test_a_comparison_with_a_constant_on_the_left_parses_for_the_checker():
    cond = main_body('if ("INVITE" == $rm) { exit; }')[0].cond
    assert isinstance(cond, ast.Compare) and isinstance(cond.left, ast.Str)


def test_socket_definition_with_options():
    config = parse_ok(HEAD + "socket = udp:127.0.0.1:5060 as 203.0.113.1:5060 use_workers 4 anycast\n"
                             "socket = tls:[::1]:5061\n")
    first, second = [s.value for s in config.statements if isinstance(s, ast.GlobalParam)]
    assert (first.proto, first.host, first.ports) == ("udp", "127.0.0.1", "5060")
    assert first.options == [("as", "203.0.113.1:5060"), ("use_workers", "4"), ("anycast", None)]
    assert (second.proto, second.host, second.ports) == ("tls", "[::1]", "5061")


def test_modparam_values():
    config = parse_ok(HEAD + 'modparam("tm", "fr_timeout", 5)\nmodparam("usrloc", "db_url",\n'
                             '    "mysql://a" "@b/c")\nmodparam("x", "y", -1)\n')
    params = [s for s in config.statements if isinstance(s, ast.ModParam)]
    assert params[0].value.value == 5
    assert isinstance(params[1].value, ast.FoldedStr) and params[1].value.value == "mysql://a@b/c"
    assert params[2].value.value == -1


def test_guide_dialect_constructs_are_marked():
    config = parse_ok(HEAD + 'listen = udp:1.2.3.4:5060 advertise 5.6.7.8:5060\nmodparam("core", "log_level", 3)\n'
                             'request_route {\n\tif ($msg:len > 10) { exit; }\n\tif (f()) { xlog("a" . "b"); }\n}\n'
                             'function f() { return 1; }\n')
    listen = [s for s in config.statements if isinstance(s, ast.GlobalParam)][0]
    assert listen.dialect == "advertise" and listen.value.options == [("advertise", "5.6.7.8:5060")]
    modparam = [s for s in config.statements if isinstance(s, ast.ModParam)][0]
    assert modparam.dialect == "core_modparam"
    main, function = config.routes()
    assert main.dialect == "request_route" and main.is_main
    assert function.dialect == "function" and function.name == "f"
    length = main.body.stmts[0].cond.left
    assert length.name == "ml" and length.dialect == "msg_len"
    concat = main.body.stmts[1].then.stmts[0].call.args[0]
    assert isinstance(concat, ast.Concat) and concat.dialect == "concat"


def test_positions_are_file_line_column():
    result = parse_text(HEAD + "route {\n\tsl_send_reply(404, \"x\");\n}\n", name="my.cfg")
    call = result.config.routes()[0].body.stmts[0].call
    assert (call.pos.file, call.pos.line, call.pos.column) == ("my.cfg", 3, 2)


def test_every_broken_statement_is_reported_in_one_run():
    result = parse_text(HEAD + "route[a] {\n\tfoo(;\n}\nroute[b] {\n\tbar();\n}\nroute[c] {\n\tbaz(\"x\" 1);\n}\n")
    lines = sorted(d.location.line for d in result.diagnostics if d.code == "E001")
    assert lines == [3, 9]
    assert [r.name for r in result.config.routes()] == ["b"]
