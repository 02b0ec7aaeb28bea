"""Firefox (Debian's firefox-esr) in an SFU call with two Chromium pages, through the real call page.

`tests/node/firefox_call.mjs` drives headless Firefox over WebDriver BiDi and Chromium over CDP with
puppeteer-core (geckodriver cannot be downloaded here) and reports what every page saw; this test judges
it: each page decodes each other's camera (framesDecoded rising) and receives sound (audio packets and
energy rising); Firefox turns its camera off and on and the others see both; Firefox receives a Chromium
screen share (headless Firefox cannot capture a screen itself); Firefox leaves and its tile goes away.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, ServerProcess, run_server
from web_support import CHROMIUM

NODE_DIR = ROOT / "tests" / "node"
SCENARIO = NODE_DIR / "firefox_call.mjs"


def firefox_binary() -> str:
    found = shutil.which("firefox-esr") or shutil.which("firefox")
    if found is None:
        pytest.fail("Firefox is not installed: apt-get install firefox-esr (`make test` does it)")
    return found


def node_packages() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js with npm is needed to drive Firefox: apt-get install nodejs npm")
    if not (NODE_DIR / "node_modules" / "puppeteer-core").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True, timeout=300)
    return node


def ice_hosts_for_firefox() -> str:
    """Firefox 153 ESR gathers no loopback candidate on a machine with another interface, whatever
    `media.peerconnection.ice.loopback` says (seen with eth0 192.0.2.2): the server then offers that
    interface's address too, so Firefox has a candidate pair. Chromium keeps using 127.0.0.1."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 9))  # sends nothing: picks the outgoing interface
            address = str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    return "127.0.0.1" if address.startswith("127.") else f"127.0.0.1,{address}"


@pytest.fixture(scope="module")
def server(web_build: None) -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO"], env={"SFU_ICE_HOST": ice_hosts_for_firefox()}) as process:
        yield process


@pytest.fixture(scope="module")
def call(server: ServerProcess) -> dict[str, Any]:
    node = node_packages()
    room = f"firefox-{uuid.uuid4().hex[:8]}"
    result = subprocess.run([node, str(SCENARIO), server.url, room, firefox_binary(), CHROMIUM],
                            cwd=NODE_DIR, capture_output=True, text=True, timeout=420)
    lines = result.stdout.strip().splitlines()
    assert lines, f"the scenario printed nothing (exit {result.returncode}):\n{result.stderr[-4000:]}"
    facts: dict[str, Any] = json.loads(lines[-1])
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    Path(artifacts / "firefox-call.json").write_text(json.dumps(facts, indent=1))
    assert facts["ok"], (f"the Firefox call failed: {facts['error']}\n"
                         f"steps: {[s['name'] for s in facts['steps']]}\n"
                         f"what the pages saw: {json.dumps(facts.get('diagnosis'), indent=1)[:8000]}")
    return facts


def test_every_page_sees_and_hears_every_other(call: dict[str, Any]) -> None:
    assert call["firefoxVersion"].startswith("firefox/")
    pages = call["pages"]
    assert sorted(pages) == ["ada", "bob", "fox"]
    for name, page in pages.items():
        others = {p["participantId"] for n, p in pages.items() if n != name}
        assert set(page["media"]) == others, name
        for pid, samples in page["media"].items():
            first, second = samples["first"], samples["second"]
            assert second["frames"] > first["frames"] > 10, (name, pid, samples)  # video keeps decoding
            assert second["audioPackets"] > first["audioPackets"] > 20, (name, pid, samples)
            if second["audioEnergy"] is not None:  # sound, not only packets
                assert second["audioEnergy"] > first["audioEnergy"], (name, pid, samples)
        assert len(page["tiles"]) == 3 and all(t["media"] == "connected" for t in page["tiles"]), page["tiles"]


def test_firefox_turns_its_camera_off_and_on_and_the_others_see_it(call: dict[str, Any]) -> None:
    off = call["cameraOff"]
    assert set(off["seen"]) == {"ada", "bob"} and all(t["video"] == "off" for t in off["seen"].values())
    assert off["foxLocalCamera"] is True and off["foxPressed"] == "false"  # the camera is really released
    for name, frames in call["cameraBack"].items():
        assert frames["after"] > frames["before"], (name, frames)


def test_firefox_receives_a_chromium_screen_share(call: dict[str, Any]) -> None:
    screen = call["screenOnFirefox"]
    assert screen["framesDecoded"] > 5
    assert abs(screen["width"] / screen["height"] - 16 / 9) < 0.05, screen  # the 16:9 fake screen, not a 4:3 camera


def test_firefox_leaves_and_its_tile_goes_away(call: dict[str, Any]) -> None:
    fox = call["pages"]["fox"]["participantId"]
    for name, tiles in call["afterLeave"].items():
        assert len(tiles) == 2 and fox not in {t["id"] for t in tiles}, (name, tiles)


def test_the_server_refused_nothing_firefox_sent(call: dict[str, Any], server: ServerProcess) -> None:
    log = server.log()
    assert "code=bad_request" not in log and "event=media_status" in log
    assert "status=failed" not in log and "event=connection_failed" not in log
