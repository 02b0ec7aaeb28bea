"""Table-driven bad input over every client event: each gets the contract's code, nobody else hears it,
and the sender stays connected. Also the `error` event for the same rejections sent without an ack."""

from __future__ import annotations

from typing import Any

import pytest
from sig_clients import Peer, settle

from signaling.errors import SignalingError
from signaling.validation import MAX_CHAT_TEXT, SCHEMAS, Limits, validate

R, R2, B, C = "{R}", "{R2}", "{B}", "{C}"  # placeholders filled in per test (rooms, participant ids)
MB = "x" * 1_000_000
SDP = "v=0\r\n"
NESTED: Any = {"a": [1, {"b": None}]}
for _ in range(50):
    NESTED = {"x": [NESTED, "y"]}

NO_PAYLOAD = object()  # the event is emitted with no argument at all
TWO_ARGS = object()  # the event is emitted with two arguments


def generic_cases() -> list[tuple[str, Any, str]]:
    """Malformed payloads every event must refuse with bad_request."""
    cases = []
    for event, fields in SCHEMAS.items():
        kinds = [("int", 5), ("string", "room"), ("list", [1, 2]), ("two-args", TWO_ARGS), ("huge-string", MB)]
        if fields:  # events without fields (presence:list) accept no payload, null or any object
            kinds += [("none", NO_PAYLOAD), ("null", None), ("empty", {}), ("nested", NESTED),
                      ("huge", {"roomId": MB})]
        for label, payload in kinds:
            cases.append((f"{event}/{label}", (event, payload), "bad_request"))
    return cases


def field_cases() -> list[tuple[str, Any, str]]:
    offer = {"type": "offer", "sdp": SDP}
    answer = {"type": "answer", "sdp": SDP}
    cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
    table: list[tuple[str, str, dict[str, Any], str]] = [
        # join
        ("room-too-long", "video:join-room", {"roomId": "a" * 65}, "bad_request"),
        ("room-bad-chars", "video:join-room", {"roomId": "a b"}, "bad_request"),
        ("room-non-ascii", "video:join-room", {"roomId": "räum"}, "bad_request"),
        ("room-int", "video:join-room", {"roomId": 7}, "bad_request"),
        ("name-too-long", "video:join-room", {"roomId": R, "displayName": "n" * 65}, "bad_request"),
        ("name-blank", "video:join-room", {"roomId": R, "displayName": "   "}, "bad_request"),
        ("name-huge", "video:join-room", {"roomId": R, "displayName": MB}, "bad_request"),
        ("audio-int", "video:join-room", {"roomId": R, "audio": 1}, "bad_request"),
        ("video-string", "video:join-room", {"roomId": R, "video": "yes"}, "bad_request"),
        ("topology-bad", "video:join-room", {"roomId": R, "topology": "star"}, "bad_request"),
        ("topology-list", "video:join-room", {"roomId": R, "topology": ["mesh"]}, "bad_request"),
        ("leave-room-missing", "video:leave-room", {"room": R}, "bad_request"),
        # offer / answer
        ("offer-no-to", "video:offer", {"roomId": R, "description": offer}, "bad_request"),
        ("offer-to-int", "video:offer", {"roomId": R, "to": 5, "description": offer}, "bad_request"),
        ("offer-to-huge", "video:offer", {"roomId": R, "to": MB, "description": offer}, "bad_request"),
        ("offer-no-description", "video:offer", {"roomId": R, "to": B}, "bad_request"),
        ("offer-description-string", "video:offer", {"roomId": R, "to": B, "description": SDP}, "bad_request"),
        ("offer-wrong-type", "video:offer", {"roomId": R, "to": B, "description": answer}, "bad_request"),
        ("offer-sdp-int", "video:offer", {"roomId": R, "to": B, "description": {"type": "offer", "sdp": 1}},
         "bad_request"),
        ("offer-sdp-nested", "video:offer", {"roomId": R, "to": B, "description": {"type": "offer", "sdp": NESTED}},
         "bad_request"),
        ("offer-sdp-65537", "video:offer", {"roomId": R, "to": B, "description": {"type": "offer", "sdp": "s" * 65537}},
         "bad_request"),
        ("offer-sdp-multibyte", "video:offer",
         {"roomId": R, "to": B, "description": {"type": "offer", "sdp": "é" * 32769}}, "bad_request"),
        ("offer-sdp-1mb", "video:offer", {"roomId": R, "to": B, "description": {"type": "offer", "sdp": MB}},
         "bad_request"),
        ("offer-tracks-dict", "video:offer", {"roomId": R, "to": "sfu", "description": offer, "tracks": {}},
         "bad_request"),
        ("offer-tracks-9", "video:offer",
         {"roomId": R, "to": "sfu", "description": offer, "tracks": [{"mid": str(i), "source": "camera"} for i in range(9)]},
         "bad_request"),
        ("offer-track-source", "video:offer",
         {"roomId": R, "to": "sfu", "description": offer, "tracks": [{"mid": "0", "source": "webcam"}]}, "bad_request"),
        ("offer-track-mid-long", "video:offer",
         {"roomId": R, "to": "sfu", "description": offer, "tracks": [{"mid": "m" * 33, "source": "camera"}]},
         "bad_request"),
        ("answer-wrong-type", "video:answer", {"roomId": R, "to": B, "description": offer}, "bad_request"),
        ("answer-missing-sdp", "video:answer", {"roomId": R, "to": B, "description": {"type": "answer"}}, "bad_request"),
        # ice
        ("ice-missing-candidate", "video:ice-candidate", {"roomId": R, "to": B}, "bad_request"),
        ("ice-candidate-string", "video:ice-candidate", {"roomId": R, "to": B, "candidate": "candidate:1"},
         "bad_request"),
        ("ice-candidate-4097", "video:ice-candidate", {"roomId": R, "to": B, "candidate": {"candidate": "c" * 4097}},
         "bad_request"),
        ("ice-mline-string", "video:ice-candidate",
         {"roomId": R, "to": B, "candidate": {**cand, "sdpMLineIndex": "0"}}, "bad_request"),
        ("ice-mline-negative", "video:ice-candidate",
         {"roomId": R, "to": B, "candidate": {**cand, "sdpMLineIndex": -1}}, "bad_request"),
        ("ice-mid-int", "video:ice-candidate", {"roomId": R, "to": B, "candidate": {**cand, "sdpMid": 0}},
         "bad_request"),
        # toggles
        ("toggle-audio-missing", "video:toggle-audio", {"roomId": R}, "bad_request"),
        ("toggle-audio-string", "video:toggle-audio", {"roomId": R, "enabled": "false"}, "bad_request"),
        ("toggle-video-int", "video:toggle-video", {"roomId": R, "enabled": 0}, "bad_request"),
        ("screen-room-int", "video:start-screen-share", {"roomId": 1}, "bad_request"),
        ("screen-stop-room-list", "video:stop-screen-share", {"roomId": [R]}, "bad_request"),
        # chat
        ("chat-empty", "chat:send", {"roomId": R, "text": ""}, "bad_request"),
        ("chat-blank", "chat:send", {"roomId": R, "text": " \n\t "}, "bad_request"),
        ("chat-2001", "chat:send", {"roomId": R, "text": "t" * 2001}, "bad_request"),
        ("chat-2001-emoji", "chat:send", {"roomId": R, "text": "\U0001f600" * 2001}, "bad_request"),
        ("chat-1mb", "chat:send", {"roomId": R, "text": MB}, "bad_request"),
        ("chat-text-dict", "chat:send", {"roomId": R, "text": NESTED}, "bad_request"),
        ("chat-msgid-long", "chat:send", {"roomId": R, "text": "hi", "clientMsgId": "i" * 65}, "bad_request"),
        ("chat-msgid-int", "chat:send", {"roomId": R, "text": "hi", "clientMsgId": 5}, "bad_request"),
        ("history-room-bad", "chat:history", {"roomId": "../x"}, "bad_request"),
        # identity and membership: unknown room, not a member, `to` outside the room
        ("offer-unknown-room", "video:offer", {"roomId": "nope-unknown", "to": B, "description": offer}, "not_found"),
        ("offer-not-member", "video:offer", {"roomId": R2, "to": C, "description": offer}, "forbidden"),
        ("offer-cross-room-to", "video:offer", {"roomId": R, "to": C, "description": offer}, "not_found"),
        ("offer-unknown-to", "video:offer", {"roomId": R, "to": "nobody", "description": offer}, "not_found"),
        ("offer-to-sfu-in-mesh", "video:offer", {"roomId": R, "to": "sfu", "description": offer}, "not_found"),
        ("answer-unknown-room", "video:answer", {"roomId": "nope-unknown", "to": B, "description": answer},
         "not_found"),
        ("answer-not-member", "video:answer", {"roomId": R2, "to": C, "description": answer}, "forbidden"),
        ("answer-cross-room-to", "video:answer", {"roomId": R, "to": C, "description": answer}, "not_found"),
        ("ice-unknown-room", "video:ice-candidate", {"roomId": "nope-unknown", "to": B, "candidate": None},
         "not_found"),
        ("ice-not-member", "video:ice-candidate", {"roomId": R2, "to": C, "candidate": None}, "forbidden"),
        ("ice-cross-room-to", "video:ice-candidate", {"roomId": R, "to": C, "candidate": cand}, "not_found"),
        ("toggle-audio-unknown-room", "video:toggle-audio", {"roomId": "nope-unknown", "enabled": True}, "not_found"),
        ("toggle-audio-not-member", "video:toggle-audio", {"roomId": R2, "enabled": True}, "forbidden"),
        ("toggle-video-not-member", "video:toggle-video", {"roomId": R2, "enabled": False}, "forbidden"),
        ("screen-start-unknown-room", "video:start-screen-share", {"roomId": "nope-unknown"}, "not_found"),
        ("screen-start-not-member", "video:start-screen-share", {"roomId": R2}, "forbidden"),
        ("screen-stop-not-member", "video:stop-screen-share", {"roomId": R2}, "forbidden"),
        ("chat-unknown-room", "chat:send", {"roomId": "nope-unknown", "text": "hi"}, "not_found"),
        ("chat-not-member", "chat:send", {"roomId": R2, "text": "hi"}, "forbidden"),
        ("history-unknown-room", "chat:history", {"roomId": "nope-unknown"}, "not_found"),
        ("history-not-member", "chat:history", {"roomId": R2}, "forbidden"),
    ]
    return [(label, (event, payload), code) for label, event, payload, code in table]


CASES = generic_cases() + field_cases()


def covered_events() -> set[str]:
    return {event for _label, (event, _p), _code in CASES}


def test_table_covers_every_event() -> None:
    assert covered_events() == set(SCHEMAS)


def chat(text: Any) -> dict[str, Any]:
    return validate("chat:send", ({"roomId": "r1", "text": text},), Limits())


def chat_refusal(text: Any) -> str:
    with pytest.raises(SignalingError) as info:
        chat(text)
    assert info.value.code == "bad_request"
    return info.value.message


def test_chat_text_limit_is_2000_code_points_after_trimming() -> None:
    """The limit counts what others will see: code points of the trimmed text (the unit level of the
    server table above, which cannot show which side of the boundary a refusal came from)."""
    assert MAX_CHAT_TEXT == 2000
    assert chat("t" * 2000)["text"] == "t" * 2000
    assert chat("\U0001f600" * 2000)["text"] == "\U0001f600" * 2000  # 8000 UTF-8 bytes, 2000 characters
    assert chat(" \n" + "t" * 2000 + "\t ")["text"] == "t" * 2000  # surrounding whitespace is not counted
    assert chat("x")["text"] == "x"
    for too_long in ("t" * 2001, "\U0001f600" * 2001, " " + "t" * 2001):
        assert chat_refusal(too_long) == "text must be 1-2000 characters after trimming"
    for blank in ("", " ", " \n\t "):
        assert chat_refusal(blank) == "text must be 1-2000 characters after trimming"
    for wrong in (5, None, ["hi"], {"text": "hi"}):
        message = chat_refusal(wrong)
        assert message in ("text must be a string", "text is required")


def test_chat_refusals_never_echo_the_text() -> None:
    secret = "password123 " * 200
    assert "password123" not in chat_refusal(secret)


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


async def send(peer: Peer, event: str, payload: Any, ack: bool) -> Any:
    if payload is NO_PAYLOAD:
        return await peer.call(event) if ack else await peer.emit(event)
    if payload is TWO_ARGS:
        return await peer.call(event, {"roomId": "a"}, 2) if ack else await peer.emit(event, {"roomId": "a"}, 2)
    return await peer.call(event, payload) if ack else await peer.emit(event, payload)


@pytest.fixture
async def scene(dev_server, peers, room):
    """a and b in mesh room R, c alone in mesh room R2, all on the shared development server."""
    a, b, c = [await peers(dev_server.url, name=n) for n in ("val-a", "val-b", "val-c")]
    r2 = room + "-2"
    assert (await a.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
    assert (await b.call("video:join-room", {"roomId": room}))["ok"]
    assert (await c.call("video:join-room", {"roomId": r2, "topology": "mesh"}))["ok"]
    await a.wait_for("video:user-joined")
    names = {R: room, R2: r2, B: b.sid, C: c.sid}
    return a, b, c, names


async def test_every_bad_payload_gets_its_code_with_ack(scene) -> None:
    a, b, c, names = scene
    before_b, before_c = len(b.events), len(c.events)
    wrong = []
    for label, (event, payload), code in CASES:
        reply = await send(a, event, fill(payload, names), ack=True)
        if not (isinstance(reply, dict) and reply.get("ok") is False and reply["error"]["code"] == code
                and isinstance(reply["error"]["message"], str)):
            wrong.append((label, code, reply))
    assert wrong == []
    await settle()
    assert a.sio.connected
    assert b.events[before_b:] == [] and c.events[before_c:] == [], "a rejected event reached another user"
    assert a.received("error") == [], "with an ack, no error event is sent"


async def test_every_bad_payload_without_ack_gets_error_event(scene) -> None:
    a, b, c, names = scene
    for _label, (event, payload), _code in CASES:
        await send(a, event, fill(payload, names), ack=False)
    expected = [(event, code) for _label, (event, _p), code in CASES]
    for _ in range(100):
        if len(a.received("error")) >= len(expected):
            break
        await settle(0.1)
    got = [(e["event"], e["code"]) for e in a.received("error")]
    assert sorted(got) == sorted(expected)
    assert all(isinstance(e["message"], str) for e in a.received("error"))
    assert a.sio.connected
    assert [n for n, _ in b.events if n == "error"] == [] and [n for n, _ in c.events if n == "error"] == []


async def test_unknown_event_is_refused(dev_server, peers) -> None:
    a = await peers(dev_server.url, name="val-unknown")
    reply = await a.call("video:teleport", {"roomId": "x"})
    assert reply == {"ok": False, "error": {"code": "bad_request", "message": "unknown event"}}
    await a.emit("video:teleport")
    err = await a.wait_for("error")
    assert err["code"] == "bad_request" and err["event"] == "video:teleport"
