"""rtpproxy: media relaying through Sippy rtpproxy daemons (SDP rewriting, recording, playback)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    VersionSpan,
)

_ROUTES = R | F | O | B | L
_SET = Arg("set_id", ArgKind.INT, optional=True)
_SOCK = Arg("sock_var", ArgKind.VAR, optional=True)


def _offer_answer(name: str) -> tuple[Function, ...]:
    """rtpproxy_offer/answer grew a body output (3.3) and a bind_local variable (4.0)."""
    base = (Arg("flags", optional=True), Arg("ip_address", optional=True), _SET, _SOCK,
            Arg("ret_var", ArgKind.VAR, optional=True))
    body = Arg("body_var", ArgKind.VAR, optional=True)
    doc = f"{name.split('_')[1]} side of a call: rewrite the SDP through the selected rtpproxy."
    return (
        Function(name, base, routes=_ROUTES, versions=VersionSpan(until="3.3"), doc=doc),
        Function(name, (*base, body), routes=_ROUTES, versions=VersionSpan(since="3.3", until="4.0"), doc=doc),
        Function(name, (*base, body, Arg("bind_local", ArgKind.VAR, optional=True)), routes=_ROUTES,
                 versions=VersionSpan(since="4.0"), doc=doc),
    )


EXPORTS = ModuleExports(
    name="rtpproxy",
    doc="Talks to rtpproxy daemons over their control socket (udp:/unix:), grouped in sets; "
        "rtpproxy_engage() handles offer and answer by itself through dialog callbacks.",
    functions=(
        *_offer_answer("rtpproxy_offer"),
        *_offer_answer("rtpproxy_answer"),
        Function(
            "rtpproxy_engage",
            (Arg("flags", optional=True), Arg("ip_address", optional=True), _SET, _SOCK,
             Arg("ret_var", ArgKind.VAR, optional=True)),
            routes=_ROUTES, doc="Offer now and the answer automatically (needs dialog).",
        ),
        Function("rtpproxy_unforce", (_SET, _SOCK), routes=_ROUTES, doc="Delete the session on the rtpproxy."),
        Function(
            "rtpproxy_start_recording",
            (_SET, _SOCK, Arg("flags", optional=True), Arg("destination", optional=True),
             Arg("mediastream", ArgKind.INT, optional=True)),
            routes=R | F | O | B,
        ),
        Function("rtpproxy_stream2uac", (Arg("prompt_name"), Arg("count", ArgKind.INT), _SET, _SOCK),
                 routes=R | O | L, doc="Play a prompt file to the caller count times (-1: forever)."),
        Function("rtpproxy_stream2uas", (Arg("prompt_name"), Arg("count", ArgKind.INT), _SET, _SOCK),
                 routes=R | O | L, doc="Play a prompt file to the callee."),
        Function("rtpproxy_stop_stream2uac", (_SET, _SOCK), routes=R | O | L),
        Function("rtpproxy_stop_stream2uas", (_SET, _SOCK), routes=R | O | L),
        Function(
            "rtpproxy_stats",
            (Arg("up_pvar", ArgKind.VAR), Arg("down_var", ArgKind.VAR), Arg("sent_var", ArgKind.VAR),
             Arg("fail_var", ArgKind.VAR), _SET, _SOCK),
            routes=_ROUTES, doc="Packet counters of the session.",
        ),
        Function("rtpproxy_all_stats", (Arg("stats_avp", ArgKind.VAR), _SET, _SOCK), routes=_ROUTES),
    ),
    params=(
        ModParam("rtpproxy_sock", ParamType.STR, repeatable=True,
                 doc='"[set_id ==] udp:host:port[=weight] unix:/path …": rtpproxies of a set.'),
        ModParam("default_set", ParamType.INT, 0),
        ModParam("nortpproxy_str", ParamType.STR, "a=nortpproxy:yes",
                 doc="SDP line marking a body as already handled."),
        ModParam("rtpproxy_disable_tout", ParamType.INT, 60, doc="Seconds a failed rtpproxy stays disabled."),
        ModParam("rtpproxy_retr", ParamType.INT, 5, doc="Retransmissions of a control command."),
        ModParam("rtpproxy_tout", ParamType.INT, -1, versions=VersionSpan(until="3.3")),
        ModParam("rtpproxy_timeout", ParamType.STR, doc='Seconds (a decimal string, default "1") to wait.'),
        ModParam("rtpproxy_autobridge", ParamType.INT, 0),
        ModParam("db_url", ParamType.STR, doc="Load rtpproxy sockets from a table instead."),
        ModParam("db_table", ParamType.STR, "rtpproxy_sockets"),
        ModParam("rtpp_socket_col", ParamType.STR, "rtpproxy_sock"),
        ModParam("set_id_col", ParamType.STR, "set_id"),
        ModParam("rtpp_notify_socket", ParamType.STR, doc="Socket where rtpproxy reports session timeouts."),
        ModParam("generated_sdp_port_min", ParamType.INT, 35000, versions=VersionSpan(since="3.3")),
        ModParam("generated_sdp_port_max", ParamType.INT, 65000, versions=VersionSpan(since="3.3")),
        ModParam("generated_sdp_media_ip", ParamType.STR, "127.0.0.1", versions=VersionSpan(since="3.3")),
    ),
    mi=(
        MICommand("rtpproxy_enable", ("url", "enable", "setid"), versions=VersionSpan(until="4.0"),
                  doc="Enable/disable an rtpproxy (setid optional). 4.0: rtpproxy:enable, no alias."),
        MICommand("rtpproxy_show", (), versions=VersionSpan(until="4.0"), doc="4.0: rtpproxy:show, no alias."),
        MICommand("rtpproxy_reload", (), versions=VersionSpan(until="4.0"),
                  doc="Reload from db_url. 4.0: rtpproxy:reload, no alias."),
        MICommand("enable", ("url", "enable", "setid"), versions=VersionSpan(since="4.0"),
                  alias_4_0="rtpproxy:enable"),
        MICommand("show", (), versions=VersionSpan(since="4.0"), alias_4_0="rtpproxy:show"),
        MICommand("reload", (), versions=VersionSpan(since="4.0"), alias_4_0="rtpproxy:reload"),
    ),
    deps=(
        Dependency(("tm",), doc="Declared DEP_ABORT."),
        Dependency(("db_*",), when_param="db_url"),
    ),
)


from opensips_py.modules.rtpproxy.module import Module  # noqa: E402

__all__ = ["EXPORTS", "Module"]
