"""router.sender_report.SenderReportTranslator: translation, counts, wraparound (aiortc parse)."""

from __future__ import annotations

from aiortc.rtp import RtcpPacket, RtcpSrPacket

from router.rtcp_feedback import parse_feedback
from router.sender_report import SenderReportTranslator
from router.seqmap import SequenceRewriter


def test_roundtrip_with_counts():
    t = SenderReportTranslator()
    for n in (100, 200, 50):
        t.on_sent(n)
    data = t.build(0xC0FFEE, 0x1122334455667788, 1000, 5000)
    (sr,) = RtcpPacket.parse(data)
    assert isinstance(sr, RtcpSrPacket) and sr.ssrc == 0xC0FFEE and sr.reports == []
    si = sr.sender_info
    assert (si.ntp_timestamp, si.rtp_timestamp, si.packet_count, si.octet_count) == (
        0x1122334455667788, 6000, 3, 350)


def test_timestamp_and_count_wraparound():
    t = SenderReportTranslator()
    t.packet_count = 0xFFFFFFFF
    t.octet_count = 0xFFFFFFF0
    t.on_sent(0x20)
    data = t.build(1, 0, 0xFFFFFF00, 0x200)
    (fb,) = parse_feedback(data)
    assert (fb.kind, fb.ssrc, fb.rtp_timestamp, fb.packet_count, fb.octet_count) == ("sr", 1, 0x100, 0, 0x10)


def test_with_sequence_rewriter_offset():
    rw = SequenceRewriter(90000, initial_sequence=1, initial_timestamp=0xFFFFFF00)
    pub_ssrc, cons_ssrc = 0xAAAA, 0xBBBB
    _, out_ts = rw.map(pub_ssrc, 10, 3_000_000, 0.0)
    offset = rw.timestamp_offset(pub_ssrc)
    assert offset is not None
    # the publisher's SR says its RTP time 3_000_000 + 90000 corresponds to some NTP time
    t = SenderReportTranslator()
    (fb,) = parse_feedback(t.build(cons_ssrc, 1 << 40, 3_000_000 + 90000, offset))
    assert fb.rtp_timestamp == (out_ts + 90000) & 0xFFFFFFFF
    assert fb.ntp_timestamp == 1 << 40 and fb.packet_count == 0
