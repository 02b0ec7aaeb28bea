"""router.producer and router.layer: one parse per packet, fan-out by layer, feedback to the publisher."""

from __future__ import annotations

import time

from forwarding_build import DELTA, KEYFRAME, PUBLISHER_IDS, Wire, consumer_of, video_producer
from rtp_build import ABS_SEND_TIME, AUDIO_LEVEL, MID, build

from router.header_extensions import find_extension
from router.layer import STALL_SECONDS
from router.rtcp_feedback import parse_feedback
from router.rtp_header import parse_rtp
from router.rtx import wrap_rtx


def feedback(link: Wire, kind: str) -> list:
    return [f for p in link.rtcp for f in parse_feedback(p) if f.kind == kind]


def test_each_consumer_gets_its_own_extension_ids_and_the_mid_is_dropped():
    producer = video_producer()
    chrome_like, other = Wire(), Wire()
    consumer_of(producer, chrome_like, ssrc=0x5000, extensions={ABS_SEND_TIME: 2})
    consumer_of(producer, other, ssrc=0x6000, extensions={ABS_SEND_TIME: 9})
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME, ids=PUBLISHER_IDS, mid="0",
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
    producer.layers[0].receive(build(payload_type=63, ssrc=0x1111, payload=KEYFRAME))
    assert wire.sent == [] and producer.packets_received == 0


def test_a_consumer_that_starts_asks_for_a_keyframe_and_waits_for_it():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer_of(producer, wire)
    assert [f.media_ssrc for f in feedback(link, "pli")] == [0x1111]
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=DELTA))
    assert wire.sent == []
    producer.layers[0].receive(build(sequence=2, ssrc=0x1111, payload=KEYFRAME))
    assert len(wire.sent) == 1


def test_keyframe_requests_are_held_back_while_one_is_unanswered_and_none_is_lost():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    layer.request_keyframe(now=1000.0)
    layer.request_keyframe(now=1000.3)  # suppressed, remembered
    plis = feedback(link, "pli")
    assert len(plis) == 1 and plis[0].media_ssrc == 0x1111 and plis[0].ssrc == 0xAAAA
    early = [f for f in parse_feedback(producer.keyframe_tick(now=1000.9)) if f.kind == "pli"]
    due = [f for f in parse_feedback(producer.keyframe_tick(now=1001.02)) if f.kind == "pli"]
    assert early == [] and len(due) == 1  # no keyframe came within a second: asked again
    assert producer.keyframe_tick(now=1001.1) == b""  # just asked: not again so soon


def test_after_the_keyframe_asked_for_the_next_request_may_go_half_a_second_later():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))  # the publisher's first: limits nothing
    layer.request_keyframe()
    assert len(feedback(link, "pli")) == 1
    layer.receive(build(sequence=2, ssrc=0x1111, payload=KEYFRAME))  # the answer
    arrived = time.monotonic()
    layer.request_keyframe(now=arrived + 0.3)
    assert len(feedback(link, "pli")) == 1 and layer.keyframes.pending
    assert producer.keyframe_tick(now=arrived + 0.45) == b""
    assert [f.kind for f in parse_feedback(producer.keyframe_tick(now=arrived + 0.55))] == ["pli"]


def test_a_consumer_still_waiting_re_requests_its_keyframe_until_it_comes():
    link = Wire()
    producer = video_producer(link)
    consumer_of(producer, Wire())
    first = len(feedback(link, "pli"))
    # the first request used the monotonic clock: the timer's instants must come after it (not after a
    # fixed 10 000 s, which a machine up for longer than that has passed)
    base = time.monotonic() + 100.0
    later = [parse_feedback(producer.keyframe_tick(now=base + t)) for t in (0.0, 1.1, 2.2)]
    assert first == 1 and all(any(f.kind == "pli" for f in out) for out in later)
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    assert not any(f.kind == "pli" for f in parse_feedback(producer.keyframe_tick(now=base + 4.0)))


def test_unmute_resumes_every_consumer_at_a_keyframe_with_no_sequence_gap():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    producer.set_paused(True)
    layer.receive(build(sequence=2, ssrc=0x1111, payload=DELTA))  # muted: dropped
    producer.set_paused(False)
    assert consumer in layer.pending and consumer not in layer.consumers
    assert len(feedback(link, "pli")) >= 2 or layer.keyframes.pending  # asked now, or as soon as the limit allows
    layer.receive(build(sequence=3, ssrc=0x1111, payload=DELTA))  # resumed: waits for a keyframe
    layer.receive(build(sequence=4, ssrc=0x1111, payload=KEYFRAME))
    sequences = [parse_rtp(p).sequence for p in wire.sent]
    assert sequences == [sequences[0], (sequences[0] + 1) & 0xFFFF]


def test_a_paused_audio_producer_leaves_no_sequence_gap_on_unmute():
    producer = video_producer(kind="audio", rtx_ssrc=None)
    wire = Wire()
    consumer_of(producer, wire, kind="audio")
    layer = producer.layers[0]
    layer.receive(build(payload_type=111, sequence=10, ssrc=0x1111, payload=b"opus"))
    producer.set_paused(True)
    for seq in range(11, 60):
        layer.receive(build(payload_type=111, sequence=seq, ssrc=0x1111, payload=b"opus"))
    producer.set_paused(False)
    layer.receive(build(payload_type=111, sequence=60, ssrc=0x1111, payload=b"opus"))
    first, second = (parse_rtp(p).sequence for p in wire.sent)
    assert second == (first + 1) & 0xFFFF


def test_gaps_are_nacked_again_until_they_arrive_and_reported_to_the_publisher():
    link = Wire()
    producer = video_producer(link)
    consumer_of(producer, Wire())
    layer = producer.layers[0]
    for seq in (1, 2, 5):
        layer.receive(build(sequence=seq, ssrc=0x1111, payload=DELTA))
    assert sorted(feedback(link, "nack")[-1].lost) == [3, 4]
    producer.nack_tick(now_ms=layer.last_arrival * 1000.0 + 150.0)  # one round trip later: asked again
    assert sorted(feedback(link, "nack")[-1].lost) == [3, 4] and len(feedback(link, "nack")) == 2
    lost = build(sequence=3, ssrc=0x1111, payload=DELTA)
    layer.receive_rtx(wrap_rtx(lost, parse_rtp(lost), rtx_ssrc=0x2222, rtx_payload_type=97, rtx_sequence=1))
    producer.nack_tick(now_ms=layer.last_arrival * 1000.0 + 300.0)
    assert feedback(link, "nack")[-1].lost == [4]  # the recovered packet is not asked for again
    report = parse_feedback(producer.rtcp_tick(now=10.0))
    kinds = {f.kind for f in report}
    assert "rr" in kinds and "remb" in kinds
    rr = next(f for f in report if f.kind == "rr")
    assert rr.report.ssrc == 0x1111 and rr.report.highest_sequence == 5


def test_a_huge_sequence_jump_is_a_restart_not_thousands_of_nacks():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=DELTA))
    layer.receive(build(sequence=30001, ssrc=0x1111, payload=DELTA))
    assert feedback(link, "nack") == [] and layer.nack is not None and layer.nack.missing == []
    assert feedback(link, "pli")  # what helps after a restart is a keyframe


def test_padding_only_rtx_probes_are_not_forwarded():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    probe = build(payload_type=97, sequence=50, ssrc=0x2222, payload=b"", padding=200)
    layer.receive_rtx(probe)
    # a probe is legitimate traffic: not forwarded, not a recovery, and not counted as malformed
    assert len(wire.sent) == 1 and layer.recovered == 0 and producer.malformed == 0
    assert layer.nack is not None and layer.nack.missing == []


def test_a_packet_recovered_over_rtx_is_forwarded_in_place_and_kept_for_subscribers_nacks():
    producer = video_producer()
    wire = Wire()
    consumer = consumer_of(producer, wire)
    layer = producer.layers[0]
    for seq in (1, 2, 4):
        layer.receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME if seq == 1 else DELTA))
    lost = build(sequence=3, ssrc=0x1111, payload=DELTA + b"3")
    layer.receive_rtx(wrap_rtx(lost, parse_rtp(lost), rtx_ssrc=0x2222, rtx_payload_type=97, rtx_sequence=1))
    assert layer.recovered == 1 and producer.packets_received == 4
    out = [parse_rtp(p) for p in wire.sent]
    assert [i.sequence - out[0].sequence for i in out] == [0, 1, 3, 2]  # its own place in the sequence
    assert wire.sent[3][out[3].payload_start:] == DELTA + b"3"
    consumer.handle_nack([out[3].sequence])  # the subscriber lost it as well: answered from the cache
    resent = wire.sent[-1]
    info = parse_rtp(resent)
    assert consumer.retransmissions == 1 and info.ssrc == 0x5001
    assert int.from_bytes(resent[info.payload_start:info.payload_start + 2], "big") == out[3].sequence
    assert resent[info.payload_start + 2:] == DELTA + b"3"


def test_a_stream_that_stalls_restarts_its_consumers_at_a_fresh_keyframe():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.receive(build(sequence=2, ssrc=0x1111, payload=DELTA))
    plis = len(feedback(link, "pli"))
    layer.last_arrival -= STALL_SECONDS + 4  # the server was paused, or the network gone
    layer.receive(build(sequence=3, ssrc=0x1111, payload=DELTA))  # stale: not forwarded
    assert len(wire.sent) == 2 and len(feedback(link, "pli")) == plis + 1 and layer.stalls == 1
    layer.receive(build(sequence=9, ssrc=0x1111, payload=KEYFRAME))
    sequences = [parse_rtp(p).sequence for p in wire.sent]
    assert sequences[2] == (sequences[1] + 1) & 0xFFFF


def test_one_failing_consumer_does_not_stop_the_others():
    producer = video_producer()
    good = Wire()
    broken = consumer_of(producer, Wire(), ssrc=0x6000)

    def explode(_data: bytes) -> None:
        raise RuntimeError("boom")

    broken._send_rtp = explode
    consumer_of(producer, good, ssrc=0x5000)
    producer.layers[0].receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    assert len(good.sent) == 1 and producer.forward_errors == 1


def test_audio_levels_feed_the_speaker_observer():
    heard: list[tuple[str, int, bool]] = []
    times: list[float] = []
    producer = video_producer(kind="audio")
    producer._on_audio_level = lambda pid, level, voiced, now: (heard.append((pid, level, voiced)), times.append(now))
    producer.audio_level_id = PUBLISHER_IDS[AUDIO_LEVEL]
    producer.layers[0].receive(build(payload_type=111, sequence=1, ssrc=0x1111, ids=PUBLISHER_IDS, mid="0",
                                     audio_level=(True, 20), payload=b"opus"))
    assert heard == [("alice", 20, True)]
    assert abs(times[0] - producer.layers[0].last_arrival * 1000.0) < 1e-6  # milliseconds, at arrival


def test_remb_to_the_publisher_is_the_ceiling_for_every_layer():
    producer = video_producer(rids=("q", "h"), media_ssrc=None, rtx_ssrc=None)
    producer.layers[0].media_ssrc, producer.layers[1].media_ssrc = 0x10, 0x20
    consumer_of(producer, Wire())
    remb = next(f for f in parse_feedback(producer.rtcp_tick(now=10.0)) if f.kind == "remb")
    assert remb.bitrate == producer.remb_bps and sorted(remb.ssrcs) == [0x10, 0x20]


def test_vp8_keyframes_tell_a_layers_picture_size():
    producer = video_producer()
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    assert (layer.width, layer.height) == (640, 480)


def test_a_keyframe_request_made_before_the_publishers_transport_is_up_is_not_lost():
    link = Wire()
    link.up = False
    producer = video_producer(link)
    consumer_of(producer, Wire())  # asks at once, but nothing can be sent yet
    layer = producer.layers[0]
    assert layer.keyframes.pending
    link.up = True
    late = [f for f in parse_feedback(producer.keyframe_tick(now=layer.last_arrival + 0.1)) if f.kind == "pli"]
    assert [f.media_ssrc for f in late] == [0x1111]


def test_consumers_with_and_without_an_extension_mapping_each_get_the_packet():
    producer = video_producer()
    same, remapped, also_remapped = Wire(), Wire(), Wire()
    ids_without_mid = {ABS_SEND_TIME: 2}
    consumer_of(producer, same, ssrc=0x5000, extensions={})  # nothing of the publisher's is forwarded
    consumer_of(producer, remapped, ssrc=0x6000, extensions={**ids_without_mid})
    consumer_of(producer, also_remapped, ssrc=0x7000, extensions={**ids_without_mid})
    plain = build(sequence=1, ssrc=0x1111, payload=KEYFRAME)  # no extension block: forwarded as it is
    producer.layers[0].receive(plain)
    producer.layers[0].receive(build(sequence=2, ssrc=0x1111, payload=KEYFRAME, ids=PUBLISHER_IDS, mid="0",
                                     abs_send_time=77))
    assert [len(w.sent) for w in (same, remapped, also_remapped)] == [2, 2, 2]
    assert remapped.sent[1][12:] == also_remapped.sent[1][12:]
    info = parse_rtp(remapped.sent[1])
    assert find_extension(remapped.sent[1], info, 2) == bytes([0, 0, 77])
    assert find_extension(remapped.sent[1], info, PUBLISHER_IDS[MID]) is None
    assert same.sent[0][12:] == plain[12:] and producer.layers[0].forwarded == 6


def test_forward_failures_are_counted_and_logged_once_per_thousand(caplog):
    producer = video_producer()
    broken = consumer_of(producer, Wire())

    def explode(_data: bytes) -> None:
        raise RuntimeError("boom")

    broken._send_rtp = explode
    with caplog.at_level("ERROR", logger="router.producer"):
        for seq in range(1, 1001):
            producer.layers[0].receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME))
    assert producer.forward_errors == 1000
    logged = [r.getMessage() for r in caplog.records if "forward_failed" in r.getMessage()]
    assert logged == ["event=forward_failed producer=p1 count=1", "event=forward_failed producer=p1 count=1000"]


def test_removing_a_consumer_takes_it_out_of_every_layer_list():
    producer = video_producer(rids=("q", "h"), media_ssrc=None, rtx_ssrc=None)
    producer.layers[0].media_ssrc, producer.layers[1].media_ssrc = 0x10, 0x20
    stays, leaves = consumer_of(producer, Wire(), ssrc=0x5000), consumer_of(producer, Wire(), ssrc=0x6000)
    producer.layers[0].receive(build(sequence=1, ssrc=0x10, payload=KEYFRAME))
    leaves.set_target(producer.layers[1])  # forwarding layer 0, waiting for layer 1
    stays.set_target(producer.layers[1])
    producer.remove_consumer(leaves)
    assert producer.consumers == [stays]
    assert producer.layers[0].consumers == [stays] and producer.layers[1].pending == [stays]
    producer.remove_consumer(leaves)  # twice: harmless
    assert producer.layer_by_rid("h") is producer.layers[1] and producer.layer_by_rid("f") is None


def test_pausing_keeps_consumers_in_place_and_only_resuming_queues_them_for_a_keyframe():
    producer = video_producer(rids=("q", "h"), media_ssrc=None, rtx_ssrc=None)
    producer.layers[0].media_ssrc, producer.layers[1].media_ssrc = 0x10, 0x20
    low, high = consumer_of(producer, Wire(), ssrc=0x5000, layer=0), consumer_of(producer, Wire(), ssrc=0x6000, layer=1)
    producer.layers[0].receive(build(sequence=1, ssrc=0x10, payload=KEYFRAME))
    producer.layers[1].receive(build(sequence=1, ssrc=0x20, payload=KEYFRAME))
    producer.set_paused(True)
    assert producer.layers[0].consumers == [low] and producer.layers[1].consumers == [high]
    assert low.layer is producer.layers[0]
    producer.set_paused(False)
    assert producer.layers[0].pending == [low] and producer.layers[1].pending == [high]  # every layer, not the first
    assert low.layer is None and high.layer is None


def test_audio_producers_send_no_remb_and_need_no_nack_timer():
    audio = video_producer(kind="audio", rtx_ssrc=None)
    consumer_of(audio, Wire(), kind="audio")
    audio.layers[0].receive(build(payload_type=111, sequence=1, ssrc=0x1111, payload=b"opus", ids=PUBLISHER_IDS,
                                  audio_level=(True, 5)))  # a level, but nobody listens: fine
    audio.nack_tick(now_ms=1e9)  # audio keeps no NACK state
    kinds = {f.kind for f in parse_feedback(audio.rtcp_tick(now=10.0))}
    assert kinds == {"rr"}
    video = video_producer()
    assert {f.kind for f in parse_feedback(video.rtcp_tick(now=10.0))} == set()  # no consumer, no packet: nothing


def test_sender_reports_and_keyframe_requests_by_producer_reach_the_right_layer():
    link = Wire()
    producer = video_producer(link, rids=("q", "h"), media_ssrc=None, rtx_ssrc=None)
    producer.layers[0].media_ssrc, producer.layers[1].media_ssrc = 0x10, 0x20
    producer.sender_report(0x20, 0xE000_0000_0000_0000, 99)
    assert producer.layers[0].sender_report is None and producer.layers[1].sender_report == (0xE000_0000_0000_0000, 99)
    producer.request_keyframe(now=50.0)
    assert sorted(f.media_ssrc for f in feedback(link, "pli")) == [0x10, 0x20]
    producer.request_keyframe(now=50.3)  # within the interval: held back
    assert len(feedback(link, "pli")) == 2 and producer.keyframe_requests_sent == 2
    producer.request_keyframe(now=60.0)  # the caller's clock decides
    assert len(feedback(link, "pli")) == 4


def test_resuming_queues_the_consumers_of_every_layer_even_after_one_without_any():
    producer = video_producer(rids=("q", "h"), media_ssrc=None, rtx_ssrc=None)
    producer.layers[0].media_ssrc, producer.layers[1].media_ssrc = 0x10, 0x20
    high = consumer_of(producer, Wire(), ssrc=0x6000, layer=1)
    producer.layers[1].receive(build(sequence=1, ssrc=0x20, payload=KEYFRAME))
    producer.set_paused(True)
    producer.set_paused(False)
    assert producer.layers[1].pending == [high] and high.layer is None


def test_layer_counters_and_bitrate_are_exact():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    assert (layer.packets, layer.bytes, layer.bitrate_bps, layer.width, layer.height) == (0, 0, 0.0, 0, 0)
    assert not layer.active(1000.0) and layer.receiver_report() is None
    sizes = []
    for seq, payload in ((1, KEYFRAME), (2, DELTA), (4, DELTA)):
        packet = build(sequence=seq, ssrc=0x1111, payload=payload)
        sizes.append(len(packet))
        layer.receive(packet)
    layer.receive(b"\x80\x60\x00")  # too short: malformed
    layer.receive_rtx(b"\x80\x61\x00")
    assert producer.malformed == 2 and layer.packets == 3 and layer.bytes == sum(sizes)
    assert layer.keyframes_received == 1 and producer.nacks_sent == 1  # 3 went missing
    lost = build(sequence=3, ssrc=0x1111, payload=DELTA)
    rtx = wrap_rtx(lost, parse_rtp(lost), rtx_ssrc=0x2222, rtx_payload_type=97, rtx_sequence=1)
    layer.receive_rtx(rtx)
    assert layer.recovered == 1 and layer.bytes == sum(sizes) + len(rtx) and producer.packets_received == 4
    report = layer.receiver_report()
    assert report is not None and (report.ssrc, report.packets_lost, report.highest_sequence) == (0x1111, 0, 4)
    assert (report.lsr, report.dlsr) == (0, 0)  # no SR from the publisher yet
    now = layer.last_arrival
    assert layer.active(now + 0.999) and not layer.active(now + 1.0)
    layer.measure(100.0)  # the first tick only sets the mark
    assert layer.bitrate_bps == 0.0
    layer.receive(build(sequence=5, ssrc=0x1111, payload=bytes(988)))  # 1000 bytes
    layer.measure(102.0)
    assert layer.bitrate_bps == 1000 * 8 / 2.0
    layer.receive(build(sequence=6, ssrc=0x1111, payload=bytes(1988)))  # 2000 bytes
    layer.measure(103.0)
    assert layer.bitrate_bps == 0.6 * 4000.0 + 0.4 * 16000.0
    layer.measure(103.0)  # no time passed: unchanged
    assert layer.bitrate_bps == 0.6 * 4000.0 + 0.4 * 16000.0
    layer.close()
    assert layer.consumers == [] and layer.pending == [] and layer.cache.get(1) is None


def test_receiver_reports_echo_the_publishers_last_sender_report():
    import time

    producer = video_producer()
    layer = producer.layers[0]
    layer.receive(build(sequence=10, ssrc=0x1111, payload=KEYFRAME))
    layer.on_sender_report(0x1234_5678_9ABC_DEF0, 1000)
    layer.sender_report_at = time.time() - 0.5
    report = layer.receiver_report()
    assert report.lsr == 0x5678_9ABC and abs(report.dlsr - 0.5 * 65536) < 0.05 * 65536
    layer.sender_report_at = time.time() + 10  # a clock step backwards: no delay claimed
    assert layer.receiver_report().dlsr == 0
    layer.sender_report_at = time.time() - 70_000  # too long ago for the 16.16 field
    assert layer.receiver_report().dlsr == 0


def test_a_keyframe_recovered_over_rtx_starts_a_waiting_consumer():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=DELTA))
    layer.receive(build(sequence=3, ssrc=0x1111, payload=DELTA))
    key = build(sequence=2, ssrc=0x1111, payload=KEYFRAME)
    layer.receive_rtx(wrap_rtx(key, parse_rtp(key), rtx_ssrc=0x2222, rtx_payload_type=97, rtx_sequence=1))
    assert len(wire.sent) == 1 and wire.sent[0][parse_rtp(wire.sent[0]).payload_start:] == KEYFRAME
    assert layer.keyframes_received == 0  # counted for packets that arrived as media only


def test_a_stall_forgets_old_gaps_and_asks_for_a_keyframe_at_once():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.receive(build(sequence=5, ssrc=0x1111, payload=DELTA))  # 2..4 missing
    layer.request_keyframe()  # the limiter now holds back requests for half a second
    plis = len(feedback(link, "pli"))
    layer.last_arrival -= 1.001
    layer.receive(build(sequence=6, ssrc=0x1111, payload=DELTA))
    assert layer.stalls == 1 and layer.nack.missing == [] and len(feedback(link, "pli")) == plis + 1
    layer.last_arrival -= 0.999  # not quite a stall
    layer.receive(build(sequence=7, ssrc=0x1111, payload=DELTA))
    assert layer.stalls == 1


def test_a_sequence_restart_asks_for_a_keyframe_even_right_after_another_request():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.request_keyframe()
    plis = len(feedback(link, "pli"))
    layer.receive(build(sequence=20_000, ssrc=0x1111, payload=DELTA))
    assert len(feedback(link, "pli")) == plis + 1 and producer.keyframe_requests_sent == plis + 1


def test_keyframe_requests_from_the_timer_are_counted_and_a_layer_without_ssrc_sends_nothing():
    producer = video_producer(media_ssrc=None, rtx_ssrc=None)
    layer = producer.layers[0]
    layer.pending = [object()]  # type: ignore[list-item]
    assert layer.pli_if_due(5.0) == b"" and producer.keyframe_requests_sent == 0
    layer.media_ssrc = 0x1111
    assert parse_feedback(layer.pli_if_due(5.0))[0].kind == "pli" and producer.keyframe_requests_sent == 1
    layer.request_missing(7)  # nothing received yet: nothing to ask for
    assert producer.nacks_sent == 0


def test_rtx_edge_cases_an_empty_original_audio_rtx_and_a_restart_after_a_repair():
    producer = video_producer()
    wire = Wire()
    consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    empty = build(sequence=2, ssrc=0x1111, payload=b"")
    layer.receive_rtx(wrap_rtx(empty, parse_rtp(empty), rtx_ssrc=0x2222, rtx_payload_type=97, rtx_sequence=1))
    assert layer.recovered == 1 and len(wire.sent) == 2  # just the OSN: a packet with an empty payload
    layer.receive(build(sequence=9000, ssrc=0x1111, payload=KEYFRAME))  # a restart: the consumer rebases
    assert len(wire.sent) == 3
    audio = video_producer(kind="audio", rtx_ssrc=0x2222)
    listener = Wire()
    consumer_of(audio, listener, kind="audio")
    opus = build(payload_type=111, sequence=7, ssrc=0x1111, payload=b"opus")
    audio.layers[0].receive_rtx(wrap_rtx(opus, parse_rtp(opus), rtx_ssrc=0x2222, rtx_payload_type=112, rtx_sequence=1))
    assert len(listener.sent) == 1  # every audio packet starts a consumer, repaired or not


def test_audio_layers_need_no_keyframe_requests_and_survive_a_stall():
    audio = video_producer(kind="audio", rtx_ssrc=None)
    consumer_of(audio, Wire(), kind="audio")  # waiting for its first packet
    assert audio.keyframe_tick(now=10.0) == b""
    layer = audio.layers[0]
    layer.receive(build(payload_type=111, sequence=1, ssrc=0x1111, payload=b"opus"))
    layer.last_arrival -= 2.0
    layer.receive(build(payload_type=111, sequence=2, ssrc=0x1111, payload=b"opus"))
    assert layer.stalls == 1 and audio.keyframe_requests_sent == 0


def test_keyframe_requests_on_the_own_clock_and_a_rerequest_waits_a_round_trip_to_repeat():
    link = Wire()
    producer = video_producer(link)
    layer = producer.layers[0]
    layer.request_keyframe()
    layer.request_keyframe()  # the limiter's own clock: held back
    assert len(feedback(link, "pli")) == 1
    for seq in (1, 2, 5):  # 3 and 4 go missing: asked for at once
        layer.receive(build(sequence=seq, ssrc=0x1111, payload=KEYFRAME if seq == 1 else DELTA))
    assert sorted(feedback(link, "nack")[-1].lost) == [3, 4]
    layer.nack._missing.clear()  # the tracker gave up on them
    layer.request_missing(3)  # a subscriber still wants 3: asked again at once
    assert feedback(link, "nack")[-1].lost == [3] and producer.nacks_sent == 2
    producer.nack_tick(time.monotonic() * 1000.0)  # asked a moment ago: not again yet
    assert producer.nacks_sent == 2


def test_a_receiver_report_right_after_a_sender_report_has_a_tiny_delay():
    producer = video_producer()
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.on_sender_report(0x0001_0002_0003_0004, 5)
    report = layer.receiver_report()
    assert report.lsr == 0x0002_0003 and 0 <= report.dlsr < 65536 // 2


def test_a_restart_after_a_server_pause_sends_every_received_video_back_to_a_fresh_keyframe():
    link = Wire()
    producer = video_producer(link)
    wire = Wire()
    consumer_of(producer, wire)
    layer = producer.layers[0]
    layer.receive(build(sequence=1, ssrc=0x1111, payload=KEYFRAME))
    layer.receive(build(sequence=2, ssrc=0x1111, payload=DELTA))
    assert len(wire.sent) == 2 and layer.consumers
    layer.keyframes.reset()
    plis = len(feedback(link, "pli"))
    producer.restart(time.monotonic())
    assert not layer.consumers and len(layer.pending) == 1 and len(feedback(link, "pli")) == plis + 1
    layer.receive(build(sequence=3, ssrc=0x1111, payload=DELTA))  # a stale delta from the socket buffer
    assert len(wire.sent) == 2
    layer.receive(build(sequence=4, ssrc=0x1111, payload=KEYFRAME))
    sent = [parse_rtp(p).sequence for p in wire.sent]
    assert len(sent) == 3 and sent[2] == (sent[1] + 1) & 0xFFFF  # no gap for the skipped delta
    silent = video_producer(Wire())
    silent.restart(time.monotonic())  # nobody receives it: nothing to ask for
    assert feedback(silent.link, "pli") == []
