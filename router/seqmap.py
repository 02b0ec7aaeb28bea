"""Per-consumer sequence-number and timestamp mapping.

A consumer sees one continuous RTP stream even though the packets come from a source that may
be paused, switched or restarted. Within one run of a source the mapping is a constant offset,
so the consumer sees the source's own reordering and loss gaps (it needs them to send NACKs).
Across a pause (`skip`) or a source change the output continues at the last sequence number + 1:
SRTP replay protection and rollover counting in the browser need a monotonic sequence.
"""

from __future__ import annotations

import random

__all__ = ["SequenceRewriter"]

_SEQ_MOD = 1 << 16
_SEQ_MASK = _SEQ_MOD - 1
_TS_MASK = (1 << 32) - 1
_TS_HALF = 1 << 31

#: Packets further behind the highest one seen are dropped: they cannot be placed.
MAX_MISORDER = 1000
#: A forward jump larger than this (in one source) is a restart, not a loss gap.
MAX_DROPOUT = 3000
_WINDOW = 1024  # > MAX_MISORDER: duplicate detection ring
_WINDOW_MASK = _WINDOW - 1


class SequenceRewriter:
    """Maps (ssrc, seq, ts) of the forwarded source to the consumer's (seq, ts) space.

    Sequence numbers are handled as extended (unwrapped) integers inside, so 16-bit wraparound
    needs no special case; timestamps are mapped modulo 2^32 with a constant offset.
    """

    __slots__ = (
        "_clock_rate",
        "_ssrc",
        "_seq_offset",
        "_ts_offset",
        "_max_in",
        "_base_in",
        "_last_in_ts",
        "_last_out",
        "_last_out_ts",
        "_last_time",
        "_skipping",
        "_seen",
        "_bad_seq",
        "_started",
        "_ts_hint",
        "runs",
    )

    def __init__(
        self,
        clock_rate: int,
        *,
        initial_sequence: int | None = None,
        initial_timestamp: int | None = None,
    ) -> None:
        """`initial_*` pin the random starting point (tests); by default seq < 32768, ts random."""
        if clock_rate <= 0:
            raise ValueError("clock_rate must be positive")
        self._clock_rate = clock_rate
        start = random.randint(1, 0x7FFF) if initial_sequence is None else initial_sequence & _SEQ_MASK
        self._last_out = start - 1  # extended output sequence of the highest packet sent
        self._last_out_ts = random.getrandbits(32) if initial_timestamp is None else initial_timestamp & _TS_MASK
        self._ssrc: int | None = None
        self._seq_offset = 0
        self._ts_offset = 0
        self._max_in = 0  # extended input sequence of the highest packet seen in this run
        self._base_in = 0  # first extended input sequence of the current mapping
        self._last_in_ts = 0
        self._last_time = 0.0
        self._skipping = False
        self._seen = [-1] * _WINDOW
        self._bad_seq = -1
        self._started = False
        self._ts_hint: int | None = None
        self.runs = 0  # mapping runs started so far (a new run per rebase): lets callers note offsets once

    @property
    def last_sequence(self) -> int:
        """Sequence number of the highest packet forwarded (before the first: start - 1)."""
        return self._last_out & _SEQ_MASK

    @property
    def last_timestamp(self) -> int:
        """Timestamp of the highest packet forwarded (before the first: the random start)."""
        return self._last_out_ts

    def timestamp_offset(self, ssrc: int) -> int | None:
        """out_ts - in_ts mod 2^32 for the current source; None for any other SSRC."""
        if ssrc != self._ssrc:
            return None
        return self._ts_offset

    @property
    def seq_offset(self) -> int:
        """out_seq - in_seq mod 2^16 for the current run (maps a NACKed sequence back to the source)."""
        return self._seq_offset & _SEQ_MASK

    @property
    def ts_offset(self) -> int:
        """out_ts - in_ts mod 2^32 for the current run."""
        return self._ts_offset

    @property
    def ssrc(self) -> int | None:
        return self._ssrc

    def suggest_timestamp(self, out_ts: int) -> None:
        """The next rebase should give its first packet this timestamp (a source switch whose timing
        the caller knows better, e.g. from sender reports); ignored if it would go backwards or leap."""
        self._ts_hint = out_ts & _TS_MASK

    def skip(self) -> None:
        """Packets are being withheld on purpose: close the gap when forwarding resumes."""
        self._skipping = True

    def map(self, ssrc: int, sequence: int, timestamp: int, now_ms: float) -> tuple[int, int] | None:
        """Return (out_seq, out_ts) for a packet to forward, or None to drop it.

        Call it only for packets that will be sent (of the source this consumer currently
        follows); for packets withheld on purpose call `skip()` instead.
        """
        if ssrc == self._ssrc and not self._skipping:
            max_in = self._max_in
            delta = (sequence - max_in) & _SEQ_MASK
            if delta < 0x8000:
                if delta <= MAX_DROPOUT:
                    ext = max_in + delta
                    if delta:
                        self._max_in = ext
                        self._last_in_ts = timestamp
                        self._last_time = now_ms
                        out = ext + self._seq_offset
                        out_ts = (timestamp + self._ts_offset) & _TS_MASK
                        self._last_out = out
                        self._last_out_ts = out_ts
                        self._seen[ext & _WINDOW_MASK] = ext
                        return out & _SEQ_MASK, out_ts
                    return None  # duplicate of the highest packet
                return self._restart(ssrc, sequence, timestamp, now_ms)
            ext = max_in + delta - _SEQ_MOD
            if max_in - ext > MAX_MISORDER:
                # Too old to place. Two consecutive ones mean the source restarted lower down.
                if sequence == self._bad_seq:
                    return self._restart(ssrc, sequence, timestamp, now_ms)
                self._bad_seq = (sequence + 1) & _SEQ_MASK
                return None
            if ext < self._base_in:
                return None  # belongs to the run before a resume: its place is taken
            seen = self._seen
            slot = ext & _WINDOW_MASK
            if seen[slot] == ext:
                return None
            seen[slot] = ext
            return (ext + self._seq_offset) & _SEQ_MASK, (timestamp + self._ts_offset) & _TS_MASK
        return self._rebase(ssrc, sequence, timestamp, now_ms)

    def _restart(self, ssrc: int, sequence: int, timestamp: int, now_ms: float) -> tuple[int, int]:
        """Same SSRC, implausible sequence jump: start a new run as if the source had changed."""
        self._skipping = True
        return self._rebase(ssrc, sequence, timestamp, now_ms)

    def _rebase(self, ssrc: int, sequence: int, timestamp: int, now_ms: float) -> tuple[int, int]:
        """Start a new mapping run: first packet, resume after skip, new or restarted source."""
        out = self._last_out + 1
        hint, self._ts_hint = self._ts_hint, None
        if not self._started:
            self._started = True
            out_ts = self._last_out_ts
        else:
            elapsed = now_ms - self._last_time
            expected = int(elapsed * self._clock_rate / 1000.0) if elapsed > 0 else 0
            if ssrc == self._ssrc:
                # Resuming the same source: keep following its clock if the jump is plausible
                # (0 .. elapsed wall time + 2 s); otherwise it restarted with a new random base.
                advance = (timestamp - self._last_in_ts) & _TS_MASK
                if advance < _TS_HALF and advance <= expected + 2 * self._clock_rate:
                    out_ts = (timestamp + self._ts_offset) & _TS_MASK
                else:
                    out_ts = (self._last_out_ts + max(1, expected)) & _TS_MASK
            else:
                out_ts = (self._last_out_ts + max(1, expected)) & _TS_MASK
            if hint is not None:
                advance = (hint - self._last_out_ts) & _TS_MASK
                if 0 < advance <= expected + 2 * self._clock_rate:
                    out_ts = hint
        if ssrc == self._ssrc:
            # Interpret the new sequence as ahead of the old run so the extended value never
            # goes backwards (the duplicate ring must not see stale entries as newer).
            ext = self._max_in + ((sequence - self._max_in) & _SEQ_MASK)
            if ext == self._max_in:
                ext += _SEQ_MOD
        else:
            ext = sequence + _SEQ_MOD  # room below for reordered packets of the new run
            self._seen = [-1] * _WINDOW
        self._ssrc = ssrc
        self._skipping = False
        self._bad_seq = -1
        self._seq_offset = out - ext
        self._ts_offset = (out_ts - timestamp) & _TS_MASK
        self._max_in = ext
        self._base_in = ext
        self._last_in_ts = timestamp
        self._last_time = now_ms
        self._last_out = out
        self._last_out_ts = out_ts
        self._seen[ext & _WINDOW_MASK] = ext
        self.runs += 1
        return out & _SEQ_MASK, out_ts
