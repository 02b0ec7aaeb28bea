"""Negotiation and media-state behaviour of the SFU with real aiortc clients."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from typing import Any

from aiortc import RTCRtpSender, VideoStreamTrack
from aiortc.sdp import SessionDescription
from sfu_client import SfuClient, frames, wait_until
from support import ServerProcess


def new_room() -> str:
    return f"neg-{uuid.uuid4().hex[:8]}"


def media_stats(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as resp:
        return json.loads(resp.read())["media"]


async def start(server: ServerProcess, room: str, *names: str, publish: bool = True) -> list[SfuClient]:
    clients = [SfuClient(server.url, room, name, publish=publish) for name in names]
    for client in clients:
        await client.connect()
        await client.join()
    return clients


async def close_all(clients: list[SfuClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def inbound_lost(client: SfuClient, kind: str) -> list[int]:
    """packetsLost of every inbound stream of `kind`: a gap in forwarded sequence numbers shows here."""
    lost = []
    for transceiver in client.pc.getTransceivers():
        if transceiver.kind != kind or transceiver.currentDirection not in ("recvonly", "sendrecv"):
            continue
        stats = await transceiver.receiver.getStats()
        lost += [s.packetsLost for s in stats.values() if s.type == "inbound-rtp"]
    return lost


async def test_mute_stops_forwarding_and_unmute_resumes(sfu_server: ServerProcess) -> None:
    alice, bob = await start(sfu_server, new_room(), "alice", "bob")
    try:
        await wait_until(lambda: frames(bob, alice.pid) > 10)
        ack = await alice.call("video:toggle-video", {"roomId": alice.room, "enabled": False})
        assert ack["ok"], ack
        await asyncio.sleep(1.0)  # forwarding stops within 1 s
        stopped_at = frames(bob, alice.pid)
        await asyncio.sleep(1.0)
        assert frames(bob, alice.pid) <= stopped_at + 1
        offers_before = len(bob.events["video:offer"])
        ack = await alice.call("video:toggle-video", {"roomId": alice.room, "enabled": True})
        assert ack["ok"], ack
        await wait_until(lambda: frames(bob, alice.pid) > stopped_at + 10, timeout=6)
        assert len(bob.events["video:offer"]) == offers_before, "mute must not renegotiate"
        # sequence numbers stayed continuous across the pause: the subscriber saw no loss
        assert max(await inbound_lost(bob, "video")) <= 2
        changes = [e for e in bob.events["video:media-state-changed"] if e["participantId"] == alice.pid]
        assert [c["video"] for c in changes][-2:] == [False, True]
    finally:
        await close_all([alice, bob])


async def test_audio_mute_stops_audio_only(sfu_server: ServerProcess) -> None:
    alice, bob = await start(sfu_server, new_room(), "alice", "bob")
    try:
        await wait_until(lambda: frames(bob, alice.pid, "microphone") > 20 and frames(bob, alice.pid) > 5)
        assert (await alice.call("video:toggle-audio", {"roomId": alice.room, "enabled": False}))["ok"]
        await asyncio.sleep(1.0)
        audio_at, video_at = frames(bob, alice.pid, "microphone"), frames(bob, alice.pid)
        await asyncio.sleep(1.0)
        assert frames(bob, alice.pid, "microphone") <= audio_at + 2
        assert frames(bob, alice.pid) > video_at + 5, "video keeps flowing while the microphone is muted"
    finally:
        await close_all([alice, bob])


def received_rtp(client: SfuClient, kind: str) -> int:
    """RTP packets `client` received on its `kind` m-lines (before decoding: a packet that cannot be
    decoded yet still counts)."""
    sdp = SessionDescription.parse(client.pc.remoteDescription.sdp)
    ssrcs = {s.ssrc for media in sdp.media if media.kind == kind for s in media.ssrc}
    return sum(len(log) for ssrc, log in client.rtp_log.items() if ssrc in ssrcs)


async def packets_sent(client: SfuClient, kind: str) -> int:
    sender = next(t.sender for t in client.pc.getTransceivers() if t.kind == kind and t.sender.track is not None)
    stats = await sender.getStats()
    return sum(s.packetsSent for s in stats.values() if s.type == "outbound-rtp")


async def test_joining_muted_forwards_nothing_until_enabled(sfu_server: ServerProcess) -> None:
    room = new_room()
    bob = (await start(sfu_server, room, "bob"))[0]
    alice = SfuClient(sfu_server.url, room, "alice")
    try:
        await alice.connect()
        state = await alice.call("video:join-room", {"roomId": room, "displayName": "alice", "video": False})
        assert state["ok"]
        alice.pid = state["you"]["participantId"]
        await alice.offer_initial()
        await wait_until(lambda: frames(bob, alice.pid, "microphone") > 20)
        # The camera sends anyway (a browser's muted camera sends black frames). Make it send a keyframe
        # now that the path is up (a forwarded stream starts at a keyframe), then let the audio show
        # that the path carried half a second more: only then can "no video" mean "not forwarded".
        before = await packets_sent(alice, "video")
        alice.local_tracks["video"].request_keyframe()
        for _ in range(100):
            if await packets_sent(alice, "video") > before + 30:
                break
            await asyncio.sleep(0.1)
        assert await packets_sent(alice, "video") > before + 30, "alice's camera did not send"
        heard = frames(bob, alice.pid, "microphone")
        await wait_until(lambda: frames(bob, alice.pid, "microphone") > heard + 25)
        assert received_rtp(bob, "video") == 0, "a camera announced as off is not forwarded"
        assert frames(bob, alice.pid) == 0
        assert received_rtp(bob, "audio") > 45
        assert (await alice.call("video:toggle-video", {"roomId": room, "enabled": True}))["ok"]
        await wait_until(lambda: frames(bob, alice.pid) > 5, timeout=6)
    finally:
        await close_all([alice, bob])


async def test_screen_share_start_and_stop(sfu_server: ServerProcess) -> None:
    alice, bob, carol = await start(sfu_server, new_room(), "alice", "bob", "carol")
    try:
        # let the joins' renegotiation settle first: an aiortc client that answers a server offer while
        # it holds an unnegotiated transceiver lets aiortc bind that transceiver to the offered m-line
        # (glare itself is covered by test_glare_client_offer_refused_while_server_offer_pending)
        await wait_until(lambda: frames(alice, bob.pid) > 0 and frames(alice, carol.pid) > 0)
        ack = await alice.start_screen_share()
        assert ack["ok"], ack
        for viewer in (bob, carol):
            await wait_until(lambda v=viewer: frames(v, alice.pid, "screen") > 5, timeout=10)
            offer = viewer.events["video:offer"][-1]
            screen = [t for t in offer["tracks"] if t["source"] == "screen"]
            assert screen and screen[0]["participantId"] == alice.pid and screen[0]["kind"] == "video"
            assert f"msid:{alice.pid}:screen " in offer["description"]["sdp"]
        answer = alice.events["video:answer"][-1]
        assert sorted(t["source"] for t in answer["tracks"]) == ["camera", "microphone", "screen"]
        ack = await alice.stop_screen_share()
        assert ack["ok"], ack
        for viewer in (bob, carol):
            await wait_until(
                lambda v=viewer: not any(t["source"] == "screen" for t in v.events["video:offer"][-1]["tracks"]),
                timeout=5,
            )
            assert frames(viewer, alice.pid) > 0  # the camera still flows
        await asyncio.sleep(0.5)
        assert media_stats(sfu_server)["producers"] >= 6
    finally:
        await close_all([alice, bob, carol])


async def test_stop_screen_share_alone_removes_the_screen_at_once(sfu_server: ServerProcess) -> None:
    """The contract: `video:stop-screen-share` removes the screen producer at once, before (or without)
    the client's re-offer, so a share stopped from the browser's own bar ends for everyone."""
    alice, bob = await start(sfu_server, new_room(), "alice", "bob")
    try:
        await wait_until(lambda: frames(alice, bob.pid) > 0 and frames(bob, alice.pid) > 0)
        assert (await alice.start_screen_share())["ok"]
        await wait_until(lambda: frames(bob, alice.pid, "screen") > 5, timeout=10)
        assert media_stats(sfu_server)["producers"] == 5
        offers = len(bob.events["video:offer"])
        ack = await alice.call("video:stop-screen-share", {"roomId": alice.room})  # no re-offer follows
        assert ack["ok"] and ack["screen"] is False, ack
        await wait_until(lambda: len(bob.events["video:offer"]) > offers, timeout=5)
        assert not any(t["source"] == "screen" for t in bob.events["video:offer"][-1]["tracks"])
        assert media_stats(sfu_server)["producers"] == 4  # alice still sends the screen: nobody gets it
        await asyncio.sleep(0.3)
        screen_frames, camera_frames = frames(bob, alice.pid, "screen"), frames(bob, alice.pid)
        await asyncio.sleep(1.0)
        assert frames(bob, alice.pid, "screen") == screen_frames and frames(bob, alice.pid) > camera_frames + 5
    finally:
        await close_all([alice, bob])


async def test_leave_renegotiates_others_and_frees_everything(sfu_server: ServerProcess) -> None:
    alice, bob, carol = await start(sfu_server, new_room(), "alice", "bob", "carol")
    try:
        await wait_until(lambda: frames(bob, carol.pid) > 5 and frames(alice, carol.pid) > 5)
        ack = await carol.call("video:leave-room", {"roomId": carol.room})
        assert ack["ok"], ack
        for other in (alice, bob):
            await wait_until(lambda o=other: any(e["participantId"] == carol.pid for e in o.events["video:user-left"]))
            await wait_until(
                lambda o=other: all(t["participantId"] != carol.pid for t in o.events["video:offer"][-1]["tracks"]),
                timeout=5,
            )
        # alice and bob still receive each other
        before = frames(alice, bob.pid)
        await wait_until(lambda: frames(alice, bob.pid) > before + 5)
        stats = media_stats(sfu_server)
        assert stats["producers"] == 4 and stats["consumers"] == 4, stats
    finally:
        await close_all([alice, bob, carol])


async def test_rejoin_after_leave(sfu_server: ServerProcess) -> None:
    room = new_room()
    alice, bob = await start(sfu_server, room, "alice", "bob")
    try:
        await bob.close()
        bob2 = (await start(sfu_server, room, "bob-again"))[0]
        await wait_until(lambda: frames(bob2, alice.pid) > 5 and frames(alice, bob2.pid) > 5, timeout=15)
        await bob2.close()
    finally:
        await close_all([alice, bob])


async def test_five_join_in_the_same_second(sfu_server: ServerProcess) -> None:
    room = new_room()
    clients = [SfuClient(sfu_server.url, room, f"p{i}") for i in range(5)]
    try:
        await asyncio.gather(*(c.connect() for c in clients))
        await asyncio.gather(*(c.join() for c in clients))

        def everyone_sees_everyone() -> bool:
            return all(frames(c, o.pid) > 2 for c in clients for o in clients if o is not c)

        await wait_until(everyone_sees_everyone, timeout=40)
        for client in clients:
            assert not client.errors, client.errors
    finally:
        await close_all(clients)


async def test_glare_client_offer_refused_while_server_offer_pending(sfu_server: ServerProcess) -> None:
    room = new_room()
    alice = (await start(sfu_server, room, "alice"))[0]
    alice.hold_offers = True
    bob = SfuClient(sfu_server.url, room, "bob")
    try:
        await bob.connect()
        await bob.join()
        await wait_until(lambda: bool(alice.held_offers), timeout=5)  # a server offer is pending for alice
        refused = await alice.offer_unapplied()
        assert refused == {"ok": False, "error": {"code": "conflict", "message": refused["error"]["message"]}}
        alice.hold_offers = False
        await alice.answer_offer(alice.held_offers.pop())  # answer the server's offer first ...
        ack = await alice.reoffer()  # ... then re-offer
        assert ack["ok"], ack
        await wait_until(lambda: alice.answered.is_set())
        await wait_until(lambda: frames(alice, bob.pid) > 5 and frames(bob, alice.pid) > 5, timeout=15)
        assert not alice.errors and not bob.errors
    finally:
        await close_all([alice, bob])


async def test_answer_without_offer_is_a_conflict(sfu_server: ServerProcess) -> None:
    alice = (await start(sfu_server, new_room(), "alice"))[0]
    try:
        ack = await alice.call("video:answer", {"roomId": alice.room, "to": "sfu",
                                                "description": {"type": "answer", "sdp": alice.pc.localDescription.sdp}})
        assert ack["ok"] is False and ack["error"]["code"] == "conflict"
        bad = await alice.call("video:offer", {"roomId": alice.room, "to": "sfu",
                                               "description": {"type": "offer", "sdp": "v=0\r\nnonsense"}})
        assert bad["ok"] is False and bad["error"]["code"] == "bad_request"
    finally:
        await alice.close()


async def test_offer_with_too_many_media_sections_is_refused(sfu_server: ServerProcess) -> None:
    client = SfuClient(sfu_server.url, new_room(), "greedy", publish=False)
    try:
        await client.connect()
        assert (await client.call("video:join-room", {"roomId": client.room}))["ok"]
        for _ in range(12):
            client.pc.addTransceiver("video", direction="recvonly")
        offer = await client.pc.createOffer()
        ack = await client.call("video:offer", {"roomId": client.room, "to": "sfu",
                                                "description": {"type": "offer", "sdp": offer.sdp}})
        assert ack["ok"] is False and ack["error"]["code"] == "bad_request", ack
        assert "media sections" in ack["error"]["message"]
    finally:
        await client.close()


async def test_listener_receives_everyone(sfu_server: ServerProcess) -> None:
    room = new_room()
    alice, bob = await start(sfu_server, room, "alice", "bob")
    listener = (await start(sfu_server, room, "listener", publish=False))[0]
    try:
        await wait_until(lambda: all(frames(listener, p.pid) > 5 and frames(listener, p.pid, "microphone") > 10
                                     for p in (alice, bob)), timeout=15)
        assert media_stats(sfu_server)["producers"] >= 4
    finally:
        await close_all([alice, bob, listener])


async def test_leaving_mid_negotiation_leaves_everyone_else_receiving(sfu_server: ServerProcess) -> None:
    room = new_room()
    alice, bob, carol = await start(sfu_server, room, "alice", "bob", "carol")
    try:
        dave = SfuClient(sfu_server.url, room, "dave")
        await dave.connect()
        await dave.join()  # everyone else now gets an offer adding dave ...
        await dave.close()  # ... and dave is gone before they have all answered
        for client in (alice, bob, carol):
            await wait_until(
                lambda c=client: bool(c.events["video:offer"])
                and all(t["participantId"] != dave.pid for t in c.events["video:offer"][-1]["tracks"]),
                timeout=10,
            )
        others = {alice: (bob, carol), bob: (alice, carol), carol: (alice, bob)}
        marks = {(c, o): frames(c, o.pid) for c, os in others.items() for o in os}
        await wait_until(lambda: all(frames(c, o.pid) > marks[(c, o)] + 5 for (c, o) in marks), timeout=10)
        assert not any(c.errors for c in (alice, bob, carol))
    finally:
        await close_all([alice, bob, carol])


async def test_room_codec_is_fixed_by_the_first_publisher(sfu_server: ServerProcess) -> None:
    """An H.264-only first publisher makes an H.264 room; a VP8-only member is refused, naming the codec."""
    room = new_room()
    h264_only = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")]
    vp8_only = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/VP8", "video/rtx")]
    first, second = SfuClient(sfu_server.url, room, "h264"), SfuClient(sfu_server.url, room, "vp8", publish=False)
    try:
        for client in (first, second):
            await client.connect()
            assert (await client.call("video:join-room", {"roomId": room}))["ok"]
        first.pc.addTransceiver(VideoStreamTrack(), direction="sendonly").setCodecPreferences(h264_only)
        await first.pc.setLocalDescription(await first.pc.createOffer())
        ack = await first.call("video:offer", {"roomId": room, "to": "sfu", "description": first._local()})
        assert ack["ok"], ack
        await wait_until(lambda: first.answered.is_set())
        assert "H264/90000" in first.events["video:answer"][-1]["description"]["sdp"]
        second.pc.addTransceiver("video", direction="recvonly").setCodecPreferences(vp8_only)
        offer = await second.pc.createOffer()
        refused = await second.call("video:offer", {"roomId": room, "to": "sfu",
                                                    "description": {"type": "offer", "sdp": offer.sdp}})
        assert refused["ok"] is False and refused["error"]["code"] == "conflict"
        assert "H264" in refused["error"]["message"]
    finally:
        await close_all([first, second])
