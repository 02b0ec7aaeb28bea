"""router.producer: one parse per packet, fan-out, and the feedback a publisher keeps getting."""

from __future__ import annotations

from forwarding_build import DELTA, KEYFRAME, PUBLISHER_IDS, Wire, consumer_of, video_producer
from rtp_build import AUDIO_LEVEL, MID, build

from router.header_extensions import find_extension
from router.rtcp_feedback import parse_feedback
from router.rtp_header import parse_rtp


def test_each_consumer_gets_its_own_extension_ids_and_the_mid_is_dropped():
    producer = video_producer()
    chrome_like, other = Wire(), Wire()
    consumer_of(producer, chrome_like, ssrc=0x5000, id_map={2: 2})
    consumer_of(producer, other, ssrc=0x6000, id_map={2: 9})
    producer.receive_rtp(build(sequence=1, ssrc=0x1111, payload=KEYFRAME, ids=PUBLISHER_IDS, mid="0",
                               abs_send_time=0x123456))
    for wire, ext_id in ((chrome_like, 2), (other, 9)):
        info = parse_rtp(wire.sent[0])
        assert find_extension(wire.sent[0], info, ext_id) == bytes.fromhex("123456")
        assert find_extension(wire.sent[0], info, PUBLISHER_IDS[MID]) is None
        assert wire.sent[0][info.payload_start:] == KEYFRAME


def test_payload_types_not_negotiated_for_the_track_are_not_forwarded():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    producer.receive_rtp(build(payload_type=63, ssrc=0x1111, payload=KEYFRAME))
    assert wire.sent == [] and producer.packets_received == 0


def test_keyframe_requests_reach_the_publisher_at_most_once_a_second_and_none_is_lost():
    rtcp = Wire()
    producer = video_producer(rtcp)
    consumer_of(producer, Wire())
    producer.request_keyframe(now=1000.0)
    producer.request_keyframe(now=1000.5)  # suppressed, remembered
    plis = [f for p in rtcp.sent for f in parse_feedback(p) if f.kind == "pli"]
    assert len(plis) == 1 and plis[0].media_ssrc == 0x1111 and plis[0].ssrc == 0xAAAA
    early = [f for f in parse_feedback(producer.rtcp_tick(now=1000.8, reports=False)) if f.kind == "pli"]
    due = [f for f in parse_feedback(producer.rtcp_tick(now=1001.1, reports=False)) if f.kind == "pli"]
    assert early == [] and len(due) == 1


def test_unmute_resumes_at_a_keyframe_requested_from_the_publisher():
    rtcp = Wire()
    producer = video_producer(rtcp)
    consumer = consumer_of(producer, Wire())
    producer.set_paused(True)
    producer.set_paused(False)
    assert consumer._waiting_keyframe
    assert any(f.kind == "pli" for p in rtcp.sent for f in parse_feedback(p))


def test_gaps_are_nacked_and_reported_to_the_publisher():
    rtcp = Wire()
    producer = video_producer(rtcp)
    consumer_of(producer, Wire())
    for seq in (1, 2, 5):
        producer.receive_rtp(build(sequence=seq, ssrc=0x1111, payload=DELTA))
    nacks = [f for p in rtcp.sent for f in parse_feedback(p) if f.kind == "nack"]
    assert nacks and sorted(nacks[-1].lost) == [3, 4]
    report = parse_feedback(producer.rtcp_tick(now=10.0))
    kinds = {f.kind for f in report}
    assert "rr" in kinds and "remb" in kinds
    rr = next(f for f in report if f.kind == "rr")
    assert rr.report.ssrc == 0x1111 and rr.report.highest_sequence == 5


def test_remb_is_the_lowest_subscriber_estimate_within_bounds():
    producer = video_producer()
    first, second = consumer_of(producer, Wire(), ssrc=0x5000), consumer_of(producer, Wire(), ssrc=0x6000)
    producer.receive_rtp(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    producer.remb.update(first, 900_000, 10.0)
    producer.remb.update(second, 600_000, 10.0)
    remb = next(f for f in parse_feedback(producer.rtcp_tick(now=10.5)) if f.kind == "remb")
    assert remb.bitrate == 600_000 and remb.ssrcs == [0x1111]
    producer.remb.update(second, 10, 11.0)  # below the floor
    remb = next(f for f in parse_feedback(producer.rtcp_tick(now=11.5)) if f.kind == "remb")
    assert remb.bitrate == producer.remb.min_bps


def test_audio_levels_feed_the_speaker_observer():
    heard: list[tuple[str, int, bool]] = []
    producer = video_producer(kind="audio")
    producer._on_audio_level = lambda pid, level, voiced, now: heard.append((pid, level, voiced))
    producer._audio_level_id = PUBLISHER_IDS[AUDIO_LEVEL]
    producer.receive_rtp(build(payload_type=111, sequence=1, ssrc=0x1111, ids=PUBLISHER_IDS, mid="0",
                               audio_level=(True, 20), payload=b"opus"))
    assert heard == [("alice", 20, True)]
