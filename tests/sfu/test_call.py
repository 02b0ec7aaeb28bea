"""Calls through the real SFU with real aiortc clients: everyone receives everyone, frames intact."""

from __future__ import annotations

import asyncio
import uuid

from sfu_client import SfuClient, wait_until
from support import ServerProcess


def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


async def test_three_participants_receive_each_other(sfu_server: ServerProcess) -> None:
    name = room()
    clients = [SfuClient(sfu_server.url, name, f"user{i}") for i in range(3)]
    try:
        for client in clients:
            await client.connect()
            await client.join()
        for client in clients:
            others = [c.pid for c in clients if c is not client]

            def receives_all(c: SfuClient = client, ids: list[str] = others) -> bool:
                return all(
                    (v := c.video_from(pid)) is not None and len(v.counters) >= 3
                    and (a := c.received.get((pid, "microphone"))) is not None and a.frames >= 25
                    for pid in ids
                )

            await wait_until(receives_all, timeout=30)
        for client in clients:
            assert not client.errors, client.errors
            for other in clients:
                if other is client:
                    continue
                video = client.video_from(other.pid)
                assert video is not None
                # decoded frames are the sent frames: counters advance and the picture matches the source
                assert video.counters == sorted(video.counters) or len(set(video.counters)) > 2
                assert max(video.psnr) > 25, video.psnr
                assert video.width == 320
    finally:
        await asyncio.gather(*(c.close() for c in clients))
