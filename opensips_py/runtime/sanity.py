"""The checks a message passes before the script sees it.

OpenSIPS itself only insists on a parsable top Via before routing (receive.c) and parses the rest lazily; a
broken From or CSeq then surfaces in the middle of the script. We check the headers a proxy always relies on,
once, up front, so the script never trips over them and a malformed request gets its 400 (RFC 4475 §3.1.2):

- requests: Via, From, To, Call-ID and CSeq present; From, To, Call-ID, CSeq and Max-Forwards not repeated;
  every Via, From, To, Call-ID, CSeq, Max-Forwards and Contact parses; the R-URI carries no `?headers`;
  the CSeq method is the request's (501 for an unknown method, as RFC 4475 mismatch02 suggests);
- responses: the same presence rules and parsable Via, CSeq and Call-ID (a broken response is dropped).

Headers a proxy does not read (Date, Accept, the body, authorization…) are left alone, as OpenSIPS does, so
odd-but-harmless messages (RFC 4475 baddate) still go through. What fails raises SIPParseError with the
status to answer.
"""
from __future__ import annotations

from opensips_py.sip import KNOWN_METHODS, Request, Response, SIPParseError

_MANDATORY = ("via", "from", "to", "call-id", "cseq")
_SINGLE = ("from", "to", "call-id", "cseq", "max-forwards")


def header_index(msg: Request | Response) -> dict[str, list[int]]:
    """The message's header index (canonical key -> line numbers), read-only. The SIP layer builds it while
    parsing; reading it directly spares the per-name key normalisation of header_count() on the hot path."""
    return msg._index  # noqa: SLF001


def _presence(msg: Request | Response) -> None:
    index = header_index(msg)
    for name in _MANDATORY:
        if name not in index:
            missing = [key for key in _MANDATORY if key not in index]
            raise SIPParseError(400, "Bad Request", "missing " + ", ".join(missing))
    for name in _SINGLE:
        found = index.get(name)
        if found is not None and len(found) > 1:
            raise SIPParseError(400, "Bad Request", f"more than one {name} header")


def check_request(msg: Request) -> None:
    """Raise SIPParseError (with the status to reply) when the request is not fit for routing."""
    _presence(msg)
    msg.via  # noqa: B018 - parse every Via value
    msg.from_, msg.to, msg.call_id, msg.max_forwards, msg.contacts  # noqa: B018
    cseq = msg.cseq
    if "?" in msg.ruri_text and msg.ruri.headers:  # the R-URI itself is parsed when something reads it
        raise SIPParseError(400, "Bad Request", "headers in the Request-URI")
    if cseq.method != msg.method:
        if msg.method in KNOWN_METHODS:
            raise SIPParseError(400, "Bad Request", f"CSeq method {cseq.method} does not match {msg.method}")
        raise SIPParseError(501, "Not Implemented", f"unknown method {msg.method} with CSeq {cseq.method}")


def check_response(msg: Response) -> None:
    """Raise SIPParseError when the response cannot be routed (the caller drops it)."""
    _presence(msg)
    msg.via, msg.cseq, msg.call_id  # noqa: B018
