"""router.rtt: round trip time from receiver reports about our sender reports."""

from __future__ import annotations

from router.rtt import RttEstimator


def test_round_trip_from_lsr_and_dlsr():
    rtt = RttEstimator(default_ms=100)
    ntp = 0xE000_0001_8000_0000
    rtt.sr_sent(ntp, now=10.0)
    lsr = RttEstimator.lsr_of(ntp)
    assert rtt.report(lsr, dlsr=int(0.5 * 65536), now=10.56) is not None
    assert abs(rtt.rtt_ms - 60.0) < 1.0
    rtt.sr_sent(ntp + (1 << 32), now=11.0)
    rtt.report(RttEstimator.lsr_of(ntp + (1 << 32)), dlsr=0, now=11.16)
    assert 60 < rtt.rtt_ms < 160  # smoothed toward the new sample


def test_reports_that_name_no_known_report_or_are_implausible_are_ignored():
    rtt = RttEstimator(default_ms=100)
    assert rtt.report(0, 0, now=1.0) is None
    assert rtt.report(0x1234, 0, now=1.0) is None
    rtt.sr_sent(0x0001_0002_0003_0004, now=5.0)
    assert rtt.report(RttEstimator.lsr_of(0x0001_0002_0003_0004), dlsr=10 * 65536, now=5.1) is None
    assert rtt.rtt_ms == 100 and rtt.samples == 0


def test_only_recent_reports_are_remembered():
    rtt = RttEstimator()
    for i in range(100):
        rtt.sr_sent(i << 16, now=float(i))
    assert rtt.report(1, 0, now=100.0) is None
    assert rtt.report(99, 0, now=99.05) is not None


def test_samples_are_exact_smoothed_counted_and_bounded():
    rtt = RttEstimator(default_ms=100)
    rtt.sr_sent(1 << 16, now=10.0)  # LSR 1: the smallest valid value
    assert rtt.report(1, dlsr=65536, now=11.25) == 250.0 and rtt.samples == 1  # 1.25 s minus 1 s held
    rtt.sr_sent(2 << 16, now=20.0)
    assert rtt.report(2, dlsr=0, now=20.0) == 0.8 * 250.0 + 0.2 * 0.0 and rtt.samples == 2  # zero is a sample
    rtt.sr_sent(3 << 16, now=30.0)
    assert rtt.report(3, dlsr=0, now=40.0) is None  # 10 s: implausible
    assert rtt.report(3, dlsr=65536 * 2, now=31.0) is None  # held longer than the round trip: negative
    assert rtt.report(3, dlsr=0, now=39.999) is not None and rtt.samples == 3


def test_a_report_sent_again_moves_to_the_newest_and_only_32_are_kept():
    rtt = RttEstimator()
    rtt.sr_sent(5 << 16, now=1.0)
    for i in range(6, 6 + 31):
        rtt.sr_sent(i << 16, now=2.0)
    rtt.sr_sent(5 << 16, now=3.0)  # the same LSR again: remembered from its latest sending
    rtt.sr_sent(100 << 16, now=3.0)  # 33 sent, 32 kept: the oldest (6) goes, not 5
    assert rtt.report(6, 0, now=3.1) is None
    assert rtt.report(5, 0, now=3.1) is not None and abs(rtt.rtt_ms - 100.0) < 1e-6
