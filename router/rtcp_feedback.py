"""RTCP feedback between consumers, the router and publishers.

Consumers' PLI/FIR are coalesced per layer (`KeyframeRequestLimiter`); the builders serialize with aiortc's RTCP
classes (FIR, which aiortc lacks, is an RFC 5104 FCI inside aiortc's `RtcpPsfbPacket`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    pack_remb_fci,
    pack_rtcp_packet,
    unpack_remb_fci,
)

__all__ = [
    "KEYFRAME_REQUEST_INTERVAL",
    "KEYFRAME_RETRY_INTERVAL",
    "Feedback",
    "KeyframeRequestLimiter",
    "build_fir",
    "build_nack",
    "build_pli",
    "build_remb",
    "parse_feedback",
]

_FIR_ENTRY = struct.Struct("!IB3x")
_NACK_ITEM = struct.Struct("!HH")
_NACK_HEAD = struct.Struct("!II")


#: Seconds between keyframes asked of one stream. A subscriber that joins waits for the next one, so
#: this is most of the server's part of join-to-first-frame; a keyframe is 5-10x a delta frame.
KEYFRAME_REQUEST_INTERVAL = 0.5
#: Seconds before an unanswered request is repeated (the PLI or the keyframe was lost). A publisher
#: busy encoding must not be asked again for a keyframe that is on its way.
KEYFRAME_RETRY_INTERVAL = 1.0


class KeyframeRequestLimiter:
    """At most one keyframe request per `min_interval` seconds; a suppressed one is delayed, not lost.

    Every consumer that joins or loses packets asks for a keyframe; forwarding each request
    would make the publisher send keyframes back to back and flood every consumer. While a request
    is unanswered, the next waits `retry_interval`: the keyframe on its way serves every waiting
    consumer. The interval counts from the request, or from the keyframe that answers it.
    """

    __slots__ = ("_min_interval", "_retry_interval", "_last", "_pending", "_outstanding")

    def __init__(self, min_interval: float = KEYFRAME_REQUEST_INTERVAL,
                 retry_interval: float = KEYFRAME_RETRY_INTERVAL) -> None:
        self._min_interval = min_interval
        self._retry_interval = max(min_interval, retry_interval)
        self._last: float | None = None
        self._pending = False
        self._outstanding = False

    def _allowed(self, now: float) -> bool:
        last = self._last
        wait = self._retry_interval if self._outstanding else self._min_interval
        return last is None or now - last >= wait

    def _sent(self, now: float) -> bool:
        self._last = now
        self._pending = False
        self._outstanding = True
        return True

    def request(self, now: float) -> bool:
        """True: send a PLI now. False: too soon; `due` will say when to send it."""
        if self._allowed(now):
            return self._sent(now)
        self._pending = True
        return False

    def due(self, now: float) -> bool:
        """True once when a suppressed request may now be sent (poll it from a timer)."""
        return self._pending and self._allowed(now) and self._sent(now)

    @property
    def pending(self) -> bool:
        return self._pending

    def retry(self) -> None:
        """The request could not be sent: keep it pending, to go out at the next `due` check."""
        self._last = None
        self._pending = True
        self._outstanding = False

    def answered(self, now: float) -> None:
        """A keyframe arrived: whatever waited is served. When it answers our request, the next may be
        asked `min_interval` from now; one the publisher sent of its own accord (its first) limits nothing."""
        if self._outstanding:
            self._last = now
        self._pending = False
        self._outstanding = False

    def reset(self) -> None:
        self._last = None
        self._pending = False
        self._outstanding = False


def build_pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """Picture Loss Indication (RFC 4585 6.3.1)."""
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=sender_ssrc, media_ssrc=media_ssrc))


def build_fir(sender_ssrc: int, media_ssrc: int, seq_nr: int) -> bytes:
    """Full Intra Request (RFC 5104 4.3.1): media SSRC 0 in the header, target in the FCI."""
    fci = _FIR_ENTRY.pack(media_ssrc, seq_nr & 0xFF)
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=sender_ssrc, media_ssrc=0, fci=fci))


def build_remb(sender_ssrc: int, bitrate_bps: int, media_ssrcs: list[int]) -> bytes:
    """Receiver Estimated Maximum Bitrate (draft-alvestrand-rmcat-remb)."""
    fci = pack_remb_fci(bitrate_bps, media_ssrcs)
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=sender_ssrc, media_ssrc=0, fci=fci))


def build_nack(sender_ssrc: int, media_ssrc: int, lost: list[int]) -> bytes:
    """Generic NACK (RFC 4585 6.2.1) for 16-bit sequence numbers, in any order, across wraparound.

    aiortc's `RtcpRtpfbPacket` serializer needs sorted input and fails when the list wraps past
    65535 (negative shift), so the PID/BLP items are packed here into aiortc's RTPFB framing.
    """
    payload = bytearray(_NACK_HEAD.pack(sender_ssrc, media_ssrc))
    if lost:
        base = lost[0] & 0xFFFF
        unwrapped = set()
        for seq in lost:
            d = (seq - base) & 0xFFFF
            unwrapped.add(base + (d - 0x10000 if d >= 0x8000 else d))
        ordered = sorted(unwrapped)
        pid = ordered[0]
        blp = 0
        for seq in ordered[1:]:
            d = seq - pid - 1
            if d < 16:
                blp |= 1 << d
            else:
                payload += _NACK_ITEM.pack(pid & 0xFFFF, blp)
                pid = seq
                blp = 0
        payload += _NACK_ITEM.pack(pid & 0xFFFF, blp)
    return pack_rtcp_packet(RTCP_RTPFB, RTCP_RTPFB_NACK, bytes(payload))


@dataclass(frozen=True, slots=True)
class Feedback:
    """One piece of RTCP information the router acts on.

    `ssrc` is the sender of the RTCP packet; `media_ssrc` the stream it is about (for an SR the
    sender's own stream, for a FIR the FCI's target, for an "rr" item the report block's source).
    Report blocks inside SR and RR packets come out as separate "rr" items carrying `report`.
    """

    kind: str  # "pli" | "fir" | "nack" | "remb" | "sr" | "rr" | "other"
    media_ssrc: int
    ssrc: int = 0
    lost: list[int] = field(default_factory=list)
    bitrate: int = 0
    ssrcs: list[int] = field(default_factory=list)
    ntp_timestamp: int = 0
    rtp_timestamp: int = 0
    packet_count: int = 0
    octet_count: int = 0
    fir_seq: int = 0
    report: RtcpReceiverInfo | None = None
    packet_type: int = 0
    fmt: int = 0


def _reports(ssrc: int, reports: list[RtcpReceiverInfo], packet_type: int) -> list[Feedback]:
    return [Feedback("rr", r.ssrc, ssrc, report=r, packet_type=packet_type) for r in reports]


def parse_feedback(data: bytes) -> list[Feedback]:
    """Parse a (compound) RTCP packet with aiortc; FIR entries by hand. Malformed input gives []."""
    try:
        packets = RtcpPacket.parse(data)
        out: list[Feedback] = []
        for p in packets:
            if isinstance(p, RtcpPsfbPacket):
                if p.fmt == RTCP_PSFB_PLI:
                    out.append(Feedback("pli", p.media_ssrc, p.ssrc, packet_type=206, fmt=p.fmt))
                elif p.fmt == RTCP_PSFB_FIR:
                    fci = p.fci
                    if len(fci) % 8:
                        raise ValueError("FIR FCI length is invalid")
                    for pos in range(0, len(fci), 8):
                        target, seq_nr = _FIR_ENTRY.unpack_from(fci, pos)
                        out.append(Feedback("fir", target, p.ssrc, fir_seq=seq_nr, packet_type=206, fmt=p.fmt))
                elif p.fmt == RTCP_PSFB_APP and p.fci[:4] == b"REMB":
                    bitrate, ssrcs = unpack_remb_fci(p.fci)
                    out.append(
                        Feedback("remb", p.media_ssrc, p.ssrc, bitrate=bitrate, ssrcs=ssrcs, packet_type=206, fmt=p.fmt)
                    )
                else:
                    out.append(Feedback("other", p.media_ssrc, p.ssrc, packet_type=206, fmt=p.fmt))
            elif isinstance(p, RtcpRtpfbPacket):
                if p.fmt == RTCP_RTPFB_NACK:
                    lost = [seq & 0xFFFF for seq in p.lost]
                    out.append(Feedback("nack", p.media_ssrc, p.ssrc, lost=lost, packet_type=205, fmt=p.fmt))
                else:
                    out.append(Feedback("other", p.media_ssrc, p.ssrc, packet_type=205, fmt=p.fmt))
            elif isinstance(p, RtcpSrPacket):
                si = p.sender_info
                out.append(
                    Feedback(
                        "sr",
                        p.ssrc,
                        p.ssrc,
                        ntp_timestamp=si.ntp_timestamp,
                        rtp_timestamp=si.rtp_timestamp,
                        packet_count=si.packet_count,
                        octet_count=si.octet_count,
                        packet_type=200,
                    )
                )
                out.extend(_reports(p.ssrc, p.reports, 200))
            elif isinstance(p, RtcpRrPacket):
                out.extend(_reports(p.ssrc, p.reports, 201))
            elif isinstance(p, RtcpByePacket):
                out.append(Feedback("other", 0, 0, ssrcs=list(p.sources), packet_type=203))
            else:
                out.append(Feedback("other", 0, 0, packet_type=202))
        return out
    except (ValueError, struct.error, IndexError, UnicodeDecodeError):
        return []
