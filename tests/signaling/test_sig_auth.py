"""Auth with SFU_JWT_SECRET: valid, expired, wrong signature, missing, wrong algorithm, room not
granted; presence visible only to users sharing a granted room (or holding "*")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from sig_clients import settle
from sig_node import run_node
from support import ServerProcess, run_server

SECRET = "test-secret-" + "0123456789abcdef" * 4  # 64+ bytes: no weak-key warning for HS512


def token(sub: str, rooms: Any = "*", name: str | None = None, exp_in: float = 300, key: str = SECRET,
          algorithm: str = "HS256", **extra: Any) -> str:
    claims: dict[str, Any] = {"sub": sub, "rooms": rooms, "exp": int(time.time() + exp_in), **extra}
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.fixture(scope="module")
def auth_server() -> Iterator[ServerProcess]:
    with run_server(["--no-media"], env={"SFU_JWT_SECRET": SECRET}) as server:
        yield server


def connect_node(server: ServerProcess, auth: dict[str, Any], room: str | None = None) -> dict[str, Any]:
    return run_node("connect.mjs", server.url, json.dumps(auth), *([room] if room else []))


def test_valid_token_connects_and_joins(auth_server, room) -> None:
    result = connect_node(auth_server, {"token": token("u-valid", rooms=[room])}, room)
    assert result["connected"] is True and result["join"]["ok"] is True


# the tokens are made when each test runs, not when pytest collects: a suite that takes longer than a
# token's lifetime to reach these tests must not see them expire first
@pytest.mark.parametrize(("label", "make_auth", "reason"), [
    ("missing", lambda: {}, "missing token"),
    ("name-only", lambda: {"name": "dev"}, "missing token"),
    ("expired", lambda: {"token": token("u", exp_in=-120)}, "token expired"),
    ("bad-signature", lambda: {"token": token("u", key="another-secret-" + "x" * 64)}, "invalid token signature"),
    ("wrong-algorithm", lambda: {"token": token("u", algorithm="HS512")}, "invalid token"),
    ("no-exp", lambda: {"token": jwt.encode({"sub": "u"}, SECRET, algorithm="HS256")}, "invalid token"),
    ("no-sub", lambda: {"token": jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")},
     "invalid token"),
    ("garbage", lambda: {"token": "not.a.jwt"}, "invalid token"),
    ("bad-rooms-claim", lambda: {"token": token("u", rooms="lobby")}, "rooms"),
])
def test_refused_connections_say_why(auth_server, label, make_auth, reason) -> None:
    auth = make_auth()
    result = connect_node(auth_server, auth)
    assert result["connected"] is False
    assert reason in result["error"], f"{label}: {result}"
    assert "token" not in auth or auth["token"] not in auth_server.log(), "tokens never reach the log"


def test_expiry_leeway_is_30_seconds(auth_server) -> None:
    assert connect_node(auth_server, {"token": token("u-leeway", exp_in=-10)})["connected"] is True


async def test_room_not_granted_is_forbidden(auth_server, peers, room) -> None:
    a = await peers(auth_server.url, auth={"token": token("u-grant", rooms=[room])})
    refused = await a.call("video:join-room", {"roomId": room + "-other"})
    assert refused["error"]["code"] == "forbidden"
    assert (await a.call("video:join-room", {"roomId": room}))["ok"]


async def test_token_name_wins_over_join_payload(auth_server, peers, room) -> None:
    a = await peers(auth_server.url, auth={"token": token("u-named", rooms=[room], name="Token Name"), "name": "x"})
    joined = await a.call("video:join-room", {"roomId": room, "displayName": "Payload Name"})
    assert joined["you"]["displayName"] == "Token Name" and joined["you"]["userId"] == "u-named"
    b = await peers(auth_server.url, auth={"token": token("u-unnamed", rooms=[room]), "name": "Auth Name"})
    assert (await b.call("video:join-room", {"roomId": room, "displayName": "Payload"}))["you"]["displayName"] == "Payload"
    c = await peers(auth_server.url, auth={"token": token("u-auth-name", rooms=[room]), "name": "Auth Name"})
    assert (await c.call("video:join-room", {"roomId": room}))["you"]["displayName"] == "Auth Name"


async def test_presence_visibility_follows_granted_rooms(auth_server, peers, room) -> None:
    ra, rb, rc = room + "-a", room + "-b", room + "-c"
    p1 = await peers(auth_server.url, auth={"token": token(f"{room}-u1", rooms=[ra], name="U1")})
    star = await peers(auth_server.url, auth={"token": token(f"{room}-star", rooms="*", name="Star")})
    p2 = await peers(auth_server.url, auth={"token": token(f"{room}-u2", rooms=[ra, rb], name="U2")})
    p3 = await peers(auth_server.url, auth={"token": token(f"{room}-u3", rooms=[rc], name="U3")})
    await settle()

    def ours(users: list[dict[str, str]]) -> set[str]:
        return {u["userId"].removeprefix(f"{room}-") for u in users if u["userId"].startswith(room)}

    assert ours((await p1.call("presence:list"))["users"]) == {"u1", "u2", "star"}
    assert ours((await p2.call("presence:list"))["users"]) == {"u1", "u2", "star"}
    assert ours((await p3.call("presence:list"))["users"]) == {"u3", "star"}
    assert ours((await star.call("presence:list"))["users"]) == {"u1", "u2", "u3", "star"}

    # online events: p1 saw star ("*" is seen by everyone) and u2 (shared room), never u3
    assert ours(p1.received("presence:online")) == {"star", "u2"}
    assert ours(star.received("presence:online")) == {"u2", "u3"}
    assert ours(p3.received("presence:online")) == set()
    assert p1.received("presence:online", lambda u: u["userId"].endswith("-u2"))[0]["displayName"] == "U2"

    await p3.close()
    await star.wait_for("presence:offline", lambda u: u["userId"].endswith("-u3"))
    await settle()
    assert p1.received("presence:offline") == []
