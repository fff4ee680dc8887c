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
