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


def test_received_sorts_duplicates_late_packets_gaps_and_restarts_at_their_boundaries():
    tracker = NackTracker(max_gap=10)
    assert tracker.received(100, 0.0) == 0 and tracker.received(100, 0.0) == 0  # a duplicate of the first
    assert tracker.received(101, 0.0) == 0 and tracker.received(99, 0.0) == 0  # next; late
    assert tracker.received(111, 1.0) == GAP and tracker.missing == list(range(102, 111))  # a gap of exactly 10
    assert tracker.received(111, 1.0) == 0 and tracker.received(105, 2.0) == 0  # duplicate; a late one fills
    assert 105 not in tracker.missing
    assert tracker.received(111 + 11, 3.0) == RESTART and tracker.missing == []  # 11 ahead: a restart
    assert tracker.received(123, 3.0) == 0  # continues from the restart point
    half = NackTracker()
    half.received(0, 0.0)
    assert half.received(0x8000, 0.0) == 0 and half.missing == []  # half the space away counts as behind


def test_the_oldest_missing_packets_are_abandoned_when_too_many_are_missing():
    tracker = NackTracker(max_gap=100, max_missing=5)
    tracker.received(0, 0.0)
    assert tracker.received(6, 0.0) == GAP and tracker.missing == [1, 2, 3, 4, 5] and tracker.given_up == 0
    tracker.received(8, 0.0)
    assert tracker.missing == [2, 3, 4, 5, 7] and tracker.given_up == 1


def test_due_counts_requests_and_abandonments_and_waits_a_full_interval():
    tracker = NackTracker(min_interval_ms=20, max_age_ms=100, max_retries=100)
    tracker.received(0, 0.0)
    tracker.received(3, 0.0)
    assert tracker.due(0.0, rtt_ms=100) == [1, 2] and tracker.requested == 2
    assert tracker.due(109.0, rtt_ms=100) == []  # 1.1 x RTT is the interval
    assert tracker.due(111.0, rtt_ms=100) == [1, 2] and tracker.requested == 4
    assert tracker.due(300.0, rtt_ms=100) == [1, 2]  # still young: 3 x RTT = 300 ms beats the 100 ms floor
    assert tracker.due(301.0, rtt_ms=100) == [] and tracker.given_up == 2 and tracker.requested == 6
    tracker.received(5, 400.0)
    assert tracker.due(400.0, rtt_ms=1) == [4] and tracker.due(419.0, rtt_ms=1) == []
    assert tracker.due(420.0, rtt_ms=1) == [4] and tracker.requested == 8
    assert tracker.due(501.0, rtt_ms=1) == [] and tracker.given_up == 3


def test_recovered_clear_before_and_rerequest_at_their_edges():
    tracker = NackTracker(max_gap=10, max_missing=4)
    tracker.recovered(5)  # nothing tracked yet: harmless
    tracker.clear_before(5)
    assert not tracker.rerequest(5, 0.0)  # nothing received yet
    tracker.received(65534, 0.0)
    tracker.received(2, 0.0)  # 65535, 0, 1 missing across the wrap
    tracker.recovered(0)
    assert tracker.missing == [65535, 1]
    tracker.clear_before(1)
    assert tracker.missing == [1]
    assert not tracker.rerequest(1, 5.0)  # already wanted
    assert not tracker.rerequest(2, 5.0)  # the highest itself arrived
    assert tracker.rerequest(65535, 5.0)  # 3 behind: wanted again, asked at once
    assert tracker.due(5.0, rtt_ms=10) == [1, 65535]  # in the order they were wanted
    assert tracker.rerequest(65534, 5.0) and tracker.rerequest(65532, 5.0)  # exactly 10 behind (the gap limit)
    assert not tracker.rerequest(65531, 5.0)  # 11 behind: too old
    assert len(tracker.missing) == 4 and not tracker.rerequest(65533, 5.0)  # full
    fresh = NackTracker()
    fresh.received(10, 0.0)
    fresh.received(11, 0.0)
    fresh.recovered(9)  # nothing missing: nothing to do
    assert fresh.rerequest(9, 0.0) and fresh.due(0.0, rtt_ms=10) == [9] and fresh.requested == 1


def test_a_keyframe_clears_the_gaps_before_it_and_only_those():
    tracker = NackTracker()
    tracker.received(1, 0.0)
    tracker.received(5, 0.0)  # 2, 3, 4 missing
    tracker.received(9, 0.0)  # 6, 7, 8 missing
    tracker.clear_before(5)  # a keyframe starts at 5
    assert tracker.missing == [6, 7, 8]
    tracker.clear_before(9)
    assert tracker.missing == []
