"""The one error the SIP layer raises for bad input from the network.

`SIPParseError` means "the peer sent something malformed": it carries the status code a proxy should answer
a request with (400, 505, 513, 501, …) and the reason phrase. Anything else escaping this package (TypeError,
IndexError, …) is a bug in our code, never the peer's fault, so callers catch `SIPParseError` only.
"""
from __future__ import annotations

__all__ = ["SIPParseError", "REASON_PHRASES"]

# RFC 3261 §21 reason phrases for the codes this layer uses, plus the common ones a proxy sends.
REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


class SIPParseError(Exception):
    """Malformed SIP or SDP input.

    code:   the status a proxy answers a malformed *request* with (a malformed response is dropped).
    reason: the reason phrase for that status.
    detail: what exactly was wrong, for logs and Warning headers; never needed to decide anything.
    """

    def __init__(self, code: int = 400, reason: str | None = None, detail: str = "") -> None:
        self.code = code
        self.reason = reason if reason is not None else REASON_PHRASES.get(code, "Bad Request")
        self.detail = detail
        super().__init__(f"{code} {self.reason}" + (f": {detail}" if detail else ""))


def bad_request(detail: str) -> SIPParseError:
    """Shorthand for the commonest case: 400 Bad Request with a detail."""
    return SIPParseError(400, "Bad Request", detail)
