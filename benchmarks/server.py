"""Start the server under test as a subprocess on 127.0.0.1 (media on loopback only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.cpu import prioritize

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerHandle:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def server_args(mode: str) -> list[str]:
    """Flags for one benchmark mode: mesh needs no media backend (the server only relays signaling)."""
    args = ["--ice-host", "127.0.0.1", "--max-participants-mesh", "64", "--max-participants-sfu", "200",
            "--log-level", "WARNING"]
    return args + (["--no-media"] if mode == "mesh" else ["--forwarding", mode])


def start_server(mode: str, extra_args: list[str] | None = None, timeout: float = 30.0, nice: int = 0) -> ServerHandle:
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"sfu-bench-{port}-", suffix=".log", delete=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFU_")}
    env.update({"SFU_ICE_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"})
    process = subprocess.Popen(
        [sys.executable, "-m", "sfu", "--host", "127.0.0.1", "--port", str(port), *server_args(mode),
         *(extra_args or [])],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=(lambda: prioritize(nice)) if nice else None,  # runs before the server starts any thread
    )
    handle = ServerHandle(process, f"http://127.0.0.1:{port}", Path(log.name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{handle.log_tail()}")
        try:
            with urllib.request.urlopen(f"{handle.url}/healthz", timeout=1) as resp:
                if resp.status < 500:
                    return handle
        except OSError:
            pass
        time.sleep(0.1)
    handle.stop()
    raise RuntimeError(f"server did not answer /healthz within {timeout}s:\n{handle.log_tail()}")
