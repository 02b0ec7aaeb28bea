"""`video:media-status`: the room learns whose media connected, and whose never did (and why).

Real server, real aiortc clients; the refused member sends a real Firefox offer that names a mid its
SDP rejects (the shape the server used to refuse for every Firefox join).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from recording import RecordingNotifier
from sfu_client import SfuClient, joined, wait_until
from support import ServerProcess

from sfu.backend import SfuBackend
from sfu.config import Settings

FIREFOX_OFFER = (Path(__file__).parent / "fixtures" / "firefox153-offer-publisher.sdp").read_text()


def statuses(client: SfuClient, pid: str) -> list[tuple[str, Any]]:
    return [(e["status"], e["reason"]) for e in client.events["video:media-status"] if e["participantId"] == pid]


async def test_connected_and_refused_members_are_told_to_the_room(sfu_server: ServerProcess) -> None:
    room = f"status-{uuid.uuid4().hex[:8]}"
    async with joined(sfu_server.url, "ada", room=room) as (ada,):
        await wait_until(lambda: ("connected", None) in statuses(ada, ada.pid), timeout=10)
        broken = SfuClient(sfu_server.url, room, "broken", publish=False)
        late = SfuClient(sfu_server.url, room, "late", publish=False)
        try:
            await broken.connect()
            await broken.join(offer=False)
            # a Firefox offer with its video section rejected, whose `tracks` still name it
            sdp = re.sub(r"a=bundle-only\r?\n", "", FIREFOX_OFFER.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0"))
            sdp = "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith("a=candidate:"))
            ack = await broken.call("video:offer", {"roomId": room, "to": "sfu", "description": {"type": "offer", "sdp": sdp},
                                                    "tracks": [{"mid": "1", "source": "camera"}]})
            assert ack["ok"] is False and ack["error"]["code"] == "bad_request", ack
            for client in (ada, broken):
                await wait_until(lambda client=client: bool(statuses(client, broken.pid)), timeout=5)
            # refusing it again is no news: the room hears once
            again = await broken.call("video:offer", {"roomId": room, "to": "sfu", "description": {"type": "offer", "sdp": sdp},
                                                      "tracks": [{"mid": "7", "source": "camera"}]})
            assert again["ok"] is False
            await asyncio.sleep(0.3)
            for client in (ada, broken):
                [(status, reason)] = statuses(client, broken.pid)
                assert status == "failed" and "refused its offer" in reason and "mid 1" in reason
            # a later joiner is told on joining, before any media of its own
            await late.connect()
            await late.join(offer=False)
            await wait_until(lambda: bool(statuses(late, broken.pid)), timeout=5)
            assert statuses(late, broken.pid)[0][0] == "failed"
            assert statuses(late, ada.pid) == []  # connected members need no news
        finally:
            await asyncio.gather(broken.close(), late.close())


async def test_a_member_that_never_connects_is_failed_after_the_deadline() -> None:
    notifier = RecordingNotifier()
    backend = SfuBackend(Settings(ice_hosts=("127.0.0.1",)), notifier, CollectorRegistry())
    backend.media_status.deadline = 0.3
    try:
        await backend.join("room", "silent")
        await backend.join("room", "gone")
        await backend.leave("room", "gone")  # leaving cancels its deadline: nothing is said about it
        await asyncio.sleep(0.6)
        sent = [(to, p["participantId"], p["status"]) for to, event, p in notifier.sent if event == "video:media-status"]
        # "gone" heard on joining that "silent" was still connecting; then the room heard it failed
        assert sent == [("gone", "silent", "connecting"), ("room", "silent", "failed")]
        reason = notifier.sent[-1][2]["reason"]
        assert "no media connection 0.3 s after joining" == reason
        assert backend.media_status.status("room", "gone") is None
    finally:
        await backend.close()
