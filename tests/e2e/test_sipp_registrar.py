"""Registrations from real SIPp on loopback (the registrar helper's ports, 41000-41999).

- 20 users register with a 2 s lifetime: usrloc lists them over MI, then its timer removes them.
- Restart: usrloc write-through on SQLite; a UAS registers, the proxy is killed with SIGKILL and started
  again on the same file: the registration is back and a call to the user reaches the UAS.
"""
from __future__ import annotations

import json
import signal
import time
import urllib.request

import pytest

from tests.e2e.support import LOOPBACK, call_counts, proxy_process, sipp_client, sipp_uas

pytestmark = pytest.mark.live

PROXY, UAC, UAS, UAS_REG, MI = 41010, 41011, 41012, 41014, 41013

CONFIG = """log_level = 2
socket = udp:127.0.0.1:{proxy}
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "sipmsgops.so"
loadmodule "db_sqlite.so"
loadmodule "usrloc.so"
modparam("usrloc", "timer_interval", 1)
{usrloc}
loadmodule "registrar.so"
modparam("registrar", "min_expires", 1)
loadmodule "httpd.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", {mi})
loadmodule "mi_http.so"

route {{
    if (has_totag()) {{ forward(); exit; }}
    if (is_method("REGISTER")) {{ save("location"); exit; }}
    if (!lookup("location")) {{ sl_send_reply(404, "Not Found"); exit; }}
    forward();
}}
"""

REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:user[call_number]@example.com>;tag=[call_number]
      To: <sip:user[call_number]@example.com>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:user[call_number]@[local_ip]:{contact_port}>
      Expires: {expires}
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""


def mi(command: str, params=None):
    body = json.dumps({"jsonrpc": "2.0", "method": command, "params": params or {}, "id": 1}).encode()
    request = urllib.request.Request(f"http://{LOOPBACK}:{MI}/mi", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())["result"]


def aors() -> list[str]:
    return sorted(a["AOR"] for a in mi("ul_dump")["Domains"][0]["AORs"])


def register(tmp_path, users: int, expires: int, contact_port: int, local_port: int) -> None:
    scenario = tmp_path / "register.xml"
    scenario.write_text(REGISTER.format(expires=expires, contact_port=contact_port))
    result = sipp_client(PROXY, local_port, tmp_path, "-sf", str(scenario), "-m", str(users), "-r", "50",
                         timeout=30)
    successful, failed = call_counts(result.stdout)
    assert (result.returncode, successful, failed) == (0, users, 0), result.stdout[-1500:]


def test_users_register_and_expired_contacts_go(tmp_path):
    config = CONFIG.format(proxy=PROXY, mi=MI, usrloc="")
    with proxy_process(config, tmp_path, PROXY):
        register(tmp_path, 20, expires=2, contact_port=UAC, local_port=UAC)
        assert aors() == sorted(f"user{n}" for n in range(1, 21))
        stats = mi("get_statistics", {"statistics": ["registrar:accepted_regs", "usrloc:registered_users"]})
        assert stats == {"registrar:accepted_regs": 20, "usrloc:registered_users": 20}
        deadline = time.monotonic() + 10
        while aors() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert aors() == []
        assert mi("get_statistics", {"statistics": ["usrloc:location-expires"]}) == {"usrloc:location-expires": 20}


def test_write_through_registrations_survive_kill_9(tmp_path):
    usrloc = (f'modparam("usrloc", "db_url", "sqlite://{tmp_path}/db/opensips.db")\n'
              'modparam("usrloc", "working_mode_preset", "single-instance-sql-write-through")')
    config = CONFIG.format(proxy=PROXY, mi=MI, usrloc=usrloc)
    with proxy_process(config, tmp_path, PROXY) as first:
        register(tmp_path, 1, expires=600, contact_port=UAS, local_port=UAS_REG)
        assert aors() == ["user1"]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    with proxy_process(config, tmp_path, PROXY), sipp_uas(UAS, tmp_path):
        contacts = mi("ul_show_contact", {"table_name": "location", "aor": "user1"})["Contacts"]
        assert [c["Contact"] for c in contacts] == [f"sip:user1@127.0.0.1:{UAS}"]
        assert 590 <= contacts[0]["Expires"] <= 600
        result = sipp_client(PROXY, UAC, tmp_path, "-sn", "uac", "-s", "user1", "-m", "1", timeout=20)
    successful, failed = call_counts(result.stdout)
    assert (result.returncode, successful, failed) == (0, 1, 0), result.stdout[-1500:]
