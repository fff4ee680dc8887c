"""The asynchronous engine: `async(f(…), resume_route)` and `launch(f(…), report_route[, param])` with
functions that really wait (OpenSIPS's async.c and tm/async.c).

A module offers the asynchronous form of its script function `f` as a method `async_f(ctx, *args)` taking
the same arguments as `f` (see ModuleBase). It returns either
- an int: the work completed at once (OpenSIPS's ASYNC_SYNC / ASYNC_NO_IO); that is its return code, or
- a `Pending`: the work goes on; the module calls `pending.resume(rc)` exactly once when it completes,
  from a callback the core runs (a timer of `core.add_timer()`, a reply, a module task via
  `core.call_soon()`). resume() may be called from anywhere: outside the core's processing it is
  deferred to the core's next turn.

What the engine does with a Pending:
- `async()` in a request route (OpenSIPS's t_handle_async): the request gets its transaction (tm's
  t_newtran() when there is none: a retransmission stops the script, an error runs the resume route at once
  with -1), the script stops there and the worker is free: other messages keep flowing. The message's
  context (MsgContext: R-URI, $du, flags, AVPs, module state with the transaction) is saved; while it waits,
  the core's post-script hooks (tm's t_unref, dialog's cleanup) see no module state and leave the
  transaction alone, and a retransmission of the request is absorbed by tm. When the function completes,
  the resume route runs on that same context (`$rc` = the function's return code), then the post-script
  hooks (`after_request_route` of each module), unless the resume route suspended again.
- `async()` anywhere else (failure, branch, onreply, local, timer… routes): OpenSIPS runs the function in
  sync mode there, and so do we: the synchronous form is called, then the resume route.
- `launch()`: the script goes on at once (return code 1); when the function completes, the report route
  runs as a request route on a context of its own with no message (OpenSIPS's dummy request), no AVPs,
  and `$param(1)` = the launch parameter.

A function whose module has no `async_f` runs synchronously in both statements, as before.
"""
from __future__ import annotations

from typing import Any, Callable

from opensips_py.modules.exports import RouteType
from opensips_py.script.context import MsgContext

RouteBody = Callable[[MsgContext, list], int]
Start = Callable[[MsgContext], "int | Pending"]
SyncCall = Callable[[MsgContext], int]

# the key a suspended context keeps in its (emptied) module_state while it waits
SUSPENDED = "_async_suspended"


class Pending:
    """Work an async function started and will finish later. The module keeps it and calls `resume(rc)`
    once; the engine attaches what runs then with `then()`."""

    __slots__ = ("_core", "_continuation", "_rc", "_done", "cancelled")

    def __init__(self, core: Any = None) -> None:
        self._core = core
        self._continuation: Callable[[int], None] | None = None
        self._rc = 1
        self._done = False
        self.cancelled = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def rc(self) -> int:
        """The return code the work completed with (1 until then)."""
        return self._rc

    def resume(self, rc: int = 1) -> None:
        """The work completed with return code `rc`: run the continuation (once)."""
        if self._done:
            return
        self._done = True
        self._rc = rc
        self._run()

    def then(self, continuation: Callable[[int], None], core: Any = None) -> None:
        """What to run when the work completes (at once if it already has)."""
        self._continuation = continuation
        if core is not None:
            self._core = core
        if self._done:
            self._run()

    def _run(self) -> None:
        continuation = self._continuation
        if continuation is None:
            return
        self._continuation = None
        core = self._core
        rc = self._rc
        if core is not None and not getattr(core, "processing", True) and hasattr(core, "call_soon"):
            core.call_soon(lambda now: continuation(rc))  # outside a core turn: sends need its outbox
        else:
            continuation(rc)


def _core(ctx: MsgContext) -> Any:
    return ctx.process.core


def _reset_flow(ctx: MsgContext) -> None:
    ctx.exit = False
    ctx.returning = False
    ctx.breaking = False
    ctx.drop = False


def run_async(ctx: MsgContext, start: Start | None, sync_call: SyncCall, resume: RouteBody) -> int:
    """The `async(f(…), resume_route)` statement. Always ends the calling route (returns 0, ctx.exit)."""
    if start is None or ctx.route_type != RouteType.REQUEST or ctx.msg is None or not ctx.msg.is_request:
        return _sync_then_resume(ctx, sync_call, resume)
    core = _core(ctx)
    tm = _tm(core)
    if tm is not None and ctx.msg.method != "ACK":
        created = tm.t_newtran(ctx)  # -10: this request has its transaction already
        if created == 0:  # a retransmission (tm sent the last reply again) or an absorbed ACK: no resume
            ctx.exit = True
            return 0
        if created < 0 and created != -10:
            return _resume_now(ctx, -1, resume)
    _reset_flow(ctx)
    result = start(ctx)
    if not isinstance(result, Pending):
        return _resume_now(ctx, 1 if result is None else int(result), resume)
    if result.done:
        return _resume_now(ctx, result.rc, resume)
    saved_state = ctx.module_state
    ctx.module_state = {SUSPENDED: True}
    ctx.exit = True
    ctx.retcode = 0
    route_type = ctx.route_type

    def continue_route(rc: int) -> None:
        ctx.module_state = saved_state
        ctx.route_type = route_type
        ctx.route_stack = []
        ctx.route_params = []
        _reset_flow(ctx)
        ctx.retcode = rc
        resume(ctx, [])
        if ctx.module_state.get(SUSPENDED):
            return  # the resume route suspended again: the hooks run after the last resume
        if core is not None:
            for module in getattr(core, "modules", {}).values():
                finish = getattr(module, "after_request_route", None)
                if callable(finish):
                    finish(ctx)

    result.then(continue_route, core)
    return 0


def run_launch(ctx: MsgContext, start: Start | None, sync_call: SyncCall, report: RouteBody | None,
               param: Callable[[MsgContext], Any] | None) -> int:
    """The `launch(f(…), report_route[, param])` statement: 1, the script goes on."""
    text = param(ctx) if param is not None else None
    saved_exit = ctx.exit
    if start is None:
        rc = sync_call(ctx)
        ctx.exit = saved_exit
        ctx.returning = False
        if report is not None:
            _report(ctx, report, rc, text)
        ctx.retcode = 1
        return 1
    result = start(ctx)
    ctx.exit = saved_exit
    ctx.retcode = 1
    if report is None:
        return 1
    if not isinstance(result, Pending):
        _report(ctx, report, 1 if result is None else int(result), text)
        return 1
    result.then(lambda rc: _report(ctx, report, rc, text), _core(ctx))
    return 1


def _report(origin: MsgContext, report: RouteBody, rc: int, text: Any) -> None:
    """The report route of a launched job: a request route over no message, with its own AVPs."""
    ctx = MsgContext(None, RouteType.REQUEST, origin.process)
    ctx.retcode = rc
    report(ctx, [] if text is None else [text])


def _sync_then_resume(ctx: MsgContext, sync_call: SyncCall, resume: RouteBody) -> int:
    rc = sync_call(ctx)
    return _resume_now(ctx, rc, resume)


def _resume_now(ctx: MsgContext, rc: int, resume: RouteBody) -> int:
    _reset_flow(ctx)
    ctx.retcode = rc
    resume(ctx, [])
    ctx.exit = True  # the calling route ends at async()
    return 0


def _tm(core: Any) -> Any:
    modules = getattr(core, "modules", None) or {}
    tm = modules.get("tm") if isinstance(modules, dict) else None
    if tm is None or not callable(getattr(tm, "t_newtran", None)) or not callable(getattr(tm, "transaction", None)):
        return None
    return tm


__all__ = ["Pending", "run_async", "run_launch", "SUSPENDED"]
