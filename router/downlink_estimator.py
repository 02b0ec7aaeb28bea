"""Send-side bandwidth estimate toward one subscriber, from its transport-wide feedback.

Chrome's REMB is a receive-side, delay-only estimate that starts low and climbs for many seconds;
under steady random loss the allocator read it as congestion and held viewers on small layers,
while a direct call's sender (which runs GCC on transport-wide feedback) kept its rate. With
transport-wide sequence numbers on everything we send, the subscriber says when each packet
arrived, and the server runs the same two controllers a browser's sender does
(draft-ietf-rmcat-gcc-02): a delay-based one (the trend of one-way delay variation over packet
groups, an adaptive threshold, AIMD on the acknowledged rate) and a loss-based one (backs off only
above 10% loss, grows below 2%). The estimate is the smaller of the two; congestion is a recent
decrease by either, never steady loss a link carries.

Every value here comes from a possibly hostile subscriber: feedback is only matched against
sequence numbers we sent (a bounded ring), each sequence number is counted once, and the estimate
stays within [`MIN_BPS`, `MAX_BPS`]. It budgets only what that subscriber receives.
"""

from __future__ import annotations

from collections import deque

from router.twcc import TransportFeedback

__all__ = ["DownlinkEstimator", "SentPackets", "TrendlineDetector"]

MIN_BPS = 50_000.0
MAX_BPS = 50_000_000.0
GROUP_SPAN_US = 5_000  # packets sent within 5 ms form one group (a burst the link sees at once)
CONGESTION_MEMORY = 1.0  # seconds a decrease still counts as congestion for the allocator
LOSS_WINDOW = 1.0  # seconds of feedback per loss-based decision (as a receiver report's interval)
LOSS_MIN_PACKETS = 60  # fewer make 3% random loss look like 10% by chance
ACKED_WINDOW_US = 1_000_000


class SentPackets:
    """Send time and size of the last `capacity` packets, by transport-wide sequence number."""

    __slots__ = ("_mask", "_seq", "_at", "_size")

    def __init__(self, capacity: int = 8192) -> None:
        assert capacity & (capacity - 1) == 0, "capacity must be a power of two"
        self._mask = capacity - 1
        self._seq = [-1] * capacity
        self._at = [0] * capacity
        self._size = [0] * capacity

    def record(self, sequence: int, at_us: int, size: int) -> None:
        slot = sequence & self._mask
        self._seq[slot] = sequence
        self._at[slot] = at_us
        self._size[slot] = size

    def lookup(self, sequence: int) -> tuple[int, int] | None:
        slot = sequence & self._mask
        if self._seq[slot] != sequence:
            return None
        return self._at[slot], self._size[slot]


class TrendlineDetector:
    """Over-use detection from the slope of accumulated one-way delay variation (GCC's trendline)."""

    def __init__(self, window: int = 20, smoothing: float = 0.9, gain: float = 4.0) -> None:
        self._window = window
        self._smoothing = smoothing
        self._gain = gain
        self._points: deque[tuple[float, float]] = deque(maxlen=window)
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._first_arrival_ms: float | None = None
        self._deltas = 0
        self.threshold = 12.5
        self._last_update_ms: float | None = None
        self._overuse_since_ms: float | None = None
        self._overuse_count = 0
        self._previous_trend = 0.0
        self.state = "normal"

    def update(self, send_delta_ms: float, arrival_delta_ms: float, arrival_ms: float) -> str:
        """One packet group's deltas against the previous group; returns normal / overuse / underuse."""
        if self._first_arrival_ms is None:
            self._first_arrival_ms = arrival_ms
        self._deltas = min(self._deltas + 1, 1000)
        self._accumulated += arrival_delta_ms - send_delta_ms
        self._smoothed = self._smoothing * self._smoothed + (1 - self._smoothing) * self._accumulated
        self._points.append((arrival_ms - self._first_arrival_ms, self._smoothed))
        trend = self._previous_trend
        if len(self._points) == self._window:
            trend = _slope(self._points)
        self._detect(trend, send_delta_ms, arrival_ms)
        self._previous_trend = trend
        return self.state

    def _detect(self, trend: float, send_delta_ms: float, now_ms: float) -> None:
        modified = min(self._deltas, 60) * trend * self._gain
        if modified > self.threshold:
            if self._overuse_since_ms is None:
                self._overuse_since_ms = now_ms - send_delta_ms / 2
            self._overuse_count += 1
            if now_ms - self._overuse_since_ms > 10 and self._overuse_count > 1 and trend >= self._previous_trend:
                self._overuse_since_ms = None
                self._overuse_count = 0
                self.state = "overuse"
        elif modified < -self.threshold:
            self._overuse_since_ms = None
            self._overuse_count = 0
            self.state = "underuse"
        else:
            self._overuse_since_ms = None
            self._overuse_count = 0
            self.state = "normal"
        self._adapt_threshold(modified, now_ms)

    def _adapt_threshold(self, modified: float, now_ms: float) -> None:
        last = self._last_update_ms if self._last_update_ms is not None else now_ms
        self._last_update_ms = now_ms
        if abs(modified) > self.threshold + 15:
            return  # a spike (a busy machine, a reroute) must not drag the threshold along
        k = 0.039 if abs(modified) < self.threshold else 0.0087
        step = min(now_ms - last, 100.0)
        self.threshold = min(600.0, max(6.0, self.threshold + k * (abs(modified) - self.threshold) * step))


def _slope(points: deque[tuple[float, float]]) -> float:
    n = len(points)
    mean_x = sum(p[0] for p in points) / n
    mean_y = sum(p[1] for p in points) / n
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in points)
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    return numerator / denominator if denominator > 0 else 0.0


class DownlinkEstimator:
    """Bits per second one subscriber's downlink carries, and whether it was congested just now."""

    def __init__(self, start_bps: float = 1_000_000.0) -> None:
        self.sent = SentPackets()
        self.detector = TrendlineDetector()
        self._delay_bps = start_bps
        self._loss_bps = MAX_BPS
        self._last_feedback: float | None = None
        self._highest: int | None = None  # extended sequence number of the newest packet accounted for
        self._group: tuple[int, int, int] | None = None  # (first send, last send, last arrival) in us
        self._previous_group: tuple[int, int] | None = None  # (send, arrival) of the last complete group
        self._acked: deque[tuple[int, int]] = deque()  # (arrival us, size) over the last second
        self._acked_bytes = 0
        self._loss_counts = [0, 0]  # lost, accounted for, since the last loss-based decision
        self._loss_window_start: float | None = None
        self._decreased_at: float | None = None
        self.loss_fraction = 0.0
        self.feedbacks = 0
        self.overuses = 0
        self.loss_decreases = 0

    @property
    def estimate_bps(self) -> float:
        return max(MIN_BPS, min(self._delay_bps, self._loss_bps))

    def acked_bps(self) -> float | None:
        if len(self._acked) < 2:
            return None
        span = self._acked[-1][0] - self._acked[0][0]
        return self._acked_bytes * 8e6 / span if span > 0 else None

    def congested(self, now: float) -> bool:
        return self._decreased_at is not None and now - self._decreased_at <= CONGESTION_MEMORY

    def on_feedback(self, feedback: TransportFeedback, now: float) -> None:
        self.feedbacks += 1
        base = feedback.base_sequence
        overuse = False
        for index, arrival in enumerate(feedback.arrivals):
            sequence = self._extend((base + index) & 0xFFFF)
            if sequence is None:
                continue  # counted already, or from long ago
            sent = self.sent.lookup(sequence & 0xFFFF)
            if sent is None:
                continue  # not a packet we sent (or no longer remembered)
            self._loss_counts[1] += 1
            if arrival is None:
                self._loss_counts[0] += 1
                continue
            overuse |= self._on_arrival(sent[0], arrival, sent[1])
        self._rate_control(overuse, now)
        self._loss_control(now)

    def _extend(self, sequence: int) -> int | None:
        highest = self._highest
        if highest is None:
            self._highest = sequence + 0x10000
            return self._highest
        delta = (sequence - highest) & 0xFFFF
        if delta == 0 or delta >= 0x8000:
            return None  # a repeat or an older packet: each is accounted for once
        self._highest = highest + delta
        return self._highest

    def _on_arrival(self, send_us: int, arrival_us: int, size: int) -> bool:
        self._acked.append((arrival_us, size))
        self._acked_bytes += size
        while self._acked and (arrival_us - self._acked[0][0] > ACKED_WINDOW_US or arrival_us < self._acked[0][0]):
            self._acked_bytes -= self._acked.popleft()[1]
        group = self._group
        if group is not None and send_us - group[0] <= GROUP_SPAN_US and send_us >= group[0]:
            self._group = (group[0], max(group[1], send_us), max(group[2], arrival_us))
            return False
        self._group = (send_us, send_us, arrival_us)
        if group is None:
            return False
        previous = self._previous_group
        self._previous_group = (group[1], group[2])
        if previous is None:
            return False
        send_delta_ms = (group[1] - previous[0]) / 1000.0
        arrival_delta_ms = (group[2] - previous[1]) / 1000.0
        if send_delta_ms < 0 or abs(arrival_delta_ms - send_delta_ms) > 3_000:
            return False  # garbage or a reset clock: it says nothing about queues
        return self.detector.update(send_delta_ms, arrival_delta_ms, group[2] / 1000.0) == "overuse"

    def _rate_control(self, overuse: bool, now: float) -> None:
        last = self._last_feedback if self._last_feedback is not None else now
        elapsed = min(max(now - last, 0.0), 1.0)
        self._last_feedback = now
        acked = self.acked_bps()
        if overuse:
            self.overuses += 1
            if self._decreased_at is None or now - self._decreased_at >= 0.2:
                base = acked if acked is not None else self._delay_bps
                self._delay_bps = max(MIN_BPS, 0.85 * base)
                self._decreased_at = now
            return
        if self.detector.state == "underuse":
            return  # queues drain: hold
        grown = self._delay_bps * (1.08 ** elapsed)
        ceiling = 1.5 * acked + 10_000 if acked is not None else MAX_BPS
        if grown <= ceiling:
            self._delay_bps = min(MAX_BPS, grown)
        elif self._delay_bps < ceiling:
            self._delay_bps = ceiling

    def _loss_control(self, now: float) -> None:
        if self._loss_window_start is None:
            self._loss_window_start = now
        lost, total = self._loss_counts
        if now - self._loss_window_start < LOSS_WINDOW or total < LOSS_MIN_PACKETS:
            return
        self._loss_window_start = now
        self._loss_counts = [0, 0]
        fraction = lost / total
        self.loss_fraction = fraction
        if fraction > 0.10:
            self._loss_bps = max(MIN_BPS, min(self._loss_bps, self._delay_bps) * (1 - 0.5 * fraction))
            self._decreased_at = now
            self.loss_decreases += 1
        elif fraction < 0.02:
            self._loss_bps = min(MAX_BPS, self._loss_bps * 1.08)
