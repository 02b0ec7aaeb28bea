"""Helpers for the browser-client tests: building web/, launching Chromium, driving the call page."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
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


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for base in paths:
        if base.is_file():
            newest = max(newest, base.stat().st_mtime)
        elif base.is_dir():
            for p in base.rglob("*"):
                if p.is_file():
                    newest = max(newest, p.stat().st_mtime)
    return newest


def ensure_web_build() -> None:
    sources = [WEB / "src", WEB / "index.html", WEB / "package.json", WEB / "vite.config.ts"]
    if BUILD_INDEX.is_file() and BUILD_INDEX.stat().st_mtime >= _newest_mtime(sources):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the web client is not built and npm is missing (install Node 20.19+ with npm)")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)


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
        page.wait_for_function("() => !document.querySelector('button[aria-label*=microphone]').disabled")
        if camera_off:
            page.get_by_role("button", name="Join with camera off").click()
        if mic_muted:
            page.get_by_role("button", name="Join with microphone muted").click()
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
