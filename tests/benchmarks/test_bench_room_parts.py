"""The large-room bench's parts on their own: simulcast SDP, layer detection, speakers, views, figures."""

from __future__ import annotations

import asyncio
import time

from aiortc import RTCPeerConnection
from aiortc.codecs.vpx import Vp8Encoder

from benchmarks.clip import SIMULCAST_RIDS, load_clip
from benchmarks.latency import Recorder
from benchmarks.participant import ParticipantSpec
from benchmarks.room_figures import _join_pairs, layer_name
from benchmarks.runner import RunConfig, _has_camera, expected_video
from benchmarks.simulcast import (
    RID_URI,
    HeldTrack,
    LayerState,
    SimulcastSender,
    answer_extensions,
    answer_simulcast,
    simulcast_offer,
)
from benchmarks.speakers import SILENT, SpeakerSchedule, SpeakingAudioTrack
from benchmarks.subscriber import StreamCounter, vp8_keyframe_width
from benchmarks.view import LARGE, THUMBNAIL, RoomView
from sfu.sdp import parse_offer


async def _aiortc_offer() -> tuple[str, str]:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        video = pc.addTransceiver(HeldTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp, str(video.mid)
    finally:
        await pc.close()


async def test_the_munged_offer_is_a_simulcast_offer_to_the_servers_own_parser() -> None:
    sdp, mid = await _aiortc_offer()
    munged = simulcast_offer(sdp, mid, SIMULCAST_RIDS)
    offer = parse_offer(munged)
    video = offer.by_mid(mid)
    assert video is not None and video.rids == SIMULCAST_RIDS and video.simulcast
    assert RID_URI in video.extensions
    assert video.media_ssrc is None  # layers are learnt from their rids, as with a browser
    # one BUNDLE group, one ID space: the rid extension takes an ID no other m-line uses
    assert video.extensions[RID_URI] not in [i for m in offer.media if m.mid != mid for i in m.extensions.values()]
    audio = next(m for m in offer.media if m.kind == "audio")
    assert audio.media_ssrc is not None and not audio.rids  # the other m-lines are untouched


def test_answer_parsing() -> None:
    answer = ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
              "m=video 9 UDP/TLS/RTP/SAVPF 97\r\na=mid:1\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
              f"a=extmap:4 {RID_URI}\r\na=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n")
    assert answer_extensions(answer, "1") == {"urn:ietf:params:rtp-hdrext:sdes:mid": 1, RID_URI: 4}
    assert answer_simulcast(answer, "1") == ["q", "h", "f"]
    assert answer_simulcast(answer, "0") == []


def test_a_layer_jumps_to_its_next_keyframe_and_comes_back_on_one() -> None:
    clip = load_clip("sim-q")
    layer = LayerState("q", clip)
    for _ in range(5):
        layer.next_frame()
    layer.request_keyframe()
    data, keyframe = layer.next_frame()
    assert keyframe and layer.index == 61
    sender = SimulcastSender([clip, clip, clip], SIMULCAST_RIDS)
    sender.set_active(["q"])
    assert [x.active for x in sender.layers] == [True, False, False]
    sender.set_active(["q", "f"])
    assert sender.layers[2].active and sender.layers[2].keyframe_wanted and not sender.layers[1].active
    assert len({x.ssrc for x in sender.layers}) == 3


def test_keyframe_width_tells_the_layers_apart() -> None:
    for preset, width in (("sim-q", 320), ("sim-h", 640), ("sim-f", 1280)):
        clip = load_clip(preset)
        first = Vp8Encoder._packetize(clip.video[0][0], 1234)
        assert vp8_keyframe_width(first[0]) == width
        assert all(vp8_keyframe_width(p) == 0 for p in first[1:])
        assert vp8_keyframe_width(Vp8Encoder._packetize(clip.video[1][0], 5)[0]) == 0  # a delta frame
    assert layer_name(320) == "q" and layer_name(1280) == "f" and layer_name(0) == "before first keyframe"


def test_counter_counts_per_layer_and_source_and_asks_for_keyframes() -> None:
    q, f = load_clip("sim-q"), load_clip("sim-f")
    counter = StreamCounter("", "video", 0, Recorder())
    counter.set_source("alice", 1)
    seq = 0

    def feed(data: bytes) -> int:
        nonlocal seq
        payloads = Vp8Encoder._packetize(data, seq)
        for i, payload in enumerate(payloads):
            counter.count(seq, payload, seq, int(i == len(payloads) - 1), 12 + len(payload))
            seq += 1
        return sum(len(p) for p in payloads)

    feed(q.video[1][0])  # a delta frame first: undecodable, counted apart, a PLI is due
    assert counter.delta_starts == 1 and counter.wants_keyframe() and not counter.wants_keyframe()
    assert "alice" not in counter.first_frames
    feed(q.video[0][0])
    assert counter.width == 320 and "alice" in counter.first_frames and not counter.wants_keyframe()
    counter.set_source("bob", 2)
    sent = feed(f.video[0][0]) + feed(f.video[1][0])
    assert counter.width == 1280 and set(counter.first_frames) == {"alice", "bob"}
    assert set(counter.layers) == {0, 320, 1280} and counter.layers[1280][1] == sent
    assert counter.delta_starts == 1 and counter.packets == sum(v[0] for v in counter.layers.values())


def test_speaker_schedule_rotates_a_few_loud_members() -> None:
    schedule = SpeakerSchedule(members=10, loud=2, period=4.0, origin=100.0)
    assert schedule.speakers(101.0) == [0, 1] and schedule.level(0, 101.0) < schedule.level(1, 101.0)
    assert schedule.speakers(105.0) == [2, 3]
    assert schedule.speakers(100.0 + 4 * 5 + 1) == [0, 1]  # wraps around the room
    assert schedule.level(5, 101.0) == SILENT and schedule.level(0, 99.0) == SILENT


async def test_a_silent_member_sends_one_audio_packet_per_400_ms() -> None:
    clip = load_clip("300k")
    silent = SpeakingAudioTrack(clip, 5, SpeakerSchedule(members=10, loud=1, origin=time.monotonic()), dtx=True)
    loud = SpeakingAudioTrack(clip, 0, SpeakerSchedule(members=10, loud=1, origin=time.monotonic()), dtx=True)

    async def count(track: SpeakingAudioTrack) -> int:
        sent = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            await track.recv()
            sent += 1
        return sent

    quiet, speaking = await asyncio.gather(count(silent), count(loud))
    assert 2 <= quiet <= 4 and speaking >= 40, (quiet, speaking)
    assert silent.level == SILENT and loud.level < SILENT


def test_view_speaker_large_eight_thumbnails_and_why() -> None:
    view = RoomView("me")
    view.load([{"participantId": f"p{i}", "video": i % 2 == 0, "joinedAt": i} for i in range(24)]
              + [{"participantId": "me", "video": True, "joinedAt": 99}])
    tiles = view.tiles()
    assert [(t["width"], t["height"]) for t in tiles] == [LARGE] + [THUMBNAIL] * 8
    assert [t["participantId"] for t in tiles] == [f"p{i}" for i in range(0, 18, 2)]
    view.speaker = "p20"  # a camera beyond the first nine speaks: it takes the stage
    tiles = view.tiles()
    assert tiles[0]["participantId"] == "p20" and len(tiles) == 9
    assert view.first_shown["p20"][1] == "speaker" and view.first_shown["p2"][1] == "join"
    view.speaker = "p1"  # no camera: the stage falls back to the first camera
    assert view.tiles()[0]["participantId"] == "p0"
    view.left("p0")
    assert view.tiles()[0]["participantId"] == "p2"


def test_cameras_are_spread_and_the_expected_streams_follow_the_caps() -> None:
    flags = [_has_camera(i, 50, 25) for i in range(50)]
    assert sum(flags) == 25 and flags[:4] == [False, True, False, True]
    assert all(_has_camera(i, 4, None) for i in range(4))
    cfg = RunConfig(participants=20, cameras=10, slots=True, view=True)
    specs = [ParticipantSpec(index=i, name=str(i), camera=_has_camera(i, 20, 10)) for i in range(20)]
    assert cfg.video_cap() == 9
    assert expected_video(cfg, specs) == 20 * 9  # everyone sees nine (cameras see nine of the nine others)
    full = RunConfig(participants=20, cameras=10, last_n=0)
    assert full.video_cap() == 0 and expected_video(full, specs) == 10 * 9 + 10 * 10
    assert "--last-n" in full.all_server_args() and full.room_options() is not None
    assert RunConfig(participants=4).room_options() is None  # the classic bench is untouched


def test_join_pairs_count_only_what_a_join_brought_in() -> None:
    ms = 1_000_000
    joins = {"a": {"join_ns": 1 * ms, "subscribe": True, "publish": True, "camera": True},
             "b": {"join_ns": 100 * ms, "subscribe": True, "publish": True, "camera": True},
             "c": {"join_ns": 200 * ms, "subscribe": True, "publish": True, "camera": True}}
    reports = {"a": {"first_shown": {"b": [0, "join"], "c": [0, "speaker"]}},
               "b": {"first_shown": {"a": [0, "join"]}}, "c": {"first_shown": {"a": [0, "join"], "b": [0, "join"]}}}
    frames = {"a": {"b": 400 * ms, "c": 900 * ms}, "b": {"a": 300 * ms}, "c": {"a": 500 * ms}}
    latencies, missing = _join_pairs(joins, reports, frames, view=True)
    assert sorted(latencies) == [200.0, 300.0, 300.0] and missing == 1  # c never got b's frame
    latencies, missing = _join_pairs(joins, {}, frames, view=False)
    assert len(latencies) == 4 and missing == 2


class _Transport:
    """A stand-in DTLS transport: keeps what would have been SRTP-protected and sent."""

    state = "connected"

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._rtp_router = type("Router", (), {"senders": {}})()

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)


async def test_layers_go_out_as_their_own_streams_and_nacks_come_back_on_rtx() -> None:
    from aiortc.rtp import RtcpRtpfbPacket, RtpPacket

    from benchmarks.simulcast import MID_URI, REPAIRED_RID_URI

    sdp, mid = await _aiortc_offer()
    offered = parse_offer(simulcast_offer(sdp, mid, SIMULCAST_RIDS)).by_mid(mid)
    assert offered is not None and REPAIRED_RID_URI in offered.extensions
    ids = offered.extensions
    answer = (f"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 97 98\r\na=mid:{mid}\r\na=extmap:{ids[MID_URI]} {MID_URI}\r\n"
              f"a=extmap:{ids[RID_URI]} {RID_URI}\r\na=extmap:{ids[REPAIRED_RID_URI]} {REPAIRED_RID_URI}\r\n"
              "a=simulcast:recv q;h;f\r\n")
    clips = [load_clip(name) for name in ("sim-q", "sim-h", "sim-f")]
    sender = SimulcastSender(clips, SIMULCAST_RIDS)
    transport = _Transport()
    sender.configure(transport, mid, 97, answer, rtx_payload_type=98)
    for layer in sender.layers:
        await sender._send_frame(layer, 3000)
    ssrcs = [int.from_bytes(d[8:12], "big") for d in transport.sent]
    assert set(ssrcs) == {x.ssrc for x in sender.layers}
    first = RtpPacket.parse(transport.sent[0], sender._extensions)
    assert first.extensions.mid == mid and first.extensions.rtp_stream_id == "q" and first.payload_type == 97
    f = sender.layers[2]
    lost = RtpPacket.parse(transport.sent[-1], sender._extensions)
    nack = RtcpRtpfbPacket(fmt=1, ssrc=1, media_ssrc=f.ssrc, lost=[lost.sequence_number, (lost.sequence_number + 500)])
    await transport._rtp_router.senders[f.ssrc]._handle_rtcp_packet(nack)
    rtx = RtpPacket.parse(transport.sent[-1], sender._extensions)
    assert rtx.ssrc == f.rtx_ssrc and rtx.payload_type == 98 and rtx.extensions.repaired_rtp_stream_id == "f"
    assert rtx.payload[:2] == lost.sequence_number.to_bytes(2, "big") and rtx.payload[2:] == lost.payload
    assert f.nacks == 1 and f.retransmitted == 1 and f.unanswered == 1  # the second was never sent
    await transport._rtp_router.senders[f.ssrc]._handle_rtcp_packet(nack)  # asked again at once: wait a round trip
    assert f.retransmitted == 1 and f.throttled == 1


def test_goals_are_checked_on_whole_runs_only() -> None:
    """A run whose streams never all flowed forwards less, so it would "meet" every cost goal."""
    from benchmarks.room_report import large_goals

    def run(n: int, ok: bool, cpu: float) -> dict[str, object]:
        return {"scenario": "last-n", "participants": n, "cameras": n // 2, "ok": ok, "server_cpu_cores": cpu,
                "loss_pct": 0.0, "downlink_wire_mbps_per_subscriber": {"mean": 2.0, "max": 2.5},
                "offers_per_join": 1.0, "join_to_first_frame_ms": {"p95": 900.0, "count": 10},
                "server_rss_mb_per_participant": 2.0, "layer_mix": {}}

    lines = large_goals([run(40, True, 0.65), run(50, False, 0.40)])
    assert lines[0].startswith("- Not whole, left out of the goals: N=50")
    assert "Last-N room of 40" in lines[1] and "65% of one core" in lines[1]
    assert large_goals([run(50, False, 0.4)]) == ["- No last-N run came out whole (sizes 50): no goal is checked."]
