"""ICE restarts: a browser whose network changed restarts ICE on the same connection and keeps its call.

aiortc itself ignores new ICE credentials; the server restarts its side (sfu/ice.py) while the DTLS
session and every stream continue.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from typing import Any

from browser import chromium, decoded_from, open_test_pages, serve_test_page
from support import ServerProcess


async def frames_rising(page: Any, participant_id: str, seconds: float = 1.5) -> bool:
    before = await decoded_from(page, participant_id)
    await asyncio.sleep(seconds)
    return await decoded_from(page, participant_id) > before + 5


async def test_a_browser_restarts_ice_and_its_call_goes_on(sfu_server: ServerProcess) -> None:
    room = f"restart-{uuid.uuid4().hex[:8]}"
    async with serve_test_page() as page_url, chromium() as browser:
        pages, ids = await open_test_pages(browser, page_url, sfu_server.url, room, [("alice", ""), ("bob", "")])
        alice, bob = pages
        for _ in range(100):
            if await decoded_from(alice, ids[1]) > 10 and await decoded_from(bob, ids[0]) > 10:
                break
            await asyncio.sleep(0.2)
        server_ufrag = (await alice.evaluate("window.answerSdp()")).split("a=ice-ufrag:")[1].split()[0]
        pair_before = await alice.evaluate("window.selectedPair()")
        ack = await alice.evaluate("window.restartIce()")
        assert ack["ok"], ack
        await alice.wait_for_function(f"window.answerSdp().indexOf('a=ice-ufrag:{server_ufrag}') < 0", timeout=10_000)
        for _ in range(50):  # the new ICE session's checks succeed and a new pair carries the media
            if await alice.evaluate("window.selectedPair()") not in (None, pair_before):
                break
            await asyncio.sleep(0.2)
        assert await alice.evaluate("window.selectedPair()") != pair_before
        assert await frames_rising(alice, ids[1]) and await frames_rising(bob, ids[0])
        assert await alice.evaluate("window.connectionState()") == "connected"
        assert await alice.evaluate("window.errors") == [] and await bob.evaluate("window.errors") == []
        with urllib.request.urlopen(f"{sfu_server.url}/metrics", timeout=5) as resp:
            assert "sfu_ice_restarts_total 1.0" in resp.read().decode()
