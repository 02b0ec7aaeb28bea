"""Hypothesis strategies for RTP packets, built byte by byte (independently of the parser under test),
each with the field values and offsets a correct parser must report."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hypothesis import strategies as st

ONE_BYTE = 0xBEDE


@dataclass(frozen=True)
class Built:
    data: bytes
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    csrc_count: int
    profile: int  # 0: no extension block
    elements: tuple[tuple[int, bytes], ...]  # what a reader of the block must find, in order
    payload: bytes
    padding: int

    @property
    def extension_start(self) -> int:
        return 12 + 4 * self.csrc_count + (4 if self.profile else 0)

    @property
    def payload_start(self) -> int:
        return len(self.data) - self.padding - len(self.payload)


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def one_byte_block(draw: st.DrawFn) -> tuple[bytes, tuple[tuple[int, bytes], ...]]:
    elements = draw(st.lists(st.tuples(st.integers(1, 14), st.binary(min_size=1, max_size=16)), max_size=8))
    body = bytearray()
    for ext_id, value in elements:
        body += bytes(draw(st.integers(0, 2)))  # padding bytes between elements are allowed
        body.append((ext_id << 4) | (len(value) - 1))
        body += value
    return bytes(body), tuple(elements)


@st.composite
def two_byte_block(draw: st.DrawFn) -> tuple[bytes, tuple[tuple[int, bytes], ...]]:
    elements = draw(st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=40)), max_size=6))
    body = bytearray()
    for ext_id, value in elements:
        body += bytes(draw(st.integers(0, 2)))
        body += bytes((ext_id, len(value))) + value
    return bytes(body), tuple(elements)


@st.composite
def rtp_packets(draw: st.DrawFn, extensions: bool = True) -> Built:
    csrcs = draw(st.lists(u32, max_size=15))
    profile, body, elements = 0, b"", ()
    if extensions and draw(st.booleans()):
        kind = draw(st.sampled_from(["one", "two", "other"]))
        if kind == "one":
            profile = ONE_BYTE
            body, elements = draw(one_byte_block())
        elif kind == "two":
            profile = 0x1000 | draw(st.integers(0, 15))
            body, elements = draw(two_byte_block())
        else:
            profile = draw(st.integers(1, 0xFFFF).filter(lambda p: p != ONE_BYTE and p & 0xFFF0 != 0x1000))
            body = draw(st.binary(max_size=40))
        body += bytes(-len(body) % 4)
    payload = draw(st.binary(max_size=300))
    padding = draw(st.integers(1, 255)) if draw(st.booleans()) else 0
    pt, marker, seq, ts, ssrc = draw(st.integers(0, 127)), draw(st.booleans()), draw(u16), draw(u32), draw(u32)
    b0 = 0x80 | (0x20 if padding else 0) | (0x10 if profile else 0) | len(csrcs)
    data = bytearray(struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc))
    for csrc in csrcs:
        data += struct.pack("!I", csrc)
    if profile:
        data += struct.pack("!HH", profile, len(body) // 4) + body
    data += payload
    if padding:
        data += bytes(padding - 1) + bytes((padding,))
    return Built(bytes(data), pt, marker, seq, ts, ssrc, len(csrcs), profile, elements, payload, padding)


def mutated(packet: bytes, flips: list[tuple[int, int]]) -> bytes:
    """`packet` with some bytes replaced (positions wrap), to reach the parser's error paths."""
    out = bytearray(packet)
    for pos, value in flips:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


flips = st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4)
