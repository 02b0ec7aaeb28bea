"""The benchmark's pure parts: clip pattern, payload matching, CPU sampling, sweep planning, reports."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from aiortc.rtp import RtpPacket

from benchmarks.cli import build_parser, sweep_plan
from benchmarks.clip import read_counter, source_luma, verify_frame
from benchmarks.cpu import cpu_seconds, process_tree, rss_bytes
from benchmarks.latency import match, percentiles_ms, rtp_payload_offset
from benchmarks.plots import write_plots
from benchmarks.report import comparisons, write_markdown


def test_counter_roundtrip_and_psnr() -> None:
    for index in (0, 1, 59, 60, 299, 4095):
        luma = source_luma(index, 320, 240)
        assert read_counter(luma) == index
    assert verify_frame(source_luma(7, 320, 240), 320, 240) == (7, 99.0)
    # a neighbouring frame scores far below the decode check's threshold
    from benchmarks.clip import psnr

    assert psnr(source_luma(7, 320, 240), source_luma(8, 320, 240)) < 15


def test_payload_offset_with_extensions() -> None:
    packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"payload!")
    packet.extensions.mid = "0"
    packet.extensions.abs_send_time = 123
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
    from aiortc.rtp import HeaderExtensionsMap

    ext = HeaderExtensionsMap()
    ext.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
        RTCRtpHeaderExtensionParameters(id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
    ]))
    data = packet.serialize(ext)
    assert data[rtp_payload_offset(data):] == b"payload!"
    plain = RtpPacket(payload_type=96, payload=b"xyz").serialize()
    assert plain[rtp_payload_offset(plain):] == b"xyz"


def test_match_takes_latest_earlier_send() -> None:
    send_k = np.array([5, 5, 7], dtype=np.uint64)
    send_t = np.array([1_000, 10_000_000_000, 2_000], dtype=np.int64)  # key 5 repeats 10 s later (clip loop)
    recv_k = np.array([5, 7, 9, 5], dtype=np.uint64)
    recv_t = np.array([1_500, 2_300, 5_000, 10_000_000_400], dtype=np.int64)
    lat = match(send_k, send_t, recv_k, recv_t)
    assert sorted(lat.tolist()) == [300, 400, 500]
    assert percentiles_ms(lat)["samples"] == 3
    assert percentiles_ms(np.empty(0, dtype=np.int64)) is None


def test_cpu_of_this_process() -> None:
    assert os.getpid() in process_tree(os.getpid())
    assert cpu_seconds(os.getpid()) > 0
    assert rss_bytes(os.getpid()) > 1_000_000


def test_sweep_plan_orders_sizes_and_caps_modes() -> None:
    args = build_parser().parse_args(["sweep", "--sizes", "2,12", "--max-transcode", "8", "--repeat", "2"])
    plan = [(c.mode, c.participants) for c in sweep_plan(args)]
    assert plan == [("forward", 2), ("transcode", 2), ("mesh", 2), ("forward", 2), ("transcode", 2), ("mesh", 2),
                    ("forward", 12), ("forward", 12)]


def _fake(mode: str, n: int, per_stream: float) -> dict:
    return {"mode": mode, "participants": n, "publishers": n, "subscribers": n, "preset": "1m",
            "forwarded_pps": 1000.0, "forwarded_mbps": 5.0, "server_cpu_cores": 0.2, "server_us_per_packet": 20.0,
            "server_pps_per_core": 50000, "server_cpu_pct_per_stream": per_stream, "server_media": mode != "mesh",
            "video_kbps_per_stream": 900.0, "upload_mbps_per_publisher": 1.0, "loss_pct": 0.0,
            "latency_ms": None if mode == "transcode" else {"p50": 1, "p95": 2, "p99": 3, "max": 4, "samples": 9},
            "join_to_first_media_ms": {"p50": 100, "max": 200}, "server_rss_mb_per_participant": 2.0,
            "generator_cpu_cores": 0.3, "generator_cpu_pct_of_machine": 15, "client_cpu_pct_per_participant": 3.0,
            "decode_check": {"ok": True}, "machine": {"cpu": "x", "cores": 2}}


def test_report_and_plots(tmp_path: Path) -> None:
    results = [_fake("forward", 4, 0.5), _fake("transcode", 4, 30.0), _fake("mesh", 4, 0.0),
               {"failed": True, "mode": "forward", "participants": 8, "error": "boom"}]
    assert "60x" in comparisons(results)[0]
    text = write_markdown(results, tmp_path / "report.md", "sfu-bench sweep").read_text()
    assert "| forward | 4 |" in text and "failed: boom" in text
    for path in write_plots(results, tmp_path):
        assert path.stat().st_size > 1000


def test_stream_counter_counts_bytes_across_wraparound() -> None:
    from benchmarks.latency import Recorder
    from benchmarks.subscriber import StreamCounter

    counter = StreamCounter("pub", "video", 1, Recorder(recording=True))
    for seq in (65534, 65535, 1, 2):  # 0 lost across the wrap
        counter.on_bytes(RtpPacket(payload_type=97, sequence_number=seq, payload=b"data").serialize())
    counter.on_bytes(RtpPacket(payload_type=97, sequence_number=3, payload=b"").serialize())  # padding only
    snap = counter.snapshot()
    assert (snap["packets"], snap["padding"], snap["bytes"]) == (4, 1, 16)
    assert snap["ext_max"] - snap["ext_first"] + 1 - snap["packets"] == 1  # one gap
    assert len(counter.recorder.keys) == 4


def test_report_subcommand_rerenders(tmp_path: Path) -> None:
    from benchmarks.cli import main
    from benchmarks.report import append_result

    append_result(tmp_path, _fake("forward", 4, 0.5))
    assert main(["report", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").exists() and (tmp_path / "latency.png").exists()
