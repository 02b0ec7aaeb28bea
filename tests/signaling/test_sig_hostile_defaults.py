"""Production defaults (issue 12): same-origin CORS, no development mode on a public address, sessions
that end with their token, no room-existence oracle, and display names that cannot impersonate."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import aiohttp
import jwt
import pytest
from hostile import RawSocket, watch
from sig_clients import Peers, settle
from sig_node import run_node
from support import ROOT, ServerProcess, free_port, run_server

SECRET = "defaults-secret-" + "0123456789abcdef" * 4
EVIL = "http://evil.example"


def token(sub: str, rooms: object = "*", exp_in: float = 300, name: str | None = None) -> str:
    claims: dict[str, object] = {"sub": sub, "rooms": rooms, "exp": int(time.time() + exp_in)}
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def token_server() -> Iterator[ServerProcess]:
    with run_server(["--no-media", "--rate-chat", "1000/1000"], env={"SFU_JWT_SECRET": SECRET}) as s:
        yield s


@pytest.fixture(scope="module")
def cors_server() -> Iterator[ServerProcess]:
    with run_server(["--no-media", "--cors-origins", "https://app.example,http://other.example:8443"]) as s:
        yield s


def polling_handshake(server: ServerProcess, origin: str) -> tuple[int, str | None]:
    request = urllib.request.Request(f"{server.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Access-Control-Allow-Origin")


async def websocket_opens(server: ServerProcess, origin: str) -> bool:
    try:
        raw = await RawSocket(server.url).connect(headers={"Origin": origin})
    except (aiohttp.WSServerHandshakeError, AssertionError):
        return False
    await raw.close()
    return True


# --- CORS ------------------------------------------------------------------------------------------------


async def test_cors_is_same_origin_by_default(dev_server) -> None:
    assert polling_handshake(dev_server, EVIL) == (400, None)
    assert not await websocket_opens(dev_server, EVIL), "a page elsewhere cannot open a socket with our cookies"
    assert polling_handshake(dev_server, dev_server.url) == (200, dev_server.url)
    assert await websocket_opens(dev_server, dev_server.url)
    # clients without an Origin (Node, Python, curl) are not browsers' cross-site requests
    assert run_node("connect.mjs", dev_server.url, '{"name": "no-origin"}')["connected"] is True


async def test_cors_origins_setting(cors_server) -> None:
    for origin in ("https://app.example", "http://other.example:8443", cors_server.url):
        assert polling_handshake(cors_server, origin) == (200, origin), origin
        assert await websocket_opens(cors_server, origin), origin
    for origin in (EVIL, "https://app.example.evil", "http://other.example"):
        assert polling_handshake(cors_server, origin)[0] == 400, origin


# --- development mode ------------------------------------------------------------------------------------


def test_development_mode_refuses_a_public_address() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "SFU_HOST": "0.0.0.0", "SFU_PORT": str(free_port())}
    proc = subprocess.run([sys.executable, "-m", "sfu", "--no-media"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "event=dev_mode_refused" in proc.stderr and "SFU_ALLOW_DEV_MODE=1" in proc.stderr


def test_development_mode_on_loopback_still_starts(dev_server) -> None:
    assert "event=dev_mode" in dev_server.log()


# --- token expiry ----------------------------------------------------------------------------------------


async def test_a_session_ends_when_its_token_expires(token_server, peers: Peers, room) -> None:
    async with watch(token_server, auth=lambda name: {"token": token(name)}) as seen:
        stays = await peers(token_server.url, auth={"token": token(f"{room}-stays")})
        # expiry 28 s ago: within the 30 s leeway, so the connection is accepted and ends in about 2 s
        short = await peers(token_server.url, auth={"token": token(f"{room}-short", exp_in=-28)})
        assert (await stays.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
        assert (await short.call("video:join-room", {"roomId": room}))["ok"]
        started = time.monotonic()
        expired = await short.wait_for("session:expired", timeout=6)
        assert expired == {"code": "token_expired", "message": "your token expired; connect again with a new one"}
        assert await stays.wait_for("video:user-left", timeout=3) == {"roomId": room, "participantId": short.sid}
        for _ in range(30):
            if not short.sio.connected:
                break
            await settle(0.1)
        assert not short.sio.connected
        assert time.monotonic() - started < 4
        # the web client reconnects after a server disconnect: it is told why in words
        assert run_node("connect.mjs", token_server.url, json.dumps({"token": token("late", exp_in=-60)})) == {
            "connected": False, "error": "token expired"}
    seen.assert_unaffected()


# --- no room-existence oracle -------------------------------------------------------------------------------


async def test_unknown_and_foreign_rooms_answer_alike(token_server, peers: Peers, room) -> None:
    owner = await peers(token_server.url, auth={"token": token(f"{room}-owner")})
    assert (await owner.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
    prober = await peers(token_server.url, auth={"token": token(f"{room}-prober", rooms=[room + "-mine"])})
    for event, extra in [("chat:send", {"text": "hi"}), ("chat:history", {}), ("video:toggle-audio", {"enabled": True}),
                         ("video:offer", {"to": "sfu", "description": {"type": "offer", "sdp": "v=0\r\n"}})]:
        existing = await prober.call(event, {"roomId": room, **extra})
        unknown = await prober.call(event, {"roomId": room + "-nobody-here", **extra})
        assert existing["error"] == unknown["error"] and existing["error"]["code"] == "forbidden", event


# --- display names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "shown"), [
    ("\u202eevil\u202c Bob", "evil Bob"),  # bidi override
    ("Ad\u200bmin\u2060", "Admin"),  # zero-width
    ("Cafe\u0301", "Caf\u00e9"),  # NFC
    ("tab\there\x1b[31m", "tabhere[31m"),  # control characters
    ("  spaced  ", "spaced"),
])
async def test_display_names_are_normalised(dev_server, peers: Peers, room, given, shown) -> None:
    a = await peers(dev_server.url, name="names")
    joined = await a.call("video:join-room", {"roomId": room, "displayName": given})
    assert joined["you"]["displayName"] == shown


async def test_a_name_of_only_invisible_characters_is_refused(dev_server, peers: Peers, room) -> None:
    a = await peers(dev_server.url, name="invisible")
    refused = await a.call("video:join-room", {"roomId": room, "displayName": "\u200b\u202e\u2066 \x07"})
    assert refused["ok"] is False and refused["error"]["code"] == "bad_request"
    assert run_node("connect.mjs", dev_server.url, json.dumps({"name": "\u200b\u200d"}))["connected"] is False


async def test_token_and_auth_names_are_normalised(token_server, peers: Peers, room) -> None:
    a = await peers(token_server.url, auth={"token": token(f"{room}-t", name="\u202eTok\u200ben")})
    assert (await a.call("video:join-room", {"roomId": room}))["you"]["displayName"] == "Token"
    b = await peers(token_server.url, auth={"token": token(f"{room}-a"), "name": "Au\u200dth\u202e"})
    assert (await b.call("video:join-room", {"roomId": room}))["you"]["displayName"] == "Auth"


async def test_presence_names_are_normalised(dev_server, peers: Peers, room) -> None:
    watcher = await peers(dev_server.url, name=f"{room}-w")
    await peers(dev_server.url, auth={"name": "\u202eMallory", "userId": f"{room}-m"})
    online = await watcher.wait_for("presence:online", lambda u: u["userId"] == f"{room}-m")
    assert online["displayName"] == "Mallory"


async def test_dev_user_ids_with_control_characters_are_refused(dev_server) -> None:
    result = await asyncio.to_thread(run_node, "connect.mjs", dev_server.url, json.dumps({"userId": "a\u202eb"}))
    assert result["connected"] is False and "userId" in result["error"]
