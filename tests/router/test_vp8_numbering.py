"""router.vp8_numbering: VP8 picture IDs and TL0PICIDX stay continuous across layer switches."""

from __future__ import annotations

from forwarding_build import Wire, consumer_of, simulcast_producer, video_producer
from rtp_build import build

from router.rtp_header import parse_rtp
from router.vp8_numbering import Vp8Numbering, apply_offsets, descriptor_fields

VP8_KEY_HEADER = b"\x00\x00\x00\x9d\x01\x2a\x80\x02\xe0\x01" + bytes(30)  # P=0: a keyframe, 640x480
VP8_DELTA_HEADER = b"\x01" + bytes(30)


def vp8(picture_id: int, tl0: int, key: bool = False, wide: bool = True) -> bytes:
    """A VP8 payload starting a frame, with X, I (7 or 15 bits) and L set."""
    pid = bytes([0x80 | picture_id >> 8, picture_id & 0xFF]) if wide else bytes([picture_id & 0x7F])
    return b"\x90\xc0" + pid + bytes([tl0]) + (VP8_KEY_HEADER if key else VP8_DELTA_HEADER)


def numbers(packet: bytes) -> tuple[int, int]:
    fields = descriptor_fields(packet)
    assert fields is not None
    pid_pos, wide, tl0_pos = fields
    pid = ((packet[pid_pos] & 0x7F) << 8 | packet[pid_pos + 1]) if wide else packet[pid_pos] & 0x7F
    return pid, packet[tl0_pos]


def test_a_layer_switch_continues_the_picture_ids_and_tl0picidx_and_retransmissions_match():
    producer = simulcast_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire, layer=0)
    low, high = producer.layers[0], producer.layers[2]
    low.receive(build(sequence=500, timestamp=10_000, ssrc=0x10, payload=vp8(32766, 254, key=True)))
    low.receive(build(sequence=501, timestamp=13_000, ssrc=0x10, payload=vp8(32767, 255)))
    consumer.set_target(high)
    high.receive(build(sequence=9000, timestamp=6_000, ssrc=0x30, payload=vp8(1200, 40, key=True)))
    high.receive(build(sequence=9001, timestamp=9_000, ssrc=0x30, payload=vp8(1201, 41)))
    sent = [numbers(p) for p in wire.sent]
    assert sent == [(32766, 254), (32767, 255), (0, 0), (1, 1)]  # both wrap, one stream to the subscriber
    # a NACK for the high layer's second packet is answered with the numbers that packet was sent with
    consumer.handle_nack([parse_rtp(wire.sent[3]).sequence])
    rtx = wire.sent[-1]
    info = parse_rtp(rtx)
    original = rtx[:info.payload_start] + rtx[info.payload_start + 2:]  # drop the OSN
    assert numbers(original) == (1, 1)
    # a switch back continues again
    consumer.set_target(low)
    low.receive(build(sequence=502, timestamp=16_000, ssrc=0x10, payload=vp8(5, 7, key=True)))
    assert numbers(wire.sent[-1]) == (2, 2)


def test_a_consumer_that_never_switched_sends_the_publishers_bytes_unchanged():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    payloads = [vp8(300, 9, key=True), vp8(301, 10)]
    for i, payload in enumerate(payloads):
        producer.layers[0].receive(build(sequence=70 + i, timestamp=3000 * i, ssrc=0x1111, payload=payload))
    assert [p[parse_rtp(p).payload_start:] for p in wire.sent] == payloads


def test_seven_bit_picture_ids_wrap_at_128_and_descriptors_without_numbers_pass_through():
    numbering = Vp8Numbering()
    first = build(sequence=1, payload=vp8(126, 3, key=True, wide=False))
    assert numbers(numbering.rewrite(first)) == (126, 3)
    numbering.switch(build(sequence=2, payload=vp8(50, 90, key=True, wide=False)))
    assert numbers(numbering.rewrite(build(sequence=2, payload=vp8(50, 90, key=True, wide=False)))) == (127, 4)
    assert numbers(numbering.rewrite(build(sequence=3, payload=vp8(51, 90, wide=False)))) == (0, 4)
    plain = build(sequence=4, payload=b"\x10\x00\x00\x00" + bytes(20))  # no X byte
    assert descriptor_fields(plain) is None and numbering.rewrite(plain) == plain
    cut = build(sequence=5, payload=b"\x90\xc0\x81")  # the picture ID's second byte is missing
    assert descriptor_fields(cut) is None
    assert apply_offsets(first, descriptor_fields(first), 0, 0) is first
