"""maxfwd: the Max-Forwards check every proxy does first (RFC 3261 §16.3 step 3)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, R, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="maxfwd",
    doc="Max-Forwards processing.",
    functions=(
        Function(
            "mf_process_maxfwd_header", (Arg("max", ArgKind.INT),), routes=R,
            doc="2: header absent, `Max-Forwards: max` added; 1: found and decremented (clamped to "
                "max_limit first); -1: value is 0 (reply 483); -2: parse error.",
        ),
        Function(
            "is_maxfwd_lt", (Arg("max", ArgKind.INT),), routes=R | F | B,
            doc="1: value < max; -1: value >= max; -2: no header; -3: error.",
        ),
    ),
    params=(
        ModParam("max_limit", ParamType.INT, 256, doc="Upper bound for the received value."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation
# Semantics read in modules/maxfwd/maxfwd.c and mf_funcs.c (OpenSIPS 3.6/4.0).

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.runtime.sanity import header_index  # noqa: E402
from opensips_py.sip import SIPParseError  # noqa: E402

MAXFWD_UPPER_LIMIT = 256


class Module(ModuleBase):
    """Max-Forwards processing (RFC 3261 §16.3 step 3, §16.6 step 3)."""

    exports = EXPORTS

    def init(self) -> None:
        self.max_limit = self.int_param("max_limit")
        if not 1 <= self.max_limit <= MAXFWD_UPPER_LIMIT:
            raise ModuleInitError(f"maxfwd: invalid max_limit ({self.max_limit}), must be in [1,"
                                  f"{MAXFWD_UPPER_LIMIT}]")

    def _check_max(self, ctx, value: int) -> bool:
        # OpenSIPS checks this in the fixup, at start-up; a value computed at run time is checked here
        if not 1 <= value <= MAXFWD_UPPER_LIMIT or value > self.max_limit:
            ctx.log(-1, f"maxfwd: invalid value {value}: must be in [1,{min(MAXFWD_UPPER_LIMIT, self.max_limit)}]")
            return False
        return True

    @staticmethod
    def _present(ctx) -> int:
        """The current value (the one this message already decremented, if any); -1 absent, -2 broken."""
        stored = ctx.module_state.get("maxfwd")
        if stored is not None:
            return stored
        try:
            value = ctx.msg.max_forwards
        except SIPParseError:
            return -2
        if value is None:
            return -1
        if value > 65535:  # OpenSIPS reads it with str2s(): larger values are a parse error
            return -2
        return value

    def mf_process_maxfwd_header(self, ctx, limit: int) -> int:
        """2: absent, `Max-Forwards: limit` added first; 1: decremented; -1: it is 0; -2: error."""
        if ctx.msg is None or not ctx.msg.is_request or not self._check_max(ctx, limit):
            return -2
        value = self._present(ctx)
        if value == -1:
            ctx.msg.add_header("Max-Forwards", str(limit), first=True)
            return 2
        if value == -2:
            return -2
        if value == 0:
            return -1
        if value > self.max_limit:
            # maxfwd.c: the value becomes max_limit+1 before the decrement, so max_limit is sent
            value = self.max_limit + 1
        value -= 1
        ctx.module_state["maxfwd"] = value
        ctx.msg.replace_field(header_index(ctx.msg)["max-forwards"][0], str(value))
        return 1

    def is_maxfwd_lt(self, ctx, limit: int) -> int:
        """1: value < limit; -1: value >= limit; -2: no header; -3: error."""
        if ctx.msg is None or not ctx.msg.is_request or not self._check_max(ctx, limit):
            return -3
        value = self._present(ctx)
        if value < 0:
            return value - 1
        return -1 if value >= limit else 1
