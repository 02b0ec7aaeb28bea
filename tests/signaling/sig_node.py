"""Runs the Node scripts in tests/node (npm `socket.io-client`) and parses their JSON output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def require_node() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("node and tests/node/node_modules are required: run `npm ci` in tests/node (make test does)")
    return node


def run_node(script: str, *args: str, timeout: float = 30) -> dict[str, Any]:
    """Run `node tests/node/<script> args...`; fail the test with its stderr unless it exits 0."""
    proc = subprocess.run([require_node(), str(NODE_DIR / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=NODE_DIR)
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spawn_node(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([require_node(), str(NODE_DIR / script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=NODE_DIR)
