"""An SFU room: its participants, the producers they publish, the room's codec and its active speaker."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from router.producer import Producer
from router.speaker import ActiveSpeakerDetector
from sfu.api import Notifier

if TYPE_CHECKING:
    from sfu.participant import Participant

log = logging.getLogger("sfu.room")

SPEAKER_POLL_SECONDS = 0.25


class Room:
    def __init__(self, room_id: str, notifier: Notifier) -> None:
        self.id = room_id
        self.notifier = notifier
        self.participants: dict[str, Participant] = {}
        self.video_codec: str | None = None  # fixed by the first publisher's offer ("VP8" or "H264")
        self.speaker = ActiveSpeakerDetector()
        self.active_speaker: str | None = None
        self._speaker_task: asyncio.Task[None] | None = None

    def producers(self) -> list[Producer]:
        found: list[Producer] = []
        for participant in self.participants.values():
            found.extend(participant.producers())
        return found

    def observe_audio_level(self, participant_id: str, level: int, voiced: bool, now_ms: float) -> None:
        self.speaker.observe(participant_id, level, voiced, now_ms)

    def start(self) -> None:
        if self._speaker_task is None:
            self._speaker_task = asyncio.get_running_loop().create_task(self._watch_speaker())

    def producers_changed(self, cause: str) -> None:
        """Someone's published tracks changed: everyone else may need a new offer."""
        for participant in self.participants.values():
            participant.request_renegotiation(cause)

    async def _watch_speaker(self) -> None:
        try:
            while True:
                await asyncio.sleep(SPEAKER_POLL_SECONDS)
                speaker = self.speaker.poll(time.monotonic() * 1000.0)
                if speaker is not None and speaker != self.active_speaker and speaker in self.participants:
                    self.active_speaker = speaker
                    await self.notifier.to_room(
                        self.id, "video:active-speaker", {"roomId": self.id, "participantId": speaker}
                    )
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001
            log.exception("event=speaker_watch_failed room=%s", self.id)

    async def close(self) -> None:
        if self._speaker_task is not None:
            self._speaker_task.cancel()
            await asyncio.gather(self._speaker_task, return_exceptions=True)
            self._speaker_task = None
