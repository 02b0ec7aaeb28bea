"""Pre-encoded publisher tracks: yield the cached clip's `av.Packet`s at real-time pace, looping.

aiortc's `RTCRtpSender` calls the codec's `pack()` (not `encode()`) for `av.Packet`s, so sending
costs the generator only packetisation, SRTP and the socket. Timestamps keep increasing across
loops (the clip starts on a keyframe, so a loop is a clean seek for any decoder).
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from benchmarks.clip import AUDIO_FRAME, AUDIO_RATE, FPS, KEYFRAME_INTERVAL, Clip

VIDEO_TIME_BASE = Fraction(1, 90000)
AUDIO_TIME_BASE = Fraction(1, AUDIO_RATE)


class PreEncodedTrack(MediaStreamTrack):
    """A track of pre-encoded packets paced by the monotonic clock (no drift across loops)."""

    def __init__(self, kind: str, clip: Clip, start_offset: int = 0) -> None:
        super().__init__()
        self.kind = kind
        if kind == "video":
            self._packets = [data for data, _ in clip.video]
            self._period = 1.0 / FPS
            self._pts_step = 90000 // FPS
            self._time_base = VIDEO_TIME_BASE
            # start on a keyframe so the first frame a subscriber gets is decodable
            self._index = 0
        else:
            self._packets = list(clip.audio)
            self._period = AUDIO_FRAME / AUDIO_RATE
            self._pts_step = AUDIO_FRAME
            self._time_base = AUDIO_TIME_BASE
            self._index = start_offset % len(self._packets)
        self._count = 0
        self._start: float | None = None
        self._keyframe_requested = False

    def request_keyframe(self) -> None:
        """Answer a PLI/FIR like a real encoder: the next frame sent is the clip's next keyframe.

        Installed as the sender's `_send_keyframe` (what aiortc calls on PLI/FIR), so a new
        subscriber sees video as soon as the SFU asks, not up to 2 s later.
        """
        if self.kind == "video":
            self._keyframe_requested = True

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self._period
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:
            # the loop stalled for a long time: shift the schedule rather than burst a backlog
            # (skipping frames would break decodability until the next keyframe)
            self._start += now - due
        if self._keyframe_requested:
            self._keyframe_requested = False
            if self._index % KEYFRAME_INTERVAL:
                self._index += KEYFRAME_INTERVAL - self._index % KEYFRAME_INTERVAL
        data = self._packets[self._index % len(self._packets)]
        packet = av.Packet(data)
        packet.pts = self._count * self._pts_step
        packet.time_base = self._time_base
        self._count += 1
        self._index += 1
        return packet
