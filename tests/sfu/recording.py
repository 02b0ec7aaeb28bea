"""A `Notifier` that records what the media backend tells clients (backend tests without signaling)."""

from __future__ import annotations

from typing import Any


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def to_participant(self, participant_id: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((participant_id, event, payload))

    async def to_room(self, room_id: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((room_id, event, payload))
