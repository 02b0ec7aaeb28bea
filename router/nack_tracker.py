"""Packets missing from one incoming stream, asked for again until they come, or stop mattering.

A receiver that NACKs a gap only once loses the frame whenever that NACK or the retransmission is
lost too, and the video then waits for the next keyframe (measured: 5-7 freezes a minute at 3%
loss). Like libwebrtc's receiver, each missing packet is re-requested about once per round trip,
at most `max_retries` times and for at most `max_age_ms`. Gaps cost time in proportion to their
size only up to `max_gap`; a larger jump is a restart of the stream (a new keyframe is what helps),
so a hostile sender cannot make one packet cost thousands of steps.
"""

from __future__ import annotations

__all__ = ["GAP", "RESTART", "NackTracker"]

GAP = 1  # received() found new missing packets: send a NACK now
RESTART = 2  # the sequence jumped too far: forget the stream's past, ask for a keyframe

_MASK = 0xFFFF


class NackTracker:
    __slots__ = ("_highest", "_missing", "_max_gap", "_max_missing", "_max_retries", "_max_age_ms",
                 "_min_interval_ms", "given_up", "requested")

    def __init__(
        self,
        max_gap: int = 256,
        max_missing: int = 512,
        max_retries: int = 10,
        max_age_ms: float = 1000.0,
        min_interval_ms: float = 20.0,
    ) -> None:
        self._highest: int | None = None  # extended sequence number of the highest packet seen
        # extended seq -> [first missed (ms), last requested (ms), requests so far]
        self._missing: dict[int, list[float]] = {}
        self._max_gap = max_gap
        self._max_missing = max_missing
        self._max_retries = max_retries
        self._max_age_ms = max_age_ms
        self._min_interval_ms = min_interval_ms
        self.given_up = 0  # packets abandoned (too old or too many requests)
        self.requested = 0  # sequence numbers put in NACKs, retries included

    @property
    def missing(self) -> list[int]:
        """16-bit sequence numbers still wanted, oldest first."""
        return [ext & _MASK for ext in self._missing]

    def _extend(self, sequence: int) -> int:
        assert self._highest is not None
        delta = (sequence - self._highest) & _MASK
        return self._highest + delta if delta < 0x8000 else self._highest + delta - 0x10000

    def received(self, sequence: int, now_ms: float) -> int:
        """Note a received packet; GAP when new packets went missing, RESTART on a jump, else 0."""
        highest = self._highest
        if highest is None:
            self._highest = sequence + 0x10000  # room below for packets that arrive late
            return 0
        delta = (sequence - highest) & _MASK
        if delta == 1:
            self._highest = highest + 1
            return 0
        if delta == 0:
            return 0
        if delta >= 0x8000:  # behind the highest: late, reordered or retransmitted
            if self._missing:
                self._missing.pop(highest + delta - 0x10000, None)
            return 0
        if delta > self._max_gap:
            self._missing.clear()
            self._highest = highest + delta
            return RESTART
        missing = self._missing
        for ext in range(highest + 1, highest + delta):
            missing[ext] = [now_ms, -1e18, 0.0]
        self._highest = highest + delta
        excess = len(missing) - self._max_missing
        if excess > 0:
            for ext in list(missing)[:excess]:  # dicts keep insertion order: oldest first
                del missing[ext]
            self.given_up += excess
        return GAP

    def recovered(self, sequence: int) -> None:
        """A retransmission (RTX) brought `sequence`."""
        if self._missing and self._highest is not None:
            self._missing.pop(self._extend(sequence), None)

    def clear_before(self, sequence: int) -> None:
        """A keyframe starts at `sequence`: nothing older helps decoding any more."""
        if not self._missing or self._highest is None:
            return
        start = self._extend(sequence)
        for ext in [e for e in self._missing if e < start]:
            del self._missing[ext]

    def rerequest(self, sequence: int, now_ms: float) -> bool:
        """A subscriber asks for a packet the server never got: want it again if still recent."""
        if self._highest is None:
            return False
        ext = self._extend(sequence)
        if ext in self._missing or not 0 < self._highest - ext <= self._max_gap:
            return False
        if len(self._missing) >= self._max_missing:
            return False
        self._missing[ext] = [now_ms, -1e18, 0.0]
        return True

    def due(self, now_ms: float, rtt_ms: float) -> list[int]:
        """Sequence numbers to put in a NACK now (each about once per round trip), oldest first."""
        if not self._missing:
            return []
        interval = max(self._min_interval_ms, rtt_ms * 1.1)
        max_age = max(self._max_age_ms, 3.0 * rtt_ms)
        out: list[int] = []
        expired: list[int] = []
        for ext, entry in self._missing.items():
            if now_ms - entry[0] > max_age or entry[2] >= self._max_retries:
                expired.append(ext)
            elif now_ms - entry[1] >= interval:
                entry[1] = now_ms
                entry[2] += 1
                out.append(ext & _MASK)
        for ext in expired:
            del self._missing[ext]
        self.given_up += len(expired)
        self.requested += len(out)
        return out

    def reset(self) -> None:
        """The stream stalled or restarted: its old gaps are history."""
        self._missing.clear()
        self._highest = None
