"""Interop: our rtpengine module driving the real rtpengine (Debian's rtpengine-daemon, userspace) and our
relay, with the flag sets of examples/opensips.cfg and of the design guide's config. Each call is offer,
answer and delete through a script on the virtual network; the rewritten SDP must be what the flags ask
for, and both relays must agree on it."""
from __future__ import annotations

import pytest

from opensips_py.sip import parse_message
from tests.modules.rtpengine_support import (  # noqa: F401 - fixtures
    OUR_MEDIA, OUR_NG, REAL_MEDIA, REAL_NG, our_relay, phone_sdp, real_rtpengine, rtpengine_proxy, sdp_lines,
    sip_reply, sip_request, webrtc_sdp,
)

# examples/opensips.cfg, route[MEDIA_OFFER] and onreply_route[MANAGE_REPLY]
TO_BROWSER = ("trust-address replace-origin replace-session-connection ICE=force DTLS=passive SDES-off "
              "UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid")
TO_PHONE = ("trust-address replace-origin replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux "
            "transcode-PCMU transcode-G722")
ANSWER_TO_BROWSER = ("trust-address replace-origin replace-session-connection ICE=force DTLS=passive SDES-off "
                     "UDP/TLS/RTP/SAVPF rtcp-mux-require generate-mid")
ANSWER_TO_PHONE = "trust-address replace-origin replace-session-connection ICE=remove RTP/AVP rtcp-mux-demux"

# the guide's branch_route[MANAGE_BRANCH] (rtpengine_manage), its four cases
GUIDE_WEB_TO_WEB = ("trust-address replace-origin replace-session-connection rtcp-mux-require "
                    "no-rtcp-attribute generate-mid ICE=force SDES-off UDP/TLS/RTP/SAVPF")
GUIDE_SIP_TO_WEB = ("trust-address replace-origin replace-session-connection rtcp-mux-require "
                    "no-rtcp-attribute generate-mid ICE=force transcode-PCMU transcode-G722 SDES-off "
                    "UDP/TLS/RTP/SAVPF")
GUIDE_WEB_TO_SIP = "trust-address replace-origin replace-session-connection rtcp-mux-demux ICE=remove RTP/AVP"
GUIDE_SIP_TO_SIP = "trust-address replace-origin replace-session-connection RTP/AVP"

OFFER_ANSWER_SCRIPT = """route {
    if (is_method("INVITE")) {
        if (!rtpengine_offer("$hdr(X-Flags)")) xlog("offer failed\\n");
    } else if (is_method("BYE")) {
        if (rtpengine_delete()) xlog("deleted\\n");
    }
    forward("udp:192.0.2.20:5060");
}
onreply_route {
    if (has_body("application/sdp") && !rtpengine_answer("$hdr(X-Flags)")) xlog("answer failed\\n");
}
"""

MANAGE_SCRIPT = """route {
    if (!rtpengine_manage("$hdr(X-Flags)")) xlog("manage failed\\n");
    else if (is_method("BYE")) xlog("deleted\\n");
    forward("udp:192.0.2.20:5060");
}
onreply_route {
    if (!rtpengine_manage("$hdr(X-Flags)")) xlog("manage failed\\n");
}
"""


@pytest.fixture(params=["rtpengine", "ours"])
def relay(request):
    """(ng port, media range) of the real rtpengine or of our relay."""
    if request.param == "rtpengine":
        request.getfixturevalue("real_rtpengine")
        return REAL_NG, REAL_MEDIA
    request.getfixturevalue("our_relay")
    return OUR_NG, OUR_MEDIA


def call(script: str, relay, call_id: str, offer_sdp: str, offer_flags: str, answer_sdp: str,
         answer_flags: str) -> tuple[list[str], list[str], list[str]]:
    """INVITE, 200, BYE through the proxy; the SDP lines towards the callee and the caller, the logs."""
    port, _ = relay
    proxy = rtpengine_proxy(script, socks=f"udp:127.0.0.1:{port}")
    invite = proxy.send(sip_request("INVITE", call_id=call_id, body=offer_sdp, extra=f"X-Flags: {offer_flags}"))
    reply = proxy.send(sip_reply(200, call_id=call_id, body=answer_sdp, extra=f"X-Flags: {answer_flags}"))
    proxy.send(sip_request("BYE", call_id=call_id, to_tag="b7c3", cseq=2, extra="X-Flags: "))
    return (sdp_lines(parse_message(invite[-1].data).body.decode()),
            sdp_lines(parse_message(reply[-1].data).body.decode()), proxy.script_logs())


def media(lines: list[str]) -> tuple[int, str, list[str]]:
    """(port, protocol, payload types) of the first m= line."""
    parts = next(line for line in lines if line.startswith("m=")).split()
    return int(parts[1]), parts[2], parts[3:]


def codecs(lines: list[str]) -> list[str]:
    return [line.split(" ", 1)[1].split("/")[0] for line in lines if line.startswith("a=rtpmap:")]


def assert_relayed(lines: list[str], media_range: tuple[int, int]) -> int:
    """The relay's address in o= and c=, its port in m=."""
    port = media(lines)[0]
    assert media_range[0] <= port <= media_range[1]
    assert any(line.startswith("o=") and line.endswith(" IN IP4 127.0.0.1") for line in lines)
    assert "c=IN IP4 127.0.0.1" in lines
    return port


def assert_webrtc(lines: list[str], setup: str, rtcp_attribute: bool = True) -> None:
    assert media(lines)[1] == "UDP/TLS/RTP/SAVPF"
    assert f"a=setup:{setup}" in lines and "a=rtcp-mux" in lines
    assert any(line.startswith("a=fingerprint:sha-256 ") for line in lines)
    assert any(line.startswith("a=ice-ufrag:") for line in lines)
    assert any(line.startswith("a=candidate:") and " 127.0.0.1 " in line for line in lines)
    assert any(line.startswith("a=mid:") for line in lines)
    assert not any(line.startswith("a=crypto:") for line in lines)
    assert any(line.startswith("a=rtcp:") for line in lines) == rtcp_attribute


def assert_plain(lines: list[str], port: int) -> None:
    assert media(lines)[1] == "RTP/AVP"
    assert not any(line.startswith(("a=ice-", "a=candidate", "a=fingerprint", "a=setup", "a=crypto"))
                   for line in lines)
    assert "a=rtcp-mux" not in lines
    assert f"a=rtcp:{port + 1}" in lines


# ------------------------------------------------------------------------------------------------ examples/opensips.cfg

def test_phone_to_browser_with_the_example_flags(relay):
    towards_browser, towards_phone, logs = call(OFFER_ANSWER_SCRIPT, relay, "int-1", phone_sdp(23990),
                                                TO_BROWSER, webrtc_sdp(23991), ANSWER_TO_PHONE)
    assert_relayed(towards_browser, relay[1])
    assert_webrtc(towards_browser, "actpass")
    assert codecs(towards_browser)[:2] == ["PCMU", "PCMA"]
    port = assert_relayed(towards_phone, relay[1])
    assert_plain(towards_phone, port)
    assert logs == ["deleted"]


def test_browser_to_phone_with_the_example_flags_offers_the_transcoded_codecs(relay):
    towards_phone, towards_browser, logs = call(OFFER_ANSWER_SCRIPT, relay, "int-2", webrtc_sdp(23992),
                                                TO_PHONE, phone_sdp(23993), ANSWER_TO_BROWSER)
    port = assert_relayed(towards_phone, relay[1])
    assert_plain(towards_phone, port)
    assert {"opus", "PCMU", "PCMA", "G722"} <= set(codecs(towards_phone))
    assert_relayed(towards_browser, relay[1])
    assert_webrtc(towards_browser, "passive")  # DTLS=passive in the answer
    assert logs == ["deleted"]


# ------------------------------------------------------------------------------------------------ the guide's config

def test_guide_web_to_web_through_rtpengine_manage(relay):
    to_callee, to_caller, logs = call(MANAGE_SCRIPT, relay, "int-3", webrtc_sdp(23994), GUIDE_WEB_TO_WEB,
                                      webrtc_sdp(23995), GUIDE_WEB_TO_WEB)
    assert_relayed(to_callee, relay[1])
    assert_webrtc(to_callee, "actpass", rtcp_attribute=False)  # no-rtcp-attribute
    assert_relayed(to_caller, relay[1])
    assert_webrtc(to_caller, "active", rtcp_attribute=False)  # no DTLS=passive: rtpengine answers active
    assert logs == ["deleted"]


def test_guide_sip_to_web_through_rtpengine_manage(relay):
    to_callee, to_caller, logs = call(MANAGE_SCRIPT, relay, "int-4", phone_sdp(23996), GUIDE_SIP_TO_WEB,
                                      webrtc_sdp(23997), GUIDE_WEB_TO_WEB)
    assert_relayed(to_callee, relay[1])
    assert_webrtc(to_callee, "actpass", rtcp_attribute=False)
    assert {"PCMU", "G722"} <= set(codecs(to_callee))
    assert_relayed(to_caller, relay[1])
    assert media(to_caller)[1] == "UDP/TLS/RTP/SAVPF"  # the answer keeps what the flags ask for that leg
    assert logs == ["deleted"]


def test_guide_web_to_sip_through_rtpengine_manage(relay):
    to_callee, to_caller, logs = call(MANAGE_SCRIPT, relay, "int-5", webrtc_sdp(23998), GUIDE_WEB_TO_SIP,
                                      phone_sdp(23999), GUIDE_SIP_TO_SIP)
    port = assert_relayed(to_callee, relay[1])
    assert_plain(to_callee, port)
    assert_relayed(to_caller, relay[1])
    assert media(to_caller)[1] == "RTP/AVP"
    assert logs == ["deleted"]


def test_guide_sip_to_sip_through_rtpengine_manage(relay):
    to_callee, to_caller, logs = call(MANAGE_SCRIPT, relay, "int-6", phone_sdp(23990), GUIDE_SIP_TO_SIP,
                                      phone_sdp(23991), GUIDE_SIP_TO_SIP)
    for lines in (to_callee, to_caller):
        port = assert_relayed(lines, relay[1])
        assert_plain(lines, port)
        assert codecs(lines) == ["PCMU", "PCMA", "telephone-event"]
    assert logs == ["deleted"]


# ------------------------------------------------------------------------------------------------ both relays agree

def _normalised(lines: list[str]) -> list[str]:
    """Ports, ICE credentials, candidates and fingerprints differ between relays: keep only their place."""
    out = []
    for line in lines:
        if line.startswith(("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=candidate:", "a=rtcp:")):
            line = line.split(":", 1)[0] + ":*"
        elif line.startswith("m="):
            kind, _port, rest = line.split(" ", 2)
            line = f"{kind} * {rest}"
        out.append(line)
    return out


@pytest.mark.parametrize("offer_flags,answer_flags,offer_sdp,answer_sdp", [
    (TO_BROWSER, ANSWER_TO_PHONE, "phone", "webrtc"), (TO_PHONE, ANSWER_TO_BROWSER, "webrtc", "phone"),
    (GUIDE_WEB_TO_WEB, GUIDE_WEB_TO_WEB, "webrtc", "webrtc"), (GUIDE_SIP_TO_SIP, GUIDE_SIP_TO_SIP, "phone", "phone"),
])
def test_the_module_gets_the_same_sdp_from_rtpengine_and_from_our_relay(real_rtpengine, our_relay, offer_flags,
                                                                      answer_flags, offer_sdp, answer_sdp):
    sdps = {"phone": phone_sdp(23990), "webrtc": webrtc_sdp(23991)}
    results = []
    for relay in ((REAL_NG, REAL_MEDIA), (OUR_NG, OUR_MEDIA)):
        to_callee, to_caller, _ = call(OFFER_ANSWER_SCRIPT, relay, "int-same", sdps[offer_sdp], offer_flags,
                                       sdps[answer_sdp].replace("23991", "23992"), answer_flags)
        results.append((_normalised(to_callee), _normalised(to_caller)))
    assert results[0] == results[1]
