"""Sans-IO SIP: messages, URIs, header views, lumps, replies, SDP and digest auth (see docs/sip.md)."""
from opensips_py.sip.errors import REASON_PHRASES, SIPParseError

__all__ = ["REASON_PHRASES", "SIPParseError"]
