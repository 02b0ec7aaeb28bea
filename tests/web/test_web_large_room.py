"""Large rooms through the web client in real Chromium: views, simulcast layers, dynacast, last-N pages,
the loudest speaker's audio, paused videos, and ICE restarts.

Judged by what a viewer sees (`getStats` inbound-rtp `frameWidth`, `framesDecoded`, `freezeCount`,
`packetsReceived`) and what a publisher sends (outbound-rtp bytes per rid). Two rooms:

- "views": Alice publishes her fake 1280x720 camera as simulcast through the call page; Bob watches with
  his camera off; five signaling-only members fill the grid so that paging can hide Alice. Bob's tile of
  Alice is made small (a narrow window), large (a wide window at devicePixelRatio 2) and hidden (the next
  page of tiles); Alice's page drops and restores her top layer as Bob's view needs it.
- "twenty": one Chromium page, 11 aiortc publishers (identity clips, receive slots, one of them loud) and
  8 members without media, on a server forwarding the last 4 videos and the 3 loudest microphones.

Timings are bounded with room for this shared 2-core machine; the measured figures are printed.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support import ROOT, ServerProcess, run_server
from web_support import SignalingCrowd, debug_dump, new_context, open_room, playing_videos, wait_until

sys.path.insert(0, str(ROOT / "tests" / "sfu"))
from sfu_client import SfuClient  # noqa: E402

from benchmarks.clip import load_clip  # noqa: E402
from sfu.config import Settings  # noqa: E402
from sfu.ice import install_ice_policy  # noqa: E402

install_ice_policy(Settings(ice_hosts=("127.0.0.1",)))  # the aiortc publishers' own ICE on 127.0.0.1

SMALL = {"width": 500, "height": 700, "deviceScaleFactor": 1, "mobile": False}
LARGE = {"width": 1600, "height": 1000, "deviceScaleFactor": 2, "mobile": False}


@dataclass
class Person:
    name: str
    context: BrowserContext
    page: Page

    @property
    def pid(self) -> str:
        return str(self.page.evaluate("() => window.__sfuCall.participantId"))


def video_of(page: Page, pid: str) -> dict[str, Any]:
    """Inbound video from `pid` as the page receives it (through its receive slot); zeros when none."""
    stats = page.evaluate("async () => window.__sfuCall.inboundStats()")
    for s in stats:
        if s["kind"] == "video" and s["participantId"] == pid and s["source"] == "camera":
            return s
    return {"frameWidth": 0, "framesDecoded": 0, "packetsReceived": 0, "freezeCount": 0, "mid": None}


def slot_stats(page: Page, mid: str) -> dict[str, Any]:
    """Counters of one receive slot, whoever it carries now (or nobody)."""
    stats = page.evaluate("async () => window.__sfuCall.inboundStats({allSlots: true})")
    return next(s for s in stats if s["mid"] == mid and s["kind"] == "video")


def outbound_bytes(page: Page, rid: str) -> int:
    rows = page.evaluate("async () => window.__sfuCall.outboundStats()")
    return next((int(r["bytesSent"]) for r in rows if r["rid"] == rid), 0)


def timed(predicate: Any, timeout: float, message: str, interval: float = 0.1) -> float:
    """Seconds until `predicate()` held (AssertionError with `message` at the deadline)."""
    started = time.monotonic()
    wait_until(predicate, timeout, message, interval)
    return time.monotonic() - started


def emulate(page: Page, metrics: dict[str, Any]) -> None:
    """Window size and devicePixelRatio, as a HiDPI screen or a resized window would give them."""
    page.context.new_cdp_session(page).send("Emulation.setDeviceMetricsOverride", metrics)


def failure(page: Page, what: str) -> str:
    return f"{what}\n--- client trace ---\n{debug_dump(page)}"


# ---- the "views" room ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(web_build: None) -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO"]) as process:
        yield process


@pytest.fixture(scope="module")
def views(browser: Browser, server: ServerProcess) -> Iterator[tuple[Person, Person]]:
    """Alice (simulcast camera, muted: never the dominant speaker) and Bob (camera off, muted), plus five
    signaling-only members who joined after Alice: Bob's first page at 500 px shows Alice, his second not."""
    room = f"views-{uuid.uuid4().hex[:8]}"
    people: list[Person] = []
    try:
        alice_ctx = new_context(browser)
        alice = Person("Alice", alice_ctx, open_room(alice_ctx, server.url, room, "Alice", mic_muted=True))
        people.append(alice)
        # a busy test machine must not make Chromium shrink the layers (the sizes are what is checked)
        assert alice.page.evaluate("() => window.__sfuCall.setDegradationPreference('maintain-resolution')")
        with SignalingCrowd(server.url, room, 5):
            bob_ctx = browser.new_context(permissions=["camera", "microphone"], viewport={"width": 500, "height": 700})
            bob = Person("Bob", bob_ctx, open_room(bob_ctx, server.url, room, "Bob", camera_off=True, mic_muted=True))
            people.append(bob)
            try:
                wait_until(lambda: video_of(bob.page, alice.pid)["framesDecoded"] > 10, 30, "Bob decodes Alice")
            except AssertionError as exc:
                raise AssertionError(failure(bob.page, str(exc))) from None
            yield alice, bob
    finally:
        for p in people:
            p.context.close()


@dataclass
class Switch:
    seconds: float  # until the page decoded the new layer
    stall_ms: float  # the longest time without a newly decoded frame, from the request to 1 s after
    freezes: int  # Chromium's freezeCount growth over the same window
    paused: bool  # the server paused this video for bandwidth meanwhile (its budget, not the switch)

    @property
    def clean(self) -> bool:
        return not self.paused


def trace_length(page: Page) -> int:
    return int(page.evaluate("() => window.__sfuCall.log.length"))


def paused_since(page: Page, mark: int, pid: str) -> bool:
    """Did the server say `paused-bandwidth` for `pid`'s camera since trace line `mark`? (The trace keeps
    its last 300 lines; a test window is far shorter.)"""
    lines = page.evaluate("(mark) => window.__sfuCall.log.slice(mark)", mark)
    return any(line.split(" ", 1)[1].startswith("forwarding") and f"{pid[:4]}:camera:paused-bandwidth" in line
               for line in lines)


FRAME_LOG_JS = """(pid) => {
  // Every frame the tile of `pid` presents (requestVideoFrameCallback), whichever <video> it has now.
  const log = (window.__frameTimes = []);
  let current = null;
  const hook = () => {
    const v = document.querySelector(`[data-testid=tile][data-participant-id='${pid}'] video`);
    if (v && v !== current) {
      current = v;
      const onFrame = (now) => {
        if (current !== v) return;
        log.push(now);
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    }
    setTimeout(hook, 100);
  };
  hook();
}"""

LONGEST_GAP_JS = """([t0, t1]) => {
  const times = window.__frameTimes;
  let last = null;
  let longest = 0;
  for (const t of times) {
    if (t < t0) { last = t; continue; }
    if (t > t1) break;
    if (last !== null) longest = Math.max(longest, t - last);
    last = t;
  }
  if (last !== null) longest = Math.max(longest, Math.min(t1, performance.now()) - last);
  return longest;
}"""


def watch_switch(page: Page, pid: str, done: Any, timeout: float) -> Switch:
    """Wait for the page's video of `pid` to change layer; the stall is measured from the frames the tile
    presented (not from this loop's polling, which a busy machine slows down)."""
    mark = trace_length(page)
    first = video_of(page, pid)
    t0 = float(page.evaluate("() => performance.now()"))
    started = time.monotonic()
    while not done(s := video_of(page, pid)):
        if time.monotonic() - started > timeout:
            raise AssertionError(failure(page, f"no layer switch within {timeout}s: {s}"))
        time.sleep(0.08)
    seconds = time.monotonic() - started
    t_switch = float(page.evaluate("() => performance.now()"))
    time.sleep(1.0)
    stall = float(page.evaluate(LONGEST_GAP_JS, [t0, t_switch + 1000]))
    s = video_of(page, pid)
    return Switch(seconds, stall, s["freezeCount"] - first["freezeCount"], paused_since(page, mark, pid))


def test_the_layer_follows_the_tile_small_large_hidden(views: tuple[Person, Person]) -> None:
    alice, bob = views
    aid = alice.pid
    tile = bob.page.locator(f"[data-testid=tile][data-participant-id='{aid}']")
    expect(tile).to_have_attribute("data-frame", "shown", timeout=10_000)
    # small: a 500 px window, six tiles a page: about 200x125 CSS px, so the quarter layer (320x180)
    try:
        wait_until(lambda: 0 < video_of(bob.page, aid)["frameWidth"] <= 320, 15, "Alice small on Bob's page")
    except AssertionError as exc:
        raise AssertionError(failure(bob.page, str(exc))) from None
    view = bob.page.evaluate("() => window.__sfuCall.currentView")
    alice_tile = next(t for t in view if t["participantId"] == aid)
    assert alice_tile["width"] <= 320 and alice_tile["height"] <= 180, view
    bob.page.evaluate(FRAME_LOG_JS, aid)
    # how often this machine freezes a steady video anyway (a loaded 2-core VM: Chromium starves)
    steady0 = video_of(bob.page, aid)["freezeCount"]
    time.sleep(4.0)
    steady = video_of(bob.page, aid)["freezeCount"] - steady0

    # Large (a 1600x1000 window at devicePixelRatio 2: about 850x530 device px, so the full layer), then
    # small again. A switch happens at a keyframe of the new layer with the old one playing until then, so
    # it shows no stall. On this loaded machine Chromium's REMB sometimes makes the server pause even one
    # small video for a moment (`paused-bandwidth`, shown as such); a cycle where that happened says nothing
    # about switching, so it is repeated (at most three cycles).
    cycles: list[tuple[Switch, Switch]] = []
    for _ in range(3):
        emulate(bob.page, LARGE)
        up = watch_switch(bob.page, aid, lambda s: s["frameWidth"] >= 1000, 30)
        view = bob.page.evaluate("() => window.__sfuCall.currentView")
        assert next(t for t in view if t["participantId"] == aid)["width"] > 640, view
        time.sleep(1.0)
        emulate(bob.page, SMALL)
        down = watch_switch(bob.page, aid, lambda s: 0 < s["frameWidth"] <= 320, 10)
        cycles.append((up, down))
        print(f"\nlayer switches on Bob's page: up {up.seconds:.2f}s (longest stall {up.stall_ms:.0f} ms, "
              f"{up.freezes} freezes{', paused meanwhile' if up.paused else ''}), down {down.seconds:.2f}s "
              f"({down.stall_ms:.0f} ms, {down.freezes} freezes{', paused meanwhile' if down.paused else ''}); "
              f"steady video: {steady} freezes in 4 s")
        if up.clean and down.clean:
            break
        time.sleep(2.0)
    up, down = cycles[-1]
    assert up.clean and down.clean, f"the server paused Alice for bandwidth in every cycle: {cycles}"
    assert up.seconds < 10 and down.seconds < 3, (up, down)
    assert up.stall_ms < 500 and down.stall_ms < 500, (up, down)
    # Chromium's own freeze count over the switches: no more than this machine's steady rate gives anyway
    window = up.seconds + down.seconds + 2.0
    assert up.freezes + down.freezes <= steady * window / 4.0 + 1, (up, down, steady)

    # hidden: the next page of tiles holds only a member without a camera; Alice's slot goes quiet
    mid = video_of(bob.page, aid)["mid"]
    assert mid is not None
    bob.page.get_by_role("button", name="Next page").click()
    expect(tile).to_have_count(0)
    hide_s = timed(lambda: video_of(bob.page, aid)["mid"] is None, 5, "Alice leaves Bob's slots")
    time.sleep(0.5)  # packets already on their way
    before = slot_stats(bob.page, mid)["packetsReceived"]
    time.sleep(2.0)
    after = slot_stats(bob.page, mid)["packetsReceived"]
    assert after == before, f"slot {mid} still receives while Alice is hidden: {before} -> {after}"
    # back on the first page: Alice's video again from a fresh frame, her initials until then
    bob.page.evaluate("""(aid) => {
      window.__tileLog = [];
      const note = () => {
        const t = document.querySelector(`[data-testid=tile][data-participant-id='${aid}']`);
        const state = t ? (t.dataset.frame ?? 'initials') : 'absent';
        if (window.__tileLog.at(-1) !== state) window.__tileLog.push(state);
      };
      new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                          attributeFilter: ['data-frame']});
    }""", aid)
    bob.page.get_by_role("button", name="Previous page").click()
    back_s = timed(lambda: bob.page.locator(f"[data-testid=tile][data-participant-id='{aid}'][data-frame=shown]").count() == 1,
                   10, "Alice's tile shows video again")
    log = bob.page.evaluate("() => window.__tileLog")
    assert log[0] in ("initials", "waiting") and log[-1] == "shown" and "waiting" in log, log
    print(f"hidden after {hide_s:.1f}s (slot {mid} silent at {before} packets); shown again after {back_s:.1f}s: {log}")


def test_a_layer_nobody_needs_stops_at_the_publisher_and_returns(views: tuple[Person, Person]) -> None:
    alice, bob = views

    def grows(rid: str) -> bool:
        before = outbound_bytes(alice.page, rid)
        time.sleep(0.3)
        return outbound_bytes(alice.page, rid) > before

    def still(rid: str) -> bool:
        before = outbound_bytes(alice.page, rid)
        time.sleep(0.5)
        return outbound_bytes(alice.page, rid) == before

    emulate(bob.page, LARGE)
    timed(lambda: grows("f"), 20, "Alice sends her top layer while Bob shows her large")
    emulate(bob.page, SMALL)  # every subscriber (Bob is the only one) shows Alice small
    try:
        stopped = timed(lambda: still("f"), 10, "Alice's top layer stops", interval=0)
    except AssertionError as exc:
        raise AssertionError(failure(alice.page, str(exc))) from None
    layers = alice.page.evaluate("() => window.__sfuCall.publishedCameraLayers")
    assert layers is not None and "f" not in layers, layers
    emulate(bob.page, LARGE)
    resumed = timed(lambda: grows("f"), 10, "Alice's top layer is back", interval=0)
    print(f"\ndynacast: rid f stopped {stopped:.1f}s after the small view, back {resumed:.1f}s after the large one")
    assert stopped < 3.5, stopped  # 1 s unneeded, the next plan, setParameters, plus this machine
    assert resumed < 2.5, resumed
    emulate(bob.page, SMALL)


def test_a_video_paused_for_bandwidth_shows_the_avatar_with_a_mark(views: tuple[Person, Person], server: ServerProcess) -> None:
    """The page's rendering of `paused-bandwidth` in Chromium. A real Chromium downlink cannot be squeezed
    here (no netem, no fake-network field trials, and Chromium's REMB follows what it receives), so the
    server's event is handed to the page's own Socket.IO handler; the server side of pausing is
    tests/sfu/test_simulcast.py (an aiortc subscriber sending a low REMB)."""
    alice, bob = views
    aid = alice.pid
    room = bob.page.evaluate("() => window.__sfuCall.roomId")
    tile = bob.page.locator(f"[data-testid=tile][data-participant-id='{aid}']")
    expect(tile).to_have_attribute("data-frame", "shown", timeout=10_000)
    say = """([room, videos]) => window.__sfuCall.socket.listeners('video:forwarding').forEach(f => f({roomId: room, videos}))"""
    bob.page.evaluate(say, [room, [{"participantId": aid, "source": "camera", "state": "paused-bandwidth"}]])
    expect(tile.get_by_test_id("paused-bandwidth")).to_be_visible(timeout=2000)
    expect(tile.get_by_role("img", name="Video paused to save bandwidth")).to_be_visible()
    expect(tile.locator("video")).to_have_count(0)  # the avatar, not a frozen frame
    expect(tile.get_by_test_id("avatar")).to_contain_text("A")
    assert tile.get_by_test_id("media-failed").count() == 0
    bob.page.evaluate(say, [room, [{"participantId": aid, "source": "camera", "state": "forwarded", "width": 320,
                                    "height": 180, "layer": 0}]])
    expect(tile.get_by_test_id("paused-bandwidth")).to_have_count(0, timeout=2000)
    expect(tile).to_have_attribute("data-frame", "shown", timeout=10_000)  # a frame received after the resume


def test_ice_restart_keeps_the_call_and_the_room(views: tuple[Person, Person]) -> None:
    alice, bob = views
    aid = alice.pid
    before = alice.page.evaluate("async () => window.__sfuCall.transportInfo()")
    assert before["iceState"] in ("connected", "completed") and before["pair"], before
    frames = video_of(bob.page, aid)["framesDecoded"]
    started = time.monotonic()
    assert alice.page.evaluate("() => window.__sfuCall.restartIce()")

    def restarted() -> Any:
        info = alice.page.evaluate("async () => window.__sfuCall.transportInfo()")
        ok = info["ufrag"] != before["ufrag"] and info["pair"] and info["pair"] != before["pair"] \
            and info["iceState"] in ("connected", "completed")
        return info if ok else None

    try:
        after = wait_until(restarted, 15, "a new ICE session with a new candidate pair")
    except AssertionError as exc:
        raise AssertionError(failure(alice.page, str(exc))) from None
    reconnected = time.monotonic() - started
    wait_until(lambda: video_of(bob.page, aid)["framesDecoded"] > frames + 20, 15, "Bob still decodes Alice")
    counters = alice.page.evaluate("() => window.__sfuCall.recoveryCounters")
    assert counters == {"peerConnections": 1, "iceRestarts": 1}, counters  # same connection, no fallback
    assert alice.pid == aid and bob.page.locator(f"[data-testid=tile][data-participant-id='{aid}']").count() == 1
    assert alice.page.get_by_test_id("call-page").get_attribute("data-status") == "joined"
    print(f"\nICE restart: pair {before['pair']} -> {after['pair']}, connected again after {reconnected:.2f}s")


# ---- twenty people, last 4 videos -----------------------------------------------------------------------


class AiortcCrowd:
    """aiortc publishers on a private event loop: receive slots (one audio slot, no video slot, so they
    decode almost nothing), identity clips, silent audio levels unless made loud."""

    def __init__(self, url: str, room: str, count: int) -> None:
        self.url, self.room, self.count = url, room, count
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.clients: list[SfuClient] = []

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _join(self, i: int) -> None:
        client = SfuClient(self.url, self.room, f"pub{i:02d}", clip=load_clip("300k", identity=1 + i % 7), slots=True)
        client.audio_level = 127  # silent
        await client.connect()
        await client.join(offer=False)
        client.media = {"audioSlots": 1, "videoSlots": 0}
        await client.offer_initial()
        self.clients.append(client)

    async def _join_all(self) -> None:
        for start in range(0, self.count, 4):  # a few at a time: gentle on a shared 2-core machine
            await asyncio.gather(*(self._join(i) for i in range(start, min(self.count, start + 4))))

    async def _close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)

    def __enter__(self) -> AiortcCrowd:
        self.thread.start()
        self.run(self._join_all(), timeout=180)
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.run(self._close_all(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture(scope="module")
def last4_server(web_build: None) -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO", "--last-n", "4", "--audio-last-n", "3"]) as process:
        yield process


@pytest.mark.timeout(420)
def test_twenty_people_show_at_most_last_n_videos_with_the_speaker_playing_and_heard(
    browser: Browser, last4_server: ServerProcess
) -> None:
    room = f"twenty-{uuid.uuid4().hex[:8]}"
    context = new_context(browser)  # 1280x800: 16 tiles would fit a page
    try:
        page = open_room(context, last4_server.url, room, "Vera", camera_off=True, mic_muted=True)
        assert page.evaluate("() => window.__sfuCall.receiveMode") == "slots"
        joined = time.monotonic()
        # 11 aiortc publishers (camera and microphone) and 8 members without media: more cameras than the
        # server sends (4), and a room of 20 on a machine where 19 media clients would starve one process
        with AiortcCrowd(last4_server.url, room, 11) as crowd, SignalingCrowd(last4_server.url, room, 8):
            join_s = time.monotonic() - joined
            expect(page.get_by_test_id("participant-count")).to_have_text("20 in call", timeout=20_000)
            ids = [c.pid for c in crowd.clients]
            remote_videos = "[data-testid=tile][data-self=false] video"
            # a page never holds more remote cameras than the server sends
            wait_until(lambda: len(playing_videos(page, remote_videos)) >= 1, 30, "remote videos play")
            for _ in range(3):
                on = page.locator("[data-testid=tile][data-self=false][data-video=on]").count()
                assert on <= 4 and len(playing_videos(page, remote_videos)) <= 4, on
                time.sleep(0.5)
            assert page.get_by_role("navigation", name="Pages of participants").count() == 1
            # joins cost the page no renegotiation: its slots were declared once
            assert page.evaluate("() => window.__sfuCall.negotiationCounters.serverOffers") == 0

            # one of the last joiners speaks: the dominant speaker, on the first page, playing and heard
            loud = crowd.clients[-1]
            loud.audio_level = 10
            speaker = f"[data-testid=tile][data-participant-id='{loud.pid}']"
            try:
                spoke_s = timed(lambda: page.locator(f"{speaker}[data-speaking=true]").count() == 1, 20,
                                "the loud publisher's tile is the speaker's")
                play_s = timed(lambda: len(playing_videos(page, f"{speaker} video")) == 1, 20, "the speaker's video plays")
            except AssertionError as exc:
                raise AssertionError(failure(page, str(exc))) from None

            def audio_packets() -> int:
                stats = page.evaluate("async () => window.__sfuCall.inboundStats()")
                return sum(s["packetsReceived"] for s in stats if s["kind"] == "audio" and s["participantId"] == loud.pid)

            first = wait_until(audio_packets, 10, "the loudest's audio arrives")
            wait_until(lambda: audio_packets() > first + 20, 5, "the loudest's audio keeps arriving")
            heard = page.locator(f"[data-testid=remote-audio][data-participant-id='{loud.pid}']")
            expect(heard).to_have_count(1)
            assert page.locator("[data-testid=remote-audio]").count() <= 3  # audio-last-n 3: three audio slots
            on = page.locator("[data-testid=tile][data-self=false][data-video=on]").count()
            assert on <= 4 and len(playing_videos(page, remote_videos)) <= 4, on
            print(f"\n11 aiortc publishers and 8 members without media joined in {join_s:.1f}s; the loud one was the speaker after {spoke_s:.1f}s "
                  f"and its video played {play_s:.1f}s later; {on} remote videos on the page")
            assert loud.pid in ids
    finally:
        context.close()
