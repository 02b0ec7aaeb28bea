"""The media side's way to reach clients (implements `sfu.api.Notifier`) without knowing Socket.IO."""

from __future__ import annotations

from typing import Any

import socketio

from signaling.rooms import sio_room


class SocketNotifier:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    async def to_participant(self, participant_id: str, event: str, payload: dict[str, Any]) -> None:
        await self.sio.emit(event, payload, to=participant_id)

    async def to_room(self, room_id: str, event: str, payload: dict[str, Any]) -> None:
        await self.sio.emit(event, payload, to=sio_room(room_id))
