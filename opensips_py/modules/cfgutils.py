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

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/cfgutils/{cfgutils,shvar,env_var}.c of OpenSIPS 3.4–4.0. opensips-py runs one
# process, so the shared variables are the process's and a script lock is always free when a route asks for
# it (routes never interleave): get_*_lock()/release_*_lock() return 1 without waiting. sleep()/usleep()
# block the process, as OpenSIPS's block the worker that runs them (here: the whole proxy); their async forms
# (async(sleep(n), route), launch(usleep(n), route)) wait on a timer of the runtime's clock and leave the
# proxy serving meanwhile. check_time_rec() reads time recurrences as the core's time_rec.c (modules/_timerec.py).

import hashlib as _hashlib  # noqa: E402
import os as _os  # noqa: E402
import random as _random  # noqa: E402
import time as _time  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

from opensips_py.mi import MIError  # noqa: E402
from opensips_py.mi.errors import invalid_params  # noqa: E402
from opensips_py.modules._timerec import TimeRecError, parse_timerec_expr  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.script.async_engine import Pending  # noqa: E402
from opensips_py.script.pvars import ALL, Handler  # noqa: E402

RAND_MAX = 2**31 - 1
_CTIME = {"sec": "tm_sec", "min": "tm_min", "hour": "tm_hour", "mday": "tm_mday", "mon": "tm_mon",
          "year": "tm_year", "wday": "tm_wday", "yday": "tm_yday"}


def parse_xvar(text: str) -> tuple[str, int | str]:
    """'name=i:1' / 'name=s:text' (shvset/varset) → (name, value)."""
    name, eq, rest = text.partition("=")
    kind, colon, value = rest.partition(":")
    if not eq or not colon or not name or kind.lower() not in ("i", "s"):
        raise ValueError(f"invalid variable definition {text!r} (want name=i:number or name=s:text)")
    if kind.lower() == "i":
        try:
            return name, int(value, 0)
        except ValueError as exc:
            raise ValueError(f"invalid integer in {text!r}") from exc
    return name, value


def _param(params, name: str, position: int):
    if isinstance(params, dict):
        return params.get(name)
    if isinstance(params, (list, tuple)) and len(params) > position:
        return params[position]
    return None


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        self.initial = self.int_param("initial_probability")
        if not 0 <= self.initial <= 100:
            raise ModuleInitError(f"cfgutils: invalid probability <{self.initial}>")
        self.probability = self.initial
        self.random = _random.Random()
        process = getattr(self.core, "process", None)
        self.shvars: dict = process.shvars if process is not None else {}
        try:
            for text in self.param_values("shvset"):
                name, value = parse_xvar(str(text))
                self.shvars[name] = value
            for text in self.param_values("varset"):
                name, value = parse_xvar(str(text))
                if process is not None:
                    process.vars[name] = value
        except ValueError as exc:
            raise ModuleInitError(f"cfgutils: {exc}") from exc
        self.hash_file = self.param("hash_file")
        self.config_hash = self._file_hash() if self.hash_file else None

    def _file_hash(self) -> str | None:
        try:
            return _hashlib.md5(_Path(str(self.hash_file)).read_bytes()).hexdigest()
        except OSError:
            return None

    # ---------------------------------------------------------------------------------- probabilities
    def rand_event(self, ctx, probability: int | None = None) -> int:
        """1 with `probability` percent (else the module's), -1 otherwise (rand()/RAND_MAX < p/100)."""
        prob = self.probability if probability is None else probability
        return 1 if self.random.randint(0, RAND_MAX) / RAND_MAX < prob / 100 else -1

    def rand_set_prob(self, ctx, probability: int) -> int:
        if not 0 <= probability <= 100:
            self.core.logger.log(-1, f"invalid probability <{probability}>", module="cfgutils")
            return -1
        self.probability = probability
        return 1

    def rand_reset_prob(self, ctx) -> int:
        self.probability = self.initial
        return 1

    def rand_get_prob(self, ctx) -> int:
        """The current probability as the return code (0 stops the script, as in OpenSIPS)."""
        return self.probability

    # ---------------------------------------------------------------------------------- sleeping
    def sleep(self, ctx, seconds: int) -> int:
        """m_sleep(): blocks (the whole single-process proxy) for `seconds`."""
        _time.sleep(max(0, seconds))
        return 1

    def usleep(self, ctx, useconds: int) -> int:
        _time.sleep(max(0, useconds) / 1e6)
        return 1

    def async_sleep(self, ctx, seconds: int):
        """async_sleep(): a timer on the runtime's clock resumes the script `seconds` later."""
        return self._wake_after(max(0, seconds))

    def async_usleep(self, ctx, useconds: int):
        return self._wake_after(max(0, useconds) / 1e6)

    def _wake_after(self, delay: float) -> Pending:
        pending = Pending(self.core)
        now = float(getattr(self.core, "now", 0.0))
        self.core.add_timer(now + delay, lambda _now: pending.resume(1))
        return pending

    # ---------------------------------------------------------------------------------- locks
    def check_time_rec(self, ctx, time_rec: str, timestamp: int | None = None) -> int:
        """1 when the moment (`timestamp`, else now) falls in the recurrence expression, -1 when it does not,
        -2 when the expression does not parse (_tmrec_expr_check_str)."""
        try:
            expr = parse_timerec_expr(time_rec)
        except TimeRecError as exc:
            ctx.log(-1, f"cfgutils: check_time_rec(): {exc}")
            return -2
        now = timestamp if timestamp is not None else self._wall_clock()
        return 1 if expr.matches(int(now)) else -1

    def _wall_clock(self) -> float:
        """Epoch seconds: the runtime's clock when it is a wall clock (the virtual one may be), else the system's."""
        now = float(getattr(self.core, "now", 0.0) or 0.0)
        return now if now > 1e9 else _time.time()

    def get_static_lock(self, ctx, key: str) -> int:
        return 1

    def release_static_lock(self, ctx, key: str) -> int:
        return 1

    def get_dynamic_lock(self, ctx, key: str) -> int:
        return 1

    def release_dynamic_lock(self, ctx, key: str) -> int:
        return 1

    # ---------------------------------------------------------------------------------- sets and time
    @staticmethod
    def _all_values(ctx, ref) -> list:
        values = ref.handler.get(ctx, ref._arg(ctx), ALL)
        if values is None:
            return []
        return list(values) if isinstance(values, list) else [values]

    def set_count(self, ctx, var_to_count, ret_var) -> int:
        """How many values the variable has (an AVP's stack); the count also goes to ret_var."""
        count = len(self._all_values(ctx, var_to_count))
        ret_var.set(ctx, count)
        return 1

    def set_select_weight(self, ctx, int_list_var) -> int:
        """Roulette-wheel pick among the integer weights of the variable: the index chosen (0 for a single
        value, which stops the script as in OpenSIPS); -1 for no values or a value that is not an integer."""
        weights = []
        for value in self._all_values(ctx, int_list_var):
            if not isinstance(value, int):
                self.core.logger.log(-1, "select weight on a variable set containing not only integer values",
                                     module="cfgutils")
                return -1
            weights.append(max(0, value))
        if not weights:
            return -1
        if len(weights) == 1:
            return 0
        total = sum(weights)
        if total <= 0:
            return -1
        point = self.random.randrange(total)
        for index, weight in enumerate(weights):
            if point < weight:
                return index
            point -= weight
        return -1

    def shuffle_avps(self, ctx, name) -> int:
        values = self._all_values(ctx, name)
        if len(values) < 2:
            return 1
        self.random.shuffle(values)
        store = ctx.avps.get(name._arg(ctx)) if isinstance(getattr(ctx, "avps", None), dict) else None
        if store is None:
            return -1
        store[:] = values
        return 1

    def get_accurate_time(self, ctx, sec, usec, str_sec_usec=None) -> int:
        now = _time.time()
        seconds, micro = int(now), int((now - int(now)) * 1_000_000)
        sec.set(ctx, seconds)
        usec.set(ctx, micro)
        if str_sec_usec is not None:
            str_sec_usec.set(ctx, f"{seconds}.{micro:06d}")
        return 1

    def ts_usec_delta(self, ctx, t1_sec: int, t1_usec: int, t2_sec: int, t2_usec: int, delta_str=None,
                      delta_int=None) -> int:
        delta = abs((t1_sec * 1_000_000 + t1_usec) - (t2_sec * 1_000_000 + t2_usec))
        if delta_str is not None:
            delta_str.set(ctx, str(delta))
        if delta_int is not None:
            delta_int.set(ctx, delta)
        return 1

    # ---------------------------------------------------------------------------------- variables
    def pvars(self) -> dict:
        def random_value(ctx, arg, index):
            return self.random.randint(0, RAND_MAX)

        def shv_get(ctx, arg, index):
            return self.shvars.get(arg) if arg else None

        def shv_set(ctx, arg, index, value, op):
            if not arg:
                return
            if value is None:
                self.shvars[arg] = 0  # OpenSIPS: NULL sets the integer 0
            elif isinstance(value, (int, str)):
                self.shvars[arg] = value
            else:
                self.shvars[arg] = str(value)

        def ctime(ctx, arg, index):
            field = _CTIME.get(arg or "")
            if field is None:
                return None
            value = getattr(_time.localtime(), field)
            return value - 1 if arg == "mon" else (value - 1900 if arg == "year" else
                                                     (value + 1) % 7 if arg == "wday" else
                                                     value - 1 if arg == "yday" else value)

        def env(ctx, arg, index):
            return _os.environ.get(arg) if arg else None

        return {"RANDOM": Handler("RANDOM", random_value), "shv": Handler("shv", shv_get, shv_set),
                "ctime": Handler("ctime", ctime), "env": Handler("env", env)}

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict:
        return {"rand_set_prob": self._mi_set_prob, "rand_reset_prob": self._mi_reset_prob,
                "rand_get_prob": lambda params: {"actual probability percent": self.probability},
                "shv_get": self._mi_shv_get, "shv_set": self._mi_shv_set,
                "get_config_hash": self._mi_get_hash, "check_config_hash": self._mi_check_hash}

    def _mi_set_prob(self, params):
        value = _param(params, "prob_proc", 0)
        try:
            percent = int(value)
        except (TypeError, ValueError):
            raise invalid_params("Bad type for parameter 'prob_proc'") from None
        if not 0 <= percent <= 100:
            raise MIError(400, "Bad parameter value")
        self.probability = percent
        return "OK"

    def _mi_reset_prob(self, params):
        self.probability = self.initial
        return "OK"

    @staticmethod
    def _var_item(name: str, value) -> dict:
        kind = "integer" if isinstance(value, int) else "string"
        return {"name": name, "type": kind, "value": value}

    def _mi_shv_get(self, params):
        name = _param(params, "name", 0)
        if name is None:
            return {"VARs": [self._var_item(n, v) for n, v in self.shvars.items()]}
        if name not in self.shvars:
            raise MIError(404, "Not found")
        return {"VAR": self._var_item(str(name), self.shvars[name])}

    def _mi_shv_set(self, params):
        name, kind, value = (_param(params, "name", 0), _param(params, "type", 1), _param(params, "value", 2))
        if not name:
            raise MIError(500, "bad shv name")
        if not kind:
            raise MIError(500, "type not found")
        if str(kind)[0] in "sS":
            if value is None or str(value) == "":
                raise MIError(500, "value not found")
            self.shvars[str(name)] = str(value)
        else:
            try:
                self.shvars[str(name)] = int(value)
            except (TypeError, ValueError):
                raise invalid_params("Bad type for parameter 'value'") from None
        return "OK"

    def _mi_get_hash(self, params):
        if not self.hash_file:
            raise MIError(404, "Functionality disabled")
        return self.config_hash

    def _mi_check_hash(self, params):
        if not self.hash_file:
            raise MIError(404, "Functionality disabled")
        current = self._file_hash()
        if current is None:
            raise MIError(500, "Internal error")
        if current == self.config_hash:
            return "The actual config file hash is identical to the stored one."
        raise MIError(400, "The actual config file hash is not identical to the stored one.")
