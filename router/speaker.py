"""Dominant-speaker detection from RFC 6464 audio levels (no decoding).

Each audio packet's level goes into a fixed-size per-participant ring (a row of one numpy
array, so `observe` never allocates); `poll`, called a few times a second, scores everyone at
once: the mean loudness above a silence threshold over the last `window_ms`. A newcomer must
clearly beat the current speaker (ratio plus margin) to take over, and the speaker changes at
most once per `min_switch_interval_ms`, so the UI does not flicker between people talking over
each other. The current speaker stays dominant through silence until someone else speaks.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ActiveSpeakerDetector"]


class ActiveSpeakerDetector:
    """Per-room view of who is speaking; feed every audio packet's level, poll on a timer.

    `silence_level` (RFC 6464, -dBov): levels at or above it (quieter than -60 dBov by
    default: background noise, comfort noise) count as silence. Senders that set the voice
    activity flag on any packet are trusted afterwards (an unvoiced packet counts as silent);
    senders that never set it (aiortc) are judged by level alone.
    """

    __slots__ = (
        "_window_ms",
        "_min_switch_ms",
        "_silence",
        "_ratio",
        "_margin",
        "_min_score",
        "_mask",
        "_times",
        "_activity",
        "_rows",
        "_ids",
        "_pos",
        "_vad",
        "_free",
        "_dominant",
        "_last_switch",
    )

    def __init__(
        self,
        window_ms: int = 1500,
        min_switch_interval_ms: int = 500,
        silence_level: int = 60,
        *,
        switch_ratio: float = 1.5,
        switch_margin: float = 3.0,
        min_score: float = 3.0,
    ) -> None:
        self._window_ms = window_ms
        self._min_switch_ms = min_switch_interval_ms
        self._silence = silence_level
        self._ratio = switch_ratio
        self._margin = switch_margin
        self._min_score = min_score
        # Room for one packet per 10 ms over the window (Opus ptime is 10..60 ms).
        size = 1 << max(4, math.ceil(math.log2(max(1, window_ms // 10))))
        self._mask = size - 1
        rows = 8
        self._times = np.full((rows, size), -np.inf, dtype=np.float64)
        self._activity = np.zeros((rows, size), dtype=np.float32)
        self._rows: dict[str, int] = {}
        self._ids: list[str | None] = [None] * rows
        self._pos: list[int] = [0] * rows
        self._vad: list[bool] = [False] * rows
        self._free: list[int] = list(range(rows - 1, -1, -1))
        self._dominant: str | None = None
        self._last_switch = -math.inf

    @property
    def dominant(self) -> str | None:
        """The current dominant speaker (None until someone has spoken)."""
        return self._dominant

    def _add(self, participant_id: str) -> int:
        if not self._free:
            old = self._times.shape[0]
            self._times = np.concatenate([self._times, np.full_like(self._times, -np.inf)])
            self._activity = np.concatenate([self._activity, np.zeros_like(self._activity)])
            self._ids += [None] * old
            self._pos += [0] * old
            self._vad += [False] * old
            self._free = list(range(2 * old - 1, old - 1, -1))
        row = self._free.pop()
        self._rows[participant_id] = row
        self._ids[row] = participant_id
        self._pos[row] = 0
        self._vad[row] = False
        return row

    def observe(self, participant_id: str, level: int, voiced: bool, now_ms: float) -> None:
        """Record one audio packet's level (0 loudest .. 127 silent) and voice flag."""
        row = self._rows.get(participant_id)
        if row is None:
            row = self._add(participant_id)
        if voiced:
            self._vad[row] = True
            activity = self._silence - level
        elif self._vad[row]:
            activity = 0
        else:
            activity = self._silence - level
        i = self._pos[row]
        self._pos[row] = (i + 1) & self._mask
        self._times[row, i] = now_ms
        self._activity[row, i] = activity if activity > 0 else 0

    def remove(self, participant_id: str) -> None:
        """Forget a participant; if it was the dominant speaker, the next poll picks another."""
        row = self._rows.pop(participant_id, None)
        if row is None:
            return
        self._times[row].fill(-np.inf)
        self._activity[row].fill(0)
        self._ids[row] = None
        self._free.append(row)
        if self._dominant == participant_id:
            self._dominant = None
            self._last_switch = -math.inf

    def scores(self, now_ms: float) -> dict[str, float]:
        """Mean activity over the window per participant (for metrics and tests)."""
        values = self._scores(now_ms)
        return {pid: float(values[row]) for pid, row in self._rows.items()}

    def recent_scores(self, now_ms: float, window_ms: float) -> dict[str, float]:
        """Mean activity over a short window, for ranking the loudest speakers (0 for the silent)."""
        values = self._scores(now_ms, window_ms)
        return {pid: float(values[row]) for pid, row in self._rows.items()}

    def _scores(self, now_ms: float, window_ms: float | None = None) -> np.ndarray:
        recent = self._times > (now_ms - (self._window_ms if window_ms is None else window_ms))
        counts = recent.sum(axis=1)
        sums = np.where(recent, self._activity, 0.0).sum(axis=1)
        return sums / np.maximum(counts, 1)

    def poll(self, now_ms: float) -> str | None:
        """The new dominant speaker when it changed (at most once per interval), else None."""
        if not self._rows or now_ms - self._last_switch < self._min_switch_ms:
            return None
        scores = self._scores(now_ms)
        best = int(np.argmax(scores))
        best_score = float(scores[best])
        if best_score < self._min_score:
            return None
        best_id = self._ids[best]
        current = self._dominant
        if best_id is None or best_id == current:
            return None
        if current is not None:
            current_score = float(scores[self._rows[current]])
            if best_score < current_score * self._ratio + self._margin:
                return None
        self._dominant = best_id
        self._last_switch = now_ms
        return best_id
