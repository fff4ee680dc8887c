"""Sans-IO SIP: messages, URIs, header views, lumps, replies, stream framing, SDP and digest auth.

Bytes in, bytes out; no sockets, no clock. The API is described in docs/sip.md.
"""
from opensips_py.sip.digest import (
    Challenge, Credentials, build_authorization, build_challenge, calc_ha1, calc_response, check_response,
    parse_challenge, parse_credentials,
)
from opensips_py.sip.errors import REASON_PHRASES, SIPParseError
from opensips_py.sip.framing import CRLF_PONG, KeepAlive, StreamFramer, is_keepalive_datagram
from opensips_py.sip.headers import Contact, CSeq, MediaType, NameAddr, Via, quote, unquote
from opensips_py.sip.message import (
    KNOWN_METHODS, MAX_MESSAGE_SIZE, HeaderField, Lumps, Message, Request, Response, parse_message,
)
from opensips_py.sip.names import COMPACT_FORMS, header_key
from opensips_py.sip.reply import build_reply, default_to_tag
from opensips_py.sip.sdp import SessionDescription
from opensips_py.sip.uri import URI, escape, parse_uri, unescape

__all__ = [
    "COMPACT_FORMS", "CRLF_PONG", "CSeq", "Challenge", "Contact", "Credentials", "HeaderField", "KNOWN_METHODS",
    "KeepAlive", "Lumps", "MAX_MESSAGE_SIZE", "MediaType", "Message", "NameAddr", "REASON_PHRASES", "Request",
    "Response", "SIPParseError", "SessionDescription", "StreamFramer", "URI", "Via", "build_authorization",
    "build_challenge", "build_reply", "calc_ha1", "calc_response", "check_response", "default_to_tag",
    "escape", "header_key", "is_keepalive_datagram", "parse_challenge", "parse_credentials", "parse_message", "parse_uri", "quote",
    "unescape", "unquote",
]
