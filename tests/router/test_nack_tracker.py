"""router.nack_tracker: missing packets re-requested once per round trip, within limits."""

from __future__ import annotations

from router.nack_tracker import GAP, RESTART, NackTracker


def test_a_gap_is_requested_at_once_then_about_once_per_round_trip():
    tracker = NackTracker()
    assert tracker.received(10, 0.0) == 0
    assert tracker.received(13, 1.0) == GAP
    assert tracker.due(1.0, rtt_ms=50) == [11, 12]
    assert tracker.due(30.0, rtt_ms=50) == []  # asked 29 ms ago: too soon
    assert tracker.due(60.0, rtt_ms=50) == [11, 12]
    tracker.received(11, 61.0)  # the retransmission arrived
    assert tracker.due(130.0, rtt_ms=50) == [12]


def test_requests_stop_after_the_retry_limit_and_the_age_limit():
    tracker = NackTracker(max_retries=3, max_age_ms=10_000)
    tracker.received(1, 0.0)
    tracker.received(3, 0.0)
    asked = sum(len(tracker.due(t * 100.0, rtt_ms=20)) for t in range(10))
    assert asked == 3 and tracker.missing == [] and tracker.given_up == 1
    aged = NackTracker(max_retries=100, max_age_ms=500)
    aged.received(1, 0.0)
    aged.received(3, 0.0)
    asked = sum(len(aged.due(t * 100.0, rtt_ms=20)) for t in range(10))
    assert asked == 6 and aged.missing == []  # 0, 100, ..., 500 ms; then too old


def test_retry_interval_follows_the_round_trip_time_with_a_floor():
    tracker = NackTracker(min_interval_ms=20)
    tracker.received(1, 0.0)
    tracker.received(3, 0.0)
    tracker.due(0.0, rtt_ms=5)
    assert tracker.due(15.0, rtt_ms=5) == [] and tracker.due(21.0, rtt_ms=5) == [2]
    slow = NackTracker()
    slow.received(1, 0.0)
    slow.received(3, 0.0)
    slow.due(0.0, rtt_ms=300)
    assert slow.due(250.0, rtt_ms=300) == [] and slow.due(340.0, rtt_ms=300) == [2]


def test_wraparound_reordering_and_duplicates():
    tracker = NackTracker()
    tracker.received(65534, 0.0)
    assert tracker.received(1, 0.0) == GAP  # 65535 and 0 missing across the wrap
    assert tracker.missing == [65535, 0]
    tracker.received(0, 1.0)
    tracker.received(0, 1.0)
    assert tracker.missing == [65535]
    tracker.recovered(65535)
    assert tracker.missing == []


def test_a_large_jump_costs_nothing_and_restarts():
    tracker = NackTracker(max_gap=256)
    tracker.received(1, 0.0)
    assert tracker.received(20_000, 0.0) == RESTART
    assert tracker.missing == []
    assert tracker.received(20_001, 0.0) == 0


def test_the_list_of_missing_packets_is_bounded():
    tracker = NackTracker(max_gap=256, max_missing=300)
    seq = 0
    tracker.received(seq, 0.0)
    for _ in range(5):
        seq += 250
        tracker.received(seq, 0.0)
    assert len(tracker.missing) == 300 and tracker.given_up == 5 * 249 - 300


def test_a_keyframe_clears_what_came_before_it():
    tracker = NackTracker()
    tracker.received(1, 0.0)
    tracker.received(5, 0.0)
    tracker.received(9, 0.0)
    tracker.clear_before(7)
    assert tracker.missing == [7, 8]


def test_a_subscriber_can_bring_back_a_recent_packet_but_not_an_ancient_one():
    tracker = NackTracker(max_gap=256)
    tracker.received(1000, 0.0)
    tracker.received(1001, 0.0)
    assert tracker.rerequest(990, 5.0) and tracker.missing == [990]
    assert not tracker.rerequest(990, 5.0)
    assert not tracker.rerequest(100, 5.0)
    assert not tracker.rerequest(1005, 5.0)  # not even sent yet
