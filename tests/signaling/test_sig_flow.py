"""The whole original mesh flow, driven by the npm socket.io-client and by python-socketio's client."""

from __future__ import annotations

import json

import pytest
from sig_clients import settle
from sig_node import run_node
from support import run_server

SECRET_SDP = "v=0\r\ns=PY-SECRET-SDP\r\n"
SECRET_CHAT = "PY-SECRET-CHAT"


@pytest.mark.parametrize("transport", ["default", "polling"])
def test_node_client_mesh_flow(dev_server, room, transport) -> None:
    summary = run_node("flow.mjs", dev_server.url, room, transport)
    assert summary["transport"] == ("polling" if transport == "polling" else "websocket")
    assert summary["alice"] == {"chatMessages": 1, "mediaChanges": 4}, "the dedup'd retry is not delivered twice"
    assert summary["bob"]["chatMessages"] == 1
    log = dev_server.log()
    assert "NODE-SECRET-SDP" not in log and "NODE-SECRET-CHAT" not in log


async def test_python_client_mesh_flow(dev_server, peers, room) -> None:
    a = await peers(dev_server.url, name="flow-alice")
    b = await peers(dev_server.url, name="flow-bob")
    c = await peers(dev_server.url, name="flow-carol")

    joined_a = await a.call("video:join-room", {"roomId": room, "topology": "mesh", "displayName": " Alice "})
    assert joined_a["ok"] and joined_a["topology"] == "mesh" and joined_a["participants"] == []
    assert joined_a["you"]["displayName"] == "Alice", "displayName is trimmed and wins over auth.name"
    state = await a.wait_for("video:room-state")
    assert state == {k: v for k, v in joined_a.items() if k != "ok"}

    joined_b = await b.call("video:join-room", {"roomId": room, "audio": False})
    assert [p["participantId"] for p in joined_b["participants"]] == [a.sid]
    other = joined_b["participants"][0]
    assert set(other) == {"participantId", "userId", "displayName", "audio", "video", "screen", "joinedAt"}
    assert isinstance(other["joinedAt"], int) and other["joinedAt"] > 1_600_000_000_000  # epoch ms
    arrived = await a.wait_for("video:user-joined")
    assert arrived["participant"]["participantId"] == b.sid and arrived["participant"]["audio"] is False

    offer = {"type": "offer", "sdp": SECRET_SDP}
    assert await b.call("video:offer", {"roomId": room, "to": a.sid, "description": offer}) == {"ok": True}
    assert await a.wait_for("video:offer") == {"roomId": room, "from": b.sid, "description": offer}
    answer = {"type": "answer", "sdp": SECRET_SDP}
    assert await a.call("video:answer", {"roomId": room, "to": b.sid, "description": answer}) == {"ok": True}
    assert await b.wait_for("video:answer") == {"roomId": room, "from": a.sid, "description": answer}
    cand = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0",
            "sdpMLineIndex": 0, "usernameFragment": "abcd"}
    assert (await a.call("video:ice-candidate", {"roomId": room, "to": b.sid, "candidate": cand}))["ok"]
    assert (await a.call("video:ice-candidate", {"roomId": room, "to": b.sid, "candidate": None}))["ok"]
    await b.wait_for("video:ice-candidate", lambda p: p["candidate"] is None)
    assert [p["candidate"] for p in b.received("video:ice-candidate")] == [cand, None]

    ack = await b.call("video:toggle-video", {"roomId": room, "enabled": False})
    assert ack == {"ok": True, "roomId": room, "participantId": b.sid, "audio": False, "video": False, "screen": False}
    assert (await b.call("video:start-screen-share", {"roomId": room}))["screen"] is True
    for peer in (a, b):  # the whole room, sender included
        change = await peer.wait_for("video:media-state-changed", lambda p: p["screen"] is True)
        assert change == {"roomId": room, "participantId": b.sid, "audio": False, "video": False, "screen": True}

    # a later joiner's room-state reflects the toggles
    late = await c.call("video:join-room", {"roomId": room})
    seen = {p["participantId"]: p for p in late["participants"]}
    assert set(seen) == {a.sid, b.sid}
    assert (seen[b.sid]["audio"], seen[b.sid]["video"], seen[b.sid]["screen"]) == (False, False, True)

    sent = await a.call("chat:send", {"roomId": room, "text": f"  {SECRET_CHAT}  ", "clientMsgId": "c-1"})
    message = sent["message"]
    assert message["text"] == SECRET_CHAT and message["clientMsgId"] == "c-1"
    assert message["from"] == {"participantId": a.sid, "userId": "flow-alice", "displayName": "Alice"}
    for peer in (a, b, c):
        assert await peer.wait_for("chat:message") == message

    assert await b.call("video:leave-room", {"roomId": room}) == {"ok": True}
    for peer in (a, c):
        assert await peer.wait_for("video:user-left") == {"roomId": room, "participantId": b.sid}
    assert await b.call("video:leave-room", {"roomId": room}) == {"ok": True}, "leaving again is fine"
    await settle()
    assert len(a.received("video:user-left")) == 1

    log = dev_server.log()
    assert "PY-SECRET-SDP" not in log and SECRET_CHAT not in log
    assert f"event=join sid={a.sid} room={room}" in log


def test_json_log_format(room) -> None:
    with run_server(["--no-media", "--log-format", "json"]) as server:
        run_node("connect.mjs", server.url, json.dumps({"name": "json-logger"}), room)
        server.stop()
        lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    events = {line.get("event") for line in lines}
    assert {"connect", "join", "disconnect"} <= events
    join = next(line for line in lines if line.get("event") == "join")
    assert join["room"] == room and join["level"] == "info" and "ts" in join
