"""router.keyframes.is_keyframe on real VP8 and H.264 payloads (PyAV encoders, aiortc packetizers)."""

from __future__ import annotations

import copy
import fractions

import av
import numpy as np
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder, VpxPayloadDescriptor

from router.keyframes import is_keyframe

TB = fractions.Fraction(1, 30)


def frames(count: int, *, noisy: bool) -> list[av.VideoFrame]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(count):
        if noisy:
            img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        else:
            img = np.full((240, 320, 3), (i * 7) % 255, dtype=np.uint8)
            img[i % 240, :, :] = 255
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts, f.time_base = i, TB
        out.append(f)
    return out


def vp8_packets(gop: int, count: int) -> list[av.Packet]:
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 320, 240, "yuv420p"
    ctx.time_base, ctx.framerate, ctx.gop_size = TB, 30, gop
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[av.Packet] = []
    for f in frames(count, noisy=False):
        packets += ctx.encode(f)
    packets += ctx.encode(None)
    return packets


def test_vp8_pack_of_pyav_packets():
    packets = vp8_packets(gop=4, count=12)
    enc = Vp8Encoder()
    keys = 0
    for p in packets:
        payloads, _ = enc.pack(p)
        assert payloads
        assert is_keyframe("video/VP8", payloads[0]) is p.is_keyframe
        keys += p.is_keyframe
        for rest in payloads[1:]:
            assert not is_keyframe("video/VP8", rest)
    assert 2 <= keys < len(packets)


def test_vp8_encoder_forced_keyframe_multi_packet():
    enc = Vp8Encoder()
    results = []
    for i, f in enumerate(frames(6, noisy=True)):
        payloads, _ = enc.encode(f, force_keyframe=(i == 4))
        results.append([is_keyframe("video/VP8", memoryview(x)) for x in payloads])
    assert results[0][0] and results[4][0]
    assert len(results[0]) > 1 and not any(results[0][1:])  # a noisy keyframe spans packets
    for r in results[1:4] + results[5:]:
        assert not any(r)


@pytest.mark.parametrize(
    "descr",
    [
        VpxPayloadDescriptor(partition_start=1, partition_id=0),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=0x7ABC),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, tl0picidx=3),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, tid=(1, 1)),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, keyidx=5),
        VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=300, tl0picidx=1, tid=(2, 0), keyidx=1),
    ],
)
def test_vp8_descriptor_extensions(descr):
    descr = copy.copy(descr)  # changed below: the parameter itself is shared by every run of this test
    packets = vp8_packets(gop=3, count=3)
    key = next(bytes(p) for p in packets if p.is_keyframe)
    delta = next(bytes(p) for p in packets if not p.is_keyframe)
    assert is_keyframe("video/VP8", bytes(descr) + key[:100])
    assert not is_keyframe("video/VP8", bytes(descr) + delta[:100])
    descr.partition_start = 0
    assert not is_keyframe("video/VP8", bytes(descr) + key[:100])
    descr.partition_start, descr.partition_id = 1, 1
    assert not is_keyframe("video/VP8", bytes(descr) + key[:100])


def test_vp8_seven_bit_picture_id():
    # aiortc always writes 15-bit picture IDs; browsers may send the 7-bit form (M=0)
    assert is_keyframe("video/VP8", bytes([0x90, 0x80, 0x05, 0x10]))
    assert not is_keyframe("video/VP8", bytes([0x90, 0x80, 0x05, 0x11]))


@pytest.mark.parametrize("payload", [b"", b"\x90", b"\x90\x80", b"\x90\x80\x80\x01", b"\x10"])
def test_vp8_truncated(payload):
    assert not is_keyframe("video/VP8", payload)


@pytest.mark.parametrize("noisy", [False, True])
def test_h264_encoder(noisy):
    enc = H264Encoder()
    kinds = set()
    for i, f in enumerate(frames(8, noisy=noisy)):
        payloads, _ = enc.encode(f, force_keyframe=(i in (0, 5)))
        if not payloads:
            continue
        kinds.update(p[0] & 0x1F for p in payloads)
        flags = [is_keyframe("video/H264", p) for p in payloads]
        if i in (0, 5):
            assert flags[0]
        else:
            assert not any(flags)
    assert (28 in kinds) if noisy else (24 in kinds)  # FU-A with noise, STAP-A without


def test_h264_handmade():
    assert is_keyframe("video/H264", b"\x65\x88")  # IDR
    assert is_keyframe("video/H264", b"\x67\x42")  # SPS
    assert not is_keyframe("video/H264", b"\x68\xce")  # PPS alone
    assert not is_keyframe("video/H264", b"\x41\x9a")  # non-IDR slice
    stap = b"\x78" + b"\x00\x02\x68\xce" + b"\x00\x02\x65\x88"
    assert is_keyframe("video/H264", stap)
    assert not is_keyframe("video/H264", b"\x78" + b"\x00\x02\x68\xce" + b"\x00\x02\x41\x9a")
    assert not is_keyframe("video/H264", b"\x78\x00\x09\x65")  # truncated aggregate
    assert is_keyframe("video/H264", b"\x7c\x85\x00")  # FU-A start, IDR
    assert not is_keyframe("video/H264", b"\x7c\x05\x00")  # FU-A middle
    assert not is_keyframe("video/H264", b"\x7c\x81\x00")  # FU-A start, non-IDR
    assert not is_keyframe("video/H264", b"\x7c")
    assert not is_keyframe("video/H264", b"")


def test_audio_and_case():
    assert is_keyframe("audio/opus", b"\x00")
    assert is_keyframe("audio/PCMU", b"")
    assert is_keyframe("video/vp8", b"\x10\x00")
    assert not is_keyframe("VIDEO/VP8", b"\x10\x01")


def test_h264_edges_one_byte_nal_units_stap_a_sizes_and_short_fu_a():
    assert is_keyframe("video/H264", b"\x65") and is_keyframe("video/H264", b"\x67")  # one byte: IDR, SPS
    assert not is_keyframe("video/H264", b"\x41")
    assert is_keyframe("video/H264", bytes([24, 0x00, 0x01, 0x65]))  # STAP-A ending exactly with an IDR unit
    assert not is_keyframe("video/H264", bytes([24, 0x00, 0x00, 0x65]))  # a zero-size unit ends the packet
    big = bytes([24, 0x01, 0x00]) + bytes([0x41]) + bytes(255) + bytes([0x00, 0x01, 0x65])  # a 256-byte unit first
    assert is_keyframe("video/H264", big)
    assert not is_keyframe("video/H264", bytes([24, 0x00, 0x05, 0x65]))  # claims more than there is
    assert is_keyframe("video/H264", bytes([0x7C, 0x85]))  # FU-A start of an IDR, header only
    assert not is_keyframe("video/H264", bytes([0x7C])) and not is_keyframe("video/H264", bytes([0x7C, 0x05]))


def test_vp8_picture_size_edges():
    from router.keyframes import vp8_keyframe_size

    def frame(tag: int, width: int, height: int, extra: int = 0) -> bytes:
        return bytes([0x10, tag, 0x00, 0x00, 0x9D, 0x01, 0x2A]) + width.to_bytes(2, "little") + \
            height.to_bytes(2, "little") + bytes(extra)

    assert vp8_keyframe_size(frame(0x00, 640, 480)) == (640, 480)  # exactly ten bytes after the descriptor
    assert vp8_keyframe_size(frame(0x00, 640, 480)[:-1]) is None
    assert vp8_keyframe_size(frame(0x12, 320, 180, 4)) == (320, 180)  # version bits set: still a keyframe
    assert vp8_keyframe_size(frame(0x01, 640, 480)) is None  # an inter frame, even with the right bytes
    assert vp8_keyframe_size(bytes([0x00]) + frame(0x00, 640, 480)[1:]) is None  # not the start of a frame
    assert vp8_keyframe_size(frame(0x00, 0, 480)) is None and vp8_keyframe_size(frame(0x00, 640, 0)) is None
    assert vp8_keyframe_size(frame(0x00, 0, 0)) is None
    assert vp8_keyframe_size(frame(0x00, 0xC000 | 640, 0x4000 | 480)) == (640, 480)  # scaling bits are not size
