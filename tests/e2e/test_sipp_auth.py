"""Digest registration through the proxy as users run it (`opensips-py -f cfg`), with real SIPp on loopback:
REGISTER → 401 (www_challenge) → REGISTER with credentials (SIPp's [authentication], qop=auth) → 200 after
www_authorize() against a SQLite subscriber table and save("location"). Ports 43000–43999 (the auth tests' range)."""
from __future__ import annotations

import socket

import pytest

from opensips_py.sip.digest import calc_ha1
from tests.e2e.support import LOOPBACK, call_counts, environment_note, proxy_process, sipp_client
from tests.modules.auth_support import subscriber_db

pytestmark = pytest.mark.live

CONFIG = """log_level = 2
socket = udp:127.0.0.1:{proxy}
socket = tcp:127.0.0.1:{proxy}
loadmodule "proto_udp.so"
loadmodule "proto_tcp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "sipmsgops.so"
loadmodule "db_sqlite.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("auth_db", "db_url", "sqlite://{db}")
modparam("auth_db", "use_domain", 1)

route {{
    if (!is_method("REGISTER")) {{
        send_reply(503, "Service Unavailable");
        exit;
    }}
    $var(rc) = www_authorize("", "subscriber");
    if ($var(rc) < 0) {{
        www_challenge("", "auth");
        exit;
    }}
    if ($au != $tU) {{
        send_reply(403, "Forbidden auth ID");
        exit;
    }}
    if (!save("location"))
        sl_reply_error();
}}
"""

REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="digest registration">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      To: <sip:[service]@[remote_ip]>
      From: <sip:[service]@[remote_ip]>;tag=[call_number]
      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
      Expires: 60
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true" />
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      To: <sip:[service]@[remote_ip]>
      From: <sip:[service]@[remote_ip]>;tag=[call_number]
      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
      Expires: 60
      [authentication]
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="{final}" />
</scenario>
"""


def _free_in_range(start: int, count: int) -> list[int]:
    """`count` ports of the auth range (43000–43999) free for UDP and TCP on loopback."""
    found: list[int] = []
    for port in range(start, 44000):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                udp.bind((LOOPBACK, port))
                tcp.bind((LOOPBACK, port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError("no free ports left in 43000-43999")


@pytest.fixture
def setup(tmp_path):
    proxy, uac = _free_in_range(43060, 2)
    db = subscriber_db(tmp_path / "auth.db", {
        "username": "alice", "domain": LOOPBACK, "password": "secret",
        "ha1": calc_ha1("alice", LOOPBACK, "secret")})
    return {"proxy": proxy, "uac": uac, "db": db}


def _register(tmp_path, setup, transport: str, calls: int, rate: int, password: str = "secret",
              final: int = 200):
    scenario = tmp_path / f"register-{final}.xml"
    scenario.write_text(REGISTER.format(final=final))
    config = CONFIG.format(**setup)
    with proxy_process(config, tmp_path, setup["proxy"]):
        result = sipp_client(setup["proxy"], setup["uac"], tmp_path, "-sf", str(scenario), "-s", "alice",
                             "-au", "alice", "-ap", password, "-t", transport, "-m", str(calls), "-r", str(rate),
                             timeout=calls / rate * 4 + 30)
    successful, failed = call_counts(result.stdout)
    log = (tmp_path / "proxy.log").read_text()
    assert result.returncode == 0 and failed == 0 and successful == calls, \
        f"{successful=} {failed=} rc={result.returncode} ({environment_note()})\n{result.stdout[-1500:]}\n{log[-3000:]}"
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


def test_500_digest_registrations_over_udp_401_then_200(tmp_path, setup):
    _register(tmp_path, setup, "u1", calls=500, rate=100)


def test_100_digest_registrations_over_tcp_401_then_200(tmp_path, setup):
    _register(tmp_path, setup, "t1", calls=100, rate=50)


def test_wrong_password_is_challenged_again(tmp_path, setup):
    _register(tmp_path, setup, "u1", calls=5, rate=10, password="guess", final=401)
