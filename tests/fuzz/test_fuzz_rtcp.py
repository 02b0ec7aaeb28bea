"""Fuzzing RTCP feedback parsing in router/: any datagram gives a list (malformed: empty), never an
exception, and what the router builds (PLI, FIR, NACK, REMB) parses back to what it meant."""

from __future__ import annotations

import struct

from harness import fuzz_target
from hypothesis import example, given
from hypothesis import strategies as st
from rtp_strategies import flips, mutated, u16, u32

from router.rtcp_feedback import build_fir, build_nack, build_pli, build_remb, parse_feedback

built = st.one_of(
    st.builds(lambda s, m: ("pli", build_pli(s, m), (s, m)), u32, u32),
    st.builds(lambda s, m, n: ("fir", build_fir(s, m, n), (s, m, n)), u32, u32, st.integers(0, 1000)),
    st.builds(lambda s, m, lost: ("nack", build_nack(s, m, lost), (s, m, lost)), u32, u32,
              st.lists(u16, min_size=1, max_size=120)),
    st.builds(lambda s, b, ssrcs: ("remb", build_remb(s, b, ssrcs), (s, b, ssrcs)), u32,
              st.integers(0, 2**40), st.lists(u32, min_size=1, max_size=10)),
)


def header(packet_type: int, fmt: int, length_words: int) -> bytes:
    return struct.pack("!BBH", 0x80 | fmt, packet_type, length_words)


noise = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda pt, fmt, words, body: header(pt, fmt, words) + body,
              st.integers(192, 223), st.integers(0, 31), st.integers(0, 80), st.binary(max_size=300)),
    st.builds(mutated, built.map(lambda b: b[1]), flips),
    st.lists(built.map(lambda b: b[1]), min_size=2, max_size=4).map(b"".join),
)


@fuzz_target
@given(st.one_of(built, noise))
@example(header(206, 4, 2) + bytes(8))  # FIR without an FCI entry
@example(header(205, 1, 3) + bytes(12))  # NACK with one item
@example(header(206, 15, 4) + bytes(8) + b"REMB")  # REMB cut after its name
def test_fuzz_rtcp_feedback(case: tuple[str, bytes, tuple] | bytes) -> None:
    if isinstance(case, bytes):
        items = parse_feedback(case)
        assert isinstance(items, list)
        for item in items:
            assert 0 <= item.media_ssrc <= 0xFFFFFFFF and all(0 <= s <= 0xFFFF for s in item.lost)
        return
    kind, data, args = case
    (item,) = [i for i in parse_feedback(data) if i.kind != "other"]
    assert item.kind == kind and item.ssrc == args[0]
    if kind == "pli":
        assert item.media_ssrc == args[1]
    elif kind == "fir":
        assert (item.media_ssrc, item.fir_seq) == (args[1], args[2] & 0xFF)
    elif kind == "nack":
        assert item.media_ssrc == args[1] and set(item.lost) == set(args[2])
    else:
        assert item.ssrcs == args[2]
        assert item.bitrate <= args[1] and item.bitrate >= args[1] - (args[1] >> 17) - 1  # 18-bit mantissa
