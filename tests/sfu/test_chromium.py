"""Two headless Chromium browsers and one aiortc client in one SFU room.

Browsers drop streams an aiortc client forgives (wrong SSRC, stale mid extension, payload type
changes), so this is the test that proves the forwarded packets are right for real browsers.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from browser import chromium, serve_test_page
from sfu_client import SfuClient, wait_until
from support import ServerProcess, metric, metrics_text


async def inbound(page: Any) -> list[dict[str, Any]]:
    return await page.evaluate("window.inbound()")


async def test_two_browsers_and_an_aiortc_client(sfu_server: ServerProcess) -> None:
    room = f"chromium-{uuid.uuid4().hex[:8]}"
    client = SfuClient(sfu_server.url, room, "aiortc")
    async with serve_test_page() as page_url, chromium() as browser:
        pages = []
        ids = []
        for name in ("alice", "bob"):
            context = await browser.new_context(permissions=["camera", "microphone"])
            page = await context.new_page()
            await page.goto(f"{page_url}/?server={sfu_server.url}&room={room}&name={name}")
            await page.wait_for_function("window.pageReady === true")
            ids.append(await page.evaluate("window.start()"))
            pages.append(page)
        await client.connect()
        await client.join()
        try:
            expected = {0: {ids[1], client.pid}, 1: {ids[0], client.pid}}

            async def decoded(index: int) -> dict[str, int]:
                stats = await inbound(pages[index])
                return {s["participantId"]: s["framesDecoded"] for s in stats if s["kind"] == "video"}

            for index, page in enumerate(pages):
                for _ in range(150):
                    frames = await decoded(index)
                    if all(frames.get(pid, 0) > 10 for pid in expected[index]):
                        break
                    await asyncio.sleep(0.2)
                first = await decoded(index)
                assert all(first.get(pid, 0) > 10 for pid in expected[index]), (first, await page.evaluate("window.errors"))
                await asyncio.sleep(1.0)
                second = await decoded(index)
                for pid in expected[index]:
                    assert second[pid] > first[pid], f"video from {pid} stopped decoding in browser {index}"
                audio = [s for s in await inbound(page) if s["kind"] == "audio" and s["participantId"] in expected[index]]
                assert len(audio) == 2 and all(s["packetsReceived"] > 20 for s in audio), audio
                assert await page.evaluate("window.errors") == []
            # the browsers decode packets carrying our transport-wide sequence numbers and say when each
            # arrived: their downlinks are estimated from that (router/downlink_estimator.py), not from REMB
            remote_sdp = await pages[0].evaluate("window.__pc.remoteDescription.sdp")
            assert "transport-wide-cc" in remote_sdp and re.search(r"a=rtcp-fb:\d+ transport-cc", remote_sdp), remote_sdp
            await wait_until(lambda: metric(metrics_text(sfu_server), "sfu_rtcp_feedback_received_total",
                                            type="transport-cc") >= 20, timeout=10)

            def aiortc_sees_both() -> bool:
                return all((v := client.video_from(pid)) is not None and v.frames > 10 for pid in ids)

            await wait_until(aiortc_sees_both, timeout=20)
            assert not client.errors
            # the browsers' fake microphones beep: audio levels (RFC 6464) make one of them the speaker,
            # and the late-joining aiortc client is told who it is
            await wait_until(lambda: bool(client.events["video:active-speaker"]), timeout=10)
            assert client.events["video:active-speaker"][-1]["participantId"] in ids
        finally:
            await client.close()
