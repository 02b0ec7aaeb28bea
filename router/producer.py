"""A Producer: one track a participant publishes, with one RTP stream per simulcast layer.

Each incoming packet is parsed once by its `Layer` and handed here for the fan-out to the
consumers that forward that layer; each consumer rewrites its own copy. Feedback toward the
publisher (receiver reports, NACKs, PLIs, REMB) goes out through the publisher's `Link`, so its
congestion control keeps working. Nothing here awaits: the packet path is synchronous.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiortc.rtp import RtcpRrPacket

from router.header_extensions import read_audio_level, rewrite_extensions
from router.layer import Layer
from router.rtcp_feedback import KEYFRAME_REQUEST_INTERVAL, build_pli, build_remb
from router.rtp_header import RtpInfo

if TYPE_CHECKING:
    from router.consumer import Consumer
    from router.link import Link

log = logging.getLogger("router.producer")

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

AudioLevelObserver = Callable[[str, int, bool, float], None]


@dataclass(frozen=True)
class CodecInfo:
    """The codec a producer publishes, as the publisher's SDP named it."""

    mime_type: str  # e.g. "video/VP8"
    clock_rate: int
    payload_type: int
    rtx_payload_type: int | None = None
    channels: int | None = None
    fmtp: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.mime_type.split("/", 1)[1].upper()


class Producer:
    """One published track (microphone, camera or screen) of one participant."""

    def __init__(
        self,
        producer_id: str,
        participant_id: str,
        kind: str,
        source: str,
        codec: CodecInfo,
        extensions: dict[str, int],
        link: Link,
        rtcp_ssrc: int,
        rids: Sequence[str] = (),
        media_ssrc: int | None = None,
        rtx_ssrc: int | None = None,
        remb_bps: int = 4_000_000,
        on_audio_level: AudioLevelObserver | None = None,
        keyframe_interval: float = KEYFRAME_REQUEST_INTERVAL,
    ) -> None:
        self.id = producer_id
        self.participant_id = participant_id
        self.kind = kind
        self.source = source
        self.codec = codec
        self.extensions = extensions
        self.link = link
        self.rtcp_ssrc = rtcp_ssrc
        self.paused = False
        self.closed = False
        # REMB to the publisher: the ceiling. Subscribers' limits are met by choosing layers and
        # pausing videos per subscriber, never by slowing the publisher for everyone.
        self.remb_bps = remb_bps
        self.audio_level_id = extensions.get(AUDIO_LEVEL_URI) if kind == "audio" else None
        self._on_audio_level = on_audio_level
        if rids:
            self.layers = [Layer(self, i, rid=rid, keyframe_interval=keyframe_interval) for i, rid in enumerate(rids)]
        else:
            self.layers = [Layer(self, 0, media_ssrc=media_ssrc, rtx_ssrc=rtx_ssrc,
                                 keyframe_interval=keyframe_interval)]
        self.consumers: list[Consumer] = []  # every consumer subscribed, whichever layer it takes
        # counters for metrics
        self.keyframe_requests_sent = 0
        self.nacks_sent = 0
        self.malformed = 0
        self.forward_errors = 0

    @property
    def simulcast(self) -> bool:
        return len(self.layers) > 1

    @property
    def packets_received(self) -> int:
        return sum(layer.packets + layer.recovered for layer in self.layers)

    @property
    def bytes_received(self) -> int:
        return sum(layer.bytes for layer in self.layers)

    def layer_by_rid(self, rid: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.rid == rid), None)

    def rtt_ms(self) -> float:
        return self.link.rtt.rtt_ms

    def send_rtcp(self, data: bytes) -> bool:
        return self.link.send_rtcp(data)

    # --- packet path -------------------------------------------------------------------------

    def observe_audio_level(self, data: bytes, info: RtpInfo, now_ms: float) -> None:
        if self._on_audio_level is None or self.audio_level_id is None:
            return
        level = read_audio_level(data, info, self.audio_level_id)
        if level is not None:
            self._on_audio_level(self.participant_id, level[1], level[0], now_ms)

    def fan_out(self, layer: Layer, data: bytes, info: RtpInfo, keyframe: bool, now_ms: float) -> None:
        """Hand one packet of `layer` to its consumers; a failure for one never stops the others."""
        if self.paused:
            return
        if keyframe and layer.pending:
            pending, layer.pending = layer.pending, []
            for consumer in pending:
                consumer.attach(layer, info)
        consumers = layer.consumers
        if not consumers:
            return
        variants: dict[tuple[tuple[int, int], ...], bytes] | None = None
        for consumer in consumers:
            try:
                key = consumer.extension_key
                if key is None or not info.extension_profile:
                    consumer.forward(data, info, now_ms)
                    continue
                if variants is None:
                    variants = {}
                packet = variants.get(key)
                if packet is None:  # rewritten once per distinct extension mapping, not per consumer
                    packet = variants[key] = bytes(rewrite_extensions(data, info, consumer.extension_id_map or {}))
                consumer.forward(packet, info, now_ms)
            except Exception:  # noqa: BLE001 - one consumer's fault must not cost the others this packet
                self.forward_errors += 1
                if self.forward_errors == 1 or self.forward_errors % 1000 == 0:
                    log.exception("event=forward_failed producer=%s count=%d", self.id, self.forward_errors)
        layer.forwarded += len(consumers)

    # --- feedback toward the publisher ----------------------------------------------------------

    def send_pli(self, media_ssrc: int) -> bool:
        self.keyframe_requests_sent += 1
        return self.link.send_rtcp(build_pli(self.rtcp_ssrc, media_ssrc))

    def request_keyframe(self, now: float | None = None) -> None:
        """PLI for every layer (mute/unmute of a single-stream track); layers rate-limit themselves."""
        for layer in self.layers:
            layer.request_keyframe(now)

    def restart(self, now: float) -> None:
        """Every video layer someone receives restarts at a fresh keyframe (the server was paused)."""
        for layer in self.layers:
            if layer.consumers or layer.pending:
                layer.restart(now)

    def nack_tick(self, now_ms: float) -> None:
        """Re-request what is still missing (called every few tens of ms)."""
        for layer in self.layers:
            nack = layer.nack
            if nack is not None and nack._missing:
                layer.send_nack(now_ms)

    def rtcp_tick(self, now: float) -> bytes:
        """Reports to the publisher, about once a second: receiver reports and REMB.

        Keyframe requests leave from `keyframe_tick` on the connection's fast clock, not from here."""
        out = b""
        blocks = [b for b in (layer.receiver_report() for layer in self.layers) if b is not None]
        if blocks:
            out += bytes(RtcpRrPacket(ssrc=self.rtcp_ssrc, reports=blocks[:31]))
        ssrcs = [layer.media_ssrc for layer in self.layers if layer.media_ssrc is not None]
        if self.kind == "video" and ssrcs and self.consumers:
            out += build_remb(self.rtcp_ssrc, self.remb_bps, ssrcs)
        for layer in self.layers:
            layer.measure(now)
        return out

    def keyframe_tick(self, now: float) -> bytes:
        """PLIs that are due: held-back requests, and re-asks while consumers wait (every few tens of ms,
        so a joiner's keyframe request leaves the moment the limiter allows it)."""
        out = b""
        for layer in self.layers:
            out += layer.pli_if_due(now)
        return out

    def sender_report(self, ssrc: int, ntp_timestamp: int, rtp_timestamp: int) -> None:
        for layer in self.layers:
            if layer.media_ssrc == ssrc:
                layer.on_sender_report(ntp_timestamp, rtp_timestamp)

    # --- consumers ---------------------------------------------------------------------------------

    def add_consumer(self, consumer: Consumer) -> None:
        if consumer not in self.consumers:
            self.consumers = [*self.consumers, consumer]  # copy-on-write: the packet path iterates freely

    def remove_consumer(self, consumer: Consumer) -> None:
        if consumer in self.consumers:
            self.consumers = [c for c in self.consumers if c is not consumer]
        for layer in self.layers:
            if consumer in layer.consumers:
                layer.consumers = [c for c in layer.consumers if c is not consumer]
            if consumer in layer.pending:
                layer.pending = [c for c in layer.pending if c is not consumer]

    def set_paused(self, paused: bool) -> None:
        """Mute: stop forwarding (the publisher may keep sending). Resuming restarts every consumer at
        the next keyframe (audio: the next packet) with no gap in its sequence numbers."""
        if self.paused == paused:
            return
        self.paused = paused
        for layer in self.layers:
            moving = layer.consumers
            for consumer in moving:
                consumer.skip()
            if paused or not moving:
                continue
            layer.consumers = []
            layer.pending = [*layer.pending, *[c for c in moving if c not in layer.pending]]
            for consumer in moving:
                consumer.layer = None
        if not paused:
            for layer in self.layers:
                if layer.pending:
                    layer.request_keyframe()

    def close(self) -> None:
        self.closed = True
        for consumer in list(self.consumers):
            consumer.producer_closed(self)
        self.consumers = []
        for layer in self.layers:
            layer.close()
