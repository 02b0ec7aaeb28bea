"""The web client's own Vitest suite (state reducer, track mapping, negotiation queue, components), run from pytest
so that `make test` covers it, plus a type check. The build itself: tests/web/test_web_build.py."""

from __future__ import annotations

import subprocess

from web_support import WEB, npm


def test_vitest_suite_passes() -> None:
    result = subprocess.run([npm(), "test", "--", "--run"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"vitest failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in result.stdout


def test_typescript_type_checks() -> None:
    result = subprocess.run([npm(), "run", "typecheck"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"tsc failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
