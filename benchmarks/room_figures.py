"""Large-room figures of one run: each subscriber's downlink, the layer mix, offers per join, join to first frame.

Computed from what the workers counted (window deltas of every stream's counters, each member's own
report) and the server's /metrics read at the phase boundaries, so that each figure of issues 8
and 9 comes from the client side, with the server's own count beside it where it keeps one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks import metrics as server_metrics
from benchmarks.clip import PRESETS, SIMULCAST_PRESETS, SIMULCAST_RIDS

# SRTP (AES-GCM tag) + UDP + IPv4 per packet: what the downlink carries beyond the RTP packet
WIRE_OVERHEAD = 16 + 8 + 20
RID_BY_WIDTH = {PRESETS[name].width: rid for name, rid in zip(SIMULCAST_PRESETS, SIMULCAST_RIDS, strict=True)}


def _stats(values: list[float], digits: int = 3) -> dict[str, float] | None:
    if not values:
        return None
    a = np.array(values, dtype=float)
    return {"mean": round(float(a.mean()), digits), "p50": round(float(np.median(a)), digits),
            "p95": round(float(np.percentile(a, 95)), digits), "max": round(float(a.max()), digits),
            "count": len(values)}


def layer_name(width: int) -> str:
    if width == 0:
        return "before first keyframe"
    return RID_BY_WIDTH.get(width, f"{width}w")


def _window_streams(final: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(stream, counters at the window's start, at its end) for every stream that existed at the end."""
    marks = final["marks"]
    start_streams = marks.get("start", {}).get("streams", [])
    end_streams = marks.get("end", {}).get("streams", [])
    out = []
    for i, stream in enumerate(final["streams"]):
        if i >= len(end_streams):
            continue
        start = start_streams[i] if i < len(start_streams) else {}
        out.append((stream, start, end_streams[i]))
    return out


def room_figures(cfg: Any, finals: list[dict[str, Any]], window: float,
                 scrapes: dict[str, dict[str, float]]) -> dict[str, Any]:
    joins: dict[str, dict[str, Any]] = {}
    for final in finals:
        joins.update(final["joins"])
    down_bytes: dict[str, int] = defaultdict(int)
    down_packets: dict[str, int] = defaultdict(int)
    down_video: dict[str, int] = defaultdict(int)
    layers: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    first_frames: dict[str, dict[str, int]] = defaultdict(dict)  # subscriber -> source -> ns
    loss: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # kind -> [expected, lost, streams with loss]
    for final in finals:
        for stream, start, end in _window_streams(final):
            sub = stream["subscriber"]
            if start.get("ext_max", -1) >= 0:
                expected = end["ext_max"] - start["ext_max"]
                lost = max(0, expected - (end["packets"] - start.get("packets", 0)))
                tally = loss[stream["kind"]]
                tally[0] += expected
                tally[1] += lost
                tally[2] += 1 if lost else 0
            rtp = end.get("rtp_bytes", 0) - start.get("rtp_bytes", 0)
            down_bytes[sub] += rtp
            down_packets[sub] += end["packets"] - start.get("packets", 0)
            if stream["kind"] == "video":
                down_video[sub] += rtp
                before = start.get("layers", {})
                for width, (packets, nbytes) in end.get("layers", {}).items():
                    was = before.get(width, [0, 0])
                    layers[int(width)][0] += packets - was[0]
                    layers[int(width)][1] += nbytes - was[1]
                for source, ns in stream.get("first_frames", {}).items():
                    if source not in first_frames[sub] or ns < first_frames[sub][source]:
                        first_frames[sub][source] = ns
    subscribers = [pid for pid, j in joins.items() if j.get("subscribe")]
    to_mbps = 8 / window / 1e6
    total_packets = sum(v[0] for v in layers.values()) or 1
    total_bytes = sum(v[1] for v in layers.values()) or 1
    mix = {layer_name(w): {"packets_pct": round(100 * p / total_packets, 1), "bytes_pct": round(100 * b / total_bytes, 1),
                           "mbps": round(b * to_mbps, 3)}
           for w, (p, b) in sorted(layers.items())}
    reports = {pid: j.get("report") or {} for pid, j in joins.items()}
    offers = sum(int(r.get("offers_received", 0)) for r in reports.values())
    total = len(joins)
    pairs, missing = _join_pairs(joins, reports, first_frames, bool(cfg.view))
    connected = {pid: {"join_ns": r.get("connected_ns") or 0, **{k: joins[pid].get(k) for k in ("subscribe", "publish",
                                                                                               "camera")}}
                 for pid, r in reports.items()}
    after_connect, _ = _join_pairs(connected, reports, first_frames, bool(cfg.view))
    setup = [(r["connected_ns"] - joins[pid]["join_ns"]) / 1e6 for pid, r in reports.items() if r.get("connected_ns")]
    joined, before, start, end = (scrapes.get(k, {}) for k in ("joined", "before", "start", "end"))
    server_offers = server_metrics.delta(joined, before, server_metrics.OFFERS)
    server_layers = {SIMULCAST_RIDS[i] if cfg.simulcast and i < len(SIMULCAST_RIDS) else str(i):
                     server_metrics.delta(end, start, server_metrics.LAYER_PACKETS % i) for i in range(3)}
    publishers = [r["simulcast"] for r in reports.values() if r.get("simulcast")]
    return {
        "cameras": sum(1 for j in joins.values() if j.get("camera") and j.get("publish")),
        "downlink_mbps_per_subscriber": _stats([down_bytes[s] * to_mbps for s in subscribers]),
        "downlink_wire_mbps_per_subscriber": _stats(
            [(down_bytes[s] + WIRE_OVERHEAD * down_packets[s]) * to_mbps for s in subscribers]),
        "video_mbps_per_subscriber": _stats([down_video[s] * to_mbps for s in subscribers]),
        "layer_mix": mix,
        "loss_by_kind": {kind: {"loss_pct": round(100 * lost / expected, 3) if expected else 0.0,
                                "streams_with_loss": streams} for kind, (expected, lost, streams) in loss.items()},
        "offers_received_by_members": offers,
        # every member's own first offer, plus the server offers the others received because of it
        "offers_per_join": round(1 + offers / total, 2) if total else None,
        "server_offers_during_joins": server_offers,
        "join_to_first_frame_ms": _stats(pairs, 1),
        # the same pairs from the later of the two media connections coming up: the server's part
        "connected_to_first_frame_ms": _stats(after_connect, 1),
        # each member's join ack to its media connection up (offer, answer, ICE, DTLS): mostly the client's part
        "join_to_connected_ms": _stats(setup, 1),
        "join_pairs_without_frame": missing,
        "server_layer_packets": {k: v for k, v in server_layers.items() if v},
        "server_layer_switches": server_metrics.delta(end, start, server_metrics.LAYER_SWITCHES),
        "server_keyframe_requests": server_metrics.delta(end, start, server_metrics.KEYFRAME_REQUESTS),
        # upstream loss and trouble as the server saw it in the window (NACKs it sent to publishers, datagrams
        # it could not use, streams that went silent): tells the server's loss from the generator's
        "server_window": {name: server_metrics.delta(end, start, f"sfu_{name}_total") for name in
                          ("received_packets", "forwarded_packets", "nacks_sent", "retransmissions",
                           "dropped_datagrams", "stream_stalls")},
        "publisher_plis": sum(layer["plis"] for p in publishers for layer in p.values()),
        "publisher_nacks": sum(layer["nacks"] for p in publishers for layer in p.values()),
        "publisher_retransmissions": sum(layer.get("retransmitted", 0) for p in publishers for layer in p.values()),
        "publisher_retransmissions_throttled": sum(layer.get("throttled", 0) for p in publishers for layer in p.values()),
        "publisher_layers_active": {rid: sum(1 for p in publishers if p.get(rid, {}).get("active"))
                                    for rid in SIMULCAST_RIDS} if publishers else None,
        "views_sent": sum(int(r.get("views_sent", 0)) for r in reports.values()),
        "dtx_skipped_packets": sum(int(r.get("dtx_skipped", 0)) for r in reports.values()),
        # each member as it saw the run, in join order (what a figure above hides: who lacked what)
        "members": [{"index": j.get("index"), "camera": j.get("camera"),
                     **{k: v for k, v in reports[pid].items() if k != "first_shown"}}
                    for pid, j in sorted(joins.items(), key=lambda kv: kv[1].get("index", 0))],
    }


def _join_pairs(joins: dict[str, dict[str, Any]], reports: dict[str, dict[str, Any]],
                first_frames: dict[str, dict[str, int]], view: bool) -> tuple[list[float], int]:
    """Join → first frame, per (subscriber, camera) pair that a join brought together.

    With views: the cameras a join put in the subscriber's view (not those a speaker change brought
    in later); without: every camera it received. The origin is the later of the two join acks."""
    latencies: list[float] = []
    missing = 0
    for sub, info in joins.items():
        if not info.get("subscribe"):
            continue
        got = first_frames.get(sub, {})
        if view:
            sources = [pid for pid, (_, reason) in (reports[sub].get("first_shown") or {}).items() if reason == "join"]
        else:
            sources = [pid for pid, j in joins.items() if pid != sub and j.get("publish") and j.get("camera")]
        for pid in sources:
            ns = got.get(pid)
            if ns is None or pid not in joins or not info["join_ns"] or not joins[pid]["join_ns"]:
                missing += 1
                continue
            origin = max(info["join_ns"], joins[pid]["join_ns"])
            latencies.append(max(0.0, (ns - origin) / 1e6))
    return latencies, missing
