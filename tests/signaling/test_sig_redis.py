"""Two (or three) server processes sharing a real Redis behave as one; a dead process leaves no
ghosts past the heartbeat TTL; a Redis outage degrades /healthz but every event is still answered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sig_clients import servers, settle
from sig_node import run_node
from support import free_port, redis_available

TTL = "2"  # seconds: heartbeat TTL in these tests (the default is 20)


@pytest.fixture
def prefix(redis_url) -> Iterator[str]:
    """A key prefix of our own; only our keys are removed afterwards (other suites share this Redis)."""
    value = f"sigtest:{uuid.uuid4().hex[:10]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{value}*", count=1000))
    if keys:
        client.delete(*keys)


def cluster_args(redis_url: str, prefix: str) -> list[str]:
    return ["--no-media", "--redis-url", redis_url, "--redis-prefix", prefix, "--heartbeat-ttl", TTL,
            "--rate-default", "1000/1000", "--rate-chat", "1000/1000"]


def healthz(url: str) -> dict:
    with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


async def test_mesh_flow_across_two_processes(redis_url, prefix, peers, room) -> None:
    async with servers(peers, cluster_args(redis_url, prefix), cluster_args(redis_url, prefix)) as (s1, s2):
        a = await peers(s1.url, name=f"{room}-a")
        b = await peers(s2.url, name=f"{room}-b")
        assert (await a.call("video:join-room", {"roomId": room, "topology": "mesh"}))["topology"] == "mesh"
        joined = await b.call("video:join-room", {"roomId": room, "topology": "sfu"})
        assert joined["topology"] == "mesh" and [p["participantId"] for p in joined["participants"]] == [a.sid]
        assert (await a.wait_for("video:user-joined"))["participant"]["participantId"] == b.sid

        offer = {"type": "offer", "sdp": "v=0\r\n"}
        assert (await a.call("video:offer", {"roomId": room, "to": b.sid, "description": offer}))["ok"]
        assert await b.wait_for("video:offer") == {"roomId": room, "from": a.sid, "description": offer}
        answer = {"type": "answer", "sdp": "v=0\r\n"}
        assert (await b.call("video:answer", {"roomId": room, "to": a.sid, "description": answer}))["ok"]
        assert (await a.wait_for("video:answer"))["from"] == b.sid
        assert (await a.call("video:ice-candidate", {"roomId": room, "to": b.sid, "candidate": None}))["ok"]
        assert (await b.wait_for("video:ice-candidate"))["candidate"] is None

        assert (await b.call("video:toggle-audio", {"roomId": room, "enabled": False}))["ok"]
        for peer in (a, b):
            assert (await peer.wait_for("video:media-state-changed"))["audio"] is False

        sent = (await a.call("chat:send", {"roomId": room, "text": "across", "clientMsgId": "x1"}))["message"]
        assert await b.wait_for("chat:message") == sent
        assert (await b.call("chat:history", {"roomId": room}))["messages"] == [sent]
        # dedupe holds across processes too
        a_on_s2 = await peers(s2.url, name=f"{room}-a")
        await a_on_s2.call("video:join-room", {"roomId": room})
        assert (await a_on_s2.call("chat:send", {"roomId": room, "text": "across", "clientMsgId": "x1"}))["message"] == sent

        # a later joiner on s1 sees b's toggled state recorded by s2
        c = await peers(s1.url, name=f"{room}-c")
        state = await c.call("video:join-room", {"roomId": room})
        by_id = {p["participantId"]: p for p in state["participants"]}
        assert by_id[b.sid]["audio"] is False and set(by_id) == {a.sid, b.sid, a_on_s2.sid}

        await b.call("video:leave-room", {"roomId": room})
        assert await a.wait_for("video:user-left") == {"roomId": room, "participantId": b.sid}
        await settle()
        assert (await b.call("video:offer", {"roomId": room, "to": a.sid, "description": offer}))["error"]["code"] \
            == "forbidden"

        # an sfu room's media lives in the process that created it: joins through another process are refused
        sfu_room = room + "-sfu"
        assert (await a.call("video:join-room", {"roomId": sfu_room}))["topology"] == "sfu"
        refused = await b.call("video:join-room", {"roomId": sfu_room})
        assert refused["error"]["code"] == "conflict"
        assert (await c.call("video:join-room", {"roomId": sfu_room}))["ok"], "same process: fine"


async def test_node_client_flow_across_two_processes(redis_url, prefix, peers, room) -> None:
    async with servers(peers, cluster_args(redis_url, prefix), cluster_args(redis_url, prefix)) as (s1, s2):
        summary = await asyncio.to_thread(run_node, "flow.mjs", s1.url, room, "websocket", s2.url)
        assert summary["alice"] == {"chatMessages": 1, "mediaChanges": 4} and summary["bob"]["chatMessages"] == 1


async def test_presence_with_tabs_on_both_processes(redis_url, prefix, peers, room) -> None:
    async with servers(peers, cluster_args(redis_url, prefix), cluster_args(redis_url, prefix)) as (s1, s2):
        watcher = await peers(s1.url, name=f"{room}-watcher")
        user = {"name": "Both", "userId": f"{room}-both"}
        tab1 = await peers(s1.url, auth=user)
        tab2 = await peers(s2.url, auth=user)
        await watcher.wait_for("presence:online", lambda u: u["userId"] == user["userId"])
        listed = (await watcher.call("presence:list"))["users"]
        assert [u for u in listed if u["userId"] == user["userId"]] == [{"userId": user["userId"], "displayName": "Both"}]
        assert sorted(u["userId"] for u in (await tab2.call("presence:list"))["users"]) == sorted(
            [user["userId"], f"{room}-watcher"])
        await tab1.close()
        await settle(0.5)
        assert watcher.received("presence:offline") == []
        await tab2.close()
        assert (await watcher.wait_for("presence:offline"))["userId"] == user["userId"]
        assert len(watcher.received("presence:online", lambda u: u["userId"] == user["userId"])) == 1


async def test_killed_process_leaves_no_ghosts(redis_url, prefix, peers, room) -> None:
    async with servers(peers, cluster_args(redis_url, prefix), cluster_args(redis_url, prefix)) as (s1, doomed):
        a = await peers(s1.url, name=f"{room}-survivor")
        await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
        ghost = await peers(doomed.url, name=f"{room}-ghost")
        await ghost.call("video:join-room", {"roomId": room})
        await a.wait_for("video:user-joined")
        await a.wait_for("presence:online", lambda u: u["userId"] == f"{room}-ghost")
        doomed.kill()
        started = time.monotonic()
        left = await a.wait_for("video:user-left", timeout=10)
        elapsed = time.monotonic() - started
        assert left == {"roomId": room, "participantId": ghost.sid}
        assert (await a.wait_for("presence:offline", timeout=5))["userId"] == f"{room}-ghost"
        # TTL 2 s + one heartbeat interval (TTL/3) + scheduling slack
        assert elapsed < 2 + 2 / 3 + 3, f"ghost removed after {elapsed:.1f}s"
        again = await a.call("video:join-room", {"roomId": room})
        assert again["participants"] == []
        assert all(u["userId"] != f"{room}-ghost" for u in (await a.call("presence:list"))["users"])


async def test_stalled_process_is_reaped_then_re_registers(redis_url, prefix, peers, room) -> None:
    """A process frozen past the TTL looks dead and is reaped; when it resumes, it puts back what it
    holds and the room hears `video:user-joined` again."""
    async with servers(peers, cluster_args(redis_url, prefix), cluster_args(redis_url, prefix)) as (s1, s2):
        a = await peers(s1.url, name=f"{room}-a")
        b = await peers(s2.url, name=f"{room}-b")
        await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
        await b.call("video:join-room", {"roomId": room})
        await a.wait_for("video:user-joined")
        s2.process.send_signal(signal.SIGSTOP)
        try:
            assert (await a.wait_for("video:user-left", timeout=8))["participantId"] == b.sid
        finally:
            s2.process.send_signal(signal.SIGCONT)
        back = await a.wait_for("video:user-joined", lambda p: len(a.received("video:user-joined")) == 2, timeout=8)
        assert back["participant"]["participantId"] == b.sid
        assert b.sio.connected
        c = await peers(s1.url, name=f"{room}-c")
        state = await c.call("video:join-room", {"roomId": room})
        assert {p["participantId"] for p in state["participants"]} == {a.sid, b.sid}


@contextlib.contextmanager
def private_redis(port: int, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own (so killing it harms no other suite); it loads
    `data_dir/dump.rdb` at start when one was saved."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is required (apt-get install redis-server)")
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(data_dir), "--dbfilename", "dump.rdb"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not redis_available(f"redis://127.0.0.1:{port}/0"):
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.05)
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


async def wait_status(url: str, status: str, timeout: float = 8) -> float:
    started = time.monotonic()
    while healthz(url)["status"] != status:
        assert time.monotonic() - started < timeout, f"/healthz never became {status}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_redis_outage_degrades_and_recovers(peers, room, tmp_path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    args = ["--no-media", "--redis-url", url, "--redis-prefix", "outage:", "--heartbeat-ttl", TTL,
            "--rate-default", "1000/1000", "--rate-chat", "1000/1000"]
    with private_redis(port, tmp_path) as redis_proc:
        async with servers(peers, args) as (server,):
            a = await peers(server.url, name=f"{room}-a")
            b = await peers(server.url, name=f"{room}-b")
            d = await peers(server.url, name=f"{room}-d")
            await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
            await b.call("video:join-room", {"roomId": room})
            await d.call("video:join-room", {"roomId": room})
            assert healthz(server.url)["status"] == "ok"

            redis.Redis.from_url(url).save()  # Redis comes back with this snapshot: d still a member
            redis_proc.kill()
            redis_proc.wait(10)
            await wait_status(server.url, "degraded")
            # every event still gets an ack (internal allowed), and nobody is disconnected
            calls = [
                ("chat:send", {"roomId": room, "text": "during outage"}),
                ("video:toggle-audio", {"roomId": room, "enabled": False}),
                ("video:offer", {"roomId": room, "to": b.sid, "description": {"type": "offer", "sdp": "v=0"}}),
                ("video:join-room", {"roomId": room + "-new"}),
            ]
            for event, payload in calls:
                reply = await a.call(event, payload, timeout=8)
                assert reply["ok"] is True or reply["error"]["code"] == "internal", (event, reply)
            assert (await a.call("presence:list", timeout=8))["error"]["code"] == "internal"
            assert (await b.call("chat:history", {"roomId": room}, timeout=8))["error"]["code"] == "internal"
            assert (await b.call("chat:send", {"roomId": 5}, timeout=8))["error"]["code"] == "bad_request"
            # leaving works locally during the outage; Redis is corrected when it returns
            assert await d.call("video:leave-room", {"roomId": room}, timeout=8) == {"ok": True}
            await d.close()
            # python-socketio delivers to this process's clients first, so local members still hear it
            assert await a.wait_for("video:user-left") == {"roomId": room, "participantId": d.sid}
            assert a.sio.connected and b.sio.connected
            metrics = urllib.request.urlopen(server.url + "/metrics", timeout=5).read().decode()
            assert "sfu_signaling_redis_up 0.0" in metrics

            with private_redis(port, tmp_path):  # back with the old snapshot: the process re-syncs
                await wait_status(server.url, "ok")
                # the snapshot still lists d: the re-sync removes it and tells the others (again)
                await a.wait_for("presence:offline", lambda u: u["userId"] == f"{room}-d")
                assert len(a.received("video:user-left")) == 2
                listed = {u["userId"] for u in (await a.call("presence:list"))["users"]}
                assert {f"{room}-a", f"{room}-b"} <= listed and f"{room}-d" not in listed
                c = await peers(server.url, name=f"{room}-c")
                state = await c.call("video:join-room", {"roomId": room})
                assert {p["participantId"] for p in state["participants"]} == {a.sid, b.sid}
                assert state["topology"] == "mesh"
                assert (await a.call("chat:send", {"roomId": room, "text": "after"}))["ok"]
                assert (await c.wait_for("chat:message"))["text"] == "after"
