"""Stalls: after the server was paused for seconds, video comes back at once and stays.

A server process that is paused (SIGSTOP: a stuck host, a long GC, a VM migration) finds stale
packets in its socket buffers when it resumes. It must not forward stale deltas and then stall
again until the next keyframe: each stream restarts at a fresh keyframe requested at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

from browser import chromium, decoded_from, open_test_pages, serve_test_page
from support import ServerProcess


async def test_video_is_back_within_two_seconds_of_a_five_second_pause_and_stays(sfu_server: ServerProcess) -> None:
    room = f"stall-{uuid.uuid4().hex[:8]}"
    async with serve_test_page() as page_url, chromium() as browser:
        pages, ids = await open_test_pages(browser, page_url, sfu_server.url, room, [("alice", ""), ("bob", "")])
        pairs = [(pages[0], ids[1]), (pages[1], ids[0])]
        for _ in range(150):
            if all([await decoded_from(page, pid) > 20 for page, pid in pairs]):
                break
            await asyncio.sleep(0.2)
        os.kill(sfu_server.process.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(5.0)
        finally:
            os.kill(sfu_server.process.pid, signal.SIGCONT)
        resumed = time.monotonic()
        frozen = [await decoded_from(page, pid) for page, pid in pairs]
        back: dict[int, float] = {}
        samples: dict[int, list[tuple[float, int]]] = {0: [], 1: []}
        while time.monotonic() - resumed < 6.0:
            for index, (page, pid) in enumerate(pairs):
                count = await decoded_from(page, pid)
                samples[index].append((time.monotonic() - resumed, count))
                if index not in back and count > frozen[index] + 3:
                    back[index] = time.monotonic() - resumed
            await asyncio.sleep(0.1)
        assert set(back) == {0, 1}, (back, samples)
        assert max(back.values()) < 2.0, back
        assert "event=server_paused" in sfu_server.log()  # the server saw its own pause and restarted its videos
        for index in (0, 1):
            # once back, no second stall: never a second without a new frame in the seconds that follow
            after = [(t, n) for t, n in samples[index] if t >= back[index]]
            rises = [t for (t, n), (_, previous) in zip(after[1:], after, strict=False) if n > previous]
            gaps = [b - a for a, b in zip([back[index], *rises], rises, strict=False)]
            assert rises and max(gaps, default=0.0) < 1.0, (index, after)
