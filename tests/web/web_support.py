"""Helpers for the browser-client tests: building web/, launching Chromium, driving the call page."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
BUILD_INDEX = ROOT / "sfu" / "static" / "app" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("SFU_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",  # also auto-accepts getDisplayMedia (a fake 1280x720 "screen")
    "--auto-select-desktop-capture-source=Entire screen",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


def ensure_web_build() -> None:
    """The committed build must match web/ (sfu/web_build.py); tests never rebuild it behind your back."""
    from sfu.web_build import problem

    message = problem()
    if message:
        raise RuntimeError(message)


MIN_NODE = (18, 19)


def npm() -> str:
    """npm for the web client's tests (Node >= 18.19: Debian 12's own nodejs is enough); installs web/'s packages."""
    import subprocess

    path = shutil.which("npm")
    node = shutil.which("node")
    if path is None or node is None:
        raise RuntimeError("Node.js with npm is needed for the web client's tests: apt-get install nodejs npm "
                           "(`make test` does it)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major, minor = (int(x) for x in version.lstrip("v").split(".")[:2])
    if (major, minor) < MIN_NODE:
        raise RuntimeError(f"Node.js {version} is too old for the web client's tools: need >= 18.19")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([path, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    return path


def launch_chromium(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_context(browser: Browser) -> BrowserContext:
    return browser.new_context(permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800})


def wait_until(predicate: Callable[[], Any], timeout: float, message: str, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `message` (and the last value)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} (waited {timeout}s; last value: {last!r})")


def open_room(
    context: BrowserContext,
    base_url: str,
    room: str,
    name: str,
    *,
    listener: bool = False,
    camera_off: bool = False,
    mic_muted: bool = False,
) -> Page:
    """Open /r/<room>, fill the pre-join form and join; returns once the call page shows us joined."""
    page = context.new_page()
    page.goto(f"{base_url}/r/{room}")
    page.get_by_label("Your name").fill(name)
    if listener:
        page.get_by_role("button", name="Join as listener").click()
    else:
        # Wait for the preview so the camera and microphone are handed to the call.
        page.wait_for_selector("video[aria-label='Your camera preview']", timeout=10_000)
        page.wait_for_function("() => !document.querySelector('button[aria-label=Microphone]').disabled")
        if camera_off:
            page.get_by_role("button", name="Camera", exact=True).click()
        if mic_muted:
            page.get_by_role("button", name="Microphone", exact=True).click()
        page.get_by_role("button", name="Join", exact=True).click()
    page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=15_000)
    return page


def tiles(page: Page) -> list[dict[str, Any]]:
    """Every camera tile on the page: participant id, self flag, audio/video state, name."""
    return page.eval_on_selector_all(
        "[data-testid=tile]",
        """els => els.map(e => ({id: e.dataset.participantId, self: e.dataset.self === 'true',
                               audio: e.dataset.audio, video: e.dataset.video, label: e.getAttribute('aria-label')}))""",
    )


VIDEO_PROGRESS_JS = """async (selector) => {
  const vids = [...document.querySelectorAll(selector)];
  const before = vids.map(v => v.currentTime);
  await new Promise(r => setTimeout(r, 700));
  return vids.map((v, i) => ({w: v.videoWidth, h: v.videoHeight, t0: before[i], t1: v.currentTime,
                               paused: v.paused, ready: v.readyState}));
}"""


def playing_videos(page: Page, selector: str) -> list[dict[str, Any]]:
    """Videos under `selector` with videoWidth > 0 and currentTime advancing."""
    states = page.evaluate(VIDEO_PROGRESS_JS, selector)
    return [s for s in states if s["w"] > 0 and s["t1"] > s["t0"]]


INBOUND_AUDIO_JS = """async () => {
  const call = window.__sfuCall;
  if (!call) return null;
  const stats = await call.inboundStats();
  return stats.filter(s => s.kind === 'audio').map(s => ({pid: s.participantId, packets: s.packetsReceived}));
}"""


def inbound_audio(page: Page) -> dict[str, int]:
    """Audio packets received so far, per publishing participant (from RTCPeerConnection.getStats())."""
    rows = page.evaluate(INBOUND_AUDIO_JS) or []
    return {r["pid"]: r["packets"] for r in rows if r["pid"]}


INBOUND_AUDIO_ENERGY_JS = """async () => {
  const call = window.__sfuCall;
  if (!call) return [];
  const stats = await call.inboundStats();
  return stats.filter(s => s.kind === 'audio').map(s => ({pid: s.participantId, energy: s.audioEnergy ?? 0,
                                                           packets: s.packetsReceived}));
}"""


def audio_energy(page: Page) -> dict[str, float]:
    """Audio energy received so far per publisher (`totalAudioEnergy`): it grows only while sound arrives."""
    return {r["pid"]: r["energy"] for r in page.evaluate(INBOUND_AUDIO_ENERGY_JS) if r["pid"]}


def hears(page: Page, pid: str, timeout: float = 20.0) -> None:
    """`page` receives audible sound from `pid` (energy grows over two samples, not only packets)."""
    first = wait_until(lambda: audio_energy(page).get(pid, 0.0) > 0 and audio_energy(page), timeout, f"sound from {pid}")
    wait_until(lambda: audio_energy(page).get(pid, 0.0) > first[pid], 5, f"sound from {pid} keeps arriving")


def debug_dump(page: Page) -> str:
    """The client's negotiation trace, for failure messages."""
    try:
        lines = page.evaluate("() => (window.__sfuCall ? window.__sfuCall.log.slice(-40) : [])")
        return "\n".join(lines)
    except Exception as exc:  # noqa: BLE001 - best effort diagnostics
        return f"(no trace: {exc})"


class SignalingCrowd:
    """Many signaling-only participants (python-socketio clients, no media) in one room, on a private loop."""

    def __init__(self, base_url: str, room: str, count: int) -> None:
        self.base_url = base_url
        self.room = room
        self.count = count
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.clients: list[Any] = []

    async def _join(self, i: int) -> None:
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        await client.connect(self.base_url, auth={"name": f"Guest {i:02d}", "userId": f"crowd-{i}"},
                             socketio_path="socket.io", transports=["websocket"])
        ack = await client.call("video:join-room", {"roomId": self.room, "displayName": f"Guest {i:02d}",
                                                    "audio": False, "video": False}, timeout=10)
        assert ack.get("ok"), ack
        self.clients.append(client)

    async def _leave_all(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)

    def __enter__(self) -> SignalingCrowd:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._join_all(), self.loop).result(60)
        return self

    async def _join_all(self) -> None:
        for start in range(0, self.count, 8):  # a few at a time, gentle on a shared 2-core machine
            await asyncio.gather(*(self._join(i) for i in range(start, min(self.count, start + 8))))

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._leave_all(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
