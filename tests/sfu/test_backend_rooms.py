"""Room bookkeeping of the media backend under concurrent joins and leaves (no media needed)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from recording import RecordingNotifier

from sfu.backend import SfuBackend
from sfu.config import Settings


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
