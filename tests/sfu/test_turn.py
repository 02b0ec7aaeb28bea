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
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from browser import chromium, decoded_from, open_test_pages, serve_test_page
from support import ServerProcess, free_port, run_server

SECRET = "turn-test-secret"


@pytest.fixture(scope="module")
def coturn() -> Iterator[int]:
    binary = shutil.which("turnserver")
    assert binary, "coturn is not installed (apt-get install coturn; scripts/setup.sh does it)"
    port = free_port()
    # Chromium allocates a relay per network and candidate it gathers (10 seen here for one relay-only
    # page); ten relay ports were sometimes all taken, and then the relay-only page never connected
    relay_low = 40000 + (port % 100) * 200
    process = subprocess.Popen(
        [binary, "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1", "--listening-port", str(port),
         "--min-port", str(relay_low), "--max-port", str(relay_low + 199), "--use-auth-secret",
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



async def relayed_call(browser: Any, page_url: str, server_url: str) -> tuple[list[Any], list[str], str | None]:
    """A relay-only page and a direct page in a fresh room, once both decode: (pages, ids, the relayed
    page's selected candidate type, None if its connection never came up within 60 s)."""
    room = f"turn-{uuid.uuid4().hex[:8]}"
    pages, ids = await open_test_pages(browser, page_url, server_url, room, [("relayed", "&relay=1"), ("direct", "&relay=0")])
    selected = None
    for _ in range(300):
        selected = await pages[0].evaluate("window.selectedCandidateType()")
        if selected and await decoded_from(pages[0], ids[1]) > 10 and await decoded_from(pages[1], ids[0]) > 10:
            break
        await asyncio.sleep(0.2)
    return pages, ids, selected


async def test_a_relay_only_browser_holds_a_call_through_coturn(turn_server: ServerProcess) -> None:
    async with serve_test_page() as page_url, chromium() as browser:
        pages, ids, selected = await relayed_call(browser, page_url, turn_server.url)
        if selected is None:
            # seen once in about ten runs on this machine (cause not found): the relay-only page's connection
            # never comes up. One new call, in a new room, is allowed; a second such failure fails the test.
            warnings.warn(f"the relay-only page never connected; trying one new call. Its log: "
                          f"{(await pages[0].evaluate('window.log'))[-10:]}", stacklevel=1)
            pages, ids, selected = await relayed_call(browser, page_url, turn_server.url)
        relayed, direct = pages
        log = await relayed.evaluate("window.log")
        assert any(" typ relay " in line for line in log), log
        assert not any(" typ host " in line or " typ srflx " in line for line in log), "relay-only gathered more"
        assert selected == "relay", (selected, log[-20:])
        before = (await decoded_from(relayed, ids[1]), await decoded_from(direct, ids[0]))
        assert min(before) > 10, before
        await asyncio.sleep(2.0)
        after = (await decoded_from(relayed, ids[1]), await decoded_from(direct, ids[0]))
        assert after[0] > before[0] + 10 and after[1] > before[1] + 10, (before, after)
        assert await relayed.evaluate("window.errors") == [] and await direct.evaluate("window.errors") == []
