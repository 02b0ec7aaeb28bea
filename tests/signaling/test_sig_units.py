"""Pure-function units: token bucket, validation normalisation, auth claims, log formats, and the
in-memory store's semantics (which the Redis store mirrors; the server tests cover both end to end)."""

from __future__ import annotations

import json
import logging
import time

import jwt
import pytest

from sfu.config import RateLimit
from signaling.auth import AuthError, authenticate
from signaling.errors import SignalingError
from signaling.logs import JsonFormatter, KeyValueFormatter, log_event
from signaling.ratelimit import TokenBucket
from signaling.store.memory import MemoryStore
from signaling.validation import Limits, validate

SECRET = "unit-secret-" + "k" * 64


def test_token_bucket_refills_at_its_rate() -> None:
    # the clock is moved by rewinding the bucket's last update: no sleeping, no flakiness under load
    bucket = TokenBucket(RateLimit(burst=2, per_second=10))
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    bucket.updated -= 0.15  # 1.5 tokens' worth of time
    assert [bucket.take() for _ in range(2)] == [True, False]
    bucket.updated -= 0.05  # half a token left over + half a token: one more event
    assert bucket.take() is True


def test_token_bucket_never_holds_more_than_its_burst() -> None:
    """An idle connection must not save up allowance: after an hour it still gets only `burst` at once."""
    bucket = TokenBucket(RateLimit(burst=3, per_second=5))
    bucket.updated -= 3600
    assert [bucket.take() for _ in range(5)] == [True, True, True, False, False]
    assert bucket.tokens < 1.0


def test_validation_normalises() -> None:
    payload = validate("chat:send", ({"roomId": "r1", "text": "  hi  ", "extra": [1]},), Limits())
    assert payload == {"roomId": "r1", "text": "hi"}
    join = validate("video:join-room", ({"roomId": "r1", "displayName": " Ann ", "audio": None},), Limits())
    assert join == {"roomId": "r1", "displayName": "Ann"}, "null optional fields count as absent"
    ice = validate("video:ice-candidate", ({"roomId": "r", "to": "p", "candidate": None},), Limits())
    assert ice["candidate"] is None
    assert validate("presence:list", (), Limits()) == {}


def test_sdp_limit_counts_utf8_bytes() -> None:
    limits = Limits(max_sdp_bytes=10)
    ok = {"roomId": "r", "to": "p", "description": {"type": "offer", "sdp": "é" * 5}}
    assert validate("video:offer", (ok,), limits)["description"]["sdp"] == "é" * 5
    with pytest.raises(SignalingError) as info:
        validate("video:offer", ({**ok, "description": {"type": "offer", "sdp": "é" * 6}},), limits)
    assert info.value.code == "bad_request"


def test_dev_identity() -> None:
    ident = authenticate({"name": " Ann "}, None, "abc")
    assert (ident.user_id, ident.name, ident.rooms, ident.name_is_authoritative) == ("Ann", "Ann", None, False)
    assert authenticate(None, None, "abc").user_id == "guest-abc"
    assert authenticate({"name": "Ann", "userId": "u1"}, None, "x").user_id == "u1"
    with pytest.raises(AuthError):
        authenticate({"name": 5}, None, "x")
    with pytest.raises(AuthError):
        authenticate("token", None, "x")


def test_jwt_identity_and_visibility() -> None:
    def tok(**claims: object) -> str:
        return jwt.encode({"sub": "u1", "exp": int(time.time()) + 60, **claims}, SECRET, algorithm="HS256")

    ident = authenticate({"token": tok(name="Ann", rooms=["a", "b"])}, SECRET, "x")
    assert ident.user_id == "u1" and ident.name == "Ann" and ident.rooms == frozenset({"a", "b"})
    assert ident.may_join("a") and not ident.may_join("c")
    assert ident.sees(frozenset({"b", "z"})) and not ident.sees(frozenset({"z"})) and ident.sees(None)
    star = authenticate({"token": tok(rooms="*")}, SECRET, "x")
    assert star.rooms is None and star.sees(frozenset()) and star.name is None
    assert authenticate({"token": tok()}, SECRET, "x").rooms == frozenset(), "no rooms claim: no room"
    for bad in ([1], ["a b"], "a", {"a": 1}):
        with pytest.raises(AuthError):
            authenticate({"token": tok(rooms=bad)}, SECRET, "x")


def _record(formatter: logging.Formatter, **fields: object) -> str:
    logger = logging.getLogger("unit.logs")
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    handler = Capture()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        log_event(logger, "join", **fields)
    finally:
        logger.removeHandler(handler)
    return formatter.format(captured[0])


def test_log_formats() -> None:
    kv = _record(KeyValueFormatter(), room="r1", reason="a b", n=3)
    assert "level=info logger=unit.logs event=join room=r1 reason=\"a b\" n=3" in kv
    doc = json.loads(_record(JsonFormatter(), room="r1", n=3))
    assert doc["event"] == "join" and doc["room"] == "r1" and doc["n"] == 3 and doc["level"] == "info"


async def test_memory_store_rooms_and_chat() -> None:
    store = MemoryStore()
    cap = {"mesh": 2, "sfu": 5}

    def person(pid: str) -> dict[str, object]:
        return {"participantId": pid, "userId": pid, "displayName": pid, "audio": True, "video": True,
                "screen": False, "joinedAt": 1}

    assert await store.join_room("r", person("a"), "mesh", cap) == ("mesh", [])
    topology, others = await store.join_room("r", person("b"), "sfu", cap)
    assert topology == "mesh" and [p["participantId"] for p in others] == ["a"]
    with pytest.raises(SignalingError) as info:
        await store.join_room("r", person("c"), "mesh", cap)
    assert info.value.code == "room_full"
    msg = {"text": "x"}
    assert await store.chat_append("r", "u\nk", msg, 100) == (msg, True)
    assert await store.chat_append("r", "u\nk", {"text": "y"}, 100) == (msg, False)
    assert (await store.leave_room("r", "a"))["participantId"] == "a"
    assert await store.leave_room("r", "a") is None
    await store.leave_room("r", "b")
    assert await store.room_topology("r") is None and await store.chat_history("r", 100) == []


async def test_memory_store_presence_counts_connections() -> None:
    store = MemoryStore()
    user = {"userId": "u", "displayName": "U", "rooms": None}
    assert await store.add_connection(user, "s1") is True
    assert await store.add_connection(user, "s2") is False
    assert await store.remove_connection("u", "s1") is None
    assert await store.remove_connection("u", "s2") == user
    assert await store.online_users() == []
