"""Hostile clients emitting Socket.IO's reserved event names (`connect`, `disconnect`, `*`, ...).

python-socketio dispatches a client's `["connect", ...]` or `["disconnect"]` to the server's own
lifecycle handlers like any event. Each test below reproduces one consequence the security review
found (issue 12) and checks that the event is now refused while bystanders keep chatting normally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from hostile import RawSocket, healthz, metric, metrics_text, watch
from sig_clients import Peer, Peers, settle
from sig_node import run_node
from support import ServerProcess, run_server

GENEROUS_CHAT = ["--rate-chat", "1000/1000"]
SECRET = "hostile-secret-" + "0123456789abcdef" * 4
RESERVED = ["connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener", "*"]


def token(sub: str, rooms: object = "*", exp_in: float = 300) -> str:
    return jwt.encode({"sub": sub, "rooms": rooms, "exp": int(time.time() + exp_in)}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """Default limits except chat (the bystanders chat), mesh rooms of 3, at most 8 connections."""
    with run_server(["--no-media", "--max-participants-mesh", "3", "--max-connections", "8", *GENEROUS_CHAT]) as s:
        yield s


@pytest.fixture(scope="module")
def token_server() -> Iterator[ServerProcess]:
    with run_server(["--no-media", *GENEROUS_CHAT], env={"SFU_JWT_SECRET": SECRET}) as s:
        yield s


async def test_reserved_names_are_refused_and_logged_once(server, peers: Peers, room) -> None:
    before = metrics_text(server)
    async with watch(server) as seen:
        attacker = await peers(server.url, name="reserved-all")
        for name in RESERVED:
            reply = await attacker.call(name, {"roomId": room})
            assert reply == {"ok": False, "error": {"code": "bad_request", "message": "reserved event name"}}, name
        for _ in range(20):  # without an ack: an `error` event each, never a handler
            await attacker.emit("disconnect")
        await attacker.wait_for("error", lambda _e: len(attacker.received("error")) == 20)
        assert {e["event"] for e in attacker.received("error")} == {"disconnect"}
        assert attacker.sio.connected and (await attacker.call("presence:list"))["ok"]
    seen.assert_unaffected()
    after = metrics_text(server)
    rejected = "sfu_signaling_events_rejected_total"
    assert metric(after, rejected, event="reserved") - metric(before, rejected, event="reserved") == len(RESERVED) + 20
    lines = [line for line in server.log().splitlines() if "event=reserved_event" in line and attacker.sid in line]
    assert len(lines) == 1, lines


async def test_disconnect_event_cannot_hide_connections(server, peers: Peers) -> None:
    """Review: /healthz counted 0 connections while 25 were open past --max-connections 5."""
    async with watch(server) as seen:  # the 2 bystanders hold 2 of the 8 connections
        base = healthz(server)["connections"]
        attackers = [await peers(server.url, name=f"hide-{i}") for i in range(8 - base)]
        for peer in attackers:
            await peer.emit("disconnect")
        await settle()
        assert healthz(server)["connections"] == 8
        refused = run_node("connect.mjs", server.url, '{"name": "one-too-many"}')
        assert refused == {"connected": False, "error": "server full"}
        for peer in attackers:
            assert peer.sio.connected and (await peer.call("presence:list"))["ok"], "the session is still whole"
        await peers.close_all()
    seen.assert_unaffected()
    await settle()
    assert healthz(server)["connections"] == 0


async def test_connect_event_cannot_leave_ghost_members(server, peers: Peers, room) -> None:
    """Review: sockets that re-ran `connect` left ghost members, so the room answered room_full after."""
    async with watch(server) as seen:
        ghosts = [await peers(server.url, name=f"ghost-{i}") for i in range(3)]
        for peer in ghosts:
            assert (await peer.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
            await peer.emit("connect", {})
        await settle()
        for peer in ghosts:
            await peer.close()
        await settle()
        newcomer = await peers(server.url, name="newcomer")
        joined = await newcomer.call("video:join-room", {"roomId": room})
        assert joined["ok"] is True, joined
        assert joined["participants"] == []
    seen.assert_unaffected()


async def test_connect_event_cannot_reset_rate_limits(server, peers: Peers, room) -> None:
    async with watch(server) as seen:
        attacker = await peers(server.url, name="limits")
        codes = [(await attacker.call("video:join-room", {"roomId": f"{room}-{i}"})).get("error", {}).get("code")
                 for i in range(4)]
        assert codes == [None, None, None, "rate_limited"]
        await attacker.emit("connect", {})
        await settle(0.1)
        again = await attacker.call("video:join-room", {"roomId": f"{room}-again"})
        assert again["ok"] is False and again["error"]["code"] == "rate_limited"
    seen.assert_unaffected()


async def test_star_event_cannot_reach_another_connection(server, peers: Peers, room) -> None:
    """`*` is python-socketio's catch-all: emitted by a client, its first argument became the `sid`."""
    async with watch(server) as seen:
        victim = await peers(server.url, name="victim")
        attacker = await peers(server.url, name="star")
        for _ in range(40):
            await attacker.emit("*", victim.sid)
        await attacker.wait_for("error", lambda _e: len(attacker.received("error")) == 40)
        assert (await victim.call("presence:list"))["ok"], "the victim's rate limit was not spent"
        await settle()
        assert victim.received("error") == []
    seen.assert_unaffected()


async def test_connect_event_cannot_reauthenticate_or_spoof_the_peer(token_server, peers: Peers, room) -> None:
    """Review: a socket re-authenticated under a second identity, stayed online as a ghost, spoofed `peer=`."""
    own, other = room + "-own", room + "-other"
    async with watch_token(token_server) as seen:
        observer = await peers(token_server.url, auth={"token": token(f"{room}-observer")})
        attacker = await peers(token_server.url, auth={"token": token(f"{room}-first", rooms=[own])})
        await attacker.emit("connect", {"REMOTE_ADDR": "203.0.113.66"}, {"token": token(f"{room}-second")})
        await settle()
        refused = await attacker.call("video:join-room", {"roomId": other})
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden", "identity is fixed at connection"
        users = {u["userId"] for u in (await observer.call("presence:list"))["users"]}
        assert f"{room}-first" in users and f"{room}-second" not in users
        await attacker.close()
        await observer.wait_for("presence:offline", lambda u: u["userId"] == f"{room}-first")
        await settle()
        users = {u["userId"] for u in (await observer.call("presence:list"))["users"]}
        assert not {f"{room}-first", f"{room}-second"} & users, "no ghost stays online"
    seen.assert_unaffected()
    assert "203.0.113.66" not in token_server.log()


def watch_token(server: ServerProcess):  # noqa: ANN201 - the bystanders of a token server need tokens
    return watch(server, auth=lambda name: {"token": token(name)})


@pytest.fixture
def media_server() -> Iterator[ServerProcess]:
    with run_server(["--rate-join", "100/100", *GENEROUS_CHAT]) as s:
        yield s


async def test_connect_event_cannot_leak_sfu_sessions(media_server, peers: Peers, room) -> None:
    """Review: one socket left 30 SFU sessions that were never cleaned up."""
    async with watch(media_server) as seen:
        attacker: Peer = await peers(media_server.url, name="leaker")
        for i in range(5):
            assert (await attacker.call("video:join-room", {"roomId": f"{room}-{i}"}))["ok"]
            await attacker.emit("connect", {})
            await settle(0.1)
        await attacker.close()
        await settle()
        health = healthz(media_server)
        assert health["media"]["rooms"] == 0, health
        assert health["participants"] == 2, health  # the bystanders
    seen.assert_unaffected()


async def test_malformed_packets_are_answered_or_dropped_quietly(server) -> None:
    """Packets python-socketio fails on (tracebacks), or warns about once per packet, from a raw client."""
    before = metrics_text(server)
    async with watch(server) as seen:
        raw = await RawSocket(server.url).connect({"name": "malformed"})
        try:
            for i in range(30):
                await raw.send(f'42{100 + i}[]')  # no event name
                await raw.send(f'42{200 + i}[[1],{{"roomId":"x"}}]')  # a list as the name
                await raw.send('43' + str(i) + '[{"ok":true}]')  # an ack the server never asked for
                await raw.send('42/elsewhere,["presence:list"]')  # a namespace it never joined
                await raw.send('42["chat:send",{')  # undecodable JSON
            for _ in range(50):
                if sum(m.startswith("43") for m in raw.received) >= 60:
                    break
                await settle(0.1)
            answers = [m for m in raw.received if m.startswith("43")]
            assert len(answers) == 60 and all('"code":"bad_request"' in m for m in answers), answers[:3]
            await raw.send('427["presence:list"]')
            for _ in range(50):
                if any(m.startswith('437[{"ok":true') for m in raw.received):
                    break
                await settle(0.1)
            assert any(m.startswith('437[{"ok":true') for m in raw.received), "the connection still works"
        finally:
            await raw.close()
    seen.assert_unaffected()
    log = server.log()
    assert "Traceback" not in log and "Unknown callback" not in log and "not connected to namespace" not in log
    assert len([line for line in log.splitlines() if raw.sid in line and "event=malformed_event" in line]) == 1
    rejected = "sfu_signaling_events_rejected_total"
    assert metric(metrics_text(server), rejected, event="malformed") - metric(before, rejected, event="malformed") >= 120
