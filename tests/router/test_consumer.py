"""router.consumer: what one subscriber receives, across layer switches, source switches and pauses."""

from __future__ import annotations

import random

from forwarding_build import (
    DELTA,
    KEYFRAME,
    PUBLISHER_IDS,
    VP8,
    Wire,
    consumer_of,
    simulcast_producer,
    video_producer,
)
from rtp_build import build

from router.consumer import MAX_RETRANSMIT_AGE
from router.producer import Producer
from router.rtcp_feedback import parse_feedback
from router.rtp_header import parse_rtp

NTP_BASE = 0xE000_0000 << 32


def ntp(seconds: float) -> int:
    return NTP_BASE + int(seconds * (1 << 32))


def test_forwarded_packets_carry_the_consumers_ssrc_payload_type_and_own_sequence():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    for i in range(5):
        producer.layers[0].receive(build(sequence=65533 + i & 0xFFFF, timestamp=1000 + 3000 * i, ssrc=0x1111,
                                         payload=KEYFRAME if i == 0 else DELTA))
    infos = [parse_rtp(p) for p in wire.sent]
    assert [i.ssrc for i in infos] == [0x5000] * 5 and {i.payload_type for i in infos} == {100}
    sequences = [i.sequence for i in infos]
    assert sequences[0] < 32768 and sequences == [(sequences[0] + k) & 0xFFFF for k in range(5)]
    assert [i.timestamp - infos[0].timestamp for i in infos] == [0, 3000, 6000, 9000, 12000]
    assert all(p[i.payload_start:] == q for p, i, q in zip(wire.sent, infos, [KEYFRAME] + [DELTA] * 4, strict=True))


def test_nack_is_answered_over_rtx_from_the_shared_cache_with_advancing_rtx_sequence():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    for seq in range(100, 105):
        producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    first, second = parse_rtp(wire.sent[1]), parse_rtp(wire.sent[2])
    consumer.handle_nack([first.sequence, second.sequence, (first.sequence + 5000) & 0xFFFF])
    assert len(wire.sent) == 7 and consumer.retransmissions == 2
    rtx = [parse_rtp(p) for p in wire.sent[5:]]
    assert {r.ssrc for r in rtx} == {0x5001} and {r.payload_type for r in rtx} == {101}
    assert rtx[1].sequence == (rtx[0].sequence + 1) & 0xFFFF
    osns = [int.from_bytes(p[r.payload_start:r.payload_start + 2], "big") for p, r in zip(wire.sent[5:], rtx, strict=True)]
    assert osns == [first.sequence, second.sequence]
    assert wire.sent[7 - 2][rtx[0].payload_start + 2:] == KEYFRAME


def test_a_packet_older_than_a_second_is_not_resent_and_a_keyframe_is_asked_instead():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    for seq in range(100, 103):
        layer.receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    out = [parse_rtp(p).sequence for p in wire.sent]
    sent, upstream = len(wire.sent), len(link.rtcp)
    for seq in (100, 101):  # arrived long ago (the subscriber is back from a network cut)
        slot = seq % layer.cache.capacity
        layer.cache._times[slot] -= MAX_RETRANSMIT_AGE + 0.01
    layer.keyframes.reset()
    consumer.handle_nack(out)
    assert consumer.retransmissions == 1 and consumer.too_old_to_resend == 2
    assert len(wire.sent) == sent + 1  # only the fresh one
    upstream_now = [f for p in link.rtcp[upstream:] for f in parse_feedback(p)]
    assert [(f.kind, f.media_ssrc) for f in upstream_now] == [("pli", 0x1111)]  # no NACK for them: a keyframe


def test_a_repeated_nack_within_a_round_trip_is_not_answered_twice():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    for seq in range(1, 4):
        producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    wanted = parse_rtp(wire.sent[1]).sequence
    for _ in range(50):
        consumer.handle_nack([wanted])
    assert consumer.retransmissions == 1


def test_retransmissions_stop_when_the_subscribers_budget_is_spent():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    for seq in range(1, 601):
        producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME + bytes(1000)))
    sequences = [parse_rtp(p).sequence for p in wire.sent]
    for start in range(0, 600, 60):
        consumer.handle_nack(sequences[start:start + 60])
    resent = consumer.retransmissions * 1100
    assert 0 < consumer.retransmissions < 600 and resent <= 256_000 / 8 * 1.1
    assert wire.retransmit_budget.refused > 0


def test_a_nack_for_a_packet_the_server_never_got_is_asked_upstream():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.receive(build(sequence=2, ssrc=0x1111, payload=DELTA))
    layer.receive(build(sequence=4, ssrc=0x1111, payload=DELTA))  # 3 lost upstream: nacked once
    layer.nack.reset()  # the server gave up on it (too many tries)...
    layer.receive(build(sequence=5, ssrc=0x1111, payload=DELTA))
    before = len([p for p in link.rtcp for f in parse_feedback(p) if f.kind == "nack"])
    out = [parse_rtp(p).sequence for p in wire.sent]
    consumer.handle_nack([(out[1] + 1) & 0xFFFF])  # ...but the subscriber still wants it
    nacks = [f for p in link.rtcp for f in parse_feedback(p) if f.kind == "nack"]
    assert len(nacks) == before + 1 and nacks[-1].lost == [3]


def test_layer_switch_waits_for_the_target_keyframe_and_keeps_sequence_and_time_continuous():
    link = Wire()
    producer = simulcast_producer()
    producer.link = link
    wire = Wire()
    consumer = consumer_of(producer, wire, layer=0)
    low, high = producer.layers[0], producer.layers[2]
    # both layers sample the same clock with their own random RTP offsets; SRs tie them to NTP
    low.on_sender_report(ntp(100.0), 10_000)
    high.on_sender_report(ntp(100.0), 2_000_000_000)
    low.receive(build(sequence=500, timestamp=10_000, ssrc=0x10, payload=KEYFRAME))
    low.receive(build(sequence=501, timestamp=13_000, ssrc=0x10, payload=DELTA))
    consumer.set_target(high)
    high.receive(build(sequence=9000, timestamp=2_000_006_000, ssrc=0x30, payload=DELTA))  # not yet
    low.receive(build(sequence=502, timestamp=16_000, ssrc=0x10, payload=DELTA))  # still the low layer
    high.receive(build(sequence=9001, timestamp=2_000_009_000, ssrc=0x30, payload=KEYFRAME))  # switch
    low.receive(build(sequence=503, timestamp=19_000, ssrc=0x10, payload=DELTA))  # no longer forwarded
    high.receive(build(sequence=9002, timestamp=2_000_012_000, ssrc=0x30, payload=DELTA))
    infos = [parse_rtp(p) for p in wire.sent]
    assert [i.sequence - infos[0].sequence & 0xFFFF for i in infos] == [0, 1, 2, 3, 4]
    assert [i.timestamp - infos[0].timestamp & 0xFFFFFFFF for i in infos] == [0, 3000, 6000, 9000, 12000]
    assert consumer.layer is high and consumer.layer_switches == 1
    # a NACK for a packet of the old layer is still answered, from the old layer's cache
    consumer.handle_nack([infos[1].sequence])
    restored = wire.sent[-1]
    rinfo = parse_rtp(restored)
    assert rinfo.ssrc == 0x5001 and restored[rinfo.payload_start + 2:] == DELTA
    # and the translated sender report follows the layer being sent
    report = consumer.sender_report()
    assert report is not None
    (sr,) = [f for f in parse_feedback(report) if f.kind == "sr"]
    assert sr.rtp_timestamp == (infos[3].timestamp - 9000) & 0xFFFFFFFF


def test_switches_under_random_order_and_loss_never_rewind_or_repeat_sequences():
    rng = random.Random(7)
    producer = simulcast_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire, layer=0)
    for layer in producer.layers:
        layer.on_sender_report(ntp(50.0), layer.index * 1_000_000)
    sequences = {layer.index: 100 for layer in producer.layers}
    for frame in range(300):
        if frame % 40 == 0:
            consumer.set_target(producer.layers[rng.randrange(3)])
        batch = []
        for layer in producer.layers:
            keyframe = frame % 30 == layer.index * 7
            for part in range(2):
                sequences[layer.index] += 1
                batch.append((layer, build(sequence=sequences[layer.index] & 0xFFFF,
                                           timestamp=layer.index * 1_000_000 + 3000 * frame,
                                           ssrc=layer.media_ssrc, payload=KEYFRAME if keyframe and part == 0 else DELTA)))
        rng.shuffle(batch)
        for layer, packet in batch:
            if rng.random() > 0.05:
                layer.receive(packet)
    infos = [parse_rtp(p) for p in wire.sent]
    sequences = [info.sequence for info in infos]
    assert len(set(sequences)) == len(sequences)  # never a sequence number twice
    # packets of one frame may arrive out of order, but never from before a switch's timeline
    highest = 0
    for info in infos:
        ahead = (info.timestamp - infos[0].timestamp) & 0xFFFFFFFF
        assert ahead >= highest - 3000
        highest = max(highest, ahead)
    assert consumer.layer_switches >= 3


def test_a_slot_consumer_follows_another_producer_without_a_sequence_gap():
    first, second = video_producer(), Producer("p2", "carol", "video", "camera", VP8, {}, link=Wire(),
                                               rtcp_ssrc=0xBBBB, media_ssrc=0x3333)
    wire = Wire()
    consumer = consumer_of(first, wire)
    first.layers[0].receive(build(sequence=7, timestamp=1000, ssrc=0x1111, payload=KEYFRAME))
    consumer.set_producer(second)
    assert consumer not in first.consumers and consumer in second.consumers
    first.layers[0].receive(build(sequence=8, timestamp=4000, ssrc=0x1111, payload=KEYFRAME))  # not forwarded
    consumer.set_target(second.layers[0])
    second.layers[0].receive(build(sequence=30000, timestamp=777, ssrc=0x3333, payload=KEYFRAME))
    a, b = (parse_rtp(p) for p in wire.sent)
    assert b.sequence == (a.sequence + 1) & 0xFFFF and b.ssrc == a.ssrc == 0x5000
    assert 0 < (b.timestamp - a.timestamp) & 0xFFFFFFFF < 0x80000000


def test_sender_reports_count_what_this_consumer_was_sent():
    """RFC 3550 6.4.1: the octet count is payload only: no header, extensions, CSRCs or padding."""
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    producer.layers[0].receive(build(sequence=1, timestamp=90000, ssrc=0x1111, payload=KEYFRAME,
                                     ids=PUBLISHER_IDS, mid="0", abs_send_time=5, csrc=[9], padding=7))
    producer.layers[0].receive(build(sequence=2, timestamp=93000, ssrc=0x1111, payload=DELTA, padding=3))
    producer.layers[0].receive(build(sequence=2, timestamp=93000, ssrc=0x1111, payload=DELTA))  # duplicate: not sent
    out_ts = parse_rtp(wire.sent[0]).timestamp
    producer.layers[0].on_sender_report(ntp_timestamp=0xE0000000_80000000, rtp_timestamp=90000 + 45000)
    report = consumer.sender_report()
    assert report is not None
    (sr,) = [f for f in parse_feedback(report) if f.kind == "sr"]
    assert sr.ssrc == 0x5000 and sr.ntp_timestamp == 0xE0000000_80000000
    assert sr.rtp_timestamp == (out_ts + 45000) & 0xFFFFFFFF
    assert sr.packet_count == 2 and sr.octet_count == len(KEYFRAME) + len(DELTA)
    assert len(wire.sent) == 2 and sum(len(p) for p in wire.sent) > sr.octet_count + 2 * 12


def test_an_inactive_consumer_sends_nothing_and_a_closed_one_stays_inactive():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire, active=False)
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    assert wire.sent == []
    consumer.close()
    consumer.activate()
    producer.layers[0].receive(build(sequence=2, ssrc=0x1111, payload=KEYFRAME))
    assert wire.sent == [] and not consumer.active and consumer not in producer.consumers


def test_closing_an_active_consumer_leaves_nothing_forwarding_or_answering():
    """A closed consumer's m-line may be recycled: it must not answer NACKs, send reports or packets."""
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.receive(build(sequence=2, ssrc=0x1111, payload=DELTA))
    layer.on_sender_report(ntp(10.0), 1000)
    assert consumer.active and consumer.sender_report() is not None
    sent = [parse_rtp(p).sequence for p in wire.sent]
    consumer.close()
    assert consumer.closed and not consumer.active and not consumer.forwarding
    assert consumer.producer is None and consumer.layer is None
    assert consumer not in producer.consumers and consumer not in layer.consumers and consumer not in layer.pending
    consumer.handle_nack(sent)
    consumer.activate()  # a late answer for the recycled m-line changes nothing
    layer.receive(build(sequence=3, ssrc=0x1111, payload=KEYFRAME))
    assert len(wire.sent) == 2 and consumer.retransmissions == 0 and consumer.sender_report() is None
    assert not consumer.active


def test_a_subscriber_pli_reaches_the_layer_it_receives():
    link = Wire()
    producer = simulcast_producer()
    producer.link = link
    consumer = consumer_of(producer, Wire(), layer=1)
    producer.layers[1].receive(build(sequence=1, ssrc=0x20, payload=KEYFRAME))
    link.rtcp.clear()
    for layer in producer.layers:
        layer.keyframes.reset()
    consumer.handle_keyframe_request()
    assert [f.media_ssrc for p in link.rtcp for f in parse_feedback(p) if f.kind == "pli"] == [0x20]


def test_counters_rates_and_the_first_sequence_number_a_consumer_was_given():
    from router.consumer import Consumer

    producer = video_producer()
    wire = Wire()
    consumer = Consumer("c9", producer, "bob", ssrc=0x5000, payload_type=100, link=wire, clock_rate=90000,
                        kind="video", initial_sequence=40000)
    assert (consumer.id, consumer.subscriber_id, consumer.kind) == ("c9", "bob", "video")
    assert consumer.next_sequence == 40000 and not consumer.active and not consumer.closed
    consumer.set_target(producer.layers[0])
    consumer.activate()
    for seq in range(1, 4):
        producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    assert [parse_rtp(p).sequence for p in wire.sent] == [40000, 40001, 40002]
    assert consumer.packets_sent == 3 and consumer.bytes_sent == sum(len(p) for p in wire.sent)
    assert producer.layers[0].forwarded == 3
    assert consumer.rate_bps == 0.0
    consumer.measure(0.5)
    assert consumer.rate_bps == consumer.bytes_sent * 8 / 0.5
    consumer.measure(0.0)  # no time passed: the rate stays, the mark moves
    assert consumer.rate_bps == consumer.bytes_sent * 8 / 0.5
    producer.layers[0].receive(build(sequence=4, ssrc=0x1111, payload=KEYFRAME))
    consumer.measure(2.0)
    assert consumer.rate_bps == len(wire.sent[-1]) * 8 / 2.0


def test_nack_answers_skip_what_they_cannot_answer_and_carry_the_subscribers_extension_ids():
    from rtp_build import ABS_SEND_TIME

    from router.header_extensions import find_extension

    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire, extensions={ABS_SEND_TIME: 9})
    for seq in range(1, 4):
        producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME, ids=PUBLISHER_IDS, mid="0",
                                         abs_send_time=seq))
    out = [parse_rtp(p).sequence for p in wire.sent]
    consumer.handle_nack([out[0]])
    unsent = (out[2] + 1) & 0xFFFF
    consumer.handle_nack([out[0], unsent, out[1], out[2]])  # repeated, not sent yet, then two answerable
    resent = wire.sent[3:]
    assert consumer.retransmissions == 3 and len(resent) == 3
    rtx = [parse_rtp(p) for p in resent]
    assert [r.sequence for r in rtx] == [1, 2, 3]  # the RTX stream's own sequence, from 1
    assert [int.from_bytes(p[r.payload_start:r.payload_start + 2], "big") for p, r in zip(resent, rtx, strict=True)] \
        == [out[0], out[1], out[2]]
    for n, (p, r) in enumerate(zip(resent, rtx, strict=True), start=1):
        assert find_extension(p, r, 9) == bytes([0, 0, n])  # the subscriber's ID for abs-send-time
        assert find_extension(p, r, PUBLISHER_IDS["urn:ietf:params:rtp-hdrext:sdes:mid"]) is None


def test_without_rtx_a_nack_is_answered_with_the_media_packet_itself():
    from router.consumer import Consumer

    producer = video_producer()
    wire = Wire()
    # an RTX payload type without an RTX SSRC is no RTX stream either
    consumer = Consumer("c1", producer, "bob", ssrc=0x5000, payload_type=100, link=wire, clock_rate=90000,
                        kind="video", extensions=dict(PUBLISHER_IDS), rtx_payload_type=101)
    consumer.set_target(producer.layers[0])
    consumer.activate()
    producer.layers[0].receive(build(sequence=1, timestamp=5000, ssrc=0x1111, payload=KEYFRAME))
    first = parse_rtp(wire.sent[0])
    consumer.handle_nack([first.sequence])
    again = parse_rtp(wire.sent[1])
    assert (again.ssrc, again.payload_type, again.sequence, again.timestamp) == (0x5000, 100, first.sequence,
                                                                               first.timestamp)
    assert wire.sent[1][again.payload_start:] == KEYFRAME


def test_sender_reports_need_an_active_consumer_that_sent_something_from_a_layer_with_a_report():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    assert consumer.sender_report() is None  # nothing sent
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    assert consumer.sender_report() is None  # no SR from the publisher yet
    layer.on_sender_report(ntp(1.0), 1)
    assert consumer.sender_report() is not None
    consumer.active = False
    assert consumer.sender_report() is None


def test_retargeting_leaves_the_old_targets_queue_and_a_foreign_layer_is_refused():
    producer = simulcast_producer()
    consumer = consumer_of(producer, Wire(), layer=0)
    low, mid, high = producer.layers
    assert consumer in low.pending
    consumer.set_target(mid)
    assert consumer not in low.pending and consumer in mid.pending and consumer.target is mid
    consumer.set_target(mid)  # asking again queues it once
    assert mid.pending.count(consumer) == 1
    consumer.set_target(high)
    assert consumer not in mid.pending and consumer in high.pending
    other = video_producer()
    try:
        consumer.set_target(other.layers[0])
    except ValueError as exc:
        assert str(exc) == "a consumer's layer must belong to its producer"
    else:
        raise AssertionError("a layer of another producer was accepted")
    high.receive(build(sequence=1, ssrc=0x30, payload=KEYFRAME))
    assert consumer.layer is high and consumer in high.consumers
    consumer.attach(low, parse_rtp(build(sequence=1, ssrc=0x10, payload=KEYFRAME)))  # not its target: ignored
    assert consumer.layer is high and consumer not in low.consumers
    consumer.set_target(None)
    assert consumer.layer is None and consumer not in high.consumers and not consumer.forwarding


def test_a_closed_producer_releases_its_consumers():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    other = video_producer()
    consumer.producer_closed(other)  # not its producer: nothing happens
    assert consumer.producer is producer
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    producer.close()
    assert producer.closed and producer.consumers == [] and consumer.producer is None and consumer.layer is None
    assert producer.layers[0].consumers == [] and producer.layers[0].cache.get(1) is None


def test_nacks_across_the_sequence_wrap_and_for_the_oldest_kept_runs_are_answered():
    from router.consumer import Consumer

    producer = video_producer()
    wire = Wire()
    consumer = Consumer("c1", producer, "bob", ssrc=0x5000, payload_type=100, link=wire, clock_rate=90000,
                        kind="video", rtx_ssrc=0x5001, rtx_payload_type=101, initial_sequence=65528)
    consumer.set_target(producer.layers[0])
    consumer.activate()
    layer = producer.layers[0]
    seq = 1
    firsts = []  # the first output sequence of each run (a pause starts a new run)
    for run in range(10):
        for part in range(3):
            layer.receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME + bytes([run, part])))
            if part == 0:
                firsts.append(parse_rtp(wire.sent[-1]).sequence)
            seq += 1
        producer.set_paused(True)
        seq += 5  # withheld while paused
        producer.set_paused(False)
    assert firsts[:3] == [65528, 65531, 65534]  # run 2 is 65534, 65535, 0: it spans the wrap
    sent = len(wire.sent)
    consumer.handle_nack([65535, 0])
    resent = wire.sent[sent:]
    assert [p[parse_rtp(p).payload_start + 2:] for p in resent] == [KEYFRAME + bytes([2, 1]), KEYFRAME + bytes([2, 2])]
    # eight runs are remembered: the oldest two (0 and 1) are forgotten, run 2 is the oldest kept
    consumer.handle_nack([firsts[0], firsts[1]])
    consumer.handle_nack([firsts[2]])
    assert len(wire.sent) == sent + 3 and wire.sent[-1][parse_rtp(wire.sent[-1]).payload_start + 2:] == \
        KEYFRAME + bytes([2, 0])


def test_a_nack_is_answered_again_after_a_round_trip_and_same_slot_numbers_do_not_block_each_other():
    import time

    producer = video_producer()
    wire = Wire()
    wire.rtt.rtt_ms = 30.0
    consumer = consumer_of(producer, wire)
    for seq in range(1, 300):
        producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    out = [parse_rtp(p).sequence for p in wire.sent]
    consumer.handle_nack([out[10], out[10 + 256]])  # 256 apart: the same slot of the resent ring
    assert consumer.retransmissions == 2
    time.sleep(0.06)  # two round trips later: the first copy may be lost too
    consumer.handle_nack([out[10]])
    assert consumer.retransmissions == 3


def test_the_budget_refills_between_nacks_and_a_packet_never_received_does_not_stop_the_rest():
    import time

    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    for seq in range(1, 50):
        if seq != 20:  # 20 never arrives
            layer.receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME + bytes(1000)))
    out = [parse_rtp(p).sequence for p in wire.sent]
    gap = (out[18] + 1) & 0xFFFF  # where 20 would have been
    consumer.handle_nack([gap, *out[:40]])  # 40 x 1 063 bytes: more than the 32 000 byte burst
    first = consumer.retransmissions
    assert 0 < first < 40 and wire.retransmit_budget.refused == 1
    time.sleep(0.2)  # refills at least 6 400 bytes
    consumer.handle_nack(out[first:first + 5])
    assert consumer.retransmissions >= first + 5


def test_a_consumer_without_a_source_ignores_nacks_and_has_no_report():
    from router.consumer import Consumer

    wire = Wire()
    slot = Consumer("slot", None, "bob", ssrc=0x5000, payload_type=100, link=wire, clock_rate=90000, kind="video")
    slot.activate()
    slot.handle_nack([1, 2, 0x7FFF])
    assert wire.sent == [] and slot.sender_report() is None and slot.extension_key is None


def test_a_consumer_that_stopped_forwarding_sends_no_sender_report():
    producer = video_producer()
    consumer = consumer_of(producer, Wire())
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    producer.layers[0].on_sender_report(ntp(1.0), 1)
    assert consumer.sender_report() is not None
    consumer.set_target(None)
    assert consumer.packets_sent == 1 and consumer.sender_report() is None
