"""A real aiortc participant speaking the Socket.IO protocol to the SFU, for tests.

It publishes the benchmark clip's pre-encoded VP8 (a frame counter drawn into every frame) and
Opus, decodes what it receives with aiortc's own receivers, and reads the counter back so a test
can prove the frames it got are the frames that were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.sdp import SessionDescription

from benchmarks.clip import Clip, load_clip, verify_frame
from benchmarks.publisher import PreEncodedTrack
from router.header_extensions import find_extension
from router.rtp_header import parse_rtp

TIMEOUT = 15.0


@dataclass
class Received:
    """What one subscriber got from one publisher's track."""

    kind: str
    source: str
    frames: int = 0
    counters: list[int] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    width: int = 0


class SfuClient:
    def __init__(self, url: str, room: str, name: str, publish: bool = True, clip: Clip | None = None,
                 slots: bool = False, transport_cc: bool = False, transport_cc_id: int = 14) -> None:
        self.url = url
        self.room = room
        self.name = name
        self.publish = publish
        self.clip = clip or (load_clip("300k") if publish else None)
        self.use_slots = slots  # declare receive slots (as the web client does) instead of per-track m-lines
        self.media: dict[str, int] = {}
        self.slot_mids: list[str] = []
        # RFC 6464 level (0 loudest .. 127 silent) written into every audio packet; None: no extension
        self.audio_level: int | None = None
        self.rtp_log: dict[int, list[tuple[int, int]]] = defaultdict(list)  # SSRC -> (seq, ts) as received
        # offer transport-wide feedback as browsers do (aiortc does not): the server then numbers every
        # packet it sends us; (transport-wide sequence number, arrival in us) as received
        self.transport_cc = transport_cc
        self.transport_cc_id = transport_cc_id  # above 14 the SDP also says a=extmap-allow-mixed (two-byte IDs)
        self.transport_log: list[tuple[int, int]] = []
        # a slot's owners over time: (last RTP timestamp received before the change, owner); a decoded
        # frame belongs to the owner whose stretch of the slot's timeline its timestamp falls in
        self.slot_history: dict[str, list[tuple[int | None, dict[str, Any] | None]]] = defaultdict(list)
        # the frame counters of the frames checked on each m-line, in decode order: who a slot really showed
        self.frames_by_mid: dict[str, list[int]] = defaultdict(list)
        self._last_timestamp: dict[str, int] = {}
        self.sio = socketio.AsyncClient(reconnection=False)
        # max-bundle, as browsers: with aiortc's default (balanced) a second video m-line keeps a
        # transport of its own that never connects once the answer bundles everything
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.pid = ""
        self.lock = asyncio.Lock()
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.tracks_by_mid: dict[str, dict[str, Any]] = {}
        self.received: dict[tuple[str, str], Received] = {}
        self.answered = asyncio.Event()
        self.offers_answered = 0
        self.errors: list[str] = []
        self._readers: list[asyncio.Task[None]] = []
        self.local_tracks: dict[str, MediaStreamTrack] = {}
        self.send_remb = False  # bandwidth tests turn aiortc's receive-side estimates (REMB) back on
        self.hold_offers = False  # glare tests: keep server offers here instead of answering them
        self.held_offers: list[dict[str, Any]] = []

    # --- signaling -----------------------------------------------------------------------------------

    async def connect(self) -> None:
        for event in ("video:user-joined", "video:user-left", "video:media-state-changed", "video:active-speaker",
                      "video:forwarding", "video:publisher-layers", "video:media-status", "error"):
            self.sio.on(event, self._recorder(event))
        self.sio.on("video:offer", self._on_offer)
        self.sio.on("video:slots", self._on_slots)
        self.sio.on("video:answer", self._on_answer)
        self.pc.on("track", self._on_track)
        await self.sio.connect(self.url, auth={"name": self.name}, transports=["websocket"], wait_timeout=10)

    def _recorder(self, event: str) -> Any:
        async def record(data: Any) -> None:
            self.events[event].append(data)

        return record

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.sio.call(event, payload, timeout=TIMEOUT)

    async def join(self, offer: bool = True) -> dict[str, Any]:
        state = await self.call("video:join-room", {"roomId": self.room, "displayName": self.name})
        assert state["ok"], state
        self.pid = state["you"]["participantId"]
        self.media = state.get("media", {})
        if offer:
            await self.offer_initial()
        return state

    async def offer_initial(self) -> None:
        tracks: list[dict[str, str]] = []
        if self.publish and self.clip is not None:
            for kind in ("audio", "video"):
                track = PreEncodedTrack(kind, self.clip)
                self.local_tracks[kind] = track
                sender = self.pc.addTrack(track)
                if kind == "audio":
                    self._write_audio_level(sender)
                else:
                    sender._send_keyframe = track.request_keyframe  # answer PLIs like a real encoder
        elif not self.use_slots:
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.addTransceiver("video", direction="recvonly")
        published = list(self.pc.getTransceivers())
        slot_transceivers = []
        if self.use_slots:
            for kind in ("audio", "video"):
                for _ in range(self.media[f"{kind}Slots"]):
                    slot_transceivers.append(self.pc.addTransceiver(kind, direction="recvonly"))
        async with self.lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            if self.publish:
                tracks = [{"mid": t.mid, "source": "microphone" if t.kind == "audio" else "camera"}
                          for t in published]
            extra: dict[str, Any] = {"tracks": tracks} if tracks else {}
            if slot_transceivers:
                self.slot_mids = [str(t.mid) for t in slot_transceivers]
                extra["slots"] = [{"mid": t.mid, "kind": t.kind} for t in slot_transceivers]
            ack = await self.call("video:offer", {"roomId": self.room, "to": "sfu", "description": self._local(),
                                                  **extra})
        assert ack["ok"], ack
        await asyncio.wait_for(self.answered.wait(), TIMEOUT)

    async def offer_initial_with(self, tracks: list[dict[str, str]]) -> None:
        """First offer of transceivers a test set up itself, naming their sources."""
        async with self.lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            ack = await self.call("video:offer", {"roomId": self.room, "to": "sfu", "description": self._local(),
                                                  "tracks": tracks})
        assert ack["ok"], ack
        await asyncio.wait_for(self.answered.wait(), TIMEOUT)

    async def reoffer(self, with_tracks: bool = False, attempts: int = 20) -> dict[str, Any]:
        """Offer again, the protocol's way around glare: an offer refused with `conflict` is dropped
        (aiortc has no rollback, so it is applied locally only once accepted), the pending server
        offer gets answered, and the offer is tried again."""
        ack: dict[str, Any] = {}
        for _ in range(attempts):
            async with self.lock:
                offer = await self.pc.createOffer()
                payload: dict[str, Any] = {"roomId": self.room, "to": "sfu",
                                           "description": {"type": offer.type, "sdp": offer.sdp}}
                if with_tracks:
                    payload["tracks"] = self._tracks_in(offer.sdp)
                self.answered.clear()
                ack = await self.call("video:offer", payload)
                if ack.get("ok"):
                    await self.pc.setLocalDescription(offer)
                    return ack
            if ack.get("error", {}).get("code") != "conflict":
                return ack
            await asyncio.sleep(0.2)  # the server's pending offer is answered meanwhile
        return ack

    def _tracks_in(self, sdp: str) -> list[dict[str, str]]:
        """Published tracks of an offer (createOffer has set each transceiver's m-line index)."""
        media = SessionDescription.parse(sdp).media
        screen = self.local_tracks.get("screen")
        tracks = []
        for transceiver in self.pc.getTransceivers():
            track = transceiver.sender.track
            if track is None or transceiver.direction not in ("sendonly", "sendrecv"):
                continue
            source = "microphone" if track.kind == "audio" else ("screen" if track is screen else "camera")
            tracks.append({"mid": media[transceiver._get_mline_index()].rtp.muxId, "source": source})
        return tracks

    async def offer_unapplied(self) -> dict[str, Any]:
        """Send a real offer without applying it locally (aiortc has no rollback), to provoke glare."""
        offer = await self.pc.createOffer()
        return await self.call("video:offer", {"roomId": self.room, "to": "sfu",
                                               "description": {"type": offer.type, "sdp": offer.sdp}})

    async def start_screen_share(self) -> dict[str, Any]:
        """The protocol's way: announce, add a second video track, re-offer naming it `screen`."""
        assert self.clip is not None
        ack = await self.call("video:start-screen-share", {"roomId": self.room})
        assert ack["ok"], ack
        track = PreEncodedTrack("video", self.clip)
        self.local_tracks["screen"] = track
        self.pc.addTransceiver(track, direction="sendonly")
        return await self.reoffer(with_tracks=True)

    async def stop_screen_share(self) -> dict[str, Any]:
        ack = await self.call("video:stop-screen-share", {"roomId": self.room})
        assert ack["ok"], ack
        track = self.local_tracks.pop("screen")
        for transceiver in self.pc.getTransceivers():
            if transceiver.sender.track is track:
                transceiver.direction = "inactive"
                transceiver.sender.replaceTrack(None)
        track.stop()
        return await self.reoffer()

    def _local(self) -> dict[str, str]:
        sdp = self.pc.localDescription.sdp
        if self.transport_cc:
            sdp = with_transport_cc(sdp, self.transport_cc_id)
        return {"type": self.pc.localDescription.type, "sdp": sdp}

    async def _on_answer(self, data: dict[str, Any]) -> None:
        self.events["video:answer"].append(data)
        try:
            async with self.lock:
                await self.pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
                if self.transport_cc:
                    self._log_transport_sequence()
            self.answered.set()
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"answer: {exc!r}")

    def _log_transport_sequence(self) -> None:
        """Read transport-wide sequence numbers from the raw packets (aiortc's own parser drops the extension)."""
        dtls = self.pc.getTransceivers()[0].receiver.transport
        if getattr(dtls, "_test_transport_logged", False):
            return
        original = dtls._handle_rtp_data
        ext_id = self.transport_cc_id

        async def logged(data: bytes, arrival_time_ms: int) -> None:
            value = find_extension(data, parse_rtp(data), ext_id)
            if value is not None and len(value) == 2:
                self.transport_log.append(((value[0] << 8) | value[1], time.monotonic_ns() // 1000))
            await original(data, arrival_time_ms)

        dtls._handle_rtp_data = logged
        dtls._test_transport_logged = True

    def _write_audio_level(self, sender: Any) -> None:
        """aiortc sends no audio level for pre-encoded audio: write `self.audio_level` into each packet."""
        original = sender._next_encoded_frame

        async def with_level(codec: Any) -> Any:
            frame = await original(codec)
            if frame is not None and self.audio_level is not None:
                frame.audio_level = -self.audio_level  # aiortc writes -audio_level as the RFC 6464 level
            return frame

        sender._next_encoded_frame = with_level

    async def _on_slots(self, data: dict[str, Any]) -> None:
        self.events["video:slots"].append({**data, "receivedAt": time.monotonic()})
        for slot in data["slots"]:
            mid = slot["mid"]
            owner = slot if slot["participantId"] is not None else None
            history = self.slot_history[mid]
            if not history or history[-1][1] != owner:
                # the server stops the old source before saying so: what arrived until now was the old one's
                history.append((self._last_timestamp.get(mid), owner))
            if owner is None:
                self.tracks_by_mid.pop(mid, None)
            else:
                self.tracks_by_mid[mid] = slot

    def slot_sources(self, kind: str) -> list[str]:
        """Participants whose `kind` the server forwards on this client's slots now."""
        return [t["participantId"] for mid, t in self.tracks_by_mid.items() if mid in self.slot_mids and t["kind"] == kind]

    async def _on_offer(self, data: dict[str, Any]) -> None:
        self.events["video:offer"].append(data)
        if self.hold_offers:
            self.held_offers.append(data)
            return
        await self.answer_offer(data)

    async def answer_offer(self, data: dict[str, Any]) -> None:
        try:
            async with self.lock:
                for track in data.get("tracks", []):
                    self.tracks_by_mid[track["mid"]] = track
                await self.pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                ack = await self.call("video:answer", {"roomId": self.room, "to": "sfu", "description": self._local()})
                if not ack.get("ok"):
                    self.errors.append(f"answer refused: {ack}")
                self.offers_answered += 1
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"offer: {exc!r}")

    # --- media ---------------------------------------------------------------------------------------------

    async def send_rtcp(self, data: bytes) -> None:
        """Raw RTCP to the server over this client's SRTP session (REMB, NACK, PLI crafted by a test)."""
        await self.pc.getTransceivers()[0].receiver.transport._send_rtp(data)

    def _log_rtp(self, receiver: Any) -> None:
        if getattr(receiver, "_test_logged", False):
            return
        original = receiver._handle_rtp_packet

        mid = next((t.mid for t in self.pc.getTransceivers() if t.receiver is receiver), None)

        async def logged(packet: Any, arrival_time_ms: int) -> None:
            self.rtp_log[packet.ssrc].append((packet.sequence_number, packet.timestamp))
            if mid is not None:
                self._last_timestamp[mid] = packet.timestamp
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = logged
        receiver._test_logged = True

    def _on_track(self, track: MediaStreamTrack) -> None:
        if not self.send_remb:
            # aiortc estimates each received stream on its own, and a test machine's decoding clients
            # are CPU-starved: their estimates would make the SFU pause videos the test expects
            for transceiver in self.pc.getTransceivers():
                if transceiver.receiver.track is track:
                    transceiver.receiver._RTCRtpReceiver__remote_bitrate_estimator = None
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track:
                self._log_rtp(transceiver.receiver)
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track)))

    def _mid_of(self, track: MediaStreamTrack) -> str:
        return next((t.mid or "" for t in self.pc.getTransceivers() if t.receiver.track is track), "")

    def _identify(self, track: MediaStreamTrack, timestamp: int | None) -> tuple[str, str] | None:
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is track:
                mid = transceiver.mid or ""
                info = self.tracks_by_mid.get(mid)
                history = self.slot_history.get(mid)
                # aiortc's decoded frames carry pts = RTP timestamp - the first frame's (its TimestampMapper);
                # the slot boundaries are RTP timestamps
                origin = transceiver.receiver._RTCRtpReceiver__timestamp_mapper._origin
                if history and timestamp is not None and origin is not None:
                    timestamp = (timestamp + origin) & 0xFFFFFFFF
                    info = None
                    for boundary, owner in history:
                        # a frame after the stretch's first boundary (32-bit timestamps wrap)
                        if boundary is None or 0 < (timestamp - boundary) & 0xFFFFFFFF < 0x80000000:
                            info = owner
                if info is not None:
                    return info["participantId"], info["source"]
        return None

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                key = self._identify(track, frame.pts if track.kind == "video" else None)
                if key is None:
                    continue
                got = self.received.setdefault(key, Received(kind=track.kind, source=key[1]))
                got.frames += 1
                if track.kind == "video":
                    got.width = frame.width
                if track.kind == "video" and got.frames % 5 == 0:
                    luma = frame.to_ndarray(format="gray")
                    index, quality = verify_frame(luma, frame.width, frame.height)
                    got.counters.append(index)
                    self.frames_by_mid[self._mid_of(track)].append(index)
                    got.psnr.append(quality)

    def video_from(self, participant_id: str, source: str = "camera") -> Received | None:
        return self.received.get((participant_id, source))

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.pc.close()
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"


def with_transport_cc(sdp: str, ext_id: int = 14) -> str:
    """What a browser's SDP has and aiortc's lacks: the transport-wide sequence number extension and
    `transport-cc` feedback on every audio and video m-line (an ID above 14 also allows two-byte IDs)."""
    out: list[str] = []
    kind = ""
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            if not kind and ext_id > 14:
                out.append("a=extmap-allow-mixed")
            kind = line[2:].split(" ", 1)[0]
        out.append(line)
        if kind in ("audio", "video"):
            if line.startswith("a=mid:"):
                out.append(f"a=extmap:{ext_id} {TRANSPORT_CC_URI}")
            elif line.startswith("a=rtpmap:"):
                out.append(f"a=rtcp-fb:{line[9:].split(' ', 1)[0]} transport-cc")
    return "\r\n".join(out)


@contextlib.asynccontextmanager
async def joined(
    url: str, *names: str, room: str | None = None, publish: bool = True
) -> AsyncIterator[list[SfuClient]]:
    """Clients that connected, joined one room and made their first offer; all closed at the end."""
    room = room or f"room-{uuid.uuid4().hex[:8]}"
    clients = [SfuClient(url, room, name, publish=publish) for name in names]
    try:
        for client in clients:
            await client.connect()
            await client.join()
        yield clients
    finally:
        await asyncio.gather(*(client.close() for client in clients))


def frames(client: SfuClient, publisher: str, source: str = "camera") -> int:
    """Frames `client` has decoded from `publisher`'s `source` track so far."""
    got = client.received.get((publisher, source))
    return got.frames if got is not None else 0


async def wait_until(predicate: Any, timeout: float = TIMEOUT, interval: float = 0.1) -> None:
    """Poll `predicate()` until it is true; fail with a clear message at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
