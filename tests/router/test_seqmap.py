"""router.seqmap.SequenceRewriter: offsets, wraparound, reordering, skip/resume and source changes."""

from __future__ import annotations

import random

from router.seqmap import MAX_MISORDER, SequenceRewriter

A = 0xAAAA0001
B = 0xBBBB0002


def fwd(rw: SequenceRewriter, ssrc: int, seq: int, ts: int, now: float) -> tuple[int, int]:
    out = rw.map(ssrc, seq & 0xFFFF, ts & 0xFFFFFFFF, now)
    assert out is not None
    return out


def seq_delta(a: int, b: int) -> int:
    """b - a as a signed 16-bit distance."""
    d = (b - a) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def test_start_below_32768_and_random():
    starts = set()
    for _ in range(200):
        rw = SequenceRewriter(90000)
        s, _ = fwd(rw, A, random.getrandbits(16), random.getrandbits(32), 0.0)
        assert 0 <= s < 32768
        starts.add(s)
    assert len(starts) > 150


def test_constant_offset_within_source_preserves_gaps():
    rw = SequenceRewriter(90000, initial_sequence=100, initial_timestamp=5000)
    assert fwd(rw, A, 40000, 1000, 0) == (100, 5000)
    assert fwd(rw, A, 40001, 1000, 1) == (101, 5000)
    assert fwd(rw, A, 40005, 4000, 40) == (105, 8000)  # loss gap kept for NACK
    assert rw.last_sequence == 105 and rw.last_timestamp == 8000
    assert rw.timestamp_offset(A) == 4000
    assert rw.timestamp_offset(B) is None


def test_sequence_wraparound():
    rw = SequenceRewriter(90000, initial_sequence=65530, initial_timestamp=0)
    outs = [fwd(rw, A, (65500 + i) & 0xFFFF, 0, i)[0] for i in range(60)]
    for a, b in zip(outs, outs[1:], strict=False):
        assert seq_delta(a, b) == 1
    assert outs[0] == 65530 and outs[6] == 0


def test_input_sequence_wraparound_with_reordering():
    rw = SequenceRewriter(90000, initial_sequence=10, initial_timestamp=0)
    fwd(rw, A, 65534, 0, 0)  # out 10
    assert fwd(rw, A, 1, 0, 1)[0] == 13  # 65535 and 0 missing
    assert fwd(rw, A, 65535, 0, 2)[0] == 11  # late, placed in its gap
    assert fwd(rw, A, 0, 0, 3)[0] == 12
    assert rw.last_sequence == 13


def test_timestamp_wraparound():
    rw = SequenceRewriter(48000, initial_sequence=1, initial_timestamp=0xFFFFFF00)
    _, t0 = fwd(rw, A, 5, 0x7FFFFFFF, 0)
    _, t1 = fwd(rw, A, 6, 0x7FFFFFFF + 960, 20)
    _, t2 = fwd(rw, A, 7, 0x7FFFFFFF + 1920, 40)
    assert t0 == 0xFFFFFF00
    assert t1 == (0xFFFFFF00 + 960) & 0xFFFFFFFF
    assert t2 == (0xFFFFFF00 + 1920) & 0xFFFFFFFF
    # input timestamp wrapping
    rw = SequenceRewriter(48000, initial_sequence=1, initial_timestamp=1000)
    fwd(rw, A, 5, 0xFFFFFE00, 0)
    assert fwd(rw, A, 6, 0xFFFFFE00 + 960, 20)[1] == 1960


def test_duplicates_dropped():
    rw = SequenceRewriter(90000, initial_sequence=1, initial_timestamp=0)
    fwd(rw, A, 10, 0, 0)
    fwd(rw, A, 12, 0, 0)
    assert rw.map(A, 12, 0, 0) is None  # duplicate of the highest
    assert rw.map(A, 10, 0, 0) is None  # duplicate of an older one
    assert fwd(rw, A, 11, 0, 0)[0] == 2
    assert rw.map(A, 11, 0, 0) is None


def test_too_old_dropped():
    rw = SequenceRewriter(90000, initial_sequence=1, initial_timestamp=0)
    fwd(rw, A, 5000, 0, 0)
    fwd(rw, A, 5000 + MAX_MISORDER + 10, 0, 0)
    assert rw.map(A, 5001, 0, 0) is None
    assert rw.map(A, 5000 + 20, 0, 0) is not None  # within the window


def test_skip_resume_continues_without_gap_and_follows_source_clock():
    rw = SequenceRewriter(90000, initial_sequence=500, initial_timestamp=1_000_000)
    for i in range(10):
        fwd(rw, A, 100 + i, 3000 * i, 33.3 * i)
    assert rw.last_sequence == 509
    rw.skip()
    # 300 packets withheld (never passed to map), 2 s of source time later:
    s, t = fwd(rw, A, 410, 3000 * 9 + 180000, 2300)
    assert s == 510
    assert t == 1_000_000 + 3000 * 9 + 180000  # same offset: source clock
    assert fwd(rw, A, 412, 3000 * 9 + 183000, 2340)[0] == 512  # gaps after resume kept
    assert rw.map(A, 409, 0, 2341) is None  # from before the resume: its slot is taken
    assert fwd(rw, A, 411, 3000 * 9 + 180000, 2342)[0] == 511


def test_skip_repeated_calls_and_long_pause_with_wrap():
    rw = SequenceRewriter(90000, initial_sequence=30000, initial_timestamp=0)
    fwd(rw, A, 1000, 0, 0)
    for _ in range(100):
        rw.skip()
    # 40000 packets later (the input sequence wrapped past half the space)
    s, _ = fwd(rw, A, (1000 + 40000) & 0xFFFF, 90000 * 400, 400_000)
    assert s == 30001
    assert fwd(rw, A, (1000 + 40001) & 0xFFFF, 90000 * 400, 400_001)[0] == 30002


def test_source_switch_continues_seq_and_wall_clock_ts():
    rw = SequenceRewriter(90000, initial_sequence=7, initial_timestamp=100)
    fwd(rw, A, 50, 1000, 1000.0)
    fwd(rw, A, 51, 4000, 1033.0)  # out ts 3100
    s, t = fwd(rw, B, 9999, 777777, 1533.0)  # 500 ms later
    assert s == 9
    assert t == 3100 + 45000
    assert rw.timestamp_offset(A) is None
    assert rw.timestamp_offset(B) == (t - 777777) & 0xFFFFFFFF
    assert fwd(rw, B, 10000, 777777 + 3000, 1566.0) == (10, t + 3000)


def test_switch_within_same_millisecond_advances_ts_by_one():
    rw = SequenceRewriter(48000, initial_sequence=1, initial_timestamp=0xFFFFFFFF)
    fwd(rw, A, 1, 0, 10.0)
    assert fwd(rw, B, 2, 5, 10.0) == (2, 0)  # +1, wrapped


def test_same_ssrc_restart_with_big_jump():
    rw = SequenceRewriter(90000, initial_sequence=1, initial_timestamp=0)
    fwd(rw, A, 100, 5000, 0)
    fwd(rw, A, 101, 8000, 33)  # out ts 3000
    # encoder restarted: new random sequence and timestamp base
    s, t = fwd(rw, A, 30000, 123456789, 133)
    assert s == 3 and t == 3000 + 9000
    assert fwd(rw, A, 30001, 123456789 + 3000, 166) == (4, t + 3000)


def test_same_ssrc_restart_backwards_needs_two_packets():
    rw = SequenceRewriter(90000, initial_sequence=1, initial_timestamp=0)
    fwd(rw, A, 20000, 5000, 0)
    assert rw.map(A, 100, 9, 10) is None
    s, _ = fwd(rw, A, 101, 9, 20)
    assert s == 2
    assert fwd(rw, A, 102, 9, 30)[0] == 3


def test_long_outage_same_source_keeps_source_clock():
    rw = SequenceRewriter(90000, initial_sequence=1, initial_timestamp=0)
    fwd(rw, A, 100, 0, 0)
    s, t = fwd(rw, A, 100 + 5000, 90000 * 50, 50_000)  # 50 s outage
    assert s == 2 and t == 90000 * 50


def test_monotonic_across_random_skips_and_switches():
    rng = random.Random(7)
    rw = SequenceRewriter(90000)
    ssrc, seq, ts, now = A, rng.getrandbits(16), rng.getrandbits(32), 0.0
    last = None
    highest_ts = None
    for _ in range(20000):
        now += rng.uniform(0, 40)
        r = rng.random()
        if r < 0.01:
            rw.skip()
            seq += rng.randint(1, 5000)
            ts += rng.randint(0, 900000)
            continue
        if r < 0.015:
            ssrc = rng.getrandbits(32)
            seq, ts = rng.getrandbits(16), rng.getrandbits(32)
        seq += 1
        ts += 3000
        out = rw.map(ssrc, seq & 0xFFFF, ts & 0xFFFFFFFF, now)
        assert out is not None
        if last is not None:
            assert seq_delta(last, out[0]) == 1
            assert 0 < ((out[1] - highest_ts) & 0xFFFFFFFF) < 0x80000000
        last, highest_ts = out
