"""Counting subscribers: RTP packets, bytes and sequence gaps per stream, without decoding.

aiortc's `RTCRtpReceiver` decodes every received video stream in a thread; a load generator that
did that would measure itself. `CountingReceiver` replaces the receiver class aiortc instantiates
(`install()`), starts no decoder thread, sends no NACKs (so loss is what the server really lost)
and hands each parsed packet to a `StreamCounter`. One stream per run also keeps a sample of raw
packets that `decode_sample` turns back into frames and checks against the source clip.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from typing import Any

import aiortc.rtcpeerconnection
import pylibsrtp
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from benchmarks.clip import verify_frame
from benchmarks.latency import Recorder, rtp_payload_offset

SAMPLE_FRAMES = 150  # 5 s of video: always contains a keyframe (one every 2 s)


class StreamCounter:
    """Counts one received stream (one publisher's track, or one receive slot, at one subscriber).

    Video streams also count per simulcast layer, told apart by the picture size in each VP8
    keyframe (a consumer starts and switches layers only at keyframes, so every packet after one
    belongs to that keyframe's layer), and note when the first decodable frame of each source
    arrived. Packets of a source before its first keyframe cannot be decoded: they are counted apart
    (layer width 0), and the receiver asks for a keyframe as a browser's decoder would.
    """

    __slots__ = (
        "publisher", "kind", "key_hi", "recorder", "packets", "bytes", "rtp_bytes", "rtx", "padding", "ext_max",
        "ext_first", "first_ns", "sample", "sample_frames", "_last_seq", "_cycles", "video", "width", "layers",
        "source", "first_frames", "source_packets", "delta_starts", "plis", "_pli_ns",
    )

    def __init__(self, publisher: str, kind: str, key_hi: int, recorder: Recorder) -> None:
        self.publisher = publisher
        self.kind = kind
        self.key_hi = key_hi << 32
        self.recorder = recorder
        self.packets = 0
        self.bytes = 0
        self.rtp_bytes = 0  # header + payload: what the subscriber's downlink carries, before SRTP/UDP/IP
        self.rtx = 0
        self.padding = 0
        self.ext_max = -1  # highest extended sequence number seen (-1: none yet)
        self.ext_first = -1
        self.first_ns = 0
        self.sample: list[tuple[int, int, int, bytes]] | None = None
        self.sample_frames = 0
        self._last_seq = -1
        self._cycles = 0
        self.video = kind == "video"
        self.width = 0  # picture width of the last keyframe (0: none seen yet)
        self.layers: dict[int, list[int]] = {}  # width -> [packets, payload bytes]
        self.source: str | None = publisher  # whose media arrives now (a slot changes hands)
        self.first_frames: dict[str, int] = {}  # source -> monotonic ns of its first decodable frame here
        self.source_packets = 0  # packets since the source last changed
        self.delta_starts = 0  # sources whose first packet here was not the start of a keyframe
        self.plis = 0
        self._pli_ns = 0

    def set_source(self, source: str | None, key_hi: int) -> None:
        """A receive slot now carries `source` (from `video:slots`, which precedes its first packet)."""
        if source != self.source:
            self.source = source
            self.key_hi = key_hi << 32
            self.width = 0  # the new source must start with a keyframe
            self.source_packets = 0

    def wants_keyframe(self) -> bool:
        """True (at most every 300 ms) while video arrives that cannot be decoded: send a PLI, as a browser does."""
        if not self.video or self.width or not self.source_packets:
            return False
        now = time.monotonic_ns()
        if now - self._pli_ns < 300_000_000:
            return False
        self._pli_ns = now
        self.plis += 1
        return True

    def on_packet(self, packet: RtpPacket) -> None:
        """Count a packet aiortc already parsed (the slow path: first packet of each SSRC)."""
        self.count(packet.sequence_number, packet.payload, packet.timestamp, packet.marker, 12 + len(packet.payload))

    def on_bytes(self, data: bytes) -> None:
        """Count a decrypted RTP packet straight from its bytes (the fast path: no RtpPacket)."""
        end = len(data) - (data[-1] if data[0] & 0x20 else 0)  # minus padding
        start = rtp_payload_offset(data)
        self.count((data[2] << 8) | data[3], data[start:end], int.from_bytes(data[4:8], "big"), data[1] >> 7,
                   len(data))

    def count(self, seq: int, payload: bytes, timestamp: int, marker: int, size: int = 0) -> None:
        if not payload:
            self.padding += 1
            return
        now = 0
        if self._last_seq < 0:
            now = self.first_ns = time.monotonic_ns()
            self._last_seq = seq
            self.ext_max = self.ext_first = seq
        else:
            delta = (seq - self._last_seq) & 0xFFFF
            if delta and delta < 0x8000:
                if seq < self._last_seq:
                    self._cycles += 0x10000
                self._last_seq = seq
                self.ext_max = self._cycles + seq
        self.packets += 1
        self.bytes += len(payload)
        self.rtp_bytes += size
        if self.video:
            width = vp8_keyframe_width(payload) if payload[0] & 0x17 == 0x10 else 0  # starts partition 0
            if width:
                self.width = width
            elif not self.source_packets:
                self.delta_starts += 1
            self.source_packets += 1
            layer = self.layers.get(self.width)
            if layer is None:
                layer = self.layers[self.width] = [0, 0]
            layer[0] += 1
            layer[1] += len(payload)
            if marker and self.width and self.source is not None and self.source not in self.first_frames:
                self.first_frames[self.source] = now or time.monotonic_ns()
        recorder = self.recorder
        if recorder.recording:
            crc = zlib.crc32(payload)
            if not crc & recorder.sample_mask:
                recorder.keys.append(self.key_hi | crc)
                recorder.times.append(time.monotonic_ns())
        if self.sample is not None and self.sample_frames < SAMPLE_FRAMES:
            self.sample.append((seq, timestamp, marker, payload))
            self.sample_frames += marker

    def snapshot(self) -> dict[str, Any]:
        return {"packets": self.packets, "bytes": self.bytes, "rtp_bytes": self.rtp_bytes, "ext_max": self.ext_max,
                "ext_first": self.ext_first, "rtx": self.rtx, "padding": self.padding,
                "layers": {str(w): list(v) for w, v in self.layers.items()}, "delta_starts": self.delta_starts,
                "plis": self.plis}


def vp8_keyframe_width(payload: bytes) -> int:
    """The picture width of a VP8 keyframe's first packet (RFC 7741 descriptor, RFC 6386 9.1), else 0."""
    pos = 1
    if payload[0] & 0x80:  # X: extension byte
        x = payload[1]
        pos = 2
        if x & 0x80:  # I: picture ID, 7 or 15 bits
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            pos += 1
        if x & 0x30:  # T/K
            pos += 1
    if len(payload) < pos + 10 or payload[pos] & 0x01 or payload[pos + 3 : pos + 6] != b"\x9d\x01\x2a":
        return 0
    return (payload[pos + 6] | payload[pos + 7] << 8) & 0x3FFF


class CountingReceiver(RTCRtpReceiver):
    """An `RTCRtpReceiver` that counts instead of decoding; `counter` is attached by the worker."""

    counter: StreamCounter | None = None

    async def receive(self, parameters: RTCRtpReceiveParameters) -> None:
        # RTCRtpReceiver.receive() minus the decoder thread (private names pinned to aiortc 1.16)
        if self._RTCRtpReceiver__started:  # type: ignore[attr-defined]
            return
        codecs = self._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
        for codec in parameters.codecs:
            codecs[codec.payloadType] = codec
        self._rtx_pts = {pt for pt, codec in codecs.items() if is_rtx(codec)}
        self.transport._register_rtp_receiver(self, parameters)
        self._RTCRtpReceiver__rtcp_task = asyncio.ensure_future(self._run_rtcp())  # type: ignore[attr-defined]
        self._RTCRtpReceiver__started = True  # type: ignore[attr-defined]

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        counter = self.counter
        if counter is None:
            return
        if packet.payload_type in self._rtx_pts:
            counter.rtx += 1
            return
        counter.on_packet(packet)
        if counter.wants_keyframe():
            await self._send_rtcp_pli(packet.ssrc)


def install() -> None:
    """Make every peer connection in this process create counting receivers, and spare RTP the STUN parser."""
    aiortc.rtcpeerconnection.RTCRtpReceiver = CountingReceiver  # type: ignore[misc]
    _skip_stun_parse_for_media()


def _skip_stun_parse_for_media() -> None:
    """aioice tries to parse every datagram as STUN and catches the ValueError of each media packet;
    SRTP/SRTCP (first byte 128-191, RFC 7983) goes straight to the connection instead, as in the server."""
    from aioice.ice import StunProtocol

    if getattr(StunProtocol, "_bench_media_bypass", False):
        return
    original = StunProtocol.datagram_received

    def datagram_received(self: StunProtocol, data: bytes, addr: tuple[Any, ...]) -> None:
        if data and 127 < data[0] < 192 and self.receiver is not None and self.local_candidate is not None:
            self.receiver.data_received(data, self.local_candidate.component)
            return
        original(self, data, addr)

    StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]
    StunProtocol._bench_media_bypass = True  # type: ignore[attr-defined]


def install_fast_path(dtls_transport: Any) -> None:
    """Count received RTP by SSRC straight from the socket, without aiortc's receive machinery.

    The generator's receive path is most of its CPU. aiortc queues every datagram (aioice's queue),
    wakes the DTLS transport's task for it, unprotects it there, parses it and routes it to a
    receiver coroutine. Here, once a stream's SSRC is known, a datagram is unprotected and counted
    in the ICE connection's `data_received` callback itself: no queue, no task switch, no parse.
    The first packet of each SSRC (and all RTCP and DTLS) still takes aiortc's own path, which
    finds the stream's receiver; RTX is told apart by payload type.
    """
    if getattr(dtls_transport, "_bench_fast_path", False):
        return
    original = dtls_transport._handle_rtp_data
    receivers: dict[int, CountingReceiver] = {}

    def count(receiver: CountingReceiver, data: bytes) -> None:
        counter = receiver.counter
        if counter is None:
            return
        if data[1] & 0x7F in receiver._rtx_pts:
            counter.rtx += 1
            return
        counter.on_bytes(data)
        if counter.wants_keyframe():
            asyncio.ensure_future(receiver._send_rtcp_pli(int.from_bytes(data[8:12], "big")))

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        receiver = receivers.get(int.from_bytes(data[8:12], "big"))
        if receiver is None:
            try:
                packet = RtpPacket.parse(data, dtls_transport._rtp_header_extensions_map)
            except ValueError:
                return
            routed = dtls_transport._rtp_router.route_rtp(packet)
            if isinstance(routed, CountingReceiver) and routed.counter is not None:
                receivers[packet.ssrc] = routed
            await original(data, arrival_time_ms)
            return
        count(receiver, data)

    dtls_transport._handle_rtp_data = handle_rtp_data
    dtls_transport._bench_fast_path = True
    ice = getattr(getattr(dtls_transport, "transport", None), "_connection", None)
    queued = getattr(ice, "data_received", None)
    if queued is None:
        return

    def data_received(data: bytes, component: int) -> None:
        rx = dtls_transport._rx_srtp
        if rx is not None and len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
            receiver = receivers.get(int.from_bytes(data[8:12], "big"))
            if receiver is not None:
                try:
                    plain = rx.unprotect(data)
                except pylibsrtp.Error:
                    return
                count(receiver, plain)
                return
        queued(data, component)

    ice.data_received = data_received


def key_hi(label: str) -> int:
    """The high 32 bits of a latency key: who sent it (and to whom, in mesh mode)."""
    return zlib.crc32(label.encode())


def decode_sample(sample: list[tuple[int, int, int, bytes]], width: int, height: int,
                  min_psnr: float = 18.0, sizes: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    """Reassemble VP8 frames from raw RTP payloads, decode them and check them against the clip.

    A frame passes when its drawn counter names a clip frame and the decoded picture matches that
    frame's source to at least `min_psnr` dB (a wrong or corrupt frame scores about 12 dB).
    `sizes`: the picture sizes a frame may have (simulcast: any layer's), default (width, height).
    """
    allowed = set(sizes or [(width, height)])
    seen: dict[str, int] = {}
    import av
    from aiortc.codecs.vpx import vp8_depayload

    frames: list[bytes] = []
    current: list[tuple[int, bytes]] = []
    current_ts: int | None = None
    last_seq: int | None = None
    complete = True
    for seq, ts, marker, payload in sample:
        if current_ts is not None and ts != current_ts:
            current, complete = [], True  # a frame without its marker packet: drop it
        if last_seq is not None and current and (seq - last_seq) & 0xFFFF != 1:
            complete = False
        current_ts, last_seq = ts, seq
        current.append((seq, vp8_depayload(payload)))
        if marker:
            if complete:
                frames.append(b"".join(part for _, part in current))
            current, current_ts, complete = [], None, True
    decoder = av.CodecContext.create("vp8", "r")
    indices: list[int] = []
    scores: list[float] = []
    errors = 0
    while frames and frames[0][:1] and frames[0][0] & 1:  # VP8: bit 0 clear marks a keyframe
        frames.pop(0)
    for data in frames:
        try:
            decoded = decoder.decode(av.Packet(data))
        except av.error.FFmpegError:
            errors += 1
            continue
        for frame in decoded:
            if (frame.width, frame.height) not in allowed:
                errors += 1
                continue
            seen[f"{frame.width}x{frame.height}"] = seen.get(f"{frame.width}x{frame.height}", 0) + 1
            luma = frame.to_ndarray(format="yuv420p")[: frame.height]
            index, score = verify_frame(luma, frame.width, frame.height)
            indices.append(index)
            scores.append(score)
    good = sum(1 for s in scores if s >= min_psnr)
    ok = good >= 10 and good >= 0.9 * len(scores)
    return {
        "ok": ok, "frames": len(scores), "good": good, "decode_errors": errors,
        "min_psnr_db": round(float(min(scores)), 1) if scores else None,
        "median_psnr_db": round(float(sorted(scores)[len(scores) // 2]), 1) if scores else None,
        "first_index": indices[0] if indices else None,
        "sizes": seen,
    }
