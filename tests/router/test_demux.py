"""router.demux: one connection's RTP and RTCP routed to its producers and consumers."""

from __future__ import annotations

from forwarding_build import KEYFRAME, PUBLISHER_IDS, Wire, consumer_of, video_producer
from rtp_build import MID, build

from router.demux import PacketDemux
from router.rtcp_feedback import build_nack, build_pli, build_remb, parse_feedback
from router.rtp_header import parse_rtp
from router.rtx import wrap_rtx


def test_media_and_rtx_are_routed_by_the_announced_ssrcs():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    demux = PacketDemux()
    demux.add_producer(producer, "0")
    demux.handle_rtp(build(sequence=7, ssrc=0x1111, payload=KEYFRAME))
    demux.handle_rtp(build(sequence=9, ssrc=0x1111, payload=KEYFRAME))
    lost = build(sequence=8, ssrc=0x1111, payload=KEYFRAME)
    rtx = wrap_rtx(lost, parse_rtp(lost), rtx_ssrc=0x2222, rtx_payload_type=97, rtx_sequence=1)
    demux.handle_rtp(rtx)  # the retransmission we asked for is forwarded as the media it restores
    demux.handle_rtp(rtx)  # a duplicate is not
    demux.handle_rtp(build(sequence=1, ssrc=0x9999, payload=KEYFRAME))  # unknown SSRC, no mid: dropped
    sequences = [parse_rtp(p).sequence for p in wire.sent]
    assert len(sequences) == 3 and demux.unknown_packets == 1
    assert sequences[2] == sequences[0] + 1  # the gap is filled in place


def test_an_unannounced_ssrc_is_learnt_from_the_mid_extension_and_payload_type():
    producer = video_producer(media_ssrc=None, rtx_ssrc=None)
    wire = Wire()
    consumer_of(producer, wire)
    demux = PacketDemux()
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    demux.add_producer(producer, "3")
    demux.handle_rtp(build(payload_type=97, sequence=1, ssrc=0x7777, ids=PUBLISHER_IDS, mid="3",
                           payload=b"\x00\x01" + KEYFRAME))  # RTX padding first, as Chrome does
    demux.handle_rtp(build(sequence=5, ssrc=0x4444, ids=PUBLISHER_IDS, mid="3", payload=KEYFRAME))
    assert producer.media_ssrc == 0x4444 and producer.rtx_ssrc == 0x7777
    assert len(wire.sent) == 1


def test_subscriber_feedback_reaches_the_right_consumer_and_producer():
    rtcp = Wire()
    producer = video_producer(rtcp)
    wire = Wire()
    consumer = consumer_of(producer, wire, ssrc=0x5000)
    demux = PacketDemux()
    demux.add_producer(producer, "0")
    demux.add_consumer(consumer)
    producer.receive_rtp(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    sent_seq = parse_rtp(wire.sent[0]).sequence
    demux.handle_rtcp(build_pli(0xBBBB, 0x5000) + build_nack(0xBBBB, 0x5000, [sent_seq])
                      + build_remb(0xBBBB, 700_000, [0x5000]))
    assert any(f.kind == "pli" and f.media_ssrc == 0x1111 for p in rtcp.sent for f in parse_feedback(p))
    assert consumer.retransmissions == 1
    assert demux.feedback_counts == {"pli": 1, "fir": 0, "nack": 1, "remb": 1}
    demux.remove_consumer(consumer)
    demux.handle_rtcp(build_pli(0xBBBB, 0x5000))
    assert demux.feedback_counts["pli"] == 2  # counted, but routed nowhere
