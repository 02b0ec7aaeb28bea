"""router.demux: one connection's RTP and RTCP routed to its producers' layers and its consumers."""

from __future__ import annotations

from aiortc.rtp import RtcpRrPacket
from forwarding_build import DELTA, KEYFRAME, PUBLISHER_IDS, Wire, consumer_of, video_producer
from rtp_build import MID, RID, build

from router.demux import MAX_BOUND_SSRCS, PacketDemux
from router.rtcp_feedback import build_fir, build_nack, build_pli, build_remb, parse_feedback
from router.rtp_header import parse_rtp
from router.rtx import wrap_rtx

REPAIRED_RID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"


def plis(link: Wire) -> list[int]:
    return [f.media_ssrc for p in link.rtcp for f in parse_feedback(p) if f.kind == "pli"]


def test_media_and_rtx_are_routed_by_the_announced_ssrcs():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    demux = PacketDemux(Wire())
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
    demux = PacketDemux(Wire())
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    demux.add_producer(producer, "3")
    demux.handle_rtp(build(payload_type=97, sequence=1, ssrc=0x7777, ids=PUBLISHER_IDS, mid="3",
                           payload=b"\x00\x01" + KEYFRAME))  # RTX padding first, as Chrome does
    demux.handle_rtp(build(sequence=5, ssrc=0x4444, ids=PUBLISHER_IDS, mid="3", payload=KEYFRAME))
    layer = producer.layers[0]
    assert layer.media_ssrc == 0x4444 and layer.rtx_ssrc == 0x7777
    assert len(wire.sent) == 1


def test_a_bound_stream_is_never_rebound_to_another_ssrc():
    producer = video_producer(media_ssrc=None, rtx_ssrc=None)
    demux = PacketDemux(Wire())
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    demux.add_producer(producer, "3")
    demux.handle_rtp(build(sequence=5, ssrc=0x4444, ids=PUBLISHER_IDS, mid="3", payload=KEYFRAME))
    demux.handle_rtp(build(sequence=6, ssrc=0x5555, ids=PUBLISHER_IDS, mid="3", payload=KEYFRAME))
    assert producer.layers[0].media_ssrc == 0x4444 and demux.unknown_packets == 1
    assert producer.layers[0].packets == 1


def test_a_bound_rtx_stream_is_never_rebound_and_media_never_taken_for_rtx():
    producer = video_producer(media_ssrc=None, rtx_ssrc=None)
    demux = PacketDemux(Wire())
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    demux.add_producer(producer, "3")
    demux.handle_rtp(build(payload_type=97, sequence=1, ssrc=0x7777, ids=PUBLISHER_IDS, mid="3", payload=b"\x00\x01"))
    demux.handle_rtp(build(payload_type=97, sequence=1, ssrc=0x8888, ids=PUBLISHER_IDS, mid="3", payload=b"\x00\x01"))
    demux.handle_rtp(build(sequence=5, ssrc=0x4444, ids=PUBLISHER_IDS, mid="3", payload=KEYFRAME))
    # the media SSRC sending with the RTX payload type: still the media stream, not a second RTX one
    demux.handle_rtp(build(payload_type=97, sequence=6, ssrc=0x4444, ids=PUBLISHER_IDS, mid="3", payload=KEYFRAME))
    layer = producer.layers[0]
    assert (layer.media_ssrc, layer.rtx_ssrc) == (0x4444, 0x7777) and demux.unknown_packets == 1
    assert sorted(demux._media) == [0x4444] and sorted(demux._rtx) == [0x7777]


def test_simulcast_layers_are_learnt_from_their_rids_and_rtx_from_the_repaired_rid():
    ids = {**PUBLISHER_IDS, REPAIRED_RID: 11}
    producer = video_producer(media_ssrc=None, rtx_ssrc=None, rids=("q", "h", "f"))
    producer.extensions = ids
    demux = PacketDemux(Wire())
    demux.mid_extension_id, demux.rid_extension_id = ids[MID], ids[RID]
    demux.repaired_rid_extension_id = ids[REPAIRED_RID]
    demux.add_producer(producer, "1")
    for rid, ssrc in (("f", 0x30), ("q", 0x10), ("h", 0x20)):
        demux.handle_rtp(build(sequence=1, ssrc=ssrc, ids=ids, mid="1", rtp_stream_id=rid, payload=KEYFRAME))
    # RTX of the middle layer names it with the repaired rid (aiortc's builder has no such field:
    # the rid extension id is reused under the repaired-rid URI's id)
    rtx = build(payload_type=97, sequence=1, ssrc=0x21, ids={MID: ids[MID], RID: 11}, mid="1",
                rtp_stream_id="h", payload=b"\x00\x00" + KEYFRAME)
    demux.handle_rtp(rtx)
    assert [layer.media_ssrc for layer in producer.layers] == [0x10, 0x20, 0x30]
    assert producer.layers[1].rtx_ssrc == 0x21 and producer.layers[0].rtx_ssrc is None
    # later packets without any extension still reach their layer
    demux.handle_rtp(build(sequence=2, ssrc=0x20, payload=KEYFRAME))
    assert producer.layers[1].packets == 2


def test_a_connection_can_bind_only_so_many_streams():
    producer = video_producer(media_ssrc=None, rtx_ssrc=None)
    demux = PacketDemux(Wire())
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    for i in range(MAX_BOUND_SSRCS + 5):
        demux.add_producer(video_producer(media_ssrc=None, rtx_ssrc=None), str(i))
        demux.handle_rtp(build(sequence=1, ssrc=0x100 + i, ids=PUBLISHER_IDS, mid=str(i), payload=KEYFRAME))
    assert len(demux._media) + len(demux._rtx) <= MAX_BOUND_SSRCS and producer.layers[0].media_ssrc is None


def test_subscriber_feedback_reaches_the_right_consumer_and_layer():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer = consumer_of(producer, wire, ssrc=0x5000)
    demux = PacketDemux(wire)
    demux.add_producer(producer, "0")
    demux.add_consumer(consumer)
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    producer.layers[0].keyframes.reset()
    link.rtcp.clear()
    sent_seq = parse_rtp(wire.sent[0]).sequence
    demux.handle_rtcp(build_pli(0xBBBB, 0x5000) + build_nack(0xBBBB, 0x5000, [sent_seq])
                      + build_remb(0xBBBB, 700_000, [0x5000]))
    assert plis(link) == [0x1111]
    assert consumer.retransmissions == 1
    assert demux.feedback_counts == {"pli": 1, "fir": 0, "nack": 1, "remb": 1, "transport-cc": 0}
    assert demux.subscriber_estimate(__import__("time").monotonic())[0] == 700_000
    demux.remove_consumer(consumer)
    demux.handle_rtcp(build_pli(0xBBBB, 0x5000))
    assert demux.feedback_counts["pli"] == 2  # counted, but routed nowhere


def test_fir_asks_the_publisher_for_a_keyframe_like_pli():
    link = Wire()
    producer = video_producer(link)
    consumer = consumer_of(producer, Wire(), ssrc=0x5000)
    demux = PacketDemux(Wire())
    demux.add_consumer(consumer)
    producer.layers[0].keyframes.reset()
    link.rtcp.clear()
    demux.handle_rtcp(build_fir(0xBBBB, 0x5000, seq_nr=3))
    assert plis(link) == [0x1111] and demux.feedback_counts["fir"] == 1


def subscriber_demux(sent_bps: float) -> PacketDemux:
    """A subscriber's demux with one video consumer (SSRC 0x5000) being sent `sent_bps`."""
    wire = Wire()
    consumer = consumer_of(video_producer(), wire, ssrc=0x5000)
    demux = PacketDemux(wire)
    demux.add_consumer(consumer)
    consumer.rate_bps = sent_bps
    return demux


def test_a_remb_climbing_from_below_what_its_streams_get_is_a_receiver_learning_not_congestion():
    demux = subscriber_demux(sent_bps=1_500_000)
    now = __import__("time").monotonic()
    for bps in (300_000, 324_000, 350_000):  # Chrome's first REMBs in a call: low, then rising
        demux.handle_rtcp(build_remb(0xBBBB, bps, [0x5000]))
        assert demux.subscriber_estimate(now) == (bps, False)
    demux.handle_rtcp(build_remb(0xBBBB, 350_000, [0x5000]))  # no longer rising, once: a busy receiver?
    assert demux.subscriber_estimate(now) == (350_000, False)
    demux.handle_rtcp(build_remb(0xBBBB, 340_000, [0x5000]))  # twice in a row, below what it gets: congestion
    assert demux.subscriber_estimate(now) == (340_000, True)
    demux.handle_rtcp(build_remb(0xBBBB, 400_000, [0x5000]))
    assert demux.subscriber_estimate(now) == (400_000, False)
    demux.handle_rtcp(build_remb(0xBBBB, 200_000, [0x5000]))  # one fall, then it recovers: no congestion
    assert demux.subscriber_estimate(now) == (200_000, False)
    demux.handle_rtcp(build_remb(0xBBBB, 220_000, [0x5000]))
    assert demux.subscriber_estimate(now) == (220_000, False)


def test_a_remb_below_what_its_streams_get_is_congestion():
    demux = subscriber_demux(sent_bps=1_000_000)
    now = __import__("time").monotonic()
    demux.handle_rtcp(build_remb(0xBBBB, 1_400_000, [0x5000]))
    assert demux.subscriber_estimate(now) == (1_400_000, False)
    demux.handle_rtcp(build_remb(0xBBBB, 250_000, [0x5000]))
    assert demux.subscriber_estimate(now) == (250_000, False)  # one fall is not enough
    demux.handle_rtcp(build_remb(0xBBBB, 250_000, [0x5000]))
    assert demux.subscriber_estimate(now) == (250_000, True)
    assert demux.subscriber_estimate(now + 60) == (None, False)  # stale estimates count for nothing


def test_the_subscribers_worst_fresh_loss_report_counts_and_only_for_our_streams():
    from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

    wire = Wire()
    demux = PacketDemux(wire)
    for ssrc in (0x5000, 0x6000):
        demux.add_consumer(consumer_of(video_producer(), wire, ssrc=ssrc))
    now = __import__("time").monotonic()
    assert demux.receiver_loss(now) == 0.0

    def report(ssrc: int, fraction: int) -> bytes:
        block = RtcpReceiverInfo(ssrc=ssrc, fraction_lost=fraction, packets_lost=0, highest_sequence=1, jitter=0,
                                 lsr=0, dlsr=0)
        return bytes(RtcpRrPacket(ssrc=0xBBBB, reports=[block]))

    demux.handle_rtcp(report(0x5000, 13))  # 13/256: about 5%
    demux.handle_rtcp(report(0x6000, 0))
    demux.handle_rtcp(report(0x7000, 255))  # not a stream we send it
    assert demux.receiver_loss(now) == 13 / 256
    assert demux.receiver_loss(now + 10.0) == 0.0  # old news


def test_receiver_reports_about_our_sender_reports_give_the_round_trip_time():
    wire = Wire()
    consumer = consumer_of(video_producer(), wire, ssrc=0x5000)
    demux = PacketDemux(wire)
    demux.add_consumer(consumer)
    from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

    now = __import__("time").monotonic()
    wire.rtt.sr_sent(0xABCD_1234_5678_0000, now - 0.080)
    block = RtcpReceiverInfo(ssrc=0x5000, fraction_lost=0, packets_lost=0, highest_sequence=1, jitter=0,
                             lsr=0x1234_5678, dlsr=int(0.030 * 65536))
    demux.handle_rtcp(bytes(RtcpRrPacket(ssrc=0xBBBB, reports=[block])))
    assert 45 <= wire.rtt.rtt_ms <= 60


def test_transport_wide_sequence_numbers_are_recorded_and_fed_back_for_the_first_media_stream():
    from rtp_build import TWCC

    from router.twcc import parse_feedback_fci

    producer = video_producer(media_ssrc=0x1111)
    demux = PacketDemux(Wire())
    demux.add_producer(producer, "0")
    assert demux.transport_feedback() == []  # not negotiated: nothing recorded, nothing sent
    ids = {**PUBLISHER_IDS, TWCC: 5}
    demux.handle_rtp(build(sequence=1, ssrc=0x1111, ids=ids, transport_sequence_number=0x0102, payload=KEYFRAME))
    demux.enable_transport_cc(5, sender_ssrc=0xAAAA)
    recorder = demux.transport_cc
    demux.enable_transport_cc(5, sender_ssrc=0xBBBB)
    assert demux.transport_cc is recorder  # negotiating again keeps what was recorded
    assert demux.transport_feedback() == []  # nothing arrived yet
    for seq, tsn in ((2, 0x0102), (3, 0x0103), (4, 0x0105)):
        demux.handle_rtp(build(sequence=seq, ssrc=0x1111, ids=ids, transport_sequence_number=tsn, payload=DELTA))
    demux.handle_rtp(build(sequence=5, ssrc=0x1111, payload=DELTA))  # no extension: not recorded
    demux.handle_rtp(build(sequence=6, ssrc=0x1111, ids={TWCC: 6}, transport_sequence_number=0x0200, payload=DELTA))
    (message,) = [parse_feedback_fci(p) for p in demux.transport_feedback()]
    assert (message.sender_ssrc, message.media_ssrc, message.base_sequence) == (0xAAAA, 0x1111, 0x0102)
    assert [a is None for a in message.arrivals] == [False, False, True, False]
    assert demux.transport_feedback() == [] and producer.layers[0].packets == 6
    demux.handle_rtp(b"\x90\x60\x00")  # too short to parse: counted as unknown, nothing recorded
    assert demux.unknown_packets == 1 and demux.transport_feedback() == []


def test_a_removed_producer_gives_up_its_ssrcs_and_its_mid():
    first, second = video_producer(media_ssrc=0x1111, rtx_ssrc=0x2222), video_producer(media_ssrc=0x3333, rtx_ssrc=None)
    demux = PacketDemux(Wire())
    demux.add_producer(first, "0")
    demux.add_producer(second, "1")
    demux.remove_producer(first)
    assert demux.producers == [second] and sorted(demux._media) == [0x3333] and demux._rtx == {}
    demux.handle_rtp(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    demux.handle_rtp(build(sequence=1, ssrc=0x3333, payload=KEYFRAME))
    assert demux.unknown_packets == 1 and first.layers[0].packets == 0 and second.layers[0].packets == 1


def test_sender_reports_reach_the_layer_of_their_ssrc_and_unknown_packets_are_counted():
    from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket

    producer = video_producer(media_ssrc=0x1111)
    demux = PacketDemux(Wire())
    demux.add_producer(producer, "0")
    info = RtcpSenderInfo(ntp_timestamp=0xE000_0000_0000_0001, rtp_timestamp=4242, packet_count=1, octet_count=1)
    demux.handle_rtcp(bytes(RtcpSrPacket(ssrc=0x9999, sender_info=info)))
    assert producer.layers[0].sender_report is None
    demux.handle_rtcp(bytes(RtcpSrPacket(ssrc=0x1111, sender_info=info)))
    assert producer.layers[0].sender_report == (0xE000_0000_0000_0001, 4242)
    for ssrc in (0, 0x7777, 0x7778):
        demux.handle_rtp(build(sequence=1, ssrc=ssrc, payload=KEYFRAME))
    assert demux.unknown_packets == 3


def test_a_consumer_is_found_by_its_rtx_ssrc_too_and_removal_forgets_only_it():
    wire = Wire()
    producer = video_producer()
    one, two = consumer_of(producer, wire, ssrc=0x5000), consumer_of(producer, wire, ssrc=0x6000)
    demux = PacketDemux(wire)
    demux.add_consumer(one)
    demux.add_consumer(two)
    assert demux._consumers == {0x5000: one, 0x5001: one, 0x6000: two, 0x6001: two}
    assert demux.consumers == [one, two]
    demux.remove_consumer(one)
    assert demux._consumers == {0x6000: two, 0x6001: two}


def test_round_trip_samples_come_only_from_reports_about_our_streams():
    from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

    wire = Wire()
    demux = PacketDemux(wire)
    demux.add_consumer(consumer_of(video_producer(), wire, ssrc=0x5000))
    now = __import__("time").monotonic()
    wire.rtt.sr_sent(0xABCD_1234_5678_0000, now - 0.080)
    block = RtcpReceiverInfo(ssrc=0x7777, fraction_lost=0, packets_lost=0, highest_sequence=1, jitter=0,
                             lsr=0x1234_5678, dlsr=0)
    demux.handle_rtcp(bytes(RtcpRrPacket(ssrc=0xBBBB, reports=[block])))
    assert wire.rtt.samples == 0  # a report about someone else's stream


def test_remb_estimates_add_up_expire_and_forget_ssrcs_no_longer_ours():
    wire = Wire()
    producer = video_producer()
    consumers = [consumer_of(producer, wire, ssrc=0x5000 + 0x10 * i) for i in range(3)]
    demux = PacketDemux(wire)
    for c in consumers:
        demux.add_consumer(c)
        c.rate_bps = 100_000
    now = __import__("time").monotonic()
    assert demux.subscriber_estimate(now) == (None, False)
    demux.handle_rtcp(build_remb(0xBBBB, 90_000, [0x5000]))  # exactly 0.9 of what it is sent: not congested
    demux.handle_rtcp(build_remb(0xBBBB, 300_000, [0x5010, 0x9999]))
    total, congested = demux.subscriber_estimate(now)
    assert total == 90_000 + 300_000 + 100_000 and congested is False  # the third is counted at its rate
    demux.handle_rtcp(build_remb(0xBBBB, 89_000, [0x5000]))
    demux.handle_rtcp(build_remb(0xBBBB, 89_000, [0x5000]))  # twice in a row without rising
    assert demux.subscriber_estimate(now) == (489_000, True)
    consumers[1].rate_bps = 0  # a stream sent nothing: its REMB cannot show congestion
    demux.handle_rtcp(build_remb(0xBBBB, 0, [0x5010]))
    assert demux.subscriber_estimate(now)[1] is True  # still the first one
    assert demux.subscriber_estimate(now + 5.0)[0] == 89_000 + 0 + 100_000  # 5 s old: still fresh
    assert demux.subscriber_estimate(now + 5.5) == (None, False)
    demux.handle_rtcp(build_remb(0xBBBB, 1, [0x9999]))  # none of ours: ignored
    assert 0x9999 not in demux._estimates
    many = [0x5020] + [0x8000 + i for i in range(70)]
    demux.handle_rtcp(build_remb(0xBBBB, 5, many))
    assert demux._estimates[0x5020][1] == (0x5020,)
    for c in consumers[:2]:
        demux.remove_consumer(c)
    for _ in range(8):
        demux.handle_rtcp(build_remb(0xBBBB, 7, [0x5020]))
    assert set(demux._estimates) <= {0x5000, 0x5010, 0x5020}
    assert len(demux._consumers) == 2  # 0x5020 and its RTX SSRC: room for 2 x 2 + 8 = 12 estimates
    demux._estimates.update({0x7000 + i: (1, (0x7000 + i,), now) for i in range(9)})
    demux.handle_rtcp(build_remb(0xBBBB, 7, [0x5020]))
    assert len(demux._estimates) == 12  # at the limit: kept
    demux._estimates[0x7100] = (1, (0x7100,), now)
    demux.handle_rtcp(build_remb(0xBBBB, 7, [0x5020]))
    assert set(demux._estimates) == {0x5020}  # more than 2 x consumers + 8: the stale ones go


def test_packets_that_cannot_be_bound_are_counted_as_unknown_never_bound():
    ids = {**PUBLISHER_IDS, REPAIRED_RID: 11}
    plain = video_producer(media_ssrc=None, rtx_ssrc=None)
    layered = video_producer(media_ssrc=None, rtx_ssrc=None, rids=("q", "h"))
    closed = video_producer(media_ssrc=None, rtx_ssrc=None)
    demux = PacketDemux(Wire())
    demux.mid_extension_id = ids[MID]
    demux.add_producer(plain, "0")
    demux.add_producer(layered, "1")
    demux.add_producer(closed, "2")
    closed.close()
    bad = [
        build(sequence=1, ssrc=0x100, payload=KEYFRAME),  # no mid at all
        build(sequence=1, ssrc=0x101, ids=ids, mid="9", payload=KEYFRAME),  # nobody's mid
        build(sequence=1, ssrc=0x102, ids=ids, mid="2", payload=KEYFRAME),  # a closed producer's
        build(payload_type=63, sequence=1, ssrc=0x103, ids=ids, mid="0", payload=KEYFRAME),  # not its codec
        build(sequence=1, ssrc=0x104, ids=ids, mid="1", payload=KEYFRAME),  # simulcast without a rid
        build(sequence=1, ssrc=0x105, ids=ids, mid="1", rtp_stream_id="f", payload=KEYFRAME),  # no such layer
        build(sequence=1, ssrc=0x106, ids=ids, mid="\\xff", payload=KEYFRAME),  # not even ASCII
        build(sequence=1, ssrc=0x107, ids=ids, mid="1", rtp_stream_id="\\xffq", payload=KEYFRAME),
        b"\\x90\\x60\\x00\\x01" + bytes(4) + b"\\x00\\x00\\x01\\x08" + b"\\xbe\\xde\\x00\\x09",  # a truncated extension
    ]
    for packet in bad:
        demux.handle_rtp(packet)
    assert demux.unknown_packets == len(bad) and demux._media == {} and demux._rtx == {}
    demux.rid_extension_id = None  # a simulcast producer but no rid negotiated: nothing to go by
    demux.handle_rtp(build(sequence=1, ssrc=0x108, ids=ids, mid="1", rtp_stream_id="q", payload=KEYFRAME))
    assert demux.unknown_packets == len(bad) + 1


def test_ssrc_zero_and_header_only_packets_are_ordinary_streams():
    producer = video_producer(media_ssrc=None, rtx_ssrc=None)
    demux = PacketDemux(Wire())
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    demux.add_producer(producer, "0")
    demux.handle_rtp(build(sequence=1, ssrc=0, ids=PUBLISHER_IDS, mid="0", payload=KEYFRAME))
    assert producer.layers[0].media_ssrc == 0
    announced = video_producer(media_ssrc=0x81234567, rtx_ssrc=None)
    demux.add_producer(announced, "1")
    demux.handle_rtp(bytes([0x80, 96, 0, 1]) + bytes(4) + (0x81234567).to_bytes(4, "big"))  # 12 bytes, no payload
    assert announced.layers[0].packets == 1 and demux.unknown_packets == 0


def test_media_and_rtx_streams_together_are_limited():
    demux = PacketDemux(Wire())
    demux.mid_extension_id = PUBLISHER_IDS[MID]
    for i in range(MAX_BOUND_SSRCS // 2):
        producer = video_producer(media_ssrc=None, rtx_ssrc=None)
        demux.add_producer(producer, str(i))
        demux.handle_rtp(build(sequence=1, ssrc=0x100 + i, ids=PUBLISHER_IDS, mid=str(i), payload=KEYFRAME))
        demux.handle_rtp(build(payload_type=97, sequence=1, ssrc=0x200 + i, ids=PUBLISHER_IDS, mid=str(i),
                               payload=b"\\x00\\x01"))
    assert len(demux._media) == len(demux._rtx) == MAX_BOUND_SSRCS // 2
    extra = video_producer(media_ssrc=None, rtx_ssrc=None)
    demux.add_producer(extra, "x")
    demux.handle_rtp(build(sequence=1, ssrc=0x300, ids=PUBLISHER_IDS, mid="x", payload=KEYFRAME))
    assert extra.layers[0].media_ssrc is None


def test_feedback_counts_can_be_shared_and_remb_reads_at_most_64_ssrcs():
    shared = dict.fromkeys(("pli", "fir", "nack", "remb"), 0)
    wire = Wire()
    consumer = consumer_of(video_producer(), wire, ssrc=0x5000)
    one, two = PacketDemux(wire, shared), PacketDemux(wire, shared)
    for demux in (one, two):
        demux.add_consumer(consumer)
        demux.handle_rtcp(build_pli(0xBBBB, 0x5000))
    assert shared["pli"] == 2 and one.feedback_counts is shared
    one.handle_rtcp(build_remb(0xBBBB, 1_000, [0x9000 + i for i in range(64)] + [0x5000]))  # ours is the 65th
    assert one._estimates == {}


def test_estimates_expire_exactly_after_five_seconds_and_a_stale_one_hides_no_fresh_one():
    wire = Wire()
    producer = video_producer()
    first, second = consumer_of(producer, wire, ssrc=0x5000), consumer_of(producer, wire, ssrc=0x6000)
    demux = PacketDemux(wire)
    demux.add_consumer(first)
    demux.add_consumer(second)
    first.rate_bps = second.rate_bps = 1.0
    demux._estimates[0x5000] = (100_000, (0x5000,), 10.0)
    demux._estimates[0x6000] = (0, (0x6000,), 12.0)  # below 0.9 x 1 b/s: congestion
    assert demux.subscriber_estimate(15.0) == (100_000, True)
    assert demux.subscriber_estimate(15.001) == (0 + 1.0, True)  # the first is stale, the second still counts
    assert demux.subscriber_estimate(17.001) == (None, False)


def test_a_subscribers_transport_wide_feedback_drives_its_estimate_instead_of_remb():
    import time

    from router.downlink_estimator import DownlinkEstimator
    from router.twcc import build_feedback

    demux = subscriber_demux(sent_bps=1_000_000)
    now = time.monotonic()
    demux.handle_rtcp(build_remb(0xBBBB, 700_000, [0x5000]))
    assert demux.subscriber_estimate(now) == (700_000, False)  # REMB until transport-wide feedback comes
    demux.downlink_estimator = estimator = DownlinkEstimator(start_bps=900_000)
    for sequence in range(40):
        estimator.sent.record(sequence, sequence * 5_000, 1000)
    feedback = build_feedback(0xBBBB, 0x5000, 0, [64_000 + s * 5_000 for s in range(40)], 0)
    demux.handle_rtcp(bytes(RtcpRrPacket(ssrc=0xBBBB)) + feedback)  # inside a compound packet, after an RR
    assert demux.feedback_counts["transport-cc"] == 1
    estimate, congested = demux.subscriber_estimate(time.monotonic())
    assert estimate == estimator.estimate_bps and estimate >= 900_000 and not congested
    assert estimator.acked_bps() is not None
    demux.handle_rtcp(feedback[:-8])  # truncated: counted as bad, nothing else happens
    assert demux.bad_transport_feedback == 1 and demux.feedback_counts["transport-cc"] == 1
    # once the feedback stops, the REMB path answers again
    assert demux.subscriber_estimate(time.monotonic() + 60) == (None, False)


def test_transport_feedback_beyond_fifty_a_second_is_counted_and_dropped():
    from router.downlink_estimator import DownlinkEstimator
    from router.twcc import build_feedback

    demux = subscriber_demux(sent_bps=1_000_000)
    demux.downlink_estimator = DownlinkEstimator()
    feedback = build_feedback(0xBBBB, 0x5000, 0, [64_000], 0)
    for _ in range(200):  # a flood within a few milliseconds
        demux.handle_rtcp(feedback)
    assert 50 <= demux.feedback_counts["transport-cc"] <= 52
    assert demux.refused_transport_feedback == 200 - demux.feedback_counts["transport-cc"]
