"""Rate limits (token bucket per connection, refused with rate_limited, never a disconnect) and
departure timing (clean close, silent drop)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator

import pytest
from sig_clients import settle
from sig_node import run_node, spawn_node
from support import ServerProcess, run_server


@pytest.fixture(scope="module")
def default_limits_server() -> Iterator[ServerProcess]:
    """Default rate limits; fast engine.io pings so a silent drop shows within about 2 s."""
    with run_server(["--no-media", "--ping-interval", "1", "--ping-timeout", "1"]) as server:
        yield server


async def test_chat_burst_then_refill(default_limits_server, peers, room) -> None:
    a = await peers(default_limits_server.url, name="rl-chat")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    replies = [await a.call("chat:send", {"roomId": room, "text": f"m{i}"}) for i in range(6)]
    assert [r["ok"] for r in replies] == [True] * 5 + [False]
    assert replies[5]["error"]["code"] == "rate_limited"
    # rate limiting comes before validation
    assert (await a.call("chat:send", {"roomId": 5}))["error"]["code"] == "rate_limited"
    await a.emit("chat:send", {"roomId": room, "text": "no ack"})
    assert (await a.wait_for("error"))["code"] == "rate_limited"
    await asyncio.sleep(1.1)
    assert (await a.call("chat:send", {"roomId": room, "text": "refilled"}))["ok"]
    assert a.sio.connected
    # other buckets are independent
    assert (await a.call("presence:list"))["ok"]


async def test_join_burst(default_limits_server, peers, room) -> None:
    a = await peers(default_limits_server.url, name="rl-join")
    codes = [(await a.call("video:join-room", {"roomId": f"{room}-{i}"})).get("error", {}).get("code")
             for i in range(4)]
    assert codes == [None, None, None, "rate_limited"]
    assert a.sio.connected


async def test_ice_candidates_allow_a_burst_of_100(default_limits_server, peers, room) -> None:
    a, b = await peers(default_limits_server.url, name="rl-ice-a"), await peers(default_limits_server.url, name="rl-ice-b")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    await b.call("video:join-room", {"roomId": room})
    cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    replies = await asyncio.gather(*(a.call("video:ice-candidate", {"roomId": room, "to": b.sid, "candidate": cand})
                                     for _ in range(100)))
    assert all(r["ok"] for r in replies)
    await b.wait_for("video:ice-candidate", lambda _p: len(b.received("video:ice-candidate")) == 100)


async def test_default_bucket(default_limits_server, peers) -> None:
    a = await peers(default_limits_server.url, name="rl-default")
    replies = await asyncio.gather(*(a.call("presence:list") for _ in range(40)))
    limited = [r for r in replies if not r["ok"]]
    # burst 20 + 10/s refill: sent within about a second, some of the 40 must be refused
    assert 1 <= len(limited) <= 20 and all(r["error"]["code"] == "rate_limited" for r in limited)
    assert a.sio.connected


def test_max_connections_refuses_with_a_reason(room) -> None:
    with run_server(["--no-media", "--max-connections", "1"]) as server:
        idle = spawn_node("idle.mjs", server.url, room)
        try:
            assert idle.stdout is not None and json.loads(idle.stdout.readline())["ok"] is True
            assert run_node("connect.mjs", server.url, json.dumps({"name": "second"})) == {
                "connected": False, "error": "server full"}
        finally:
            idle.kill()
            idle.wait(5)


async def test_user_left_soon_after_close(default_limits_server, peers, room) -> None:
    a, b = await peers(default_limits_server.url, name="dep-a"), await peers(default_limits_server.url, name="dep-b")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    await b.call("video:join-room", {"roomId": room})
    started = time.monotonic()
    await b.close()
    assert await a.wait_for("video:user-left", timeout=5) == {"roomId": room, "participantId": b.sid}
    assert time.monotonic() - started < 5


async def test_user_left_after_silent_drop(default_limits_server, peers, room) -> None:
    a = await peers(default_limits_server.url, name="dep-watcher")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    node = spawn_node("idle.mjs", default_limits_server.url, room)
    try:
        assert node.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(node.stdout.readline), 10)
        ghost = json.loads(line)["participantId"]
        await a.wait_for("video:user-joined")
        node.send_signal(signal.SIGSTOP)  # no FIN, no pongs: only the ping timeout can notice
        started = time.monotonic()
        left = await a.wait_for("video:user-left", timeout=8)
        elapsed = time.monotonic() - started
        assert left == {"roomId": room, "participantId": ghost}
        assert elapsed < 1 + 1 + 3, f"silent drop noticed after {elapsed:.1f}s (interval 1 s + timeout 1 s)"
        await settle()
        assert [p["participantId"] for p in (await a.call("video:join-room", {"roomId": room}))["participants"]] == []
    finally:
        node.kill()
        node.wait(5)
