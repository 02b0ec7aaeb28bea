"""The NFQUEUE impairer on this machine, checked from the receivers' side with plain UDP sockets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from benchmarks.netimpair import ROOT, netns_problem


def test_loss_and_delay_really_happen_per_hop() -> None:
    problem = netns_problem()
    if problem:
        pytest.skip(f"impairment harness unavailable: {problem}")
    done = subprocess.run([sys.executable, "-m", "benchmarks.netimpair", "selftest", "0.05", "20"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout.strip().splitlines()[-1])
    one, two = r["one_hop"], r["two_hops"]
    assert 0.03 < one["loss"] < 0.07 and 0.07 < two["loss"] < 0.13, r  # 2000 packets each
    assert 20 <= one["min_ms"] and one["delay_ms"] < 25, r
    assert 40 <= two["min_ms"] and two["delay_ms"] < 45, r
    assert r["kernel"].get("queue_dropped", 0) == 0 and r["kernel"].get("user_dropped", 0) == 0, r
