"""A participant in an SFU room: its connection, the tracks it publishes, what it receives, its negotiation.

Negotiation rules (docs/protocol.md, "SFU media negotiation"): the client offers first; the server
offers whenever what the participant should receive changes; one offer in flight per connection,
later changes coalesce into the next offer; a client offer while a server offer is pending is
refused with `conflict` (the client answers, then re-offers).

A participant receives in one of two ways. Per-track (older clients, aiortc): one server-created
m-line per producer in the room, added by server offers. Slots (the web client): the client's own
offer carries a fixed number of receive-only m-lines, and the server decides which source each one
carries (`video:slots`), so joins, leaves and speaker changes need no renegotiation at all.
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
from aiortc.sdp import candidate_from_sdp

from router.allocation import BandwidthAllocator, DownlinkBudget
from router.consumer import Consumer
from router.header_extensions import REPAIRED_RID_URI, RID_URI, TRANSPORT_CC_URI
from router.producer import Producer
from sfu import codecs as codec_policy
from sfu.api import MediaError
from sfu.config import Settings
from sfu.connection import Connection, lock_transceiver
from sfu.ice import announce_addresses, restart_ice
from sfu.metrics import SfuMetrics
from sfu.sdp import (
    CandidatePolicy,
    ClientOffer,
    OfferedMedia,
    add_simulcast_to_answer,
    assign_sources,
    fingerprints_of,
    offer_ice_credentials,
    parse_offer,
)

if TYPE_CHECKING:
    from sfu.room import Room

log = logging.getLogger("sfu.participant")

COALESCE_SECONDS = 0.05
# Ended m-lines stay (inactive) so a mid never names two publishers; past this many per kind the
# oldest is recycled, so a long call with many departures keeps a bounded SDP.
MAX_IDLE_MLINES_PER_KIND = 16
SOURCES = ("microphone", "camera", "screen")
CLOCK_RATES = {"audio": 48000, "video": 90000}


@dataclass
class Subscription:
    """One server-created m-line carrying another participant's producer to this participant."""

    producer: Producer
    transceiver: RTCRtpTransceiver
    consumer: Consumer | None  # None in transcode mode (aiortc's own sender carries a relayed track)
    accepted: bool = False


@dataclass
class Slot:
    """One receive-only m-line of the client's offer; the server picks what it carries."""

    mid: str
    kind: str  # "audio" | "video"
    transceiver: RTCRtpTransceiver
    consumer: Consumer

    @property
    def producer(self) -> Producer | None:
        return self.consumer.producer


@dataclass
class Published:
    """One m-line this participant publishes on."""

    mid: str
    producer: Producer
    transceiver: RTCRtpTransceiver
    track: MediaStreamTrack | None = None  # transcode mode: the decoded remote track
    relay: MediaRelay | None = field(default=None, repr=False)


@dataclass
class ViewTile:
    participant_id: str
    source: str
    width: int
    height: int


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
        self.subscriptions: dict[str, Subscription] = {}  # per-track mode, by producer id
        self.ended: list[Subscription] = []  # inactive m-lines keep their mid forever
        self.slots: list[Slot] = []  # slot mode
        self.view: list[ViewTile] | None = None  # what the page shows (None: it never said)
        self.heard: list[str] = []  # whose microphones it is sent now (kept while they stay loud)
        self.allocator = BandwidthAllocator()
        self.downlink = DownlinkBudget()
        self.enabled = {"microphone": audio, "camera": video, "screen": True}
        self.client_offered = False
        self.server_offer_pending = False
        self.joined_at = time.monotonic()
        self._server_offer_started = 0.0
        self._renegotiate = False
        self._negotiation_task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._pending_candidates: list[dict[str, Any]] = []
        self._candidates_ended = False
        self._client_codecs: dict[str, list[RTCRtpCodecParameters]] = {}
        self._client_extensions: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        # what the client was last told (events are sent only on change)
        self.told_slots: list[dict[str, Any]] | None = None
        self.told_forwarding: list[dict[str, Any]] | None = None
        self.told_layers: dict[str, tuple[str, ...]] = {}

    # --- what the room sees ----------------------------------------------------------------------------

    def producers(self) -> list[Producer]:
        return [p.producer for p in self.published.values() if not p.producer.closed]

    def producer_by_source(self, source: str) -> list[Producer]:
        return [p for p in self.producers() if p.source == source]

    @property
    def _downlink_transport_cc(self) -> bool:
        """Transport-wide feedback from this subscriber: only where we send the packets ourselves."""
        return self.forwarding and self.settings.downlink_transport_cc

    @property
    def slot_mode(self) -> bool:
        return bool(self.slots)

    def consumers(self) -> list[Consumer]:
        if self.slots:
            return [slot.consumer for slot in self.slots]
        return [sub.consumer for sub in self.subscriptions.values() if sub.consumer is not None]

    # --- client offer -------------------------------------------------------------------------------------

    def _remote_candidates(self) -> int:
        """Remote candidates held for this connection (aioice's, deduplicated, plus those waiting)."""
        count = len(self._pending_candidates)
        if self.connection is not None:
            transceivers = self.connection.pc.getTransceivers()
            if transceivers:
                count += len(transceivers[0].receiver.transport.transport._connection._remote_candidates)
        return count

    def _candidate_policy(self, replacing: bool = False) -> CandidatePolicy:
        """`replacing`: an offer's candidates repeat or replace what is held (re-offer, ICE restart)."""
        held = 0 if replacing else self._remote_candidates()
        remaining = max(0, self.settings.max_ice_candidates - held)
        return CandidatePolicy.for_hosts(self.settings.ice_hosts, max_candidates=remaining)

    async def handle_offer(
        self, description: dict[str, str], tracks: list[dict[str, str]] | None, slots: list[dict[str, str]] | None = None
    ) -> None:
        if description.get("type") != "offer":
            raise MediaError("bad_request", "description.type must be 'offer'")
        sdp = description["sdp"]
        offer = parse_offer(sdp, self._candidate_policy(replacing=True), max_sections=self.settings.max_mlines)
        if self._is_new_peer_connection(offer):
            # the client started over with a new RTCPeerConnection (reconnect after a failure):
            # whatever the old one had pending is moot
            async with self._lock:
                had_media = bool(self.producers())
                await self._teardown_media()
            if had_media:
                self.room.producers_changed(f"{self.id} reconnected")
        restart = self._ice_restart_wanted(offer)
        if self.client_offered and not restart:
            # a re-offer repeats the candidates it had; new ones count against what is held
            offer = parse_offer(sdp, self._candidate_policy(), max_sections=self.settings.max_mlines)
        if self.server_offer_pending:
            raise MediaError("conflict", "a server offer is pending: answer it, then send your offer again")
        sources = assign_sources(offer, tracks, {mid: p.producer.source for mid, p in self.published.items()
                                                 if not p.producer.closed})
        async with self._lock:
            if self.server_offer_pending:
                raise MediaError("conflict", "a server offer is pending: answer it, then send your offer again")
            if self._closed:
                raise MediaError("not_found", "you have left this room")
            started = time.monotonic()
            if len(sources) > self.settings.max_tracks_per_participant:
                raise MediaError("bad_request", f"at most {self.settings.max_tracks_per_participant} published tracks")
            new_slots = self._check_slots(offer, slots, sources)
            # every new m-line costs a transceiver: a client adds its tracks plus a listener's two
            known = {t.mid for t in self.connection.pc.getTransceivers()} if self.connection is not None else set()
            added = sum(1 for m in offer.media if m.mid not in known) - len(new_slots)
            if added > self.settings.max_tracks_per_participant + 2:
                raise MediaError("bad_request", f"an offer may add at most {self.settings.max_tracks_per_participant + 2}"
                                 " media sections")
            self._check_codecs(offer)
            self._learn_client_capabilities(offer)
            if restart:
                self._restart_ice(offer)
            if self.connection is None:
                self.connection = Connection(self.id, self.forwarding, self._connection_state,
                                             self.metrics.feedback_received)
                self._arm_watchdog()
            pc = self.connection.pc
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            except MediaError:
                raise
            except Exception as exc:  # aiortc raises plain ValueError/OperationError/InvalidStateError
                raise MediaError("bad_request", f"offer rejected: {exc}") from exc
            self.connection.attach()
            if any(m.ice_candidates_complete for m in offer.parsed.media):
                self._candidates_ended = True  # the offer said end-of-candidates: nothing more will be used
            changed = self._sync_published(offer, sources)
            self._open_slots(offer, new_slots)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            for transceiver in pc.getTransceivers():
                lock_transceiver(transceiver)
            self.connection.attach()
            await self._apply_pending_candidates()
            first_offer = not self.client_offered
            self.client_offered = True
            self.metrics.negotiation_seconds.labels("client").observe(time.monotonic() - started)
            simulcast = {mid: tuple(layer.rid or "" for layer in p.producer.layers)
                         for mid, p in self.published.items() if p.producer.simulcast and not p.producer.closed}
            await self.room.notifier.to_participant(self.id, "video:answer", {
                "roomId": self.room.id,
                "from": "sfu",
                "description": {"type": "answer", "sdp": add_simulcast_to_answer(self._local_sdp(), simulcast)},
                "tracks": [
                    {"mid": mid, "kind": p.producer.kind, "source": p.producer.source}
                    for mid, p in self.published.items() if not p.producer.closed
                ],
            })
            for slot in self.slots:
                slot.consumer.activate()
        if first_offer and self.room.active_speaker is not None:
            # speaker changes go to the room as they happen; a newcomer needs the current one
            await self.room.notifier.to_participant(self.id, "video:active-speaker", {
                "roomId": self.room.id, "participantId": self.room.active_speaker})
        if changed:
            self.room.producers_changed(f"tracks of {self.id}")
        else:
            self.request_renegotiation("client offer")
        self.room.plan_soon()

    def _ice_restart_wanted(self, offer: ClientOffer) -> bool:
        """The same peer connection offering new ICE credentials is restarting ICE (its network changed)."""
        connection = self.connection
        current = connection.pc.remoteDescription if connection is not None else None
        ice = offer.parsed.media[0].ice
        if current is None or ice is None or not ice.usernameFragment or not ice.password:
            return False
        return offer_ice_credentials(current.sdp) != (ice.usernameFragment, ice.password)

    def _restart_ice(self, offer: ClientOffer) -> None:
        ice = offer.parsed.media[0].ice
        assert self.connection is not None and ice is not None
        transceivers = self.connection.pc.getTransceivers()
        if not transceivers or not restart_ice(transceivers[0].receiver.transport.transport,
                                               str(ice.usernameFragment), str(ice.password)):
            raise MediaError("conflict", "this connection is closed: start a new one")
        self._candidates_ended = False
        self.metrics.ice_restarts.inc()
        log.info("event=ice_restart participant=%s room=%s", self.id, self.room.id)

    def _is_new_peer_connection(self, offer: ClientOffer) -> bool:
        """Each RTCPeerConnection has its own DTLS certificate: a new fingerprint means a new one."""
        current = self.connection.pc.remoteDescription if self.connection is not None else None
        if current is None:
            return False
        return fingerprints_of(current.sdp) != offer.fingerprints

    def _check_slots(
        self, offer: ClientOffer, slots: list[dict[str, str]] | None, sources: dict[str, str]
    ) -> list[OfferedMedia]:
        """The receive slots this offer adds; a slot is a receive-only m-line the client declared."""
        if not slots:
            return []
        if self.subscriptions:
            raise MediaError("bad_request", "slots must be declared in the first offer of a connection")
        existing = {slot.mid for slot in self.slots}
        published = set(self.published)
        new: list[OfferedMedia] = []
        for entry in slots:
            mid, kind = entry["mid"], entry["kind"]
            if mid in existing:
                continue
            media = offer.by_mid(mid)
            if media is None or media.kind != kind:
                raise MediaError("bad_request", f"slot {mid} is not a {kind} m-line of the offer")
            if media.sends or mid in sources or mid in published or not media.receives:
                raise MediaError("bad_request", f"slot {mid} must be a receive-only m-line")
            if any(m.mid == mid for m in new):
                raise MediaError("bad_request", f"slot {mid} is declared twice")
            new.append(media)
        limits = {"audio": self.room.audio_slot_limit(), "video": self.room.video_slot_limit()}
        for kind, limit in limits.items():
            count = sum(1 for s in self.slots if s.kind == kind) + sum(1 for m in new if m.kind == kind)
            if count > limit:
                raise MediaError("bad_request", f"at most {limit} {kind} slots")
        return new

    def _learn_client_capabilities(self, offer: ClientOffer) -> None:
        for media in offer.media:
            if media.kind not in ("audio", "video"):
                continue
            for uri, ext_id in media.extensions.items():
                self._client_extensions.setdefault(uri, ext_id)
            if media.kind not in self._client_codecs:
                codecs = codec_policy.common_codecs(offer.section(media.mid))
                if self._downlink_transport_cc:
                    codecs = codec_policy.with_transport_cc(codecs, offer.section(media.mid))
                self._client_codecs[media.kind] = codecs

    def _check_codecs(self, offer: ClientOffer) -> None:
        video = [m for m in offer.media if m.kind == "video"]
        if video and self.room.video_codec is None:
            offered = codec_policy.common_codecs(offer.section(video[0].mid))
            if any(m.sends for m in video):
                self.room.video_codec = codec_policy.choose_room_video_codec(offered)
        for media in offer.media:
            if media.kind == "audio" or (media.kind == "video" and self.room.video_codec is not None):
                if not self.forwarding:
                    continue  # transcoding re-encodes into whatever the member can take
                codec_policy.require_codec(codec_policy.common_codecs(offer.section(media.mid)), media.kind,
                                           self.room.video_codec)

    def _sync_published(self, offer: ClientOffer, sources: dict[str, str]) -> bool:
        """Create producers for new published m-lines, close those the client stopped."""
        assert self.connection is not None
        pc = self.connection.pc
        changed = False
        by_mid = {t.mid: t for t in pc.getTransceivers()}
        for media in offer.media:
            transceiver = by_mid.get(media.mid)
            if transceiver is None or media.kind not in ("audio", "video"):
                continue
            source = sources.get(media.mid)
            current = self.published.get(media.mid)
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
            chosen = codec_policy.with_publish_parameters(chosen)
            extensions = codec_policy.publish_extensions(media.extensions, media.kind, self.settings.transport_cc)
            if self.forwarding and any(e.uri == TRANSPORT_CC_URI for e in extensions):
                chosen = codec_policy.with_transport_cc(chosen, offer.section(media.mid))
                self.connection.demux.enable_transport_cc(media.extensions[TRANSPORT_CC_URI],
                                                          self.connection.rtcp_ssrc)
            lock_transceiver(transceiver, codecs=chosen, extensions=extensions)
            self._publish(media, transceiver, source)
            changed = True
        return changed

    def _publish(self, media: OfferedMedia, transceiver: RTCRtpTransceiver, source: str) -> None:
        assert self.connection is not None
        demux = self.connection.demux
        extensions = {ext.uri: ext.id for ext in transceiver._headerExtensions}
        if codec_policy.MID_URI in extensions:
            demux.mid_extension_id = extensions[codec_policy.MID_URI]
        rids = media.rids if self.forwarding else ()
        if rids:
            demux.rid_extension_id = extensions.get(RID_URI)
            demux.repaired_rid_extension_id = extensions.get(REPAIRED_RID_URI)
        producer = Producer(
            producer_id=uuid.uuid4().hex[:12],
            participant_id=self.id,
            kind=media.kind,
            source=source,
            codec=codec_policy.codec_info(transceiver._codecs),
            extensions=extensions,
            link=self.connection,
            rtcp_ssrc=self.connection.rtcp_ssrc,
            rids=rids if rids and RID_URI in extensions else (),
            media_ssrc=media.media_ssrc,
            rtx_ssrc=media.rtx_ssrc,
            remb_bps=self.settings.remb_max_bps,
            on_audio_level=self.room.observe_audio_level if media.kind == "audio" else None,
        )
        producer.paused = not self.enabled.get(source, True)
        published = Published(mid=media.mid, producer=producer, transceiver=transceiver)
        if not self.forwarding:
            published.track = transceiver.receiver.track
            published.relay = MediaRelay()
        self.published[media.mid] = published
        demux.add_producer(producer, media.mid)
        self.metrics.producers_created.inc()
        log.info("event=produce participant=%s room=%s kind=%s source=%s codec=%s layers=%d", self.id, self.room.id,
                 media.kind, source, producer.codec.name, len(producer.layers))

    def _unpublish(self, published: Published) -> None:
        producer = published.producer
        if producer.closed:
            return
        retired = self.metrics.retired
        retired["received_packets"] += producer.packets_received
        retired["received_bytes"] += producer.bytes_received
        retired["keyframe_requests"] += producer.keyframe_requests_sent
        retired["nacks_sent"] += producer.nacks_sent
        retired["malformed_packets"] += producer.malformed
        for layer in producer.layers:
            self.metrics.retired_layers[layer.index] = self.metrics.retired_layers.get(layer.index, 0) + layer.forwarded
            retired["stream_stalls"] += layer.stalls
        producer.close()
        if self.connection is not None:
            self.connection.demux.remove_producer(producer)
        if published.relay is not None and published.track is not None:
            published.track.stop()
        if producer.kind == "audio":
            self.room.speaker.remove(self.id)

    # --- receive slots -------------------------------------------------------------------------------------

    def _receive_codecs(self, kind: str) -> list[RTCRtpCodecParameters]:
        name = "OPUS" if kind == "audio" else (self.room.video_codec or "VP8")
        if self.forwarding:
            codecs = codec_policy.restrict_to(self._client_codecs.get(kind, []), name)
            return codecs or codec_policy.default_codecs(kind, name)
        codecs = self._client_codecs.get(kind) or codec_policy.default_codecs(kind, name)
        return [c for c in codecs if codec_policy.codec_name(c) in ("OPUS", "VP8", "H264", "RTX")]

    def _make_consumer(self, transceiver: RTCRtpTransceiver, kind: str, codecs: list[RTCRtpCodecParameters],
                       producer: Producer | None, initial_sequence: int | None = None) -> Consumer:
        assert self.connection is not None
        sender = transceiver.sender
        main = codecs[0]
        rtx = next((c for c in codecs if is_rtx(c) and c.parameters.get("apt") == main.payloadType), None)
        consumer = Consumer(
            consumer_id=uuid.uuid4().hex[:12],
            producer=producer,
            subscriber_id=self.id,
            ssrc=sender._ssrc,
            payload_type=main.payloadType,
            link=self.connection,
            clock_rate=CLOCK_RATES[kind],
            kind=kind,
            rtx_ssrc=sender._rtx_ssrc if rtx is not None else None,
            rtx_payload_type=rtx.payloadType if rtx is not None else None,
            extensions={e.uri: e.id for e in transceiver._headerExtensions},
            initial_sequence=initial_sequence,
        )
        self.connection.demux.add_consumer(consumer)
        if TRANSPORT_CC_URI in consumer.extensions:
            self.connection.enable_downlink_transport_cc(consumer.extensions[TRANSPORT_CC_URI])
        self.metrics.consumers_created.inc()
        return consumer

    def _open_slots(self, offer: ClientOffer, new: list[OfferedMedia]) -> None:
        if not new or self.connection is None or not self.forwarding:
            return
        by_mid = {t.mid: t for t in self.connection.pc.getTransceivers()}
        for media in new:
            transceiver = by_mid.get(media.mid)
            if transceiver is None:
                continue
            codecs = self._receive_codecs(media.kind)
            lock_transceiver(transceiver, codecs=codecs,
                             extensions=codec_policy.extension_ids(self._client_extensions, media.kind,
                                                                     self._downlink_transport_cc))
            transceiver.direction = "sendonly"
            transceiver.sender._stream_id = f"slot-{media.mid}"
            transceiver.sender._track_id = f"slot-{media.kind}-{media.mid}"
            consumer = self._make_consumer(transceiver, media.kind, codecs, None)
            self.slots.append(Slot(mid=media.mid, kind=media.kind, transceiver=transceiver, consumer=consumer))
        self.connection.attach()

    # --- server offers (per-track mode) -------------------------------------------------------------------

    def request_renegotiation(self, cause: str) -> None:
        """Coalesce: one task per participant sends the next offer once the connection is stable."""
        if self._closed or self.slots:
            return  # slot mode: changes of source need no renegotiation
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
        if self.slots:
            return False
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
            if len(self.connection.pc.getTransceivers()) >= self.settings.max_mlines:
                log.warning("event=mline_limit participant=%s room=%s", self.id, self.room.id)
                break
            self.subscriptions[producer_id] = self._subscribe(producer)
            changed = True
        return changed

    def _subscribe(self, producer: Producer) -> Subscription:
        assert self.connection is not None
        pc = self.connection.pc
        kind = producer.kind
        codecs = self._receive_codecs(kind)
        extensions = codec_policy.extension_ids(self._client_extensions, kind, self._downlink_transport_cc)
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
            consumer = self._make_consumer(transceiver, kind, codecs, producer, initial_sequence)
        self.connection.attach()
        return Subscription(producer=producer, transceiver=transceiver, consumer=consumer)

    def published_for(self, producer: Producer) -> Published | None:
        return next((p for p in self.published.values() if p.producer is producer), None)

    def _retire(self, consumer: Consumer) -> None:
        retired = self.metrics.retired
        retired["forwarded_packets"] += consumer.packets_sent
        retired["forwarded_bytes"] += consumer.bytes_sent
        retired["retransmissions"] += consumer.retransmissions
        retired["layer_switches"] += consumer.layer_switches
        consumer.close()
        if self.connection is not None:
            self.connection.demux.remove_consumer(consumer)

    def _end_subscription(self, sub: Subscription) -> None:
        sub.transceiver.direction = "inactive"
        if sub.consumer is not None:
            self._retire(sub.consumer)
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
        self.metrics.server_offers.inc()
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
        self.room.plan_soon()

    async def add_candidate(self, candidate: dict[str, Any] | None) -> str | None:
        """Use a trickled candidate; returns why a well-formed one is not used (its ack says so)."""
        if candidate is None or not candidate.get("candidate"):
            self._candidates_ended = True  # end of candidates: later ones are refused
            return None
        if self._candidates_ended:
            raise MediaError("bad_request", "ICE candidate after end-of-candidates")
        if self._remote_candidates() >= self.settings.max_ice_candidates:
            raise MediaError("bad_request", f"at most {self.settings.max_ice_candidates} ICE candidates per connection")
        text = str(candidate["candidate"])
        value = text.split(":", 1)[1] if text.startswith("candidate:") else text
        try:
            candidate_from_sdp(value)
        except Exception as exc:
            raise MediaError("bad_request", f"unreadable ICE candidate: {type(exc).__name__}") from exc
        if not self._candidate_policy(replacing=True).allows(value):
            # well-formed (a TCP candidate, an address of a scope this server never checks): not an error
            return "this server does not check candidates of this transport or address scope"
        async with self._lock:
            if self.connection is None or self.connection.pc.remoteDescription is None:
                if len(self._pending_candidates) < self.settings.max_ice_candidates:
                    self._pending_candidates.append(candidate)
                return None
            await self._add_candidate(candidate)
        return None

    async def _apply_pending_candidates(self) -> None:
        pending, self._pending_candidates = self._pending_candidates, []
        for candidate in pending:
            try:
                await self._add_candidate(candidate)
            except MediaError:
                continue  # its event was acknowledged long ago; a bad one is simply not used

    async def _add_candidate(self, candidate: dict[str, Any]) -> None:
        assert self.connection is not None
        text = str(candidate["candidate"])
        try:
            ice = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
        except Exception as exc:
            raise MediaError("bad_request", f"unreadable ICE candidate: {type(exc).__name__}") from exc
        ice.sdpMid = candidate.get("sdpMid")
        ice.sdpMLineIndex = candidate.get("sdpMLineIndex")
        if ice.sdpMid is None and ice.sdpMLineIndex is None:
            ice.sdpMLineIndex = 0
        try:
            await self.connection.pc.addIceCandidate(ice)
        except Exception as exc:  # noqa: BLE001 - a bad candidate is the client's problem, not the call's
            raise MediaError("bad_request", f"ICE candidate rejected: {type(exc).__name__}") from exc

    # --- views -------------------------------------------------------------------------------------------

    def set_view(self, tiles: list[dict[str, Any]]) -> None:
        """What the page shows: forwarding follows it (unknown participants are ignored)."""
        known = self.room.participants
        self.view = [ViewTile(t["participantId"], t["source"], t["width"], t["height"])
                     for t in tiles if t["participantId"] in known and t["participantId"] != self.id]
        self.room.plan_soon()

    # --- media state ----------------------------------------------------------------------------------

    def set_enabled(self, source: str, enabled: bool) -> None:
        self.enabled[source] = enabled
        for producer in self.producer_by_source(source):
            producer.set_paused(not enabled)
        self.room.plan_soon()

    def stop_screen_share(self) -> bool:
        screens = [p for p in self.published.values() if p.producer.source == "screen" and not p.producer.closed]
        for published in screens:
            self._unpublish(published)
        return bool(screens)

    # --- connection state ---------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        """A connection that does not finish ICE and DTLS in time is dropped (it holds sockets and tasks)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self.settings.media_timeout, self._check_connected)

    def _check_connected(self) -> None:
        self._watchdog = None
        connection = self.connection
        if connection is None or self._closed:
            return
        if connection.pc.connectionState != "connected":
            log.info("event=media_timeout participant=%s room=%s", self.id, self.room.id)
            asyncio.get_running_loop().create_task(self._connection_failed(timed_out=True))

    async def _connection_state(self, state: str) -> None:
        if state in ("failed", "closed"):
            await self._connection_failed()

    # --- teardown -----------------------------------------------------------------------------------

    async def _connection_failed(self, timed_out: bool = False) -> None:
        """ICE/DTLS failed, timed out or the peer closed it: drop the media (the client may offer again)."""
        if self._closed:
            return
        state = "timeout" if timed_out else (self.connection.pc.connectionState if self.connection is not None
                                             else "closed")
        # a peer that hangs up closes its connection on every ordinary leave: not worth a warning
        log.log(logging.WARNING if state in ("failed", "timeout") else logging.INFO,
                "event=media_dropped participant=%s room=%s reason=%s", self.id, self.room.id, state)
        async with self._lock:
            had_media = bool(self.producers())
            await self._teardown_media()
        if had_media:
            self.room.producers_changed(f"connection of {self.id} failed")

    async def _teardown_media(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for published in list(self.published.values()):
            self._unpublish(published)
        self.published.clear()
        for sub in list(self.subscriptions.values()):
            self._end_subscription(sub)
        self.subscriptions.clear()
        for slot in self.slots:
            self._retire(slot.consumer)
        self.slots.clear()
        self.ended.clear()
        self._client_codecs.clear()
        self._client_extensions.clear()
        self._pending_candidates.clear()
        self._candidates_ended = False
        self.told_slots = None
        self.told_forwarding = None
        self.told_layers = {}
        connection, self.connection = self.connection, None
        if connection is not None:
            self.metrics.retired["dropped_datagrams"] += connection.dropped_datagrams
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
