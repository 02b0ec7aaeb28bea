"""The web client's own Vitest suite (state reducer, track mapping, negotiation queue, components), run from pytest
so that `make test` covers it, plus a type check and a production build."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from web_support import WEB, ensure_web_build


def npm() -> str:
    path = shutil.which("npm")
    if path is None:
        pytest.fail("npm is not installed: the web client's tests need Node 20.19+ with npm")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([path, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    return path


def test_vitest_suite_passes() -> None:
    result = subprocess.run([npm(), "test", "--", "--run"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"vitest failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in result.stdout


def test_typescript_type_checks() -> None:
    result = subprocess.run([npm(), "run", "typecheck"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"tsc failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def test_build_is_current() -> None:
    npm()
    ensure_web_build()
    from web_support import BUILD_INDEX

    html = BUILD_INDEX.read_text()
    assert '<div id="root">' in html and "/assets/" in html
