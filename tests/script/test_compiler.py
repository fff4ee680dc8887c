"""The interpreter's statement semantics, pinned on OpenSIPS's rules (opensips-core.md §2.3, §3)."""
from __future__ import annotations

import pytest

from opensips_py.config.parser import parse_text
from opensips_py.modules.exports import RouteType
from opensips_py.script.compiler import Bindings, StartupError, binary, compare, compile_script
from opensips_py.script.context import ERROR, FALSE, TRUE, MsgContext, Process, ScriptError


def run(config_text: str, process: Process | None = None) -> tuple[MsgContext, list[str], int]:
    result = parse_text(config_text)
    assert not result.diagnostics, result.diagnostics
    logs: list[str] = []
    process = process or Process(log=lambda level, text: logs.append(text), log_level=4)
    script = compile_script(result.config, Bindings())
    ctx = MsgContext(None, RouteType.REQUEST, process)
    code = script.run("route", None, ctx)
    return ctx, logs, code


def test_a_zero_return_code_from_a_route_stops_the_whole_script_even_inside_if():
    ctx, logs, code = run('route {\n\tif (route(zero)) { xlog("then"); }\n\txlog("after");\n}\n'
                          'route[zero] {\n\treturn(0);\n}\n')
    assert logs == [] and ctx.exit and code == 0


def test_return_leaves_only_the_current_route_and_sets_rc():
    ctx, logs, _ = run('route {\n\troute(sub);\n\txlog("rc=$rc");\n}\nroute[sub] {\n\treturn(-3);\n\txlog("x");\n}\n')
    assert logs == ["rc=-3"]


def test_negative_return_is_false_positive_is_true():
    _, logs, _ = run('route {\n\tif (route(neg)) xlog("neg true"); else xlog("neg false");\n'
                     '\tif (route(pos)) xlog("pos true");\n}\nroute[neg] { return(-1); }\nroute[pos] { return(2); }\n')
    assert logs == ["neg false", "pos true"]


def test_return_without_value_is_1_and_null_var_is_minus_1():
    _, logs, _ = run('route {\n\troute(a);\n\txlog("$rc");\n\troute(b);\n\txlog(" $rc");\n}\n'
                     'route[a] { return; }\nroute[b] { return $var(unset); }\n')
    assert "".join(logs) == "1 -1"


def test_assignment_sets_rc_to_1():
    _, logs, _ = run('route {\n\troute(neg);\n\t$var(x) = 5;\n\txlog("$rc");\n}\nroute[neg] { return(-7); }\n')
    assert logs == ["1"]


def test_route_parameters():
    _, logs, _ = run('route {\n\t$var(v) = "val";\n\troute(p, 1, "two", $var(v));\n}\n'
                     'route[p] { xlog("$param(1) $param(2) $param(3) [$param(4)]"); }\n')
    assert logs == ["1 two val [<null>]"]


def test_exit_stops_nested_routes():
    _, logs, code = run('route {\n\troute(a);\n\txlog("main");\n}\nroute[a] { route(b); xlog("a"); }\n'
                        'route[b] { exit; }\n')
    assert logs == [] and code == 0


def test_switch_strings_are_case_insensitive_and_fall_through_until_break():
    _, logs, _ = run('route {\n\t$var(m) = "invite";\n\tswitch ($var(m)) {\n\tcase "INVITE": xlog("1");\n'
                     '\tcase "BYE": xlog("2"); break;\n\tcase "ACK": xlog("3");\n\tdefault: xlog("d");\n\t}\n}\n')
    assert logs == ["1", "2"]


def test_switch_number_cases_match_only_integers_and_default_runs_otherwise():
    _, logs, _ = run('route {\n\t$var(m) = "5";\n\tswitch ($var(m)) {\n\tcase 5: xlog("int");\n\tbreak;\n'
                     '\tdefault: xlog("default");\n\t}\n}\n')
    assert logs == ["default"]


def test_while_with_break_and_loop_limit():
    process = Process(log=lambda level, text: None)
    ctx, logs, _ = run('route {\n\t$var(i) = 0;\n\twhile ($var(i) < 100) {\n\t\t$var(i) = $var(i) + 1;\n'
                       '\t\tif ($var(i) == 7) break;\n\t}\n}\n', process)
    assert process.vars["i"] == 7
    result = parse_text('route {\n\t$var(n) = 0;\n\twhile (1) { $var(n) = $var(n) + 1; }\n}\n')
    script = compile_script(result.config, Bindings(max_while_loops=50))
    ctx = MsgContext(None, RouteType.REQUEST, process)
    script.run("route", None, ctx)
    assert process.vars["n"] == 50


def test_for_each_over_avps_newest_first():
    _, logs, _ = run('route {\n\t$avp(a) = 1;\n\t$avp(a) = 2;\n\t$avp(a) = 3;\n'
                     '\tfor ($var(v) in $(avp(a)[*])) { xlog("$var(v)"); }\n}\n')
    assert logs == ["3", "2", "1"]


def test_avp_assignment_forms():
    _, logs, _ = run('route {\n\t$avp(a) = 1; $avp(a) = 2; $avp(a) = 3;\n\t$avp(a) = NULL;\n'
                     '\txlog("$(avp(a)[*])");\n\t$(avp(a)[append]) = 9;\n\txlog(" $(avp(a)[*])");\n'
                     '\t$avp(a) := 7;\n\txlog(" $(avp(a)[*])");\n}\n')
    assert "".join(logs) == "2,1 2,1,9 7"


def test_var_values_persist_between_messages_in_a_process():
    process = Process(log=lambda level, text: None)
    result = parse_text('route {\n\tif ($var(seen) == NULL) { $var(seen) = 0; }\n\t$var(seen) = $var(seen) + 1;\n}\n')
    script = compile_script(result.config, Bindings())
    for _ in range(3):
        script.run("route", None, MsgContext(None, RouteType.REQUEST, process))
    assert process.vars["seen"] == 3


def test_arithmetic_follows_the_flat_precedence():
    process = Process(log=lambda level, text: None)
    run('route {\n\t$var(a) = 1 + 2 * 3;\n\t$var(b) = 7 / 2;\n\t$var(c) = 10 - 2 - 3;\n\t$var(d) = 0x10 + 010;\n'
        '\t$var(e) = -7 / 2;\n\t$var(f) = 1 | 2 + 4;\n}\n', process)
    assert [process.vars[k] for k in "abcdef"] == [9, 3, 5, 24, -3, 7]


def test_string_plus_var_concatenates_string_plus_int_literal_fails():
    process = Process(log=lambda level, text: None)
    run('route {\n\t$var(n) = 5;\n\t$var(s) = "a" + $var(n);\n\t$var(t) = "keep";\n\t$var(t) = "a" + 1;\n}\n', process)
    assert process.vars["s"] == "a5" and process.vars["t"] is None


@pytest.mark.parametrize("op,left,right,expected", [
    ("==", "Alice", "alice", TRUE), ("!=", "Alice", "alice", FALSE), ("==", 5, "5", TRUE),
    ("==", None, None, TRUE), ("==", "x", None, FALSE), ("!=", None, "x", TRUE),
    ("<", "abc", "abd", TRUE), (">", 10, 9, TRUE), ("==", "5", 5, TRUE),
])
def test_compare(op, left, right, expected):
    assert compare(op, left, right) == expected


def test_a_string_compared_with_an_integer_literal_is_an_error_both_ways():
    assert compare("==", "abc", 5, right_is_literal_int=True) == ERROR
    _, logs, _ = run('route {\n\t$var(s) = "abc";\n\tif ($var(s) == 5) xlog("a");\n\tif (!($var(s) == 5)) xlog("b");\n'
                     '\txlog("c");\n}\n')
    assert logs[-1] == "c" and "a" not in logs and "b" not in logs


def test_regex_match_is_case_insensitive_extended():
    _, logs, _ = run('route {\n\t$var(u) = "sip:Alice@Example.COM";\n\tif ($var(u) =~ "^sip:alice@example\\\\.com$") xlog("m");\n'
                     '\tif ($var(u) !~ "bob") xlog("n");\n}\n')
    assert logs == ["m", "n"]


def test_ip_network_comparison():
    _, logs, _ = run('route {\n\t$var(ip) = "10.1.2.3";\n\tif ($var(ip) == 10.0.0.0/8) xlog("in");\n'
                     '\tif ($var(ip) != 192.168.0.0/16) xlog("out");\n}\n')
    assert logs == ["in", "out"]


def test_bare_values_as_conditions():
    _, logs, _ = run('route {\n\t$var(z) = 0; $var(s) = "0"; $var(e) = "";\n\tif ($var(z)) xlog("z");\n'
                     '\tif ($var(s)) xlog("s");\n\tif ($var(e)) xlog("e");\n\tif ($var(nothing)) xlog("n");\n}\n')
    assert logs == ["s"]


def test_and_or_short_circuit():
    _, logs, _ = run('route {\n\tif ($var(x) == NULL || route(side)) xlog("or");\n\tif (0 && route(side)) xlog("and");\n}\n'
                     'route[side] { xlog("side"); return(1); }\n')
    assert logs == ["or"]


def test_guide_dialect_function_returning_0_is_false_not_exit():
    _, logs, code = run('request_route {\n\tif (f()) xlog("true"); else xlog("false");\n\txlog("end");\n}\n'
                        'function f() { return 0; }\n')
    assert logs == ["false", "end"] and code != 0


def test_guide_dialect_concatenation_joins_strings():
    _, logs, _ = run('route {\n\t$var(a) = "x";\n\txlog("one " . $var(a) . " two");\n}\n')
    assert logs == ["one x two"]


def test_xlog_levels_are_filtered_by_the_process_log_level():
    logs: list = []
    process = Process(log=lambda level, text: logs.append((level, text)), log_level=2)
    run('route {\n\txlog("L_DBG", "debug");\n\txlog("L_ERR", "error");\n\txlog("plain");\n\txlog("L_INFORMATION", "info");\n}\n',
        process)
    assert logs == [(-1, "error"), (2, "plain")]


def test_division_by_zero_leaves_the_target_unset_and_goes_on():
    process = Process(log=lambda level, text: None)
    ctx, _, _ = run('route {\n\t$var(d) = 5 / 0;\n\t$var(after) = 1;\n}\n', process)
    assert process.vars["d"] is None and process.vars["after"] == 1


def test_calling_an_undefined_route_refuses_to_start():
    result = parse_text('route {\n\troute(missing);\n}\n')
    with pytest.raises(StartupError) as info:
        compile_script(result.config, Bindings())
    assert "called route [missing] is not defined" in str(info.value)


def test_a_function_nobody_exports_refuses_to_start_and_names_it():
    result = parse_text('route {\n\tno_such_function();\n}\n')
    with pytest.raises(StartupError) as info:
        compile_script(result.config, Bindings())
    assert "no_such_function" in str(info.value) and ":2:" in str(info.value)


def test_binary_operator_errors():
    with pytest.raises(ScriptError):
        binary("+", 1, "a")
    assert binary("%", -7, 2) == -1 and binary("<<", 1, 4) == 16 and binary("^", "ab", "ab") == "\x00\x00"
