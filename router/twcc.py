"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).

A browser publisher runs its send-side estimator (GCC) on this feedback: when each of its packets
arrived, by transport-wide sequence number. With only REMB and receiver reports it ramps up by a
few percent a second and backs off on loss alone; with this feedback it probes and adapts as it
does in a direct call. The recorder is fed once per incoming packet (two integer operations);
feedback is built from a timer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aiortc.rtp import RTCP_RTPFB

__all__ = ["TRANSPORT_CC_FMT", "TransportFeedback", "TwccRecorder", "build_feedback", "iter_transport_feedback",
           "parse_feedback_fci"]

TRANSPORT_CC_FMT = 15
_NOT_RECEIVED, _SMALL, _LARGE = 0, 1, 2
_TICK_US = 250  # receive deltas count 250 us ticks
_REFERENCE_US = 64_000  # the reference time counts 64 ms
MAX_STATUSES = 1000  # packets described per feedback message (keeps it well under the MTU)
MAX_PARSED_STATUSES = 2048  # a received message describing more is refused (a hostile count costs CPU)
MAX_FEEDBACK_PER_COMPOUND = 16
_HEAD = struct.Struct("!IIHHI")  # sender SSRC, media SSRC, base seq, count, reftime(24) + fb count(8)


def build_feedback(
    sender_ssrc: int, media_ssrc: int, base_sequence: int, arrivals: list[int | None], feedback_count: int
) -> bytes:
    """One feedback packet for `len(arrivals)` consecutive sequence numbers from `base_sequence`.

    `arrivals[i]` is the arrival time in microseconds of base+i, or None when it did not arrive;
    at least one must have arrived. Deltas that do not fit 16 signed bits are the caller's to avoid
    (`TwccRecorder` starts a new message at such a gap).
    """
    first = next(t for t in arrivals if t is not None)
    reference = (first // _REFERENCE_US) & 0xFFFFFF
    previous = (first // _REFERENCE_US) * _REFERENCE_US
    symbols: list[int] = []
    deltas = bytearray()
    for arrival in arrivals:
        if arrival is None:
            symbols.append(_NOT_RECEIVED)
            continue
        ticks = round((arrival - previous) / _TICK_US)
        previous += ticks * _TICK_US
        if 0 <= ticks <= 0xFF:
            symbols.append(_SMALL)
            deltas.append(ticks)
        else:
            symbols.append(_LARGE)
            deltas += struct.pack("!h", max(-0x8000, min(0x7FFF, ticks)))
    body = bytearray(_HEAD.pack(sender_ssrc, media_ssrc, base_sequence & 0xFFFF, len(arrivals),
                                (reference << 8) | (feedback_count & 0xFF)))
    body += _chunks(symbols)
    body += deltas
    padding = (-len(body)) % 4
    if padding:
        body += bytes(padding - 1) + bytes([padding])
    length = len(body) // 4  # RTCP length: 32-bit words after the first, header word included below
    header = struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | TRANSPORT_CC_FMT, RTCP_RTPFB, length)
    return header + bytes(body)


def _chunks(symbols: list[int]) -> bytes:
    out = bytearray()
    i = 0
    n = len(symbols)
    while i < n:
        symbol = symbols[i]
        run = 1
        while i + run < n and symbols[i + run] == symbol and run < 0x1FFF:
            run += 1
        if run >= 7 or i + run == n:  # a run-length chunk: T=0, 2-bit symbol, 13-bit length
            out += struct.pack("!H", (symbol << 13) | run)
            i += run
            continue
        window = symbols[i : i + 14]
        if _LARGE not in window and len(window) == 14:  # 14 one-bit symbols
            value = 0x8000
            for k, s in enumerate(window):
                value |= s << (13 - k)
            out += struct.pack("!H", value)
            i += 14
        else:  # 7 two-bit symbols (the last chunk may describe fewer: the count says how many)
            value = 0xC000
            for k, s in enumerate(symbols[i : i + 7]):
                value |= s << (12 - 2 * k)
            out += struct.pack("!H", value)
            i += 7
    return bytes(out)


@dataclass(frozen=True)
class TransportFeedback:
    sender_ssrc: int
    media_ssrc: int
    base_sequence: int
    feedback_count: int
    arrivals: list[int | None]  # microseconds since the reference time's epoch, None = lost


def parse_feedback_fci(data: bytes, max_statuses: int = MAX_PARSED_STATUSES) -> TransportFeedback:
    """Parse one transport-cc feedback packet (whole RTCP packet); ValueError when malformed."""
    if len(data) < 20 or data[1] != RTCP_RTPFB or data[0] & 0x1F != TRANSPORT_CC_FMT:
        raise ValueError("not a transport-cc feedback packet")
    end = 4 * (struct.unpack_from("!H", data, 2)[0] + 1)
    if end > len(data):
        raise ValueError("truncated feedback")
    if data[0] & 0x20:
        end -= data[end - 1]
    sender, media, base, count, ref = _HEAD.unpack_from(data, 4)
    if count > max_statuses:
        raise ValueError("feedback describes too many packets")
    pos = 4 + _HEAD.size
    symbols: list[int] = []
    while len(symbols) < count:
        if pos + 2 > end:
            raise ValueError("truncated status chunks")
        (chunk,) = struct.unpack_from("!H", data, pos)
        pos += 2
        if not chunk & 0x8000:
            symbols += [(chunk >> 13) & 3] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:
            symbols += [(chunk >> (13 - k)) & 1 for k in range(14)]
        else:
            symbols += [(chunk >> (12 - 2 * k)) & 3 for k in range(7)]
    symbols = symbols[:count]
    arrivals: list[int | None] = []
    clock = (ref >> 8) * _REFERENCE_US
    for symbol in symbols:
        if symbol == _NOT_RECEIVED:
            arrivals.append(None)
            continue
        if symbol == _SMALL:
            if pos + 1 > end:
                raise ValueError("truncated deltas")
            clock += data[pos] * _TICK_US
            pos += 1
        else:
            if pos + 2 > end:
                raise ValueError("truncated deltas")
            clock += struct.unpack_from("!h", data, pos)[0] * _TICK_US
            pos += 2
        arrivals.append(clock)
    return TransportFeedback(sender, media, base, ref & 0xFF, arrivals)


def iter_transport_feedback(data: bytes) -> list[bytes]:
    """The transport-cc feedback packets inside a (compound) RTCP packet, in order."""
    out: list[bytes] = []
    pos = 0
    end = len(data)
    while pos + 4 <= end and len(out) < MAX_FEEDBACK_PER_COMPOUND:
        length = 4 * (struct.unpack_from("!H", data, pos + 2)[0] + 1)
        if data[pos + 1] == RTCP_RTPFB and data[pos] & 0x1F == TRANSPORT_CC_FMT:
            out.append(data[pos : pos + length])  # a truncated one too: its parser says so
        pos += length
    return out


class TwccRecorder:
    """Arrival times of one connection's packets by transport-wide sequence number."""

    __slots__ = ("_sender_ssrc", "_arrivals", "_highest", "_next", "_count", "sent")

    def __init__(self, sender_ssrc: int) -> None:
        self._sender_ssrc = sender_ssrc
        self._arrivals: dict[int, int] = {}  # extended sequence -> arrival (us)
        self._highest: int | None = None
        self._next: int | None = None  # first sequence the next feedback describes
        self._count = 0
        self.sent = 0

    def record(self, sequence: int, arrival_us: int) -> None:
        highest = self._highest
        if highest is None:
            ext = sequence + 0x10000
            self._highest = ext
            self._next = ext
        else:
            delta = (sequence - highest) & 0xFFFF
            ext = highest + delta if delta < 0x8000 else highest + delta - 0x10000
            if ext > highest:
                self._highest = ext
        if len(self._arrivals) < 4 * MAX_STATUSES:
            self._arrivals[ext] = arrival_us

    @property
    def pending(self) -> bool:
        return bool(self._arrivals)

    def feedback(self, media_ssrc: int) -> list[bytes]:
        """Feedback messages for everything recorded since the last call."""
        arrivals, self._arrivals = self._arrivals, {}
        start = self._next
        if not arrivals or start is None or self._highest is None:
            return []
        start = max(start, self._highest - 4 * MAX_STATUSES)  # after a long silence: only the recent past
        out: list[bytes] = []
        seq = start
        end = self._highest
        while seq <= end:
            if not any(s in arrivals for s in range(seq, min(end, seq + MAX_STATUSES - 1) + 1)):
                seq += MAX_STATUSES  # nothing arrived in this stretch: it goes unreported
                continue
            block: list[int | None] = []
            base = seq
            last = next(arrivals[s] for s in range(seq, end + 1) if s in arrivals)
            while seq <= end and len(block) < MAX_STATUSES:
                arrival = arrivals.get(seq)
                if arrival is not None:
                    if abs(arrival - last) > 0x7FFF * 250:
                        break  # a delta 16 bits cannot hold: continue in a new message
                    last = arrival
                block.append(arrival)
                seq += 1
            while block and block[-1] is None:
                block.pop()
            out.append(build_feedback(self._sender_ssrc, media_ssrc, base & 0xFFFF, block, self._count))
            self._count = (self._count + 1) & 0xFF
        self._next = end + 1
        self.sent += len(out)
        return out
