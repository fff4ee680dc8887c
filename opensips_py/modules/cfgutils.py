"""cfgutils: script utilities: random events, sleeps, script locks, shared variables, time recurrences."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, T, V, Arg, ArgKind, Function, MICommand, ModParam, ModuleExports, ParamType, PseudoVar,
    VersionSpan,
)

# Every route but error_route.
_ROUTES = R | F | O | B | L | S | T | V

EXPORTS = ModuleExports(
    name="cfgutils",
    doc="Helpers with no protocol role: probabilities (rand_*), sleeping (also async), named locks shared by "
        "all processes, shared variables ($shv), the config file hash, and RFC 5545 time recurrences.",
    functions=(
        Function("rand_event", (Arg("probability", ArgKind.INT, optional=True),), routes=_ROUTES,
                 doc="1 with the given (or the module's current) probability in percent, else -1."),
        Function("rand_set_prob", (Arg("probability", ArgKind.INT),), routes=_ROUTES,
                 doc="Set the module probability (0..100)."),
        Function("rand_reset_prob", (), routes=_ROUTES, doc="Back to initial_probability."),
        Function("rand_get_prob", (), routes=_ROUTES, doc="Log the current probability."),
        Function("sleep", (Arg("time", ArgKind.INT),), routes=_ROUTES, is_async=True,
                 doc="Block the process for time seconds (async: suspend the message instead)."),
        Function("usleep", (Arg("time", ArgKind.INT),), routes=_ROUTES, is_async=True,
                 doc="Block for time microseconds (async: suspend instead)."),
        Function("abort", (), routes=_ROUTES, doc="Abort OpenSIPS with a core dump (debugging)."),
        Function("pkg_status", (), routes=_ROUTES, doc="Log the process's private memory status."),
        Function("shm_status", (), routes=_ROUTES, doc="Log the shared memory status."),
        Function("set_count", (Arg("var_to_count", ArgKind.VAR), Arg("ret_var", ArgKind.VAR)), routes=_ROUTES,
                 doc="Count the values of an AVP (or indexed variable) into ret_var."),
        Function("set_select_weight", (Arg("int_list_var", ArgKind.VAR),), routes=_ROUTES,
                 doc="Roulette-wheel pick among integer weights; returns the chosen index."),
        Function(
            "get_accurate_time",
            (Arg("sec", ArgKind.VAR), Arg("usec", ArgKind.VAR), Arg("str_sec_usec", ArgKind.VAR, optional=True)),
            routes=_ROUTES, doc="Current time as seconds and microseconds (and a 'sec.usec' string).",
        ),
        Function(
            "ts_usec_delta",
            (Arg("t1_sec", ArgKind.INT), Arg("t1_usec", ArgKind.INT), Arg("t2_sec", ArgKind.INT),
             Arg("t2_usec", ArgKind.INT), Arg("delta_str", ArgKind.VAR)),
            routes=_ROUTES, versions=VersionSpan(until="3.4"),
            doc="Microseconds between two timestamps, as a string.",
        ),
        Function(
            "ts_usec_delta",
            (Arg("t1_sec", ArgKind.INT), Arg("t1_usec", ArgKind.INT), Arg("t2_sec", ArgKind.INT),
             Arg("t2_usec", ArgKind.INT), Arg("delta_str", ArgKind.VAR, optional=True),
             Arg("delta_int", ArgKind.VAR, optional=True)),
            routes=_ROUTES, versions=VersionSpan(since="3.4"),
            doc="Microseconds between two timestamps, as a string and/or an integer.",
        ),
        Function("check_time_rec", (Arg("time_rec"), Arg("timestamp", ArgKind.INT, optional=True)),
                 doc="1 if now (or timestamp) falls in the recurrence 'dtstart|dtend|duration|freq|until|…'."),
        Function("get_static_lock", (Arg("key"),), routes=_ROUTES,
                 doc="Take the lock named by key (meant for a literal: the lock is made at start-up)."),
        Function("release_static_lock", (Arg("key"),), routes=_ROUTES),
        Function("get_dynamic_lock", (Arg("key"),), routes=_ROUTES,
                 doc="Take one of lock_pool_size locks, chosen by hashing key."),
        Function("release_dynamic_lock", (Arg("key"),), routes=_ROUTES),
        Function("strings_share_lock", (Arg("key1"),), routes=_ROUTES,
                 doc="Whether two strings hash to the same dynamic lock. The docs show two keys, but the "
                     "export declares one parameter (3.2–4.0), so a two-key call does not parse."),
        Function("shuffle_avps", (Arg("name", ArgKind.VAR),), versions=VersionSpan(since="3.5"),
                 doc="Shuffle the values of an AVP in place."),
    ),
    params=(
        ModParam("initial_probability", ParamType.INT, 10, doc="Starting probability of rand_event, percent."),
        ModParam("hash_file", ParamType.STR, doc="File whose MD5 get_config_hash/check_config_hash report."),
        ModParam("shvset", ParamType.STR, repeatable=True,
                 doc='Initial $shv value: "name=i:1" (integer) or "name=s:text" (string).'),
        ModParam("varset", ParamType.STR, repeatable=True,
                 doc='Initial $var value for every process: "name=i:1" or "name=s:text".'),
        ModParam("shv_hash_size", ParamType.INT, 64, doc="Buckets of the $shv table."),
        ModParam("lock_pool_size", ParamType.INT, 32, doc="Number of dynamic locks."),
    ),
    pvars=(
        PseudoVar("RANDOM", doc="A random integer per read."),
        PseudoVar("shv", writable=True, takes_arg=True,
                  doc="$shv(name): a variable shared by all processes, kept until restart."),
        PseudoVar("ctime", takes_arg=True,
                  doc="$ctime(sec|min|hour|mday|mon|year|wday|yday): a field of the current local time."),
        PseudoVar("env", takes_arg=True, doc="$env(NAME): an environment variable."),
    ),
    mi=(
        MICommand("rand_set_prob", ("prob_proc",), alias_4_0="cfgutils:rand_set_prob"),
        MICommand("rand_reset_prob", (), alias_4_0="cfgutils:rand_reset_prob"),
        MICommand("rand_get_prob", (), alias_4_0="cfgutils:rand_get_prob"),
        MICommand("get_config_hash", (), alias_4_0="cfgutils:get_config_hash", doc="MD5 of hash_file."),
        MICommand("check_config_hash", (), alias_4_0="cfgutils:check_config_hash",
                  doc="Whether hash_file changed since start-up."),
        MICommand("shv_get", ("name",), alias_4_0="cfgutils:shv_get", doc="One $shv (name) or all of them."),
        MICommand("shv_set", ("name", "type", "value"), alias_4_0="cfgutils:shv_set",
                  doc='type is "int" or "str".'),
    ),
)
