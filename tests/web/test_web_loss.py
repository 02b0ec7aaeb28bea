"""Issue 10's loss test: a Chromium SFU call next to a direct call, 3% loss + 20 ms on each browser's link.

The measurement is `python -m benchmarks.impaired` (it runs in its own network namespace with an
NFQUEUE impairer, so nothing else on the machine is impaired); one run serves both tests. The first
checks that the impairment really happened (a passing comparison must never come from a network that
dropped nothing); the second compares what users see.
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

LOSS, DELAY_MS, SECONDS = 0.03, 20.0, 20


@pytest.fixture(scope="module")
def loss_run(web_build: None) -> dict[str, dict[str, Any]]:
    problem = netns_problem()
    if problem:
        pytest.skip(f"impairment harness unavailable: {problem}")
    out = ARTIFACTS / "impaired-ci"
    cmd = [sys.executable, "-m", "benchmarks.impaired", "--impair", f"{100 * LOSS:g}:{DELAY_MS:g}",
           "--duration", str(SECONDS), "--warmup", "4", "--seed", "10", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    report = Path(out / "impaired.json")
    assert report.exists(), f"no report (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    results = {r["call"]: r for r in json.loads(report.read_text())["results"]}
    for kind in ("sfu", "direct"):
        assert "error" not in results.get(kind, {"error": "missing"}), (results.get(kind), done.stderr[-3000:])
    print((out / "impaired.md").read_text())
    return results


def _both(r: dict[str, Any], key: str) -> list[float]:
    return [d[key] for d in r["directions"].values()]


@pytest.mark.timeout(300)
def test_the_impairment_really_happened(loss_run: dict[str, dict[str, Any]]) -> None:
    for kind, r in loss_run.items():
        imp = r["impairer"]
        total = imp["total"]
        assert total["hop_packets"] > 3000, (kind, total)
        assert abs(total["hop_loss"] - LOSS) < 0.01, (kind, total)
        # At least the configured delay; a little more when a busy machine delays the impairer's verdicts.
        assert DELAY_MS - 1 <= total["hop_delay_ms"] <= DELAY_MS + 8, (kind, total, imp["late_ms"])
        for page in ("A", "B"):  # every RTP packet a page sent went through its impaired link
            assert imp[page]["coverage"] is not None and imp[page]["coverage"] >= 1.0, (kind, page, imp[page])
        flowing = [d for d in r["directions"].values() if not d["no_video"]]
        assert all(d["nack_sent"] > 0 for d in flowing), (kind, "losses must reach the receivers", r["directions"])
        assert not any(d["reconnected"] for d in flowing), (kind, r["directions"])
    # The baseline itself works: video both ways in the direct call.
    assert all(fps > 10 for fps in _both(loss_run["direct"], "fps")), loss_run["direct"]["directions"]


@pytest.mark.timeout(300)
def test_sfu_call_holds_up_like_a_direct_call(loss_run: dict[str, dict[str, Any]]) -> None:
    sfu, direct = loss_run["sfu"], loss_run["direct"]
    figures = {k: {d: {f: v.get(f) for f in ("no_video", "freezes", "target_kbps", "fps", "frames_dropped", "height")}
                   for d, v in r["directions"].items()} | {"video_start_s": r["video_start_s"]}
               for k, r in loss_run.items()}
    # Every tile shows video (a keyframe request lost under loss must not leave a black tile).
    assert not any(d["no_video"] for d in sfu["directions"].values()), figures
    # At most one freeze more per direction than the worse direction of the direct call, over the window.
    assert max(_both(sfu, "freezes")) <= max(_both(direct, "freezes")) + 1, figures
    # Every frame is decoded, as in the direct call: with three temporal layers per simulcast layer (Chromium's
    # default) SFU viewers dropped about 1 frame in 11 at this loss (0.90 of the direct call's rate); the web
    # client asks for one (L1T1), and the server's downlink estimate keeps the viewers on the same layer.
    assert min(_both(sfu, "fps")) >= 0.93 * min(_both(direct, "fps")), figures
    assert max(_both(sfu, "frames_dropped")) <= max(_both(direct, "frames_dropped")) + 10, figures
    # The publishers' congestion control does not collapse: at least half the direct call's target bitrate.
    assert sum(_both(sfu, "target_kbps")) >= 0.5 * sum(_both(direct, "target_kbps")), figures
