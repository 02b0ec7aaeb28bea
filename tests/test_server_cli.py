"""`python -m sfu` for an operator: the URL to open appears once the port is bound; a busy port is one line."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT, run_server


def test_the_url_is_printed_once_listening_and_a_busy_port_is_one_line() -> None:
    with run_server() as server:
        log = server.log()
        line = f"Call page: {server.url}/"
        assert line in log
        # printed by aiohttp's after-start hook: the listening log line comes with it, never before the bind
        assert log.index("event=listening") < log.index(line)
        busy = subprocess.run([sys.executable, "-m", "sfu", "--host", "127.0.0.1", "--port", str(server.port)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert busy.returncode == 1
    assert busy.stdout == ""
    lines = busy.stderr.strip().splitlines()
    assert len(lines) == 1, busy.stderr
    assert lines[0].startswith(f"sfu: cannot listen on 127.0.0.1:{server.port}: the port is already in use")


def test_json_logs_stay_json_and_carry_the_url() -> None:
    import json

    with run_server(["--no-media", "--log-format", "json"]) as server:
        server.stop()
        lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    listening = next(line for line in lines if line.get("event") == "listening")
    assert listening["url"] == f"{server.url}/"
