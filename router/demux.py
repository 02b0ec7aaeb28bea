"""Routes one connection's decrypted RTP and RTCP to its producers and consumers by SSRC.

SSRCs come from the publisher's SDP (`a=ssrc-group:FID`), so RTX padding that Chrome sends early
cannot be mistaken for media; a publisher that announced no SSRCs is learnt from the mid header
extension and the payload type of its first packets.
"""

from __future__ import annotations

import time

from router.consumer import Consumer
from router.header_extensions import find_extension
from router.producer import Producer
from router.rtcp_feedback import parse_feedback
from router.rtp_header import parse_rtp

FEEDBACK_KINDS = ("pli", "fir", "nack", "remb")


class PacketDemux:
    def __init__(self, feedback_counts: dict[str, int] | None = None) -> None:
        # RTCP feedback received from subscribers, by kind (shared across connections for metrics)
        self.feedback_counts = feedback_counts if feedback_counts is not None else dict.fromkeys(FEEDBACK_KINDS, 0)
        self._media: dict[int, Producer] = {}
        self._rtx: dict[int, Producer] = {}
        self._by_mid: dict[str, Producer] = {}
        self._consumers: dict[int, Consumer] = {}
        self.mid_extension_id: int | None = None
        self.unknown_packets = 0

    # --- registration ----------------------------------------------------------------------------

    def add_producer(self, producer: Producer, mid: str) -> None:
        self._by_mid[mid] = producer
        if producer.media_ssrc is not None:
            self._media[producer.media_ssrc] = producer
        if producer.rtx_ssrc is not None:
            self._rtx[producer.rtx_ssrc] = producer

    def remove_producer(self, producer: Producer) -> None:
        for table in (self._media, self._rtx, self._by_mid):
            for key in [k for k, v in table.items() if v is producer]:
                del table[key]

    def add_consumer(self, consumer: Consumer) -> None:
        self._consumers[consumer.ssrc] = consumer
        if consumer.rtx_ssrc is not None:
            self._consumers[consumer.rtx_ssrc] = consumer

    def remove_consumer(self, consumer: Consumer) -> None:
        for key in [k for k, v in self._consumers.items() if v is consumer]:
            del self._consumers[key]

    @property
    def producers(self) -> list[Producer]:
        return list(dict.fromkeys(self._by_mid.values()))

    @property
    def consumers(self) -> list[Consumer]:
        return list(dict.fromkeys(self._consumers.values()))  # media and RTX SSRCs name the same consumer

    # --- packet path ---------------------------------------------------------------------------------

    def handle_rtp(self, data: bytes) -> None:
        ssrc = int.from_bytes(data[8:12], "big") if len(data) >= 12 else -1
        producer = self._media.get(ssrc)
        if producer is not None:
            producer.receive_rtp(data)
            return
        producer = self._rtx.get(ssrc)
        if producer is not None:
            producer.receive_rtx(data)
            return
        if self._learn(data, ssrc):
            self.handle_rtp(data)
        else:
            self.unknown_packets += 1

    def _learn(self, data: bytes, ssrc: int) -> bool:
        """Bind an SSRC the SDP did not announce, by its mid extension and payload type."""
        if self.mid_extension_id is None:
            return False
        try:
            info = parse_rtp(data)
        except ValueError:
            return False
        value = find_extension(data, info, self.mid_extension_id)
        if value is None:
            return False
        producer = self._by_mid.get(bytes(value).decode("ascii", "replace"))
        if producer is None:
            return False
        if info.payload_type == producer.codec.payload_type and producer.media_ssrc is None:
            producer.media_ssrc = ssrc
            self._media[ssrc] = producer
            return True
        if info.payload_type == producer.codec.rtx_payload_type and producer.rtx_ssrc is None:
            producer.rtx_ssrc = ssrc
            self._rtx[ssrc] = producer
            return True
        return False

    def handle_rtcp(self, data: bytes) -> None:
        now = time.monotonic()
        for feedback in parse_feedback(data):
            kind = feedback.kind
            if kind in self.feedback_counts:
                self.feedback_counts[kind] += 1
            if kind == "sr":
                producer = self._media.get(feedback.ssrc)
                if producer is not None:
                    producer.on_sender_report(feedback.ntp_timestamp, feedback.rtp_timestamp)
            elif kind in ("pli", "fir"):
                consumer = self._consumers.get(feedback.media_ssrc)
                if consumer is not None:
                    consumer.handle_keyframe_request()
            elif kind == "nack":
                consumer = self._consumers.get(feedback.media_ssrc)
                if consumer is not None:
                    consumer.handle_nack(feedback.lost)
            elif kind == "remb":
                for ssrc in feedback.ssrcs:
                    consumer = self._consumers.get(ssrc)
                    if consumer is not None:
                        consumer.producer.remb.update(consumer, feedback.bitrate, now)
