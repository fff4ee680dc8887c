"""maxfwd: the exact return codes of mf_process_maxfwd_header() and is_maxfwd_lt() (opensips-modules.md §5,
modules/maxfwd/maxfwd.c) and what the forwarded request carries."""
from __future__ import annotations

import pytest

from opensips_py.runtime import StartupFailure
from tests.runtime.support import Proxy, only, parsed, request

PROCESS = ('route {\n\tmf_process_maxfwd_header(10);\n\t$var(rc) = $rc;\n\txlog("rc=$var(rc)\\n");\n'
           '\tif ($var(rc) == -1) {\n'
           '\t\tsl_send_reply(483, "Too Many Hops");\n\t\texit;\n\t}\n\tforward("udp:192.0.2.20:5060");\n}\n')


def run(config: str, **kwargs):
    proxy = Proxy(config)
    sends = proxy.send(request(**kwargs))
    return proxy, sends


def test_a_present_header_is_decremented_and_returns_1():
    proxy, sends = run(PROCESS, max_forwards=70)
    assert proxy.script_logs() == ["rc=1"] and parsed(only(sends)).max_forwards == 69


def test_an_absent_header_is_added_first_with_the_given_value_and_returns_2():
    proxy, sends = run(PROCESS, max_forwards=None)
    msg = parsed(only(sends))
    assert proxy.script_logs() == ["rc=2"] and msg.max_forwards == 10
    # both lumps sit before the first received header; the script's comes first, as in OpenSIPS's lump list
    assert [field.name for field in msg.headers][:3] == ["Max-Forwards", "Via", "Via"]


def test_zero_returns_minus_1_and_the_script_answers_483():
    proxy, sends = run(PROCESS, max_forwards=0)
    reply = parsed(only(sends))
    assert proxy.script_logs() == ["rc=-1"] and reply.status == 483


def test_a_value_above_max_limit_is_clamped_before_the_decrement():
    proxy, sends = run('modparam("maxfwd", "max_limit", 16)\n' + PROCESS, max_forwards=70)
    assert proxy.script_logs() == ["rc=1"] and parsed(only(sends)).max_forwards == 16


def test_a_value_str2s_cannot_read_is_an_error_minus_2():
    proxy, sends = run(PROCESS, max_forwards=70000)
    assert proxy.script_logs() == ["rc=-2"] and len(sends) == 1


def test_a_second_call_decrements_the_already_decremented_value():
    proxy, sends = run('route {\n\tmf_process_maxfwd_header(10);\n\tmf_process_maxfwd_header(10);\n'
                       '\tforward("udp:192.0.2.20:5060");\n}\n', max_forwards=5)
    assert parsed(only(sends)).max_forwards == 3


def test_the_usual_idiom_refuses_both_zero_and_errors():
    config = ('route {\n\tif (!mf_process_maxfwd_header(10)) {\n\t\tsl_send_reply(483, "Too Many Hops");\n'
              '\t\texit;\n\t}\n\tforward("udp:192.0.2.20:5060");\n}\n')
    assert parsed(only(run(config, max_forwards=0)[1])).status == 483
    assert parsed(only(run(config, max_forwards=1)[1])).max_forwards == 0


@pytest.mark.parametrize("value, limit, expected", [(3, 5, 1), (5, 5, -1), (9, 5, -1), (None, 5, -2), (70000, 5, -3)])
def test_is_maxfwd_lt_codes(value, limit, expected):
    proxy, _ = run(f'route {{\n\tis_maxfwd_lt({limit});\n\txlog("$rc\\n");\n}}\n', max_forwards=value)
    assert proxy.script_logs() == [str(expected)]


def test_is_maxfwd_lt_sees_the_decremented_value():
    proxy, _ = run('route {\n\tmf_process_maxfwd_header(10);\n\tis_maxfwd_lt(5);\n\txlog("$rc\\n");\n}\n',
                   max_forwards=5)
    assert proxy.script_logs() == ["1"]


def test_a_max_limit_out_of_range_refuses_to_start():
    with pytest.raises(StartupFailure, match="max_limit"):
        Proxy('modparam("maxfwd", "max_limit", 300)\nroute {\n\texit;\n}\n')
