"""The impairment model and the call analysis, without a network namespace or a browser."""

from __future__ import annotations

import socket
import struct

import pytest

from benchmarks.impaired import direction_figures, markdown, parse_impairment, recovery_figures
from benchmarks.netimpair import Impairment, LinkModel, parse_ports, summarize

SERVER = range(20000, 20200)
UDP = socket.IPPROTO_UDP


def test_parse_impairment() -> None:
    assert parse_impairment("3:20") == Impairment(0.03, 20.0, 0.0)
    assert parse_impairment("10:50:5") == Impairment(0.10, 50.0, 5.0)


def test_parse_ports_of_an_ipv4_udp_packet() -> None:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, UDP, 0, b"\x7f\0\0\1", b"\x7f\0\0\1")
    assert parse_ports(header + struct.pack("!HHHH", 40000, 20001, 8, 0)) == (UDP, 40000, 20001)
    assert parse_ports(b"\x60" + bytes(60)) is None  # IPv6: not ours


def test_one_hop_to_the_server_and_two_hops_between_browsers() -> None:
    model = LinkModel(Impairment(0.0, 20.0), [SERVER], seed=1)
    up = model.decide(UDP, 40000, 20001, now=10.0)
    assert up.release_at == pytest.approx(10.020) and up.hops == [(40000, "up")]
    down = model.decide(UDP, 20001, 40001, now=10.0)
    assert down.release_at == pytest.approx(10.020) and down.hops == [(40001, "down")]
    direct = model.decide(UDP, 40000, 40001, now=11.0)
    assert direct.release_at == pytest.approx(11.040) and direct.hops == [(40000, "up"), (40001, "down")]


def test_loss_lands_near_the_target_and_is_counted_per_hop() -> None:
    model = LinkModel(Impairment(0.03, 0.0), [SERVER], seed=7)
    dropped = sum(model.decide(UDP, 40000, 20001, now=i * 0.001).release_at is None for i in range(20000))
    totals = summarize(model.snapshot())
    assert totals["hop_packets"] == 20000 and totals["hop_dropped"] == dropped
    assert 0.025 < totals["hop_loss"] < 0.035


def test_jitter_never_reorders_a_hop() -> None:
    model = LinkModel(Impairment(0.0, 20.0, 15.0), [SERVER], seed=3)
    releases = [model.decide(UDP, 40000, 20001, now=i * 0.002).release_at for i in range(500)]
    assert releases == sorted(releases)


def test_block_cuts_a_page_and_new_ports_but_not_the_others() -> None:
    model = LinkModel(Impairment(), [SERVER, range(8080, 8081)], seed=1)
    for port in (40000, 40001, 50000):  # page A (40000), page B (40001 UDP, 50000 TCP)
        model.decide(UDP, port, 20001, now=0.0)
    model.block({40001, 50000}, seconds=8, now=1.0)
    assert model.decide(UDP, 20001, 40001, now=2.0).release_at is None
    assert model.decide(socket.IPPROTO_TCP, 50000, 8080, now=2.0).release_at is None
    assert model.decide(UDP, 45555, 20001, now=2.0).release_at is None  # B opened a new port meanwhile
    assert model.decide(UDP, 40000, 20001, now=2.0).release_at == 2.0
    assert model.decide(UDP, 20001, 40001, now=9.5).release_at == 9.5  # restored
    assert summarize(model.snapshot())["blocked"] == 3


def _sample(t: float, frames: int, freezes: int = 0, pc: int = 1, target: float = 500_000) -> dict:
    return {"t": t, "pc": pc,
            "inVideo": {"framesDecoded": frames, "freezeCount": freezes, "totalFreezesDuration": freezes * 0.5,
                        "frameWidth": 640, "frameHeight": 480, "packetsLost": frames // 10,
                        "packetsReceived": frames * 5, "nackCount": frames // 20, "pliCount": 0},
            "inAudio": {"concealedSamples": frames * 10, "totalSamplesReceived": frames * 1000},
            "outVideo": {"targetBitrate": target, "nackCount": 0, "pliCount": 0, "frameHeight": 480},
            "pair": {"currentRoundTripTime": 0.04, "availableOutgoingBitrate": 600_000}}


def test_direction_figures_are_deltas_over_the_window() -> None:
    sender = [_sample(t, 0) for t in range(0, 61_000, 1000)]
    receiver = [_sample(t, t // 50, freezes=t // 20_000) for t in range(0, 61_000, 1000)]
    f = direction_figures(sender, receiver, 0, 60_000)
    assert f["freezes"] == 3 and f["freezes_per_min"] == pytest.approx(3)
    assert f["fps"] == pytest.approx(20) and f["height"] == 480
    assert f["audio_concealed"] == pytest.approx(0.01)
    assert f["target_kbps"] == pytest.approx(500) and f["rtt_ms"] == pytest.approx(40)
    assert not f["reconnected"]


def test_recovery_counts_a_second_stall_after_stale_frames() -> None:
    # Frames every 100 ms until the cut at 1000; back at 6000: stale frames for 300 ms, 2 s stall, then steady.
    times = [t for t in range(0, 1000, 100)] + [6100, 6200, 6300] + list(range(8300, 12000, 100))
    samples, frames = [], 0
    for t in range(0, 12000, 100):
        frames += t in times
        samples.append(_sample(t, frames))
    r = recovery_figures(samples, t_cut=1000, t_back=6000, t_end=12000, stall_ms=500)
    assert r["first_frame_s"] == pytest.approx(0.1)
    assert r["second_stalls"] == 1 and r["longest_gap_after_s"] == pytest.approx(2.0)
    assert r["video_back_s"] == pytest.approx(2.3)


def test_recovery_reports_video_still_frozen() -> None:
    samples = [_sample(t, min(t, 6500) // 100) for t in range(0, 12000, 100)]
    r = recovery_figures(samples, t_cut=1000, t_back=6000, t_end=12000, stall_ms=500)
    assert r["video_back_s"] is None and r["second_stalls"] == 1


def test_markdown_puts_sfu_and_direct_side_by_side() -> None:
    figures = direction_figures([_sample(t, 0) for t in range(0, 11_000, 1000)],
                                [_sample(t, t // 50) for t in range(0, 11_000, 1000)], 0, 10_000)
    common = {"scenario": "steady", "impairment": {"loss": 0.03, "delay_ms": 20.0, "jitter_ms": 0.0}, "setup_s": 1.0,
              "machine_busy_cores": 1.0, "directions": {"A→B": figures, "B→A": figures}}
    text = markdown([{**common, "call": "sfu"}, {**common, "call": "direct"}], "cmd")
    assert "| freezes / min | 0.0 | 0.0 | 0.0 | 0.0 | = |" in text
    assert "## steady — 3% + 20 ms per hop" in text
