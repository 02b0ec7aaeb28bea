"""router.rtx against aiortc's own wrap_rtx / unwrap_rtx on RtpPacket objects."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket
from aiortc.rtp import unwrap_rtx as aiortc_unwrap
from aiortc.rtp import wrap_rtx as aiortc_wrap
from rtp_build import ABS_SEND_TIME, MID, build, ext_map

from router.rtp_header import parse_rtp
from router.rtx import unwrap_rtx, wrap_rtx

IDS = {MID: 4, ABS_SEND_TIME: 2}


def media(**kw) -> bytes:
    defaults = dict(payload_type=96, marker=1, sequence=65535, timestamp=0xFFFFFFF0, ssrc=0x1234,
                    ids=IDS, mid="1", abs_send_time=4242, csrc=[77], payload=b"frame-bytes" * 5)
    defaults.update(kw)
    return build(**defaults)


def test_wrap_matches_aiortc():
    data = media()
    ours = wrap_rtx(data, parse_rtp(data), 0xBEEF, 97, 12)
    ref = aiortc_wrap(RtpPacket.parse(data, ext_map(IDS)), payload_type=97, sequence_number=12, ssrc=0xBEEF)
    assert ours == ref.serialize(ext_map(IDS))


def test_wrap_drops_padding_like_aiortc():
    data = media(padding=9)
    ours = wrap_rtx(data, parse_rtp(data), 5, 97, 1)
    ref = aiortc_wrap(RtpPacket.parse(data, ext_map(IDS)), payload_type=97, sequence_number=1, ssrc=5)
    assert ours == ref.serialize(ext_map(IDS))
    info = parse_rtp(ours)
    assert info.payload_end == len(ours)


def test_unwrap_matches_aiortc_and_roundtrips():
    data = media(marker=0)
    rtx = wrap_rtx(data, parse_rtp(data), 0xBEEF, 97, 300)
    ours = unwrap_rtx(rtx, parse_rtp(rtx), 96, 0x1234)
    assert isinstance(ours, bytearray)
    assert bytes(ours) == data
    ref = aiortc_unwrap(RtpPacket.parse(rtx, ext_map(IDS)), payload_type=96, ssrc=0x1234)
    assert bytes(ours) == ref.serialize(ext_map(IDS))
    info = parse_rtp(ours)
    assert (info.sequence, info.ssrc, info.payload_type, info.marker) == (65535, 0x1234, 96, False)


def test_unwrap_aiortc_made_rtx_with_padding():
    pkt = RtpPacket.parse(media(), ext_map(IDS))
    rtx = aiortc_wrap(pkt, payload_type=97, sequence_number=8, ssrc=99)
    rtx.padding_size = 5
    raw = rtx.serialize(ext_map(IDS))
    ours = unwrap_rtx(memoryview(raw), parse_rtp(raw), 96, 0x1234)
    assert bytes(ours) == media()


def test_unwrap_without_osn_raises():
    data = media(payload=b"x")
    with pytest.raises(ValueError):
        unwrap_rtx(data, parse_rtp(data), 96, 1)
