"""A Consumer: one stream a subscriber receives, with its own SSRC, payload type and sequence space.

It forwards one layer of one producer at a time. The layer may change (simulcast: at the target
layer's keyframe, timestamps rebased with the layers' sender reports), the producer may change
(a receive slot that shows whoever is speaking), and forwarding may pause (muted, not in view,
no bandwidth); through all of it the subscriber sees one continuous, monotonic stream.
Retransmissions come from the layer's shared packet cache: each consumer only remembers how its
sequence numbers map back to the source (a few runs), never a copy of the packets.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from router.header_extensions import forward_id_map, rewrite_extensions
from router.rtp_header import RtpInfo, parse_rtp, rewritten_rtp
from router.rtx import wrap_rtx
from router.sender_report import SenderReportTranslator
from router.seqmap import SequenceRewriter
from router.vp8_numbering import Vp8Numbering, apply_offsets, descriptor_fields

if TYPE_CHECKING:
    from router.layer import Layer
    from router.link import Link
    from router.producer import Producer

__all__ = ["Consumer"]

MAX_NACK_ITEMS = 64  # sequence numbers answered per NACK message; the rest wait for the next one
#: Seconds after which a packet is no longer resent. A subscriber back from a network cut asks for
#: everything it missed; resending it would replay seconds-old video before the stream stalls on the
#: first packet gone from the cache. A keyframe, asked for instead, is what helps.
MAX_RETRANSMIT_AGE = 1.0
_RUNS_KEPT = 8
_RESENT_SLOTS = 256
_TS_MASK = 0xFFFFFFFF


class Consumer:
    """Forwards one producer's packets (one layer at a time) to one subscriber connection."""

    def __init__(
        self,
        consumer_id: str,
        producer: Producer | None,
        subscriber_id: str,
        ssrc: int,
        payload_type: int,
        link: Link,
        clock_rate: int,
        kind: str,
        rtx_ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        extensions: dict[str, int] | None = None,
        initial_sequence: int | None = None,
    ) -> None:
        self.id = consumer_id
        self.subscriber_id = subscriber_id
        self.kind = kind
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.rtx_ssrc = rtx_ssrc
        self.rtx_payload_type = rtx_payload_type
        self.extensions = dict(extensions or {})  # the subscriber's negotiated URI -> ID
        self.extension_id_map: dict[int, int] | None = None
        self.extension_key: tuple[tuple[int, int], ...] | None = None
        self.producer: Producer | None = None
        self.layer: Layer | None = None  # forwarding from
        self.target: Layer | None = None  # wanted (None: forward nothing)
        self.active = False  # set once the subscriber's SDP answer accepted this m-line
        self.closed = False
        self._link = link
        self._send_rtp = link.send_rtp
        # a consumer that takes over a recycled m-line continues its predecessor's sequence numbers
        # (same SSRC: the subscriber's SRTP rollover counter must not see a jump)
        self._sequence = SequenceRewriter(clock_rate, initial_sequence=initial_sequence)
        # (first out seq, layer, seq offset, ts offset, VP8 picture ID offset, VP8 TL0PICIDX offset)
        self._runs: list[tuple[int, Layer, int, int, int, int]] = []
        self._vp8: Vp8Numbering | None = None  # VP8 frame numbers continuous across source switches
        self._vp8_source: Layer | None = None
        self._runs_seen = 0
        self._reports = SenderReportTranslator()
        self._rtx_sequence = 1
        self._resent: list[tuple[int, float]] = [(-1, 0.0)] * _RESENT_SLOTS
        # counters for metrics and benchmarks
        self.packets_sent = 0
        self.bytes_sent = 0
        self.retransmissions = 0
        self.too_old_to_resend = 0  # NACKed packets held but older than MAX_RETRANSMIT_AGE
        self.layer_switches = 0
        self.rate_bps = 0.0  # measured by the connection about once a second
        self._bytes_at_measure = 0
        if producer is not None:
            self.set_producer(producer)

    @property
    def next_sequence(self) -> int:
        return (self._sequence.last_sequence + 1) & 0xFFFF

    @property
    def forwarding(self) -> bool:
        return self.target is not None

    # --- what to forward ---------------------------------------------------------------------------

    def set_producer(self, producer: Producer | None) -> None:
        """Follow another producer (a receive slot changing hands), or none; forwarding stops until a
        target layer is set."""
        if producer is self.producer:
            return
        self.set_target(None)
        if self.producer is not None:
            self.producer.remove_consumer(self)
        self.producer = producer
        self._runs = []
        if producer is not None:  # an empty slot keeps its numbering for the next VP8 source
            vp8 = producer.codec.mime_type.lower() == "video/vp8"
            self._vp8 = (self._vp8 or Vp8Numbering()) if vp8 else None
        if producer is None:
            self.extension_id_map = None
            self.extension_key = None
            return
        self.extension_id_map = forward_id_map(producer.extensions, self.extensions)
        self.extension_key = tuple(sorted(self.extension_id_map.items())) if self.extension_id_map is not None else None
        producer.add_consumer(self)

    def set_target(self, layer: Layer | None) -> None:
        """Forward `layer` from its next keyframe (staying on the current layer until then), or stop."""
        if layer is not None and layer.producer is not self.producer:
            raise ValueError("a consumer's layer must belong to its producer")
        current_target = self.target
        self.target = layer
        if current_target is not None and current_target is not layer and self in current_target.pending:
            current_target.pending = [c for c in current_target.pending if c is not self]
        if layer is None:
            self._detach()
            return
        if not self.active or self.layer is layer or self in layer.pending:
            return
        layer.pending = [*layer.pending, self]
        layer.request_keyframe()

    def activate(self) -> None:
        """The subscriber knows our SSRC now: start forwarding the target from its next keyframe."""
        if self.closed or self.active:
            return
        self.active = True
        target, self.target = self.target, None
        if target is not None:
            self.set_target(target)

    def attach(self, layer: Layer, info: RtpInfo) -> None:
        """Called by the producer at a keyframe of a layer this consumer waits for."""
        if self.closed or self.target is not layer:
            return
        old = self.layer
        if old is not None and old is not layer:
            old.consumers = [c for c in old.consumers if c is not self]
            self.layer_switches += 1
            self._hint_timestamp(old, layer, info.timestamp)
        if self not in layer.consumers:
            layer.consumers = [*layer.consumers, self]
        self.layer = layer
        self._sequence.skip()

    def _hint_timestamp(self, old: Layer, new: Layer, timestamp: int) -> None:
        """Place the new layer's first frame on our timeline by wall clock (both layers' SRs), so a
        switch neither rewinds nor leaps; without SRs the rewriter uses the elapsed time instead."""
        sequence = self._sequence
        if sequence.ssrc != old.media_ssrc:
            return
        instant = new.ntp_of(timestamp)
        if instant is None:
            return
        old_timestamp = old.timestamp_at(instant)
        if old_timestamp is not None:
            sequence.suggest_timestamp((old_timestamp + sequence.ts_offset) & _TS_MASK)

    def _detach(self) -> None:
        layer = self.layer
        if layer is not None:
            layer.consumers = [c for c in layer.consumers if c is not self]
        self.layer = None
        self._sequence.skip()

    def producer_closed(self, producer: Producer) -> None:
        if producer is self.producer:
            self.set_producer(None)

    def skip(self) -> None:
        """Packets are being withheld on purpose: close the gap when forwarding resumes."""
        self._sequence.skip()

    # --- packet path -----------------------------------------------------------------------------------

    def forward(self, data: bytes, info: RtpInfo, now_ms: float) -> None:
        """`data` already carries this consumer's header extensions; `info` is the original's."""
        sequence = self._sequence
        mapped = sequence.map(info.ssrc, info.sequence, info.timestamp, now_ms)
        if mapped is None:
            return
        packet = rewritten_rtp(data, self.payload_type, mapped[0], mapped[1], self.ssrc)
        vp8 = self._vp8
        if sequence.runs != self._runs_seen:
            if vp8 is not None and self.layer is not self._vp8_source:
                vp8.switch(packet)  # another layer or publisher: its frame numbers follow ours
                self._vp8_source = self.layer
            self._note_run(mapped[0])
        if vp8 is not None:
            packet = vp8.rewrite(packet)
        self._send_rtp(packet)
        self.packets_sent += 1
        self.bytes_sent += len(packet)
        self._reports.on_sent(info.payload_end - info.payload_start)

    def _note_run(self, first_sequence: int) -> None:
        sequence = self._sequence
        self._runs_seen = sequence.runs
        if self.layer is None:
            return
        vp8 = self._vp8
        self._runs.append((first_sequence, self.layer, sequence.seq_offset, sequence.ts_offset,
                           vp8.pid_offset if vp8 is not None else 0, vp8.tl0_offset if vp8 is not None else 0))
        if len(self._runs) > _RUNS_KEPT:
            del self._runs[0]

    # --- feedback from the subscriber ----------------------------------------------------------------

    def _run_for(self, out_sequence: int) -> tuple[int, Layer, int, int, int, int] | None:
        last = self._sequence.last_sequence
        if (last - out_sequence) & 0xFFFF >= 0x8000:
            return None  # not sent yet
        for run in reversed(self._runs):
            if (out_sequence - run[0]) & 0xFFFF < 0x8000:
                return run
        return None

    def handle_nack(self, lost: list[int]) -> None:
        """Answer the subscriber's NACK from the layers' shared caches (RTX when negotiated)."""
        if not self.active or not lost:
            return
        now = time.monotonic()
        link = self._link
        repeat_after = max(0.01, link.rtt.rtt_ms / 1000.0)
        budget = link.retransmit_budget
        too_old = 0
        for out_sequence in lost[:MAX_NACK_ITEMS]:
            slot = out_sequence % _RESENT_SLOTS
            last = self._resent[slot]
            if last[0] == out_sequence and now - last[1] < repeat_after:
                continue  # already resent within a round trip: the copy is on its way
            run = self._run_for(out_sequence)
            if run is None:
                continue
            _, layer, seq_offset, ts_offset, pid_offset, tl0_offset = run
            cache = layer.cache
            if cache is None:
                continue
            source_sequence = (out_sequence - seq_offset) & 0xFFFF
            original = cache.get(source_sequence)
            if original is None:
                layer.request_missing(source_sequence)  # it never reached us: ask the publisher again
                continue
            stored_at = cache.stored_at(source_sequence)
            if stored_at is not None and now - stored_at > MAX_RETRANSMIT_AGE:
                too_old += 1
                continue
            if not budget.spend(len(original), now):
                break
            self._resent[slot] = (out_sequence, now)
            self._send_rtp(self._retransmission(original, out_sequence, ts_offset, pid_offset, tl0_offset))
            self.retransmissions += 1
        if too_old:
            # what the subscriber lost cannot be repaired: a keyframe now beats its decoder's own timeout
            self.too_old_to_resend += too_old
            self.handle_keyframe_request()

    def _retransmission(self, original: bytes, out_sequence: int, ts_offset: int, pid_offset: int = 0,
                        tl0_offset: int = 0) -> bytes:
        info = parse_rtp(original)
        if info.extension_profile and self.extension_id_map is not None:
            original = bytes(rewrite_extensions(original, info, self.extension_id_map))
            info = parse_rtp(original)
        packet = rewritten_rtp(original, self.payload_type, out_sequence, (info.timestamp + ts_offset) & _TS_MASK,
                               self.ssrc)
        if self._vp8 is not None:
            packet = apply_offsets(packet, descriptor_fields(packet), pid_offset, tl0_offset)
        if self.rtx_ssrc is None or self.rtx_payload_type is None:
            return packet
        rtx = wrap_rtx(packet, parse_rtp(packet), self.rtx_ssrc, self.rtx_payload_type, self._rtx_sequence)
        self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        return rtx

    def handle_keyframe_request(self) -> None:
        """The subscriber's PLI/FIR: for the layer it gets (or is about to get), rate-limited there."""
        layer = self.layer or self.target
        if layer is not None:
            layer.request_keyframe()

    def sender_report(self) -> bytes | None:
        """The layer's last SR, translated into this consumer's SSRC and timestamp space."""
        layer = self.layer
        if not self.active or self.packets_sent == 0 or layer is None or layer.sender_report is None:
            return None
        sequence = self._sequence
        if sequence.ssrc != layer.media_ssrc or layer.media_ssrc is None:
            return None
        ntp, rtp = layer.sender_report
        return self._reports.build(self.ssrc, ntp, rtp, sequence.ts_offset)

    def measure(self, elapsed: float) -> None:
        if elapsed > 0:
            self.rate_bps = (self.bytes_sent - self._bytes_at_measure) * 8 / elapsed
        self._bytes_at_measure = self.bytes_sent

    def close(self) -> None:
        self.set_producer(None)
        self.closed = True
        self.active = False
        self._runs = []
