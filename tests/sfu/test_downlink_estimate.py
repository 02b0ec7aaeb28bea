"""A subscriber's downlink estimated from its transport-wide feedback, through the real server.

Chromium publishes simulcast; an aiortc subscriber offers transport-wide feedback as a browser does
(aiortc itself does not). The server must number every packet it sends that subscriber, audio and
video alike, in one sequence, and its feedback then decides the layers: feedback saying that half
of the packets are lost steps the video down to the quarter layer, as a congested browser's would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sfu_client import SfuClient, joined, wait_until
from support import ServerProcess
from test_simulcast import simulcast_room, tile

from router.twcc import build_feedback


def layer_of(client: SfuClient, participant_id: str) -> Any:
    told = client.events["video:forwarding"]
    videos = told[-1]["videos"] if told else []
    return next((v.get("layer") for v in videos if v.get("participantId") == participant_id), None)


async def test_transport_wide_feedback_numbers_everything_sent_and_drives_the_layers(sfu_server: ServerProcess) -> None:
    async with simulcast_room(sfu_server) as (room, _pages, ids):
        alice = ids[0]
        client = SfuClient(sfu_server.url, room, "twcc", publish=False, transport_cc=True)
        try:
            await client.connect()
            await client.join()
            assert (await client.call("video:set-view", {"roomId": room, "tiles": [tile(alice, 640, 360)]}))["ok"]
            await wait_until(lambda: (v := client.video_from(alice)) is not None and v.frames > 10, timeout=30)
            await wait_until(lambda: layer_of(client, alice) == 1, timeout=10)

            # one sequence across every stream it gets (audio and video of two publishers), no gaps
            # on a loss-free machine-local path
            await wait_until(lambda: len(client.transport_log) >= 400, timeout=10)
            numbers = [n for n, _ in client.transport_log[-400:]]
            assert len({ssrc for ssrc, log in client.rtp_log.items() if log}) >= 3
            steps = sorted({(b - a) & 0xFFFF for a, b in zip(numbers, numbers[1:], strict=False)})
            assert steps[0] >= 1 and max(steps) <= 20, steps  # increasing (reordered by a few at most)

            # feedback that says half of everything is lost: a congested downlink
            async def lossy_feedback() -> None:
                reported = client.transport_log[-1][0]
                count = 0
                while True:
                    await asyncio.sleep(0.1)
                    received = dict(client.transport_log[-2000:])
                    highest = client.transport_log[-1][0]
                    span = (highest - reported) & 0xFFFF
                    if span == 0:
                        continue
                    base = (reported + 1) & 0xFFFF
                    arrivals = [received.get((base + i) & 0xFFFF) if i % 2 else None for i in range(span)]
                    if any(a is not None for a in arrivals):
                        await client.send_rtcp(build_feedback(0x5EED, 0, base, arrivals, count))
                        count += 1
                    reported = highest

            started = time.monotonic()
            reporting = asyncio.get_running_loop().create_task(lossy_feedback())
            try:
                await wait_until(lambda: layer_of(client, alice) == 0, timeout=20)
                stepped_down_after = time.monotonic() - started
                await wait_until(lambda: client.video_from(alice).width <= 320, timeout=10)
            finally:
                reporting.cancel()
            assert stepped_down_after < 20
            assert not client.errors
        finally:
            await client.close()


async def test_a_two_byte_transport_wide_id_is_not_negotiated_and_breaks_nothing(sfu_server: ServerProcess) -> None:
    """`a=extmap-allow-mixed` lets a client name the extension with ID 200; the server cannot add that to
    the one-byte blocks it forwards, so it leaves the extension out, and everyone's video still flows."""
    async with joined(sfu_server.url, "alice", "bob") as (alice, bob):
        odd = SfuClient(sfu_server.url, alice.room, "odd", publish=False, transport_cc=True, transport_cc_id=200)
        try:
            await odd.connect()
            await odd.join()
            await wait_until(lambda: all((v := c.video_from(alice.pid)) is not None and v.frames > 10 for c in (bob, odd)),
                             timeout=20)
            from_server = [e["description"]["sdp"] for e in odd.events["video:answer"] + odd.events["video:offer"]]
            assert from_server and not any("transport-wide-cc" in sdp for sdp in from_server)
            assert odd.transport_log == [] and not odd.errors and not bob.errors
        finally:
            await odd.close()
