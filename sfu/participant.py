"""A participant in an SFU room: its connection, the tracks it publishes, and its negotiation.

Negotiation rules (docs/protocol.md, "SFU media negotiation"): the client offers first; the server
offers whenever what the participant should receive changes; one offer in flight per connection,
later changes coalesce into the next offer; a client offer while a server offer is pending is
refused with `conflict` (the client answers, then re-offers).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpTransceiver, RTCSessionDescription
from aiortc.codecs import is_rtx
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.sdp import MediaDescription, SessionDescription, candidate_from_sdp

from router.consumer import Consumer
from router.producer import Producer
from sfu import codecs as codec_policy
from sfu.api import MediaError
from sfu.config import Settings
from sfu.connection import Connection, lock_transceiver
from sfu.ice import announce_addresses
from sfu.metrics import SfuMetrics
from sfu.sdp import announced_ssrcs, assign_sources, fingerprints, parse_sdp

if TYPE_CHECKING:
    from sfu.room import Room

log = logging.getLogger("sfu.participant")

COALESCE_SECONDS = 0.05
# Ended m-lines stay (inactive) so a mid never names two publishers; past this many per kind the
# oldest is recycled, so a long call with many departures keeps a bounded SDP.
MAX_IDLE_MLINES_PER_KIND = 16
SOURCES = ("microphone", "camera", "screen")


@dataclass
class Subscription:
    """One server-created m-line carrying another participant's producer to this participant."""

    producer: Producer
    transceiver: RTCRtpTransceiver
    consumer: Consumer | None  # None in transcode mode (aiortc's own sender carries a relayed track)
    accepted: bool = False


@dataclass
class Published:
    """One m-line this participant publishes on."""

    mid: str
    producer: Producer
    transceiver: RTCRtpTransceiver
    track: MediaStreamTrack | None = None  # transcode mode: the decoded remote track
    relay: MediaRelay | None = field(default=None, repr=False)


class Participant:
    def __init__(
        self, room: Room, participant_id: str, settings: Settings, metrics: SfuMetrics, audio: bool, video: bool
    ) -> None:
        self.room = room
        self.id = participant_id
        self.settings = settings
        self.metrics = metrics
        self.forwarding = settings.forwarding == "forward"
        self.connection: Connection | None = None
        self.published: dict[str, Published] = {}  # by mid
        self.subscriptions: dict[str, Subscription] = {}  # by producer id
        self.ended: list[Subscription] = []  # inactive m-lines keep their mid forever
        self.enabled = {"microphone": audio, "camera": video, "screen": True}
        self.client_offered = False
        self.server_offer_pending = False
        self._server_offer_started = 0.0
        self._renegotiate = False
        self._negotiation_task: asyncio.Task[None] | None = None
        self._pending_candidates: list[dict[str, Any]] = []
        self._client_codecs: dict[str, list[RTCRtpCodecParameters]] = {}
        self._client_extensions: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    # --- what the room sees ----------------------------------------------------------------------------

    def producers(self) -> list[Producer]:
        return [p.producer for p in self.published.values() if not p.producer.closed]

    def producer_by_source(self, source: str) -> list[Producer]:
        return [p for p in self.producers() if p.source == source]

    # --- client offer -------------------------------------------------------------------------------------

    async def handle_offer(self, description: dict[str, str], tracks: list[dict[str, str]] | None) -> None:
        if description.get("type") != "offer":
            raise MediaError("bad_request", "description.type must be 'offer'")
        parsed = parse_sdp(description["sdp"])
        if self._is_new_peer_connection(parsed):
            # the client started over with a new RTCPeerConnection (reconnect after a failure):
            # whatever the old one had pending is moot
            async with self._lock:
                had_media = bool(self.producers())
                await self._teardown_media()
            if had_media:
                self.room.producers_changed(f"{self.id} reconnected")
        if self.server_offer_pending:
            raise MediaError("conflict", "a server offer is pending: answer it, then send your offer again")
        sources = assign_sources(parsed, tracks, {mid: p.producer.source for mid, p in self.published.items()
                                                  if not p.producer.closed})
        async with self._lock:
            if self.server_offer_pending:
                raise MediaError("conflict", "a server offer is pending: answer it, then send your offer again")
            if self._closed:
                raise MediaError("not_found", "you have left this room")
            started = time.monotonic()
            publishing = [m for m in parsed.media if m.rtp.muxId in sources]
            if len(publishing) > self.settings.max_tracks_per_participant:
                raise MediaError("bad_request", f"at most {self.settings.max_tracks_per_participant} published tracks")
            # every new m-line costs a transceiver: a client adds its tracks plus a listener's two
            known = {t.mid for t in self.connection.pc.getTransceivers()} if self.connection is not None else set()
            added = sum(1 for m in parsed.media if m.rtp.muxId not in known)
            if added > self.settings.max_tracks_per_participant + 2:
                raise MediaError("bad_request", f"an offer may add at most {self.settings.max_tracks_per_participant + 2}"
                                 " media sections")
            self._check_codecs(parsed)
            self._learn_client_capabilities(parsed)
            if self.connection is None:
                self.connection = Connection(self.id, self.forwarding, self._connection_failed,
                                             self.metrics.feedback_received)
            pc = self.connection.pc
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=description["sdp"], type="offer"))
            except MediaError:
                raise
            except Exception as exc:  # aiortc raises plain ValueError/OperationError/InvalidStateError
                raise MediaError("bad_request", f"offer rejected: {exc}") from exc
            self.connection.attach()
            changed = self._sync_published(parsed, sources)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            for transceiver in pc.getTransceivers():
                lock_transceiver(transceiver)
            self.connection.attach()
            await self._apply_pending_candidates()
            first_offer = not self.client_offered
            self.client_offered = True
            self.metrics.negotiation_seconds.labels("client").observe(time.monotonic() - started)
            await self.room.notifier.to_participant(self.id, "video:answer", {
                "roomId": self.room.id,
                "from": "sfu",
                "description": {"type": "answer", "sdp": self._local_sdp()},
                "tracks": [
                    {"mid": mid, "kind": p.producer.kind, "source": p.producer.source}
                    for mid, p in self.published.items() if not p.producer.closed
                ],
            })
        if first_offer and self.room.active_speaker is not None:
            # speaker changes go to the room as they happen; a newcomer needs the current one
            await self.room.notifier.to_participant(self.id, "video:active-speaker", {
                "roomId": self.room.id, "participantId": self.room.active_speaker})
        if changed:
            self.room.producers_changed(f"tracks of {self.id}")
        else:
            self.request_renegotiation("client offer")

    def _is_new_peer_connection(self, parsed: SessionDescription) -> bool:
        """Each RTCPeerConnection has its own DTLS certificate: a new fingerprint means a new one."""
        current = self.connection.pc.remoteDescription if self.connection is not None else None
        if current is None:
            return False
        return fingerprints(SessionDescription.parse(current.sdp)) != fingerprints(parsed)

    def _learn_client_capabilities(self, parsed: SessionDescription) -> None:
        for media in parsed.media:
            if media.kind not in ("audio", "video"):
                continue
            for ext in media.rtp.headerExtensions:
                self._client_extensions.setdefault(ext.uri, ext.id)
            if media.kind not in self._client_codecs:
                self._client_codecs[media.kind] = codec_policy.common_codecs(media)

    def _check_codecs(self, parsed: SessionDescription) -> None:
        video = [m for m in parsed.media if m.kind == "video"]
        if video and self.room.video_codec is None:
            offered = codec_policy.common_codecs(video[0])
            publishes_video = any(m.direction in ("sendonly", "sendrecv") for m in video)
            if publishes_video:
                self.room.video_codec = codec_policy.choose_room_video_codec(offered)
        for media in parsed.media:
            if media.kind == "audio" or (media.kind == "video" and self.room.video_codec is not None):
                if not self.forwarding:
                    continue  # transcoding re-encodes into whatever the member can take
                codec_policy.require_codec(codec_policy.common_codecs(media), media.kind, self.room.video_codec)

    def _sync_published(self, parsed: SessionDescription, sources: dict[str, str]) -> bool:
        """Create producers for new published m-lines, close those the client stopped."""
        assert self.connection is not None
        pc = self.connection.pc
        changed = False
        by_mid = {t.mid: t for t in pc.getTransceivers()}
        for media in parsed.media:
            mid = media.rtp.muxId
            transceiver = by_mid.get(mid)
            if transceiver is None or media.kind not in ("audio", "video"):
                continue
            source = sources.get(mid)
            current = self.published.get(mid)
            if source is None:
                if current is not None:
                    self._unpublish(current)
                    changed = True
                continue
            if current is not None and not current.producer.closed:
                continue
            chosen = transceiver._codecs
            if self.forwarding or media.kind == "audio":
                name = "OPUS" if media.kind == "audio" else (self.room.video_codec or "VP8")
                chosen = codec_policy.restrict_to(transceiver._codecs, name) or transceiver._codecs
            lock_transceiver(transceiver, codecs=chosen)
            self._publish(mid, media, transceiver, source)
            changed = True
        return changed

    def _publish(self, mid: str, media: MediaDescription, transceiver: RTCRtpTransceiver, source: str) -> None:
        assert self.connection is not None
        media_ssrc, rtx_ssrc = announced_ssrcs(media)
        extensions = {ext.uri: ext.id for ext in transceiver._headerExtensions}
        if any(ext.uri == codec_policy.MID_URI for ext in transceiver._headerExtensions):
            self.connection.demux.mid_extension_id = extensions[codec_policy.MID_URI]
        producer = Producer(
            producer_id=uuid.uuid4().hex[:12],
            participant_id=self.id,
            kind=media.kind,
            source=source,
            codec=codec_policy.codec_info(transceiver._codecs),
            extensions=extensions,
            send_rtcp=self.connection.send_rtcp,
            rtcp_ssrc=self.connection.rtcp_ssrc,
            media_ssrc=media_ssrc,
            rtx_ssrc=rtx_ssrc,
            remb_bounds=(self.settings.remb_min_bps, self.settings.remb_max_bps),
            on_audio_level=self.room.observe_audio_level if media.kind == "audio" else None,
        )
        producer.paused = not self.enabled.get(source, True)
        published = Published(mid=mid, producer=producer, transceiver=transceiver)
        if not self.forwarding:
            published.track = transceiver.receiver.track
            published.relay = MediaRelay()
        self.published[mid] = published
        self.connection.demux.add_producer(producer, mid)
        self.metrics.producers_created.inc()
        log.info("event=produce participant=%s room=%s kind=%s source=%s codec=%s", self.id, self.room.id,
                 media.kind, source, producer.codec.name)

    def _unpublish(self, published: Published) -> None:
        producer = published.producer
        if producer.closed:
            return
        retired = self.metrics.retired
        retired["received_packets"] += producer.packets_received
        retired["received_bytes"] += producer.bytes_received
        retired["keyframe_requests"] += producer.keyframe_requests_sent
        retired["nacks_sent"] += producer.nacks_sent
        producer.close()
        if self.connection is not None:
            self.connection.demux.remove_producer(producer)
        if published.relay is not None and published.track is not None:
            published.track.stop()
        if producer.kind == "audio":
            self.room.speaker.remove(self.id)

    # --- server offers ---------------------------------------------------------------------------------------

    def request_renegotiation(self, cause: str) -> None:
        """Coalesce: one task per participant sends the next offer once the connection is stable."""
        if self._closed:
            return
        self._renegotiate = True
        if self._negotiation_task is None or self._negotiation_task.done():
            self._negotiation_task = asyncio.get_running_loop().create_task(self._negotiate())

    async def _negotiate(self) -> None:
        try:
            while self._renegotiate and not self._closed:
                await asyncio.sleep(COALESCE_SECONDS)
                async with self._lock:
                    connection = self.connection
                    if (
                        connection is None
                        or not self.client_offered
                        or self.server_offer_pending
                        or connection.pc.signalingState != "stable"
                    ):
                        return  # the answer (or the client's first offer) will ask again
                    self._renegotiate = False
                    if not self._sync_subscriptions():
                        continue
                    await self._send_offer()
        except Exception:  # noqa: BLE001 - a failed offer must not kill the participant's task silently
            log.exception("event=server_offer_failed participant=%s room=%s", self.id, self.room.id)

    def _sync_subscriptions(self) -> bool:
        assert self.connection is not None
        changed = False
        wanted = {p.id: p for p in self.room.producers() if p.participant_id != self.id}
        for producer_id, sub in list(self.subscriptions.items()):
            if producer_id not in wanted:
                self._end_subscription(sub)
                del self.subscriptions[producer_id]
                changed = True
        for producer_id, producer in wanted.items():
            if producer_id in self.subscriptions:
                continue
            self.subscriptions[producer_id] = self._subscribe(producer)
            changed = True
        return changed

    def _subscribe(self, producer: Producer) -> Subscription:
        assert self.connection is not None
        pc = self.connection.pc
        kind = producer.kind
        name = "OPUS" if kind == "audio" else (self.room.video_codec or "VP8")
        if self.forwarding:
            codecs = codec_policy.restrict_to(self._client_codecs.get(kind, []), name)
            codecs = codecs or codec_policy.default_codecs(kind, name)
        else:
            codecs = self._client_codecs.get(kind) or codec_policy.default_codecs(kind, name)
            codecs = [c for c in codecs if codec_policy.codec_name(c) in ("OPUS", "VP8", "H264", "RTX")]
        extensions = codec_policy.extension_ids(self._client_extensions, kind)
        published = self.room.participants[producer.participant_id].published_for(producer)
        relayed = None
        if not self.forwarding and published is not None and published.track is not None and published.relay:
            relayed = published.relay.subscribe(published.track)
        initial_sequence = None
        idle = [sub for sub in self.ended if sub.transceiver.kind == kind]
        if len(idle) > MAX_IDLE_MLINES_PER_KIND:
            recycled = idle[0]
            self.ended.remove(recycled)
            transceiver = recycled.transceiver
            transceiver.direction = "sendonly"
            codecs = transceiver._codecs  # locked when first negotiated
            if recycled.consumer is not None:
                initial_sequence = recycled.consumer.next_sequence
            if relayed is not None:
                transceiver.sender.replaceTrack(relayed)
        else:
            transceiver = pc.addTransceiver(relayed or kind, direction="sendonly")
            lock_transceiver(transceiver, codecs=codecs, extensions=extensions)
        sender = transceiver.sender
        sender._stream_id = producer.participant_id if producer.source != "screen" else f"{producer.participant_id}:screen"
        sender._track_id = f"{producer.participant_id}-{producer.source}-{producer.id}"
        consumer = None
        if self.forwarding:
            main = codecs[0]
            rtx = next((c for c in codecs if is_rtx(c) and c.parameters.get("apt") == main.payloadType), None)
            consumer = Consumer(
                consumer_id=uuid.uuid4().hex[:12],
                producer=producer,
                subscriber_id=self.id,
                ssrc=sender._ssrc,
                payload_type=main.payloadType,
                send_rtp=self.connection.send_rtp,
                rtx_ssrc=sender._rtx_ssrc if rtx is not None else None,
                rtx_payload_type=rtx.payloadType if rtx is not None else None,
                extension_id_map=codec_policy.forwarded_id_map(
                    producer.extensions, {e.uri: e.id for e in transceiver._headerExtensions}
                ),
                initial_sequence=initial_sequence,
            )
            self.connection.demux.add_consumer(consumer)
            producer.add_consumer(consumer)
            self.metrics.consumers_created.inc()
        self.connection.attach()
        return Subscription(producer=producer, transceiver=transceiver, consumer=consumer)

    def published_for(self, producer: Producer) -> Published | None:
        return next((p for p in self.published.values() if p.producer is producer), None)

    def _end_subscription(self, sub: Subscription) -> None:
        sub.transceiver.direction = "inactive"
        if sub.consumer is not None:
            retired = self.metrics.retired
            retired["forwarded_packets"] += sub.consumer.packets_sent
            retired["forwarded_bytes"] += sub.consumer.bytes_sent
            retired["retransmissions"] += sub.consumer.retransmissions
            sub.producer.remove_consumer(sub.consumer)
            sub.consumer.close()
            if self.connection is not None:
                self.connection.demux.remove_consumer(sub.consumer)
        elif sub.transceiver.sender.track is not None:
            sub.transceiver.sender.replaceTrack(None)
        self.ended.append(sub)

    async def _send_offer(self) -> None:
        assert self.connection is not None
        pc = self.connection.pc
        self._server_offer_started = time.monotonic()
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        self.connection.attach()
        self.server_offer_pending = True
        tracks = [
            {"mid": sub.transceiver.mid, "participantId": sub.producer.participant_id, "kind": sub.producer.kind,
             "source": sub.producer.source}
            for sub in self.subscriptions.values()
        ]
        await self.room.notifier.to_participant(self.id, "video:offer", {
            "roomId": self.room.id,
            "from": "sfu",
            "description": {"type": "offer", "sdp": self._local_sdp()},
            "tracks": tracks,
        })

    # --- client answer, candidates -------------------------------------------------------------------

    async def handle_answer(self, description: dict[str, str]) -> None:
        if description.get("type") != "answer":
            raise MediaError("bad_request", "description.type must be 'answer'")
        async with self._lock:
            if not self.server_offer_pending or self.connection is None:
                raise MediaError("conflict", "there is no server offer to answer")
            try:
                await self.connection.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=description["sdp"], type="answer")
                )
            except Exception as exc:
                raise MediaError("bad_request", f"answer rejected: {exc}") from exc
            self.server_offer_pending = False
            self.connection.attach()
            self.metrics.negotiation_seconds.labels("server").observe(time.monotonic() - self._server_offer_started)
            for sub in self.subscriptions.values():
                if not sub.accepted and sub.transceiver.currentDirection in ("sendonly", "sendrecv"):
                    sub.accepted = True
                    if sub.consumer is not None:
                        sub.consumer.activate()
        if self._renegotiate:
            self.request_renegotiation("queued change")

    async def add_candidate(self, candidate: dict[str, Any] | None) -> None:
        if candidate is None or not candidate.get("candidate"):
            return  # end of candidates: aiortc needs no signal
        async with self._lock:
            if self.connection is None or self.connection.pc.remoteDescription is None:
                if len(self._pending_candidates) < 64:
                    self._pending_candidates.append(candidate)
                return
            await self._add_candidate(candidate)

    async def _apply_pending_candidates(self) -> None:
        pending, self._pending_candidates = self._pending_candidates, []
        for candidate in pending:
            await self._add_candidate(candidate)

    async def _add_candidate(self, candidate: dict[str, Any]) -> None:
        assert self.connection is not None
        text = str(candidate["candidate"])
        try:
            ice = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
        except Exception as exc:
            raise MediaError("bad_request", f"unreadable ICE candidate: {exc}") from exc
        ice.sdpMid = candidate.get("sdpMid")
        ice.sdpMLineIndex = candidate.get("sdpMLineIndex")
        if ice.sdpMid is None and ice.sdpMLineIndex is None:
            ice.sdpMLineIndex = 0
        try:
            await self.connection.pc.addIceCandidate(ice)
        except Exception as exc:  # noqa: BLE001 - a bad candidate is the client's problem, not the call's
            raise MediaError("bad_request", f"ICE candidate rejected: {exc}") from exc

    # --- media state ----------------------------------------------------------------------------------

    def set_enabled(self, source: str, enabled: bool) -> None:
        self.enabled[source] = enabled
        for producer in self.producer_by_source(source):
            producer.set_paused(not enabled)

    def stop_screen_share(self) -> bool:
        screens = [p for p in self.published.values() if p.producer.source == "screen" and not p.producer.closed]
        for published in screens:
            self._unpublish(published)
        return bool(screens)

    # --- teardown -----------------------------------------------------------------------------------

    async def _connection_failed(self) -> None:
        """ICE/DTLS failed or the peer closed it: drop the media (the client may offer again, on a new connection)."""
        state = self.connection.pc.connectionState if self.connection is not None else "closed"
        # a peer that hangs up closes its connection on every ordinary leave: not worth a warning
        log.log(logging.WARNING if state == "failed" else logging.INFO, "event=connection_%s participant=%s room=%s",
                "failed" if state == "failed" else "closed", self.id, self.room.id)
        async with self._lock:
            had_media = bool(self.producers())
            await self._teardown_media()
        if had_media:
            self.room.producers_changed(f"connection of {self.id} failed")

    async def _teardown_media(self) -> None:
        for published in list(self.published.values()):
            self._unpublish(published)
        self.published.clear()
        for sub in list(self.subscriptions.values()):
            self._end_subscription(sub)
        self.subscriptions.clear()
        self.ended.clear()
        self._client_codecs.clear()
        self._client_extensions.clear()
        self._pending_candidates.clear()
        connection, self.connection = self.connection, None
        self.client_offered = False
        self.server_offer_pending = False
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        self._closed = True
        self._renegotiate = False
        task = self._negotiation_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._teardown_media()

    def _local_sdp(self) -> str:
        assert self.connection is not None
        return announce_addresses(self.connection.pc.localDescription.sdp, self.settings.announce_ip)
