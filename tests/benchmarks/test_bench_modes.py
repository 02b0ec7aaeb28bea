"""A tiny real scenario of each mode through the CLI: the results file must be complete and sane.

Each run starts its own server, 2-3 participants, a few seconds. No speed assertions here: the
performance goals live in the benchmark itself and the README.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.cli import main

FIELDS = [
    "mode", "participants", "publishers", "subscribers", "preset", "duration_s", "forwarded_packets", "forwarded_pps",
    "forwarded_mbps", "audio_packets", "video_packets", "subscriber_streams", "expected_streams", "loss_pct",
    "lost_packets", "expected_packets", "latency_ms", "latency_matched_pct", "join_to_first_media_ms",
    "server_cpu_s", "server_cpu_cores", "server_us_per_packet", "server_pps_per_core", "server_cpu_pct_per_stream",
    "server_rss_mb", "server_rss_mb_per_participant", "generator_cpu_cores", "generator_cpu_pct_of_machine",
    "client_cpu_pct_per_participant", "upload_mbps_per_publisher", "video_kbps_per_stream", "decode_check",
    "machine", "errors", "ok",
]


def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    main([*args, "--duration", "3", "--warmup", "1", "--preset", "300k", "--quiet", "--out", str(out)])
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert not result.get("failed"), result.get("error")
    for field in FIELDS:
        assert field in result, field
    assert (out / "report.md").read_text().startswith("# sfu-bench report")
    for png in ("cpu_per_packet.png", "cpu_per_stream.png", "upload_per_participant.png", "latency.png"):
        assert (out / png).stat().st_size > 1000
    return result


def _common_checks(r: dict, participants: int, streams: int) -> None:
    assert r["participants"] == participants
    assert 2.5 < r["duration_s"] < 4
    assert r["forwarded_packets"] > 0 and r["video_packets"] > 0 and r["audio_packets"] > 0
    assert r["subscriber_streams"] == r["expected_streams"] == streams
    assert 0 <= r["loss_pct"] < 5
    assert r["expected_packets"] >= r["forwarded_packets"] - r["lost_packets"]
    assert r["decode_check"]["ok"], r["decode_check"]
    assert r["server_cpu_s"] is not None and r["server_rss_mb"] > 10
    assert 0 < r["generator_cpu_cores"] < 4
    assert 0.1 < r["upload_mbps_per_publisher"] < 2
    assert r["join_to_first_media_ms"]["max"] < 10_000
    assert r["ok"], r["errors"]


def test_forward(tmp_path: Path) -> None:
    r = _run(tmp_path, "--mode", "forward", "--participants", "3")
    _common_checks(r, 3, 6)
    assert r["server_us_per_packet"] > 0 and r["server_pps_per_core"] > 0
    # payloads are forwarded untouched: nearly every packet's one-way time is measured
    assert r["latency_ms"]["samples"] > 0.9 * r["forwarded_packets"]
    assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p99"] < 1000


def test_transcode(tmp_path: Path) -> None:
    r = _run(tmp_path, "--mode", "transcode", "--participants", "2")
    _common_checks(r, 2, 2)
    assert r["latency_ms"] is None  # re-encoded payloads cannot be matched
    assert r["video_kbps_per_stream"] > 50  # aiortc's encoder picks its own bitrate: reported, not fixed


def test_mesh(tmp_path: Path) -> None:
    r = _run(tmp_path, "--mode", "mesh", "--participants", "3")
    _common_checks(r, 3, 6)
    assert r["server_media"] is False
    # each client uploads once per other member
    assert r["upload_mbps_per_publisher"] > 1.5 * 0.3
    assert r["latency_ms"]["p50"] < 1000


def test_webinar_shape(tmp_path: Path) -> None:
    r = _run(tmp_path, "--mode", "forward", "--publishers", "1", "--subscribers", "2")
    assert (r["publishers"], r["subscribers"], r["participants"]) == (1, 2, 3)
    assert r["subscriber_streams"] == r["expected_streams"] == 2
    assert r["decode_check"]["ok"] and r["ok"]


@pytest.mark.parametrize("argv", [["--mode", "mesh", "--publishers", "1", "--subscribers", "1"]])
def test_mesh_needs_a_full_room(tmp_path: Path, argv: list[str]) -> None:
    out = tmp_path / "out"
    assert main([*argv, "--quiet", "--out", str(out), "--duration", "1"]) == 1
    assert json.loads((out / "results.jsonl").read_text())["failed"]
