"""router.rtcp_feedback: limiter, REMB aggregation, builders and parser (aiortc round trips)."""

from __future__ import annotations

import struct

import pytest
from aiortc.rtp import (
    RtcpByePacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    unpack_remb_fci,
)

from router.rtcp_feedback import (
    KeyframeRequestLimiter,
    build_fir,
    build_nack,
    build_pli,
    build_remb,
    parse_feedback,
)

# --- KeyframeRequestLimiter


def test_limiter_first_request_passes_then_suppresses():
    lim = KeyframeRequestLimiter(1.0)
    assert lim.request(10.0)
    assert not lim.request(10.2)
    assert not lim.request(10.5)
    assert not lim.due(10.9)
    assert lim.due(11.0)  # delayed, not lost
    assert not lim.due(11.1)  # only once
    assert not lim.due(15.0)


def test_limiter_no_pending_no_due():
    lim = KeyframeRequestLimiter(0.5)
    assert not lim.due(0.0)
    assert lim.request(0.0)
    assert not lim.due(5.0)
    assert lim.request(5.0)


def test_limiter_due_restarts_interval():
    lim = KeyframeRequestLimiter(1.0)
    lim.request(0.0)
    lim.request(0.1)
    assert lim.pending
    assert lim.due(1.5)
    assert not lim.request(2.0)  # 0.5 s after the delayed one was sent
    assert lim.request(2.5)
    assert not lim.pending


def test_limiter_reset():
    lim = KeyframeRequestLimiter(1.0)
    lim.request(0.0)
    lim.request(0.1)
    lim.reset()
    assert not lim.due(10.0)
    assert lim.request(0.2)


# --- builders, checked with aiortc's parser


def test_build_pli():
    (p,) = RtcpPacket.parse(build_pli(1, 2))
    assert isinstance(p, RtcpPsfbPacket) and (p.fmt, p.ssrc, p.media_ssrc, p.fci) == (1, 1, 2, b"")
    assert parse_feedback(build_pli(1, 2))[0].kind == "pli"


def test_build_fir_rfc5104_layout():
    data = build_fir(0xAABBCCDD, 0x01020304, 258)
    assert len(data) == 20
    assert data[:4] == b"\x84\xce\x00\x04"  # V=2, FMT=4, PT=206, length 4 words
    assert struct.unpack("!IIIB3x", data[4:]) == (0xAABBCCDD, 0, 0x01020304, 2)
    (fb,) = parse_feedback(data)
    assert (fb.kind, fb.media_ssrc, fb.ssrc, fb.fir_seq) == ("fir", 0x01020304, 0xAABBCCDD, 2)


def test_parse_fir_with_two_entries():
    fci = struct.pack("!IB3xIB3x", 5, 1, 6, 2)
    data = bytes(RtcpPsfbPacket(fmt=4, ssrc=9, media_ssrc=0, fci=fci))
    assert [(f.kind, f.media_ssrc, f.fir_seq) for f in parse_feedback(data)] == [("fir", 5, 1), ("fir", 6, 2)]
    bad = bytes(RtcpPsfbPacket(fmt=4, ssrc=9, media_ssrc=0, fci=fci[:4] + b"\x00" * 8))
    assert parse_feedback(bad) == []


def test_build_remb():
    data = build_remb(7, 1_234_567, [11, 22])
    (p,) = RtcpPacket.parse(data)
    assert p.fmt == 15 and p.ssrc == 7
    bitrate, ssrcs = unpack_remb_fci(p.fci)
    assert ssrcs == [11, 22] and abs(bitrate - 1_234_567) / 1_234_567 < 1e-4
    (fb,) = parse_feedback(data)
    assert fb.kind == "remb" and fb.ssrcs == [11, 22] and fb.bitrate == bitrate


def test_build_nack_simple_matches_aiortc():
    lost = [100, 101, 105, 116, 117, 200]
    ours = build_nack(1, 2, lost)
    assert ours == bytes(RtcpRtpfbPacket(fmt=1, ssrc=1, media_ssrc=2, lost=lost))
    (fb,) = parse_feedback(ours)
    assert (fb.kind, fb.ssrc, fb.media_ssrc, fb.lost) == ("nack", 1, 2, lost)


def test_build_nack_wraparound_unsorted_duplicates():
    lost = [1, 65534, 0, 65535, 65534, 30]
    (fb,) = parse_feedback(build_nack(3, 4, lost))
    assert fb.lost == [65534, 65535, 0, 1, 30]


def test_build_nack_empty():
    (p,) = RtcpPacket.parse(build_nack(3, 4, []))
    assert isinstance(p, RtcpRtpfbPacket) and p.lost == []


# --- parser


def test_parse_compound_sr_rr_sdes_bye():
    report = RtcpReceiverInfo(ssrc=55, fraction_lost=3, packets_lost=10, highest_sequence=70000,
                              jitter=12, lsr=1, dlsr=2)
    sr = RtcpSrPacket(ssrc=42, sender_info=RtcpSenderInfo(ntp_timestamp=0x1122334455667788,
                      rtp_timestamp=0xFFFFFFFF, packet_count=10, octet_count=2000), reports=[report])
    rr = RtcpRrPacket(ssrc=43, reports=[report])
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=42, items=[(1, b"cname")])])
    bye = RtcpByePacket(sources=[42, 43])
    data = bytes(sr) + bytes(rr) + bytes(sdes) + bytes(bye) + build_pli(1, 2)
    fbs = parse_feedback(data)
    assert [f.kind for f in fbs] == ["sr", "rr", "rr", "other", "other", "pli"]
    s = fbs[0]
    assert (s.ssrc, s.media_ssrc, s.ntp_timestamp, s.rtp_timestamp, s.packet_count, s.octet_count) == (
        42, 42, 0x1122334455667788, 0xFFFFFFFF, 10, 2000)
    assert fbs[1].media_ssrc == 55 and fbs[1].ssrc == 42 and fbs[1].report.highest_sequence == 70000
    assert fbs[2].ssrc == 43 and fbs[2].report.fraction_lost == 3
    assert fbs[3].packet_type == 202
    assert fbs[4].packet_type == 203 and fbs[4].ssrcs == [42, 43]


def test_parse_other_feedback_formats():
    twcc = bytes(RtcpRtpfbPacket(fmt=15, ssrc=1, media_ssrc=2))
    sli = bytes(RtcpPsfbPacket(fmt=2, ssrc=1, media_ssrc=2, fci=b"\x00\x00\x00\x01"))
    app_not_remb = bytes(RtcpPsfbPacket(fmt=15, ssrc=1, media_ssrc=2, fci=b"ABCD\x00\x00\x00\x00"))
    fbs = parse_feedback(twcc + sli + app_not_remb)
    assert [(f.kind, f.packet_type, f.fmt) for f in fbs] == [("other", 205, 15), ("other", 206, 2), ("other", 206, 15)]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",
        b"\x81\xcd\x00\x05" + bytes(8),  # truncated
        b"\x41\xcd\x00\x02" + bytes(8),  # version 1
        b"\x81\xce\x00\x01" + bytes(4),  # PSFB shorter than 8 bytes
        b"\x81\xcd\x00\x02" + bytes(7) + b"\x01" + b"\x00",  # RTPFB not multiple of 4
        b"\x8f\xce\x00\x03" + bytes(8) + b"REMB",  # REMB FCI too short
        b"\x8f\xce\x00\x04" + bytes(8) + b"REMB\x05\x00\x00\x00",  # REMB claims 5 SSRCs
        b"\xa0\xc9\x00\x01\x00\x00\x00\x00",  # padding flag with zero padding length
        b"\x81\xc8\x00\x01\x00\x00\x00\x01",  # SR too short
        bytes(RtcpSrPacket(ssrc=1, sender_info=RtcpSenderInfo(1, 2, 3, 4))) + b"\x80",
    ],
)
def test_parse_malformed_never_raises(data):
    assert parse_feedback(data) == []


def test_parse_fuzz_never_raises():
    import random

    rng = random.Random(3)
    good = build_pli(1, 2) + build_nack(1, 2, [5, 9]) + build_remb(1, 5000, [3]) + build_fir(1, 2, 3)
    for _ in range(3000):
        b = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        parse_feedback(bytes(b[: rng.randint(0, len(b))]))


def test_every_kind_parses_into_exactly_these_fields():
    """Whole-record equality: a field the router reads (media SSRC, sender, packet type, format) must
    come from the right place, and no other field may be filled in by accident."""
    from router.rtcp_feedback import Feedback

    report = RtcpReceiverInfo(ssrc=0x5000, fraction_lost=3, packets_lost=7, highest_sequence=99, jitter=4,
                              lsr=0x11223344, dlsr=655)
    info = RtcpSenderInfo(ntp_timestamp=0xE000_0000_8000_0000, rtp_timestamp=123, packet_count=9, octet_count=900)
    compound = (
        build_pli(0xB1, 0x5000)
        + build_fir(0xB2, 0x5001, seq_nr=7)
        + build_remb(0xB3, 750_000, [0x5000, 0x5002])
        + bytes(RtcpPsfbPacket(fmt=15, ssrc=0xB4, media_ssrc=0x5003, fci=b"ABCD"))
        + build_nack(0xB5, 0x5004, [10, 12])
        + bytes(RtcpRtpfbPacket(fmt=15, ssrc=0xB6, media_ssrc=0x5005))
        + bytes(RtcpSrPacket(ssrc=0xB7, sender_info=info, reports=[report]))
        + bytes(RtcpRrPacket(ssrc=0xB8, reports=[report]))
        + bytes(RtcpByePacket(sources=[0xB9]))
        + bytes(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=0xBA, items=[(1, b"cname")])]))
    )
    assert parse_feedback(compound) == [
        Feedback("pli", 0x5000, 0xB1, packet_type=206, fmt=1),
        Feedback("fir", 0x5001, 0xB2, fir_seq=7, packet_type=206, fmt=4),
        Feedback("remb", 0, 0xB3, bitrate=750_000, ssrcs=[0x5000, 0x5002], packet_type=206, fmt=15),
        Feedback("other", 0x5003, 0xB4, packet_type=206, fmt=15),
        Feedback("nack", 0x5004, 0xB5, lost=[10, 12], packet_type=205, fmt=1),
        Feedback("other", 0x5005, 0xB6, packet_type=205, fmt=15),
        Feedback("sr", 0xB7, 0xB7, ntp_timestamp=info.ntp_timestamp, rtp_timestamp=123, packet_count=9,
                 octet_count=900, packet_type=200),
        Feedback("rr", 0x5000, 0xB7, report=report, packet_type=200),
        Feedback("rr", 0x5000, 0xB8, report=report, packet_type=201),
        Feedback("other", 0, 0, ssrcs=[0xB9], packet_type=203),
        Feedback("other", 0, 0, packet_type=202),
    ]


def test_nack_lists_that_wrap_or_span_half_the_sequence_space():
    for lost in ([65535, 0, 1], [0, 65535], [32767, 32768], [100, 100 + 0x7FFF], [5, 4, 3, 0xFFFF]):
        (fb,) = parse_feedback(build_nack(1, 2, lost))
        assert sorted(fb.lost) == sorted(x & 0xFFFF for x in set(lost)), lost
    # the first number is the base: a number 0x8000 away from it counts as behind it, so it comes first
    (fb,) = parse_feedback(build_nack(1, 2, [0x8000, 0]))
    assert fb.lost == [0, 0x8000]
    (fb,) = parse_feedback(build_nack(1, 2, [0x8000, 0xFFFF]))  # 0x7FFF ahead: after the base
    assert fb.lost == [0x8000, 0xFFFF]
    (fb,) = parse_feedback(build_nack(1, 2, [0x10005]))  # out-of-range input is taken modulo 2^16
    assert fb.lost == [5]


def test_limiter_pending_flag_is_a_boolean_that_due_and_reset_clear():
    lim = KeyframeRequestLimiter(1.0)
    assert lim.pending is False
    lim.request(0.0)
    lim.request(0.5)
    assert lim.pending is True
    assert lim.due(1.0) and lim.pending is False
    lim.request(1.2)
    lim.reset()
    assert lim.pending is False and lim.request(1.3)  # reset also forgets the last request
    lim.request(1.4)
    lim.answered(1.5)
    assert lim.pending is False and not lim.due(5.0)


def test_limiter_waits_longer_for_an_unanswered_request_and_counts_from_the_keyframe_once_answered():
    lim = KeyframeRequestLimiter(0.5, retry_interval=1.0)
    assert lim.request(0.0)
    assert not lim.request(0.6)  # the keyframe asked at 0.0 is still on its way: it will serve this one too
    assert not lim.due(0.9) and lim.due(1.0)  # ... unless it never comes: asked again after 1 s
    lim.answered(1.2)  # the keyframe: what waited is served
    assert not lim.pending and not lim.request(1.6)  # 0.4 s after a keyframe: held back
    assert lim.due(1.7)  # 0.5 s after it
    lim.answered(1.8)
    assert not lim.due(10.0) and lim.request(10.0)


def test_limiter_a_keyframe_nobody_asked_for_limits_nothing():
    lim = KeyframeRequestLimiter(0.5)
    lim.answered(1.0)  # the publisher's first keyframe
    assert lim.request(1.1)


def test_limiter_retry_interval_is_never_shorter_than_the_interval():
    lim = KeyframeRequestLimiter(2.0, retry_interval=1.0)
    assert lim.request(0.0) and not lim.request(1.5) and lim.due(2.0)
