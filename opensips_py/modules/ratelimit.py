"""ratelimit: named rate-limiting pipes (taildrop, RED, slot-based, network load, feedback)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, E, F, L, O, R, T, V, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    PseudoVar, VersionSpan,
)

_ROUTES = R | F | O | B | E | L | T | V
_ALGORITHMS = ("TAILDROP", "RED", "SBT", "NETWORK", "FEEDBACK")

EXPORTS = ModuleExports(
    name="ratelimit",
    doc="Each pipe counts the calls of rl_check() per timer_interval and refuses above its limit "
        "(given per second). Pipe names ending /s are shared over cachedb_url, /b over the clusterer.",
    functions=(
        Function("rl_check",
                 (Arg("name"), Arg("limit", ArgKind.INT), Arg("algorithm", optional=True, choices=_ALGORITHMS)),
                 routes=_ROUTES, doc="Count one more and check the pipe (created on first use); -1 over limit."),
        Function("rl_dec_count", (Arg("name"),), routes=_ROUTES, doc="Take back one count (declined calls)."),
        Function("rl_reset_count", (Arg("name"),), routes=_ROUTES, doc="Zero the pipe's counter."),
        Function("rl_values", (Arg("ret_avp", ArgKind.VAR), Arg("regexp", ArgKind.REGEX, optional=True)),
                 versions=VersionSpan(since="3.6"), doc="Names of the pipes (matching regexp) into ret_avp."),
    ),
    params=(
        ModParam("timer_interval", ParamType.INT, 10, doc="Seconds of one counting window."),
        ModParam("limit_per_interval", ParamType.INT, 0,
                 doc="Read limits as per timer_interval instead of per second."),
        ModParam("expire_time", ParamType.INT, 3600, doc="Seconds an unused pipe is kept."),
        ModParam("hash_size", ParamType.INT, 1024, doc="Buckets of the pipe table."),
        ModParam("default_algorithm", ParamType.STR, "TAILDROP", doc=", ".join(_ALGORITHMS) + "."),
        ModParam("cachedb_url", ParamType.STR, doc="Backend shared by pipes named …/s."),
        ModParam("db_prefix", ParamType.STR, "rl_pipe_", doc="Key prefix of shared pipes."),
        ModParam("repl_buffer_threshold", ParamType.INT, 32767, doc="Bytes buffered before replicating."),
        ModParam("repl_timer_interval", ParamType.INT, 10, versions=VersionSpan(until="3.3"),
                 doc="Milliseconds between replication rounds."),
        ModParam("repl_timer_interval", ParamType.INT, 200, versions=VersionSpan(since="3.3"),
                 doc="Milliseconds between replication rounds."),
        ModParam("repl_timer_expire", ParamType.INT, 10, doc="Seconds a replicated count stays valid."),
        ModParam("pipe_replication_cluster", ParamType.INT, 0, doc="Cluster that …/b pipes replicate in."),
        ModParam("bridge_replication", ParamType.INT, 0, versions=VersionSpan(since="4.0"),
                 doc="Replicate pipes across clusterer bridges."),
        ModParam("bridge_repl_timer_interval", ParamType.INT, 500, versions=VersionSpan(since="4.0")),
        ModParam("bridge_repl_timer_expire", ParamType.INT, 20, versions=VersionSpan(since="4.0")),
        ModParam("window_size", ParamType.INT, 10, doc="SBT: seconds of the sliding window."),
        ModParam("slot_period", ParamType.INT, 200, doc="SBT: milliseconds of one slot."),
    ),
    pvars=(
        PseudoVar("rl_count", takes_arg=True, doc="$rl_count(pipe): the pipe's current counter."),
    ),
    mi=(
        MICommand("rl_list", ("pipe",), versions=VersionSpan(until="3.3"),
                  doc="Pipes and counters (one pipe, optional)."),
        MICommand("rl_list", ("pipe", "filter", "filter_out"), versions=VersionSpan(since="3.3"),
                  alias_4_0="ratelimit:list", doc="Pipes and counters; give at most one of the parameters."),
        MICommand("rl_reset_pipe", ("pipe",), alias_4_0="ratelimit:reset_pipe"),
        MICommand("rl_set_pid", ("ki", "kp", "kd"), alias_4_0="ratelimit:set_pid", doc="FEEDBACK controller."),
        MICommand("rl_get_pid", (), alias_4_0="ratelimit:get_pid"),
        MICommand("rl_dump_pipe", ("pipe",), alias_4_0="ratelimit:dump_pipe"),
    ),
    deps=(
        Dependency(("cachedb_*",), when_param="cachedb_url"),
        Dependency(("clusterer",), when_param="pipe_replication_cluster", unless_values=(0,)),
    ),
)
