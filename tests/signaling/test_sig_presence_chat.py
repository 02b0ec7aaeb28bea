"""Presence across tabs (several connections of one user count once) and chat rules."""

from __future__ import annotations

import pytest
from sig_clients import settle


async def test_tabs_count_once(dev_server, peers, room) -> None:
    watcher = await peers(dev_server.url, name=f"{room}-watcher")
    tab1 = await peers(dev_server.url, auth={"name": "Tabby", "userId": f"{room}-tabby"})
    online = await watcher.wait_for("presence:online", lambda u: u["userId"] == f"{room}-tabby")
    assert online == {"userId": f"{room}-tabby", "displayName": "Tabby"}
    tab2 = await peers(dev_server.url, auth={"name": "Tabby", "userId": f"{room}-tabby"})
    users = (await tab2.call("presence:list"))["users"]
    assert [u for u in users if u["userId"] == f"{room}-tabby"] == [online], "listed once, yourself included"
    await settle()
    assert len(watcher.received("presence:online", lambda u: u["userId"] == f"{room}-tabby")) == 1
    assert tab1.received("presence:online", lambda u: u["userId"] == f"{room}-tabby") == [], "own tabs hear nothing"

    await tab1.close()
    await settle()
    assert watcher.received("presence:offline", lambda u: u["userId"] == f"{room}-tabby") == []
    await tab2.close()
    assert await watcher.wait_for("presence:offline", lambda u: u["userId"] == f"{room}-tabby") == online
    users = (await watcher.call("presence:list"))["users"]
    assert all(u["userId"] != f"{room}-tabby" for u in users)


async def test_dev_user_id_defaults_to_name(dev_server, peers, room) -> None:
    a = await peers(dev_server.url, name=f"{room}-named")
    joined = await a.call("video:join-room", {"roomId": room})
    assert joined["you"]["userId"] == f"{room}-named"


@pytest.mark.parametrize(("text", "stored"), [
    ("  hello  ", "hello"),
    ("\U0001f600" * 2000, "\U0001f600" * 2000),  # counted in code points, not UTF-16 units or bytes
    (" " + "x" * 2000 + " \n", "x" * 2000),
])
async def test_chat_text_rules(dev_server, peers, room, text, stored) -> None:
    a = await peers(dev_server.url, name="chat-rules")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    assert (await a.call("chat:send", {"roomId": room, "text": text}))["message"]["text"] == stored


async def test_chat_dedupe_across_reconnects(dev_server, peers, room) -> None:
    a = await peers(dev_server.url, name=f"{room}-dup")
    b = await peers(dev_server.url, name=f"{room}-other")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    await b.call("video:join-room", {"roomId": room})
    first = (await a.call("chat:send", {"roomId": room, "text": "once", "clientMsgId": "k1"}))["message"]
    assert first["clientMsgId"] == "k1" and len(first["messageId"]) >= 16
    assert isinstance(first["sentAt"], int)
    await a.close()
    a2 = await peers(dev_server.url, name=f"{room}-dup")  # same user, new connection
    await a2.call("video:join-room", {"roomId": room})
    retry = await a2.call("chat:send", {"roomId": room, "text": "once", "clientMsgId": "k1"})
    assert retry == {"ok": True, "message": first}
    # the same clientMsgId from another user is a different message
    other = (await b.call("chat:send", {"roomId": room, "text": "mine", "clientMsgId": "k1"}))["message"]
    assert other["messageId"] != first["messageId"]
    await settle()
    assert [m["messageId"] for m in b.received("chat:message")] == [first["messageId"], other["messageId"]]
    no_id = [(await b.call("chat:send", {"roomId": room, "text": "same"}))["message"]["messageId"] for _ in range(2)]
    assert no_id[0] != no_id[1], "without clientMsgId every send is new"


async def test_chat_history_last_100_oldest_first(dev_server, peers, room) -> None:
    a = await peers(dev_server.url, name="chat-history")
    b = await peers(dev_server.url, name="chat-history-outsider")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    for i in range(105):
        assert (await a.call("chat:send", {"roomId": room, "text": f"n{i}"}))["ok"]
    messages = (await a.call("chat:history", {"roomId": room}))["messages"]
    assert [m["text"] for m in messages] == [f"n{i}" for i in range(5, 105)]
    assert (await b.call("chat:history", {"roomId": room}))["error"]["code"] == "forbidden"
    assert (await b.call("chat:send", {"roomId": room, "text": "let me in"}))["error"]["code"] == "forbidden"
    await settle()
    assert b.received("chat:message") == []
