"""An SFU room: its participants, the producers they publish, its codec, and who is speaking.

One task per room keeps forwarding in step with the room: every 50 ms it ranks the loudest
speakers (a new voice is heard within about 100 ms), and a few times a second, or right after a
change (join, leave, mute, view, answer), it re-plans every subscriber's video and tells
publishers which simulcast layers are needed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from router.producer import Producer
from router.selection import LoudestSpeakers
from router.speaker import ActiveSpeakerDetector
from sfu.api import Notifier
from sfu.config import Settings
from sfu.forwarding import VideoPlan, apply_plan, forwarded_layers, needed_layers, plan_audio, plan_video

if TYPE_CHECKING:
    from sfu.participant import Participant

log = logging.getLogger("sfu.room")

TICK_SECONDS = 0.05
VIDEO_EVERY = 5  # video plans every 250 ms (and at once after a change)
SPEAKER_WINDOW_MS = 300  # loudness for the audio ranking: short, so a new voice gets in fast
LAYER_OFF_AFTER = 1.0  # a simulcast layer nobody needs is switched off after this long
MAX_RECENT_SPEAKERS = 64


class Room:
    def __init__(self, room_id: str, notifier: Notifier, settings: Settings) -> None:
        self.id = room_id
        self.notifier = notifier
        self.settings = settings
        self.participants: dict[str, Participant] = {}  # in join order
        self.video_codec: str | None = None  # fixed by the first publisher's offer ("VP8" or "H264")
        self.speaker = ActiveSpeakerDetector()
        self.active_speaker: str | None = None
        self.recent_speakers: list[str] = []  # most recent dominant speaker first
        self.loudest = LoudestSpeakers(settings.audio_last_n or 1)
        self.loudest_ranking: list[str] = []
        self.loudness: dict[str, float] = {}  # recent loudness per participant (the last tick's)
        self.plans: dict[str, VideoPlan] = {}
        self._layers_unneeded_since: dict[tuple[str, int], float] = {}
        self._plan_due = True
        self._task: asyncio.Task[None] | None = None
        self.plan_failures = 0

    # --- limits ------------------------------------------------------------------------------------------

    def video_slot_limit(self) -> int:
        return self.settings.media_limits()["videoSlots"]

    def audio_slot_limit(self) -> int:
        return self.settings.media_limits()["audioSlots"]

    # --- state -------------------------------------------------------------------------------------------

    def producers(self) -> list[Producer]:
        found: list[Producer] = []
        for participant in self.participants.values():
            found.extend(participant.producers())
        return found

    def observe_audio_level(self, participant_id: str, level: int, voiced: bool, now_ms: float) -> None:
        self.speaker.observe(participant_id, level, voiced, now_ms)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def producers_changed(self, cause: str) -> None:
        """Someone's published tracks changed: per-track members need a new offer; everyone a new plan."""
        for participant in self.participants.values():
            participant.request_renegotiation(cause)
        self.plan_soon()

    def plan_soon(self) -> None:
        self._plan_due = True

    def forget(self, participant_id: str) -> None:
        self.speaker.remove(participant_id)
        self.plans.pop(participant_id, None)
        if participant_id in self.recent_speakers:
            self.recent_speakers.remove(participant_id)
        if self.active_speaker == participant_id:
            self.active_speaker = None  # the next dominant speaker is announced by the watcher
        self.plan_soon()

    # --- the room's clock ----------------------------------------------------------------------------

    async def _run(self) -> None:
        tick = 0
        while True:
            try:
                await asyncio.sleep(TICK_SECONDS)
                tick += 1
                await self._tick(tick)
            except asyncio.CancelledError:
                return
            except Exception:  # noqa: BLE001 - a planning bug must not stop the room's forwarding decisions
                self.plan_failures += 1
                if self.plan_failures == 1 or self.plan_failures % 100 == 0:
                    log.exception("event=room_tick_failed room=%s count=%d", self.id, self.plan_failures)

    async def _tick(self, tick: int) -> None:
        now = time.monotonic()
        now_ms = now * 1000.0
        eligible = {p.participant_id for p in self.producers() if p.kind == "audio" and not p.paused}
        scores = self.speaker.recent_scores(now_ms, SPEAKER_WINDOW_MS)
        ranking = self.loudest.update(scores, eligible, now_ms)
        self.loudness = scores
        audio_changed = set(ranking) != set(self.loudest_ranking)  # who, not in which order (that is per tick)
        self.loudest_ranking = ranking
        video = self._plan_due or tick % VIDEO_EVERY == 0
        if video:
            self._plan_due = False
            await self._watch_speaker(now_ms)
        if not (video or audio_changed):
            return
        for participant in list(self.participants.values()):
            if participant.connection is None:
                continue
            plan = plan_video(self, participant, now) if video else None
            if plan is not None:
                self.plans[participant.id] = plan
            await apply_plan(self, participant, plan_audio(self, participant), plan)
        if video:
            await self._tell_publishers(now)

    async def _watch_speaker(self, now_ms: float) -> None:
        speaker = self.speaker.poll(now_ms)
        if speaker is None or speaker == self.active_speaker or speaker not in self.participants:
            return
        self.active_speaker = speaker
        if speaker in self.recent_speakers:
            self.recent_speakers.remove(speaker)
        self.recent_speakers.insert(0, speaker)
        del self.recent_speakers[MAX_RECENT_SPEAKERS:]
        await self.notifier.to_room(self.id, "video:active-speaker", {"roomId": self.id, "participantId": speaker})

    async def _tell_publishers(self, now: float) -> None:
        """Dynacast: a simulcast layer nobody needs is switched off at the publisher (on again at once)."""
        plans = [plan for pid, plan in self.plans.items() if pid in self.participants]
        live = {p.id for p in self.producers()}
        for key in [k for k in self._layers_unneeded_since if k[0] not in live]:
            del self._layers_unneeded_since[key]
        for participant in list(self.participants.values()):
            # copies: a track published or a member gone while a notice is being sent
            for published in list(participant.published.values()):
                producer = published.producer
                if not producer.simulcast or producer.closed:
                    continue
                needed = needed_layers(producer, plans, now)
                forwarded = forwarded_layers(producer)
                active = []
                for layer in producer.layers:
                    key = (producer.id, layer.index)
                    if layer.index in needed:
                        self._layers_unneeded_since.pop(key, None)
                        active.append(layer.rid or "")
                    elif now - self._layers_unneeded_since.setdefault(key, now) < LAYER_OFF_AFTER \
                            or layer.index in forwarded:  # unneeded since then, but still forwarded
                        active.append(layer.rid or "")
                told = participant.told_layers.get(producer.id)
                if told is None and len(active) == len(producer.layers):
                    continue  # the browser starts with every layer on
                if tuple(active) != told:
                    participant.told_layers[producer.id] = tuple(active)
                    await self.notifier.to_participant(participant.id, "video:publisher-layers", {
                        "roomId": self.id, "source": producer.source, "mid": published.mid, "active": active})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
