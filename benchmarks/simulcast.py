"""A simulcast camera from an aiortc connection: three pre-encoded layers sent as the bench's own RTP.

aiortc drops `a=rid`/`a=simulcast` and sends one stream per track, so the bench does what a browser
does on the wire: it offers the video m-line with `a=rid:<rid> send` lines, `a=simulcast:send` and
the `sdes:rtp-stream-id` extension (the offer text is munged after aiortc made it), and once the
server's answer accepts them (`a=simulcast:recv`), sends each layer as its own SSRC, sequence space
and random timestamp offset, with the mid and rid extensions on its first packets, through the
connection's DTLS transport (`_send_rtp` protects with SRTP and sends). It answers what a browser's
encoder answers: a PLI for a layer jumps that layer to its clip's next keyframe, and
`video:publisher-layers` (dynacast) stops and restarts layers, a restarted layer starting on a
keyframe; a NACK is answered from the layer's history on its RTX stream. Each layer also sends sender reports, which the server uses to line the layers'
timestamps up when a subscriber switches between them.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from typing import Any

from aiortc.clock import current_ntp_time
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    wrap_rtx,
)

from benchmarks.clip import FPS, KEYFRAME_INTERVAL, Clip

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
IDENTIFY_SECONDS = 2.0  # like a browser: mid and rid on a layer's first packets, then only its SSRC
SR_INTERVAL = 1.0
CLOCK_RATE = 90000
HISTORY = 1024  # packets kept per layer to answer NACKs (about 6 s of the top layer)
RESEND_INTERVAL = 0.1  # like libwebrtc's packet history: one retransmission of a packet per round trip (floor)


# --- SDP -----------------------------------------------------------------------------------------


def _sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    session: list[str] = []
    sections: list[list[str]] = []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        else:
            session.append(line)
    return session, sections


def _join(session: list[str], sections: list[list[str]]) -> str:
    return "\r\n".join([*session, *(line for s in sections for line in s)]) + "\r\n"


def _section_of(sections: list[list[str]], mid: str) -> list[str]:
    for section in sections:
        if f"a=mid:{mid}" in section:
            return section
    raise ValueError(f"no m-line with mid {mid}")


def simulcast_offer(sdp: str, mid: str, rids: Sequence[str]) -> str:
    """aiortc's offer with the video m-line `mid` turned into a simulcast send section.

    Its own `a=ssrc` lines go (a browser's rid-based offer names no SSRCs: the server learns each
    layer's SSRC from the rid on its first packets); the rid extension takes an ID no other section
    uses, since a BUNDLE group shares one ID space. Retransmissions (RTX) of a layer carry the
    `repaired-rtp-stream-id` extension, which is offered too."""
    session, sections = _sections(sdp)
    used = {int(line.split()[0].split(":")[1].split("/")[0]) for s in sections for line in s
            if line.startswith("a=extmap:")}
    rid_id, repaired_id = [i for i in range(1, 15) if i not in used][:2]
    section = _section_of(sections, mid)
    kept = [line for line in section if not line.startswith(("a=ssrc:", "a=ssrc-group:"))]
    last_ext = max((i for i, line in enumerate(kept) if line.startswith("a=extmap:")), default=len(kept) - 1)
    kept[last_ext + 1:last_ext + 1] = [f"a=extmap:{rid_id} {RID_URI}", f"a=extmap:{repaired_id} {REPAIRED_RID_URI}"]
    kept.extend(f"a=rid:{rid} send" for rid in rids)
    kept.append("a=simulcast:send " + ";".join(rids))
    section[:] = kept
    return _join(session, sections)


def answer_extensions(sdp: str, mid: str) -> dict[str, int]:
    """uri → id of the header extensions the answer accepted on m-line `mid`."""
    _, sections = _sections(sdp)
    out: dict[str, int] = {}
    for line in _section_of(sections, mid):
        if line.startswith("a=extmap:"):
            head, uri = line[len("a=extmap:"):].split()[:2]
            out[uri] = int(head.split("/")[0])
    return out


def answer_simulcast(sdp: str, mid: str) -> list[str]:
    """The rids the answer's `a=simulcast:recv` accepted on m-line `mid` (empty: no simulcast)."""
    _, sections = _sections(sdp)
    for line in _section_of(sections, mid):
        if line.startswith("a=simulcast:recv "):
            return [entry.split(",")[0].lstrip("~") for entry in line.split()[1].split(";")]
    return []


# --- the sender ------------------------------------------------------------------------------------


class HeldTrack(MediaStreamTrack):
    """The video transceiver's track: its `recv()` never returns, so aiortc's own sender sends nothing
    on it (a sender without a track would poll every 20 ms) while the bench sends the layers."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        await self._never
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if not self._never.done():
            self._never.cancel()


def _random16() -> int:
    return int.from_bytes(os.urandom(2), "big") & 0x7FFF  # start low, like aiortc and browsers


def _random32() -> int:
    return int.from_bytes(os.urandom(4), "big")


class LayerState:
    """One simulcast layer's stream: its SSRC, sequence numbers, timestamps, clip position and counters."""

    __slots__ = ("rid", "clip", "ssrc", "seq", "ts_offset", "index", "picture_id", "active", "keyframe_wanted",
                 "first_sent", "packets", "octets", "plis", "nacks", "keyframes_sent", "rtx_ssrc", "rtx_seq", "history",
                 "resent_at", "retransmitted", "unanswered", "throttled", "rtx_budget", "rtx_budget_max")

    def __init__(self, rid: str, clip: Clip) -> None:
        self.rid = rid
        self.clip = clip
        self.ssrc = _random32()
        self.seq = _random16()
        self.ts_offset = _random32()
        self.index = 0  # the clip starts on a keyframe
        self.picture_id = random.randint(0, 0x7FFF)
        self.active = True
        self.keyframe_wanted = False
        self.first_sent = 0.0
        self.packets = 0
        self.octets = 0
        self.plis = 0
        self.nacks = 0
        self.keyframes_sent = 0
        self.rtx_ssrc = _random32()
        self.rtx_seq = _random16()
        self.history: list[RtpPacket | None] = [None] * HISTORY  # by sequence number modulo HISTORY
        self.resent_at = [0.0] * HISTORY  # when each packet was last retransmitted
        self.retransmitted = 0
        self.unanswered = 0  # NACKed packets no longer in the history
        self.throttled = 0  # NACKed again within RESEND_INTERVAL of its last retransmission, or over the budget
        # like libwebrtc's retransmission rate limiter: resend at most as many bytes as the layer itself sends
        self.rtx_budget_max = clip.video_bps / 8
        self.rtx_budget = 0.0

    def request_keyframe(self) -> None:
        self.keyframe_wanted = True

    def next_frame(self) -> tuple[bytes, bool]:
        if self.keyframe_wanted:
            self.keyframe_wanted = False
            if self.index % KEYFRAME_INTERVAL:
                self.index += KEYFRAME_INTERVAL - self.index % KEYFRAME_INTERVAL
        frame = self.clip.video[self.index % len(self.clip.video)]
        self.index += 1
        return frame


class _RtcpSink:
    """Stands in the DTLS transport's RTCP router for one layer's SSRC (aiortc routes by media SSRC)."""

    def __init__(self, sender: SimulcastSender, layer: LayerState) -> None:
        self.sender = sender
        self.layer = layer

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.layer.plis += 1
            self.layer.request_keyframe()
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.layer.nacks += 1
            await self.sender.retransmit(self.layer, packet.lost)


class SimulcastSender:
    """Sends the layers of one simulcast camera at 30 frames per second, all from one pacing task."""

    def __init__(self, clips: Sequence[Clip], rids: Sequence[str]) -> None:
        if len(clips) != len(rids):
            raise ValueError("one clip per rid")
        self.layers = [LayerState(rid, clip) for rid, clip in zip(rids, clips, strict=True)]
        self.transport: Any = None
        self.mid = ""
        self.payload_type = 0
        self._extensions = HeaderExtensionsMap()
        self._abs_send_time = False
        self._task: asyncio.Task[None] | None = None
        self.send_errors = 0
        self.rtx_payload_type: int | None = None

    @property
    def rids(self) -> list[str]:
        return [layer.rid for layer in self.layers]

    def configure(self, transport: Any, mid: str, payload_type: int, answer_sdp: str,
                  rtx_payload_type: int | None = None) -> None:
        """Use the negotiated extension IDs and payload types; route the layers' RTCP feedback to us."""
        accepted = answer_simulcast(answer_sdp, mid)
        if accepted != self.rids:
            raise RuntimeError(f"the server's answer accepted simulcast {accepted!r}, offered {self.rids!r}")
        ids = answer_extensions(answer_sdp, mid)
        if MID_URI not in ids or RID_URI not in ids:
            raise RuntimeError(f"the answer lacks the mid or rid extension: {sorted(ids)}")
        wanted = [RTCRtpHeaderExtensionParameters(id=ids[uri], uri=uri)
                  for uri in (MID_URI, RID_URI, REPAIRED_RID_URI, ABS_SEND_TIME_URI) if uri in ids]
        self._extensions.configure(RTCRtpParameters(headerExtensions=wanted))
        self._abs_send_time = ABS_SEND_TIME_URI in ids
        self.transport, self.mid, self.payload_type = transport, mid, payload_type
        # a browser retransmits on RTX, naming the layer with repaired-rtp-stream-id
        self.rtx_payload_type = rtx_payload_type if REPAIRED_RID_URI in ids else None
        for layer in self.layers:
            transport._rtp_router.senders[layer.ssrc] = _RtcpSink(self, layer)

    def set_active(self, rids: Sequence[str]) -> None:
        """Dynacast: encode only the layers someone needs; a layer that comes back starts on a keyframe."""
        wanted = set(rids)
        for layer in self.layers:
            active = layer.rid in wanted
            if active and not layer.active:
                layer.request_keyframe()
            layer.active = active

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while self.transport.state != "connected":  # sending before DTLS is up would only make gaps
            if self.transport.state in ("closed", "failed"):
                return
            await asyncio.sleep(0.02)
        start = time.monotonic()
        count = 0
        next_sr = start + SR_INTERVAL * random.random()
        while True:
            now = time.monotonic()
            due = start + count / FPS
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:
                start += now - due  # the loop stalled: shift the schedule rather than burst a backlog
            timestamp = count * (CLOCK_RATE // FPS)
            for layer in self.layers:
                if layer.active:
                    await self._send_frame(layer, timestamp)
            count += 1
            now = time.monotonic()
            if now >= next_sr:
                next_sr = now + SR_INTERVAL * (0.5 + random.random())
                await self._send_reports(start, now)

    async def _send_frame(self, layer: LayerState, timestamp: int) -> None:
        data, keyframe = layer.next_frame()
        payloads = Vp8Encoder._packetize(data, layer.picture_id)
        layer.picture_id = (layer.picture_id + 1) & 0x7FFF
        now = time.monotonic()
        if not layer.first_sent:
            layer.first_sent = now
        identify = now - layer.first_sent < IDENTIFY_SECONDS
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            packet = RtpPacket(payload_type=self.payload_type, marker=1 if i == last else 0,
                               sequence_number=layer.seq, timestamp=(layer.ts_offset + timestamp) & 0xFFFFFFFF,
                               ssrc=layer.ssrc, payload=payload)
            if identify:
                packet.extensions.mid = self.mid
                packet.extensions.rtp_stream_id = layer.rid
            if self._abs_send_time:
                packet.extensions.abs_send_time = (current_ntp_time() >> 14) & 0x00FFFFFF
            layer.history[layer.seq % HISTORY] = packet
            layer.resent_at[layer.seq % HISTORY] = 0.0
            layer.seq = (layer.seq + 1) & 0xFFFF
            try:
                await self.transport._send_rtp(packet.serialize(self._extensions))
            except ConnectionError:
                self.send_errors += 1  # the connection is closing
                return
            layer.packets += 1
            layer.octets += len(payload)
            layer.rtx_budget = min(layer.rtx_budget + len(payload), layer.rtx_budget_max)
        if keyframe:
            layer.keyframes_sent += 1

    async def retransmit(self, layer: LayerState, lost: Sequence[int]) -> None:
        """Answer a NACK as a browser does: each packet still in the history again, on the layer's RTX stream,
        but a packet at most once per RESEND_INTERVAL (libwebrtc waits a round trip before resending one) and
        no more retransmitted bytes than the layer sends (libwebrtc's retransmission rate limiter)."""
        now = time.monotonic()
        for seq in lost[:64]:
            original = layer.history[seq % HISTORY]
            if original is None or original.sequence_number != seq or self.rtx_payload_type is None:
                layer.unanswered += 1
                continue
            if now - layer.resent_at[seq % HISTORY] < RESEND_INTERVAL or layer.rtx_budget < len(original.payload):
                layer.throttled += 1
                continue
            layer.resent_at[seq % HISTORY] = now
            layer.rtx_budget -= len(original.payload)
            rtx = wrap_rtx(original, payload_type=self.rtx_payload_type, sequence_number=layer.rtx_seq,
                           ssrc=layer.rtx_ssrc)
            rtx.extensions = HeaderExtensions(mid=self.mid, repaired_rtp_stream_id=layer.rid)  # binds the RTX SSRC
            layer.rtx_seq = (layer.rtx_seq + 1) & 0xFFFF
            try:
                await self.transport._send_rtp(rtx.serialize(self._extensions))
            except ConnectionError:
                return
            layer.retransmitted += 1

    async def _send_reports(self, start: float, now: float) -> None:
        """A sender report per active layer: NTP now ↔ that layer's RTP time now."""
        ntp = current_ntp_time()
        rtp_now = round((now - start) * CLOCK_RATE)
        for layer in self.layers:
            if not layer.active or not layer.packets:
                continue
            report = RtcpSrPacket(ssrc=layer.ssrc, sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp, rtp_timestamp=(layer.ts_offset + rtp_now) & 0xFFFFFFFF,
                packet_count=layer.packets & 0xFFFFFFFF, octet_count=layer.octets & 0xFFFFFFFF))
            try:
                await self.transport._send_rtp(bytes(report))
            except ConnectionError:
                return

    def stats(self) -> dict[str, Any]:
        return {layer.rid: {"packets": layer.packets, "bytes": layer.octets, "plis": layer.plis, "nacks": layer.nacks,
                            "retransmitted": layer.retransmitted, "unanswered": layer.unanswered,
                            "throttled": layer.throttled,
                            "keyframes": layer.keyframes_sent, "active": layer.active} for layer in self.layers}
