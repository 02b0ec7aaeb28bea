"""Socket.IO binary attachments: the protocol has none, so they are refused before anything is buffered.

Review (issue 12): a BINARY_EVENT header announcing many attachments made python-socketio keep every
following binary frame until the count was reached: one connection took the server from 96 to 289 MB.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from hostile import RawSocket, metric, metrics_text, watch
from sig_clients import Peers, settle
from sig_node import run_node
from support import ServerProcess, run_server

MB = b"\x00" * 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with run_server(["--no-media", "--rate-chat", "1000/1000"]) as s:
        yield s


async def flood(raw: RawSocket, frames: int) -> int:
    """Send up to `frames` 1 MB binary frames; return how many went out before the server closed us."""
    sent = 0
    for _ in range(frames):
        if raw.closed.is_set():
            break
        try:
            await raw.send_bytes(MB)
        except (ConnectionError, RuntimeError):
            break
        sent += 1
        if sent % 10 == 0:
            await asyncio.sleep(0)  # let the reader notice a close
    return sent


async def test_announced_attachments_are_never_buffered(server, room) -> None:
    raws = [await RawSocket(server.url).connect({"name": f"binary-{i}"}) for i in range(2)]
    try:
        async with watch(server) as seen:
            for raw in raws:  # "1000 attachments follow"; then 150 MB of them from each connection
                await raw.send('451000-["chat:send",{"roomId":"x","text":{"_placeholder":true,"num":0}}]')
            await asyncio.gather(*(flood(raw, 150) for raw in raws))
            await settle(0.5)
        seen.assert_unaffected(max_rss_growth_mb=40)
        for raw in raws:
            await asyncio.wait_for(raw.closed.wait(), 5)  # an announced flood closes that connection only
    finally:
        for raw in raws:
            await raw.close()


async def test_a_binary_event_is_answered_bad_request(server, peers: Peers, room) -> None:
    """A client that sends a Buffer gets the same error contract as any other bad payload."""
    before = metrics_text(server)
    async with watch(server) as seen:
        raw = await RawSocket(server.url).connect({"name": "binary-ack"})
        try:
            for i in range(20):
                await raw.send(f'451-{100 + i}["chat:send",{{"roomId":"{room}","text":{{"_placeholder":true,"num":0}}}}]')
                await raw.send_bytes(b"\x01\x02\x03" * 1000)
            for _ in range(50):
                if len([m for m in raw.received if m.startswith("431")]) == 20:
                    break
                await settle(0.1)
            acks = [m for m in raw.received if m.startswith("431")]
            assert len(acks) == 20, raw.received
            body = json.loads(acks[0][acks[0].index("["):])[0]
            assert body == {"ok": False, "error": {"code": "bad_request",
                                                   "message": "binary attachments are not supported"}}
            await raw.send('427["presence:list"]')
            for _ in range(50):
                if any(m.startswith("437") for m in raw.received):
                    break
                await settle(0.1)
            assert any(m.startswith('437[{"ok":true') for m in raw.received), "the connection still works"
        finally:
            await raw.close()
    seen.assert_unaffected()
    rejected = "sfu_signaling_events_rejected_total"
    after = metrics_text(server)
    assert metric(after, rejected, event="binary") - metric(before, rejected, event="binary") == 20
    lines = [line for line in server.log().splitlines() if "event=binary_refused" in line and raw.sid in line]
    assert len(lines) == 1, lines


async def test_stray_binary_frames_close_only_the_sender(server) -> None:
    async with watch(server) as seen:
        raw = await RawSocket(server.url).connect({"name": "stray"})
        try:
            sent = await flood(raw, 100)
            await asyncio.wait_for(raw.closed.wait(), 5)
            assert sent < 100
        finally:
            await raw.close()
    seen.assert_unaffected()
    assert "Traceback" not in server.log()


def test_npm_client_buffer_is_refused(server, room) -> None:
    """The real socket.io-client encodes a Buffer as an attachment: refused with the error contract."""
    result = run_node("binary.mjs", server.url, room)
    assert result == {"ack": {"ok": False, "error": {"code": "bad_request",
                                                     "message": "binary attachments are not supported"}},
                      "after": {"ok": True}, "reservedThrows": True, "connected": True}
