"""router.consumer: what one subscriber receives from one producer."""

from __future__ import annotations

from forwarding_build import DELTA, KEYFRAME, Wire, consumer_of, video_producer
from rtp_build import build

from router.rtcp_feedback import parse_feedback
from router.rtp_header import parse_rtp


def test_forwarded_packets_carry_the_consumers_ssrc_payload_type_and_own_sequence():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    for i in range(5):
        producer.receive_rtp(build(sequence=65533 + i & 0xFFFF, timestamp=1000 + 3000 * i, ssrc=0x1111,
                                   payload=KEYFRAME if i == 0 else DELTA))
    infos = [parse_rtp(p) for p in wire.sent]
    assert [i.ssrc for i in infos] == [0x5000] * 5 and {i.payload_type for i in infos} == {100}
    sequences = [i.sequence for i in infos]
    assert sequences[0] < 32768 and sequences == [(sequences[0] + k) & 0xFFFF for k in range(5)]
    assert [i.timestamp - infos[0].timestamp for i in infos] == [0, 3000, 6000, 9000, 12000]
    assert all(p[i.payload_start:] == q for p, i, q in zip(wire.sent, infos, [KEYFRAME] + [DELTA] * 4, strict=True))


def test_video_starts_at_a_keyframe_and_skipped_packets_leave_no_gap():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    consumer.require_keyframe()
    producer.receive_rtp(build(sequence=10, ssrc=0x1111, payload=DELTA))  # waiting: dropped
    producer.receive_rtp(build(sequence=11, ssrc=0x1111, payload=KEYFRAME))
    producer.receive_rtp(build(sequence=12, ssrc=0x1111, payload=DELTA))
    producer.set_paused(True)
    producer.receive_rtp(build(sequence=13, ssrc=0x1111, payload=DELTA))  # muted: dropped
    producer.set_paused(False)
    producer.receive_rtp(build(sequence=14, ssrc=0x1111, payload=DELTA))  # resumed: waits for a keyframe
    producer.receive_rtp(build(sequence=15, ssrc=0x1111, payload=KEYFRAME))
    sequences = [parse_rtp(p).sequence for p in wire.sent]
    assert len(sequences) == 3 and sequences == [sequences[0], sequences[0] + 1, sequences[0] + 2]


def test_nack_is_answered_over_rtx_from_history():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    for seq in range(100, 105):
        producer.receive_rtp(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    wanted = parse_rtp(wire.sent[2])
    consumer.handle_nack([wanted.sequence, (wanted.sequence + 5000) & 0xFFFF])  # the second is not in history
    assert len(wire.sent) == 6 and consumer.retransmissions == 1
    rtx = parse_rtp(wire.sent[-1])
    assert rtx.ssrc == 0x5001 and rtx.payload_type == 101
    assert int.from_bytes(wire.sent[-1][rtx.payload_start:rtx.payload_start + 2], "big") == wanted.sequence


def test_sender_report_is_translated_into_the_consumers_timestamps():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    producer.receive_rtp(build(sequence=1, timestamp=90000, ssrc=0x1111, payload=KEYFRAME))
    out_ts = parse_rtp(wire.sent[0]).timestamp
    producer.on_sender_report(ntp_timestamp=0xE0000000_80000000, rtp_timestamp=90000 + 45000)
    report = consumer.sender_report()
    assert report is not None
    (feedback,) = [f for f in parse_feedback(report) if f.kind == "sr"]
    assert feedback.ssrc == 0x5000 and feedback.ntp_timestamp == 0xE0000000_80000000
    assert feedback.rtp_timestamp == (out_ts + 45000) & 0xFFFFFFFF
    assert feedback.packet_count == 1


def test_an_inactive_consumer_sends_nothing():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire, active=False)
    producer.receive_rtp(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    assert wire.sent == []
