"""Chat de-duplication entries expire with the history they protect (in memory and in Redis).

Review (issue 12): the de-duplication map never shrank: 100,000 entries for 100 messages of history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from sig_clients import Peers, settle
from support import ServerProcess, run_server

from signaling.store.memory import MemoryStore

HISTORY = 100


@pytest.fixture(scope="module")
def redis_prefix(redis_url: str) -> Iterator[str]:
    value = f"dedupe-test:{uuid.uuid4().hex[:10]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{value}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module", params=["memory", "redis"])
def chat_server(request: pytest.FixtureRequest, redis_url: str, redis_prefix: str) -> Iterator[ServerProcess]:
    args = ["--no-media", "--rate-chat", "10000/10000"]
    if request.param == "redis":
        args += ["--redis-url", redis_url, "--redis-prefix", redis_prefix]
    with run_server(args) as server:
        yield server


async def test_memory_store_keeps_dedupe_entries_only_for_the_history() -> None:
    store = MemoryStore()
    person = {"participantId": "p", "userId": "u", "displayName": "U", "audio": True, "video": True,
              "screen": False, "joinedAt": 1}
    await store.join_room("r", person, "mesh", {"mesh": 8, "sfu": 8})
    for i in range(3 * HISTORY):
        await store.chat_append("r", f"u\nk{i}", {"text": str(i)}, HISTORY)
    room = store.rooms["r"]
    assert len(room.dedupe) == HISTORY and len(room.history) == HISTORY
    assert set(room.dedupe) == {f"u\nk{i}" for i in range(2 * HISTORY, 3 * HISTORY)}
    # a message without a clientMsgId takes a history slot and pushes the oldest id out with it
    await store.chat_append("r", None, {"text": "anonymous"}, HISTORY)
    assert len(room.dedupe) == HISTORY - 1


async def test_a_retry_is_deduplicated_while_its_message_is_in_the_history(chat_server, peers: Peers, room,
                                                                         redis_url: str, redis_prefix: str) -> None:
    a = await peers(chat_server.url, name=f"{room}-dedupe")
    b = await peers(chat_server.url, name=f"{room}-reader")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    await b.call("video:join-room", {"roomId": room})
    first = (await a.call("chat:send", {"roomId": room, "text": "hello", "clientMsgId": "k-first"}))["message"]
    for i in range(HISTORY - 1):
        assert (await a.call("chat:send", {"roomId": room, "text": f"n{i}", "clientMsgId": f"k{i}"}))["ok"]
    # still in the history: the retry returns the original
    assert (await a.call("chat:send", {"roomId": room, "text": "hello", "clientMsgId": "k-first"}))["message"] == first
    for i in range(2 * HISTORY):
        assert (await a.call("chat:send", {"roomId": room, "text": f"m{i}", "clientMsgId": f"m{i}"}))["ok"]
    history = (await a.call("chat:history", {"roomId": room}))["messages"]
    assert len(history) == HISTORY and first not in history
    # out of the history: its entry is gone, so the same id is a new message, delivered again
    again = (await a.call("chat:send", {"roomId": room, "text": "hello", "clientMsgId": "k-first"}))["message"]
    assert again["messageId"] != first["messageId"]
    await b.wait_for("chat:message", lambda m: m["messageId"] == again["messageId"])
    if "--redis-url" in chat_server.process.args:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        assert client.hlen(f"{redis_prefix}room:{room}:chatids") == HISTORY
        assert client.llen(f"{redis_prefix}room:{room}:chat") == HISTORY
    await a.call("video:leave-room", {"roomId": room})
    await b.call("video:leave-room", {"roomId": room})
    await settle(0.1)
    if "--redis-url" in chat_server.process.args:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        assert list(client.scan_iter(match=f"{redis_prefix}room:{room}*")) == [], "the room's keys end with it"
