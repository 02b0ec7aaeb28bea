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
    for payload in (b"", b"x"):
        data = media(payload=payload)
        with pytest.raises(ValueError, match="^RTX packet has no original sequence number$"):
            unwrap_rtx(data, parse_rtp(data), 96, 1)


def test_an_empty_media_packet_round_trips_through_rtx():
    """The OSN alone (two bytes) is a valid RTX packet: it restores a packet with an empty payload."""
    data = media(payload=b"")
    rtx = wrap_rtx(data, parse_rtp(data), 0xBEEF, 97, 5)
    assert len(rtx) == len(data) + 2 and rtx[-2:] == b"\xff\xff"  # OSN 65535
    assert bytes(unwrap_rtx(rtx, parse_rtp(rtx), 96, 0x1234)) == data
    one = media(payload=b"z")
    assert bytes(unwrap_rtx(wrap_rtx(one, parse_rtp(one), 7, 97, 1), parse_rtp(wrap_rtx(one, parse_rtp(one), 7, 97, 1)),
                            96, 0x1234)) == one


def test_payload_types_are_replaced_whole_and_the_marker_kept():
    # odd media payload type, even RTX payload type: no bit of one may leak into the other
    for marker in (0, 1):
        data = media(payload_type=127, marker=marker)
        rtx = wrap_rtx(data, parse_rtp(data), 0xBEEF, 96, 3)
        info = parse_rtp(rtx)
        assert (info.payload_type, info.marker, info.sequence, info.ssrc) == (96, bool(marker), 3, 0xBEEF)
        back = unwrap_rtx(rtx, info, 100, 0x1234)
        assert (parse_rtp(back).payload_type, parse_rtp(back).marker) == (100, bool(marker))
