"""Start-up: a config is checked, its sockets and core parameters read, its modules built and its script
compiled; anything that cannot run refuses to start and says exactly why."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from opensips_py.config.check.exports_index import exports_index
from opensips_py.runtime import ProxyCore, StartupFailure
from opensips_py.runtime.functions import ProxyCoreFunctions
from opensips_py.runtime.log import Logger
from opensips_py.runtime.modules import implementation_class
from opensips_py.runtime.resolver import Resolver
from opensips_py.runtime.settings import SettingsError, sockets_from_text
from opensips_py.script.context import ListenSocket
from tests.runtime.support import Proxy
from tests.shared import GUIDE_CFG, REPO

UDP = 'socket = udp:127.0.0.1:5060\nloadmodule "proto_udp.so"\n'


def build(text: str, **kwargs) -> ProxyCore:
    kwargs.setdefault("logger", Logger(4, sink=lambda line: None))
    return ProxyCore.from_text(text, name="start.cfg", resolver=Resolver(system=False), **kwargs)


# ------------------------------------------------------------------------------------------------ refusals

def test_a_config_with_check_errors_refuses_to_start_with_checks_diagnostics():
    with pytest.raises(StartupFailure) as failure:
        build(UDP + 'children = 4\nroute {\n\texit;\n}\n')
    assert "start.cfg:3:1: error E101: unknown global parameter 'children'" in failure.value.report


def unimplemented_module() -> tuple[str, str]:
    """A module we have the exports table of but no implementation, and one of its functions that takes no
    argument and may run in a request route (the modules get implemented over time: pick one that is not)."""
    from opensips_py.modules import exports_of, known_modules
    from opensips_py.modules.exports import RouteType
    for name in known_modules():
        table = exports_of(name)
        if implementation_class(name) is not None or not table.opensips or table.deps:
            continue
        for function in table.functions:
            if function.min_args == 0 and function.routes & RouteType.REQUEST and \
                    function.versions.includes("3.6"):
                return name, function.name
    raise AssertionError("every module is implemented: pick another example")


def test_calling_a_function_of_a_module_without_implementation_names_every_call():
    module, function = unimplemented_module()
    with pytest.raises(StartupFailure) as failure:
        build(UDP + f'loadmodule "{module}.so"\nroute {{\n\t{function}();\n\tif ({function}()) exit;\n}}\n')
    report = failure.value.report
    assert f"start.cfg:5:2: error E301: {function}() is not implemented in opensips-py yet" in report
    assert f"start.cfg:6:6: error E301: {function}() is not implemented in opensips-py yet" in report
    assert [str(c) for c in failure.value.unimplemented] == [f"start.cfg:5: {function}() ({module})",
                                                             f"start.cfg:6: {function}() ({module})"]


def test_a_loaded_module_without_implementation_is_fine_when_the_script_calls_none_of_it():
    module, _ = unimplemented_module()
    core = build(UDP + f'loadmodule "{module}.so"\nroute {{\n\texit;\n}}\n')
    assert module not in core.modules


def test_an_unserved_protocol_refuses_to_start():
    with pytest.raises(StartupFailure, match="sctp are not served"):
        build('socket = sctp:127.0.0.1:5060\nloadmodule "proto_sctp.so"\nroute {\n\texit;\n}\n')


def test_the_guide_config_lists_exactly_the_functions_not_implemented_yet():
    """The design guide's config does not run (it has real errors), but start-up still tells the user
    which of its calls opensips-py cannot run yet: every such call, with its line, and nothing else."""
    with pytest.raises(StartupFailure) as failure:
        ProxyCore.from_file(str(GUIDE_CFG), logger=Logger(-3, sink=lambda line: None))
    listed = {(call.name, call.line) for call in failure.value.unimplemented}
    # the same list, found another way: scan the source text for calls of exported functions
    offers = exports_index().functions
    expected = set()
    for number, line in enumerate(GUIDE_CFG.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        if re.match(r"\s*(modparam|loadmodule|function)\b", code):
            continue
        for name in re.findall(r"\b([a-z_][a-z0-9_]*)\s*\(", code):
            if name not in offers or name in ("route", "xlog", "if", "while", "switch"):
                continue
            implemented = any(callable(getattr(ProxyCoreFunctions if offer.module == "core"
                                               else implementation_class(offer.module), name, None))
                              for offer in offers[name])
            if not implemented:
                expected.add((name, number))
    assert listed == expected and listed
    assert "not implemented in opensips-py yet" in failure.value.report
    assert all(name not in {"sl_send_reply", "mf_process_maxfwd_header", "send_reply"} for name, _ in listed)


def test_the_cli_refuses_a_config_that_calls_unimplemented_functions(tmp_path):
    module, function = unimplemented_module()
    path = tmp_path / "c.cfg"
    path.write_text(UDP + f'loadmodule "{module}.so"\nroute {{\n\t{function}();\n}}\n')
    result = subprocess.run([sys.executable, "-m", "opensips_py", "-f", str(path)], capture_output=True,
                            text=True, timeout=60, cwd=REPO)
    assert result.returncode == 1
    assert f"{function}() is not implemented in opensips-py yet" in result.stderr
    assert "refusing to start" in result.stderr


# ------------------------------------------------------------------------------------------------ settings

def test_sockets_come_from_socket_listen_and_the_command_line():
    core = build('socket = udp:127.0.0.1:5060 as 203.0.113.1:5080\nlisten = tcp:127.0.0.1:5070\n'
                 'socket = udp:127.0.0.1:6000-6002\nloadmodule "proto_udp.so"\nloadmodule "proto_tcp.so"\n'
                 'route {\n\texit;\n}\n', extra_sockets=["udp:127.0.0.2:7000"])
    assert [str(s) for s in core.sockets] == ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5070", "udp:127.0.0.1:6000",
                                              "udp:127.0.0.1:6001", "udp:127.0.0.1:6002", "udp:127.0.0.2:7000"]
    assert (core.sockets[0].via_host, core.sockets[0].via_port) == ("203.0.113.1", 5080)


def test_a_socket_given_twice_is_one_listener():
    """SIPssert passes the config's own socket again with -l: OpenSIPS keeps one and says nothing."""
    core = build('socket = udp:127.0.0.1:5060 as 203.0.113.1:5080\nloadmodule "proto_udp.so"\n'
                 'route {\n\texit;\n}\n', extra_sockets=["udp:127.0.0.1:5060"])
    assert [str(s) for s in core.sockets] == ["udp:127.0.0.1:5060"]
    assert core.sockets[0].via_host == "203.0.113.1"  # the first definition wins


def test_command_line_socket_syntax():
    assert sockets_from_text("127.0.0.1") == [ListenSocket("udp", "127.0.0.1", 5060)]
    assert sockets_from_text("tcp:[::1]:5070") == [ListenSocket("tcp", "::1", 5070)]
    with pytest.raises(SettingsError):
        sockets_from_text("udp:127.0.0.1:notaport")


def test_core_parameters_are_read():
    core = build(UDP + 'log_level = 1\nudp_workers = 4\ntcp_connection_lifetime = 30\ntcp_max_connections = 7\n'
                       'tcp_connect_timeout = 250\nmax_while_loops = 50\nalias = udp:sip.example.com:5060\n'
                       'route {\n\texit;\n}\n')
    settings = core.settings
    assert (settings.log_level, settings.udp_workers, settings.tcp_connection_lifetime,
            settings.tcp_max_connections, settings.tcp_connect_timeout, settings.max_while_loops) == \
        (1, 4, 30, 7, 250, 50)
    assert core.is_myself("sip.example.com", 5060) and core.is_myself("127.0.0.1", 5060)
    assert not core.is_myself("127.0.0.1", 5099)


def test_max_while_loops_bounds_a_while_loop():
    proxy = Proxy('max_while_loops = 5\nroute {\n\t$var(i) = 0;\n\twhile (1) { $var(i) = $var(i) + 1; }\n'
                  '\txlog("i=$var(i)\\n");\n}\n')
    proxy.send(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
               b"To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    assert "i=5" in proxy.script_logs()


def test_workers_are_accepted_and_the_one_process_model_is_said_once():
    lines: list[str] = []
    core = build(UDP + 'udp_workers = 8\nroute {\n\texit;\n}\n', logger=Logger(4, sink=lines.append),
                 log_level=4)
    core.start(0.0)
    core.start(1.0)
    assert sum("runs one process" in line for line in lines) == 1


def test_log_lines_have_the_opensips_shape():
    lines: list[str] = []
    core = build(UDP + 'startup_route {\n\txlog("L_ERR", "hello\\n");\n}\nroute {\n\texit;\n}\n',
                 logger=Logger(4, sink=lines.append), log_level=4)
    core.start(0.0)
    assert any(re.fullmatch(r"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \[\d+\] INFO:core:listening on "
                            r"udp:127.0.0.1:5060", line) for line in lines)
    assert any(re.fullmatch(r"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \[\d+\] hello", line) for line in lines)


def test_a_warning_of_check_is_logged_at_start_up():
    lines: list[str] = []
    build(UDP + 'route {\n\texit;\n}\nroute[unused] {\n\texit;\n}\n', logger=Logger(4, sink=lines.append))
    assert any("WARNING:core:start.cfg:" in line and "unused" in line for line in lines)


def test_the_script_can_raise_its_own_log_level():
    proxy = Proxy('log_level = 2\nroute {\n\txdbg("hidden\\n");\n\t$log_level = 4;\n\txdbg("shown\\n");\n'
                  '\t$log_level = NULL;\n\txdbg("hidden again\\n");\n}\n', log_level=2)
    proxy.send(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
               b"To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    assert proxy.script_logs() == ["shown"]
