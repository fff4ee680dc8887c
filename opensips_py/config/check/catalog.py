"""Every rule of `opensips-py check`: a stable code, a severity, what it catches, and a bad and a fixed example.

The examples are executable: the test suite checks every `bad` example triggers its rule and every `good`
example does not, and docs/check.md is generated from this table (`python -m opensips_py.config.check.catalog`).

Code families: E0xx files and syntax, E1xx global parameters, E2xx modules and modparams, E3xx function calls,
E4xx routes and flow, E5xx pseudo-variables, V6xx version drift (only with --target), P7xx guide-dialect
portability (warnings; errors with --target, since real OpenSIPS rejects them).
"""
from __future__ import annotations

from dataclasses import dataclass

from opensips_py.config.diagnostics import Severity

E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE

_HEAD = 'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060\n'


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    title: str
    catches: str
    bad: str
    good: str
    target: str | None = None  # the --target the examples are checked with
    prose: bool = False  # the examples describe a file rather than being one
    fixable: bool = False  # --fix rewrites it (at least in the common case)


RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------------ files and syntax
    Rule("E001", E, "syntax error",
         "Anything the grammar rejects: a missing ';', a `//` comment, an unbalanced brace, a bare word where a "
         "literal is needed. Every broken top-level statement is reported, with what was expected.",
         _HEAD + 'route {\n\tsl_send_reply(200, "OK")\n}\n',
         _HEAD + 'route {\n\tsl_send_reply(200, "OK");\n}\n'),
    Rule("E002", E, "file cannot be read",
         "The config or an included file is missing, unreadable or a directory.",
         'include_file "missing.cfg"\n',
         '# (no include of a file that does not exist)\n' + _HEAD),
    Rule("E003", E, "include cycle",
         "An include_file/import_file chain that leads back to a file already being read.",
         "a.cfg: include_file \"b.cfg\"; b.cfg: include_file \"a.cfg\"",
         "a.cfg: include_file \"b.cfg\"; b.cfg: no include", prose=True),
    Rule("E004", E, "includes too deep",
         "More than 50 nested includes (OpenSIPS's limit).",
         "51 files each including the next", "a flatter include tree", prose=True),
    Rule("E005", E, "not a text file",
         "A binary file (NUL bytes) or bytes that are not valid UTF-8; the position of the first bad byte is "
         "given.",
         "a config saved as Latin-1 with an 'é' in a comment, or a gzip file", "the same file saved as UTF-8",
         prose=True),
    Rule("E006", E, "config too large",
         "More than 2 MiB of config (includes counted); almost always the wrong file. --max-size raises it.",
         "a 5 MB file", "a real opensips.cfg", prose=True),
    Rule("E007", E, "empty config",
         "A config with no statements at all: OpenSIPS would start with no listener and no routing.",
         "# nothing but comments\n",
         _HEAD + "route {\n\texit;\n}\n"),
    # ------------------------------------------------------------------ global parameters
    Rule("E101", E, "unknown global parameter",
         "A `name = value` that no OpenSIPS 3.x accepts (children, pkg_mem_size, tcp_send_timeout…), with what "
         "to write instead.",
         _HEAD + "children = 8\n", _HEAD + "udp_workers = 8\n", fixable=True),
    Rule("E102", E, "global parameter value of the wrong kind",
         "A string where an integer is expected, a number where a flag name is expected, and so on.",
         _HEAD + 'log_level = "3"\n', _HEAD + "log_level = 3\n", fixable=True),
    Rule("E103", E, "bad socket definition",
         "A socket/listen value that is not `proto:host[:port]` (a quoted path, an unknown protocol, an unknown "
         "option).",
         'loadmodule "proto_udp.so"\nsocket = "/var/run/opensips.sock"\n',
         'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060\n'),
    Rule("E104", E, "socket protocol without its module",
         "A tcp:/tls:/ws:/wss: socket whose transport module (proto_tcp, proto_tls…) is not loaded.",
         _HEAD + "socket = tcp:127.0.0.1:5060\n",
         _HEAD + 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1:5060\n', fixable=True),
    # ------------------------------------------------------------------ modules
    Rule("E201", E, "unknown module",
         "A loadmodule of a module OpenSIPS does not have (Kamailio's sdpops, a made-up mi_rest), with what "
         "OpenSIPS offers instead.",
         _HEAD + 'loadmodule "sdpops.so"\n', _HEAD + 'loadmodule "sipmsgops.so"\n'),
    Rule("E202", E, "duplicate loadmodule",
         "The same module loaded twice: OpenSIPS refuses to start (`failed to load module`).",
         _HEAD + 'loadmodule "tm.so"\nloadmodule "tm.so"\n', _HEAD + 'loadmodule "tm.so"\n', fixable=True),
    Rule("E203", E, "modparam for a module not loaded (yet)",
         "A modparam whose module name matches no loadmodule above it (OpenSIPS matches only modules loaded "
         "earlier; `module:sub` is not a syntax).",
         _HEAD + 'modparam("tm", "fr_timeout", 10)\nloadmodule "tm.so"\n',
         _HEAD + 'loadmodule "tm.so"\nmodparam("tm", "fr_timeout", 10)\n'),
    Rule("E204", E, "unknown modparam",
         "A parameter the module does not have (in any version, or with --target in that version), with the "
         "right name when it was renamed.",
         _HEAD + 'loadmodule "dialog.so"\nmodparam("dialog", "dlg_timeout", 3600)\n',
         _HEAD + 'loadmodule "dialog.so"\nmodparam("dialog", "default_timeout", 3600)\n', fixable=True),
    Rule("E205", E, "modparam value of the wrong type",
         "An integer for a string parameter (a flag number where a flag name is expected) or a string for an "
         "integer one.",
         _HEAD + 'loadmodule "usrloc.so"\nmodparam("usrloc", "nat_bflag", 3)\n',
         _HEAD + 'loadmodule "usrloc.so"\nmodparam("usrloc", "nat_bflag", "NAT")\n', fixable=True),
    Rule("E206", E, "missing module dependency",
         "A module loaded without one it needs: registrar without usrloc, db_url without a db_* module "
         "(upstream #616), tls_mgm without a TLS library in 3.x, mi_http without httpd.",
         _HEAD + 'loadmodule "registrar.so"\n',
         _HEAD + 'loadmodule "sl.so"\nloadmodule "signaling.so"\nloadmodule "usrloc.so"\n'
                 'loadmodule "registrar.so"\n', fixable=True),
    Rule("N208", N, "module not checked",
         "A real OpenSIPS module for which opensips-py has no exports table yet: its parameters, functions and "
         "variables are not verified, and unknown-function findings become warnings.",
         _HEAD + 'loadmodule "fraud_detection.so"\n', _HEAD + 'loadmodule "tm.so"\n'),
    Rule("E207", E, "tls_mgm setting without a declared [domain]",
         "In 3.x and 4.0 every per-domain tls_mgm parameter (certificate, private_key, ca_list, tls_method, "
         "verify_cert…) is written \"[domain]value\" for a domain declared with server_domain or "
         "client_domain; without it OpenSIPS refuses to start.",
         _HEAD + 'loadmodule "tls_mgm.so"\nloadmodule "tls_openssl.so"\n'
                 'modparam("tls_mgm", "certificate", "/etc/opensips/cert.pem")\n',
         _HEAD + 'loadmodule "tls_mgm.so"\nloadmodule "tls_openssl.so"\n'
                 'modparam("tls_mgm", "server_domain", "default")\n'
                 'modparam("tls_mgm", "certificate", "[default]/etc/opensips/cert.pem")\n'),
    # ------------------------------------------------------------------ function calls
    Rule("E301", E, "unknown function",
         "A call of a function no loaded module exports, naming the module that has it (\"missing loadmodule "
         "\\\"signaling.so\\\"?\") or the OpenSIPS name of a Kamailio function.",
         _HEAD + 'route {\n\tsend_reply(404, "Not Found");\n}\n',
         _HEAD + 'loadmodule "sl.so"\nloadmodule "signaling.so"\nroute {\n\tsend_reply(404, "Not Found");\n}\n',
         fixable=True),
    Rule("E302", E, "wrong number of arguments",
         "Too few or too many arguments, or an empty slot for a mandatory one.",
         _HEAD + 'loadmodule "sl.so"\nroute {\n\tsl_send_reply(404);\n}\n',
         _HEAD + 'loadmodule "sl.so"\nroute {\n\tsl_send_reply(404, "Not Found");\n}\n'),
    Rule("E303", E, "wrong argument kind",
         "A quoted number where an integer is expected, an integer where a string is expected, a literal where "
         "a writable variable is expected, a variable where a static value is expected.",
         _HEAD + 'loadmodule "sl.so"\nroute {\n\tsl_send_reply("404", "Not Found");\n}\n',
         _HEAD + 'loadmodule "sl.so"\nroute {\n\tsl_send_reply(404, "Not Found");\n}\n', fixable=True),
    Rule("E304", E, "function not allowed in this route type",
         "A function called where it may not run, following route() calls through the whole call graph "
         "(OpenSIPS itself only looks at the enclosing block: upstream #563).",
         _HEAD + 'loadmodule "sl.so"\nloadmodule "tm.so"\nroute {\n\tt_on_reply("r");\n\tt_relay();\n}\n'
                 'onreply_route[r] {\n\troute(reply_it);\n}\nroute[reply_it] {\n\tsl_send_reply(200, "OK");\n}\n',
         _HEAD + 'loadmodule "sl.so"\nroute {\n\troute(reply_it);\n}\n'
                 'route[reply_it] {\n\tsl_send_reply(200, "OK");\n}\n'),
    Rule("E305", E, "bare word statement",
         "A function name without `()`: OpenSIPS says \"command calls need '()'\".",
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_relay;\n}\n',
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_relay();\n}\n', fixable=True),
    Rule("E306", E, "bad flags or level argument",
         "A flag word the function does not know, an unknown xlog level, a log level out of range.",
         _HEAD + 'route {\n\txlog("INFO", "hello\\n");\n}\n',
         _HEAD + 'route {\n\txlog("L_INFO", "hello\\n");\n}\n'),
    Rule("E307", E, "armed route does not exist",
         "t_on_failure/t_on_branch/t_on_reply naming a failure_route/branch_route/onreply_route that is not "
         "defined.",
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_on_failure("missed");\n\tt_relay();\n}\n',
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_on_failure("missed");\n\tt_relay();\n}\n'
                 'failure_route[missed] {\n\texit;\n}\n'),
    Rule("E308", E, "function cannot be used with async()",
         "async() of a function that has no asynchronous form.",
         _HEAD + 'loadmodule "tm.so"\nloadmodule "sl.so"\nroute {\n\tasync(sl_send_reply(200, "OK"), done);\n}\n'
                 'route[done] {\n\texit;\n}\n',
         _HEAD + 'loadmodule "tm.so"\nloadmodule "cfgutils.so"\nroute {\n\tasync(sleep(1), done);\n}\n'
                 'route[done] {\n\texit;\n}\n'),
    # ------------------------------------------------------------------ routes and flow
    Rule("E401", E, "call of an undefined route",
         "route(name) where no route[name] exists (OpenSIPS finds this only at start-up, not with -c).",
         _HEAD + "route {\n\troute(relay);\n}\n",
         _HEAD + "route {\n\troute(relay);\n}\nroute[relay] {\n\texit;\n}\n"),
    Rule("E402", E, "route defined twice",
         "Two route blocks of the same kind and name (or two main routes).",
         _HEAD + "route[relay] {\n\texit;\n}\nroute[relay] {\n\tdrop;\n}\nroute {\n\troute(relay);\n}\n",
         _HEAD + "route[relay] {\n\texit;\n}\nroute {\n\troute(relay);\n}\n"),
    Rule("W403", W, "route never used",
         "A route[name] never called, or a branch/failure/onreply route never armed (no string in the config "
         "names it).",
         _HEAD + "route {\n\texit;\n}\nroute[unused] {\n\texit;\n}\n",
         _HEAD + "route {\n\troute(used);\n}\nroute[used] {\n\texit;\n}\n"),
    Rule("W404", W, "unreachable statement",
         "Statements after exit, return, drop or break in the same block never run.",
         _HEAD + 'loadmodule "sl.so"\nroute {\n\texit;\n\tsl_send_reply(200, "OK");\n}\n',
         _HEAD + 'loadmodule "sl.so"\nroute {\n\tsl_send_reply(200, "OK");\n\texit;\n}\n'),
    Rule("W405", W, "$var read before it is set",
         "A $var(name) read on a path where it was never set in this message: $var values persist between "
         "messages in a process, so the read sees a stale value.",
         _HEAD + 'route {\n\tif ($rm == "INVITE") {\n\t\t$var(x) = 1;\n\t}\n\tif ($var(x) == 1) {\n\t\texit;\n\t}\n}\n',
         _HEAD + 'route {\n\t$var(x) = 0;\n\tif ($rm == "INVITE") {\n\t\t$var(x) = 1;\n\t}\n'
                 '\tif ($var(x) == 1) {\n\t\texit;\n\t}\n}\n'),
    Rule("E406", E, "malformed route block",
         "failure_route or branch_route without a name, timer_route without an interval, an interval on "
         "another route type, the pre-3.x `event_route[X, async]`.",
         _HEAD + "failure_route {\n\texit;\n}\n",
         _HEAD + "failure_route[missed] {\n\texit;\n}\n"),
    Rule("E407", E, "break outside switch or loop",
         "`break;` that is not inside a switch, while or for.",
         _HEAD + "route {\n\tbreak;\n}\n",
         _HEAD + 'route {\n\tswitch ($rm) {\n\tcase "INVITE":\n\t\tbreak;\n\t}\n}\n'),
    Rule("E408", E, "comparison without a variable on the left",
         "OpenSIPS compares a pseudo-variable with a value; a constant on the left (`5 == $x`) is a syntax "
         "error there.",
         _HEAD + 'route {\n\tif ("INVITE" == $rm) {\n\t\texit;\n\t}\n}\n',
         _HEAD + 'route {\n\tif ($rm == "INVITE") {\n\t\texit;\n\t}\n}\n', fixable=True),
    Rule("N409", N, "onreply_route[0] is a named route",
         "`onreply_route[0]` is the reply route named \"0\", not the global one (write `onreply_route {}`).",
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_on_reply("0");\n\tt_relay();\n}\nonreply_route[0] {\n\texit;\n}\n',
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_relay();\n}\nonreply_route {\n\texit;\n}\n'),
    Rule("E410", E, "reserved word used as a name",
         "OpenSIPS lexes keywords everywhere: a route named log, tag or route must be quoted.",
         _HEAD + "route {\n\troute(tag);\n}\nroute[tag] {\n\texit;\n}\n",
         _HEAD + "route {\n\troute(tagging);\n}\nroute[tagging] {\n\texit;\n}\n"),
    Rule("E411", E, "invalid assignment target",
         "Assigning to a read-only pseudo-variable ($ci, $si…) or to one with transformations.",
         _HEAD + 'route {\n\t$ci = "x";\n}\n',
         _HEAD + 'route {\n\t$var(ci) = "x";\n}\n'),
    # ------------------------------------------------------------------ pseudo-variables
    Rule("E501", E, "unknown pseudo-variable",
         "A $name no module (loaded or not) exports, in code or inside a format string.",
         _HEAD + 'route {\n\txlog("$fromuser\\n");\n}\n',
         _HEAD + 'route {\n\txlog("$fU\\n");\n}\n'),
    Rule("E502", E, "unknown transformation",
         "A {class.name} that does not exist or gets the wrong number of arguments.",
         _HEAD + 'route {\n\txlog("$(ru{uri.usr})\\n");\n}\n',
         _HEAD + 'route {\n\txlog("$(ru{uri.user})\\n");\n}\n'),
    Rule("E503", E, "pseudo-variable of a module not loaded",
         "A pseudo-variable that exists, but in a module the config does not load ($DLG_status without "
         "dialog.so).",
         _HEAD + 'route {\n\txlog("$DLG_status\\n");\n}\n',
         _HEAD + 'loadmodule "dialog.so"\nroute {\n\txlog("$DLG_status\\n");\n}\n'),
    Rule("W504", W, "transformation ignored",
         "`$ru{uri.user}` outside a string: OpenSIPS silently evaluates plain $ru. Use the long form.",
         _HEAD + 'route {\n\tif ($ru{uri.user} == "alice") {\n\t\texit;\n\t}\n}\n',
         _HEAD + 'route {\n\tif ($(ru{uri.user}) == "alice") {\n\t\texit;\n\t}\n}\n', fixable=True),
    # ------------------------------------------------------------------ version drift
    Rule("V601", E, "not in the target version",
         "A global parameter, function, modparam, module or pseudo-variable that exists in other versions but "
         "not in --target (children→udp_workers, $proto→$socket_in(proto), append_branch→append_branch_old, "
         "avpops→sqlops…), with the name to use.",
         _HEAD + 'route {\n\txlog("$proto\\n");\n}\n',
         _HEAD + 'route {\n\txlog("$socket_in(proto)\\n");\n}\n', target="3.6", fixable=True),
    Rule("V602", W, "deprecated in the target version",
         "Still accepted by --target, with a warning there (listen→socket, log_stderror→stderror_enabled).",
         'loadmodule "proto_udp.so"\nlisten = udp:127.0.0.1:5060\n',
         'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060\n', target="3.6", fixable=True),
    Rule("V603", E, "flag syntax of another version",
         "Flags written the way another version wants them: t_relay/t_replicate integer masks where 3.4+ "
         "wants names, create_dialog letters in 4.0 (names), registrar letter flags in 3.4+.",
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_relay(2);\n}\n',
         _HEAD + 'loadmodule "tm.so"\nroute {\n\tt_relay("no-auto-477");\n}\n', target="3.6"),
    # ------------------------------------------------------------------ guide dialect
    Rule("P701", W, "request_route (guide dialect)",
         "Kamailio's name for the main route. opensips-py runs it as `route`; OpenSIPS rejects it.",
         _HEAD + "request_route {\n\texit;\n}\n", _HEAD + "route {\n\texit;\n}\n", fixable=True),
    Rule("P702", W, "function block (guide dialect)",
         "`function f() {…}` called as `f()`: opensips-py runs it as a route whose return code is the call's "
         "value. OpenSIPS has no functions: the fix makes it route[f], called as route(f), and turns `return 0` "
         "(which would stop the whole script in OpenSIPS) into `return -1`.",
         _HEAD + "route {\n\tif (is_local()) {\n\t\texit;\n\t}\n}\n"
                 'function is_local() {\n\tif ($si == "127.0.0.1") {\n\t\treturn 1;\n\t}\n\treturn 0;\n}\n',
         _HEAD + "route {\n\tif (route(is_local)) {\n\t\texit;\n\t}\n}\n"
                 'route[is_local] {\n\tif ($si == "127.0.0.1") {\n\t\treturn 1;\n\t}\n\treturn -1;\n}\n',
         fixable=True),
    Rule("P703", W, "$msg:len (guide dialect)",
         "The SER-era name of the message length. opensips-py reads it as $ml; OpenSIPS rejects it.",
         _HEAD + "route {\n\tif ($msg:len > 4096) {\n\t\texit;\n\t}\n}\n",
         _HEAD + "route {\n\tif ($ml > 4096) {\n\t\texit;\n\t}\n}\n", fixable=True),
    Rule("P704", W, "string concatenation with '.' (guide dialect)",
         "`\"a\" . \"b\"` in a function argument. opensips-py joins the pieces; OpenSIPS has no such operator "
         "(write one string; a $var inside a string is expanded).",
         _HEAD + 'route {\n\txlog("L_INFO", "a " . "b\\n");\n}\n',
         _HEAD + 'route {\n\txlog("L_INFO", "a b\\n");\n}\n', fixable=True),
    Rule("P705", W, "modparam(\"core\", …) (guide dialect)",
         "Core settings are global parameters, not a module's: `log_level = 3`, not "
         "`modparam(\"core\", \"log_level\", 3)`.",
         _HEAD + 'modparam("core", "log_level", 3)\n', _HEAD + "log_level = 3\n", fixable=True),
    Rule("P706", W, "listen … advertise (guide dialect)",
         "`advertise` is Kamailio's word; OpenSIPS writes `as`: `socket = udp:IP:PORT as PUBLIC:PORT`.",
         'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060 advertise 203.0.113.1:5060\n',
         'loadmodule "proto_udp.so"\nsocket = udp:127.0.0.1:5060 as 203.0.113.1:5060\n', fixable=True),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def markdown() -> str:
    """docs/check.md, generated from RULES."""
    from opensips_py.config.check.docs_page import render
    return render(RULES)


if __name__ == "__main__":
    print(markdown(), end="")
