"""Room rules: capacity per topology, topology fixed by the first joiner, switching rooms, SFU-room
negotiation under --no-media, and the order of checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sig_clients import settle
from support import ServerProcess, run_server

OFFER = {"type": "offer", "sdp": "v=0\r\n"}


@pytest.fixture(scope="module")
def small_server() -> Iterator[ServerProcess]:
    with run_server(["--no-media", "--max-participants-mesh", "2", "--max-participants-sfu", "3"]) as server:
        yield server


async def test_room_full_per_topology(small_server, peers, room) -> None:
    mesh = [await peers(small_server.url, name=f"cap-m{i}") for i in range(3)]
    assert (await mesh[0].call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
    assert (await mesh[1].call("video:join-room", {"roomId": room}))["ok"]
    full = await mesh[2].call("video:join-room", {"roomId": room})
    assert full["ok"] is False and full["error"]["code"] == "room_full"
    # validation comes before capacity
    bad = await mesh[2].call("video:join-room", {"roomId": room, "audio": "x"})
    assert bad["error"]["code"] == "bad_request"
    await settle()
    assert [p["participant"]["participantId"] for p in mesh[0].received("video:user-joined")] == [mesh[1].sid]

    sfu_room = room + "-sfu"
    sfu = [await peers(small_server.url, name=f"cap-s{i}") for i in range(4)]
    for peer in sfu[:3]:
        assert (await peer.call("video:join-room", {"roomId": sfu_room}))["topology"] == "sfu"
    assert (await sfu[3].call("video:join-room", {"roomId": sfu_room}))["error"]["code"] == "room_full"
    # a free seat is usable again
    assert (await sfu[0].call("video:leave-room", {"roomId": sfu_room}))["ok"]
    assert (await sfu[3].call("video:join-room", {"roomId": sfu_room}))["ok"]


async def test_room_full_keeps_the_first_room(small_server, peers, room) -> None:
    a, b, c = [await peers(small_server.url, name=n) for n in ("keep-a", "keep-b", "keep-c")]
    assert (await a.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
    assert (await b.call("video:join-room", {"roomId": room}))["ok"]
    assert (await c.call("video:join-room", {"roomId": room + "-c", "topology": "mesh"}))["ok"]
    assert (await c.call("video:join-room", {"roomId": room}))["error"]["code"] == "room_full"
    assert (await c.call("chat:send", {"roomId": room + "-c", "text": "still here"}))["ok"]


async def test_second_room_leaves_the_first(dev_server, peers, room) -> None:
    a, b = await peers(dev_server.url, name="switch-a"), await peers(dev_server.url, name="switch-b")
    assert (await a.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
    assert (await b.call("video:join-room", {"roomId": room}))["ok"]
    moved = await b.call("video:join-room", {"roomId": room + "-next"})
    assert moved["ok"] and moved["topology"] == "sfu" and moved["participants"] == []
    assert await a.wait_for("video:user-left") == {"roomId": room, "participantId": b.sid}
    forbidden = await b.call("chat:send", {"roomId": room, "text": "hi"})
    assert forbidden["error"]["code"] == "forbidden"


async def test_rejoining_the_same_room_is_idempotent(dev_server, peers, room) -> None:
    a, b = await peers(dev_server.url, name="again-a"), await peers(dev_server.url, name="again-b")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    first = await b.call("video:join-room", {"roomId": room})
    again = await b.call("video:join-room", {"roomId": room})
    assert again["ok"] and again["participants"] == first["participants"]
    assert again["you"]["participantId"] == b.sid
    await settle()
    assert len(b.received("video:room-state")) == 2
    assert len(a.received("video:user-joined")) == 1


async def test_sfu_room_negotiation_rules(dev_server, peers, room) -> None:
    """--no-media: an sfu room keeps its signaling, the offer to "sfu" gets conflict."""
    a, b = await peers(dev_server.url, name="sfu-a"), await peers(dev_server.url, name="sfu-b")
    assert (await a.call("video:join-room", {"roomId": room}))["topology"] == "sfu"
    assert (await b.call("video:join-room", {"roomId": room, "topology": "mesh"}))["topology"] == "sfu"
    to_sfu = await a.call("video:offer", {"roomId": room, "to": "sfu", "description": OFFER,
                                          "tracks": [{"mid": "0", "source": "camera"}]})
    assert to_sfu["error"]["code"] == "conflict"
    to_member = await a.call("video:offer", {"roomId": room, "to": b.sid, "description": OFFER})
    assert to_member["error"]["code"] == "bad_request" and '"sfu"' in to_member["error"]["message"]
    unknown = await a.call("video:ice-candidate", {"roomId": room, "to": "ghost", "candidate": None})
    assert unknown["error"]["code"] == "not_found"
    # toggles still work in sfu rooms (the backend is told; NoMediaBackend accepts)
    assert (await a.call("video:toggle-audio", {"roomId": room, "enabled": False}))["audio"] is False
    assert (await b.wait_for("video:media-state-changed"))["participantId"] == a.sid
    await settle()
    assert b.received("video:offer") == []


async def test_room_ends_with_its_last_member(dev_server, peers, room) -> None:
    a = await peers(dev_server.url, name="end-a")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    await a.call("chat:send", {"roomId": room, "text": "before"})
    await a.call("video:leave-room", {"roomId": room})
    assert (await a.call("chat:history", {"roomId": room}))["error"]["code"] == "not_found"
    again = await a.call("video:join-room", {"roomId": room, "topology": "sfu"})
    assert again["topology"] == "sfu", "a new room takes the new first joiner's topology"
    assert (await a.call("chat:history", {"roomId": room}))["messages"] == []
