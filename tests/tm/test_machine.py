"""The pure decisions of tm (machine.py): branch priorities, picking, the reply table, retransmission steps."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opensips_py.modules.tm.machine import (
    RETRANSMISSION_STEPS, RPS, BranchView, RetrList, branch_prio, pick_branch, retr_interval, should_relay,
)


def best(codes: list[int], cancelled: bool = False) -> int:
    index, _ = pick_branch([BranchView(code) for code in codes], 0, cancelled)
    return codes[index]


def test_6xx_beats_everything_final():
    assert best([486, 603, 302, 500]) == 603


def test_503_loses_even_to_408():
    assert best([503, 408]) == 408
    assert best([503, 500]) == 500


def test_auth_challenges_win_over_other_4xx_and_401_over_407():
    assert best([404, 407, 401]) == 401
    assert best([486, 407]) == 407


def test_3xx_wins_over_4xx_and_5xx():
    assert best([486, 302, 500]) == 302


def test_487_wins_only_when_the_caller_cancelled():
    assert best([486, 487]) == 486
    assert best([486, 487], cancelled=True) == 487


def test_picking_waits_while_a_branch_is_open_unless_it_is_minor():
    assert pick_branch([BranchView(486), BranchView(180)], 0, False) == (-2, False)
    index, cancel_minor = pick_branch([BranchView(486), BranchView(180, minor=True)], 0, False)
    assert (index, cancel_minor) == (0, True)


def test_picking_starts_at_the_first_branch_of_the_current_set():
    assert pick_branch([BranchView(603), BranchView(486)], 1, False) == (1, False)


@given(st.integers(min_value=300, max_value=699), st.integers(min_value=300, max_value=699))
def test_priority_is_a_total_order_that_puts_6xx_first(a: int, b: int):
    if a // 100 == 6 and b // 100 != 6:
        assert branch_prio(a, False) < branch_prio(b, False)


def test_a_100_is_not_relayed_but_other_provisionals_are():
    assert should_relay(is_invite=True, uas_status=0, branch_last=0, new_code=100).relay_current is False
    decision = should_relay(is_invite=True, uas_status=100, branch_last=100, new_code=180)
    assert (decision.rps, decision.relay_current) == (RPS.PROVISIONAL, True)


def test_a_2xx_completes_and_cancels_the_open_branches():
    decision = should_relay(is_invite=True, uas_status=180, branch_last=180, new_code=200)
    assert (decision.rps, decision.relay_current, decision.cancel_pending) == (RPS.COMPLETED, True, True)


def test_a_2xx_after_the_final_reply_is_still_relayed_for_invite_only():
    assert should_relay(is_invite=True, uas_status=200, branch_last=200, new_code=200).rps == \
        RPS.PUSHED_AFTER_COMPLETION
    assert should_relay(is_invite=False, uas_status=200, branch_last=200, new_code=200).rps == RPS.DISCARDED


def test_a_final_after_a_final_on_the_same_branch_is_discarded():
    assert should_relay(is_invite=True, uas_status=180, branch_last=408, new_code=487).rps == RPS.DISCARDED


def test_a_negative_reply_asks_for_picking_and_a_6xx_blocks_new_branches():
    decision = should_relay(is_invite=True, uas_status=100, branch_last=180, new_code=486)
    assert (decision.pick, decision.block_new_branches) == (True, False)
    decision = should_relay(is_invite=True, uas_status=100, branch_last=180, new_code=603)
    assert (decision.pick, decision.block_new_branches, decision.cancel_pending) == (True, True, True)
    assert should_relay(is_invite=True, uas_status=100, branch_last=180, new_code=603,
                        disable_6xx_block=True).block_new_branches is False


def test_retransmission_intervals_double_from_t1_then_stay_at_t2():
    intervals, which = [], RetrList.T1_TO_1
    for _ in range(6):
        intervals.append(retr_interval(which, 0.5, 4.0))
        which = RETRANSMISSION_STEPS[which]
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
