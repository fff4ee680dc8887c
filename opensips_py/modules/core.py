"""core: what the OpenSIPS core itself offers a script, for 3.2, 3.4, 3.6 and 4.0.

Not a loadable module: no `loadmodule` brings these in, they are always there. The facts were read from the
OpenSIPS sources at tags 3.2.19, 3.4.18, 3.6.8 and 4.0.1: `core_cmds.c` (the `core_cmds[]` array: functions),
`pvar.c` (`_pv_names_table[]`: pseudo-variables), `transformations.c` (`tr_parse_*`: transformations),
`cfg.lex` / `cfg.y` (global parameters, socket syntax, reserved words), `dprint.h` / `route.c` (log levels) and
`socket_info.h` (`parse_proto`: socket protocols).

Conventions of this table:
- Version spans use the versions we track: something that appeared in 3.3 or 3.5 gets `since="3.4"` or
  `since="3.6"`; something removed in 3.3 gets `until="3.4"`. The true upstream version, when it matters, is in
  the doc text.
- PseudoVar names carry no `$` (`PseudoVar("ru")` is `$ru`); `renamed_to` is written the way the script
  writes it (`"$socket_in(proto)"`). Transformation names are `class.member` (`"s.len"`).
- Things the shared schema (exports.py) cannot say are kept in plain sets next to the table:
  PV_ARG_OPTIONAL, PV_INDEXABLE, AUTO_SCALING_PARAMS, SOCKET_OPTION_VALUES.

`python -m opensips_py.modules.core > docs/core.md` regenerates the reference page from this file.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from opensips_py.modules.exports import (
    VERSIONS, Arg, ArgKind, Function, GlobalKind, GlobalParam, ModuleExports, PseudoVar, Transformation,
    VersionSpan,
)

# ---------------------------------------------------------------------------------------------------------
# Version spans used below.

_ANY = VersionSpan()
_SINCE_3_4 = VersionSpan(since="3.4")
_SINCE_3_6 = VersionSpan(since="3.6")
_SINCE_4_0 = VersionSpan(since="4.0")
_UNTIL_3_4 = VersionSpan(until="3.4")
_UNTIL_3_6 = VersionSpan(until="3.6")
_UNTIL_4_0 = VersionSpan(until="4.0")
_3_4_TO_3_6 = VersionSpan(since="3.4", until="4.0")


# ---------------------------------------------------------------------------------------------------------
# Argument shorthands (OpenSIPS's CMD_PARAM_* kinds).

def _str(name: str, optional: bool = False, static: bool = False, choices: tuple[str, ...] = ()) -> Arg:
    return Arg(name, ArgKind.STR, optional=optional, static=static, choices=choices)


def _int(name: str, optional: bool = False) -> Arg:
    return Arg(name, ArgKind.INT, optional=optional)


def _var(name: str, optional: bool = False) -> Arg:
    return Arg(name, ArgKind.VAR, optional=optional)


def _flag(name: str = "flag") -> Arg:
    """Flag names are static strings (`setflag("NAT")`); a number or a `$pv` is rejected."""
    return Arg(name, ArgKind.FLAG, static=True)


# ---------------------------------------------------------------------------------------------------------
# Core functions (core_cmds.c). Every one of them is allowed in every route type (ALL_ROUTES).

_BLACKLIST_RULE_ARGS = (
    _str("ip"), _int("port", optional=True), _str("proto", optional=True), _str("pattern", optional=True),
)

FUNCTIONS: tuple[Function, ...] = (
    # Forwarding.
    Function("forward", (_str("destination", optional=True),),
             doc="Stateless forward to `proto:host:port` or a SIP URI; without an argument to $du, else the R-URI. "
                 "Refused when disable_stateless_fwd is set."),
    Function("send", (_str("destination"), _str("headers", optional=True)),
             doc="Send the message as it is to the destination, optionally adding header lines; no routing logic."),
    # Message and branch flags (named flags since 3.0).
    Function("setflag", (_flag(),), doc="Set a message flag by name; names are allocated on first use."),
    Function("resetflag", (_flag(),), doc="Clear a message flag."),
    Function("isflagset", (_flag(),), doc="1 if the message flag is set, -1 otherwise."),
    Function("setbflag", (_flag(), _int("branch_idx", optional=True)),
             doc="Set a branch flag (branch 0, the R-URI branch, by default)."),
    Function("resetbflag", (_flag(), _int("branch_idx", optional=True)), doc="Clear a branch flag."),
    Function("isbflagset", (_flag(), _int("branch_idx", optional=True)),
             doc="1 if the branch flag is set on that branch, -1 otherwise."),
    # Request-URI rewriting.
    Function("seturi", (_str("uri"),), doc="Replace the whole R-URI."),
    Function("sethost", (_str("host"),), doc="Replace the R-URI host."),
    Function("sethostport", (_str("hostport"),), doc="Replace the R-URI host and port (`host:port`)."),
    Function("setuser", (_str("user"),), doc="Replace the R-URI user part."),
    Function("setuserpass", (_str("password"),), doc="Replace the R-URI password."),
    Function("setport", (_str("port"),), doc="Replace the R-URI port (given as a string)."),
    Function("rewriteuri", (_str("uri"),), versions=_UNTIL_3_4, renamed_to="seturi",
             doc="3.2 still exports the old name, but its fixup refuses it at start-up ('deprecated'); gone in 3.3."),
    Function("rewritehost", (_str("host"),), versions=_UNTIL_3_4, renamed_to="sethost",
             doc="Old name of sethost(); refused at start-up in 3.2, gone in 3.3."),
    Function("rewritehostport", (_str("hostport"),), versions=_UNTIL_3_4, renamed_to="sethostport",
             doc="Old name of sethostport(); refused at start-up in 3.2, gone in 3.3."),
    Function("rewriteuser", (_str("user"),), versions=_UNTIL_3_4, renamed_to="setuser",
             doc="Old name of setuser(); refused at start-up in 3.2, gone in 3.3."),
    Function("rewriteuserpass", (_str("password"),), versions=_UNTIL_3_4, renamed_to="setuserpass",
             doc="Old name of setuserpass(); refused at start-up in 3.2, gone in 3.3."),
    Function("rewriteport", (_str("port"),), versions=_UNTIL_3_4, renamed_to="setport",
             doc="Old name of setport(); refused at start-up in 3.2, gone in 3.3."),
    Function("prefix", (_str("prefix"),), doc="Prepend a string to the R-URI user."),
    Function("strip", (_int("count"),), doc="Remove that many characters from the start of the R-URI user."),
    Function("strip_tail", (_int("count"),), doc="Remove that many characters from the end of the R-URI user."),
    Function("revert_uri", (), doc="Restore the R-URI as it was received."),
    # Destination URI.
    Function("setdsturi", (_str("uri"),), doc="Set the destination URI ($du, the outbound proxy of this branch)."),
    Function("resetdsturi", (), doc="Clear $du."),
    Function("isdsturiset", (), doc="1 if $du is set, -1 otherwise."),
    # Branches.
    Function("append_branch", (_str("uri", optional=True), _str("q", optional=True)),
             versions=_UNTIL_3_6, renamed_to="append_branch_old",
             doc="Add a branch (the current R-URI when no uri is given). 3.6 renamed it append_branch_old and "
                 "added append_msg_branch()."),
    Function("append_branch_old", (_str("uri", optional=True), _str("q", optional=True)), versions=_SINCE_3_6,
             doc="The pre-3.6 append_branch(): add a branch, by default a copy of the R-URI branch."),
    Function("append_msg_branch",
             (_str("uri"), _str("q", optional=True), _str("flags", optional=True, choices=("inherite",))),
             versions=_SINCE_3_6,
             doc="3.6 branch API: add a branch with this URI; flag \"inherite\" (sic) copies the R-URI branch "
                 "attributes."),
    Function("remove_branch", (_int("branch_idx"),), versions=_UNTIL_3_6, renamed_to="remove_msg_branch",
             doc="Remove the branch at that index."),
    Function("remove_msg_branch", (_int("branch_idx"),), versions=_SINCE_3_6,
             doc="Remove the branch at that index (3.6 name of remove_branch)."),
    Function("move_msg_branch",
             (_int("src_idx", optional=True), _int("dst_idx", optional=True),
              _str("keep", optional=True, choices=("keep",))),
             versions=_SINCE_3_6,
             doc="Move a branch to another index (or into the R-URI branch); \"keep\" leaves the source in place."),
    Function("swap_msg_branches", (_int("idx_a", optional=True), _int("idx_b", optional=True)),
             versions=_SINCE_3_6, doc="Swap two branches (the R-URI branch by default)."),
    Function("serialize_branches", (_int("clear"), _int("keep_order", optional=True)),
             doc="Prepare serial forking: group branches by q value; next_branches() then loads each group."),
    Function("next_branches", (), doc="Load the next group of branches stored by serialize_branches()."),
    # Variables.
    Function("pv_printf", (_var("var"), _str("format")), doc="Expand a format string into a writable variable."),
    # Via and socket handling.
    Function("force_rport", (), doc="Reply to the source port, as if the top Via had `;rport` (RFC 3581)."),
    Function("add_local_rport", (), doc="Add `;rport` to the Via we insert."),
    Function("force_tcp_alias", (_int("port", optional=True),),
             doc="Reuse this TCP connection for requests to the sender (RFC 5923 alias)."),
    Function("set_via_handling",
             (_str("flags", choices=("force-rport", "add-local-rport", "reply-to-via", "force-tcp-alias")),),
             versions=_SINCE_3_6,
             doc="Comma list of Via handling options, the per-message form of force_rport() & co."),
    Function("set_advertised_address", (_str("address"),),
             doc="Advertised address for this message's Via/Record-Route."),
    Function("set_advertised_port", (_str("port"),), doc="Advertised port for this message (given as a string)."),
    Function("force_send_socket", (_str("socket"),),
             doc="Send through this local socket (`proto:addr[:port]`); it must be a declared socket."),
    Function("tcp_close_conn", (_str("ip_port"),), versions=_SINCE_4_0,
             doc="Close the TCP-family connection to that `ip:port`."),
    Function("socket_belongs_to_bond", (_str("socket"), _str("bond")), versions=_SINCE_4_0,
             doc="1 if the socket is a member of the named socket bond (4.0 `socket = bond:NAME {...}`)."),
    Function("is_myself", (_str("host"), _int("port", optional=True)),
             doc="1 if host[:port] is one of our sockets or aliases."),
    # Destination blacklists.
    Function("use_blacklist", (_str("blacklist"),), doc="Apply a dst_blacklist to this message's forwarding."),
    Function("unuse_blacklist", (_str("blacklist"),), doc="Stop applying a dst_blacklist."),
    Function("check_blacklist_rule", (_str("blacklist"),) + _BLACKLIST_RULE_ARGS, versions=_SINCE_3_4,
             doc="1 if the destination matches the blacklist. Present since 3.3 (the reference says 3.6; "
                 "core_cmds.c of 3.4.18 already exports it)."),
    Function("add_blacklist_rule",
             (_str("blacklist"),) + _BLACKLIST_RULE_ARGS + (_int("expire", optional=True),), versions=_SINCE_3_4,
             doc="Add a rule to a blacklist declared with dst_blacklist."),
    Function("del_blacklist_rule", (_str("blacklist"),) + _BLACKLIST_RULE_ARGS, versions=_SINCE_3_4,
             doc="Remove a rule from a blacklist."),
    # CacheDB (needs a cachedb_* module loaded).
    Function("cache_store", (_str("engine"), _str("key"), _str("value"), _int("expire", optional=True)),
             doc="Store a value in a CacheDB engine (`local`, `redis:group` ...)."),
    Function("cache_remove", (_str("engine"), _str("key")), doc="Remove a key."),
    Function("cache_fetch", (_str("engine"), _str("key"), _var("result")), doc="Fetch a value into a variable."),
    Function("cache_counter_fetch", (_str("engine"), _str("key"), _var("result")),
             doc="Fetch a counter value into a variable."),
    Function("cache_add",
             (_str("engine"), _str("key"), _int("increment"), _int("expire"), _var("new_value", optional=True)),
             doc="Add to a counter."),
    Function("cache_sub",
             (_str("engine"), _str("key"), _int("decrement"), _int("expire"), _var("new_value", optional=True)),
             doc="Subtract from a counter."),
    Function("cache_raw_query", (_str("engine"), _str("query"), _str("avp_list", optional=True)),
             doc="Send a raw back-end query; the optional third argument is a list of AVPs for the result "
                 "(kept unexpanded)."),
    # Event interface.
    Function("raise_event", (_str("event"), _var("attrs_avp", optional=True), _var("vals_avp", optional=True)),
             doc="Raise an Event Interface event; attribute names/values come from AVPs."),
    Function("subscribe_event", (_str("event"), _str("socket"), _int("expire", optional=True)),
             doc="Subscribe an event socket (`rabbitmq:...`, `udp:...`) to an event."),
    # Misc.
    Function("construct_uri",
             (_str("proto"), _str("user", optional=True), _str("domain"), _str("port", optional=True),
              _str("extra", optional=True), _var("result")),
             doc="Build a SIP URI from parts into an AVP."),
    Function("get_timestamp", (_var("sec"), _var("usec")), doc="Current time into two AVPs."),
    Function("script_trace",
             (_int("log_level", optional=True), _str("format", optional=True),
              _str("info", optional=True, static=True)),
             doc="Trace every script action from here on; no arguments switches tracing off."),
    Function("sr_check_status", (_str("group"), _str("identifier", optional=True)), versions=_SINCE_3_4,
             doc="Status/report framework: test the status of a group (and identifier). Present since 3.3."),
    Function("avp_print", (), versions=_SINCE_3_6, doc="Log all AVPs of the message (debugging)."),
)

# Grammar-level statements: they look like calls but are cfg.y productions, not core_cmds.c exports.
STATEMENT_KEYWORDS: tuple[str, ...] = (
    "xlog", "xdbg", "log", "error", "assert", "route", "exit", "drop", "return", "break", "async", "launch",
)


# ---------------------------------------------------------------------------------------------------------
# Core pseudo-variables (pvar.c `_pv_names_table`). Modules add theirs (tm's $T_*, dialog's $DLG_*...).

def _pv(name: str, doc: str, writable: bool = False, takes_arg: bool = False,
        versions: VersionSpan = _ANY, renamed_to: str | None = None) -> PseudoVar:
    return PseudoVar(name, writable=writable, takes_arg=takes_arg, versions=versions, renamed_to=renamed_to,
                     doc=doc)


PSEUDO_VARIABLES: tuple[PseudoVar, ...] = (
    # Request-URI.
    _pv("ru", "Request-URI.", writable=True),
    _pv("ruri", "Alias of $ru.", writable=True),
    _pv("rU", "R-URI user.", writable=True),
    _pv("ruri.user", "Alias of $rU.", writable=True),
    _pv("rd", "R-URI host.", writable=True),
    _pv("ruri.domain", "Alias of $rd.", writable=True),
    _pv("rp", "R-URI port.", writable=True),
    _pv("rP", "R-URI transport protocol."),
    _pv("ru_q", "q value of the R-URI branch.", writable=True),
    _pv("ou", "Original (received) R-URI."),
    _pv("ouri", "Alias of $ou."),
    _pv("oU", "Original R-URI user."),
    _pv("od", "Original R-URI host."),
    _pv("op", "Original R-URI port."),
    _pv("oP", "Original R-URI transport."),
    # Destination.
    _pv("du", "Destination URI (next hop / outbound proxy).", writable=True),
    _pv("duri", "Alias of $du.", writable=True),
    _pv("dd", "Host of $du.", writable=True),
    _pv("dp", "Port of $du.", writable=True),
    _pv("dP", "Transport of $du."),
    _pv("ds", "Destination set (all branches as text)."),
    # From / To.
    _pv("fu", "From URI."),
    _pv("from", "Alias of $fu."),
    _pv("fU", "From user."),
    _pv("from.user", "Alias of $fU."),
    _pv("fd", "From host."),
    _pv("from.domain", "Alias of $fd."),
    _pv("fn", "From display name."),
    _pv("ft", "From tag."),
    _pv("tu", "To URI."),
    _pv("to", "Alias of $tu."),
    _pv("tU", "To user."),
    _pv("to.user", "Alias of $tU."),
    _pv("td", "To host."),
    _pv("to.domain", "Alias of $td."),
    _pv("tn", "To display name."),
    _pv("tt", "To tag."),
    # Message.
    _pv("ci", "Call-ID."),
    _pv("cs", "CSeq number."),
    _pv("cl", "Content-Length."),
    _pv("rm", "Method (taken from CSeq in replies)."),
    _pv("rs", "Reply status code."),
    _pv("rr", "Reply reason phrase."),
    _pv("ml", "Message length in bytes (what the guide writes `$msg:len`)."),
    _pv("mb", "The whole message buffer."),
    _pv("mi", "Internal message id."),
    _pv("rb", "Body; `$rb(mime)` a part of that type, `$(rb[n])` multipart part n.", takes_arg=True),
    _pv("ua", "User-Agent header body."),
    _pv("ct", "Contact header(s); `$(ct[n])` one of them."),
    _pv("ct.fields", "One field of a Contact: name uri q expires methods received params.", takes_arg=True),
    _pv("cT", "Content-Type (indexable over multipart parts)."),
    _pv("hdr", "Header body by name; `$(hdr(name)[n])` the n-th.", takes_arg=True),
    _pv("hdrcnt", "Number of headers with that name.", takes_arg=True),
    _pv("hdr_name", "Header name by position: `$(hdr_name[n])`."),
    _pv("ai", "URI of P-Asserted-Identity."),
    _pv("pu", "URI of P-Preferred-Identity."),
    _pv("pU", "User of P-Preferred-Identity."),
    _pv("pd", "Host of P-Preferred-Identity."),
    _pv("pn", "Display name of P-Preferred-Identity."),
    _pv("re", "Remote-Party-ID URI."),
    _pv("rt", "Refer-To URI."),
    _pv("di", "Diversion URI."),
    _pv("dir", "Diversion reason."),
    _pv("dip", "Diversion privacy."),
    _pv("path", "Path header value."),
    # Credentials (Authorization / Proxy-Authorization).
    _pv("au", "Username from the credentials."),
    _pv("ad", "Domain part of the credentials username."),
    _pv("aU", "Whole username from the credentials (user@domain)."),
    _pv("ar", "Realm from the credentials."),
    _pv("adu", "Digest URI from the credentials."),
    _pv("an", "Nonce from the credentials."),
    _pv("auth.nonce", "Nonce from the credentials."),
    _pv("auth.resp", "Digest response from the credentials."),
    _pv("auth.cnonce", "cnonce from the credentials."),
    _pv("auth.opaque", "opaque from the credentials."),
    _pv("auth.alg", "Algorithm from the credentials."),
    _pv("auth.qop", "qop from the credentials."),
    _pv("auth.nc", "Nonce count from the credentials."),
    _pv("Au", "Username for accounting."),
    _pv("challenge.algorithm", "Algorithm of a received challenge (WWW-/Proxy-Authenticate).",
        versions=_SINCE_3_6),
    _pv("challenge.realm", "Realm of a received challenge.", versions=_SINCE_3_6),
    _pv("challenge.nonce", "Nonce of a received challenge.", versions=_SINCE_3_6),
    _pv("challenge.opaque", "Opaque of a received challenge.", versions=_SINCE_3_6),
    _pv("challenge.qop", "qop of a received challenge.", versions=_SINCE_3_6),
    _pv("challenge.ik", "AKA integrity key of a received challenge.", versions=_SINCE_3_6),
    _pv("challenge.ck", "AKA cipher key of a received challenge.", versions=_SINCE_3_6),
    # Network.
    _pv("si", "Source IP address."),
    _pv("src_ip", "Alias of $si."),
    _pv("sp", "Source port."),
    _pv("socket_in", "Receiving socket `proto:ip:port`; `$socket_in(f)` one field: ip port proto advertised_ip "
                     "advertised_port tag anycast af.", takes_arg=True),
    _pv("socket_out", "Sending socket; assigning `\"udp:ip:port\"` to `$socket_out` forces it. Fields as "
                      "$socket_in, plus `forced` (3.6+).", writable=True, takes_arg=True),
    _pv("proxy_protocol", "A field of the PROXY protocol header of the connection.", takes_arg=True,
        versions=_SINCE_4_0),
    _pv("Ri", "Receiving IP (removed in 3.3).", versions=_UNTIL_3_4, renamed_to="$socket_in(ip)"),
    _pv("Rp", "Receiving port (removed in 3.3).", versions=_UNTIL_3_4, renamed_to="$socket_in(port)"),
    _pv("proto", "Receiving protocol (removed in 3.3).", versions=_UNTIL_3_4, renamed_to="$socket_in(proto)"),
    _pv("pr", "Alias of $proto (removed in 3.3).", versions=_UNTIL_3_4, renamed_to="$socket_in(proto)"),
    _pv("af", "Address family of the receiving socket (removed in 3.3).", versions=_UNTIL_3_4,
        renamed_to="$socket_in(af)"),
    _pv("fs", "Forced sending socket (removed in 3.3).", writable=True, versions=_UNTIL_3_4,
        renamed_to="$socket_out"),
    # Script variables, AVPs, flags.
    _pv("var", "Script variable: one value per process, kept between messages.", writable=True, takes_arg=True),
    _pv("avp", "AVP: a stack of values attached to the message/transaction.", writable=True, takes_arg=True),
    _pv("bf", "Names of the branch flags set on branch 0."),
    _pv("mf", "Names of the message flags set."),
    _pv("msg.flag", "One message flag by name (1/0).", writable=True, takes_arg=True),
    _pv("msg.is_request", "1 for a request, 0 for a reply."),
    _pv("msg.type", "\"request\" or \"reply\"."),
    _pv("branch", "Pre-3.6 branch API: `$branch(uri|duri|q|path|flags|socket)`; `$branch = uri` adds one.",
        writable=True, takes_arg=True),
    _pv("branch.flag", "A branch flag by name on a branch.", writable=True, takes_arg=True),
    _pv("msg.branch", "3.6 branch API: assigning adds a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.uri", "URI of a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.duri", "Destination URI of a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.path", "Path of a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.q", "q value of a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.flags", "Flags of a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.socket", "Sending socket of a branch.", writable=True, versions=_SINCE_3_6),
    _pv("msg.branch.flag", "One named flag of a branch.", writable=True, takes_arg=True, versions=_SINCE_3_6),
    _pv("msg.branch.attr", "A named attribute of a branch.", writable=True, takes_arg=True, versions=_SINCE_3_6),
    _pv("msg.branch.last_idx", "Index of the last branch.", versions=_SINCE_3_6),
    # Script state.
    _pv("rc", "Return code of the last action."),
    _pv("retcode", "Alias of $rc."),
    _pv("return", "Extra values of the last `return(code, v1, ...)`: `$return(0)` is v1.", takes_arg=True,
        versions=_SINCE_3_6),
    _pv("param", "Route parameter, 1-based: `$param(1)`.", takes_arg=True),
    _pv("route", "Current route stack (indexable)."),
    _pv("route.name", "Name of the current route (indexable).", versions=_SINCE_3_4),
    _pv("route.type", "Type of the current route (indexable).", versions=_SINCE_3_4),
    _pv("rT", "Type of the current route (removed in 3.3).", versions=_UNTIL_3_4, renamed_to="$route.type"),
    _pv("err.class", "Error class (error_route)."),
    _pv("err.level", "Error severity (error_route)."),
    _pv("err.info", "Error text (error_route)."),
    _pv("err.rcode", "Reply code for the error (error_route)."),
    _pv("err.rreason", "Reply reason for the error (error_route)."),
    _pv("cfg_line", "Line of the script being run."),
    _pv("cfg_file", "File of the script being run."),
    _pv("log_level", "Log level of this process; `= NULL` restores the default.", writable=True),
    _pv("xlog_level", "xlog level of this process; `= NULL` restores the default.", writable=True),
    # Time, process, misc.
    _pv("time", "Now, formatted by strftime: `$time(%H:%M)`.", takes_arg=True),
    _pv("Tf", "Now, formatted as ctime."),
    _pv("Ts", "Now, Unix seconds."),
    _pv("Tsm", "Microsecond part of now."),
    _pv("TS", "Start-up time, Unix seconds."),
    _pv("pp", "Process id."),
    _pv("argv", "A `-o name=value` command-line value.", takes_arg=True),
    _pv("C", "Colour escape for xlog: `$C(fg-bg)`.", takes_arg=True),
    # SDP (3.6 SDP API).
    _pv("sdp", "The SDP body (3.6 SDP API); `$sdp(name)` a named SDP instance.", writable=True, takes_arg=True,
        versions=_SINCE_3_6),
    _pv("sdp.line", "A line of the SDP by type prefix, indexable.", writable=True, takes_arg=True,
        versions=_SINCE_3_6),
    _pv("sdp.stream", "A line of one media stream, indexable.", writable=True, takes_arg=True,
        versions=_SINCE_3_6),
    _pv("sdp.stream.idx", "Index of the stream that matches.", takes_arg=True, versions=_SINCE_3_6),
    _pv("sdp.session", "A session-level SDP line, indexable.", writable=True, takes_arg=True,
        versions=_SINCE_3_6),
)

# PVs with both a bare and an argument form (`$socket_in` and `$socket_in(ip)`): pvar.c lists them twice.
# Every other PV needs an argument exactly when takes_arg is set (`$hdr` alone is an unknown variable).
PV_ARG_OPTIONAL: frozenset[str] = frozenset({"rb", "socket_in", "socket_out", "branch", "sdp"})

# PVs that take an index in the long form, `$(name[n])` (pv_parse_index set in pvar.c).
PV_INDEXABLE: frozenset[str] = frozenset({
    "avp", "hdr", "hdr_name", "branch", "branch.flag", "ct", "ct.fields", "cT", "rb", "route", "route.name",
    "route.type", "msg.branch.uri", "msg.branch.duri", "msg.branch.path", "msg.branch.q", "msg.branch.flags",
    "msg.branch.socket", "msg.branch.flag", "msg.branch.attr", "sdp.line", "sdp.stream", "sdp.session",
})

# Spellings people write that are no variable at all, with what to write instead.
NOT_PSEUDO_VARIABLES: dict[str, str] = {
    "msg:len": "$ml (message length)",
    "bF": "$bf (branch flags)",
    "fl": "$mf (message flags)",
}


# ---------------------------------------------------------------------------------------------------------
# Transformations (transformations.c). Member names are matched case-insensitively.

def _tr(name: str, min_args: int = 0, max_args: int | None = None, versions: VersionSpan = _ANY) -> Transformation:
    return Transformation(name, min_args, min_args if max_args is None else max_args, versions)


TRANSFORMATIONS: tuple[Transformation, ...] = (
    # s. : strings
    _tr("s.len"), _tr("s.int"), _tr("s.md5"), _tr("s.crc32"), _tr("s.reverse"),
    _tr("s.tolower"), _tr("s.toupper"),
    _tr("s.substr", 2), _tr("s.select", 2), _tr("s.index", 1, 2), _tr("s.rindex", 1, 2),
    _tr("s.fill.left", 2), _tr("s.fill.right", 2), _tr("s.width", 1),
    _tr("s.trim"), _tr("s.triml"), _tr("s.trimr"),
    _tr("s.encode.hexa"), _tr("s.decode.hexa"), _tr("s.hex2dec"), _tr("s.dec2hex"),
    _tr("s.escape.common"), _tr("s.unescape.common"), _tr("s.escape.user"), _tr("s.unescape.user"),
    _tr("s.escape.param"), _tr("s.unescape.param"),
    _tr("s.b64encode"), _tr("s.b64decode"), _tr("s.xor", 1), _tr("s.eval"),
    _tr("s.date2unix", versions=_SINCE_3_6),
    _tr("s.sha1", versions=_SINCE_3_4), _tr("s.sha224", versions=_SINCE_3_4),
    _tr("s.sha256", versions=_SINCE_3_4), _tr("s.sha384", versions=_SINCE_3_4),
    _tr("s.sha512", versions=_SINCE_3_4),
    _tr("s.sha1_hmac", 1, versions=_SINCE_3_4), _tr("s.sha224_hmac", 1, versions=_SINCE_3_4),
    _tr("s.sha256_hmac", 1, versions=_SINCE_3_4), _tr("s.sha384_hmac", 1, versions=_SINCE_3_4),
    _tr("s.sha512_hmac", 1, versions=_SINCE_3_4),
    # uri.
    _tr("uri.user"), _tr("uri.host"), _tr("uri.domain"), _tr("uri.passwd"), _tr("uri.port"),
    _tr("uri.params"), _tr("uri.param", 1), _tr("uri.headers"), _tr("uri.transport"), _tr("uri.ttl"),
    _tr("uri.uparam"), _tr("uri.maddr"), _tr("uri.method"), _tr("uri.lr"), _tr("uri.r2"), _tr("uri.schema"),
    # param. : `a=1;b;c=3` lists
    _tr("param.value", 1), _tr("param.exist", 1), _tr("param.exists", 1, versions=_SINCE_3_4),
    _tr("param.valueat", 1), _tr("param.name", 1), _tr("param.count"),
    # nameaddr. (3.4+ also takes an index: `{nameaddr.1.uri}`)
    _tr("nameaddr.name"), _tr("nameaddr.uri"), _tr("nameaddr.len"), _tr("nameaddr.param", 1),
    _tr("nameaddr.params"),
    # via.
    _tr("via.name"), _tr("via.version"), _tr("via.transport"), _tr("via.host"), _tr("via.domain"),
    _tr("via.port"), _tr("via.comment"), _tr("via.params"), _tr("via.param", 1), _tr("via.branch"),
    _tr("via.received"), _tr("via.rport"),
    # csv.
    _tr("csv.count"), _tr("csv.value", 1),
    # sdp.
    _tr("sdp.line", 1, 2), _tr("sdp.stream", 1), _tr("sdp.stream-delete", 1),
    # ip.
    _tr("ip.pton"), _tr("ip.ntop"), _tr("ip.isip"), _tr("ip.isip4"), _tr("ip.isip6"), _tr("ip.family"),
    _tr("ip.resolve"), _tr("ip.matches", 1), _tr("ip.isprivate"),
    # re.
    _tr("re.subst", 1),
)


EXPORTS = ModuleExports(
    name="core",
    doc="The OpenSIPS core: always present, never loaded.",
    functions=FUNCTIONS,
    pvars=PSEUDO_VARIABLES,
    transformations=TRANSFORMATIONS,
)


# ---------------------------------------------------------------------------------------------------------
# Global parameters (cfg.lex keyword lists, value kinds from cfg.y's assign_stm).

def _g(name: str, kind: GlobalKind, doc: str, versions: VersionSpan = _ANY, renamed_to: str | None = None,
       deprecated: VersionSpan | None = None) -> GlobalParam:
    return GlobalParam(name, kind, versions=versions, renamed_to=renamed_to, deprecated=deprecated, doc=doc)


_INT, _SINT, _BOOL, _STR, _ID = GlobalKind.INT, GlobalKind.SINT, GlobalKind.BOOL, GlobalKind.STR, GlobalKind.ID

GLOBAL_PARAMS: tuple[GlobalParam, ...] = (
    # Logging.
    _g("log_level", _SINT, "Core log verbosity: -3 alert ... 4 debug; default 2 (notice)."),
    _g("log_prefix", _STR, "Prefix of every log line.", _SINCE_3_4),
    _g("log_stdout", _BOOL, "Keep the standard output of third-party libraries."),
    _g("log_stderror", _BOOL, "3.2: log to stderr instead of syslog. 3.4-3.6 warn and map it to "
                              "stderror_enabled/syslog_enabled. Gone in 4.0.",
       _UNTIL_4_0, renamed_to="stderror_enabled", deprecated=_3_4_TO_3_6),
    _g("stderror_enabled", _BOOL, "Log to stderr.", _SINCE_3_4),
    _g("syslog_enabled", _BOOL, "Log to syslog.", _SINCE_3_4),
    _g("log_event_enabled", _BOOL, "Raise E_CORE_LOG for log lines.", _SINCE_3_4),
    _g("stderror_level_filter", _SINT, "Extra level filter for stderr logging.", _SINCE_3_4),
    _g("syslog_level_filter", _SINT, "Extra level filter for syslog logging.", _SINCE_3_4),
    _g("log_event_level_filter", _SINT, "Level filter for E_CORE_LOG.", _SINCE_3_4),
    _g("stderror_log_format", _STR, "\"plain\", \"json\" or \"json_cee\".", _SINCE_3_4),
    _g("syslog_log_format", _STR, "\"plain\", \"json\" or \"json_cee\".", _SINCE_3_4),
    _g("log_json_buf_size", _INT, "Buffer for JSON log lines.", _SINCE_3_4),
    _g("log_msg_buf_size", _INT, "Buffer for log messages (JSON/event logging).", _SINCE_3_4),
    _g("log_facility", _ID, "Syslog facility (LOG_LOCAL0 ...). Deprecated 3.4, gone 4.0.",
       _UNTIL_4_0, renamed_to="syslog_facility", deprecated=_3_4_TO_3_6),
    _g("syslog_facility", _ID, "Syslog facility (LOG_LOCAL0 ...).", _SINCE_3_4),
    _g("log_name", _STR, "Syslog ident. Deprecated 3.4, gone 4.0.",
       _UNTIL_4_0, renamed_to="syslog_name", deprecated=_3_4_TO_3_6),
    _g("syslog_name", _STR, "Syslog ident.", _SINCE_3_4),
    _g("debug_mode", _BOOL, "Foreground, debug logging to stderr, core dumps, few workers."),
    _g("enable_asserts", _BOOL, "Evaluate assert() statements."),
    _g("abort_on_assert", _BOOL, "Abort the process when an assert fails."),
    _g("xlog_buf_size", _INT, "xlog output buffer size."),
    _g("xlog_force_color", _BOOL, "Print $C() colour escapes even when not on a terminal."),
    _g("xlog_print_level", _INT, "Level of the one-argument xlog(): L_NOTICE since 3.3, L_ERR in 3.2."),
    _g("xlog_level", _SINT, "xlog verbosity (default 2, notice)."),
    _g("pv_print_buf_size", _INT, "Buffer for format-string expansion."),
    # Processes.
    _g("udp_workers", _INT, "Workers per UDP/SCTP socket (default 8); may be followed by "
                            "`use_auto_scaling_profile NAME`."),
    _g("tcp_workers", _INT, "TCP-family reader workers (default 8); may be followed by "
                            "`use_auto_scaling_profile NAME`."),
    _g("timer_workers", _INT, "Timer workers (default 1); may be followed by `use_auto_scaling_profile NAME`."),
    _g("auto_scaling_profile", GlobalKind.SPECIAL,
       "`NAME scale up to N on P% for C cycles [within W] [scale down to N on P% for C cycles]`."),
    _g("auto_scaling_cycle", _INT, "Seconds per auto-scaling sampling cycle."),
    # Sockets and addresses.
    _g("socket", GlobalKind.SOCKET, "A SIP listener: `proto:addr[:ports] [options]` (see SOCKET_OPTIONS); 4.0 "
                                   "also `bond:NAME {\"sock\", ...}`."),
    _g("listen", GlobalKind.SOCKET, "Old name of socket: accepted with a warning in 3.x, gone in 4.0.",
       _UNTIL_4_0, renamed_to="socket", deprecated=VersionSpan(since="3.2", until="4.0")),
    _g("alias", GlobalKind.ALIAS, "Other names of this server for `myself` checks: "
                                  "`[proto|any:]host[:port] [accept_subdomain]`, several per line."),
    _g("auto_aliases", _BOOL, "Add the DNS names of the sockets as aliases."),
    _g("advertised_address", GlobalKind.SPECIAL, "Address written in Via/Record-Route: an IP, a hostname or a "
                                                 "quoted string."),
    _g("advertised_port", _INT, "Port written in Via/Record-Route."),
    _g("tos", GlobalKind.SPECIAL, "IP TOS of outgoing packets: a number or an IPTOS_* name."),
    _g("mcast_loopback", _BOOL, "Loop back multicast packets."),
    _g("mcast_ttl", _INT, "Multicast TTL."),
    _g("mhomed", _BOOL, "Pick the source address per destination (multi-homed host)."),
    _g("maxbuffer", _INT, "Ceiling of the UDP receive buffer auto-probe."),
    # DNS.
    _g("dns", _BOOL, "Add received= when the Via host does not resolve to the source IP."),
    _g("rev_dns", _BOOL, "Same check with reverse DNS."),
    _g("dns_try_ipv6", _BOOL, "Also look up AAAA records."),
    _g("dns_try_naptr", _BOOL, "Use NAPTR records (RFC 3263)."),
    _g("dns_use_search_list", _BOOL, "Use the resolver's search list."),
    _g("dns_retr_time", _INT, "Seconds between resolver retries."),
    _g("dns_retr_no", _INT, "Resolver retries."),
    _g("dns_servers_no", _INT, "How many name servers to use."),
    _g("disable_dns_failover", _BOOL, "Do not fail over to the next DNS result."),
    _g("disable_dns_blacklist", _BOOL, "Do not blacklist failing destinations automatically."),
    _g("dst_blacklist", GlobalKind.SPECIAL, "A named destination blacklist: `id[/flags]: rule` or "
                                            "`id: {rule, ...}` (3.2: only `id: {rules}`)."),
    # SIP behaviour.
    _g("check_via", _BOOL, "Check that the top Via of a reply is ours."),
    _g("sip_warning", _BOOL, "Add a Warning header to our replies."),
    _g("server_signature", _BOOL, "Add a Server header to our replies."),
    _g("server_header", _STR, "The whole Server header line, name included."),
    _g("user_agent_header", _STR, "The whole User-Agent header line, name included."),
    _g("disable_stateless_fwd", _BOOL, "Refuse stateless forwarding."),
    _g("disable_503_translation", _BOOL, "Relay a received 503 as is instead of as 500."),
    _g("max_while_loops", _INT, "Iteration cap of a while loop (default 10000)."),
    # TCP.
    _g("tcp_accept_aliases", _BOOL, "Honour `;alias` in Via (RFC 5923 connection reuse)."),
    _g("tcp_connect_timeout", _INT, "Connect timeout, ms."),
    _g("tcp_connection_lifetime", _INT, "Idle lifetime of a connection, s."),
    _g("tcp_socket_backlog", _INT, "listen() backlog."),
    _g("tcp_listen_backlog", _INT, "Old name of tcp_socket_backlog: warns in 3.2, gone in 3.3.",
       _UNTIL_3_4, renamed_to="tcp_socket_backlog", deprecated=VersionSpan(since="3.2", until="3.4")),
    _g("tcp_max_connections", _INT, "Maximum open TCP-family connections (default 2048)."),
    _g("tcp_max_msg_time", _INT, "Seconds allowed to receive one whole message."),
    _g("tcp_no_new_conn_bflag", _ID, "Branch flag name (unquoted) that forbids opening a new connection."),
    _g("tcp_no_new_conn_rplflag", _ID, "Message flag name (unquoted) that forbids a new connection for the "
                                       "reply."),
    _g("tcp_keepalive", _BOOL, "OS keepalive on TCP connections."),
    _g("tcp_keepcount", _INT, "Keepalive probes before dropping."),
    _g("tcp_keepidle", _INT, "Idle seconds before keepalive probes."),
    _g("tcp_keepinterval", _INT, "Seconds between keepalive probes."),
    _g("tcp_parallel_read_on_workers", _BOOL, "Read several messages of one connection in parallel (3.3-3.6; "
                                              "4.0 replaced it with tcp_threads).",
       VersionSpan(since="3.4", until="4.0")),
    _g("tcp_threads", _INT, "Threads for TCP reading (4.0).", _SINCE_4_0),
    _g("tcp_threshold", _INT, "Warn when a TCP operation takes longer (µs)."),
    _g("tcpthreshold", _INT, "Alias of tcp_threshold."),
    _g("poll_method", GlobalKind.STR_OR_ID, "poll, epoll, sigio_rt, select, kqueue, /dev/poll."),
    # Slow-operation and event thresholds.
    _g("exec_msg_threshold", _INT, "Warn when handling a message takes longer (µs)."),
    _g("execmsgthreshold", _INT, "Alias of exec_msg_threshold."),
    _g("exec_dns_threshold", _INT, "Warn when a DNS query takes longer (µs)."),
    _g("execdnsthreshold", _INT, "Alias of exec_dns_threshold."),
    _g("event_pkg_threshold", _INT, "Raise an event above this % of private memory used."),
    _g("event_shm_threshold", _INT, "Raise an event above this % of shared memory used."),
    # Database defaults.
    _g("db_default_url", _STR, "DB URL for modules whose db_url is not set."),
    _g("db_version_table", _STR, "Name of the version table."),
    _g("db_max_async_connections", _INT, "Async SQL connections per worker."),
    _g("query_buffer_size", _INT, "Rows buffered before a DB insert is flushed."),
    _g("query_flush_time", _INT, "Seconds before buffered rows are flushed."),
    # Process limits and paths.
    _g("chroot", GlobalKind.STR_OR_ID, "chroot to this directory."),
    _g("wdir", GlobalKind.STR_OR_ID, "Working directory."),
    _g("workdir", GlobalKind.STR_OR_ID, "Alias of wdir."),
    _g("mpath", _STR, "Module directory; may repeat (tried in order). 4.0 also takes `\"a\":\"b\"`."),
    _g("disable_core_dump", _BOOL, "Do not raise the core-dump limit."),
    _g("open_files_limit", _INT, "Raise the open-files limit to this."),
    # Memory.
    _g("mem-group", GlobalKind.SPECIAL, "Memory statistics group: `\"group\": \"module\" \"module\" ...`."),
    _g("mem_warming", _BOOL, "Pre-fragment shared memory at start-up from a pattern file."),
    _g("mem_warming_enabled", _BOOL, "Alias of mem_warming."),
    _g("mem_warming_pattern_file", _STR, "Pattern file for mem_warming."),
    _g("mem_warming_percentage", _INT, "How much memory mem_warming fragments."),
    _g("memlog", _SINT, "Log level of memory statistics (also sets memdump)."),
    _g("mem_log", _SINT, "Alias of memlog."),
    _g("memdump", _SINT, "Log level of the memory dump at exit."),
    _g("mem_dump", _SINT, "Alias of memdump."),
    _g("shm_memlog_size", _SINT, "Size of the shared-memory operation log (debug allocators).", _SINCE_3_4),
    _g("shm_hash_split_percentage", _INT, "Allocator tuning (HP_MALLOC)."),
    _g("shm_secondary_hash_size", _INT, "Allocator tuning (HP_MALLOC)."),
    _g("restart_persistency_cache_file", _STR, "File that keeps restart-persistent memory."),
    _g("restart_persistency_size", _INT, "Size of restart-persistent memory, MB."),
    # 2.x names gone before 3.2: kept so that version drift can name their replacement.
    _g("children", _INT, "2.x worker count, removed in 3.1: a syntax error in 3.x.",
       VersionSpan(until="3.1"), renamed_to="udp_workers"),
    _g("tcp_children", _INT, "2.x TCP worker count, removed in 3.1.", VersionSpan(until="3.1"),
       renamed_to="tcp_workers"),
    _g("debug", _SINT, "2.x log level, removed in 3.1.", VersionSpan(until="3.1"), renamed_to="log_level"),
    _g("xlog_default_level", _INT, "2.x level of one-argument xlog(), renamed in 3.0.",
       VersionSpan(until="3.0"), renamed_to="xlog_print_level"),
)

# `udp_workers = 4 use_auto_scaling_profile PROFILE`: the integer may be followed by a profile name.
AUTO_SCALING_PARAMS: frozenset[str] = frozenset({"udp_workers", "tcp_workers", "timer_workers"})

# Names people write as global parameters that no 3.x version accepts (all syntax errors), with the fix.
NOT_GLOBAL_PARAMS: dict[str, str] = {
    "children": "udp_workers (3.x)",
    "tcp_children": "tcp_workers (3.x)",
    "pkg_mem_size": "command-line -M <MB> (private memory per process)",
    "shm_mem_size": "command-line -m <MB> (shared memory)",
    "tcp_send_timeout": 'modparam("proto_tcp", "tcp_send_timeout", <ms>) (and "tls_send_timeout" of proto_tls)',
    "tcp_max_msg_chunks": 'modparam("proto_tcp", "tcp_max_msg_chunks", <n>)',
    "tcp_crlf_pingpong": 'modparam("proto_tcp", "tcp_crlf_pingpong", <0|1>)',
    "tcp_async": 'modparam("proto_tcp", "tcp_async", <0|1>)',
    "tcp_poll_method": "poll_method",
    "fork": "removed in 3.1: OpenSIPS always forks workers; use -F to keep the main process in the foreground "
            "or debug_mode = yes",
    "debug": "log_level",
    "xlog_default_level": "xlog_print_level",
    "port": "give the port in the socket: socket = udp:IP:PORT",
    "user": "command-line -u <user>",
    "uid": "command-line -u <user>",
    "group": "command-line -g <group>",
    "gid": "command-line -g <group>",
    "disable_tcp": 'no parameter: TCP is off unless loadmodule "proto_tcp.so" and a tcp: socket are declared',
    "disable_tls": 'no parameter: TLS is off unless proto_tls, tls_mgm and a tls: socket are declared',
    "enable_tls": 'load "proto_tls.so", "tls_mgm.so" and a TLS library module, and declare socket = tls:IP:PORT',
    "enable_sctp": 'load "proto_sctp.so" and declare socket = sctp:IP:PORT',
    "tls_port_no": 'give the port in the socket (socket = tls:IP:PORT) or modparam("proto_tls", "tls_port", N)',
    "tls_method": 'modparam("tls_mgm", "tls_method", "[domain]TLSv1_2")',
    "tls_certificate": 'modparam("tls_mgm", "certificate", "[domain]/path/cert.pem")',
    "tls_private_key": 'modparam("tls_mgm", "private_key", "[domain]/path/key.pem")',
    "tls_ca_list": 'modparam("tls_mgm", "ca_list", "[domain]/path/ca.pem")',
    "tls_ciphers_list": 'modparam("tls_mgm", "ciphers_list", "[domain]...")',
    "tls_verify_client": 'modparam("tls_mgm", "verify_cert", "[domain]1")',
    "tls_verify_server": 'modparam("tls_mgm", "verify_cert", "[domain]1")',
    "tls_require_client_certificate": 'modparam("tls_mgm", "require_cert", "[domain]1")',
    "bin_listen": "socket = bin:IP:PORT (with proto_bin loaded)",
    "bin_children": "udp_workers / use_workers on the bin socket",
    "avp_aliases": "removed in 2.x: write $avp(name) directly",
}


# ---------------------------------------------------------------------------------------------------------
# Log levels (dprint.h); xlog("L_XXX", ...) is decided by the third character of the level string (route.c).

XLOG_LEVELS: dict[str, int] = {
    "L_ALERT": -3, "L_CRIT": -2, "L_ERR": -1, "L_WARN": 1, "L_NOTICE": 2, "L_INFO": 3, "L_DBG": 4,
}


# ---------------------------------------------------------------------------------------------------------
# Sockets (socket_info.h parse_proto, cfg.y socket_def).

# Protocol of a `socket = proto:...` line -> the module that must be loaded for it. proto_udp and proto_tcp
# are built into the core binary but still need their loadmodule.
SOCKET_PROTOCOLS: dict[str, str] = {
    "udp": "proto_udp", "tcp": "proto_tcp", "tls": "proto_tls", "sctp": "proto_sctp",
    "ws": "proto_ws", "wss": "proto_wss", "ipsec": "proto_ipsec",
    "bin": "proto_bin", "bins": "proto_bins",
    "hep_udp": "proto_hep", "hep_tcp": "proto_hep", "hep_tls": "proto_hep",
    "smpp": "proto_smpp", "msrp": "proto_msrp", "msrps": "proto_msrp",
}

# Protocols that not every version knows (the rest exist in all): msrp/msrps came in 3.3, ipsec and
# hep_tls in 3.5. 4.0 adds `bond:NAME {...}`, a socket group rather than a protocol.
SOCKET_PROTOCOL_SINCE: dict[str, str] = {"msrp": "3.4", "msrps": "3.4", "ipsec": "3.6", "hep_tls": "3.6"}

# Socket options and the first of our versions that accepts each.
SOCKET_OPTIONS: dict[str, str] = {
    "as": "3.2", "use_workers": "3.2", "anycast": "3.2", "tag": "3.2", "use_auto_scaling_profile": "3.2",
    "frag": "3.4", "reuse_port": "3.4",
    "accept_subdomain": "3.6", "tos": "3.6",
    "allow_proxy_protocol": "4.0", "send_proxy_protocol": "4.0", "proxy_protocol": "4.0",
}

# Options followed by a value, and what the value is. The others are bare words. `as`, `use_workers`,
# `tos` and `use_auto_scaling_profile` must have blanks on both sides (cfg.lex); the bare words also
# accept UPPERCASE, and the 4.0 proxy-protocol words accept `-` for `_` and may drop `_protocol`.
SOCKET_OPTION_VALUES: dict[str, str] = {
    "as": "host[:port]", "use_workers": "int", "tos": "int", "tag": "id", "use_auto_scaling_profile": "id",
}


# ---------------------------------------------------------------------------------------------------------
# Reserved words (cfg.lex): lexed as keywords wherever they appear, so `route(log)` or a host named
# `route.example.com` must be quoted.

_STATEMENT_WORDS: tuple[str, ...] = (
    "assert", "drop", "exit", "return", "log", "error", "route", "failure_route", "onreply_route",
    "branch_route", "error_route", "local_route", "startup_route", "timer_route", "event_route", "if", "else",
    "switch", "case", "default", "break", "while", "for", "in", "xlog", "xdbg", "async", "launch", "sync",
    "any", "loadmodule", "modparam", "mpath",
)
_SOCKET_WORDS_4_0: tuple[str, ...] = ("allow_proxy_protocol", "send_proxy_protocol", "proxy_protocol", "bond")
# Socket words reserved everywhere, and the first of our versions that lexes them.
_SOCKET_WORD_SINCE: dict[str, str] = {"anycast": "3.2", "frag": "3.4", "reuse_port": "3.4",
                                      "accept_subdomain": "3.6"}

# Words that are integer or null literals wherever they appear (`$var(x) = yes` sets 1).
LITERAL_WORDS: dict[str, int | None] = {
    "yes": 1, "true": 1, "on": 1, "enable": 1, "no": 0, "false": 0, "off": 0, "disable": 0,
    "null": None, "NULL": None,
}


def reserved_words(version: str) -> frozenset[str]:
    """The words one version lexes as keywords: statements, global-parameter names, socket flags."""
    words = set(_STATEMENT_WORDS)
    if _SINCE_3_4.includes(version):
        words |= {"readonly", "read-only", "expire"}
    words |= {p.name for p in GLOBAL_PARAMS if p.versions.includes(version)}
    words.add("tag")
    words |= {w for w, since in _SOCKET_WORD_SINCE.items() if VersionSpan(since=since).includes(version)}
    if _SINCE_4_0.includes(version):
        words |= set(_SOCKET_WORDS_4_0)
    return frozenset(words)


# Every word that some tracked version reserves: what a grammar parsing all four dialects must treat as a
# keyword. The linter asks reserved_words(target) for the exact set.
RESERVED_WORDS: frozenset[str] = frozenset().union(*(reserved_words(v) for v in VERSIONS))


# ---------------------------------------------------------------------------------------------------------
# Lookups.

class _Versioned(Protocol):
    name: str
    versions: VersionSpan


_Item = TypeVar("_Item", bound=_Versioned)


def _first_in(items: Iterable[_Item], name: str, version: str) -> _Item | None:
    for item in items:
        if item.name == name and item.versions.includes(version):
            return item
    return None


def global_param(name: str, version: str) -> GlobalParam | None:
    """The global parameter `name` as `version` knows it, or None when that version has no such keyword."""
    return _first_in(GLOBAL_PARAMS, name, version)


def pseudo_variable(name: str, version: str) -> PseudoVar | None:
    """The core PV `name` (with or without the leading `$`) in `version`, or None."""
    return _first_in(PSEUDO_VARIABLES, name.removeprefix("$"), version)


def transformation(name: str, version: str) -> Transformation | None:
    """The transformation `class.member` in `version`; the member is matched case-insensitively."""
    klass, dot, member = name.partition(".")
    return _first_in(TRANSFORMATIONS, klass + dot + member.lower(), version)


def core_function(name: str, version: str) -> Function | None:
    """The core function `name` in `version`, or None."""
    return _first_in(FUNCTIONS, name, version)


# ---------------------------------------------------------------------------------------------------------
# docs/core.md is generated from the tables above.

def _span_text(span: VersionSpan) -> str:
    present = [v for v in VERSIONS if span.includes(v)]
    if not present:
        return "none of " + "/".join(VERSIONS)
    if len(present) == len(VERSIONS):
        return "all"
    return "/".join(present)


def _arg_text(arg: Arg) -> str:
    text = f"{arg.name}: {arg.kind.value}"
    if arg.static:
        text += " (static)"
    if arg.choices:
        text += " (" + "|".join(arg.choices) + ")"
    return f"[{text}]" if arg.optional else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The reference page docs/core.md: every table of this file, one section each."""
    out = [
        "# OpenSIPS core: global parameters, functions, pseudo-variables, transformations",
        "",
        "Generated from `opensips_py/modules/core.py` (`python -m opensips_py.modules.core > docs/core.md`); "
        "the facts come from the OpenSIPS sources of 3.2.19, 3.4.18, 3.6.8 and 4.0.1. "
        "\"Versions\" lists the tracked versions (" + ", ".join(VERSIONS) + ") that accept the item.",
        "",
        "## Global parameters",
        "",
        "| Parameter | Kind | Versions | Deprecated in | Replaced by | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for p in GLOBAL_PARAMS:
        deprecated = _span_text(p.deprecated) if p.deprecated else ""
        out.append(f"| `{p.name}` | {p.kind.value} | {_span_text(p.versions)} | {deprecated} | "
                   f"{p.renamed_to or ''} | {_cell(p.doc)} |")
    out += ["", "Names that are not global parameters in any 3.x version, and what to write instead:", "",
            "| Name | Instead |", "|---|---|"]
    out += [f"| `{name}` | {_cell(hint)} |" for name, hint in NOT_GLOBAL_PARAMS.items()]
    out += ["", "## Sockets", "", "| Protocol | Module to load | Since |", "|---|---|---|"]
    out += [f"| `{proto}` | {module} | {SOCKET_PROTOCOL_SINCE.get(proto, VERSIONS[0])} |"
            for proto, module in SOCKET_PROTOCOLS.items()]
    out += ["", "| Socket option | Value | Since |", "|---|---|---|"]
    out += [f"| `{opt}` | {SOCKET_OPTION_VALUES.get(opt, '')} | {since} |" for opt, since in SOCKET_OPTIONS.items()]
    out += ["", "## Core functions", "",
            "All core functions may be called in every route type. Argument kinds: str (string or format), "
            "int, var (writable variable), flag (flag name); [optional].", "",
            "| Function | Arguments | Versions | Renamed to | Notes |", "|---|---|---|---|---|"]
    for f in FUNCTIONS:
        args = ", ".join(_arg_text(a) for a in f.args)
        out.append(f"| `{f.name}` | {_cell(args)} | {_span_text(f.versions)} | {f.renamed_to or ''} | "
                   f"{_cell(f.doc)} |")
    out += ["", "Statements that look like calls but are part of the grammar: " +
            ", ".join(f"`{k}`" for k in STATEMENT_KEYWORDS) + ".", "",
            "xlog levels: " + ", ".join(f"`{k}` = {v}" for k, v in XLOG_LEVELS.items()) + ".", "",
            "## Pseudo-variables", "",
            "W = writable. Argument: yes = `$name(arg)`, optional = both forms exist. Index: `$(name[n])`.", "",
            "| Variable | W | Argument | Index | Versions | Replaced by | Meaning |", "|---|---|---|---|---|---|---|"]
    for pv in PSEUDO_VARIABLES:
        arg = "optional" if pv.name in PV_ARG_OPTIONAL else ("yes" if pv.takes_arg else "")
        out.append(f"| `${pv.name}` | {'W' if pv.writable else ''} | {arg} | "
                   f"{'yes' if pv.name in PV_INDEXABLE else ''} | {_span_text(pv.versions)} | "
                   f"{_cell(pv.renamed_to or '')} | {_cell(pv.doc)} |")
    out += ["", "Not variables at all: " + ", ".join(f"`${k}` (use {v})" for k, v in NOT_PSEUDO_VARIABLES.items())
            + ".", "", "## Transformations", "",
            "Written `$(pv{class.member,arg,...})`; members are case-insensitive.", "",
            "| Transformation | Arguments | Versions |", "|---|---|---|"]
    for t in TRANSFORMATIONS:
        count = str(t.min_args) if t.min_args == t.max_args else f"{t.min_args}-{t.max_args}"
        out.append(f"| `{t.name}` | {count} | {_span_text(t.versions)} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
