"""A whole call in memory: a UAC, the proxy and a UAS attached to the virtual network (aioquic-style)."""
from __future__ import annotations

from opensips_py.sip import build_reply, parse_message
from tests.runtime.support import UAC, UAS, Proxy, parsed, request

CONFIG = ('route {\n\tif (!mf_process_maxfwd_header(10)) {\n\t\tsl_send_reply(483, "Too Many Hops");\n\t\texit;\n'
          '\t}\n\tforward("udp:192.0.2.20:5060");\n}\n')


def uas(data: bytes, src: tuple[str, int]) -> list[bytes]:
    """A UAS that answers INVITE with 100, 180 and 200, BYE with 200, and absorbs ACK."""
    msg = parse_message(data)
    if not msg.is_request or msg.method == "ACK":
        return []
    if msg.method == "INVITE":
        return [build_reply(msg, code, to_tag="uas-tag") for code in (100, 180, 200)]
    return [build_reply(msg, 200, to_tag="uas-tag")]


def test_invite_ack_bye_through_the_proxy_to_an_in_memory_uas():
    proxy = Proxy(CONFIG)
    proxy.net.attach(*UAS, uas)
    invite_flow = proxy.send(request("INVITE"))
    to_uac = [parsed(s) for s in invite_flow if (s.host, s.port) == UAC]
    assert [r.status for r in to_uac] == [100, 180, 200]
    assert all(len(r.via) == 1 and r.via1.branch == "z9hG4bK776asdhds" for r in to_uac)
    tag = to_uac[-1].to.tag
    ack_flow = proxy.send(request("ACK", branch="z9hG4bKack", to_tag=tag))
    assert [(s.host, parsed(s).method) for s in ack_flow] == [("192.0.2.20", "ACK")]
    bye_flow = proxy.send(request("BYE", branch="z9hG4bKbye", to_tag=tag, cseq=314160))
    assert [parsed(s).status for s in bye_flow if (s.host, s.port) == UAC] == [200]
    assert proxy.stats["fwd_requests"] == 3 and proxy.stats["fwd_replies"] == 4
    assert proxy.stats["err_requests"] == proxy.stats["err_replies"] == 0


def test_the_virtual_clock_is_deterministic():
    first, second = Proxy(CONFIG), Proxy(CONFIG)
    assert first.net.clock.now == second.net.clock.now
    assert [s.data for s in first.send(request())] == [s.data for s in second.send(request())]
