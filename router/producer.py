"""A Producer: one track a participant publishes, and the fan-out of its packets to consumers.

The producer parses each incoming packet once, keeps the publisher's feedback loop alive (receiver
reports, NACKs, REMB: the publisher's congestion control depends on them) and hands the packet to
every consumer, which rewrites its own copy. Nothing here awaits: the packet path is synchronous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

from router.consumer import Consumer
from router.header_extensions import read_audio_level, rewrite_extensions
from router.keyframes import is_keyframe
from router.rtcp_feedback import KeyframeRequestLimiter, RembAggregator, build_nack, build_pli, build_remb
from router.rtp_header import RtpInfo, parse_rtp
from router.rtx import unwrap_rtx

AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

SendBytes = Callable[[bytes], None]
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


class _PacketView:
    """The two fields aiortc's NackGenerator/StreamStatistics read, reused to avoid an object per packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self) -> None:
        self.sequence_number = 0
        self.timestamp = 0


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
        send_rtcp: SendBytes,
        rtcp_ssrc: int,
        media_ssrc: int | None = None,
        rtx_ssrc: int | None = None,
        remb_bounds: tuple[int, int] = (100_000, 4_000_000),
        on_audio_level: AudioLevelObserver | None = None,
        keyframe_interval: float = 1.0,
    ) -> None:
        self.id = producer_id
        self.participant_id = participant_id
        self.kind = kind
        self.source = source
        self.codec = codec
        self.extensions = extensions
        self.media_ssrc = media_ssrc
        self.rtx_ssrc = rtx_ssrc
        self.consumers: list[Consumer] = []
        self.paused = False
        self.closed = False
        self._send_rtcp = send_rtcp
        self._rtcp_ssrc = rtcp_ssrc
        self._is_video = kind == "video"
        self._mime = codec.mime_type
        self._audio_level_id = extensions.get(AUDIO_LEVEL_URI) if kind == "audio" else None
        self._on_audio_level = on_audio_level
        self._view = _PacketView()
        self._stats: StreamStatistics | None = None
        self._nack = NackGenerator() if self._is_video else None
        self._keyframes = KeyframeRequestLimiter(keyframe_interval)
        self.remb = RembAggregator(*remb_bounds)
        self._last_sr: tuple[int, int] | None = None  # (ntp, rtp timestamp) of the publisher's last SR
        self._last_sr_time: float = 0.0
        # counters for metrics
        self.packets_received = 0
        self.bytes_received = 0
        self.keyframe_requests_sent = 0
        self.nacks_sent = 0

    # --- packet path -------------------------------------------------------------------------

    def receive_rtp(self, data: bytes) -> None:
        """Media packet from the publisher (already SRTP-decrypted)."""
        try:
            info = parse_rtp(data)
        except ValueError:
            return
        if info.payload_type != self.codec.payload_type:
            return  # a payload type we did not negotiate for this track (e.g. RED): not forwarded
        self._account(data, info)
        self._fan_out(data, info)

    def receive_rtx(self, data: bytes) -> None:
        """RTX packet from the publisher: a retransmission we asked for, or padding used as a probe."""
        try:
            info = parse_rtp(data)
        except ValueError:
            return
        if info.payload_end - info.payload_start < 2 or self.media_ssrc is None:
            return  # padding-only probe: nothing to forward
        restored = bytes(unwrap_rtx(data, info, self.codec.payload_type, self.media_ssrc))
        try:
            rinfo = parse_rtp(restored)
        except ValueError:
            return
        self.packets_received += 1
        self.bytes_received += len(data)
        if self._nack is not None:
            view = self._view
            view.sequence_number = rinfo.sequence
            view.timestamp = rinfo.timestamp
            self._nack.add(view)  # type: ignore[arg-type]
        self._fan_out(restored, rinfo)

    def _account(self, data: bytes, info: RtpInfo) -> None:
        self.packets_received += 1
        self.bytes_received += len(data)
        view = self._view
        view.sequence_number = info.sequence
        view.timestamp = info.timestamp
        if self._stats is None:
            self._stats = StreamStatistics(self.codec.clock_rate)
        self._stats.add(view)  # type: ignore[arg-type]
        if self._nack is not None and self._nack.add(view):  # type: ignore[arg-type]
            self.nacks_sent += 1
            self._send_rtcp(build_nack(self._rtcp_ssrc, info.ssrc, sorted(self._nack.missing)))
        if info.extension_profile and self._audio_level_id is not None and self._on_audio_level is not None:
            level = read_audio_level(data, info, self._audio_level_id)
            if level is not None:
                self._on_audio_level(self.participant_id, level[1], level[0], time.monotonic() * 1000.0)

    def _fan_out(self, data: bytes, info: RtpInfo) -> None:
        consumers = self.consumers
        if self.paused or not consumers:
            for consumer in consumers:
                consumer.skip()
            return
        keyframe = True
        if self._is_video:
            keyframe = is_keyframe(self._mime, memoryview(data)[info.payload_start : info.payload_end])
        now_ms = time.monotonic() * 1000.0
        variants: dict[tuple[tuple[int, int], ...], bytes] | None = None
        for consumer in consumers:
            key = consumer.extension_key
            if key is None or not info.extension_profile:
                consumer.forward(data, info, keyframe, now_ms)
                continue
            if variants is None:
                variants = {}
            packet = variants.get(key)
            if packet is None:  # rewritten once per distinct extension mapping, not per consumer
                packet = variants[key] = bytes(rewrite_extensions(data, info, consumer.extension_id_map or {}))
            consumer.forward(packet, info, keyframe, now_ms)

    # --- feedback toward the publisher ----------------------------------------------------------

    def request_keyframe(self, now: float | None = None) -> None:
        """PLI to the publisher, at most about once per interval; a suppressed request is sent later."""
        if not self._is_video or self.media_ssrc is None:
            return
        if self._keyframes.request(time.monotonic() if now is None else now):
            self._send_pli()

    def _send_pli(self) -> None:
        assert self.media_ssrc is not None
        self.keyframe_requests_sent += 1
        self._send_rtcp(build_pli(self._rtcp_ssrc, self.media_ssrc))

    def on_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        self._last_sr = (ntp_timestamp, rtp_timestamp)
        self._last_sr_time = time.time()

    @property
    def last_sender_report(self) -> tuple[int, int] | None:
        return self._last_sr

    def rtcp_tick(self, now: float, reports: bool = True) -> bytes:
        """Feedback to the publisher: receiver report and REMB (when `reports`), a delayed PLI when due."""
        out = b""
        if reports and self._stats is not None and self.media_ssrc is not None and self._stats.max_seq is not None:
            lsr = dlsr = 0
            if self._last_sr is not None:
                lsr = (self._last_sr[0] >> 16) & 0xFFFFFFFF
                delay = time.time() - self._last_sr_time
                if 0 < delay < 65536:
                    dlsr = int(delay * 65536)
            report = RtcpReceiverInfo(
                ssrc=self.media_ssrc,
                fraction_lost=self._stats.fraction_lost,
                packets_lost=self._stats.packets_lost,
                highest_sequence=self._stats.max_seq,
                jitter=self._stats.jitter,
                lsr=lsr,
                dlsr=dlsr,
            )
            out += bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc, reports=[report]))
        if reports and self._is_video and self.media_ssrc is not None and self.consumers:
            # the lowest estimate among the subscribers (clamped), or the configured ceiling until they report:
            # the publisher's loss-based control (fed by our receiver reports) still applies below it
            bitrate = self.remb.value(now)
            out += build_remb(self._rtcp_ssrc, self.remb.max_bps if bitrate is None else bitrate, [self.media_ssrc])
        if self._is_video and self.media_ssrc is not None and self._keyframes.due(now):
            self.keyframe_requests_sent += 1
            out += build_pli(self._rtcp_ssrc, self.media_ssrc)
        return out

    # --- consumers ---------------------------------------------------------------------------------

    def add_consumer(self, consumer: Consumer) -> None:
        if consumer not in self.consumers:
            self.consumers = [*self.consumers, consumer]  # copy-on-write: the packet path iterates freely

    def remove_consumer(self, consumer: Consumer) -> None:
        if consumer in self.consumers:
            self.consumers = [c for c in self.consumers if c is not consumer]
        self.remb.remove(consumer)

    def set_paused(self, paused: bool) -> None:
        """Mute: stop forwarding (the publisher may keep sending); resuming asks for a keyframe."""
        if self.paused == paused:
            return
        self.paused = paused
        if not paused:
            for consumer in self.consumers:
                consumer.require_keyframe()
            self.request_keyframe()

    def close(self) -> None:
        self.closed = True
        for consumer in self.consumers:
            consumer.close()
        self.consumers = []

