"""The README's two commands, run as a new user would: a fresh clone, the system's own Python.

In CI (and on this project's machines) `/usr/bin/python3` is Debian's, marked externally managed
(PEP 668): `pip install` outside a virtual environment is refused, so the commands must make their own.
The clone gets the environment a login shell has (Debian's default PATH, no pyenv, no virtualenv), and
pip's wheel cache in $HOME is reused so the test stays within a few minutes; everything else is real:
`make run` makes .venv/, installs, serves the page; a second `make run` is quick and, with the port
taken, says so in one line; `make test` installs the test tools and runs (here: the packaging tests).
"""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT, free_port

SYSTEM_PYTHON = Path("/usr/bin/python3")
LOGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def login_env() -> dict[str, str]:
    keep = ("HOME", "USER", "LANG", "TERM", "SUDO_USER", "CI")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = LOGIN_PATH
    return env


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if text in log.read_text(errors="replace"):
            return time.monotonic() - started
        if process.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError(f"{text!r} did not appear within {timeout}s (exit {process.poll()}):\n{log.read_text()[-5000:]}")


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not SYSTEM_PYTHON.exists():
        pytest.fail("no /usr/bin/python3: apt-get install python3 python3-venv (the README's premise)")
    target = tmp_path_factory.mktemp("fresh") / "pysfu"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    yield target


@pytest.mark.timeout(900)
def test_make_run_serves_the_call_page_with_the_systems_python(clone: Path) -> None:
    managed = glob.glob("/usr/lib/python3*/EXTERNALLY-MANAGED")
    if managed:  # the premise: this python3 refuses pip outside a virtual environment
        refused = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--no-index", "pysfu"],
                                 capture_output=True, text=True, env=login_env(), timeout=60)
        assert refused.returncode != 0
        assert "externally-managed-environment" in refused.stderr or "No module named pip" in refused.stderr
    port = free_port()
    log = clone / "make-run.log"
    with log.open("wb") as out:
        first = subprocess.Popen(["make", "run", f"ARGS=--port {port}"], cwd=clone, env=login_env(), stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        took = wait_for_line(log, f"Call page: http://127.0.0.1:{port}/", first, timeout=600)
        assert (clone / ".venv" / "bin" / "python").exists()
        venv_python = os.path.realpath(clone / ".venv" / "bin" / "python")
        assert venv_python.startswith("/usr/bin/python3"), venv_python  # made with the system's python3
        status, kind, body = get(f"http://127.0.0.1:{port}/r/study-room")
        page = body.decode()
        assert status == 200 and kind.startswith("text/html") and '<div id="root">' in page
        script = page.split('src="', 1)[1].split('"', 1)[0]
        status, kind, body = get(f"http://127.0.0.1:{port}{script}")
        assert status == 200 and kind.startswith("text/javascript") and len(body) > 50_000
        assert get(f"http://127.0.0.1:{port}/favicon.ico")[0] == 200
        # again, while the first still runs: quick (nothing to install) and one clear line for the busy port
        started = time.monotonic()
        second = subprocess.run(["make", "run", f"ARGS=--port {port}"], cwd=clone, env=login_env(),
                                capture_output=True, text=True, timeout=300)
        again = time.monotonic() - started
        assert second.returncode != 0
        errors = [line for line in second.stderr.splitlines() if line.startswith("sfu:")]
        assert errors == [errors[0]] and "already in use" in errors[0], second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        assert again < 60, f"a second make run took {again:.0f}s"
        # sfu-bench after `make run` says exactly what to install
        bench = subprocess.run([str(clone / ".venv/bin/sfu-bench"), "--help"], capture_output=True, text=True,
                               env=login_env(), timeout=60)
        assert bench.returncode == 2 and "pip install -e '.[bench]'" in bench.stderr and "make bench" in bench.stderr
        print(f"first make run served the page after {took:.0f}s; a second make run got to the port in {again:.1f}s")
    finally:
        os.killpg(first.pid, signal.SIGINT)  # Ctrl+C, as a person stops it
        try:
            first.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the server outlived Ctrl+C"


@pytest.mark.timeout(900)
def test_make_test_installs_the_test_tools_and_runs(clone: Path) -> None:
    result = subprocess.run(["make", "test", "PYTEST_ARGS=tests/test_packaging.py -q -p no:cacheprovider"],
                            cwd=clone, env=login_env(), capture_output=True, text=True, timeout=840)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert "All checks passed!" in result.stdout and " passed" in result.stdout, tail
    for tool in ("web/node_modules/vite", "tests/node/node_modules/puppeteer-core", ".venv/bin/pytest"):
        assert (clone / tool).exists(), tool
    bench = subprocess.run([str(clone / ".venv/bin/sfu-bench"), "--help"], capture_output=True, text=True,
                           env=login_env(), timeout=60)
    assert bench.returncode == 0 and "usage: sfu-bench" in bench.stdout  # the test extras include its tools
