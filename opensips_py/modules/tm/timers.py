"""tm's timer lists: OpenSIPS-style FIFO lists, one per duration, behind one core timer.

A transaction arms and disarms timers all the time (a retransmission timer and a final-response timer per
branch, reset on every reply; a wait timer per transaction). OpenSIPS keeps one list per timeout kind, in
which a new timer always goes last, so arming is an append and the head is always the next to fire. We do
the same with one insertion-ordered dict per duration: arming appends, disarming removes the entry at once
(so a cancelled 120 s timer leaves nothing behind, neither its transaction nor itself), and the core holds a
single timer for the earliest head. The core's heap therefore never fills up with the thousands of timers a
busy proxy sets and cancels.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any, Callable


class TimerEntry:
    """One armed timer: `fn(arg, now)` at `when`. `fn` is None once fired or disarmed."""

    __slots__ = ("when", "seq", "fn", "arg", "lst")

    def __init__(self, when: float, seq: int, fn: Callable[[Any, float], None], arg: Any,
                 lst: "OrderedDict[TimerEntry, None]") -> None:
        self.when = when
        self.seq = seq
        self.fn: Callable[[Any, float], None] | None = fn
        self.arg = arg
        self.lst: OrderedDict[TimerEntry, None] | None = lst

    @property
    def armed(self) -> bool:
        return self.fn is not None


class TimerLists:
    """Timers by duration over one core timer. `core` needs `now`, `add_timer(when, cb)` and
    `_internal_error(exc, where)`-style error reporting through `on_error`."""

    def __init__(self, core: Any, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._core = core
        self._lists: dict[float, OrderedDict[TimerEntry, None]] = {}
        self._seq = itertools.count()
        self._wakeup: Any = None  # the core timer handle (has .when, .cancelled)
        self._on_error = on_error

    def arm(self, delay: float, fn: Callable[[Any, float], None], arg: Any = None) -> TimerEntry:
        """Run `fn(arg, now)` `delay` seconds from now."""
        when = self._core.now + delay
        found = self._lists.get(delay)
        if found is None:
            found = self._lists[delay] = OrderedDict()
        entry = TimerEntry(when, next(self._seq), fn, arg, found)
        found[entry] = None
        wakeup = self._wakeup
        if wakeup is None or wakeup.cancelled or when < wakeup.when:
            self._schedule(when)
        return entry

    @staticmethod
    def disarm(entry: TimerEntry | None) -> None:
        if entry is not None and entry.lst is not None:
            entry.lst.pop(entry, None)
            entry.fn = entry.arg = entry.lst = None

    def pending(self) -> int:
        """Armed timers (a test and statistics aid)."""
        return sum(len(found) for found in self._lists.values())

    # ---------------------------------------------------------------------------------- internals
    def _schedule(self, when: float) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.cancelled = True
        self._wakeup = self._core.add_timer(when, self._fire)

    def _next_due(self) -> tuple["OrderedDict[TimerEntry, None] | None", float]:
        best = None
        best_key = (float("inf"), 0)
        for found in self._lists.values():
            if found:
                head = next(iter(found))
                key = (head.when, head.seq)
                if key < best_key:
                    best, best_key = found, key
        return best, best_key[0]

    def _fire(self, now: float) -> None:
        self._wakeup = None
        for _ in range(1_000_000):  # bounded: a callback re-arming at `now` still ends
            found, when = self._next_due()
            if found is None or when > now:
                break
            entry, _ = found.popitem(last=False)
            fn, arg = entry.fn, entry.arg
            entry.fn = entry.arg = entry.lst = None
            try:
                fn(arg, now)
            except Exception as exc:  # noqa: BLE001 - one bad timer must not stop the others
                if self._on_error is None:
                    raise
                self._on_error(exc)
        for delay in [d for d, found in self._lists.items() if not found]:
            del self._lists[delay]
        _found, when = self._next_due()
        if when != float("inf"):
            wakeup = self._wakeup
            if wakeup is None or wakeup.cancelled or when < wakeup.when:
                self._schedule(when)


__all__ = ["TimerEntry", "TimerLists"]
