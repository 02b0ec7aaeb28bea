"""Sender reports for one consumer, translated from the publisher's.

Browsers map RTP time to NTP time from sender reports to keep audio and video in sync; an idle
aiortc sender would report zeros. The consumer's SR carries the publisher's NTP time, the
publisher's RTP time moved into the consumer's timestamp space, and the counts of what was
actually sent to this consumer (they differ from the publisher's while it was paused).
"""

from __future__ import annotations

from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket

__all__ = ["SenderReportTranslator"]

_U32 = 0xFFFFFFFF


class SenderReportTranslator:
    """Counts what one consumer was sent and builds its SR from the publisher's SR."""

    __slots__ = ("packet_count", "octet_count")

    def __init__(self) -> None:
        self.packet_count = 0
        self.octet_count = 0

    def on_sent(self, payload_len: int) -> None:
        """Count one RTP packet sent to the consumer (RFC 3550: payload octets only)."""
        self.packet_count += 1
        self.octet_count += payload_len

    def build(self, consumer_ssrc: int, ntp_timestamp: int, source_rtp_timestamp: int, timestamp_offset: int) -> bytes:
        """Serialize the consumer's SR; `timestamp_offset` comes from SequenceRewriter.timestamp_offset."""
        info = RtcpSenderInfo(
            ntp_timestamp=ntp_timestamp,
            rtp_timestamp=(source_rtp_timestamp + timestamp_offset) & _U32,
            packet_count=self.packet_count & _U32,
            octet_count=self.octet_count & _U32,
        )
        return bytes(RtcpSrPacket(ssrc=consumer_ssrc, sender_info=info))
