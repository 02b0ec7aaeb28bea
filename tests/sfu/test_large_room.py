"""Large rooms with aiortc clients: receive slots, last-N video, the loudest speakers' audio.

The server runs with small limits (last 2 videos, 2 loudest speakers) so that a handful of real
clients shows what a 50-person room does. Publishers send identity clips: every decoded frame says
whose camera it came from, so a slot that changes hands is checked by what it shows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from sfu_client import SfuClient, wait_until
from support import ServerProcess, run_server

from benchmarks.clip import identity_of, load_clip

SILENT = 127
LOUD = 10


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO", "--last-n", "2", "--audio-last-n", "2"]) as srv:
        yield srv


async def publishers(server: ServerProcess, room: str, count: int) -> list[SfuClient]:
    """Publishers that declare one audio slot and no video slot: they send, and decode almost nothing."""
    # encoded (or read from the cache) before anyone connects: encoding blocks the event loop for
    # seconds, and a client that cannot answer the server's pings meanwhile is dropped
    clips = [load_clip("300k", identity=i % 7 + 1) for i in range(count)]
    clients = []
    for i in range(count):
        client = SfuClient(server.url, room, f"pub{i}", clip=clips[i], slots=True)
        client.audio_level = SILENT
        await client.connect()
        await client.join(offer=False)
        client.media = {"audioSlots": 1, "videoSlots": 0}
        await client.offer_initial()
        clients.append(client)
    return clients


def shown(client: SfuClient, kind: str) -> list[str]:
    return client.slot_sources(kind)


def decoded_identities(client: SfuClient, pid: str) -> set[int]:
    got = client.video_from(pid)
    return {identity_of(c) for c in got.counters} if got is not None else set()


def slot_of(client: SfuClient, pid: str, kind: str = "video") -> str:
    """The mid of the slot on which the server says it forwards `pid`'s `kind` now."""
    return next(mid for mid, t in client.tracks_by_mid.items()
                if mid in client.slot_mids and t["kind"] == kind and t["participantId"] == pid)


def slot_runs(client: SfuClient, mid: str) -> list[int]:
    """The identities a slot's checked frames showed, in decode order, each run of one identity once."""
    runs: list[int] = []
    for counter in client.frames_by_mid[mid]:
        if not runs or runs[-1] != identity_of(counter):
            runs.append(identity_of(counter))
    return runs


def assert_slot_showed_only_its_owners(client: SfuClient, mid: str, identity_by_pid: dict[str, int]) -> None:
    """What the slot showed follows who the server said it forwards there, in that order, with no
    frame of anybody else and no way back: its runs are a subsequence of its owners' identities.
    (By content, not by arrival time: a busy client may read an event before the last packets that
    came before it.)"""
    owners = [identity_by_pid.get(owner["participantId"], -1) for _, owner in client.slot_history[mid] if owner is not None]
    runs = iter(owners)
    assert all(any(identity == owner for owner in runs) for identity in slot_runs(client, mid)), (
        f"slot {mid} showed {slot_runs(client, mid)}, its owners were {owners}")


async def test_slots_carry_at_most_last_n_videos_and_the_loudest_audio_with_no_renegotiation(
    server: ServerProcess,
) -> None:
    room = f"big-{uuid.uuid4().hex[:8]}"
    pubs = await publishers(server, room, 4)
    observer = SfuClient(server.url, room, "observer", publish=False, slots=True)
    try:
        await observer.connect()
        await observer.join()
        assert observer.media["videoSlots"] == 4 and observer.media["audioSlots"] == 2  # last-n 2 + 2 screens
        await wait_until(lambda: len(shown(observer, "video")) == 2 and len(shown(observer, "audio")) == 2, timeout=10)
        # nobody spoke yet: the longest in the room are shown
        assert set(shown(observer, "video")) == {pubs[0].pid, pubs[1].pid}
        await wait_until(lambda: all(len(decoded_identities(observer, p.pid)) > 0 for p in pubs[:2]), timeout=15)
        for index, pub in enumerate(pubs[:2]):
            assert decoded_identities(observer, pub.pid) == {index + 1}, "a slot showed someone else's frames"

        # someone new joins: nobody already there renegotiates
        late = (await publishers(server, room, 1))[0]
        pubs.append(late)
        await asyncio.sleep(1.0)
        assert observer.events["video:offer"] == [] and all(p.events["video:offer"] == [] for p in pubs)

        # the last publisher speaks: heard at once, then seen
        speaker = pubs[3]
        speaker.audio_level = LOUD
        started = time.monotonic()
        await wait_until(lambda: speaker.pid in shown(observer, "audio"), timeout=3, interval=0.02)
        heard_after = time.monotonic() - started
        await wait_until(lambda: speaker.pid in shown(observer, "video"), timeout=5)
        mid = slot_of(observer, speaker.pid)
        await wait_until(lambda: slot_runs(observer, mid)[-1:] == [4], timeout=10)
        assert_slot_showed_only_its_owners(observer, mid, {p.pid: index % 7 + 1 for index, p in enumerate(pubs)})
        assert len(shown(observer, "video")) <= 2 and len(shown(observer, "audio")) <= 2
        assert heard_after < 1.0, heard_after  # 50 ms ticks; the margin is for this shared machine
        frames_before = observer.received[(speaker.pid, "microphone")].frames
        await asyncio.sleep(0.5)
        assert observer.received[(speaker.pid, "microphone")].frames > frames_before

        # muted: never heard again, whatever it sends
        ack = await speaker.call("video:toggle-audio", {"roomId": room, "enabled": False})
        assert ack["ok"]
        await wait_until(lambda: speaker.pid not in shown(observer, "audio"), timeout=3)
        assert observer.events["video:offer"] == []
        assert not observer.errors and all(not p.errors for p in pubs)
    finally:
        await asyncio.gather(observer.close(), *(p.close() for p in pubs))


async def test_a_view_picks_which_cameras_and_the_server_says_what_is_not_forwarded(server: ServerProcess) -> None:
    room = f"view-{uuid.uuid4().hex[:8]}"
    pubs = await publishers(server, room, 3)
    observer = SfuClient(server.url, room, "observer", publish=False, slots=True)
    try:
        await observer.connect()
        await observer.join()
        ack = await observer.call("video:set-view", {"roomId": room, "tiles": [
            {"participantId": pubs[2].pid, "source": "camera", "width": 320, "height": 180},
            {"participantId": "nobody", "source": "camera", "width": 320, "height": 180},
        ]})
        assert ack == {"ok": True}
        await wait_until(lambda: shown(observer, "video") == [pubs[2].pid], timeout=5)
        expected = {pubs[0].pid: "not-forwarded", pubs[1].pid: "not-forwarded", pubs[2].pid: "forwarded"}

        def told() -> dict[str, str]:
            last = observer.events["video:forwarding"][-1:]
            return {v["participantId"]: v["state"] for v in last[0]["videos"]} if last else {}

        # before the view, pubs[2] is not among the first two; then `waiting` while its first packets are on
        # their way: never "paused for bandwidth" (nothing here is short of bandwidth)
        await wait_until(lambda: told() == expected, timeout=5)
        seen = {v["state"] for e in observer.events["video:forwarding"] for v in e["videos"]
                if v["participantId"] == pubs[2].pid}
        assert seen <= {"not-forwarded", "waiting", "forwarded"}, seen
        bad = await observer.call("video:set-view", {"roomId": room, "tiles": [{"participantId": 7}]})
        assert bad["ok"] is False and bad["error"]["code"] == "bad_request"
    finally:
        await asyncio.gather(observer.close(), *(p.close() for p in pubs))
