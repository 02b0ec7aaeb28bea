"""Synthetic participants speaking the real Socket.IO protocol: one SFU connection, or a mesh of them.

SFU (`docs/protocol.md`): join, offer our tracks to "sfu" with `tracks: [{mid, source}]`, apply the
`video:answer` event, then answer every server re-offer, whose `tracks` tell which publisher each
mid carries. Mesh: the newcomer offers to every member through the signaling relay (`to`/`from`).
aiortc puts all ICE candidates in the SDP, so nothing is trickled from our side.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from benchmarks.clip import Clip
from benchmarks.latency import Recorder, SendCounter, hook_sender
from benchmarks.publisher import PreEncodedTrack
from benchmarks.subscriber import CountingReceiver, StreamCounter, install_fast_path, key_hi

TIMEOUT = 20.0


class SfuUnavailable(RuntimeError):
    """The server refused SFU negotiation (e.g. `conflict` from a server without a media backend)."""


@dataclass
class ParticipantSpec:
    index: int
    name: str
    publish: bool = True
    subscribe: bool = True
    decode: bool = False  # keep a sample of one received video stream for the decode check
    join_at: float = 0.0  # time.monotonic() at which to join
    camera: bool = True  # a publisher without a camera publishes its microphone only


@dataclass
class Shared:
    """Per-worker state every participant reports into."""

    url: str
    room_id: str
    clip: Clip
    recorder: Recorder
    streams: list[tuple[str, StreamCounter]] = field(default_factory=list)  # (subscriber id, counter)
    sent: list[tuple[str, SendCounter]] = field(default_factory=list)  # (publisher id, counter)
    errors: list[str] = field(default_factory=list)
    origin: float = 0.0  # time.monotonic() of the run's start, the same in every worker


class Participant:
    """Common part: the Socket.IO client and the counters this participant owns."""

    topology = "sfu"

    def __init__(self, spec: ParticipantSpec, shared: Shared) -> None:
        self.spec = spec
        self.shared = shared
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.pid = ""
        self.join_ns = 0
        self.lock = asyncio.Lock()
        self._sample_taken = not spec.decode

    def _add_tracks(self, pc: RTCPeerConnection) -> None:
        clip = self.shared.clip
        pc.addTrack(PreEncodedTrack("audio", clip, start_offset=self.spec.index * 7))
        video = PreEncodedTrack("video", clip)
        sender = pc.addTrack(video)
        sender._send_keyframe = video.request_keyframe  # type: ignore[method-assign]  # PLI/FIR

    def _counter(self, publisher: str, kind: str, label: str) -> StreamCounter:
        counter = StreamCounter(publisher, kind, key_hi(label), self.shared.recorder)
        if kind == "video" and not self._sample_taken:
            counter.sample = []
            self._sample_taken = True
        self.shared.streams.append((self.pid, counter))
        return counter

    async def _ack(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        ack = await self.sio.call(event, payload, timeout=TIMEOUT)
        if not isinstance(ack, dict) or not ack.get("ok"):
            error = (ack or {}).get("error", {}) if isinstance(ack, dict) else {}
            if event == "video:offer" and error.get("code") == "conflict":
                raise SfuUnavailable(f"{event}: {error}")
            raise RuntimeError(f"{event} refused: {ack!r}")
        return ack

    async def join(self) -> dict[str, Any]:
        self.sio.on("video:ice-candidate", self._on_candidate)
        await self.sio.connect(self.shared.url, auth={"name": self.spec.name}, transports=["websocket"],
                               wait_timeout=TIMEOUT)
        state = await self._ack("video:join-room", {"roomId": self.shared.room_id, "displayName": self.spec.name,
                                                    "audio": self.spec.publish,
                                                    "video": self.spec.publish and self.spec.camera,
                                                    "topology": self.topology})
        self.pid = state.get("you", {}).get("participantId") or self.sio.get_sid() or ""
        self.join_ns = time.monotonic_ns()
        return state

    def _pc_for_candidate(self, data: dict[str, Any]) -> RTCPeerConnection | None:
        raise NotImplementedError

    async def _on_candidate(self, data: dict[str, Any]) -> None:
        candidate = data.get("candidate") if isinstance(data, dict) else None
        pc = self._pc_for_candidate(data) if candidate else None
        if pc is None or not isinstance(candidate, dict) or not candidate.get("candidate"):
            return
        try:
            parsed = candidate_from_sdp(candidate["candidate"].removeprefix("candidate:"))
            parsed.sdpMid = candidate.get("sdpMid")
            parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
            await pc.addIceCandidate(parsed)
        except Exception as exc:  # noqa: BLE001 - a bad candidate must not stop the run
            self.shared.errors.append(f"{self.spec.name}: candidate: {exc}")

    def report(self) -> dict[str, Any]:
        """What this participant saw beyond its streams' counters (none for the classic bench)."""
        return {}

    async def close(self) -> None:
        try:
            if self.sio.connected:
                await asyncio.wait_for(self.sio.call("video:leave-room", {"roomId": self.shared.room_id}), 5)
        except Exception:  # noqa: BLE001 - leaving is best effort at the end of a run
            pass
        await self._close_media()
        try:
            await asyncio.wait_for(self.sio.disconnect(), 5)
        except Exception:  # noqa: BLE001
            pass

    async def _close_media(self) -> None:
        raise NotImplementedError


def _description(pc: RTCPeerConnection) -> dict[str, str]:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


def _fast_path(pc: RTCPeerConnection) -> None:
    """Count received RTP from bytes on this connection (after a description change, like `_hook`)."""
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.transport is not None:
            install_fast_path(transceiver.receiver.transport)


def _hook(pc: RTCPeerConnection, label: str, shared: Shared, publisher: str) -> None:
    """Stamp what `pc` sends; call after every description change (BUNDLE may swap transports)."""
    counter: SendCounter | None = getattr(pc, "_bench_sent", None)
    if counter is None:
        counter = SendCounter()
        pc._bench_sent = counter  # type: ignore[attr-defined]
        shared.sent.append((publisher, counter))
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is not None:
            hook_sender(transport, key_hi(label), shared.recorder, counter)


class SfuParticipant(Participant):
    """One connection to the SFU, publishing and/or receiving."""

    topology = "sfu"

    def __init__(self, spec: ParticipantSpec, shared: Shared, pc: RTCPeerConnection | None = None) -> None:
        super().__init__(spec, shared)
        self.pc = pc or RTCPeerConnection()
        self._answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _pc_for_candidate(self, data: dict[str, Any]) -> RTCPeerConnection | None:
        return self.pc if data.get("from") == "sfu" else None

    async def start(self) -> None:
        self.sio.on("video:answer", self._on_answer)
        self.sio.on("video:offer", self._on_offer)
        await self.join()
        tracks: list[dict[str, str]] = []
        if self.spec.publish:
            self._add_tracks(self.pc)
        else:
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.addTransceiver("video", direction="recvonly")
        async with self.lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            if self.spec.publish:
                for transceiver in self.pc.getTransceivers():
                    source = "microphone" if transceiver.kind == "audio" else "camera"
                    tracks.append({"mid": transceiver.mid or "", "source": source})
                _hook(self.pc, self.pid, self.shared, self.pid)
            payload: dict[str, Any] = {"roomId": self.shared.room_id, "to": "sfu",
                                       "description": _description(self.pc)}
            if tracks:
                payload["tracks"] = tracks
            await self._ack("video:offer", payload)
        await asyncio.wait_for(asyncio.shield(self._answered), TIMEOUT)

    async def _on_answer(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or data.get("from") != "sfu":
            return
        try:
            async with self.lock:
                await self.pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
                _fast_path(self.pc)
                if self.spec.publish:
                    _hook(self.pc, self.pid, self.shared, self.pid)
            if not self._answered.done():
                self._answered.set_result(None)
        except Exception as exc:  # noqa: BLE001
            self.shared.errors.append(f"{self.spec.name}: answer: {exc!r}")
            if not self._answered.done():
                self._answered.set_exception(exc)

    async def _on_offer(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or data.get("from") != "sfu":
            return
        try:
            async with self.lock:
                await self.pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
                by_mid = {t.get("mid"): t for t in data.get("tracks") or [] if isinstance(t, dict)}
                for transceiver in self.pc.getTransceivers():
                    receiver = transceiver.receiver
                    info = by_mid.get(transceiver.mid)
                    if info is None or not isinstance(receiver, CountingReceiver) or receiver.counter is not None:
                        continue
                    if not self.spec.subscribe:
                        transceiver.direction = "inactive"
                        continue
                    publisher = str(info.get("participantId", "?"))
                    kind = str(info.get("kind") or transceiver.kind)
                    receiver.counter = self._counter(publisher, kind, publisher)
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                _fast_path(self.pc)
                await self._ack("video:answer", {"roomId": self.shared.room_id, "to": "sfu",
                                                 "description": _description(self.pc)})
        except Exception as exc:  # noqa: BLE001
            self.shared.errors.append(f"{self.spec.name}: server offer: {exc!r}")

    async def _close_media(self) -> None:
        await self.pc.close()


class MeshParticipant(Participant):
    """One connection per other member, negotiated through the signaling relay."""

    topology = "mesh"

    def __init__(self, spec: ParticipantSpec, shared: Shared) -> None:
        super().__init__(spec, shared)
        self.peers: dict[str, RTCPeerConnection] = {}

    def _pc_for_candidate(self, data: dict[str, Any]) -> RTCPeerConnection | None:
        return self.peers.get(str(data.get("from")))

    async def start(self) -> None:
        self.sio.on("video:offer", self._on_offer)
        self.sio.on("video:answer", self._on_answer)
        self.sio.on("video:user-left", self._on_left)
        state = await self.join()
        others = [p.get("participantId") for p in state.get("participants") or [] if isinstance(p, dict)]
        for peer in others:
            if peer and peer != self.pid:
                await self._offer(str(peer))

    def _new_pc(self, peer: str) -> RTCPeerConnection:
        pc = RTCPeerConnection()
        self.peers[peer] = pc
        return pc

    def _attach(self, pc: RTCPeerConnection, peer: str) -> None:
        for transceiver in pc.getTransceivers():
            receiver = transceiver.receiver
            if isinstance(receiver, CountingReceiver) and receiver.counter is None and self.spec.subscribe:
                receiver.counter = self._counter(peer, transceiver.kind, f"{peer}>{self.pid}")

    async def _offer(self, peer: str) -> None:
        pc = self._new_pc(peer)
        if self.spec.publish:
            self._add_tracks(pc)
        else:
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
        self._attach(pc, peer)
        await pc.setLocalDescription(await pc.createOffer())
        if self.spec.publish:
            _hook(pc, f"{self.pid}>{peer}", self.shared, self.pid)
        await self._ack("video:offer", {"roomId": self.shared.room_id, "to": peer, "description": _description(pc)})

    async def _on_offer(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or not data.get("from"):
            return
        peer = str(data["from"])
        try:
            old = self.peers.pop(peer, None)
            if old is not None:
                await old.close()
            pc = self._new_pc(peer)
            await pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
            if self.spec.publish:
                self._add_tracks(pc)
            self._attach(pc, peer)
            await pc.setLocalDescription(await pc.createAnswer())
            _fast_path(pc)
            if self.spec.publish:
                _hook(pc, f"{self.pid}>{peer}", self.shared, self.pid)
            await self._ack("video:answer", {"roomId": self.shared.room_id, "to": peer,
                                             "description": _description(pc)})
        except Exception as exc:  # noqa: BLE001
            self.shared.errors.append(f"{self.spec.name}: mesh offer from {peer}: {exc!r}")

    async def _on_answer(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            return
        pc = self.peers.get(str(data.get("from")))
        if pc is None:
            return
        try:
            await pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
            _fast_path(pc)
            if self.spec.publish:
                _hook(pc, f"{self.pid}>{data.get('from')}", self.shared, self.pid)
        except Exception as exc:  # noqa: BLE001
            self.shared.errors.append(f"{self.spec.name}: mesh answer: {exc!r}")

    async def _on_left(self, data: dict[str, Any]) -> None:
        pc = self.peers.pop(str(data.get("participantId")), None) if isinstance(data, dict) else None
        if pc is not None:
            await pc.close()

    async def _close_media(self) -> None:
        await asyncio.gather(*(pc.close() for pc in self.peers.values()), return_exceptions=True)
