"""SDP model: byte-exact round trips (corpus, WebRTC offers) and the typed helpers a media relay uses."""
from __future__ import annotations

from tests import shared
import re
from pathlib import Path

import pytest

from opensips_py.sip import SIPParseError
from opensips_py.sip.sdp import (
    Candidate, Codec, Connection, Crypto, Fingerprint, Origin, Rtcp, SessionDescription,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "sip"
CORPUS = shared.OFFICIAL / "sipssert-opensips-tests"
CHROME = (DATA / "chrome-offer.sdp").read_bytes()
FIREFOX = (DATA / "firefox-offer.sdp").read_bytes()

AUDIO_OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.1\r\n"
    b"t=0 0\r\n"
    b"a=x-unknown-session:keep me\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=x-vendor-thing\r\n"
    b"a=sendrecv\r\n"
)


def sipp_sdp_bodies(xml: str) -> list[bytes]:
    """The SDP bodies of a SIPp scenario's <send> messages, as SIPp sends them (lines trimmed, CRLF)."""
    bodies = []
    for block in re.findall(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", xml, re.S):
        lines = [line.strip() for line in block.strip().split("\n")]
        if "" not in lines:
            continue
        body = lines[lines.index("") + 1:]
        while body and body[-1] == "":
            body.pop()
        if body and body[0].startswith("v=0"):
            bodies.append(("\r\n".join(body) + "\r\n").encode("latin-1"))
    return bodies


SIPP_SCENARIOS = sorted(p for p in CORPUS.rglob("*.xml") if "v=0" in p.read_text("latin-1"))


@pytest.mark.parametrize("scenario", SIPP_SCENARIOS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_sipssert_scenario_sdp_round_trips_byte_exact(scenario: Path) -> None:
    bodies = sipp_sdp_bodies(scenario.read_text("latin-1"))
    assert bodies, "scenario mentions v=0 but no SDP body was found"
    for body in bodies:
        sdp = SessionDescription.parse(body)
        assert sdp.serialize() == body
        assert sdp.version == "0"
        assert len(sdp.media) == body.count(b"\r\nm=")


def test_sipssert_corpus_has_many_sdps() -> None:
    assert len(SIPP_SCENARIOS) > 100


@pytest.mark.parametrize("offer", [CHROME, FIREFOX], ids=["chrome", "firefox"])
def test_webrtc_offer_round_trips_byte_exact(offer: bytes) -> None:
    assert SessionDescription.parse(offer).serialize() == offer


def test_chrome_offer_typed_views() -> None:
    sdp = SessionDescription.parse(CHROME)
    assert sdp.origin == Origin("-", "4611731400430051336", "2", "IN", "IP4", "127.0.0.1")
    assert sdp.bundle_mids == ["0", "1"]
    audio, video = sdp.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 54400, "UDP/TLS/RTP/SAVPF")
    assert audio.formats == ["111", "63", "9", "0", "8", "13", "110", "126"]
    opus = audio.codec(111)
    assert opus == Codec("111", "opus", 48000, 2, "minptime=10;useinbandfec=1", ["transport-cc"])
    assert audio.codec(0).encoding == "PCMU"
    assert audio.rtcp == Rtcp(9, "IN", "IP4", "0.0.0.0")
    assert audio.rtcp_mux and audio.mid == "0"
    assert audio.direction == "sendrecv"
    assert (audio.ice_ufrag, audio.ice_pwd) == ("Oyef", "7tVh2Vr8TzSCq0X5a1m3fBqN")
    assert audio.ice_options == ["trickle"]
    assert audio.setup == "actpass"
    assert audio.fingerprint.hash_function == "sha-256"
    host, tcp, srflx = audio.candidates()
    assert (host.address, host.port, host.type, host.component) == ("192.0.2.10", 54400, "host", 1)
    assert tcp.extension("tcptype") == "passive"
    assert (srflx.related_address, srflx.related_port) == ("192.0.2.10", 54400)
    assert video.codec(97).fmtp == "apt=96"
    assert "nack pli" in video.codec(96).rtcp_fb
    assert sdp.media_by_mid("1") is video


def test_firefox_offer_inherits_session_level_fingerprint_and_direction() -> None:
    sdp = SessionDescription.parse(FIREFOX)
    audio = sdp.media[0]
    assert audio.fingerprint is None
    assert audio.effective_fingerprints(sdp) == [sdp.fingerprint]
    assert sdp.direction == "sendrecv"
    assert audio.effective_connection(sdp) == Connection("IN", "IP4", "192.0.2.20")
    assert audio.end_of_candidates
    assert audio.codec(9) == Codec("9", "G722", 8000, 1)
    assert audio.rtcp.port == 49732
    assert sdp.origin.username == "mozilla...THIS_IS_SDPARTA-128.0"


def test_unknown_lines_and_order_are_kept_through_edits() -> None:
    sdp = SessionDescription.parse(AUDIO_OFFER)
    sdp.media[0].port = 30000
    out = sdp.serialize()
    assert out == AUDIO_OFFER.replace(b"m=audio 49170 ", b"m=audio 30000 ")


def test_rewrite_like_a_relay_changes_only_the_touched_lines() -> None:
    sdp = SessionDescription.parse(AUDIO_OFFER)
    sdp.connection = Connection("IN", "IP4", "203.0.113.9")
    sdp.bump_version()
    audio = sdp.media[0]
    audio.port = 40000
    audio.rtcp = Rtcp(40001)
    audio.direction = "sendonly"
    expected = (AUDIO_OFFER
                .replace(b"c=IN IP4 192.0.2.1", b"c=IN IP4 203.0.113.9")
                .replace(b"2890844526 2890844526", b"2890844526 2890844527")
                .replace(b"m=audio 49170", b"m=audio 40000")
                .replace(b"a=sendrecv\r\n", b"a=sendonly\r\na=rtcp:40001\r\n"))
    assert sdp.serialize() == expected


def test_remove_formats_drops_rtpmap_and_fmtp_of_the_codec() -> None:
    sdp = SessionDescription.parse(AUDIO_OFFER)
    sdp.media[0].remove_formats(["101"])
    out = sdp.serialize()
    assert b"m=audio 49170 RTP/AVP 0 8\r\n" in out
    assert b"telephone-event" not in out and b"fmtp:101" not in out
    assert b"a=x-vendor-thing\r\n" in out


def test_keep_formats_and_rtcp_fb_follow_the_payload_type() -> None:
    sdp = SessionDescription.parse(CHROME)
    video = sdp.media[1]
    video.keep_formats(["96", "97"])
    assert video.formats == ["96", "97"]
    text = sdp.serialize()
    assert b"rtcp-fb:102" not in text and b"rtpmap:45" not in text
    assert b"a=rtcp-fb:96 nack pli\r\n" in text


def test_add_codec_appends_payload_type_and_attributes() -> None:
    sdp = SessionDescription.parse(AUDIO_OFFER)
    audio = sdp.media[0]
    audio.add_codec(Codec("111", "opus", 48000, 2, "useinbandfec=1"))
    assert audio.formats[-1] == "111"
    assert audio.rtpmap(111) == "opus/48000/2"
    assert audio.fmtp("111") == "useinbandfec=1"
    assert SessionDescription.parse(sdp.serialize()).media[0].codec(111).channels == 2


def test_rewrite_webrtc_to_plain_rtp_like_rtpengine() -> None:
    sdp = SessionDescription.parse(CHROME)
    audio = sdp.media[0]
    audio.proto = "RTP/AVP"
    for name in ("candidate", "ice-ufrag", "ice-pwd", "ice-options", "fingerprint", "setup", "rtcp-mux"):
        audio.remove_attributes(name)
    audio.connection = Connection("IN", "IP4", "198.51.100.1")
    again = SessionDescription.parse(sdp.serialize()).media[0]
    assert again.proto == "RTP/AVP"
    assert again.candidates() == [] and again.fingerprint is None and not again.rtcp_mux
    assert again.connection.address == "198.51.100.1"
    assert again.codec(111).encoding == "opus"


def test_add_webrtc_attributes_to_plain_offer() -> None:
    sdp = SessionDescription.parse(AUDIO_OFFER)
    sdp.ice_lite = True
    audio = sdp.media[0]
    audio.proto = "UDP/TLS/RTP/SAVPF"
    audio.set_attribute("ice-ufrag", "abcd")
    audio.set_attribute("ice-pwd", "0123456789abcdef01234567")
    cand = Candidate("1", 1, "UDP", 2130706431, "203.0.113.9", 40000, "host")
    audio.add_attribute("candidate", str(cand))
    audio.set_attribute("fingerprint", str(Fingerprint("sha-256", "AA:BB")))
    audio.set_attribute("setup", "passive")
    audio.rtcp_mux = True
    audio.set_attribute("mid", "0")
    again = SessionDescription.parse(sdp.serialize())
    assert again.ice_lite
    media = again.media[0]
    assert media.candidates() == [cand]
    assert media.effective_ice(again) == ("abcd", "0123456789abcdef01234567")
    assert media.setup == "passive" and media.rtcp_mux and media.mid == "0"


def test_sdes_crypto_parses_suite_and_inline_key() -> None:
    body = AUDIO_OFFER.replace(b"RTP/AVP", b"RTP/SAVP") + (
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32 "
        b"UNENCRYPTED_SRTCP\r\n")
    (crypto,) = SessionDescription.parse(body).media[0].crypto()
    assert crypto == Crypto(1, "AES_CM_128_HMAC_SHA1_80",
                            "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32", ("UNENCRYPTED_SRTCP",))
    assert crypto.key_salt == "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
    assert str(crypto) in body.decode()


def test_lf_only_and_missing_final_eol_round_trip() -> None:
    for body in (b"v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\n",
                 b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=rtcp-mux",
                 b"v=0\r\n\r\ngarbage line\r\nm=audio 1 RTP/AVP 0\r\n"):
        assert SessionDescription.parse(body).serialize() == body


def test_appending_after_a_last_line_without_eol_ends_both_lines() -> None:
    sdp = SessionDescription.parse(b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp-mux")
    sdp.media[0].add_attribute("mid", "a")
    assert sdp.serialize() == b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp-mux\r\na=mid:a\r\n"


def test_new_connection_line_goes_before_attributes_in_rfc_order() -> None:
    sdp = SessionDescription.parse(b"v=0\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\na=sendrecv\r\n")
    sdp.media[0].connection = Connection("IN", "IP6", "2001:db8::1")
    sdp.connection = Connection("IN", "IP4", "192.0.2.1")
    assert sdp.serialize() == (b"v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                               b"m=audio 1 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\na=sendrecv\r\n")


def test_malformed_values_raise_parse_error_only_when_read() -> None:
    sdp = SessionDescription.parse(b"v=0\r\no=short\r\nm=audio x RTP/AVP 0\r\na=candidate:bad\r\n")
    with pytest.raises(SIPParseError) as origin_error:
        _ = sdp.origin
    assert origin_error.value.code == 400
    with pytest.raises(SIPParseError):
        _ = sdp.media[0].port
    with pytest.raises(SIPParseError):
        sdp.media[0].candidates()


def test_direction_setter_replaces_and_removes() -> None:
    sdp = SessionDescription.parse(AUDIO_OFFER)
    audio = sdp.media[0]
    audio.direction = "inactive"
    assert audio.attribute_values("inactive") == [""] and audio.direction == "inactive"
    audio.direction = None
    assert audio.direction is None and audio.effective_direction(sdp) == "sendrecv"
    with pytest.raises(ValueError):
        audio.direction = "sideways"
