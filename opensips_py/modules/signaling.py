"""signaling: one reply function that answers statefully when a transaction exists, else statelessly."""
from __future__ import annotations

from opensips_py.modules.exports import (
    E, F, R, Arg, ArgKind, Dependency, Function, ModuleExports, PseudoVar,
)

EXPORTS = ModuleExports(
    name="signaling",
    doc="send_reply(): t_reply when tm has a transaction, sl_send_reply otherwise. Registrar and auth "
        "reply through it.",
    functions=(
        Function(
            "send_reply", (Arg("code", ArgKind.INT), Arg("reason")), routes=R | F | E,
            doc="A quoted code (\"200\") is rejected: the code is an integer.",
        ),
    ),
    pvars=(
        PseudoVar("sig_local_totag", doc="The To-tag the next local reply will carry."),
    ),
    deps=(
        # Both are DEP_SILENT in the C; mod_init fails when neither is loaded.
        Dependency(("tm", "sl"), doc="At least one of tm or sl must be loaded."),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.script.pvars import Handler  # noqa: E402


class Module(ModuleBase):
    """send_reply(): statefully through tm when the request has a transaction, else through sl.

    The tm side is a contract for the tm module: it answers `has_transaction(ctx)` and implements
    `t_reply(ctx, code, reason)`. Until tm exists every reply here is stateless."""

    exports = EXPORTS

    def init(self) -> None:
        modules = getattr(self.core, "modules", {})
        self._sl = modules.get("sl")
        self._tm = modules.get("tm")
        if self._sl is None and self._tm is None:
            raise ModuleInitError("signaling: needs the sl module (or tm) loaded")

    def _stateful(self, ctx) -> bool:
        tm = self._tm
        return tm is not None and callable(getattr(tm, "has_transaction", None)) and tm.has_transaction(ctx)

    def send_reply(self, ctx, code: int, reason: str | None) -> int:
        if self._stateful(ctx):
            return self._tm.t_reply(ctx, code, reason)
        if self._sl is None:
            ctx.log(-1, "send_reply(): no transaction and no sl module to reply statelessly")
            return -1
        return self._sl.sl_send_reply(ctx, code, reason)

    def pvars(self) -> dict:
        def local_totag(ctx, arg, index):
            if self._stateful(ctx) and callable(getattr(self._tm, "local_to_tag", None)):
                return self._tm.local_to_tag(ctx)
            if self._sl is None or ctx.msg is None or not ctx.msg.is_request:
                return None
            return self._sl.to_tag(ctx.msg)

        return {"sig_local_totag": Handler("sig_local_totag", local_totag)}
