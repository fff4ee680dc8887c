"""tm: SIP transactions (RFC 3261 §17), stateful forwarding and the failure/reply/branch route hooks.

The exports table is here; the implementation is in this package: module.py (script functions, PVs, the API
of docs/tm.md), engine.py (the transaction layer), machine.py (the decisions as pure functions),
transaction.py (transactions and matching), messages.py (CANCEL/ACK/relayed replies), timers.py,
callbacks.py.
"""
from __future__ import annotations

from opensips_py.modules.exports import (
    ALL, B, F, L, O, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    PseudoVar, VersionSpan,
)

# t_relay()/t_replicate() flag names (tm.c t_relay_flag_names, 3.4+); 3.2 took their bit values as an int.
# The 3.4+ entries of t_relay/t_replicate come first: the interpreter binds a call to the first entry that
# fits, and the implementation reads both forms (names, or a 3.2 bit mask given as a number).
T_RELAY_FLAGS = ("no-auto-477", "no-dns-failover", "pass-reason-hdr", "allow-no-cancel")

EXPORTS = ModuleExports(
    name="tm",
    doc="Transaction management: stateful relaying, retransmissions, timers, failover routes.",
    functions=(
        Function(
            "t_newtran", (), routes=R,
            doc="Creates the UAS transaction. 0 (stops the script) for a retransmission or absorbed ACK.",
        ),
        Function(
            "t_reply", (Arg("code", ArgKind.INT), Arg("reason")), routes=R | F,
            doc="Stateful reply, creating the transaction if needed; 0 for ACK/retransmission.",
        ),
        Function(
            "t_reply_with_body", (Arg("code", ArgKind.INT), Arg("reason"), Arg("body")), routes=R | F,
            doc="As t_reply, with a body (Content-Type comes from append_to_reply).",
        ),
        Function(
            "t_relay",
            (Arg("flags", optional=True, choices=T_RELAY_FLAGS), Arg("outbound_proxy", optional=True)),
            routes=R | F, versions=VersionSpan(since="3.4"),
            doc="Flags are a comma list of names; an unknown name fails at start-up. outbound_proxy is "
                "\"[proto:]host[:port]\", ignored when $du is set. Internal 0 is returned as 1.",
        ),
        Function(
            "t_relay", (Arg("flags", ArgKind.INT, optional=True), Arg("outbound_proxy", optional=True)),
            routes=R | F, versions=VersionSpan(until="3.4"),
            doc="3.2: flags are a bit mask (0x02 no-auto-477, 0x04 no-dns-failover, 0x08 pass-reason-hdr, "
                "0x10 allow-no-cancel).",
        ),
        Function(
            "t_replicate", (Arg("uri"), Arg("flags", optional=True, choices=T_RELAY_FLAGS)), routes=R | F,
            versions=VersionSpan(since="3.4"),
            doc="Stateful copy to another destination. Same flag names as t_relay (only no-dns-failover "
                "has an effect).",
        ),
        Function(
            "t_replicate", (Arg("uri"), Arg("flags", ArgKind.INT, optional=True)), routes=R | F,
            versions=VersionSpan(until="3.4"), doc="3.2: flags as a bit mask, as t_relay.",
        ),
        Function(
            "t_on_failure", (Arg("route", ArgKind.ROUTE, route_kind="failure_route"),), routes=R | F | O | B | L,
            doc="Arms failure_route[name]; disarmed before it runs. A $var name is resolved per call.",
        ),
        Function(
            "t_on_reply", (Arg("route", ArgKind.ROUTE, route_kind="onreply_route"),), routes=R | F | O | B | L,
            doc="Arms onreply_route[name]; per branch when called in a branch_route.",
        ),
        Function(
            "t_on_branch", (Arg("route", ArgKind.ROUTE, route_kind="branch_route"),), routes=R | F | O | B,
            doc="Arms branch_route[name], run once per outgoing branch.",
        ),
        Function(
            "t_check_status", (Arg("re", ArgKind.REGEX),), routes=R | F | O | B,
            doc="Matches the relevant reply code: last sent (R), current (O), winning (F).",
        ),
        Function(
            "t_write_req", (Arg("info"), Arg("fifo")), routes=R | F | B,
            doc="info is \"action[/append]\" (tw_append name).",
        ),
        Function("t_write_unix", (Arg("info"), Arg("sock")), routes=R | F | B),
        Function("t_flush_flags", (), routes=R | B),
        Function(
            "t_local_replied", (Arg("type", choices=("all", "branch", "last")),), routes=R | F | O | B,
            doc="C accepts all/branch/last (the reference lists only all and last).",
        ),
        Function(
            "t_check_trans", (), routes=R | B,
            doc="Known retransmission: last reply re-sent, 0 (stops). CANCEL: 1 if its INVITE exists. "
                "ACK: 1 hop-by-hop, -2 end-to-end.",
        ),
        Function("t_was_cancelled", (), routes=R | F | O | B),
        Function(
            "t_cancel_branch", (Arg("flags", optional=True, choices=("a", "A", "o", "O")),), routes=O,
            doc="A string of letters: a = all branches, o = the other branches; empty = the current one; "
                "another letter is a start-up error.",
        ),
        Function("t_add_hdrs", (Arg("hdrs"),), routes=R),
        Function("t_add_cancel_reason", (Arg("reason_hdr"),), routes=R),
        Function(
            "t_new_request",
            (Arg("method"), Arg("ruri"), Arg("from"), Arg("to"), Arg("body", optional=True),
             Arg("ctx", optional=True)),
            routes=R | F | O | B | L, versions=VersionSpan(until="3.4"),
        ),
        Function(
            "t_new_request",
            (Arg("method"), Arg("ruri"), Arg("from"), Arg("to"), Arg("body", optional=True),
             Arg("ctx", optional=True)),
            routes=ALL, versions=VersionSpan(since="3.4"),
            doc="New stateful UAC request; body is \"<content-type> <body>\".",
        ),
        Function(
            "t_inject_branches",
            (Arg("source", choices=("msg", "message", "event", "events")), Arg("flags", optional=True)),
            routes=R | O, doc="flags: \"cancel\", or letters c (cancel) and l (last); other letters are ignored.",
        ),
        Function("t_wait_for_new_branches", (Arg("branches", ArgKind.INT, optional=True),), routes=R),
        Function("t_wait_no_more_branches", (), routes=R | F | O | B),
        Function("t_anycast_replicate", (), routes=R),
        Function(
            "t_reply_by_callid",
            (Arg("code", ArgKind.INT), Arg("reason"), Arg("callid", optional=True), Arg("cseq", optional=True)),
            routes=R, versions=VersionSpan(since="3.4"),
            doc="C: exported since 3.4 (the reference says 4.0 only).",
        ),
        Function(
            "t_get_branch_idx_by_attr",
            (Arg("attr"), Arg("val_str", optional=True), Arg("val_int", ArgKind.INT, optional=True),
             Arg("result", ArgKind.VAR, optional=True), Arg("offset", ArgKind.INT, optional=True)),
            routes=F | O | B, versions=VersionSpan(since="3.6"),
            doc="C: exported since 3.6 (the reference says 4.0).",
        ),
    ),
    params=(
        ModParam("fr_timeout", ParamType.INT, 30, doc="Seconds without a final reply."),
        ModParam("fr_inv_timeout", ParamType.INT, 120, doc="Seconds for INVITE after the first 1xx."),
        ModParam("wt_timer", ParamType.INT, 5),
        ModParam("delete_timer", ParamType.INT, 2),
        ModParam("T1_timer", ParamType.INT, 500, doc="Milliseconds."),
        ModParam("T2_timer", ParamType.INT, 4000, doc="Milliseconds."),
        ModParam("ruri_matching", ParamType.INT, 1),
        ModParam("via1_matching", ParamType.INT, 1),
        ModParam("unix_tx_timeout", ParamType.INT, 2),
        ModParam("restart_fr_on_each_reply", ParamType.INT, 1),
        ModParam("tw_append", ParamType.STR, None, repeatable=True, doc="\"name:elem;elem…\"."),
        ModParam("enable_stats", ParamType.INT, 1),
        ModParam("pass_provisional_replies", ParamType.INT, 0),
        ModParam("syn_branch", ParamType.INT, 1),
        ModParam("onreply_avp_mode", ParamType.INT, 0),
        ModParam("disable_6xx_block", ParamType.INT, 0),
        ModParam("minor_branch_flag", ParamType.STR, None, flag_name=True, doc="A branch flag name."),
        ModParam("timer_partitions", ParamType.INT, 1),
        ModParam("auto_100trying", ParamType.INT, 1),
        ModParam("tm_replication_cluster", ParamType.INT, 0),
        ModParam("cluster_param", ParamType.STR, "cid"),
        ModParam("cluster_auto_cancel", ParamType.INT, 1),
        ModParam(
            "local_request_route", ParamType.STR, None, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
        ModParam(
            "local_reply_route", ParamType.STR, None, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
    ),
    pvars=(
        PseudoVar("T_branch_idx"),
        PseudoVar("T_reply_code"),
        PseudoVar("T_ruri"),
        PseudoVar("T_id"),
        PseudoVar("T_fr_timeout", writable=True),
        PseudoVar("T_fr_inv_timeout", writable=True),
        PseudoVar("bavp", writable=True, takes_arg=True, doc="Per-branch AVP, indexable."),
        PseudoVar("T_branch_last_reply_code", versions=VersionSpan(since="3.6"), doc="Indexed by branch."),
        PseudoVar("tm.branch.uri", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.duri", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.path", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.q", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.flags", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.socket", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.flag", writable=True, takes_arg=True, versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.attr", writable=True, takes_arg=True, versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.last_received", versions=VersionSpan(since="3.6")),
        PseudoVar("tm.branch.type", versions=VersionSpan(since="3.6")),
    ),
    mi=(
        MICommand(
            "t_uac_dlg", ("method", "ruri", "headers", "next_hop", "socket", "body"), alias_4_0="tm:uac_dlg",
            doc="Named parameters only; method, ruri and headers are mandatory; asynchronous reply.",
        ),
        MICommand("t_uac_cancel", ("callid", "cseq"), alias_4_0="tm:uac_cancel"),
        MICommand("t_hash", (), alias_4_0="tm:hash"),
        MICommand(
            "t_reply", ("code", "reason", "trans_id", "to_tag", "new_headers", "body"), alias_4_0="tm:reply",
            doc="Named parameters only; new_headers and body are optional.",
        ),
    ),
    stats=(
        "received_replies", "relayed_replies", "local_replies", "UAS_transactions", "UAC_transactions",
        "2xx_transactions", "3xx_transactions", "4xx_transactions", "5xx_transactions", "6xx_transactions",
        "inuse_transactions",
        # 3.4+:
        "cluster_reply_sent", "cluster_request_sent", "cluster_cancel_sent", "cluster_reply_recv",
        "cluster_request_recv", "cluster_cancel_recv", "retransmission_req_T1_1", "retransmission_req_T1_2",
        "retransmission_req_T1_3", "retransmission_req_T2", "retransmission_rpl_T2", "timeout_finalresponse",
        "timeout_finalresponse_inv",
    ),
    deps=(
        Dependency(("clusterer",), when_param="tm_replication_cluster", unless_values=(0,)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

from opensips_py.modules.tm.callbacks import TMCB, TMCBParams  # noqa: E402
from opensips_py.modules.tm.messages import LocalRequest  # noqa: E402
from opensips_py.modules.tm.module import Module  # noqa: E402
from opensips_py.modules.tm.transaction import FAKED, ClientBranch, Transaction  # noqa: E402

__all__ = ["EXPORTS", "Module", "TMCB", "TMCBParams", "LocalRequest", "Transaction", "ClientBranch", "FAKED",
           "T_RELAY_FLAGS"]
