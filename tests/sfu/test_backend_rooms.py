"""Room bookkeeping of the media backend under concurrent joins and leaves (no media needed)."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

from sfu.backend import SfuBackend
from sfu.config import Settings


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def to_participant(self, participant_id: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((participant_id, event, payload))

    async def to_room(self, room_id: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((room_id, event, payload))


async def test_concurrent_leaves_close_the_room_once() -> None:
    backend = SfuBackend(Settings(ice_hosts=("127.0.0.1",)), RecordingNotifier(), CollectorRegistry())
    for pid in ("a", "b", "c"):
        await backend.join("room", pid)
        # a pending renegotiation makes each leave yield to the loop while it closes
        backend.rooms["room"].participants[pid].request_renegotiation("test")
    results = await asyncio.gather(*(backend.leave("room", pid) for pid in ("a", "b", "c")), return_exceptions=True)
    assert results == [None, None, None]
    assert backend.rooms == {}
    await backend.leave("room", "a")  # leaving twice, or a room that is gone, is harmless
    await backend.join("room", "d")  # the room can start again
    assert list(backend.rooms["room"].participants) == ["d"]
    await backend.close()
    assert backend.rooms == {}
