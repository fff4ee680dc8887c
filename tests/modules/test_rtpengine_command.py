"""The ng dictionary the rtpengine module builds: every row of OpenSIPS's flag mapping (reference
opensips-modules.md §9.2, rtpengine.c parse_flags) and the from-tag/to-tag choice for each message kind."""
from __future__ import annotations

import pytest

from opensips_py.modules._rtpengine.ng_command import (
    ANSWER, BLOCK_MEDIA, DELETE, OFFER, PLAY_DTMF, QUERY, START_MEDIA, START_RECORDING, MessageIds,
    NgCommandError, build_command, parse_bracket_value, parse_flags,
)

INVITE = MessageIds("call-1", "from-1", None, True, "192.0.2.10", ("z9hG4bKone", "z9hG4bKtwo"))
REINVITE = MessageIds("call-1", "from-1", "to-1", True, "192.0.2.10", ("z9hG4bKone", None))
ACK = REINVITE
REPLY = MessageIds("call-1", "from-1", "to-1", False, "192.0.2.20", ("z9hG4bKone", None))
REPLY_NO_TO_TAG = MessageIds("call-1", "from-1", None, False, "192.0.2.20", ("z9hG4bKone", None))


def offer(flags: str, ids: MessageIds = INVITE) -> dict:
    return build_command(OFFER, flags, ids, sdp="v=0\r\n").document


def command(op: str, flags: str | None, ids: MessageIds) -> dict:
    return build_command(op, flags, ids, sdp="v=0\r\n").document


# ------------------------------------------------------------------------------------------------ always set

def test_offer_has_command_call_id_sdp_received_from_and_the_from_tag():
    assert offer("") == {"sdp": "v=0\r\n", "call-id": "call-1", "received-from": ["IP4", "192.0.2.10"],
                         "from-tag": "from-1", "command": "offer"}


def test_received_from_names_the_family_of_an_ipv6_source():
    ids = MessageIds("c", "f", None, True, "2001:db8::1")
    assert offer("", ids)["received-from"] == ["IP6", "2001:db8::1"]


# ------------------------------------------------------------------------------------------------ bare words

@pytest.mark.parametrize("word", ["trust-address", "SIP-source-address", "symmetric", "asymmetric", "force",
                                  "SDES-off", "generate-mid", "no-rtcp-attribute", "full-rtcp-attribute",
                                  "loop-protect", "transcode-PCMU", "codec-strip-PCMA", "codec-strip-all",
                                  "codec-mask-opus", "inject-DTMF", "auto-bridge", "strip-extmap"])
def test_a_bare_word_not_known_to_the_module_goes_to_the_flags_list(word):
    assert offer(f"{word} trust-address")["flags"] == [word, "trust-address"]


def test_directional_is_a_flag_and_keeps_the_tags_unswapped():
    document = command(ANSWER, "directional", ACK)
    assert document["flags"] == ["directional"]
    assert (document["from-tag"], document["to-tag"]) == ("from-1", "to-1")


def test_callid_without_a_value_is_just_a_flag():
    assert offer("callid")["flags"] == ["callid"]


# ------------------------------------------------------------------------------------------------ key=value

@pytest.mark.parametrize("token,key,value", [
    ("ICE=force", "ICE", "force"), ("ICE=remove", "ICE", "remove"), ("ICE=force-relay", "ICE", "force-relay"),
    ("DTLS=passive", "DTLS", "passive"), ("DTLS=off", "DTLS", "off"), ("SDES=off", "SDES", "off"),
    ("media-address=203.0.113.7", "media-address", "203.0.113.7"), ("record-call=yes", "record-call", "yes"),
    ("metadata=a:b", "metadata", "a:b"), ("label=caller", "label", "caller"), ("TOS=184", "TOS", "184"),
    ("ptime=20", "ptime", "20"), ("direction=priv", "direction", "priv"), ("xmlrpc-callback=1.2.3.4",
                                                                         "xmlrpc-callback", "1.2.3.4"),
])
def test_an_unknown_key_value_becomes_a_string_entry(token, key, value):
    document = offer(token)
    assert document[key] == value and isinstance(document[key], str)


def test_the_value_ends_at_the_first_space_and_splits_at_the_first_equals():
    assert offer("metadata=a=b c=d")["metadata"] == "a=b"
    assert offer("metadata=a=b c=d")["c"] == "d"


def test_media_address_needs_a_value():
    with pytest.raises(NgCommandError, match="missing value"):
        offer("media-address")


def test_a_token_starting_with_equals_ends_the_flags():
    assert offer("trust-address =x SDES-off")["flags"] == ["trust-address"]


# ------------------------------------------------------------------------------------------------ replace, rtcp-mux

@pytest.mark.parametrize("token,item", [
    ("replace-origin", "origin"), ("replace-session-connection", "session-connection"),
    ("replace-username", "username"), ("replace-SDP-version", "SDP version"),
    ("replace-zero-address", "zero address"), ("replace-session-name", "session name"),
])
def test_replace_words_fill_the_replace_list(token, item):
    assert offer(f"{token}")["replace"] == [item]
    assert command(ANSWER, token, REPLY)["replace"] == [item]


def test_replace_and_rtcp_mux_are_ignored_outside_offer_and_answer():
    document = command(DELETE, "replace-origin rtcp-mux-demux", INVITE)
    assert "replace" not in document and "rtcp-mux" not in document and "flags" not in document


@pytest.mark.parametrize("word", ["offer", "accept", "reject", "demux", "require"])
def test_rtcp_mux_words_fill_the_rtcp_mux_list(word):
    assert offer(f"rtcp-mux-{word}")["rtcp-mux"] == [word]


def test_the_guide_webrtc_flags_give_lists_in_order():
    document = offer("trust-address replace-origin replace-session-connection ICE=force DTLS=passive SDES-off "
                     "UDP/TLS/RTP/SAVPF rtcp-mux-offer generate-mid")
    assert document["flags"] == ["trust-address", "SDES-off", "generate-mid"]
    assert document["replace"] == ["origin", "session-connection"]
    assert (document["ICE"], document["DTLS"], document["transport-protocol"], document["rtcp-mux"]) == \
        ("force", "passive", "UDP/TLS/RTP/SAVPF", ["offer"])


# ------------------------------------------------------------------------------------------------ transport

@pytest.mark.parametrize("words,protocol", [
    ("RTP/AVP", "RTP/AVP"), ("RTP/SAVP", "RTP/SAVP"), ("RTP/AVPF", "RTP/AVPF"), ("RTP/SAVPF", "RTP/SAVPF"),
    ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVP"), ("UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVPF"),
    ("RTP", "RTP/AVP"), ("SRTP", "RTP/SAVP"), ("AVP", "RTP/AVP"), ("AVPF", "RTP/AVPF"),
    ("SRTP AVPF", "RTP/SAVPF"), ("RTP AVPF", "RTP/AVPF"), ("SRTP AVP", "RTP/SAVP"),
    ("RTP/SAVPF RTP", "RTP/AVPF"), ("RTP/SAVPF AVP", "RTP/SAVP"), ("RTP/AVP RTP/SAVPF", "RTP/SAVPF"),
])
def test_transport_words_build_transport_protocol(words, protocol):
    document = offer(words)
    assert document["transport-protocol"] == protocol and "flags" not in document


# ------------------------------------------------------------------------------------------------ direction

def test_in_iface_and_out_iface_make_the_direction_list():
    assert offer("in-iface=priv out-iface=pub")["direction"] == ["priv", "pub"]


def test_internal_and_external_are_the_legacy_direction_words():
    assert offer("external internal")["direction"] == ["external", "internal"]


@pytest.mark.parametrize("flags", ["in-iface=priv", "out-iface=pub", "internal"])
def test_one_interface_without_the_other_is_an_error(flags):
    with pytest.raises(NgCommandError, match="without"):
        offer(flags)


def test_direction_is_only_sent_with_offer_and_answer():
    assert "direction" not in command(DELETE, "in-iface=a out-iface=b", INVITE)


# ------------------------------------------------------------------------------------------------ valued keys

@pytest.mark.parametrize("family", ["IP4", "IP6"])
def test_address_family_becomes_address_space_family(family):
    assert offer(f"address-family={family}")["address family"] == family


def test_address_family_other_values_are_errors():
    with pytest.raises(NgCommandError, match="invalid value"):
        offer("address-family=IPX")


def test_repacketize_and_delete_delay_are_integers():
    document = offer("repacketize=20ms delete-delay=5")
    assert document["repacketize"] == 20 and document["delete-delay"] == 5


def test_repacketize_zero_is_an_error_and_delete_delay_text_is_zero():
    with pytest.raises(NgCommandError, match="invalid value"):
        offer("repacketize=0")
    assert offer("delete-delay=soon")["delete-delay"] == 0


def test_call_id_and_callid_replace_the_call_id():
    assert offer("call-id=other")["call-id"] == "other"
    assert offer("callid=other2")["call-id"] == "other2"
    with pytest.raises(NgCommandError, match="missing value"):
        offer("call-id")


def test_from_tag_replaces_the_from_tag_and_stops_the_swap():
    document = command(ANSWER, "from-tag=mine", ACK)
    assert (document["from-tag"], document["to-tag"]) == ("mine", "to-1")


def test_to_tag_value_replaces_the_to_tag():
    assert command(ANSWER, "to-tag=theirs", REPLY)["to-tag"] == "theirs"


def test_via_branch_takes_the_branch_of_via_1_or_2():
    assert offer("via-branch=1")["via-branch"] == "z9hG4bKone"
    assert offer("via-branch=2")["via-branch"] == "z9hG4bKtwo"
    assert offer("via-branch=1x")["via-branch"] == "z9hG4bKone"  # only the first character counts


def test_via_branch_auto_always_fails_as_in_opensips():
    with pytest.raises(NgCommandError, match="can't get Via branch"):
        offer("via-branch=auto")


def test_via_branch_extra_takes_extra_id_pv_and_fails_without_it():
    assert build_command(OFFER, "via-branch=extra", INVITE, sdp="", extra_id=lambda: "x-1").document[
        "via-branch"] == "x-1"
    with pytest.raises(NgCommandError, match="can't get Via branch"):
        offer("via-branch=extra")


def test_via_branch_of_a_missing_via_and_bad_values_fail():
    with pytest.raises(NgCommandError):
        offer("via-branch=2", REPLY)
    with pytest.raises(NgCommandError, match="invalid value"):
        offer("via-branch=3")


def test_via_branch_param_is_sent_as_is():
    assert offer("via-branch-param=br7")["via-branch"] == "br7"


def test_received_from_overrides_the_source_and_must_be_an_ip():
    assert offer("received-from=2001:db8::7")["received-from"] == ["IP6", "2001:db8::7"]
    with pytest.raises(NgCommandError, match="not an IP"):
        offer("received-from=host.example")


def test_force_answer_turns_an_offer_into_an_answer_and_is_refused_elsewhere():
    built = build_command(OFFER, "force-answer", REPLY, sdp="")
    assert built.op == ANSWER and built.document["command"] == "answer"
    with pytest.raises(NgCommandError, match="cannot force answer"):
        command(ANSWER, "force-answer", REPLY)


# ------------------------------------------------------------------------------------------------ 4.0 brackets

def test_a_bracket_value_is_a_list():
    assert offer("codec=[strip-all offer-PCMU]")["codec"] == ["strip-all", "offer-PCMU"]
    assert offer("direction=[priv pub]")["direction"] == ["priv", "pub"]


def test_a_bracket_value_with_equals_at_its_top_level_is_a_dictionary():
    assert offer("codec=[strip=[all] offer=[PCMU PCMA] mask=opus]")["codec"] == \
        {"strip": ["all"], "offer": ["PCMU", "PCMA"], "mask": "opus"}


def test_brackets_unescape_double_dots_and_dashes():
    assert parse_bracket_value("a..b c--d") == ["a b", "c=d"]


def test_bracket_errors():
    with pytest.raises(NgCommandError, match="unmatched bracket"):
        offer("codec=[strip")
    assert parse_bracket_value("a] b") is None
    assert parse_bracket_value("[" * 12 + "]" * 12) is None


def test_without_brackets_the_value_stops_at_the_space_as_in_3_6():
    assert parse_flags("codec=[a b]", OFFER, brackets=False).entries == {"codec": "[a"}


# ------------------------------------------------------------------------------------------------ tags

def test_an_offer_in_an_initial_invite_has_no_to_tag():
    document = offer("")
    assert document["from-tag"] == "from-1" and "to-tag" not in document


def test_an_offer_in_a_reinvite_carries_both_tags_as_they_are():
    document = offer("", REINVITE)
    assert (document["from-tag"], document["to-tag"]) == ("from-1", "to-1")


def test_an_answer_in_a_reply_carries_both_tags_as_they_are():
    document = command(ANSWER, "", REPLY)
    assert (document["from-tag"], document["to-tag"]) == ("from-1", "to-1")


def test_an_answer_in_ack_or_prack_swaps_the_tags():
    document = command(ANSWER, "", ACK)
    assert (document["from-tag"], document["to-tag"]) == ("to-1", "from-1")


def test_an_offer_in_a_reply_late_offer_swaps_the_tags():
    document = command(OFFER, "", REPLY)
    assert (document["from-tag"], document["to-tag"]) == ("to-1", "from-1")


def test_a_swap_without_a_to_tag_is_an_error():
    with pytest.raises(NgCommandError, match="No to-tag present"):
        command(OFFER, "", REPLY_NO_TO_TAG)


def test_delete_sends_no_from_tag_and_no_to_tag():
    for ids in (REINVITE, REPLY):
        document = command(DELETE, "", ids)
        assert "from-tag" not in document and "to-tag" not in document and "sdp" not in document


def test_delete_with_to_tag_flag_sends_the_to_tag_only():
    document = command(DELETE, "to-tag", REINVITE)
    assert document["to-tag"] == "to-1" and "from-tag" not in document


def test_delete_with_from_tag_flag_still_sends_no_from_tag():
    assert "from-tag" not in command(DELETE, "from-tag=x", REINVITE)


def test_a_query_from_a_reply_swaps_and_from_a_request_does_not():
    assert command(QUERY, None, REPLY)["from-tag"] == "to-1"
    assert command(QUERY, None, REINVITE)["from-tag"] == "from-1"


def test_recording_from_a_request_keeps_the_tags():
    document = command(START_RECORDING, None, REINVITE)
    assert (document["from-tag"], document["to-tag"], document["command"]) == ("from-1", "to-1",
                                                                               "start recording")


def test_media_operations_send_a_from_tag_only_when_directional():
    assert "from-tag" not in command(BLOCK_MEDIA, None, REINVITE)
    assert "to-tag" not in command(BLOCK_MEDIA, None, REINVITE)
    document = command(START_MEDIA, "from-tag=x file=/tmp/a.wav", REINVITE)
    assert document["from-tag"] == "x" and document["file"] == "/tmp/a.wav" and "to-tag" not in document


def test_play_dtmf_keeps_its_code_and_sends_no_to_tag():
    document = build_command(PLAY_DTMF, None, REINVITE, extra={"code": "5"}).document
    assert document["code"] == "5" and document["from-tag"] == "from-1" and "to-tag" not in document


def test_no_call_id_or_from_tag_is_an_error():
    with pytest.raises(NgCommandError, match="Call-Id"):
        offer("", MessageIds(None, "f", None, True, "192.0.2.1"))
    with pytest.raises(NgCommandError, match="From tag"):
        offer("", MessageIds("c", None, None, True, "192.0.2.1"))
    assert offer("from-tag=given", MessageIds("c", None, None, True, "192.0.2.1"))["from-tag"] == "given"
