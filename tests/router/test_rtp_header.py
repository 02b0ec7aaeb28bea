"""router.rtp_header against packets serialized by aiortc's RtpPacket."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket
from rtp_build import ABS_SEND_TIME, AUDIO_LEVEL, MID, build, ext_map

from router.rtp_header import is_rtcp, parse_rtp, rewrite_rtp, rewritten_rtp

IDS = {MID: 4, ABS_SEND_TIME: 2, AUDIO_LEVEL: 1}


def test_plain_packet():
    data = build(marker=1, sequence=65535, timestamp=0xFFFFFFFF, ssrc=0xDEADBEEF, payload=b"abcd")
    info = parse_rtp(data)
    assert info.payload_type == 96 and info.marker is True
    assert (info.sequence, info.timestamp, info.ssrc) == (65535, 0xFFFFFFFF, 0xDEADBEEF)
    assert info.extension_profile == 0
    assert info.extension_start == info.extension_end == info.payload_start == 12
    assert data[info.payload_start : info.payload_end] == b"abcd"


def test_csrc_extension_padding_offsets():
    payload = bytes(range(50))
    data = build(csrc=[1, 2, 3], padding=7, ids=IDS, mid="0", abs_send_time=0x123456,
                 audio_level=(True, 30), payload=payload)
    info = parse_rtp(data)
    assert info.extension_profile == 0xBEDE
    assert info.extension_start == 12 + 12 + 4
    assert (info.extension_end - info.extension_start) % 4 == 0
    assert info.payload_start == info.extension_end
    assert data[info.payload_start : info.payload_end] == payload
    assert len(data) - info.payload_end == 7
    ref = RtpPacket.parse(data, ext_map(IDS))
    assert ref.payload == data[info.payload_start : info.payload_end]
    assert ref.extensions.audio_level == (True, 30)


def test_memoryview_and_bytearray_inputs():
    data = build(ids=IDS, mid="1")
    assert parse_rtp(memoryview(data)) == parse_rtp(bytearray(data)) == parse_rtp(data)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x80\x60" + bytes(9),  # 11 bytes
        b"\x40\x60" + bytes(10),  # version 1
        b"\x83\x60" + bytes(10) + bytes(8),  # CC=3 but only 2 CSRCs
        b"\x90\x60" + bytes(10) + b"\xbe\xde",  # truncated extension header
        b"\x90\x60" + bytes(10) + b"\xbe\xde\x00\x02" + bytes(4),  # extension longer than packet
        b"\xa0\x60" + bytes(10) + b"\x00",  # padding length 0
        b"\xa0\x60" + bytes(10) + b"ab\x09",  # padding longer than payload
    ],
)
def test_invalid_packets_raise(bad):
    with pytest.raises(ValueError):
        parse_rtp(bad)


def test_padding_only_packet():
    data = b"\xa0\x60" + bytes(10) + bytes(3) + b"\x04"
    info = parse_rtp(data)
    assert info.payload_start == info.payload_end == 12


def test_rewrite_preserves_flags_and_rest():
    data = build(marker=1, csrc=[9], padding=4, ids=IDS, mid="abc", audio_level=(False, 90))
    buf = bytearray(data)
    rewrite_rtp(buf, 111, 7, 0xABCDEF01, 0x01020304)
    ref = RtpPacket.parse(bytes(buf), ext_map(IDS))
    assert (ref.payload_type, ref.marker, ref.sequence_number) == (111, 1, 7)
    assert (ref.timestamp, ref.ssrc, ref.csrc, ref.padding_size) == (0xABCDEF01, 0x01020304, [9], 4)
    assert ref.extensions.mid == "abc"
    assert buf[0] == data[0]
    assert buf[12:] == data[12:]


def test_rewrite_keeps_marker_clear():
    buf = bytearray(build(marker=0))
    rewrite_rtp(buf, 100, 1, 2, 3)
    info = parse_rtp(buf)
    assert info.marker is False and info.payload_type == 100


def test_is_rtcp():
    assert is_rtcp(b"\x80\xc8\x00\x06")  # SR
    assert is_rtcp(b"\x81\xcd")  # RTPFB
    assert is_rtcp(bytes([0x80, 223]))
    assert not is_rtcp(bytes([0x80, 224]))
    assert not is_rtcp(bytes([0x80, 191]))
    assert not is_rtcp(build(payload_type=96, marker=1))  # 0xE0
    assert not is_rtcp(build(payload_type=111))
    assert not is_rtcp(b"\x80")


def test_rewritten_rtp_matches_in_place_rewrite() -> None:
    original = build(marker=1, csrc=[7], padding=3, ids=IDS, mid="0", abs_send_time=5, payload=b"payload")
    in_place = bytearray(original)
    rewrite_rtp(in_place, 101, 65535, 0xFFFFFFFF, 0xDEADBEEF)
    copy = rewritten_rtp(original, 101, 65535, 0xFFFFFFFF, 0xDEADBEEF)
    assert isinstance(copy, bytes) and copy == bytes(in_place)
    info = parse_rtp(copy)
    assert (info.payload_type, info.sequence, info.timestamp, info.ssrc) == (101, 65535, 0xFFFFFFFF, 0xDEADBEEF)
    assert info.marker == parse_rtp(original).marker


def test_rtcp_demultiplexing_range_is_192_to_223_inclusive():
    from router.rtp_header import is_rtcp

    assert [is_rtcp(bytes([0x80, b])) for b in (191, 192, 223, 224)] == [False, True, True, False]
    assert not is_rtcp(b"\x80")


def test_rewriting_replaces_the_whole_payload_type_and_keeps_the_marker():
    from router.rtp_header import parse_rtp, rewrite_rtp, rewritten_rtp

    for marker in (0, 1):
        data = bytes([0x80, (marker << 7) | 127]) + bytes(10) + b"payload"
        out = rewritten_rtp(data, 96, 1, 2, 3)
        info = parse_rtp(out)
        assert (info.payload_type, info.marker, info.sequence, info.timestamp, info.ssrc) == (96, bool(marker), 1, 2, 3)
        buf = bytearray(data)
        rewrite_rtp(buf, 96, 1, 2, 3)
        assert bytes(buf) == out
