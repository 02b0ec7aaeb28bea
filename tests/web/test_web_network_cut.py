"""Issue 10's network cut through the web client: page B's network (its UDP and its Socket.IO TCP) is cut
for 8 s and restored; the page stays in the room on the same peer connection (ICE comes back by itself
or by an ICE restart) and video flows again.

The measurement is `python -m benchmarks.impaired --scenario block` (a private network namespace with an
NFQUEUE impairer, tests/web/test_web_loss.py's harness), run once for the module. The server runs with
`--ping-timeout 20`: with the default 5 s, a Socket.IO ping that falls in the first seconds of a cut
ends the session, and the server then ends the member (`video:user-left`); the page can only join again
as a new member. That is the signaling layer's liveness rule, not the media's, and is reported as such.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from web_support import ARTIFACTS, ROOT

from benchmarks.netimpair import netns_problem

BLOCK_S = 8


@pytest.fixture(scope="module")
def cut(web_build: None) -> dict[str, Any]:
    problem = netns_problem()
    if problem:
        pytest.skip(f"impairment harness unavailable: {problem}")
    out = ARTIFACTS / "network-cut"
    cmd = [sys.executable, "-m", "benchmarks.impaired", "--scenario", "block", "--calls", "sfu",
           "--block", str(BLOCK_S), "--observe", "10", "--server-arg=--ping-timeout=20", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=280)
    report = Path(out / "impaired.json")
    assert report.exists(), f"no report (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(report.read_text())["results"][0]
    assert "error" not in result, (result, done.stderr[-3000:])
    print((out / "impaired.md").read_text())
    return result


@pytest.mark.timeout(300)
def test_the_cut_really_happened_and_the_page_stayed_in_the_room(cut: dict[str, Any]) -> None:
    assert cut["blocked_packets"] > 100, cut["blocked_packets"]
    states = [e[2] for e in cut["ice_events_B"]]
    assert "ice:disconnected" in states or "ice:failed" in states, cut["ice_events_B"]  # B's ICE saw the cut
    assert cut["left_room"] == [False, False], cut["left_room"]
    assert cut["new_connections"] == [0, 0], (cut["new_connections"], cut["ice_events_B"])


@pytest.mark.timeout(300)
def test_video_is_back_within_three_seconds(cut: dict[str, Any]) -> None:
    # Toward the cut page this failed (5.2 s) until the server stopped resending packets over a second old
    # and asked for a keyframe instead (router/consumer.py): the page replayed 2 s of stale frames from
    # retransmissions, then waited 3 s for its decoder's own keyframe request.
    figures = cut["directions"]
    for direction, f in figures.items():
        assert f["first_frame_s"] is not None and f["first_frame_s"] <= 3.0, (direction, figures)
        assert f["video_back_s"] is not None and f["video_back_s"] <= 3.0, (direction, figures)
