"""A browser that may only use a TURN relay (`iceTransportPolicy: "relay"`) joins through a real coturn.

Students behind strict firewalls reach the SFU only through TURN. The server hands out time-limited
coturn REST credentials (`--turn-url`, `--turn-secret`); the relay-only page must gather a relay
candidate from coturn, reach the server through it, and hold a call with a page on a direct path.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from browser import chromium, decoded_from, open_test_pages, serve_test_page
from support import ServerProcess, free_port, run_server

SECRET = "turn-test-secret"


@pytest.fixture(scope="module")
def coturn() -> Iterator[int]:
    binary = shutil.which("turnserver")
    assert binary, "coturn is not installed (apt-get install coturn; scripts/setup.sh does it)"
    port = free_port()
    relay_low = 49152 + (port % 1000) * 10
    process = subprocess.Popen(
        [binary, "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "--listening-port", str(port),
         "--min-port", str(relay_low), "--max-port", str(relay_low + 9), "--use-auth-secret",
         "--static-auth-secret", SECRET, "--realm", "sfu.test", "--allow-loopback-peers", "--no-cli", "--no-tls",
         "--no-dtls", "--fingerprint", "--log-file", "stdout", "--simple-log"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def turn_server(coturn: int) -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO", "--cors-origins", "*", "--turn-url", f"turn:127.0.0.1:{coturn}?transport=udp",
                     "--turn-secret", SECRET]) as server:
        yield server



async def test_a_relay_only_browser_holds_a_call_through_coturn(turn_server: ServerProcess) -> None:
    room = f"turn-{uuid.uuid4().hex[:8]}"
    async with serve_test_page() as page_url, chromium() as browser:
        pages, ids = await open_test_pages(browser, page_url, turn_server.url, room,
                                           [("relayed", "&relay=1"), ("direct", "&relay=0")])
        relayed, direct = pages
        for _ in range(150):
            if await decoded_from(relayed, ids[1]) > 10 and await decoded_from(direct, ids[0]) > 10:
                break
            await asyncio.sleep(0.2)
        log = await relayed.evaluate("window.log")
        assert any(" typ relay " in line for line in log), log
        assert not any(" typ host " in line or " typ srflx " in line for line in log), "relay-only gathered more"
        assert await relayed.evaluate("window.selectedCandidateType()") == "relay"
        before = (await decoded_from(relayed, ids[1]), await decoded_from(direct, ids[0]))
        assert min(before) > 10, before
        await asyncio.sleep(2.0)
        after = (await decoded_from(relayed, ids[1]), await decoded_from(direct, ids[0]))
        assert after[0] > before[0] + 10 and after[1] > before[1] + 10, (before, after)
        assert await relayed.evaluate("window.errors") == [] and await direct.evaluate("window.errors") == []
