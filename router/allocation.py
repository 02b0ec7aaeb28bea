"""Which layer of each video one subscriber gets, within its downlink budget.

The budget (the subscriber's own bandwidth estimate) covers everything it receives. It is spent
in priority order (screen shares, then the largest tiles, then thumbnails): first the lowest layer
of each video, pausing the least important ones when even that has not fitted for `pause_after`
seconds while the subscriber reported loss, then upgrades toward what each tile needs. Downgrades happen at once; an upgrade waits
until it has fitted for `up_delay` seconds, so a budget near a layer boundary does not make the
picture oscillate. (A busy machine's delay spikes, and the keyframe bursts of layer switches, make
Chrome's estimate fall for a few seconds: pausing at once showed initials in ordinary three-person
calls. A link that cannot carry the lowest layers keeps saying so.)

A receiver's estimate grows only with what it is sent (Chrome's REMB stays below about 1.5 times
its incoming rate, and climbs by at most about 8% a second), so a subscriber held low would stay
low; while its estimate shows headroom, one video is stepped up now and then (a probe). A probe
during which the estimate did not fall has shown the link carries it: what it costs becomes a
floor under the budget until the estimate falls. A probe the estimate falls under is undone, and
the interval between probes doubles.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["BandwidthAllocator", "DownlinkBudget", "VideoDemand"]

MARGIN = 1.1  # a layer costs its measured bitrate plus this margin


@dataclass(frozen=True)
class VideoDemand:
    key: Hashable
    layer_bitrates: Sequence[float | None]  # bits/s per layer, lowest first; None = not sent now
    desired: int  # the layer the tile needs (it may not be sent now)

    def available(self) -> list[int]:
        return [i for i, rate in enumerate(self.layer_bitrates) if rate is not None]

    def ideal(self) -> int | None:
        """The best layer sent now that does not exceed the one wanted (the lowest if all exceed it)."""
        available = self.available()
        if not available:
            return None
        below = [i for i in available if i <= self.desired]
        return below[-1] if below else available[0]

    def cost(self, layer: int | None) -> float:
        if layer is None:
            return 0.0
        rate = self.layer_bitrates[layer]
        return (rate or 0.0) * MARGIN


class BandwidthAllocator:
    def __init__(self, up_delay: float = 1.0, probe_interval: float = 3.0, max_probe_interval: float = 30.0,
                 pause_after: float = 10.0) -> None:
        self._pause_after = pause_after
        self._short_since: float | None = None  # since when the budget has not covered every lowest layer
        self._up_delay = up_delay
        self._base_probe = probe_interval
        self._probe_interval = probe_interval
        self._max_probe = max_probe_interval
        self._current: dict[Hashable, int | None] = {}
        self._fits_since: dict[Hashable, tuple[int | None, float]] = {}  # key -> (layer that fitted, since)
        self._headroom_since: float | None = None
        self._probe: tuple[Hashable, int, float, float] | None = None  # (key, layer, when, budget then)
        self._probe_hold = 2.0  # seconds a probe is kept whatever the estimate says, unless it falls
        self._floor: tuple[float, float] | None = None  # (bits/s a probe proved, the estimate then)
        self.probes = 0

    def allocate(self, demands: Sequence[VideoDemand], budget_bps: float | None, now: float,
                 losing: bool = True) -> dict[Hashable, int | None]:
        """`demands` in priority order; returns key -> layer index, or None for paused videos.

        `losing`: the subscriber reports packet loss. A falling estimate alone steps videos down;
        pausing one also takes loss (a delay-based estimate falls on a busy receiver too).
        """
        keys = {d.key for d in demands}
        for key in [k for k in self._current if k not in keys]:
            del self._current[key]
            self._fits_since.pop(key, None)
        result: dict[Hashable, int | None] = {}
        if budget_bps is None:
            result = {d.key: d.ideal() for d in demands}
            self._current = dict(result)
            return result
        estimate = budget_bps
        if self._floor is not None:
            proven, estimate_then = self._floor
            if estimate < 0.9 * estimate_then:
                self._floor = None  # the estimate fell: what the probe proved no longer holds
            else:
                budget_bps = max(budget_bps, proven)
        lowest = sum(d.cost(d.available()[0]) for d in demands if d.available())
        if budget_bps >= lowest or not losing:
            self._short_since = None
        elif self._short_since is None:
            self._short_since = now
        may_pause = self._short_since is not None and now - self._short_since >= self._pause_after
        fit = self._fit(demands, budget_bps, may_pause)
        for demand in demands:
            key = demand.key
            wanted = fit[key]
            if key not in self._current:
                result[key] = wanted  # a new video starts with what fits now
                continue
            current = self._current[key]
            if _rank(wanted) <= _rank(current):
                result[key] = wanted
                self._fits_since.pop(key, None)
                continue
            since = self._fits_since.get(key)
            if since is None or since[0] != wanted:
                self._fits_since[key] = (wanted, now)
                result[key] = current
            elif now - since[1] >= self._up_delay:
                result[key] = wanted
                self._fits_since.pop(key, None)
            else:
                result[key] = current
        self._maybe_probe(demands, result, estimate, now)
        self._current = dict(result)
        return result

    def _fit(self, demands: Sequence[VideoDemand], budget: float, may_pause: bool = True) -> dict[Hashable, int | None]:
        remaining = budget
        out: dict[Hashable, int | None] = {}
        for index, demand in enumerate(demands):
            available = demand.available()
            if not available:
                out[demand.key] = None
                continue
            lowest = available[0]
            cost = demand.cost(lowest)
            # the most important video keeps its lowest layer even when nothing fits: a budget too
            # small for one thumbnail is more likely a stale estimate than a real downlink
            if cost <= remaining or index == 0 or not may_pause:
                out[demand.key] = lowest
                remaining -= cost
            else:
                out[demand.key] = None
        for demand in demands:
            current = out[demand.key]
            ideal = demand.ideal()
            if current is None or ideal is None or ideal <= current:
                continue
            for layer in sorted((i for i in demand.available() if current < i <= ideal), reverse=True):
                extra = demand.cost(layer) - demand.cost(current)
                if extra <= remaining:
                    out[demand.key] = layer
                    remaining -= extra
                    break
        return out

    def _maybe_probe(self, demands: Sequence[VideoDemand], result: dict[Hashable, int | None], budget: float,
                     now: float) -> None:
        probe = self._probe
        if probe is not None:
            key, layer, when, base = probe
            if key in result and now - when < self._probe_hold and budget >= 0.9 * base:
                if _rank(result[key]) < layer:
                    result[key] = layer  # hold the probe until the estimate has had time to react
                return
            if key in result and budget >= 0.9 * base:
                # the link carried it and the estimate did not fall: keep it, probe again soon
                if _rank(result[key]) < layer:
                    result[key] = layer
                proven = sum(d.cost(result[d.key]) for d in demands)
                self._floor = (max(proven, self._floor[0] if self._floor else 0.0), budget)
                self._probe_interval = self._base_probe
            else:
                self._probe_interval = min(self._max_probe, self._probe_interval * 2)
            self._probe = None
            self._headroom_since = None
            return
        allocated = sum(d.cost(result[d.key]) for d in demands)
        if allocated <= 0 or budget < 1.2 * allocated:
            self._headroom_since = None
            return
        if self._headroom_since is None:
            self._headroom_since = now
            return
        if now - self._headroom_since < self._probe_interval:
            return
        # a paused video comes back before anything already shown gets better
        for demand in sorted(demands, key=lambda d: result[d.key] is not None):
            current = result[demand.key]
            ideal = demand.ideal()
            if ideal is None or _rank(current) >= ideal:
                continue
            step = next(i for i in demand.available() if i > _rank(current))
            result[demand.key] = step
            self._probe = (demand.key, step, now, budget)
            self._headroom_since = None
            self.probes += 1
            return


class DownlinkBudget:
    """Turns a subscriber's bandwidth estimate into the budget the allocator spends.

    A receiver's estimate follows what it is sent (Chrome's stays within about 1.5 times its
    incoming rate, aiortc's near it), so an estimate is news only when it says the link is
    congested. From then on the estimate is the budget for `hold` seconds (doubling when congestion
    comes back soon after, up to `max_hold`); outside such a period a subscriber gets what its
    tiles need. The first `warmup` seconds signal nothing: a new receiver's estimate starts low.
    """

    def __init__(self, hold: float = 10.0, max_hold: float = 80.0, confirm: int = 2, warmup: float = 8.0) -> None:
        self._warmup = warmup  # Chrome's estimate sits near 300 kbit/s until it has measured ~5 s
        self._started: float | None = None
        self._confirm = confirm  # congestion must be seen this many times in a row (one REMB can be noise)
        self._seen = 0
        self._base_hold = hold
        self._hold = hold
        self._max_hold = max_hold
        self._until = 0.0
        self.congestion_events = 0

    @property
    def hold_s(self) -> float:
        return self._hold

    def budget(self, estimate_bps: float | None, congested: bool, now: float) -> float | None:
        if self._started is None:
            self._started = now
        if estimate_bps is None:
            return None
        if now - self._started < self._warmup:
            congested = False
        self._seen = self._seen + 1 if congested else 0
        if self._seen >= self._confirm:
            if now >= self._until:
                self.congestion_events += 1
                recent = self._until > 0 and now - self._until < self._hold
                self._hold = min(self._max_hold, self._hold * 2) if recent else self._base_hold
            self._until = now + self._hold
            return estimate_bps
        if now < self._until:
            return estimate_bps
        return None


def _rank(layer: int | None) -> int:
    return -1 if layer is None else layer
