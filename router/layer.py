"""One RTP stream a producer receives: its only stream, or one simulcast layer.

Everything that is per incoming stream lives here, once, shared by every consumer: the packet
cache that answers their NACKs (Galène's packetcache: one copy per stream, not per subscriber),
the upstream loss tracker, receiver-report statistics, sender reports, keyframe requests, the
measured bitrate and picture size, and which consumers forward it or wait for its next keyframe.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtcpReceiverInfo

from router.keyframes import is_keyframe, vp8_keyframe_size
from router.nack_tracker import GAP, RESTART, NackTracker
from router.packet_history import PacketHistory
from router.rtcp_feedback import KEYFRAME_REQUEST_INTERVAL, KeyframeRequestLimiter, build_nack, build_pli
from router.rtp_header import RtpInfo, parse_rtp

if TYPE_CHECKING:
    from router.consumer import Consumer
    from router.producer import Producer

__all__ = ["Layer", "STALL_SECONDS"]

#: No packet for this long, then packets again: the stream stalled (server paused, network gone,
#: encoder switched off); consumers restart at a fresh keyframe instead of decoding stale deltas.
STALL_SECONDS = 1.0
_NTP_EPOCH_SECONDS = 2**32


class _PacketView:
    """The two fields aiortc's StreamStatistics reads, reused to avoid an object per packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self) -> None:
        self.sequence_number = 0
        self.timestamp = 0


class Layer:
    __slots__ = (
        "producer", "index", "rid", "media_ssrc", "rtx_ssrc", "consumers", "pending", "cache", "nack",
        "keyframes", "packets", "bytes", "recovered", "keyframes_received", "bitrate_bps", "width", "height",
        "last_arrival", "sender_report", "sender_report_at", "_stats", "_view", "_is_video", "_mime",
        "_bytes_at_tick", "_tick_at", "stalls", "forwarded",
    )

    def __init__(
        self,
        producer: Producer,
        index: int,
        rid: str | None = None,
        media_ssrc: int | None = None,
        rtx_ssrc: int | None = None,
        cache_size: int = 1024,
        keyframe_interval: float = KEYFRAME_REQUEST_INTERVAL,
    ) -> None:
        self.producer = producer
        self.index = index  # 0 = lowest quality
        self.rid = rid
        self.media_ssrc = media_ssrc
        self.rtx_ssrc = rtx_ssrc
        self._is_video = producer.kind == "video"
        self._mime = producer.codec.mime_type
        self.consumers: list[Consumer] = []  # forwarding this stream (copy-on-write lists)
        self.pending: list[Consumer] = []  # switching to this stream at its next keyframe
        self.cache = PacketHistory(cache_size) if self._is_video else None
        self.nack = NackTracker() if self._is_video else None
        self.keyframes = KeyframeRequestLimiter(keyframe_interval)
        self._stats: StreamStatistics | None = None
        self._view = _PacketView()
        self.packets = 0
        self.bytes = 0
        self.recovered = 0
        self.keyframes_received = 0
        self.stalls = 0
        self.forwarded = 0  # packets handed to consumers (for per-layer metrics)
        self.bitrate_bps = 0.0
        self.width = 0
        self.height = 0
        self.last_arrival = 0.0
        self.sender_report: tuple[int, int] | None = None  # (NTP, RTP timestamp) of the last SR
        self.sender_report_at = 0.0
        self._bytes_at_tick = 0
        self._tick_at = 0.0

    # --- packet path ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """A media packet of this stream (SRTP already removed)."""
        try:
            info = parse_rtp(data)
        except ValueError:
            self.producer.malformed += 1
            return
        producer = self.producer
        if info.payload_type != producer.codec.payload_type:
            return  # a payload type we did not negotiate for this track (e.g. RED): not forwarded
        now = time.monotonic()
        if now - self.last_arrival > STALL_SECONDS and self.packets:
            self._stalled(now)
        self.last_arrival = now
        self.packets += 1
        self.bytes += len(data)
        view = self._view
        view.sequence_number = info.sequence
        view.timestamp = info.timestamp
        stats = self._stats
        if stats is None:
            stats = self._stats = StreamStatistics(producer.codec.clock_rate)
        stats.add(view)  # type: ignore[arg-type]
        now_ms = now * 1000.0
        keyframe = True
        if self._is_video:
            keyframe = is_keyframe(self._mime, memoryview(data)[info.payload_start : info.payload_end])
            nack = self.nack
            if nack is not None:
                found = nack.received(info.sequence, now_ms)
                if found == GAP:
                    self.send_nack(now_ms)
                elif found == RESTART:
                    self.request_keyframe(now, urgent=True)
                if keyframe:
                    nack.clear_before(info.sequence)
            if keyframe:
                self._keyframe(data, info, now)
            if self.cache is not None:
                self.cache.store(info.sequence, data, now)
        elif producer.audio_level_id is not None and info.extension_profile:
            producer.observe_audio_level(data, info, now_ms)
        producer.fan_out(self, data, info, keyframe, now_ms)

    def receive_rtx(self, data: bytes) -> None:
        """A retransmission we asked for (RTX), or padding a browser sends to probe bandwidth."""
        from router.rtx import unwrap_rtx  # local: keeps the per-packet import cost off receive()

        try:
            info = parse_rtp(data)
        except ValueError:
            self.producer.malformed += 1
            return
        if info.payload_end - info.payload_start < 2 or self.media_ssrc is None:
            return  # padding-only probe: nothing to forward
        try:
            restored = bytes(unwrap_rtx(data, info, self.producer.codec.payload_type, self.media_ssrc))
            rinfo = parse_rtp(restored)
        except ValueError:
            self.producer.malformed += 1
            return
        if self.nack is not None:
            self.nack.recovered(rinfo.sequence)
        self.recovered += 1
        self.bytes += len(data)
        if self._stats is not None:
            # a receiver counts a repaired packet as received, as a browser does in its reports
            self._stats.packets_received += 1
        keyframe = True
        now = time.monotonic()
        if self._is_video:
            keyframe = is_keyframe(self._mime, memoryview(restored)[rinfo.payload_start : rinfo.payload_end])
            if self.cache is not None:
                self.cache.store(rinfo.sequence, restored, now)
        self.producer.fan_out(self, restored, rinfo, keyframe, now * 1000.0)

    def _keyframe(self, data: bytes, info: RtpInfo, now: float) -> None:
        self.keyframes_received += 1
        self.keyframes.answered(now)
        if self._mime == "video/VP8":
            size = vp8_keyframe_size(memoryview(data)[info.payload_start : info.payload_end])
            if size is not None:
                self.width, self.height = size

    def _stalled(self, now: float) -> None:
        """Packets again after a silence: old gaps are moot, everyone restarts at a new keyframe."""
        self.stalls += 1
        self.restart(now)

    def restart(self, now: float) -> None:
        """Consumers wait for a fresh keyframe, asked for at once (after a stall, or a server pause whose
        socket buffers hold seconds-old packets: stale frames, then a wait for a keyframe)."""
        if self.nack is not None:
            self.nack.reset()
        if self._is_video:
            moving = self.consumers
            if moving:
                self.consumers = []
                self.pending = [*self.pending, *[c for c in moving if c not in self.pending]]
                for consumer in moving:
                    consumer.layer = None
                    consumer.skip()
            self.request_keyframe(now, urgent=True)

    # --- feedback toward the publisher ----------------------------------------------------------------

    def request_keyframe(self, now: float | None = None, urgent: bool = False) -> None:
        """PLI for this stream, at most about once per interval; a suppressed one is sent later."""
        if not self._is_video or self.media_ssrc is None:
            return
        now = time.monotonic() if now is None else now
        if urgent:
            self.keyframes.reset()
        if self.keyframes.request(now) and not self.producer.send_pli(self.media_ssrc):
            self.keyframes.retry()  # the publisher's transport is not up yet: the request still stands

    def send_nack(self, now_ms: float) -> None:
        nack = self.nack
        if nack is None or self.media_ssrc is None:
            return
        due = nack.due(now_ms, self.producer.rtt_ms())
        if due:
            self.producer.nacks_sent += 1
            self.producer.send_rtcp(build_nack(self.producer.rtcp_ssrc, self.media_ssrc, due))

    def request_missing(self, sequence: int) -> None:
        """A subscriber wants a packet that never reached us: ask the publisher again if still recent."""
        if self.nack is not None and self.nack.rerequest(sequence, time.monotonic() * 1000.0):
            self.send_nack(time.monotonic() * 1000.0)

    def on_sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        self.sender_report = (ntp_timestamp, rtp_timestamp)
        self.sender_report_at = time.time()

    def receiver_report(self) -> RtcpReceiverInfo | None:
        stats = self._stats
        if stats is None or self.media_ssrc is None or stats.max_seq is None:
            return None
        lsr = dlsr = 0
        if self.sender_report is not None:
            lsr = (self.sender_report[0] >> 16) & 0xFFFFFFFF
            delay = time.time() - self.sender_report_at
            if 0 < delay < 65536:
                dlsr = int(delay * 65536)
        return RtcpReceiverInfo(
            ssrc=self.media_ssrc,
            fraction_lost=stats.fraction_lost,
            packets_lost=stats.packets_lost,
            highest_sequence=(stats.cycles + stats.max_seq) & 0xFFFFFFFF,
            jitter=stats.jitter,
            lsr=lsr,
            dlsr=dlsr,
        )

    def pli_if_due(self, now: float) -> bytes:
        """A PLI when consumers still wait for a keyframe, or a suppressed request is due."""
        if not self._is_video or self.media_ssrc is None:
            return b""
        # consumers still waiting re-ask until the keyframe arrives (a PLI or the keyframe may be lost)
        if (self.pending and self.keyframes.request(now)) or self.keyframes.due(now):
            self.producer.keyframe_requests_sent += 1
            return build_pli(self.producer.rtcp_ssrc, self.media_ssrc)
        return b""

    # --- measurements -----------------------------------------------------------------------------------

    def measure(self, now: float) -> None:
        """Update the bitrate (called from a timer, not per packet)."""
        elapsed = now - self._tick_at
        if self._tick_at and elapsed > 0:
            rate = (self.bytes - self._bytes_at_tick) * 8 / elapsed
            self.bitrate_bps = rate if self.bitrate_bps == 0 else 0.6 * self.bitrate_bps + 0.4 * rate
        self._tick_at = now
        self._bytes_at_tick = self.bytes

    def active(self, now: float) -> bool:
        """Packets arrived recently (a simulcast layer the browser stopped sending is not active)."""
        return self.packets > 0 and now - self.last_arrival < STALL_SECONDS

    # --- time -------------------------------------------------------------------------------------------

    def timestamp_at(self, ntp_seconds: float) -> int | None:
        """This stream's RTP timestamp for a publisher wall-clock instant (from its last SR)."""
        report = self.sender_report
        if report is None:
            return None
        ntp, rtp = report
        elapsed = ntp_seconds - ntp / _NTP_EPOCH_SECONDS
        return (rtp + round(elapsed * self.producer.codec.clock_rate)) & 0xFFFFFFFF

    def ntp_of(self, timestamp: int) -> float | None:
        """The publisher wall-clock instant (seconds, NTP epoch) of one of this stream's timestamps."""
        report = self.sender_report
        if report is None:
            return None
        ntp, rtp = report
        delta = ((timestamp - rtp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return ntp / _NTP_EPOCH_SECONDS + delta / self.producer.codec.clock_rate

    def close(self) -> None:
        self.consumers = []
        self.pending = []
        if self.cache is not None:
            self.cache.clear()
