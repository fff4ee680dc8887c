"""sl: stateless replies (no transaction, no retransmission) and the ACKs that answer them."""
from __future__ import annotations

from opensips_py.modules.exports import E, R, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="sl",
    doc="Stateless replies; ACKs to them are absorbed before the script runs.",
    functions=(
        Function(
            "sl_send_reply", (Arg("code", ArgKind.INT), Arg("reason")), routes=R | E,
            doc="code 100..699 (checked at start-up for literals). Adds a To-tag when missing. ACK: not "
                "replied, returns 1.",
        ),
        Function(
            "sl_reply_error", (), routes=R,
            doc="Replies with the last internal error, e.g. \"500 Server error occurred (1/SL)\".",
        ),
    ),
    params=(
        ModParam("enable_stats", ParamType.INT, 1),
    ),
    stats=(
        "1xx_replies", "2xx_replies", "3xx_replies", "4xx_replies", "5xx_replies", "6xx_replies",
        "sent_replies", "sent_err_replies", "received_ACKs",
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/sl/sl_funcs.c, tags.h and error.c of OpenSIPS (3.6/4.0).

import binascii  # noqa: E402
import hashlib  # noqa: E402

from opensips_py.modules.base import ModuleBase  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402

SL_TAG_SIGNATURE = "OpenSIPS-stateless"
SL_RPL_WAIT_TIME = 2.0  # seconds after our last reply during which ACKs are checked for our tag
TOTAG_VALUE_LEN = 37  # 4 hex (CRC16) + "." + 32 hex (MD5)

# error.c err2reason_phrase(): internal error -> (status, text); anything else is a 500.
_ERROR_REPLIES = {
    -473: (473, "Filtered destination"), -477: (477, "Send failed"), -476: (476, "Unresolvable destination"),
    -400: (400, "Bad Request"), -475: (475, "Bad URI"), -9: (400, "Transaction tuple incomplete"),
    -13: (400, "Bad To"), -11: (500, "Error in external logic"), -12: (500, "Forking capacity exceeded"),
    -15: (400, "Invalid character in q parameter"), -16: (400, "Empty q parameter"),
    -17: (400, "q parameter too big"), -18: (500, "No destination available"),
}


def reply_header_lines(texts) -> list[str]:
    """append_to_reply() texts (each may hold several CRLF-ended lines) as single header lines."""
    lines: list[str] = []
    for text in texts or ():
        for line in str(text).replace("\r\n", "\n").split("\n"):
            if line.strip():
                lines.append(line.rstrip("\r"))
    return lines


class Module(ModuleBase):
    """Stateless replies: no transaction, no retransmission; a stable To-tag so ACKs can be recognised."""

    exports = EXPORTS

    def init(self) -> None:
        sockets = getattr(self.core, "sockets", None) or []
        first = sockets[0] if sockets else None
        seed = SL_TAG_SIGNATURE + (first.host if first else "") + (str(first.port) if first else "")
        self._tag_prefix = f"{binascii.crc_hqx(seed.encode(), 0):04x}."
        self._ack_until = float("-inf")  # sl_timeout: no reply sent yet, no ACK to look for
        self._enabled = bool(self.int_param("enable_stats"))
        self._stats = dict.fromkeys(EXPORTS.stats, 0)

    # ---------------------------------------------------------------------------------- the To-tag
    def to_tag(self, msg) -> str:
        """The To-tag of our replies to `msg`: a fixed part from our first socket, then an MD5 of the top
        Via's host, port and branch, so a retransmission (and the ACK of a non-2xx) gets the same tag."""
        try:
            via = msg.via1
        except SIPParseError:
            via = None
        if via is None:
            suffix_source = ""
        else:
            suffix_source = via.host + (str(via.port) if via.port is not None else "") + (via.branch or "")
        digest = hashlib.md5(suffix_source.encode("utf-8", "surrogateescape"), usedforsecurity=False)
        return self._tag_prefix + digest.hexdigest()

    # ---------------------------------------------------------------------------------- script functions
    def sl_send_reply(self, ctx, code: int, reason: str | None) -> int:
        """Reply statelessly. An ACK is never answered (returns 1). 1 sent, -1 error."""
        msg = ctx.msg
        if msg is None or not msg.is_request or ctx.received is None:
            ctx.log(-1, "sl_send_reply(): no request to reply to")
            return -1
        if msg.method == "ACK":
            return 1
        if not 100 <= code <= 699:
            ctx.log(-1, f"sl_send_reply(): invalid code {code}")
            return -1
        return self._reply(ctx, code, reason)

    def sl_reply_error(self, ctx) -> int:
        """Reply with the last internal error, e.g. "500 Server error occurred (1/SL)"."""
        msg = ctx.msg
        if msg is None or not msg.is_request or ctx.received is None:
            return -1
        error = getattr(self.core, "last_error", -1)
        code, text = _ERROR_REPLIES.get(error, (500, "Server error occurred"))
        if msg.method == "ACK":
            return 1
        result = self._reply(ctx, code, f"{text} ({-error}/SL)")
        if result > 0 and self._enabled:
            self._stats["sent_err_replies"] += 1
        return result

    def _reply(self, ctx, code: int, reason: str | None) -> int:
        msg = ctx.msg
        extras = ctx.module_state.get("sl") or {}
        # what append_to_reply()/append_body_to_reply() left for local replies (sipmsgops)
        headers = reply_header_lines(extras.get("reply_headers"))
        body = str(extras.get("reply_body") or "").encode("utf-8", "surrogateescape")
        if 300 <= code < 400:
            contact = ctx.dset_contact()
            if contact:
                headers.insert(0, contact)
        # sl_funcs.c: our tag goes on replies >= 180 to a request whose To has no tag
        to_tag = self.to_tag(msg) if code >= 180 else None
        core_state = ctx.module_state.get("core") or {}
        try:
            self.core.send_reply(msg, ctx.received, code, reason, to_tag=to_tag, headers=headers, body=body,
                                 force_rport=bool(core_state.get("force_rport")),
                                 reply_to_via=bool(core_state.get("reply_to_via")))
        except (SIPParseError, ValueError) as exc:
            ctx.log(-1, f"sl: reply building failed: {exc}")
            return -1
        self._ack_until = self.core.now + SL_RPL_WAIT_TIME
        if self._enabled:
            stats = self._stats
            stats[f"{min(code // 100, 6)}xx_replies"] += 1
            stats["sent_replies"] += 1
        return 1

    # ---------------------------------------------------------------------------------- before the script
    def before_request_route(self, ctx) -> bool:
        """sl_filter_ACK(): an ACK carrying our To-tag, soon after we replied, is ours: absorb it."""
        msg = ctx.msg
        if msg.method != "ACK" or self.core.now >= self._ack_until:
            return True
        try:
            to = msg.to
        except SIPParseError:
            return True
        tag = to.tag if to is not None else None
        if tag is None or len(tag) != TOTAG_VALUE_LEN or tag != self.to_tag(msg):
            return True
        if self._enabled:
            self._stats["received_ACKs"] += 1
        return False

    def stats(self) -> dict[str, int]:
        return dict(self._stats) if self._enabled else {}
