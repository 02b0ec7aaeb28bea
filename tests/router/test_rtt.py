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
