"""exec on the virtual network: a command started without waiting (its side effect appears), stdout and
stderr read into variables, stdin passed, envavp as OSIPS_EXEC_n (newest first), time_to_kill, setvars
refused."""
from __future__ import annotations

import time

import pytest

from opensips_py.runtime.core import StartupFailure
from tests.modules.auth_support import script_lines
from tests.runtime.support import Proxy, request


def run(script: str, params: str = "") -> Proxy:
    proxy = Proxy('loadmodule "exec.so"\n' + params + "route {\n" + script + "\n    drop;\n}\n")
    proxy.send(request())
    return proxy


def test_output_and_error_are_read_into_variables():
    proxy = run('''
    exec("printf 'out'; printf 'err' >&2; exit 3", , $var(out), $var(err));
    xlog("rc=$rc out=$var(out) err=$var(err)\\n");''')
    assert script_lines(proxy) == ["rc=1 out=out err=err"]  # the exit status is not looked at


def test_stdin_and_environment_from_an_avp():
    proxy = run('''
    $avp(env) = "b"; $avp(env) = "a";
    exec("cat; printf ' '; printenv OSIPS_EXEC_0 OSIPS_EXEC_1 | tr -s '[:space:]' ','", "in:$ci", $var(out), ,
         $avp(env));
    xlog("$var(out)\\n");''')
    assert script_lines(proxy) == ["in:a84b4c76e66710@pc33.atlanta.com a,b,"]


def test_a_command_without_output_runs_without_waiting(tmp_path):
    marker = tmp_path / "done"
    started = time.monotonic()
    run(f'exec("sleep 0.3; touch {marker}");')
    assert time.monotonic() - started < 0.3 and not marker.exists()
    for _ in range(50):  # bounded: 5 s
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()


def test_time_to_kill_stops_a_command_that_runs_too_long():
    started = time.monotonic()
    proxy = run('exec("sleep 5; echo late", , $var(out));\n    xlog("out=$var(out)\\n");',
                params='modparam("exec", "time_to_kill", 1)\n')
    assert time.monotonic() - started < 4 and script_lines(proxy) == ["out=<null>"]


def test_setvars_is_refused():
    with pytest.raises(StartupFailure, match="setvars"):
        run("", params='modparam("exec", "setvars", 1)\n')
