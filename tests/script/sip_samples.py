"""SIP messages the pseudo-variable and transformation tests read (RFC 3261 §24-style, plus the headers
the core PVs look at), and a helper that wraps one in a MsgContext."""
from __future__ import annotations

from opensips_py.modules.exports import RouteType
from opensips_py.script.context import ListenSocket, MsgContext, Process, ReceiveInfo
from opensips_py.sip import parse_message

SDP = ("v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
       "m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
       "m=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n")

INVITE = (
    "INVITE sip:bob@biloxi.example.com:5070;transport=tcp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;rport\r\n"
    "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    'From: "Alice A." <sip:alice:secret@atlanta.example.com>;tag=1928301774\r\n'
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    'Contact: "Al" <sip:alice@pc33.atlanta.example.com;ob>;expires=60;q=0.5, <sip:alice@10.0.0.1>\r\n'
    'Contact: sip:alice@192.0.2.99;methods="INVITE,BYE"\r\n'
    "User-Agent: SIPp/3.7\r\n"
    'P-Asserted-Identity: "Alice" <sip:+15551234@atlanta.example.com>\r\n'
    "P-Preferred-Identity: Al <sip:alice.p@pref.example.com>\r\n"
    "Remote-Party-ID: <sip:+15550000@atlanta.example.com>;party=calling\r\n"
    "Diversion: <sip:carol@chicago.example.com>;reason=unconditional;privacy=off\r\n"
    "Refer-To: <sip:dave@denver.example.com>\r\n"
    'Proxy-Authorization: Digest username="alice@atlanta.example.com", realm="atlanta.example.com", '
    'nonce="84a4cc6f3082121f32b42a2187831a9e", uri="sip:bob@biloxi.example.com", '
    'response="7587245234b3434cc3412213e5f113a5", algorithm=MD5, cnonce="0a4f113b", qop=auth, '
    'nc=00000001, opaque="5ccc069c403ebaf9f0171e9517f40e41"\r\n'
    "X-Custom: one\r\n"
    "X-Custom: two\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n\r\n" + SDP)

REPLY_407 = (
    "SIP/2.0 407 Proxy Authentication Required\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5066\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    'From: "Alice A." <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    'Proxy-Authenticate: Digest realm="atlanta.example.com", qop="auth", '
    'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", algorithm=SHA-256\r\n'
    "Content-Length: 0\r\n\r\n")

_ISUP = "\x01\x00\x49\x00"
_MULTIPART_BODY = ("--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + SDP
                   + "\r\n--unique-boundary-1\r\nContent-Type: application/isup; version=itu-t92+\r\n\r\n"
                   + _ISUP + "\r\n--unique-boundary-1--\r\n")
MULTIPART_INVITE = (
    "INVITE sip:+15557654@gw.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKmp1\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:+15557654@gw.example.com>\r\n"
    "From: <sip:alice@atlanta.example.com>;tag=mp\r\n"
    "Call-ID: multipart-1@192.0.2.4\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n"
    f"Content-Length: {len(_MULTIPART_BODY)}\r\n\r\n" + _MULTIPART_BODY)

MULTIPART_PARTS = (SDP, _ISUP)

LISTEN = ListenSocket("udp", "127.0.0.1", 5060, advertised_host="203.0.113.5", advertised_port=5062,
                      tag="edge")


def make_ctx(text: str | None = INVITE, *, clock: float = 1_700_000_000.25, route_type=RouteType.REQUEST,
             process: Process | None = None) -> MsgContext:
    """A MsgContext around a parsed message, received over UDP from 192.0.2.1:5066."""
    msg = parse_message(text.encode("utf-8", "surrogateescape")) if text is not None else None
    process = process or Process(clock=lambda: clock)
    return MsgContext(msg, route_type, process, ReceiveInfo(LISTEN, "192.0.2.1", 5066, "udp"))
