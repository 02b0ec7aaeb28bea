"""Routes one connection's decrypted RTP and RTCP to its producers' layers and its consumers.

SSRCs come from the publisher's SDP (`a=ssrc-group:FID`) where it names them, so RTX padding that
Chrome sends early cannot be mistaken for media. Streams the SDP does not name (simulcast layers,
which browsers announce only by rid) are learnt from their first packets' header extensions: the
mid picks the producer, the rid (or repaired rid, for RTX) the layer. A bound SSRC is never bound
again, and a connection can bind only a few, so a sender cannot grow this table or steal a stream.
"""

from __future__ import annotations

import time

from router.consumer import Consumer
from router.downlink_estimator import DownlinkEstimator
from router.header_extensions import find_extension
from router.layer import Layer
from router.link import Link
from router.producer import Producer
from router.rtcp_feedback import parse_feedback
from router.rtp_header import parse_rtp
from router.twcc import TwccRecorder, iter_transport_feedback, parse_feedback_fci

FEEDBACK_KINDS = ("pli", "fir", "nack", "remb", "transport-cc")
MAX_BOUND_SSRCS = 32  # media + RTX streams one connection may publish (3 tracks x 3 layers x 2, with room)
ESTIMATE_MAX_AGE = 5.0  # seconds a subscriber's REMB stays its budget
CONGESTION_RATIO = 0.9  # a REMB below this share of what its streams are sent means congestion...
CONFIRM_REMBS = 2  # ... once this many REMBs in a row have not risen
LOSS_MAX_AGE = 5.0  # seconds a subscriber's receiver report counts
# transport-cc feedback messages read per second from one subscriber (browsers send 10-20); more are
# counted and dropped, so a subscriber cannot spend the server's CPU on feedback
TRANSPORT_FEEDBACK_PER_SECOND = 50.0


class PacketDemux:
    def __init__(self, link: Link, feedback_counts: dict[str, int] | None = None) -> None:
        # RTCP feedback received from subscribers, by kind (shared across connections for metrics)
        self.feedback_counts = feedback_counts if feedback_counts is not None else dict.fromkeys(FEEDBACK_KINDS, 0)
        self.link = link
        self._media: dict[int, Layer] = {}
        self._rtx: dict[int, Layer] = {}
        self._by_mid: dict[str, Producer] = {}
        self._consumers: dict[int, Consumer] = {}
        self.mid_extension_id: int | None = None
        self.rid_extension_id: int | None = None
        self.repaired_rid_extension_id: int | None = None
        self.unknown_packets = 0
        self.transport_cc_id: int | None = None
        self.transport_cc: TwccRecorder | None = None
        # the subscriber's own estimates (REMB) of its downlink: browsers send one for all the streams
        # they receive, aiortc one per stream; keyed by the first SSRC each message names
        self._estimates: dict[int, tuple[int, tuple[int, ...], float]] = {}
        # REMBs in a row that did not rise from the one before (a first one counts as rising): a
        # receiver's estimate starts low and climbs while it learns the link, and one dip is as often a
        # busy receiver as a full link; a link that cannot carry what it is sent keeps the estimate down
        self._not_rising: dict[int, int] = {}
        # the loss the subscriber reports per stream we send it: (fraction lost, when), our SSRCs only
        self._losses: dict[int, tuple[float, float]] = {}
        # our own estimate of the subscriber's downlink, when it gives transport-wide feedback on what
        # we send (the connection stamps the sequence numbers and records what it sent here)
        self.downlink_estimator: DownlinkEstimator | None = None
        self._transport_feedback_at = 0.0
        self._feedback_tokens = TRANSPORT_FEEDBACK_PER_SECOND
        self._feedback_tokens_at = 0.0
        self.bad_transport_feedback = 0
        self.refused_transport_feedback = 0

    # --- registration ----------------------------------------------------------------------------

    def add_producer(self, producer: Producer, mid: str) -> None:
        self._by_mid[mid] = producer
        for layer in producer.layers:
            if layer.media_ssrc is not None:
                self._media.setdefault(layer.media_ssrc, layer)
            if layer.rtx_ssrc is not None:
                self._rtx.setdefault(layer.rtx_ssrc, layer)

    def remove_producer(self, producer: Producer) -> None:
        for table in (self._media, self._rtx):
            for ssrc in [k for k, v in table.items() if v.producer is producer]:
                del table[ssrc]
        for mid in [k for k, v in self._by_mid.items() if v is producer]:
            del self._by_mid[mid]

    def add_consumer(self, consumer: Consumer) -> None:
        self._consumers[consumer.ssrc] = consumer
        if consumer.rtx_ssrc is not None:
            self._consumers[consumer.rtx_ssrc] = consumer

    def remove_consumer(self, consumer: Consumer) -> None:
        for key in [k for k, v in self._consumers.items() if v is consumer]:
            del self._consumers[key]

    def enable_transport_cc(self, extension_id: int, sender_ssrc: int) -> None:
        """The publisher negotiated transport-wide sequence numbers: record arrivals for its feedback."""
        self.transport_cc_id = extension_id
        if self.transport_cc is None:
            self.transport_cc = TwccRecorder(sender_ssrc)

    @property
    def producers(self) -> list[Producer]:
        return list(dict.fromkeys(self._by_mid.values()))

    @property
    def consumers(self) -> list[Consumer]:
        return list(dict.fromkeys(self._consumers.values()))  # media and RTX SSRCs name the same consumer

    def receiver_loss(self, now: float) -> float:
        """The worst loss fraction in the subscriber's fresh receiver reports (0 without any)."""
        return max((fraction for fraction, at in self._losses.values() if now - at <= LOSS_MAX_AGE), default=0.0)

    def sent_bps(self) -> float:
        return sum(c.rate_bps for c in self.consumers)

    def subscriber_estimate(self, now: float) -> tuple[float | None, bool]:
        """(downlink estimate, congested) from the subscriber's fresh REMBs; (None, False) without any.

        Each REMB covers the streams it names; it signals congestion when it is below what those
        streams are being sent and the last `CONFIRM_REMBS` REMBs did not rise (Chrome's receive-side
        estimate starts near 300 kbit/s and climbs for many seconds, and dips once when its machine is
        busy: neither is a reason to pause anything).
        Streams no REMB covers count at the rate they are sent. A subscriber that gives transport-wide
        feedback gets our own estimate instead (router/downlink_estimator.py): congestion is then a
        decrease the estimator just made.
        """
        estimator = self.downlink_estimator
        if estimator is not None and now - self._transport_feedback_at <= ESTIMATE_MAX_AGE:
            return estimator.estimate_bps, estimator.congested(now)
        total = 0.0
        congested = False
        covered: set[int] = set()
        fresh = False
        for bps, ssrcs, at in self._estimates.values():
            if now - at > ESTIMATE_MAX_AGE:
                continue
            fresh = True
            sent = sum(c.rate_bps for c in (self._consumers.get(ssrc) for ssrc in ssrcs) if c is not None)
            if sent > 0 and bps < CONGESTION_RATIO * sent and self._not_rising.get(ssrcs[0], CONFIRM_REMBS) >= CONFIRM_REMBS:
                congested = True
            total += bps
            covered.update(ssrcs)
        if not fresh:
            return None, False
        total += sum(c.rate_bps for c in self.consumers if c.ssrc not in covered)
        return total, congested

    def _on_transport_feedback(self, estimator: DownlinkEstimator, packet: bytes, now: float) -> None:
        tokens = min(TRANSPORT_FEEDBACK_PER_SECOND,
                     self._feedback_tokens + (now - self._feedback_tokens_at) * TRANSPORT_FEEDBACK_PER_SECOND)
        self._feedback_tokens_at = now
        if tokens < 1.0:
            self._feedback_tokens = tokens
            self.refused_transport_feedback += 1
            return
        self._feedback_tokens = tokens - 1.0
        try:
            feedback = parse_feedback_fci(packet)
        except ValueError:
            self.bad_transport_feedback += 1
            return
        self.feedback_counts["transport-cc"] = self.feedback_counts.get("transport-cc", 0) + 1
        self._transport_feedback_at = now
        estimator.on_feedback(feedback, now)

    # --- packet path ---------------------------------------------------------------------------------

    def handle_rtp(self, data: bytes) -> None:
        ssrc = int.from_bytes(data[8:12], "big") if len(data) >= 12 else -1
        if self.transport_cc_id is not None and data[0] & 0x10:
            self._record_transport_cc(data)
        layer = self._media.get(ssrc)
        if layer is not None:
            layer.receive(data)
            return
        layer = self._rtx.get(ssrc)
        if layer is not None:
            layer.receive_rtx(data)
            return
        if ssrc >= 0 and self._learn(data, ssrc):
            self.handle_rtp(data)
        else:
            self.unknown_packets += 1

    def _record_transport_cc(self, data: bytes) -> None:
        assert self.transport_cc is not None and self.transport_cc_id is not None
        try:
            info = parse_rtp(data)
        except ValueError:
            return
        value = find_extension(data, info, self.transport_cc_id)
        if value is not None and len(value) == 2:
            self.transport_cc.record((value[0] << 8) | value[1], time.monotonic_ns() // 1000)

    def transport_feedback(self) -> list[bytes]:
        """Feedback for what arrived since the last call (for the publisher's congestion control)."""
        if self.transport_cc is None or not self.transport_cc.pending:
            return []
        media = next((layer.media_ssrc for layer in self._media.values() if layer.media_ssrc is not None), 0)
        return self.transport_cc.feedback(media)

    def _learn(self, data: bytes, ssrc: int) -> bool:
        """Bind an SSRC the SDP did not announce, from its mid and rid extensions and payload type."""
        if self.mid_extension_id is None or len(self._media) + len(self._rtx) >= MAX_BOUND_SSRCS:
            return False
        try:
            info = parse_rtp(data)
        except ValueError:
            return False
        value = find_extension(data, info, self.mid_extension_id)
        if value is None:
            return False
        producer = self._by_mid.get(bytes(value).decode("ascii", "replace"))
        if producer is None or producer.closed:
            return False
        is_media = info.payload_type == producer.codec.payload_type
        is_rtx = producer.codec.rtx_payload_type is not None and info.payload_type == producer.codec.rtx_payload_type
        if not (is_media or is_rtx):
            return False
        layer: Layer | None
        if producer.simulcast:
            ext_id = self.rid_extension_id if is_media else self.repaired_rid_extension_id
            rid = find_extension(data, info, ext_id) if ext_id is not None else None
            layer = producer.layer_by_rid(bytes(rid).decode("ascii", "replace")) if rid is not None else None
        else:
            layer = producer.layers[0]
        if layer is None:
            return False
        if is_media and layer.media_ssrc is None and ssrc not in self._rtx:
            layer.media_ssrc = ssrc
            self._media[ssrc] = layer
            return True
        if is_rtx and layer.rtx_ssrc is None and ssrc not in self._media:
            layer.rtx_ssrc = ssrc
            self._rtx[ssrc] = layer
            return True
        return False  # that layer's stream is bound already: never re-bind

    def handle_rtcp(self, data: bytes) -> None:
        now = time.monotonic()
        estimator = self.downlink_estimator
        if estimator is not None:
            for packet in iter_transport_feedback(data):
                self._on_transport_feedback(estimator, packet, now)
        for feedback in parse_feedback(data):
            kind = feedback.kind
            if kind in self.feedback_counts:
                self.feedback_counts[kind] += 1
            if kind == "sr":
                layer = self._media.get(feedback.ssrc)
                if layer is not None:
                    layer.on_sender_report(feedback.ntp_timestamp, feedback.rtp_timestamp)
            elif kind == "rr":
                report = feedback.report
                if report is not None and feedback.media_ssrc in self._consumers:
                    self.link.rtt.report(report.lsr, report.dlsr, now)
                    self._losses[feedback.media_ssrc] = (report.fraction_lost / 256.0, now)
                    if len(self._losses) > 2 * len(self._consumers) + 8:  # forget SSRCs no longer ours
                        self._losses = {k: v for k, v in self._losses.items() if k in self._consumers}
            elif kind in ("pli", "fir"):
                consumer = self._consumers.get(feedback.media_ssrc)
                if consumer is not None:
                    consumer.handle_keyframe_request()
            elif kind == "nack":
                consumer = self._consumers.get(feedback.media_ssrc)
                if consumer is not None:
                    consumer.handle_nack(feedback.lost)
            elif kind == "remb":
                ours = [ssrc for ssrc in feedback.ssrcs[:64] if ssrc in self._consumers]
                if ours:
                    estimates = self._estimates
                    previous = estimates.get(ours[0])
                    rising = previous is None or feedback.bitrate > previous[0]
                    self._not_rising[ours[0]] = 0 if rising else min(self._not_rising.get(ours[0], 0) + 1, 1000)
                    estimates[ours[0]] = (feedback.bitrate, tuple(ours), now)
                    if len(estimates) > 2 * len(self._consumers) + 8:  # forget SSRCs no longer ours
                        for key in [k for k in estimates if k not in self._consumers]:
                            del estimates[key]
                            self._not_rising.pop(key, None)
