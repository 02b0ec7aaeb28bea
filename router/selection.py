"""Whom each subscriber receives in a large room: last-N video and the loudest speakers' audio.

Jitsi's answer to N² rooms: forward video only for the N participants a subscriber shows or who
spoke last, and audio only for the few loudest (silent members send almost nothing with Opus DTX
anyway). Pure functions and one small stateful ranking, so the rules are testable on their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

__all__ = ["LoudestSpeakers", "assign_slots", "audio_set", "video_set"]

SWITCH_MARGIN = 3.0  # loudness (mean activity above silence) a newcomer needs over the quietest heard


def video_set(
    limit: int,
    cameras: Collection[str],
    dominant: str | None,
    visible: Sequence[str] | None,
    recent_speakers: Iterable[str],
    join_order: Iterable[str],
) -> list[str]:
    """Participants whose camera one subscriber receives, highest priority first.

    `cameras`: the other participants with a camera being published and not paused.
    A subscriber that declared a view gets only what it shows (a video it does not show gets no
    packets, even the dominant speaker's: the page decides where the speaker goes), the dominant
    speaker first when shown; one that did not gets the dominant speaker, recent speakers, then the
    longest-standing members. `limit` 0 means no limit.
    """
    order: list[str] = []
    seen: set[str] = set()

    def take(candidates: Iterable[str]) -> None:
        for pid in candidates:
            if pid in cameras and pid not in seen:
                seen.add(pid)
                order.append(pid)

    if visible is not None:
        if dominant in visible:
            take((dominant,))
        take(visible)
    else:
        if dominant is not None:
            take((dominant,))
        take(recent_speakers)
        take(join_order)
    return order[:limit] if limit > 0 else order


def audio_set(
    limit: int,
    subscriber: str,
    ranking: Sequence[str],
    eligible: Collection[str],
    loudness: Mapping[str, float] | None = None,
    previous: Sequence[str] = (),
    margin: float = SWITCH_MARGIN,
) -> list[str]:
    """Whose microphone one subscriber hears: the loudest others, or everyone when `limit` is 0.

    Who is heard now keeps being heard while still among the room's loudest (nobody is cut
    mid-sentence by a louder breath elsewhere); someone louder than the quietest of them by
    `margin` takes that place at once. Places left free go to the others in `eligible`'s order
    (join order): a room no larger than the limit hears everyone, speaking or not (silent members
    cost little with DTX).
    """
    others = [pid for pid in eligible if pid != subscriber]
    if limit <= 0 or len(others) <= limit:
        return others
    loudness = loudness or {}
    candidates = [pid for pid in ranking if pid != subscriber and pid in eligible]
    chosen = [pid for pid in previous if pid in candidates][:limit]
    for pid in sorted(candidates, key=lambda p: loudness.get(p, 0.0), reverse=True):
        if pid in chosen:
            continue
        if len(chosen) < limit:
            chosen.append(pid)
            continue
        quietest = min(chosen, key=lambda p: loudness.get(p, 0.0))
        if loudness.get(pid, 0.0) > loudness.get(quietest, 0.0) + margin:
            chosen[chosen.index(quietest)] = pid
    for pid in others:
        if len(chosen) >= limit:
            break
        if pid not in chosen:
            chosen.append(pid)
    return chosen


class LoudestSpeakers:
    """The room's loudest recent speakers, kept with hysteresis.

    A member stays for `hold_ms` after it last spoke (nobody is cut mid-sentence by a pause for
    breath); a newcomer who speaks takes a free place at once, or the place of the quietest member
    when it is louder, so a new voice is heard within one update. The ranking holds one more than
    a subscriber's limit, so that a member who is in it still hears `limit` others.
    """

    def __init__(self, size: int, hold_ms: float = 2000.0, speaking_score: float = 3.0) -> None:
        self._capacity = size + 1
        self._hold_ms = hold_ms
        self._speaking = speaking_score
        self._last_spoke: dict[str, float] = {}  # members -> when they last spoke (ms)

    @property
    def members(self) -> list[str]:
        return list(self._last_spoke)

    def update(self, scores: dict[str, float], eligible: Collection[str], now_ms: float) -> list[str]:
        """`scores`: recent loudness per participant (0 = silent); returns the ranking, loudest first."""
        members = self._last_spoke
        for pid in [p for p, spoke in members.items() if p not in eligible or now_ms - spoke > self._hold_ms]:
            del members[pid]
        speakers = sorted((p for p, s in scores.items() if s >= self._speaking and p in eligible),
                          key=lambda p: scores[p], reverse=True)
        for pid in speakers:
            if pid in members:
                members[pid] = now_ms
            elif len(members) < self._capacity:
                members[pid] = now_ms
            else:
                quietest = min(members, key=lambda p: (scores.get(p, 0.0), members[p]))
                if scores[pid] > scores.get(quietest, 0.0):
                    del members[quietest]
                    members[pid] = now_ms
        return sorted(members, key=lambda p: (scores.get(p, 0.0), members[p]), reverse=True)


def assign_slots(current: Sequence[str | None], wanted: Sequence[str]) -> list[str | None]:
    """Which source each receive slot carries next: who keeps being forwarded keeps their slot (no
    switch a viewer would see), newcomers take freed slots in priority order, the rest wait."""
    keep = set(wanted)
    out = [source if source in keep else None for source in current]
    placed = set(out)
    free = (i for i, source in enumerate(out) if source is None)
    for source in wanted:
        if source in placed:
            continue
        slot = next(free, None)
        if slot is None:
            break
        out[slot] = source
        placed.add(source)
    return out
