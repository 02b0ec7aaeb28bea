"""router.twcc: transport-cc feedback bytes, checked against hand-made and libwebrtc-shaped examples."""

from __future__ import annotations

import random

from router.twcc import TwccRecorder, build_feedback, parse_feedback_fci


def test_a_run_of_received_packets_with_small_deltas_byte_by_byte():
    # three packets 1 ms apart, the first at 64 ms * 5 + 1 ms
    packet = build_feedback(0x01020304, 0x0A0B0C0D, 100, [321_000, 322_000, 323_000], feedback_count=7)
    assert packet == bytes.fromhex(
        "af cd 0006"  # V=2 P=1 FMT=15, PT=205, length: 6 words after the first
        "01020304 0a0b0c0d"  # sender and media SSRC
        "0064 0003"  # base sequence 100, 3 statuses
        "000005 07"  # reference time 5 (x 64 ms), feedback count 7
        "2003"  # run-length chunk: symbol 1 (small delta) x 3
        "04 04 04"  # deltas: 1 ms = 4 ticks each
        "00 00 03"  # padding, the last byte its length
    )


def test_losses_and_a_large_delta_use_a_two_bit_status_vector():
    arrivals = [1_000_000, None, 1_000_250, 1_200_000, None]
    packet = build_feedback(1, 2, 65535, arrivals, feedback_count=0)
    parsed = parse_feedback_fci(packet)
    assert parsed.base_sequence == 65535 and parsed.feedback_count == 0
    got = parsed.arrivals
    assert [a is None for a in got] == [a is None for a in arrivals]
    assert got[2] - got[0] == 250 and got[3] - got[2] == 199_750
    chunk = int.from_bytes(packet[20:22], "big")
    assert chunk >> 14 == 0b11  # status vector, two-bit symbols (a large delta is among them)


def test_long_stretches_use_one_bit_vectors_and_runs():
    rng = random.Random(5)
    arrivals: list[int | None] = []
    clock = 5_000_000
    for _ in range(300):
        clock += rng.randrange(0, 20_000)
        arrivals.append(None if rng.random() < 0.1 else clock)
    arrivals[0] = 5_000_000
    parsed = parse_feedback_fci(build_feedback(9, 9, 1000, arrivals, 3))
    for want, got in zip(arrivals, parsed.arrivals, strict=True):
        assert (want is None) == (got is None)
        if want is not None and got is not None:
            assert abs((got - parsed.arrivals[0]) - (want - arrivals[0])) <= 250 * 300  # rounding accumulates at most


def test_the_recorder_reports_every_sequence_once_including_losses_across_wraparound():
    recorder = TwccRecorder(sender_ssrc=0xAAAA)
    for i, seq in enumerate([65530, 65531, 65533, 65534, 0, 1]):  # 65532 and 65535 lost
        recorder.record(seq, 10_000_000 + i * 5_000)
    (first,) = [parse_feedback_fci(p) for p in recorder.feedback(media_ssrc=0x1111)]
    assert first.base_sequence == 65530 and len(first.arrivals) == 8
    assert [a is None for a in first.arrivals] == [False, False, True, False, False, True, False, False]
    recorder.record(3, 10_100_000)
    (second,) = [parse_feedback_fci(p) for p in recorder.feedback(media_ssrc=0x1111)]
    assert second.base_sequence == 2 and second.arrivals[0] is None and second.arrivals[1] is not None
    assert second.feedback_count == first.feedback_count + 1
    assert recorder.feedback(media_ssrc=0x1111) == []


def test_a_gap_longer_than_a_delta_can_hold_starts_a_new_message():
    recorder = TwccRecorder(sender_ssrc=1)
    recorder.record(10, 1_000_000)
    recorder.record(11, 1_000_000 + 20_000_000)  # 20 s later: more than 16 bits of 250 us ticks
    messages = [parse_feedback_fci(p) for p in recorder.feedback(media_ssrc=2)]
    assert [m.base_sequence for m in messages] == [10, 11]


def test_malformed_feedback_is_refused():
    good = build_feedback(1, 2, 3, [64_000], 0)
    for bad in (good[:10], good[:-4] + b"\xff", b"\x8f\xcd\x00\x01" + bytes(4)):
        try:
            parse_feedback_fci(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad.hex()}")


def hand_made(count: int, body: bytes, padding: int = 0) -> bytes:
    """A feedback packet from its status chunks and deltas (`body`), padded as RFC 3550 says."""
    import struct

    payload = struct.pack("!IIHHI", 1, 2, 7, count, (1 << 8) | 9) + body
    pad = padding or (-len(payload)) % 4
    if pad:
        payload += bytes(pad - 1) + bytes([pad])
    return struct.pack("!BBH", 0x80 | (0x20 if pad else 0) | 15, 205, len(payload) // 4) + payload


def test_parsed_feedback_carries_ssrcs_count_and_absolute_arrival_times():
    from router.twcc import TransportFeedback

    packet = build_feedback(0x01020304, 0x0A0B0C0D, 100, [321_000, 322_000, 323_000], feedback_count=7)
    assert parse_feedback_fci(packet) == TransportFeedback(0x01020304, 0x0A0B0C0D, 100, 7, [321_000, 322_000, 323_000])


def test_delta_sizes_at_their_boundaries_byte_by_byte():
    # deltas of 0, 255 and 256 ticks and one backwards (reordered arrival): small, small, large, large
    arrivals = [64_000, 64_000, 64_000 + 255 * 250, 64_000 + 511 * 250, 64_000 + 510 * 250]
    packet = build_feedback(1, 2, 0, arrivals, feedback_count=0)
    assert int.from_bytes(packet[20:22], "big") == 0b11_01_01_01_10_10_00_00  # two-bit vector
    assert packet[22:29] == bytes([0x00, 0x00, 0xFF, 0x01, 0x00, 0xFF, 0xFF])
    assert parse_feedback_fci(packet).arrivals == arrivals


def test_deltas_beyond_16_bits_are_clamped_not_crashed():
    far = [64_000, 64_000 + 40_000 * 250, 64_000 - 50_000 * 250]
    packet = build_feedback(1, 2, 0, far, feedback_count=0)
    assert packet[22:27] == bytes.fromhex("007fff8000")


def test_run_lengths_one_bit_and_two_bit_vectors_are_chosen_by_the_rule():
    t = 64_000
    # a run of exactly 7 is a run-length chunk; 6 then a change is a vector
    seven = build_feedback(1, 2, 0, [t] * 7 + [None], 0)
    assert int.from_bytes(seven[20:22], "big") == 0x2007 and int.from_bytes(seven[22:24], "big") == 0x0001
    six = build_feedback(1, 2, 0, [t] * 6 + [None] * 8, 0)
    assert int.from_bytes(six[20:22], "big") == 0b1_0_11111100000000  # one-bit vector of 14
    longer = build_feedback(1, 2, 0, [t] * 6 + [None] * 8 + [t], 0)  # 14 of 15: still a one-bit vector
    assert [int.from_bytes(longer[i:i + 2], "big") for i in (20, 22)] == [0b1_0_11111100000000, 0x2001]
    # fewer than 14 symbols left, none large: two-bit vector of what remains
    short = build_feedback(1, 2, 0, [t, None, t, None, t], 0)
    assert int.from_bytes(short[20:22], "big") == 0b11_01_00_01_00_01_00_00
    # a two-bit vector after other chunks, then everything back
    mixed = [t + 250 * i for i in range(10)] + [t + 250 * 9 + 300 * 250, None, t + 250 * 310, None]
    parsed = parse_feedback_fci(build_feedback(1, 2, 0, mixed, 0))
    assert parsed.arrivals == mixed


def test_a_run_longer_than_13_bits_is_split():
    arrivals: list[int | None] = [None] * 8200 + [64_000]
    packet = build_feedback(1, 2, 0, arrivals, 0)
    assert [int.from_bytes(packet[i:i + 2], "big") for i in (20, 22, 24)] == [0x1FFF, 8200 - 0x1FFF, 0x2001]
    assert parse_feedback_fci(packet, max_statuses=10_000).arrivals == arrivals  # over the default bound


def test_padding_bit_only_when_padded():
    unpadded = build_feedback(1, 2, 0, [64_000, 64_250], 0)  # 16 + 2 + 2 bytes: no padding needed
    assert unpadded[0] == 0x8F and len(unpadded) == 24 and parse_feedback_fci(unpadded).arrivals == [64_000, 64_250]


def test_hand_made_packets_at_every_boundary():
    assert parse_feedback_fci(hand_made(0, b"")).arrivals == []  # 20 bytes: the smallest message
    assert parse_feedback_fci(hand_made(1, b"\x00\x01")).arrivals == [None]  # chunk ends where padding starts
    assert parse_feedback_fci(hand_made(1, b"\x20\x01\x04")).arrivals == [64_000 + 1_000]
    assert parse_feedback_fci(hand_made(1, b"\x40\x01\xff\xfc")).arrivals == [64_000 - 1_000]
    cases = [
        (hand_made(1, b""), "truncated status chunks"),
        (hand_made(1, b"\x20\x01"), "truncated deltas"),  # the padding is not a delta
        (hand_made(1, b"\x40\x01\x04"), "truncated deltas"),
        (hand_made(2, b"\x20\x02\x04"), "truncated deltas"),
        (hand_made(0, b"")[:19], "not a transport-cc feedback packet"),
        (hand_made(0, b"")[:2] + b"\x00\x09" + hand_made(0, b"")[4:], "truncated feedback"),
        (hand_made(0, b"")[:2] + b"\xff\xff" + hand_made(0, b"")[4:], "truncated feedback"),
        (bytes([0x8F, 206]) + hand_made(0, b"")[2:], "not a transport-cc feedback packet"),
        (bytes([0x81, 205]) + hand_made(0, b"")[2:], "not a transport-cc feedback packet"),
    ]
    for packet, message in cases:
        try:
            parse_feedback_fci(packet)
        except ValueError as exc:
            assert str(exc) == message, (packet.hex(), exc)
            continue
        raise AssertionError(f"accepted {packet.hex()}")


def test_the_recorder_places_late_packets_caps_its_memory_and_counts_messages():
    recorder = TwccRecorder(sender_ssrc=1)
    for seq in (100, 102, 101):  # 101 arrives late
        recorder.record(seq, 1_000_000 + seq)
    (message,) = [parse_feedback_fci(p) for p in recorder.feedback(media_ssrc=2)]
    assert message.base_sequence == 100 and [a is None for a in message.arrivals] == [False, False, False]
    assert message.feedback_count == 0 and recorder.sent == 1
    flood = TwccRecorder(sender_ssrc=1)
    for seq in range(4 * 1000 + 1):
        flood.record(seq, 2_000_000 + 10 * seq)
    messages = [parse_feedback_fci(p) for p in flood.feedback(media_ssrc=2)]
    assert [len(m.arrivals) for m in messages] == [1000, 1000, 1000, 1000]  # the 4001st was not kept
    assert [m.feedback_count for m in messages] == [0, 1, 2, 3] and flood.sent == 4
    flood.record(4001, 3_000_000)
    assert len(flood.feedback(media_ssrc=2)) == 1 and flood.sent == 5  # a running total


def test_empty_stretches_are_skipped_and_a_long_silence_reports_only_the_recent_past():
    for last in (1999, 2000, 2500):
        recorder = TwccRecorder(sender_ssrc=1)
        recorder.record(0, 1_000_000)
        recorder.record(last, 1_100_000)
        messages = [parse_feedback_fci(p) for p in recorder.feedback(media_ssrc=2)]
        assert [(m.base_sequence, len(m.arrivals)) for m in messages] == [(0, 1), ((last // 1000) * 1000,
                                                                                   last % 1000 + 1)], last
    recorder = TwccRecorder(sender_ssrc=1)
    recorder.record(0, 1_000_000)
    recorder.feedback(media_ssrc=2)
    recorder.record(1500, 1_100_000)  # further back than 4000 packets from the newest: not reported
    recorder.record(6000, 1_200_000)
    messages = [parse_feedback_fci(p) for p in recorder.feedback(media_ssrc=2)]
    assert [(m.base_sequence, len(m.arrivals)) for m in messages] == [(6000, 1)]


def test_the_16_bit_delta_limit_splits_messages_exactly_at_its_edge():
    def bases(gap_us: int) -> list[int]:
        recorder = TwccRecorder(sender_ssrc=1)
        recorder.record(10, 64_000)
        recorder.record(11, 64_000 + gap_us)
        return [parse_feedback_fci(p).base_sequence for p in recorder.feedback(media_ssrc=2)]

    assert bases(0x7FFF * 250) == [10]
    assert bases(0x7FFF * 250 + 1) == [10, 11]
    assert bases(-0x7FFF * 250) == [10]
    assert bases(0x8000 * 250) == [10, 11]


def test_feedback_is_found_inside_compound_packets_and_a_cut_one_is_still_handed_over():
    from aiortc.rtp import RtcpRrPacket

    from router.twcc import iter_transport_feedback

    first = build_feedback(1, 2, 10, [64_000, None, 65_000], 0)
    second = build_feedback(1, 2, 13, [66_000], 1)
    rr = bytes(RtcpRrPacket(ssrc=1))
    assert iter_transport_feedback(rr + first + rr + second) == [first, second]
    assert iter_transport_feedback(rr) == [] and iter_transport_feedback(b"") == []
    (cut,) = iter_transport_feedback(rr + first[:-4])
    assert cut == first[:-4]
    try:
        parse_feedback_fci(cut)
    except ValueError:
        pass
    else:
        raise AssertionError("a cut feedback packet must not parse")


def test_a_feedback_claiming_too_many_packets_is_refused():
    from router.twcc import MAX_PARSED_STATUSES

    packet = bytearray(build_feedback(1, 2, 0, [64_000], 0))
    packet[14:16] = (MAX_PARSED_STATUSES + 1).to_bytes(2, "big")
    try:
        parse_feedback_fci(bytes(packet))
    except ValueError as error:
        assert "too many" in str(error)
    else:
        raise AssertionError("an oversized status count must be refused")
