"""Whether each SFU-room member's media connection is up, told to the whole room (`video:media-status`).

A member whose offer is refused, whose ICE/DTLS fails, or who has no connected media `CONNECT_DEADLINE`
seconds after joining would otherwise be a silent tile with initials on everyone's screen; this tells
the room why. Kept outside `Participant`: it only watches the connection's state and the offer's outcome.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from sfu.api import MediaError, Notifier

log = logging.getLogger("sfu.media_status")

Status = Literal["connecting", "connected", "failed"]
EVENT = "video:media-status"
CONNECT_DEADLINE = 20.0  # seconds from join; ICE on a working network takes well under a second


class MediaStatusBoard:
    def __init__(self, notifier: Notifier, deadline: float = CONNECT_DEADLINE) -> None:
        self.notifier = notifier
        self.deadline = deadline
        self._status: dict[tuple[str, str], tuple[Status, str | None]] = {}
        self._timers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._watched: dict[tuple[str, str], Any] = {}  # the peer connection whose state we follow

    def status(self, room_id: str, participant_id: str) -> tuple[Status, str | None] | None:
        return self._status.get((room_id, participant_id))

    async def joined(self, room_id: str, participant_id: str, others: list[str]) -> None:
        """A new member starts `connecting`; it learns who among the others is not connected (yet)."""
        key = (room_id, participant_id)
        self._status[key] = ("connecting", None)
        self._timers[key] = asyncio.get_running_loop().create_task(self._expire(key))
        for other in others:
            current = self._status.get((room_id, other))
            if current is not None and current[0] != "connected":
                await self.notifier.to_participant(participant_id, EVENT, self._payload(room_id, other, *current))

    async def watch(self, room_id: str, participant_id: str, pc: Any) -> None:
        """Follow `pc`'s connection state (once per peer connection; a new one replaces the old)."""
        key = (room_id, participant_id)
        if pc is None or self._watched.get(key) is pc or key not in self._status:
            return
        self._watched[key] = pc

        async def changed() -> None:
            if self._watched.get(key) is not pc:
                return
            state = pc.connectionState
            if state == "connected":
                await self._set(key, "connected", None)
            elif state == "failed":
                await self._set(key, "failed", "the media connection failed (ICE/DTLS)")

        pc.on("connectionstatechange", changed)
        await changed()  # a re-offer on a connection that is already up

    async def refused(self, room_id: str, participant_id: str, error: MediaError, glare: bool, pc: Any) -> None:
        """An offer was refused: unless it was glare, or media already flows, the member has no media."""
        if glare or (pc is not None and pc.connectionState == "connected"):
            return
        await self._set((room_id, participant_id), "failed", f"the server refused its offer: {error.message}")

    def left(self, room_id: str, participant_id: str) -> None:
        key = (room_id, participant_id)
        self._status.pop(key, None)
        self._watched.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    async def close(self) -> None:
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        self._timers.clear()

    async def _expire(self, key: tuple[str, str]) -> None:
        try:
            await asyncio.sleep(self.deadline)
            current = self._status.get(key)
            if current is not None and current[0] == "connecting":
                await self._set(key, "failed", f"no media connection {self.deadline:g} s after joining")
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - a status is advice; its failure must not surface elsewhere
            log.exception("event=media_status_failed room=%s participant=%s", *key)
        finally:
            if self._timers.get(key) is asyncio.current_task():
                del self._timers[key]

    async def _set(self, key: tuple[str, str], status: Status, reason: str | None) -> None:
        # Only a change of status is news: a client repeating bad offers (each with its own message) must
        # not make the server broadcast to the whole room again and again. Reasons are bounded too.
        if key not in self._status or self._status[key][0] == status:
            return
        reason = reason[:200] if reason else None
        self._status[key] = (status, reason)
        room_id, participant_id = key
        log.info("event=media_status room=%s participant=%s status=%s reason=%s", room_id, participant_id, status,
                 reason or "-")
        await self.notifier.to_room(room_id, EVENT, self._payload(room_id, participant_id, status, reason))

    @staticmethod
    def _payload(room_id: str, participant_id: str, status: Status, reason: str | None) -> dict[str, Any]:
        return {"roomId": room_id, "participantId": participant_id, "status": status, "reason": reason}
