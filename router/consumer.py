"""A Consumer: one (subscriber, producer) pair, with its own SSRC, payload type and sequence space.

Each forwarded packet is copied once, its header rewritten in place for this subscriber, kept in a
short history (to answer NACKs) and sent. Sequence numbers stay continuous across pauses and
keyframe waits because skipped packets are reported to the SequenceRewriter, not left as gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from router.packet_history import PacketHistory
from router.rtp_header import RtpInfo, parse_rtp, rewritten_rtp
from router.rtx import wrap_rtx
from router.sender_report import SenderReportTranslator
from router.seqmap import SequenceRewriter

if TYPE_CHECKING:
    from router.producer import Producer

SendBytes = Callable[[bytes], None]


class Consumer:
    """Forwards one producer's packets to one subscriber connection."""

    def __init__(
        self,
        consumer_id: str,
        producer: Producer,
        subscriber_id: str,
        ssrc: int,
        payload_type: int,
        send_rtp: SendBytes,
        rtx_ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        extension_id_map: dict[int, int] | None = None,
        history_size: int = 1024,
        initial_sequence: int | None = None,
    ) -> None:
        self.id = consumer_id
        self.producer = producer
        self.subscriber_id = subscriber_id
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.rtx_ssrc = rtx_ssrc
        self.rtx_payload_type = rtx_payload_type
        self.extension_id_map = extension_id_map
        # the producer rewrites the extension block once per distinct mapping and hands us the result
        self.extension_key = tuple(sorted(extension_id_map.items())) if extension_id_map is not None else None
        self.active = False  # set once the subscriber's SDP answer accepted this m-line
        self.closed = False
        self._send_rtp = send_rtp
        # a consumer that takes over a recycled m-line continues its predecessor's sequence numbers
        # (same SSRC: the subscriber's SRTP rollover counter must not see a jump)
        self._sequence = SequenceRewriter(producer.codec.clock_rate, initial_sequence=initial_sequence)
        self._history = PacketHistory(history_size) if producer.kind == "video" else None
        self._reports = SenderReportTranslator()
        self._waiting_keyframe = producer.kind == "video"
        self._rtx_sequence = 1
        # counters for metrics and benchmarks
        self.packets_sent = 0
        self.bytes_sent = 0
        self.retransmissions = 0

    @property
    def next_sequence(self) -> int:
        return (self._sequence.last_sequence + 1) & 0xFFFF

    def activate(self) -> None:
        """The subscriber knows our SSRC now: start forwarding from the next keyframe."""
        if self.closed or self.active:
            return
        self.active = True
        self.require_keyframe()
        self.producer.request_keyframe()

    def require_keyframe(self) -> None:
        if self.producer.kind == "video":
            self._waiting_keyframe = True

    def skip(self) -> None:
        self._sequence.skip()

    def forward(self, data: bytes, info: RtpInfo, keyframe: bool, now_ms: float) -> None:
        """`data` already carries this consumer's header extensions; `info` is the original's."""
        if not self.active:
            return
        if self._waiting_keyframe:
            if not keyframe:
                self._sequence.skip()
                return
            self._waiting_keyframe = False
        mapped = self._sequence.map(info.ssrc, info.sequence, info.timestamp, now_ms)
        if mapped is None:
            return
        packet = rewritten_rtp(data, self.payload_type, mapped[0], mapped[1], self.ssrc)
        if self._history is not None:
            self._history.store(mapped[0], packet)
        self._send_rtp(packet)
        self.packets_sent += 1
        self.bytes_sent += len(packet)
        self._reports.on_sent(info.payload_end - info.payload_start)

    def handle_nack(self, lost: list[int]) -> None:
        """Answer the subscriber's NACK from our own history (RTX when negotiated)."""
        if self._history is None:
            return
        for sequence in lost:
            packet = self._history.get(sequence)
            if packet is None:
                continue
            if self.rtx_ssrc is not None and self.rtx_payload_type is not None:
                info = parse_rtp(packet)
                packet = wrap_rtx(packet, info, self.rtx_ssrc, self.rtx_payload_type, self._rtx_sequence)
                self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
            self.retransmissions += 1
            self._send_rtp(packet)

    def handle_keyframe_request(self) -> None:
        self.producer.request_keyframe()

    def sender_report(self) -> bytes | None:
        """The publisher's last SR, translated into this consumer's SSRC and timestamp space."""
        if not self.active or self.packets_sent == 0:
            return None
        source = self.producer.last_sender_report
        if source is None or self.producer.media_ssrc is None:
            return None
        offset = self._sequence.timestamp_offset(self.producer.media_ssrc)
        if offset is None:
            return None
        return self._reports.build(self.ssrc, source[0], source[1], offset)

    def close(self) -> None:
        self.closed = True
        self.active = False
        if self._history is not None:
            self._history.clear()
