"""router.link.RetransmitBudget: the bytes of retransmissions one subscriber may cause, and its refill."""

from __future__ import annotations

from router.link import RetransmitBudget


def test_the_budget_starts_with_one_second_at_the_floor_and_refills_with_time():
    budget = RetransmitBudget(ratio=0.5, floor_bps=80_000)  # 10 000 bytes a second
    assert budget.spend(6_000, 100.0) and budget.spend(4_000, 100.0)  # exactly one second's worth
    assert not budget.spend(1, 100.0) and budget.refused == 1
    assert not budget.spend(2_001, 100.2) and budget.refused == 2  # 0.2 s refilled 2 000 bytes
    assert budget.spend(2_000, 100.2)
    assert not budget.spend(1, 100.2) and budget.refused == 3
    assert budget.spend(10_000, 200.0) and not budget.spend(1, 200.0)  # a long pause refills one second, no more


def test_the_refill_follows_what_the_subscriber_is_sent_but_never_drops_below_the_floor():
    budget = RetransmitBudget(ratio=0.5, floor_bps=80_000)
    budget.set_receive_rate(1_600_000)  # half of 200 000 bytes a second
    budget.spend(10_000, 0.0)  # the first second's tokens were at the floor
    assert budget.spend(100_000, 1.0) and not budget.spend(1, 1.0)
    budget.set_receive_rate(8_000)  # below the floor: the floor holds
    assert budget.spend(5_000, 1.5) and not budget.spend(1, 1.5)
