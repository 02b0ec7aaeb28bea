"""What the router needs of a participant's connection: a way to send, and what is known of the path.

The connection (sfu/connection.py) implements `Link`; producers send their feedback to the
publisher through it, consumers send media to the subscriber through it. Keeping this a small
protocol lets the packet path be tested byte for byte without a network.
"""

from __future__ import annotations

from typing import Protocol

from router.rtt import RttEstimator

__all__ = ["Link", "RetransmitBudget"]


class RetransmitBudget:
    """How many bytes of retransmissions one subscriber may cause, refilled with what it receives.

    NACKs are cheap to send and each can name hundreds of packets; without a budget one
    subscriber's NACK storm costs the server's CPU and everyone's latency (measured: 230 KB of
    NACKs produced 280 MB of retransmissions). The refill is `ratio` times the rate the subscriber
    is being sent (at least `floor_bps`), with one second of burst.
    """

    __slots__ = ("_ratio", "_floor", "_rate", "_tokens", "_at", "refused")

    def __init__(self, ratio: float = 0.5, floor_bps: float = 256_000) -> None:
        self._ratio = ratio
        self._floor = floor_bps / 8.0
        self._rate = self._floor  # bytes per second
        self._tokens = self._rate
        self._at: float | None = None
        self.refused = 0

    def set_receive_rate(self, bits_per_second: float) -> None:
        self._rate = max(self._floor, self._ratio * bits_per_second / 8.0)

    def spend(self, size: int, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < size:
            self.refused += 1
            return False
        self._tokens -= size
        return True


class Link(Protocol):
    rtt: RttEstimator
    retransmit_budget: RetransmitBudget

    def send_rtp(self, data: bytes) -> None: ...

    def send_rtcp(self, data: bytes) -> bool:
        """False when nothing could be sent (the transport is not up yet)."""
        ...
