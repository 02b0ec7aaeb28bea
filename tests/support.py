"""Helpers shared by the test suites: free ports, real server processes, a real Redis."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status < 500:
                    return
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


@dataclass
class ServerProcess:
    """A real `python -m sfu` process on 127.0.0.1."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Simulate a crash: no cleanup, no goodbye."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def run_server(args: Sequence[str] = (), env: dict[str, str] | None = None, port: int | None = None) -> Iterator[ServerProcess]:
    """Start the server as a subprocess (media on 127.0.0.1 only) and stop it afterwards."""
    port = port or free_port()
    log_file = tempfile.NamedTemporaryFile(prefix=f"sfu-{port}-", suffix=".log", delete=False)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SFU_")}
    full_env.update({"SFU_ICE_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"})
    full_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "sfu", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    server = ServerProcess(port, process, Path(log_file.name))
    try:
        try:
            wait_http(f"{server.url}/healthz")
        except TimeoutError as exc:
            raise RuntimeError(f"server did not start:\n{server.log()}") from exc
        yield server
    finally:
        server.stop()


def redis_available(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """A real Redis on 127.0.0.1: the one CI started (SFU_TEST_REDIS_URL), else a private one."""
    url = os.environ.get("SFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_available(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(f"no Redis at {url} and no redis-server binary (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while not redis_available(url):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


# --- what a server process costs and says, read from outside it --------------------------------------


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE / 2**20


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def healthz(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as resp:
        return json.loads(resp.read())


def metrics_text(server: ServerProcess) -> str:
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as resp:
        return resp.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line.split("{")[0].split(" ")[0] == name:
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


