"""A tiny real scenario of each large-room command through the CLI (issues 8 and 9).

Each starts its own servers and a handful of participants for a few seconds, and checks what the
figures say happened on the wire: packets counted per layer, the slot mapping (every camera a join
put in a subscriber's view reached it, attributed to the right participant), offers per join, the
decode check on a simulcast layer. No speed assertions: those are the benchmark's own goals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.cli import main

ROOM_FIELDS = [
    "scenario", "cameras", "downlink_mbps_per_subscriber", "downlink_wire_mbps_per_subscriber",
    "video_mbps_per_subscriber", "layer_mix", "offers_per_join", "offers_received_by_members",
    "server_offers_during_joins", "join_to_first_frame_ms", "join_pairs_without_frame", "server_layer_packets",
    "publisher_plis", "views_sent", "dtx_skipped_packets", "server_args",
]


def _results(out: Path) -> list[dict[str, Any]]:
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for r in results:
        assert not r.get("failed"), r.get("error")
        for field in ROOM_FIELDS:
            assert field in r, field
        assert r["errors"] == [], r["errors"]
        assert r["decode_check"]["ok"], r["decode_check"]
        assert r["forwarded_packets"] > 0 and r["subscriber_streams"] == r["expected_streams"]
        assert r["loss_pct"] < 5
    return results


def test_simulcast_thumbnails_vs_all_full(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    main(["simulcast", "--participants", "3", "--duration", "3", "--warmup", "1", "--quiet", "--out", str(out)])
    by = {r["scenario"]: r for r in _results(out)}
    full, thumbs = by["all-full"], by["thumbnails"]
    # all-full: per-track m-lines, every camera at its top layer, a server offer to the others per join
    assert set(full["layer_mix"]) == {"f"} and full["server_args"] == ["--last-n", "0", "--audio-last-n", "0"]
    assert full["offers_per_join"] > 1 and full["server_offers_during_joins"] >= 2
    # every decoded frame of the sampled stream is the top layer (the sample ends with the run: the sooner
    # the last pair starts, the fewer of its 150 frames it holds)
    sizes = full["decode_check"]["sizes"]
    assert set(sizes) == {"1280x720"} and sizes["1280x720"] >= 100, sizes
    # thumbnails: slots and a view; one large tile (f) and one thumbnail (q) each, no offer after a join
    assert {"q", "f"} <= set(thumbs["layer_mix"]) and "h" not in thumbs["layer_mix"]
    assert thumbs["offers_per_join"] == 1.0 and thumbs["server_offers_during_joins"] == 0
    assert thumbs["views_sent"] >= 3 and thumbs["server_layer_packets"].get("q", 0) > 0
    # the slot mapping: each of the 3 x 2 (subscriber, camera) pairs got that camera's frames on a slot
    assert thumbs["join_to_first_frame_ms"]["count"] == 6 and thumbs["join_pairs_without_frame"] == 0
    assert full["join_to_first_frame_ms"]["count"] == 6 and full["join_pairs_without_frame"] == 0
    down_thumbs = thumbs["video_mbps_per_subscriber"]["mean"]
    assert 0 < down_thumbs < full["video_mbps_per_subscriber"]["mean"]
    assert thumbs["dtx_skipped_packets"] > 0 and thumbs["publisher_plis"] > 0
    report = (out / "report.md").read_text()
    assert "### Thumbnails vs all-full (issue 8)" in report and "of it (goal ≤ 0.25" in report


def test_large_room_last_n_vs_all_to_all(tmp_path: Path) -> None:
    out = tmp_path / "large"
    main(["large", "--participants", "4", "--cameras", "2", "--sizes", "4", "--all-to-all-sizes", "4",
          "--duration", "3", "--warmup", "1", "--quiet", "--out", str(out)])
    by = {r["scenario"]: r for r in _results(out)}
    last_n, full = by["last-n"], by["all-to-all"]
    for r in (last_n, full):
        assert r["participants"] == 4 and r["cameras"] == 2 and r["publishers"] == 4
        assert r["audio_packets"] > 0 and r["dtx_skipped_packets"] > 0
    # members with a camera see the other camera, the others both: 2 x 1 + 2 x 2 streams
    assert last_n["expected_streams"] == full["expected_streams"] == 6
    assert last_n["offers_per_join"] == 1.0 and full["offers_per_join"] > 1
    assert last_n["join_to_first_frame_ms"]["count"] == 6
    assert last_n["server_rss_mb_per_participant"] is not None
    for png in ("room_server_cpu.png", "room_rss.png", "room_downlink.png"):
        assert (out / png).stat().st_size > 1000
    assert "### The study-group room (issue 9)" in (out / "report.md").read_text()
