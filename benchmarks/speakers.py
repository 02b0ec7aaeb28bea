"""Who speaks when: a few loud members at a time, rotating, told to the server by RFC 6464 levels.

The pre-encoded Opus clip sounds the same whatever the level says; the server decides who is
heard from the level in each packet's `ssrc-audio-level` extension alone, as it does for browsers.
Every worker derives the same schedule from the run's common start time, so no process has to tell
another who is speaking. Silent members behave like browsers under Opus DTX (which the server's
answer asks for): one packet every 400 ms instead of every 20 ms.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import av

from benchmarks.clip import Clip
from benchmarks.publisher import PreEncodedTrack

SILENT = 127  # RFC 6464: -127 dBov
LOUD_LEVELS = (10, 20, 25, 30)  # dBov below full scale, loudest first: the first is the dominant speaker
DTX_FRAMES = 20  # a silent Opus encoder under DTX sends one 20 ms frame every 400 ms


@dataclass(frozen=True)
class SpeakerSchedule:
    """`loud` members speak at once; every `period` seconds the next `loud` members (by index) take over."""

    members: int
    loud: int = 2
    period: float = 4.0
    origin: float = 0.0  # time.monotonic() of the run's start, the same in every worker

    def level(self, index: int, now: float) -> int:
        """The RFC 6464 level (0 loudest, 127 silent) member `index` sends at `now`."""
        if self.loud <= 0 or self.members <= 0 or now < self.origin:
            return SILENT
        step = int((now - self.origin) // self.period)
        first = (step * self.loud) % self.members
        rank = (index - first) % self.members
        return LOUD_LEVELS[min(rank, len(LOUD_LEVELS) - 1)] if rank < self.loud else SILENT

    def speakers(self, now: float) -> list[int]:
        """Indices of the loud members at `now`, loudest first."""
        return sorted((i for i in range(self.members) if self.level(i, now) != SILENT), key=lambda i: self.level(i, now))


class SpeakingAudioTrack(PreEncodedTrack):
    """The clip's Opus packets at real-time pace, with this member's scheduled level; DTX while silent."""

    def __init__(self, clip: Clip, index: int, schedule: SpeakerSchedule, dtx: bool = True) -> None:
        super().__init__("audio", clip, start_offset=index * 7)
        self.member = index
        self.schedule = schedule
        self.dtx = dtx
        self.level = SILENT
        self.dtx_skipped = 0

    async def recv(self) -> av.Packet:
        # under DTX a silent member sends only every 20th frame: skip the others in real time, and stop
        # skipping the moment the schedule makes it speak
        while self.dtx and self._count % DTX_FRAMES and self._silent(time.monotonic()):
            assert self._start is not None  # the first frame (count 0) always goes out
            delay = self._start + self._count * self._period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._silent(time.monotonic()):
                break
            self._count += 1
            self._index += 1
            self.dtx_skipped += 1
        packet = await super().recv()
        self.level = self.schedule.level(self.member, time.monotonic())
        return packet

    def _silent(self, now: float) -> bool:
        return self.schedule.level(self.member, now) == SILENT


def write_levels(sender: Any, track: SpeakingAudioTrack) -> None:
    """aiortc writes no level for pre-encoded audio: put the track's current level in each packet."""
    original = sender._next_encoded_frame

    async def with_level(codec: Any) -> Any:
        frame = await original(codec)
        if frame is not None:
            frame.audio_level = -track.level  # aiortc writes -audio_level as the RFC 6464 level
        return frame

    sender._next_encoded_frame = with_level


__all__ = ["SILENT", "SpeakerSchedule", "SpeakingAudioTrack", "write_levels"]
