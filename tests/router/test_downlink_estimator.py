"""router.downlink_estimator: the send-side estimate toward a subscriber, on synthetic feedback.

Feedback is built with `router.twcc.build_feedback` (the same bytes a browser sends, checked byte
by byte in test_twcc.py) and parsed back, so each scenario goes through the wire format.
"""

from __future__ import annotations

import random

from router.downlink_estimator import MAX_BPS, MIN_BPS, DownlinkEstimator, SentPackets, TrendlineDetector
from router.twcc import build_feedback, parse_feedback_fci

PACKET = 1200  # bytes
PER_TICK = 10  # packets sent every 10 ms: 9.6 Mbit/s offered


class Link:
    """A synthetic downlink: `capacity_bps` drains a FIFO queue; `loss` drops at random."""

    def __init__(self, capacity_bps: float, loss: float = 0.0, seed: int = 1) -> None:
        self.capacity_bps = capacity_bps
        self.loss = loss
        self.rng = random.Random(seed)
        self.free_at_us = 0

    def arrival(self, sent_us: int) -> int | None:
        if self.rng.random() < self.loss:
            return None
        start = max(sent_us, self.free_at_us)
        self.free_at_us = start + int(PACKET * 8 / self.capacity_bps * 1e6)
        return self.free_at_us + 20_000  # plus 20 ms propagation


def run(estimator: DownlinkEstimator, link: Link, seconds: float, start_us: int = 0, sequence: int = 0,
        rate_bps: float | None = None) -> tuple[int, int]:
    """Send for `seconds` (at `rate_bps`, default PER_TICK packets per 10 ms), feedback every 50 ms."""
    now_us = start_us
    arrivals: list[int | None] = []
    base = sequence
    end = start_us + int(seconds * 1e6)
    per_tick = PER_TICK if rate_bps is None else max(1, round(rate_bps / 8 / PACKET / 100))
    while now_us < end:
        for _ in range(per_tick):
            estimator.sent.record(sequence & 0xFFFF, now_us, PACKET)
            arrivals.append(link.arrival(now_us))
            sequence += 1
        now_us += 10_000
        if now_us % 50_000 == 0 and any(a is not None for a in arrivals):
            packet = build_feedback(1, 2, base & 0xFFFF, arrivals, 0)
            estimator.on_feedback(parse_feedback_fci(packet), now_us / 1e6)
            base, arrivals = sequence, []
    return now_us, sequence


def test_sent_packets_forget_what_a_newer_packet_overwrote():
    sent = SentPackets(capacity=4)
    sent.record(1, 100, 10)
    assert sent.lookup(1) == (100, 10)
    sent.record(5, 200, 20)  # same slot
    assert sent.lookup(1) is None and sent.lookup(5) == (200, 20) and sent.lookup(9) is None


def test_steady_delay_is_normal_and_a_rising_delay_is_overuse():
    steady = TrendlineDetector()
    for i in range(100):
        assert steady.update(5.0, 5.0, 20.0 + 5 * i) == "normal"
    rising = TrendlineDetector()
    states = [rising.update(5.0, 6.0, 20.0 + 6 * i) for i in range(100)]  # the queue grows 1 ms per group
    assert "overuse" in states
    falling = TrendlineDetector()
    for i in range(30):
        falling.update(5.0, 6.0, 6.0 * i)
    assert [falling.update(5.0, 3.0, 200 + 3.0 * i) for i in range(30)][-1] == "underuse"


def test_a_link_that_carries_everything_is_never_congested_and_the_estimate_grows():
    estimator = DownlinkEstimator(start_bps=1_000_000)
    now_us, _ = run(estimator, Link(capacity_bps=100e6), 10.0, rate_bps=2_000_000)
    assert estimator.overuses == 0 and estimator.loss_decreases == 0
    assert not estimator.congested(now_us / 1e6)
    assert 2_000_000 < estimator.estimate_bps <= 1.5 * estimator.acked_bps() + 10_000


def test_a_full_link_backs_off_to_below_its_capacity():
    estimator = DownlinkEstimator(start_bps=5_000_000)
    now_us, _ = run(estimator, Link(capacity_bps=2_000_000), 3.0)  # 9.6 Mbit/s into a 2 Mbit/s link
    assert estimator.overuses > 0
    assert estimator.congested(now_us / 1e6)
    assert estimator.estimate_bps < 2_000_000
    assert not estimator.congested(now_us / 1e6 + 5)  # a decrease counts as congestion only for a while


def test_steady_loss_below_ten_percent_is_not_congestion():
    estimator = DownlinkEstimator(start_bps=1_000_000)
    now_us, _ = run(estimator, Link(capacity_bps=100e6, loss=0.03, seed=3), 10.0, rate_bps=1_000_000)
    assert estimator.loss_decreases == 0 and not estimator.congested(now_us / 1e6)
    assert 0.01 < estimator.loss_fraction < 0.06


def test_heavy_loss_lowers_the_estimate_and_it_recovers_when_loss_stops():
    estimator = DownlinkEstimator(start_bps=2_000_000)
    now_us, sequence = run(estimator, Link(capacity_bps=100e6, loss=0.3, seed=4), 4.0, rate_bps=2_000_000)
    assert estimator.loss_decreases >= 3 and estimator.congested(now_us / 1e6)
    low = estimator.estimate_bps
    assert low < 0.75 * 2_000_000  # GCC: times (1 - loss / 2) per second of loss above 10%
    run(estimator, Link(capacity_bps=100e6), 10.0, start_us=now_us, sequence=sequence, rate_bps=2_000_000)
    assert estimator.estimate_bps > 1.6 * low  # 8% a second while loss stays below 2%


def test_hostile_feedback_is_counted_once_bounded_and_clamped():
    estimator = DownlinkEstimator(start_bps=1_000_000)
    for sequence in range(100):
        estimator.sent.record(sequence, sequence * 1_000, PACKET)
    # arrival times that go backwards and jump by hours, repeated: no exception, bounds kept
    garbage = [((-1) ** i) * 3_000_000_000 + i for i in range(100)]
    arrivals: list[int | None] = [abs(t) for t in garbage]
    packet = build_feedback(1, 2, 0, arrivals, 0)
    for repeat in range(5):
        estimator.on_feedback(parse_feedback_fci(packet), 1.0 + repeat)
    assert MIN_BPS <= estimator.estimate_bps <= MAX_BPS
    # packets we never sent are ignored: nothing counted as received or lost
    other = DownlinkEstimator()
    other.on_feedback(parse_feedback_fci(build_feedback(1, 2, 500, [1_000, None, 2_000], 0)), 1.0)
    assert other.acked_bps() is None and other.loss_fraction == 0.0 and other.overuses == 0
