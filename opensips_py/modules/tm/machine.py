"""The decisions of a proxy transaction, as pure functions over its state (RFC 3261 §16.7, §17).

Theory of operation. A tm transaction is a server transaction (towards the caller: the UAS side) glued to one
client transaction per branch (the UAC sides). OpenSIPS does not name the §17 states; it derives them from two
numbers, and so do we:

    client transaction (one per branch)            server transaction
    last_received == 0      Calling / Trying       status == 0        (no reply sent yet)
    100 <= last < 200       Proceeding             100 <= status < 200   Proceeding
    last >= 200             Completed              status >= 200      Completed (waiting for the ACK of a
                                                                      negative INVITE reply, or on wait)

Every reply from a branch goes through `should_relay()` (OpenSIPS's t_should_relay_response()), which decides
from those numbers whether the reply is relayed upstream now, stored until the other branches finish, or
discarded; the retransmission timers follow `RETRANSMISSION_STEPS`. The winner among final replies ≥ 300 is
picked by `branch_prio()`: 6xx first, then 3xx, 401, 407, 415, 420, 484, other 4xx, 5xx, 408, and 503 last;
a 487 wins outright when the caller cancelled.

Source: OpenSIPS modules/tm/t_reply.c (t_should_relay_response, branch_prio, t_pick_branch) and timer.c.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Sequence


class RPS(enum.IntEnum):
    """Reply processing status (t_reply.h enum rps)."""

    ERROR = 0
    PUSHED_AFTER_COMPLETION = 1  # a 2xx to an INVITE after a final reply went upstream: relayed too
    DISCARDED = 2                # too late, a retransmission, or a 100
    STORE = 3                    # a final >= 300 kept until the other branches finish
    PROVISIONAL = 4              # a 1xx (relayed unless it is a 100)
    COMPLETED = 5                # the transaction's final reply was decided
    RELAY = 6                    # a 2xx relayed while other branches go on (allow-no-cancel)


@dataclass(slots=True)
class Decision:
    """What to do with a reply before branch picking: `relay_current` sends this reply upstream,
    `pick` asks the caller to store it and pick a winner among the branches (a final >= 300),
    `cancel_pending` CANCELs the branches still waiting, `block_new_branches` stops serial forking (6xx)."""

    rps: RPS
    relay_current: bool = False
    pick: bool = False
    cancel_pending: bool = False
    block_new_branches: bool = False


def branch_prio(code: int, cancelled: bool) -> int:
    """The rank of a final reply among the branches' (lower wins): branch_prio() of t_reply.c."""
    first = code // 100
    if first in (1, 2):
        return code
    if first == 6:
        return code - 300
    if first == 3:
        return code + 100
    if first == 5:
        return 801 if code == 503 else code + 200
    if first == 4:
        special = {401: 500, 407: 501, 415: 502, 420: 503, 484: 504, 408: 800}
        if code in special:
            return special[code]
        if code == 487 and cancelled:
            return 0
        return code + 200
    return code + 200


@dataclass(slots=True)
class BranchView:
    """What picking needs of a branch: its last status, whether it is a real branch, whether it is minor."""

    last_received: int
    active: bool = True  # a branch with nothing sent (failed before sending) is skipped
    minor: bool = False  # minor_branch_flag: not waited for


def pick_branch(branches: Sequence[BranchView], first: int, cancelled: bool) -> tuple[int, bool]:
    """t_pick_branch(): the winning branch among branches[first:], -2 when some are still open, -1 when none
    qualifies; and whether minor branches still open should be cancelled."""
    best, best_prio = -1, 999
    cancel_minor = False
    for index in range(first, len(branches)):
        branch = branches[index]
        if not branch.active:
            continue
        last = branch.last_received
        if last < 200:
            if branch.minor:
                cancel_minor = True
                continue
            return -2, False
        prio = branch_prio(last, cancelled)
        if best == -1 or prio < best_prio:
            best, best_prio = index, prio
    return best, cancel_minor


def should_relay(*, is_invite: bool, uas_status: int, branch_last: int, new_code: int, multi_2xx: bool = False,
                 all_completed: bool = False, disable_6xx_block: bool = False) -> Decision:
    """t_should_relay_response() up to branch picking, as a table:

    | situation                                              | decision                                   |
    |--------------------------------------------------------|--------------------------------------------|
    | allow-no-cancel INVITE, a 2xx already sent, new >= 300 | DISCARDED                                  |
    | allow-no-cancel INVITE, a 2xx already sent, new 2xx    | relay; COMPLETED when no branch is open     |
    | a final reply already sent upstream, new 2xx (INVITE)  | PUSHED_AFTER_COMPLETION, relay              |
    | a final reply already sent upstream, anything else     | DISCARDED                                  |
    | this branch already had a final (not 2xx→2xx INVITE)   | DISCARDED (retransmission, 487 after a 408) |
    | new >= 300                                             | pick (6xx: cancel the others, no new branch)|
    | new 2xx                                                | COMPLETED, relay, cancel the open branches  |
    | new 101-199                                            | PROVISIONAL, relay                          |
    | new 100                                                | PROVISIONAL, not relayed                    |
    """
    inv_through = is_invite and 200 <= new_code < 300
    if is_invite and new_code >= 200 and multi_2xx and 200 <= uas_status < 300:
        if new_code >= 300:
            return Decision(RPS.DISCARDED)
        return Decision(RPS.COMPLETED if all_completed else RPS.RELAY, relay_current=True)
    if uas_status >= 200:
        if inv_through:
            return Decision(RPS.PUSHED_AFTER_COMPLETION, relay_current=True)
        return Decision(RPS.DISCARDED)
    if branch_last >= 200 and not (inv_through and branch_last < 300):
        return Decision(RPS.DISCARDED)
    if new_code >= 300:
        block = new_code >= 600 and not disable_6xx_block
        return Decision(RPS.STORE, pick=True, cancel_pending=block, block_new_branches=block)
    if new_code >= 200:
        if multi_2xx and not all_completed:
            return Decision(RPS.RELAY, relay_current=True)
        return Decision(RPS.COMPLETED, relay_current=True, cancel_pending=not multi_2xx)
    if new_code >= 100:
        return Decision(RPS.PROVISIONAL, relay_current=new_code != 100)
    return Decision(RPS.DISCARDED)


# -------------------------------------------------------------------------------------- retransmissions

class RetrList(enum.IntEnum):
    """The retransmission lists of timer.h: T1, 2·T1, 4·T1, then T2 for ever (until the FR timer)."""

    T1_TO_1 = 0
    T1_TO_2 = 1
    T1_TO_3 = 2
    T2 = 3


# list -> (the list after it fires, the interval of the list given T1 and T2, in seconds)
RETRANSMISSION_STEPS: dict[RetrList, RetrList] = {
    RetrList.T1_TO_1: RetrList.T1_TO_2,
    RetrList.T1_TO_2: RetrList.T1_TO_3,
    RetrList.T1_TO_3: RetrList.T2,
    RetrList.T2: RetrList.T2,
}

# the statistic a request retransmission counts under, by the list it was sent from
RETRANSMISSION_STAT = {
    RetrList.T1_TO_1: "retransmission_req_T1_1",
    RetrList.T1_TO_2: "retransmission_req_T1_2",
    RetrList.T1_TO_3: "retransmission_req_T1_3",
    RetrList.T2: "retransmission_req_T2",
}


def retr_interval(which: RetrList, t1: float, t2: float) -> float:
    """Seconds a list waits: T1, 2·T1, 4·T1 (OpenSIPS sets these from T1_timer at start-up), T2."""
    if which == RetrList.T2:
        return t2
    return t1 * (1 << int(which))


__all__ = ["RPS", "Decision", "branch_prio", "BranchView", "pick_branch", "should_relay", "RetrList",
           "RETRANSMISSION_STEPS", "RETRANSMISSION_STAT", "retr_interval"]
