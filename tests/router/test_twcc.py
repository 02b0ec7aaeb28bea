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
