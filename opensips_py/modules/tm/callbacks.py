"""Transaction callbacks: how other modules (dialog, acc, rr…) follow a transaction (OpenSIPS t_hooks.h).

A module registers a function for one or more TMCB types, either globally (TMCB.REQUEST_IN: every new UAS
transaction) or on one transaction. tm calls `fn(t, params)` synchronously at the matching point.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.modules.tm.transaction import Transaction


class TMCB(enum.IntFlag):
    """Callback types, named as OpenSIPS's TMCB_* (t_hooks.h)."""

    REQUEST_IN = 1 << 0
    RESPONSE_IN = 1 << 1
    E2EACK_IN = 1 << 2
    REQUEST_FWDED = 1 << 3
    REQUEST_OUT = 1 << 4
    RESPONSE_FWDED = 1 << 5
    ON_FAILURE = 1 << 6
    RESPONSE_PRE_OUT = 1 << 7
    RESPONSE_OUT = 1 << 8
    LOCAL_COMPLETED = 1 << 9
    TRANS_CANCELLED = 1 << 10
    TRANS_DELETED = 1 << 11


@dataclass(slots=True)
class TMCBParams:
    """What a callback gets besides the transaction (OpenSIPS's struct tmcb_params)."""

    type: TMCB
    request: Any = None        # opensips_py.sip.Request
    reply: Any = None          # opensips_py.sip.Response, or None for a local/faked reply
    code: int = 0
    branch: int = -1
    data: bytes | None = None  # what was sent, for the *_OUT types
    ctx: Any = None            # the script context when one is running


Callback = Callable[["Transaction", TMCBParams], None]


class CallbackList:
    """(types, fn) pairs; `types_set` lets the hot path skip a transaction with no interested callback."""

    __slots__ = ("entries", "types_set")

    def __init__(self) -> None:
        self.entries: list[tuple[int, Callback]] = []
        self.types_set = 0  # a plain int: enum flag operations are slow on the hot path

    def add(self, types: TMCB, fn: Callback) -> None:
        self.entries.append((int(types), fn))
        self.types_set |= int(types)

    def wants(self, kind: TMCB) -> bool:
        return bool(self.types_set & kind)


__all__ = ["TMCB", "TMCBParams", "Callback", "CallbackList"]
