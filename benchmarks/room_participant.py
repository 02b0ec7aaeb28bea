"""A study-group member for large-room runs: simulcast camera, receive slots, a view, a voice.

On top of the classic SFU participant (`participant.SfuParticipant`) it can
- publish its camera as three simulcast layers (`simulcast.SimulcastSender`) and follow dynacast
  (`video:publisher-layers`),
- publish only its microphone (a member whose camera is off),
- speak on a schedule shared by every worker (`speakers.SpeakerSchedule`), with RFC 6464 levels and
  Opus DTX while silent,
- receive on a fixed set of receive slots declared in its first offer (`room-state.media`), counting
  each slot's packets per source and per layer,
- send `video:set-view` with the speaker large and eight thumbnails (`view.RoomView`),
and it counts the server's offers it receives after its own negotiation (the cost of others' joins).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.codecs import is_rtx
from aiortc.rtcconfiguration import RTCBundlePolicy

from benchmarks.clip import SIMULCAST_RIDS, Clip
from benchmarks.participant import ParticipantSpec, SfuParticipant, Shared, _fast_path, _hook
from benchmarks.publisher import PreEncodedTrack
from benchmarks.simulcast import HeldTrack, SimulcastSender, simulcast_offer
from benchmarks.speakers import SpeakerSchedule, SpeakingAudioTrack, write_levels
from benchmarks.subscriber import CountingReceiver, StreamCounter, key_hi
from benchmarks.view import RoomView

VIEW_DEBOUNCE = 0.25  # like the web client: a few views a second at most


@dataclass
class RoomOptions:
    """How every member of a large-room run publishes and receives (the defaults: the classic bench)."""

    simulcast: bool = False
    slots: bool = False
    view: bool = False
    speakers: int = 0  # members loud at once (0: no audio levels at all)
    speaker_period: float = 4.0
    dtx: bool = False
    members: int = 0  # room size (the speaker schedule rotates over it)


class RoomParticipant(SfuParticipant):
    def __init__(self, spec: ParticipantSpec, shared: Shared, options: RoomOptions, layers: list[Clip]) -> None:
        # max-bundle: with aiortc's default (balanced) policy, the second and later transceivers of a kind
        # added before the first negotiation keep a transport of their own that BUNDLE never replaces,
        # so their receivers never start (every video slot but the first would stay silent)
        super().__init__(spec, shared, RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)))
        self.options = options
        self.layers = layers
        self.simulcast: SimulcastSender | None = None
        self.camera: RTCRtpTransceiver | None = None
        self.audio_track: SpeakingAudioTrack | None = None
        self.slot_counters: dict[str, StreamCounter] = {}
        self.offers_received = 0
        self.slot_events = 0
        self.layer_events = 0
        self.views_sent = 0
        self.forwarding: dict[str, int] = {}  # state -> videos, from the last video:forwarding
        self._forwarding_by_pid: dict[str, str] = {}
        self.view: RoomView | None = None
        self._tiles: list[dict[str, Any]] | None = None
        self._view_dirty = False
        self._view_task: asyncio.Task[None] | None = None
        self.connected_ns = 0  # when the media connection (ICE + DTLS) came up: separates setup from forwarding

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected" and not self.connected_ns:
                self.connected_ns = time.monotonic_ns()

    # --- joining -------------------------------------------------------------------------------------

    async def start(self) -> None:
        for event, handler in (("video:answer", self._on_answer), ("video:offer", self._on_offer),
                               ("video:slots", self._on_slots), ("video:publisher-layers", self._on_layers),
                               ("video:forwarding", self._on_forwarding),
                               ("video:active-speaker", self._on_speaker), ("video:user-joined", self._on_joined),
                               ("video:user-left", self._on_left)):
            self.sio.on(event, handler)
        state = await self.join()
        if self.options.view and self.spec.subscribe:
            self.view = RoomView(self.pid)
            self.view.load([p for p in state.get("participants") or [] if isinstance(p, dict)])
        published = self._add_published()
        slots = self._add_slots(state.get("media") or {}) if self.spec.subscribe and self.options.slots else []
        if self.spec.subscribe and not self.options.slots and not self.spec.publish:
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.addTransceiver("video", direction="recvonly")
        async with self.lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            sdp = self.pc.localDescription.sdp
            if self.simulcast is not None and self.camera is not None:
                sdp = simulcast_offer(sdp, str(self.camera.mid), SIMULCAST_RIDS)
            payload: dict[str, Any] = {"roomId": self.shared.room_id, "to": "sfu",
                                       "description": {"type": "offer", "sdp": sdp}}
            if published:
                payload["tracks"] = [{"mid": t.mid, "source": source} for t, source in published]
                _hook(self.pc, self.pid, self.shared, self.pid)
            if slots:
                payload["slots"] = [{"mid": t.mid, "kind": t.kind} for t in slots]
                for transceiver in slots:
                    receiver = transceiver.receiver
                    assert isinstance(receiver, CountingReceiver)
                    counter = self._counter("", transceiver.kind, "")
                    counter.source = None
                    receiver.counter = self.slot_counters[str(transceiver.mid)] = counter
            await self._ack("video:offer", payload)
        await asyncio.wait_for(asyncio.shield(self._answered), 20)
        if self.view is not None:
            self._view_changed()

    def _add_published(self) -> list[tuple[RTCRtpTransceiver, str]]:
        if not self.spec.publish:
            return []
        clip = self.shared.clip
        if self.options.speakers > 0:
            schedule = SpeakerSchedule(self.options.members, self.options.speakers, self.options.speaker_period,
                                       self.shared.origin)
            self.audio_track = SpeakingAudioTrack(clip, self.spec.index, schedule, dtx=self.options.dtx)
            audio = self.pc.addTransceiver(self.audio_track, direction="sendonly")
            write_levels(audio.sender, self.audio_track)
        else:
            audio = self.pc.addTransceiver(PreEncodedTrack("audio", clip, start_offset=self.spec.index * 7),
                                           direction="sendonly")
        published = [(audio, "microphone")]
        if self.spec.camera:
            if self.options.simulcast:
                self.simulcast = SimulcastSender(self.layers, SIMULCAST_RIDS)
                self.camera = self.pc.addTransceiver(HeldTrack(), direction="sendonly")
            else:
                video = PreEncodedTrack("video", clip)
                self.camera = self.pc.addTransceiver(video, direction="sendonly")
                self.camera.sender._send_keyframe = video.request_keyframe  # type: ignore[method-assign]
            published.append((self.camera, "camera"))
        return published

    def _add_slots(self, media: dict[str, Any]) -> list[RTCRtpTransceiver]:
        return [self.pc.addTransceiver(kind, direction="recvonly")
                for kind in ("video", "audio") for _ in range(int(media.get(f"{kind}Slots") or 0))]

    async def _on_answer(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or data.get("from") != "sfu":
            return
        try:
            async with self.lock:
                await self.pc.setRemoteDescription(RTCSessionDescription(**data["description"]))
                _fast_path(self.pc)
                if self.spec.publish:
                    _hook(self.pc, self.pid, self.shared, self.pid)
                if self.simulcast is not None and self.camera is not None and self.simulcast.transport is None:
                    codec = next(c for c in self.camera._codecs if not is_rtx(c))
                    rtx = next((c.payloadType for c in self.camera._codecs
                                if is_rtx(c) and c.parameters.get("apt") == codec.payloadType), None)
                    self.simulcast.configure(self.camera.sender.transport, str(self.camera.mid), codec.payloadType,
                                             data["description"]["sdp"], rtx)
                    self.simulcast.start()
            if not self._answered.done():
                self._answered.set_result(None)
        except Exception as exc:  # noqa: BLE001
            self.shared.errors.append(f"{self.spec.name}: answer: {exc!r}")
            if not self._answered.done():
                self._answered.set_exception(exc)

    async def _on_offer(self, data: dict[str, Any]) -> None:
        if isinstance(data, dict) and data.get("from") == "sfu":
            self.offers_received += 1
        await super()._on_offer(data)

    # --- what the server tells us -----------------------------------------------------------------------

    async def _on_slots(self, data: dict[str, Any]) -> None:
        self.slot_events += 1
        for slot in data.get("slots") or [] if isinstance(data, dict) else []:
            counter = self.slot_counters.get(str(slot.get("mid")))
            if counter is not None:
                pid = slot.get("participantId")
                counter.set_source(pid, key_hi(pid) if pid else 0)

    async def _on_forwarding(self, data: dict[str, Any]) -> None:
        states: dict[str, int] = {}
        by_pid: dict[str, str] = {}
        for video in data.get("videos") or [] if isinstance(data, dict) else []:
            state = str(video.get("state"))
            states[state] = states.get(state, 0) + 1
            if video.get("source") == "camera":
                by_pid[str(video.get("participantId"))] = state + (f":{video.get('layer')}" if "layer" in video else "")
        self.forwarding = states
        self._forwarding_by_pid = by_pid

    async def _on_layers(self, data: dict[str, Any]) -> None:
        self.layer_events += 1
        if self.simulcast is not None and isinstance(data, dict) and data.get("source", "camera") == "camera":
            self.simulcast.set_active([str(r) for r in data.get("active") or []])

    async def _on_speaker(self, data: dict[str, Any]) -> None:
        if self.view is not None and isinstance(data, dict):
            self.view.speaker = data.get("participantId")
            self._view_changed()

    async def _on_joined(self, data: dict[str, Any]) -> None:
        if self.view is not None and isinstance(data, dict) and isinstance(data.get("participant"), dict):
            self.view.joined(data["participant"])
            self._view_changed()

    async def _on_left(self, data: dict[str, Any]) -> None:
        if self.view is not None and isinstance(data, dict):
            self.view.left(str(data.get("participantId")))
            self._view_changed()

    # --- the view ---------------------------------------------------------------------------------------

    def _view_changed(self) -> None:
        self._view_dirty = True
        if self._view_task is None or self._view_task.done():
            self._view_task = asyncio.ensure_future(self._send_views())

    async def _send_views(self) -> None:
        assert self.view is not None
        while self._view_dirty:
            await asyncio.sleep(VIEW_DEBOUNCE)
            self._view_dirty = False
            tiles = self.view.tiles()
            if tiles == self._tiles or not self.sio.connected:
                continue
            self._tiles = tiles
            try:
                await self._ack("video:set-view", {"roomId": self.shared.room_id, "tiles": tiles})
                self.views_sent += 1
            except Exception as exc:  # noqa: BLE001 - a refused view is a result, not a crash
                self.shared.errors.append(f"{self.spec.name}: set-view: {exc!r}")

    # --- results and teardown ---------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        first_shown = self.view.first_shown if self.view is not None else {}
        return {
            "offers_received": self.offers_received, "slot_events": self.slot_events, "views_sent": self.views_sent,
            "layer_events": self.layer_events, "forwarding": self.forwarding,
            # what the server said of each tile of the last view sent (large first): state[:layer]
            "view_states": [self._forwarding_by_pid.get(t["participantId"], "unknown") for t in self._tiles or []],
            "video_slots_flowing": sum(1 for c in self.slot_counters.values() if c.video and c.packets),
            "video_slots_assigned": sum(1 for c in self.slot_counters.values() if c.video and c.source),
            "first_shown": {pid: list(v) for pid, v in first_shown.items()},
            "simulcast": self.simulcast.stats() if self.simulcast is not None else None,
            "dtx_skipped": self.audio_track.dtx_skipped if self.audio_track is not None else 0,
            "server_port": self._server_port(),
            "connected_ns": self.connected_ns,
        }

    def _server_port(self) -> int | None:
        """The server's UDP port for this member (its SDP candidate): ties server-side socket figures to a member."""
        remote = self.pc.remoteDescription
        for line in (remote.sdp.splitlines() if remote is not None else []):
            if line.startswith("a=candidate:") and " typ host" in line:
                return int(line.split()[5])
        return None

    async def _close_media(self) -> None:
        if self._view_task is not None:
            self._view_task.cancel()
        if self.simulcast is not None:
            await self.simulcast.stop()
        await super()._close_media()

