"""Round-trip time of one connection, from receiver reports about the sender reports we sent.

RFC 3550 6.4.1: a report block echoes the middle 32 bits of our last SR's NTP time (LSR) and the
delay since it arrived (DLSR). The SRs we send carry the publisher's NTP time (translated
reports), so the LSR is looked up among the reports we sent rather than read as a clock.
The NACK retry schedule and the keyframe logic pace themselves with this figure.
"""

from __future__ import annotations

__all__ = ["RttEstimator"]

_KEEP = 32  # sender reports remembered (a few seconds of them)


class RttEstimator:
    __slots__ = ("_sent", "rtt_ms", "samples")

    def __init__(self, default_ms: float = 100.0) -> None:
        self._sent: dict[int, float] = {}  # LSR value -> when that SR left (seconds, monotonic)
        self.rtt_ms = default_ms
        self.samples = 0

    @staticmethod
    def lsr_of(ntp_timestamp: int) -> int:
        return (ntp_timestamp >> 16) & 0xFFFFFFFF

    def sr_sent(self, ntp_timestamp: int, now: float) -> None:
        lsr = self.lsr_of(ntp_timestamp)
        sent = self._sent
        sent.pop(lsr, None)
        sent[lsr] = now
        if len(sent) > _KEEP:
            del sent[next(iter(sent))]

    def report(self, lsr: int, dlsr: int, now: float) -> float | None:
        """A report block about one of our streams; returns the new estimate (ms) when it gave a sample."""
        if lsr == 0:
            return None
        sent_at = self._sent.get(lsr)
        if sent_at is None:
            return None
        sample = (now - sent_at - dlsr / 65536.0) * 1000.0
        if not 0.0 <= sample < 10_000.0:
            return None
        self.rtt_ms = sample if self.samples == 0 else 0.8 * self.rtt_ms + 0.2 * sample
        self.samples += 1
        return self.rtt_ms
