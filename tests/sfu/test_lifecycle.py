"""What a participant leaves behind: nothing, whether it leaves, drops, or cycles a hundred times."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sfu_client import SfuClient, joined, wait_until
from support import ServerProcess, run_server


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with run_server(["--log-level", "WARNING", "--ping-interval", "2", "--ping-timeout", "2"]) as srv:
        yield srv


def health(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as resp:
        return json.loads(resp.read())


def process_resources(pid: int) -> dict[str, int]:
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return {
        "threads": int(status["Threads"].strip()),
        "rss_kb": int(status["VmRSS"].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def kill_network(client: SfuClient) -> None:
    """The client's machine vanishes: UDP sockets closed without DTLS goodbye, websocket torn down."""
    for transceiver in client.pc.getTransceivers():
        for protocol in transceiver.receiver.transport.transport._connection._protocols:
            protocol.transport.close()


async def test_dropped_participant_is_cleaned_up(server: ServerProcess) -> None:
    room = f"drop-{uuid.uuid4().hex[:8]}"
    alice, bob, carol = (SfuClient(server.url, room, n) for n in ("alice", "bob", "carol"))
    try:
        for client in (alice, bob, carol):
            await client.connect()
            await client.join()
        await wait_until(lambda: (v := alice.video_from(carol.pid)) is not None and v.frames > 5, timeout=15)
        kill_network(carol)
        await carol.sio.eio.disconnect(abort=True)
        for other in (alice, bob):
            await wait_until(lambda o=other: any(e["participantId"] == carol.pid for e in o.events["video:user-left"]),
                             timeout=8)
            await wait_until(
                lambda o=other: all(t["participantId"] != carol.pid for t in o.events["video:offer"][-1]["tracks"]),
                timeout=5)
        media = health(server)["media"]
        assert media["connections"] == 2 and media["producers"] == 4 and media["consumers"] == 4, media
    finally:
        await asyncio.gather(*(c.close() for c in (alice, bob, carol)))


async def test_forwarding_never_decodes(server: ServerProcess) -> None:
    async with joined(server.url, "alice", "bob") as (alice, bob):
        await wait_until(lambda: (v := bob.video_from(alice.pid)) is not None and v.frames > 10, timeout=15)
        media = health(server)["media"]
        assert media["forwarding"] == "forward"
        assert media["forwardedPackets"] > 0
        assert media["decoderThreads"] == 0, "forwarding mode must not start aiortc decoders"


@pytest.mark.timeout(400)
async def test_hundred_join_leave_cycles_leave_nothing_behind(server: ServerProcess) -> None:
    room = f"cycle-{uuid.uuid4().hex[:8]}"
    host = SfuClient(server.url, room, "host")
    await host.connect()
    await host.join()
    try:
        baseline: dict[str, int] = {}
        for cycle in range(100):
            guest = SfuClient(server.url, room, f"guest{cycle}", clip=host.clip)
            await guest.connect()
            await guest.join()
            await wait_until(lambda g=guest: g.pc.connectionState == "connected", timeout=10)
            await guest.call("video:leave-room", {"roomId": room})
            await guest.close()
            if cycle == 9:
                await asyncio.sleep(1.0)
                baseline = process_resources(server.process.pid)
                baseline["tasks"] = health(server)["media"]["tasks"]
        await wait_until(lambda: health(server)["media"]["connections"] == 1, timeout=10)
        await asyncio.sleep(2.0)
        after = process_resources(server.process.pid)
        media = health(server)["media"]
        assert media["producers"] == 2 and media["consumers"] == 0, (media, host.errors)
        assert not host.errors, host.errors
        # departed tracks' m-lines are recycled past a bound, so the host's SDP stays small
        last_offer = host.events["video:offer"][-1]["description"]["sdp"]
        assert last_offer.count("m=") <= 2 + 2 * 17 + 2, last_offer.count("m=")
        assert after["threads"] <= baseline["threads"] + 2, (baseline, after)
        assert media["tasks"] <= baseline["tasks"] + 3, (baseline, media)
        assert after["fds"] <= baseline["fds"] + 5, (baseline, after)
        assert after["rss_kb"] - baseline["rss_kb"] < 40_000, (baseline, after)
    finally:
        await host.close()
