"""Interop 2: the same ng commands sent to the real rtpengine and to our relay give the same replies
once relay-chosen values (ports, ICE credentials, fingerprints, keys, o= version) are normalised.

Flows: the design guide's WebRTC-gateway legs (browser→SIP, SIP→browser, browser→browser, SIP→SIP),
hold/unhold re-offers from either side, and one flag at a time for the flags docs/media.md lists.
"""
from __future__ import annotations

import pytest

from tests.media.conftest import OUR_PORTS, REAL_PORTS, load_sdp
from tests.media.flows import Normaliser, Step, run_flow

BASE = "trust-address replace-origin replace-session-connection"
WEB_TO_SIP = f"{BASE} rtcp-mux-demux ICE=remove RTP/AVP"
SIP_TO_WEB = (f"{BASE} rtcp-mux-require no-rtcp-attribute generate-mid ICE=force transcode-PCMU "
              "transcode-G722 SDES-off UDP/TLS/RTP/SAVPF")
WEB_TO_WEB = f"{BASE} rtcp-mux-require no-rtcp-attribute generate-mid ICE=force SDES-off UDP/TLS/RTP/SAVPF"
SIP_TO_SIP = f"{BASE} RTP/AVP"


def _sendonly(sdp: str) -> str:
    return sdp.replace("a=sendrecv", "a=sendonly")


def _recvonly(sdp: str) -> str:
    return sdp.replace("a=sendrecv", "a=recvonly")


def _inactive(sdp: str) -> str:
    return sdp.replace("a=sendrecv", "a=inactive")


def _zero_hold(sdp: str) -> str:
    return sdp.replace("c=IN IP4 192.0.2.60", "c=IN IP4 0.0.0.0")


def _no_direction(sdp: str) -> str:
    return sdp.replace("a=sendrecv\r\n", "")


FLOWS: dict[str, list[Step]] = {
    "guide_web_to_sip": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "guide_sip_to_web": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_WEB),
        Step("answer", "chrome_answer", "a", "b", flags=f"{BASE} rtcp-mux-demux ICE=remove RTP/AVP"),
    ],
    "guide_sip_to_web_browser_picks_opus": [
        Step("offer", "phone_offer", "a", flags=f"{SIP_TO_WEB} transcode-opus"),
        Step("answer", "chrome_answer_opus", "a", "b", flags=f"{BASE} ICE=remove RTP/AVP"),
    ],
    "guide_web_to_web": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_WEB),
        Step("answer", "chrome_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "guide_sip_to_sip": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=SIP_TO_SIP),
    ],
    "hold_unhold_from_caller": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=SIP_TO_SIP),
        Step("offer", "phone_offer", "a", "b", flags=SIP_TO_SIP, edit=_sendonly),
        Step("answer", "phone_answer", "a", "b", flags=SIP_TO_SIP, edit=_recvonly),
        Step("offer", "phone_offer", "a", "b", flags=SIP_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=SIP_TO_SIP),
    ],
    "hold_unhold_from_callee_zero_address": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=SIP_TO_SIP),
        Step("offer", "phone_answer", "b", "a", flags=SIP_TO_SIP, edit=_zero_hold),
        Step("answer", "phone_offer", "b", "a", flags=SIP_TO_SIP, edit=_recvonly),
        Step("offer", "phone_answer", "b", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_offer", "b", "a", flags=SIP_TO_SIP),
    ],
    "hold_inactive_browser_leg": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
        Step("offer", "chrome_offer", "a", "b", flags=WEB_TO_SIP, edit=_inactive),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force", edit=_inactive),
        Step("offer", "chrome_offer", "a", "b", flags=WEB_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "reoffer_from_phone_towards_browser": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
        Step("offer", "phone_answer", "b", "a", flags=f"{BASE} ICE=force UDP/TLS/RTP/SAVPF", edit=_sendonly),
        Step("answer", "chrome_answer", "b", "a", flags=f"{BASE} ICE=remove RTP/AVP"),
    ],
    "audio_video_browser_to_phone_video_rejected": [
        Step("offer", "chrome_av_offer", "a", flags=WEB_TO_SIP),
        Step("answer", "phone_answer_av", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "audio_video_browser_to_browser": [
        Step("offer", "chrome_av_offer", "a", flags=WEB_TO_WEB),
    ],
    "dtls_passive_towards_browser": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force DTLS=passive"),
    ],
    "dtls_off_offers_sdes": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} ICE=force DTLS=off RTP/SAVP"),
    ],
    "srtp_offer_with_dtls_and_sdes": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} RTP/SAVPF"),
    ],
    "ice_default_keeps_browser_ice": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} ICE=default RTP/AVP"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE}"),
    ],
    "ice_default_on_plain_phone": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} ICE=default"),
    ],
    "rtcp_mux_offer_to_phone": [
        Step("offer", "phone_offer_static", "a", flags=f"{BASE} rtcp-mux-offer"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "rtcp_mux_accept_browser_to_phone": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} rtcp-mux-accept ICE=remove RTP/AVP"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "rtcp_mux_reject_browser_to_phone": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} rtcp-mux-reject ICE=remove RTP/AVP"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "rtcp_mux_passthrough_browser_to_phone": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} ICE=remove RTP/AVP"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "full_rtcp_attribute": [
        Step("offer", "phone_offer_static", "a", flags=f"{BASE} full-rtcp-attribute"),
    ],
    "no_rtcp_attribute": [
        Step("offer", "phone_offer_static", "a", flags=f"{BASE} no-rtcp-attribute"),
    ],
    "generate_mid_on_phone_offer": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} generate-mid"),
    ],
    "no_replace_keeps_origin": [
        Step("offer", "phone_offer", "a", flags="trust-address"),
        Step("answer", "phone_answer", "a", "b", flags="trust-address"),
    ],
    "media_address": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} media-address=203.0.113.5"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} media-address=203.0.113.6"),
    ],
    "direction_unknown_interfaces_fall_back_to_default": [
        Step("offer", "phone_offer", "a", flags=BASE, extra={"direction": ["priv", "pub"]}),
    ],
    "codec_strip_pcma": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} codec-strip-PCMA"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "codec_strip_all_transcode_pcmu_dtmf": [
        Step("offer", "chrome_offer", "a",
             flags=f"{WEB_TO_SIP} codec-strip-all codec-transcode-PCMU codec-transcode-telephone-event"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "codec_mask_opus_transcode_pcmu": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_SIP} codec-mask-opus codec-transcode-PCMU"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "codec_offer_reorders": [
        Step("offer", "phone_offer_static", "a", flags=f"{BASE} codec-strip-all codec-offer-PCMA codec-offer-G722"),
    ],
    "codec_dict_keys": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_SIP,
             extra={"codec": {"strip": ["opus", "red"], "transcode": ["G722"]}}),
        Step("answer", "phone_answer_126", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "answer_with_other_dtmf_number_and_ptime": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_answer_126", "a", "b", flags=SIP_TO_SIP),
    ],
    "transcode_opus_towards_phone_answer_pcmu": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} transcode-opus"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "original_sendrecv": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} original-sendrecv", edit=_sendonly),
    ],
    "no_direction_attribute_defaults_to_sendrecv": [
        Step("offer", "phone_offer", "a", flags=BASE, edit=_no_direction),
    ],
    "strip_extmap": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_WEB} strip-extmap"),
    ],
    "replace_sdp_version": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} replace-SDP-version"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
        Step("offer", "phone_offer", "a", "b", flags=f"{BASE} replace-SDP-version"),
        Step("offer", "phone_offer", "a", "b", flags=f"{BASE} replace-SDP-version", edit=_sendonly),
    ],
    "ice_optional": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} ICE=optional RTP/AVP"),
    ],
    "ice_force_relay": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} ICE=force-relay"),
    ],
    "trickle_ice_flag": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} ICE=force trickle-ICE"),
    ],
    "ice_lite_forward": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} ICE=force", extra={"ICE-lite": "forward"}),
    ],
    "reject_ice": [
        Step("offer", "chrome_offer", "a", flags=f"{BASE} reject-ICE RTP/AVP"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "ice_restart_from_browser": [
        Step("offer", "chrome_offer", "a", flags=WEB_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
        Step("offer", "chrome_offer", "a", "b", flags=WEB_TO_SIP,
             edit=lambda sdp: sdp.replace("a=ice-ufrag:Bx6v", "a=ice-ufrag:Zz9q")),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "dtls_fingerprint_sha1": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} ICE=force UDP/TLS/RTP/SAVPF SDES-off DTLS-fingerprint=sha-1"),
    ],
    "sdes_no_suites": [
        Step("offer", "phone_offer", "a",
             flags=f"{BASE} DTLS=off RTP/SAVP SDES-no-NULL_HMAC_SHA1_80 SDES-no-NULL_HMAC_SHA1_32 "
                   "SDES-no-F8_128_HMAC_SHA1_80 SDES-no-F8_128_HMAC_SHA1_32"),
    ],
    "asymmetric_and_strict_source": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} asymmetric strict-source"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} media-handover"),
    ],
    "loop_protect": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} loop-protect"),
    ],
    "single_codec_answer": [
        Step("offer", "phone_offer_static", "a", flags=BASE),
        Step("answer", "phone_offer_static", "a", "b", flags=f"{BASE} single-codec"),
    ],
    "reuse_codecs_reoffer": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} reuse-codecs"),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
        Step("offer", "phone_offer_static", "a", "b", flags=f"{BASE} reuse-codecs"),
    ],
    "codec_accept_and_always_transcode": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_SIP} codec-accept-opus always-transcode"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "ptime_forced": [
        Step("offer", "phone_offer", "a", flags=BASE, extra={"ptime": 30}),
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "address_family_ip6_without_ip6_interface": [
        Step("offer", "phone_offer", "a", flags=f"{BASE} address-family=IP6"),
    ],
    "sip_source_address_uses_received_from": [
        Step("offer", "phone_offer", "a", flags="SIP-source-address replace-origin"),
    ],
    "codec_strip_all_offer_pcmu": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_SIP} codec-strip-all codec-offer-PCMU"),
        Step("answer", "phone_answer", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "codec_strip_all_except_g722": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_SIP} codec-strip-all codec-except-G722"),
    ],
    "answer_without_common_codec": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_answer_av", "a", "b", flags=SIP_TO_SIP,
             edit=lambda sdp: sdp.replace("m=audio 7002 RTP/AVP 0 8", "m=audio 7002 RTP/AVP 18")),
    ],
    "mask_opus_answer_pcma": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_SIP} codec-mask-opus codec-transcode-PCMU"),
        Step("answer", "phone_answer_126", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "transcode_towards_browser_with_video": [
        Step("offer", "chrome_av_offer", "a", flags=f"{WEB_TO_SIP} codec-transcode-G722"),
        Step("answer", "phone_answer_av", "a", "b", flags=f"{BASE} ICE=force"),
    ],
    "strip_by_payload_number_and_full_spec": [
        Step("offer", "chrome_offer", "a", flags=f"{WEB_TO_SIP} codec-strip-63 codec-strip-opus/48000/2"),
    ],
    "transcode_every_supported_codec": [
        Step("offer", "phone_offer", "a", flags="trust-address transcode-G729 transcode-speex transcode-GSM "
                                                "transcode-G729a transcode-G723 transcode-AMR transcode-iLBC"),
        Step("answer", "phone_answer_126", "a", "b", flags="trust-address"),
    ],
    "reoffer_changes_codecs": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("answer", "phone_answer", "a", "b", flags=SIP_TO_SIP),
        Step("offer", "phone_offer_static", "a", "b", flags=SIP_TO_SIP),
        Step("answer", "phone_answer_126", "a", "b", flags=SIP_TO_SIP),
    ],
    "forked_offer_two_branches": [
        Step("offer", "phone_offer", "a", flags=BASE, via_branch="z9hG4bK-1"),
        Step("offer", "phone_offer", "a", flags=BASE, via_branch="z9hG4bK-2"),
        Step("answer", "phone_answer", "a", "b2", flags=BASE, via_branch="z9hG4bK-2"),
    ],
    "errors_answer_unknown_call": [
        Step("answer", "phone_answer", "a", "b", flags=BASE),
    ],
    "errors_bad_sdp": [
        Step("offer", "phone_offer", "a", flags=BASE, edit=lambda sdp: "x=garbage\r\n" + sdp),
    ],
    "errors_missing_from_tag": [
        Step("offer", "phone_offer", "", flags=BASE, extra={"from-tag": b""}),
    ],
    "delete_whole_call_then_unknown": [
        Step("offer", "phone_offer", "a", flags=SIP_TO_SIP),
        Step("delete", None, "a", extra={"from-tag": b""}),
        Step("delete", None, "a"),
    ],
}


@pytest.mark.live
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_relay_answers_like_real_rtpengine(flow: str, relay, real, relay_process, real_rtpengine) -> None:
    steps = FLOWS[flow]
    ours = run_flow(relay, steps, load_sdp)
    theirs = run_flow(real, steps, load_sdp)
    our_view = Normaliser(*OUR_PORTS)
    their_view = Normaliser(*REAL_PORTS)
    for index, (mine, reference) in enumerate(zip(ours, theirs)):
        assert our_view.reply(mine) == their_view.reply(reference), f"step {index} ({steps[index].command})"


def test_normaliser_keeps_port_structure() -> None:
    view = Normaliser(20000, 20599)
    lines = view.sdp("m=audio 20010 RTP/AVP 0\r\na=rtcp:20011\r\nm=audio 20020 RTP/AVP 0\r\na=rtcp:20020\r\n")
    assert lines[:4] == ["m=audio PORT0 RTP/AVP 0", "a=rtcp:RTP+1", "m=audio PORT1 RTP/AVP 0", "a=rtcp:RTP"]


QUERIED = ["guide_web_to_sip", "guide_sip_to_web", "guide_web_to_web", "hold_unhold_from_caller",
           "forked_offer_two_branches", "audio_video_browser_to_phone_video_rejected"]


def _query_view(reply: dict, view: Normaliser) -> dict:
    """A query reply with times dropped and relay ports tokenised (same tokens as the SDPs)."""
    def clean(value, key="", rtp_port=None):
        if isinstance(value, dict):
            return {k: clean(v, k, rtp_port) for k, v in value.items()
                    if k not in ("created", "created_us", "last signal", "last packet", "last redis update")}
        if isinstance(value, list):
            if key == "streams" and value and isinstance(value[0], dict):
                rtp_port = value[0].get("local port")
                return [clean(value[0], "", None)] + [clean(v, "", rtp_port) for v in value[1:]]
            return [clean(v) for v in value]
        if key == "local port" and isinstance(value, int):
            return view._port(value, rtp_port)
        return value
    return clean(reply)


@pytest.mark.live
@pytest.mark.parametrize("flow", QUERIED)
def test_query_replies_match_real_rtpengine(flow: str, relay, real) -> None:
    steps = FLOWS[flow] + [Step("query", None, "")]
    ours = run_flow(relay, steps, load_sdp)
    theirs = run_flow(real, steps, load_sdp)
    our_view, their_view = Normaliser(*OUR_PORTS), Normaliser(*REAL_PORTS)
    for mine, reference in zip(ours[:-1], theirs[:-1]):
        our_view.reply(mine)
        their_view.reply(reference)
    assert _query_view(ours[-1], our_view) == _query_view(theirs[-1], their_view)


@pytest.mark.live
def test_delete_with_tags_returns_the_same_statistics_as_real_rtpengine(relay, real) -> None:
    steps = FLOWS["guide_sip_to_sip"] + [Step("delete", None, "a", "b")]
    ours = run_flow(relay, steps, load_sdp)
    theirs = run_flow(real, steps, load_sdp)
    our_view, their_view = Normaliser(*OUR_PORTS), Normaliser(*REAL_PORTS)
    for mine, reference in zip(ours[:-1], theirs[:-1]):
        our_view.reply(mine)
        their_view.reply(reference)
    assert _query_view(ours[-1], our_view) == _query_view(theirs[-1], their_view)
