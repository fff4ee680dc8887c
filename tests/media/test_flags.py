"""Flag parsing: rtpengine's spellings, OpenSIPS's quirks, later rtpengine's forms."""
from __future__ import annotations

from opensips_py.media.flags import Ice, IceLite, Op, parse_flags
from opensips_py.media.ng import NgRequest
from opensips_py.media.session import EndpointLearning


def _flags(document: dict, opmode: Op = Op.OFFER):
    raw = {k.encode(): ([v.encode() for v in value] if isinstance(value, list) else
                        value.encode() if isinstance(value, str) else value)
           for k, value in document.items()}
    return parse_flags(NgRequest(raw), opmode)


def test_words_match_with_spaces_or_hyphens() -> None:
    flags = _flags({"flags": ["trust address", "generate-mid", "no rtcp attribute", "strict-source"]})
    assert flags.trust_address and flags.generate_mid and flags.no_rtcp_attr and flags.strict_source


def test_opensips_quirks_are_tolerated() -> None:
    flags = _flags({"replace": ["origin", "session-connection"], "direction": "priv,pub",
                    "address family": "IP4", "repacketize": 20, "received-from": ["IP4", "192.0.2.1"]})
    assert flags.replace_origin and flags.replace_sess_conn
    assert flags.direction == ("priv", "pub")
    assert flags.address_family == "IP4"
    assert flags.received_from == ("IP4", "192.0.2.1")
    assert "repacketize" not in " ".join(flags.ignored)


def test_codec_words_and_dict_fill_the_same_lists() -> None:
    words = _flags({"flags": ["codec-strip-PCMA", "transcode-PCMU", "codec-mask-opus", "codec-offer-G722",
                              "codec-set-opus/48000/2/32000--x"]})
    assert words.codec_strip == ["PCMA"] and words.codec_transcode == ["PCMU"]
    assert words.codec_mask == ["opus"] and words.codec_offer == ["G722"]
    assert words.codec_set == ["opus/48000/2/32000=x"]
    keyed = parse_flags(NgRequest({b"codec": {b"strip": [b"PCMA"], b"transcode": [b"PCMU"]}}), Op.OFFER)
    assert keyed.codec_strip == ["PCMA"] and keyed.codec_transcode == ["PCMU"]


def test_transcode_and_mask_are_offer_only() -> None:
    flags = _flags({"flags": ["transcode-PCMU", "codec-mask-opus"]}, Op.ANSWER)
    assert flags.codec_transcode == [] and flags.codec_mask == []


def test_ice_dtls_sdes_and_learning_values() -> None:
    flags = _flags({"ICE": "force-relay", "ICE-lite": "backward", "DTLS": "passive", "SDES": ["off"],
                    "endpoint-learning": "immediate"})
    assert flags.ice is Ice.FORCE_RELAY and flags.ice_lite is IceLite.BACKWARD
    assert flags.dtls_passive and flags.sdes_off
    assert flags.endpoint_learning is EndpointLearning.IMMEDIATE


def test_ice_as_a_list_with_trickle_like_later_rtpengine() -> None:
    flags = _flags({"ICE": ["force", "trickle"]})
    assert flags.ice is Ice.FORCE and flags.trickle_ice


def test_unknown_words_are_recorded_not_fatal() -> None:
    flags = _flags({"flags": ["frobnicate"], "replace": ["everything"]})
    assert flags.ignored == ["flag 'frobnicate'", "replace 'everything'"]


def test_webrtc_alias_sets_what_a_browser_leg_needs() -> None:
    flags = _flags({"flags": ["WebRTC"]})
    assert flags.transport_protocol == "UDP/TLS/RTP/SAVPF" and flags.ice is Ice.FORCE
    assert flags.rtcp_mux_require and flags.sdes_off and flags.generate_mid and flags.no_rtcp_attr


def test_rtpp_flags_string_gives_the_same_flags_as_keys() -> None:
    flags = parse_flags(NgRequest({b"rtpp_flags": b"trust-address replace-origin rtcp-mux-demux ICE=remove "
                                                   b"RTP/AVP codec=[strip=[all] transcode=[PCMU,G722]] "
                                                   b"direction=[priv pub]"}), Op.OFFER)
    assert flags.trust_address and flags.replace_origin and flags.rtcp_mux_demux
    assert flags.ice is Ice.REMOVE and flags.transport_protocol == "RTP/AVP"
    assert flags.codec_strip == ["all"]
    assert flags.direction == ("priv", "pub")
