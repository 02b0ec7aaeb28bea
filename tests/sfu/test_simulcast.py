"""Simulcast end to end: Chromium publishes three layers, subscribers get the one their view needs.

Two headless Chromium pages publish their fake 1280x720 camera as simulcast (q, h, f at 1/4, 1/2
and full size) and receive on slots; aiortc clients subscribe per track. What is checked is what a
viewer sees: decoded frame widths, frames decoded, freezes, and the RTP stream a consumer gets.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from browser import chromium, serve_test_page
from sfu_client import SfuClient, wait_until
from support import ServerProcess

from router.rtcp_feedback import build_remb


@asynccontextmanager
async def simulcast_room(server: ServerProcess, names: tuple[str, ...] = ("alice", "bob")) -> AsyncIterator[tuple[str, list[Any], list[str]]]:
    room = f"simulcast-{uuid.uuid4().hex[:8]}"
    async with serve_test_page() as page_url, chromium() as browser:
        pages, ids = [], []
        for name in names:
            context = await browser.new_context(permissions=["camera", "microphone"])
            page = await context.new_page()
            await page.goto(f"{page_url}/?server={server.url}&room={room}&name={name}&simulcast=1&slots=1")
            await page.wait_for_function("window.pageReady === true")
            ids.append(await page.evaluate("window.start()"))
            pages.append(page)
        yield room, pages, ids


async def video_in(page: Any, participant_id: str) -> dict[str, Any]:
    stats = [s for s in await page.evaluate("window.inbound()") if s["kind"] == "video" and s["participantId"] == participant_id]
    return stats[0] if stats else {"framesDecoded": 0, "frameWidth": 0, "packetsReceived": 0, "freezeCount": 0}


async def layer_bytes(page: Any, rid: str) -> int:
    return next((o["bytesSent"] for o in await page.evaluate("window.outbound()") if o["rid"] == rid), 0)


def tile(participant_id: str, width: int, height: int) -> dict[str, Any]:
    return {"participantId": participant_id, "source": "camera", "width": width, "height": height}


async def poll(check: Any, timeout: float, interval: float = 0.1) -> float:
    """Seconds until the async `check()` held; AssertionError at the deadline."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


async def test_the_layer_follows_the_view_and_a_subscriber_with_little_bandwidth_gets_less(sfu_server: ServerProcess) -> None:
    async with simulcast_room(sfu_server) as (room, pages, ids):
        alice, bob = ids
        viewer = SfuClient(sfu_server.url, room, "viewer", publish=False)
        starved = SfuClient(sfu_server.url, room, "starved", publish=False)
        try:
            for client in (viewer, starved):
                await client.connect()
                await client.join()
            # the aiortc viewer shows alice in a thumbnail: the quarter layer (from the start: an aiortc
            # client decoding two 720p videos on a shared 2-core machine falls behind, loses packets in
            # its socket and then takes seconds to recover, which would test the machine, not the SFU)
            assert (await viewer.call("video:set-view", {"roomId": room, "tiles": [tile(alice, 160, 90)]}))["ok"]
            await wait_until(lambda: (v := viewer.video_from(alice)) is not None and v.frames > 10, timeout=30)
            await wait_until(lambda: viewer.video_from(alice).width <= 320, timeout=5)
            # ... then large: the full layer (not timed here: speed belongs in benchmarks; on a shared 2-core
            # machine it took 1.5 to 4.5 s, mostly the aiortc viewer catching up with a 720p keyframe)
            assert (await viewer.call("video:set-view", {"roomId": room, "tiles": [tile(alice, 1280, 720)]}))["ok"]
            try:
                await wait_until(lambda: viewer.video_from(alice).width >= 1000, timeout=10, interval=0.05)
            except AssertionError as exc:
                raise AssertionError((await pages[0].evaluate("window.outbound()"), viewer.events["video:forwarding"][-2:],
                                      await pages[0].evaluate("window.publisherLayers"))) from exc

            # the viewer's stream of alice stayed one continuous RTP stream across both switches
            ssrc = max(viewer.rtp_log, key=lambda s: len(viewer.rtp_log[s]) if viewer.rtp_log[s] else 0)
            log = sorted(viewer.rtp_log[ssrc], key=lambda p: p[0])
            jumps = [(b[0] - a[0]) & 0xFFFF for a, b in zip(log, log[1:], strict=False)]
            assert max(jumps) <= 5, "a sequence gap a switch should not have made"
            arrival = viewer.rtp_log[ssrc]
            back = [(a[1] - b[1]) & 0xFFFFFFFF for a, b in zip(arrival, arrival[1:], strict=False)
                    if 0 < (a[1] - b[1]) & 0xFFFFFFFF < 0x80000000]
            assert not back or max(back) <= 3000 * 3, "timestamps went back across a switch"

            # bob's page: alice small, large, hidden, by its own view (Chromium's getStats)
            async def bob_width(low: int, high: int) -> bool:
                width = (await video_in(pages[1], alice))["frameWidth"]
                return low <= width <= high

            await pages[1].evaluate(f"window.setView([{{participantId: '{alice}', source: 'camera', width: 160, height: 90}}])")
            await poll(lambda: bob_width(1, 320), timeout=6)
            freezes = (await video_in(pages[1], alice))["freezeCount"]
            await pages[1].evaluate(f"window.setView([{{participantId: '{alice}', source: 'camera', width: 1280, height: 720}}])")
            await poll(lambda: bob_width(1000, 5000), timeout=6)
            await asyncio.sleep(1.0)
            assert (await video_in(pages[1], alice))["freezeCount"] <= freezes + 1
            await pages[1].evaluate("window.setView([])")  # alice scrolled out of sight: no packets at all
            # within a few seconds (a busy machine may be slow to deliver the view and the last packets
            # already sent), then nothing for good
            hidden = -1
            for _ in range(12):
                await asyncio.sleep(0.5)
                now_received = (await video_in(pages[1], alice))["packetsReceived"]
                if now_received == hidden:
                    break
                hidden = now_received
            await asyncio.sleep(2.0)
            assert (await video_in(pages[1], alice))["packetsReceived"] == hidden

            # a subscriber whose estimate says 250 kbit/s: low layers or paused within 2 s, and told so
            await wait_until(lambda: len(starved.rtp_log) >= 2, timeout=15)

            async def squeeze() -> None:
                while True:
                    await starved.send_rtcp(build_remb(0x1234, 250_000, list(starved.rtp_log)))
                    await asyncio.sleep(0.2)

            squeezing = asyncio.get_running_loop().create_task(squeeze())
            try:
                def starved_told() -> bool:
                    told = starved.events["video:forwarding"]
                    states = told[-1]["videos"] if told else []
                    return bool(states) and all(v["state"] == "paused-bandwidth" or v.get("layer") == 0 for v in states)

                await wait_until(starved_told, timeout=4)
                await asyncio.sleep(1.0)  # what was in flight when the plan changed has arrived
                before = {pid: (got.frames if (got := starved.video_from(pid)) is not None else 0) for pid in ids}
                await asyncio.sleep(2.0)
                for pid in ids:
                    got = starved.video_from(pid)
                    # paused (no new frame) or on the quarter layer
                    assert got is None or got.frames == before[pid] or got.width <= 320, (pid, got.width, before)
                assert viewer.video_from(alice).width >= 1000  # the others keep what they had
            finally:
                squeezing.cancel()
            assert not viewer.errors and not starved.errors
            for page in pages:
                assert await page.evaluate("window.errors") == []
        finally:
            await asyncio.gather(viewer.close(), starved.close())


async def test_layers_nobody_needs_stop_at_the_publisher_and_come_back_when_needed(sfu_server: ServerProcess) -> None:
    async with simulcast_room(sfu_server) as (_room, pages, ids):
        alice, bob = ids
        await poll(lambda: _grows(pages[0], "f"), timeout=30)
        await pages[1].evaluate(f"window.setView([{{participantId: '{alice}', source: 'camera', width: 160, height: 90}}])")
        stopped = await poll(lambda: _still(pages[0], "f"), timeout=8)
        assert stopped < 3.0, stopped  # 1 s unneeded, then the publisher stops (2 s asked, + this machine)
        await pages[1].evaluate(f"window.setView([{{participantId: '{alice}', source: 'camera', width: 1280, height: 720}}])")
        resumed = await poll(lambda: _grows(pages[0], "f"), timeout=8)
        assert resumed < 2.0, resumed
        assert "f" in (await pages[0].evaluate("window.publisherLayers"))[-1]
        assert bob  # bob's own layers are none of this test's business


async def _grows(page: Any, rid: str) -> bool:
    before = await layer_bytes(page, rid)
    await asyncio.sleep(0.3)
    return await layer_bytes(page, rid) > before


async def _still(page: Any, rid: str) -> bool:
    before = await layer_bytes(page, rid)
    await asyncio.sleep(0.5)
    return await layer_bytes(page, rid) == before
