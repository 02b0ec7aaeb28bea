"""End to end: the browser client in real headless Chromium against a real `python -m sfu`.

One server and one Chromium per module; each participant is its own browser context (own profile,
own fake camera and microphone). The tests run in file order and share the three-person call
(`trio`), so the whole module stays well under a minute of wall time on two cores.

Tests marked "media" need the SFU to carry audio and video; the others check only what signaling
carries (joining, tiles, mute state, chat, participants, leaving).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support import ServerProcess
from web_support import (
    ARTIFACTS,
    ROOT,
    debug_dump,
    inbound_audio,
    new_context,
    open_room,
    playing_videos,
    tiles,
    wait_until,
)

MEDIA_TIMEOUT = 20.0


@dataclass
class Member:
    name: str
    context: BrowserContext
    page: Page

    @property
    def participant_id(self) -> str:
        pid = self.page.evaluate("() => window.__sfuCall?.participantId ?? null")
        assert pid, f"{self.name} has no participant id"
        return str(pid)


@pytest.fixture(scope="module")
def room() -> str:
    return f"study-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def trio(browser: Browser, web_server: ServerProcess, room: str) -> Iterator[list[Member]]:
    """Three browsers in one call: Ada, Grace and Linus."""
    members: list[Member] = []
    try:
        for name in ("Ada", "Grace", "Linus"):
            context = new_context(browser)
            members.append(Member(name, context, open_room(context, web_server.url, room, name)))
        yield members
    finally:
        for m in members:
            m.context.close()


def remote_video_selector() -> str:
    return "[data-testid=tile][data-self=false] video"


def media_failure(member: Member, what: str) -> str:
    return (
        f"{what} on {member.name}'s page. The SFU has to carry media for this check.\n"
        f"--- client negotiation trace ---\n{debug_dump(member.page)}"
    )


# ---- pages that need no media ------------------------------------------------------------------


def test_home_page_leads_to_the_room_prejoin(browser: Browser, web_server: ServerProcess) -> None:
    context = new_context(browser)
    try:
        page = context.new_page()
        page.goto(web_server.url + "/")
        page.get_by_label("Room name").fill("Linear algebra 101")
        page.get_by_label("Your name").fill("Emmy")
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(f"{web_server.url}/r/Linear-algebra-101")
        expect(page.get_by_test_id("prejoin-room")).to_have_text("Linear-algebra-101")
        # Camera preview plays and the microphone meter is there.
        page.wait_for_selector("video[aria-label='Your camera preview']")
        assert wait_until(lambda: playing_videos(page, "video[aria-label='Your camera preview']"), 10, "preview plays")
        expect(page.get_by_role("meter", name="Microphone level")).to_be_visible()
        expect(page.get_by_role("combobox", name="Camera")).to_be_visible()
        expect(page.get_by_role("combobox", name="Microphone")).to_be_visible()
        # the toggles keep their names; their state is aria-pressed, and the preview never contradicts it
        camera = page.get_by_role("button", name="Camera", exact=True)
        expect(camera).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_role("button", name="Microphone", exact=True)).to_have_attribute("aria-pressed", "true")
        camera.click()
        expect(camera).to_have_attribute("aria-pressed", "false")
        expect(page.get_by_test_id("preview-status")).to_have_text("Your camera is off.")
        camera.click()
        expect(page.get_by_test_id("preview-status")).to_have_count(0, timeout=5000)
        # a favicon, as every browser asks for one
        icon = page.request.get(web_server.url + "/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon" and len(icon.body()) > 100
        # The room link is what the server serves too (a reload keeps us there).
        page.reload()
        expect(page.get_by_test_id("prejoin-room")).to_have_text("Linear-algebra-101")
    finally:
        context.close()


def test_three_join_and_everyone_has_three_tiles(trio: list[Member]) -> None:
    for m in trio:
        wait_until(lambda m=m: len(tiles(m.page)) == 3, 10, f"{m.name} sees 3 tiles")
        names = sorted(t["label"] for t in tiles(m.page))
        assert names == sorted(f"{x.name} (you)" if x is m else x.name for x in trio)
        own = [t for t in tiles(m.page) if t["self"]]
        assert len(own) == 1
        # Our own video is mirrored and muted; no <audio> ever plays our own voice.
        mirrored = m.page.eval_on_selector(
            "[data-testid=tile][data-self=true] video", "v => getComputedStyle(v).transform + '|' + v.muted"
        )
        assert mirrored.startswith("matrix(-1") and mirrored.endswith("|true")
        assert m.page.locator(f"[data-testid=remote-audio][data-participant-id='{m.participant_id}']").count() == 0


def test_controls_are_accessible_buttons_with_shortcuts(trio: list[Member]) -> None:
    page = trio[0].page
    bar = page.get_by_role("navigation", name="Call controls")
    buttons = bar.get_by_role("button")
    assert buttons.count() == 7
    for i in range(buttons.count()):
        b = buttons.nth(i)
        label = b.get_attribute("aria-label")
        title = b.get_attribute("title") or ""
        assert label and title.startswith(label) and title.endswith(")"), (label, title)


def test_mute_shows_on_the_others_within_two_seconds(trio: list[Member]) -> None:
    ada, grace, linus = trio
    ada_id = ada.participant_id
    mic = ada.page.get_by_role("button", name="Microphone", exact=True)
    expect(mic).to_have_attribute("aria-pressed", "true")
    mic.click()
    for other in (grace, linus):
        tile = other.page.locator(f"[data-testid=tile][data-participant-id='{ada_id}']")
        expect(tile).to_have_attribute("data-audio", "off", timeout=2000)
        expect(tile.get_by_role("img", name="Microphone muted")).to_be_visible(timeout=2000)
    expect(mic).to_have_attribute("aria-pressed", "false", timeout=2000)
    # Keyboard shortcut M unmutes again, and everyone agrees.
    ada.page.locator("body").press("m")
    for other in (grace, linus):
        tile = other.page.locator(f"[data-testid=tile][data-participant-id='{ada_id}']")
        expect(tile).to_have_attribute("data-audio", "on", timeout=2000)


def test_chat_message_appears_on_the_others_as_text(trio: list[Member]) -> None:
    ada, grace, linus = trio
    grace.page.get_by_role("button", name="Chat", exact=True).click()
    text = "<b>Hello</b> from Grace & co"
    grace.page.get_by_label("Message").fill(text)
    grace.page.get_by_label("Message").press("Enter")
    expect(grace.page.get_by_test_id("chat-text").last).to_have_text(text)
    for other in (ada, linus):
        # The chat button counts unread messages while the panel is closed.
        expect(other.page.get_by_test_id("unread-count")).to_have_text("1", timeout=3000)
        other.page.get_by_role("button", name="Chat, 1 unread").click()
        expect(other.page.get_by_test_id("chat-text").last).to_have_text(text)
        assert other.page.locator("[data-testid=chat-text] b").count() == 0  # rendered as text, never HTML
        other.page.get_by_role("button", name="Close chat").click()
    grace.page.get_by_role("button", name="Close chat").click()


def test_participants_panel_lists_everyone_with_media_state(trio: list[Member]) -> None:
    ada, grace, linus = trio
    linus.page.keyboard.press("p")
    panel = linus.page.get_by_test_id("participants-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("participant")).to_have_count(3)
    expect(panel).to_contain_text("Linus (you)")
    grace.page.get_by_role("button", name="Microphone", exact=True).click()
    expect(panel.locator(f"[data-participant-id='{grace.participant_id}']").get_by_role("img", name="Microphone muted")).to_be_visible(
        timeout=2000
    )
    grace.page.get_by_role("button", name="Microphone", exact=True).click()
    expect(grace.page.get_by_role("button", name="Microphone", exact=True)).to_have_attribute("aria-pressed", "true")
    linus.page.keyboard.press("p")
    expect(panel).to_be_hidden()


def test_tiles_keep_their_shape_and_the_bar_shows_labels(trio: list[Member]) -> None:
    page = trio[0].page
    ratios = "() => [...document.querySelectorAll('[data-testid=grid] [data-testid=tile]')].map(t => { const r = t.getBoundingClientRect(); return r.width / r.height; })"
    before = page.evaluate(ratios)
    page.keyboard.press("p")  # a side panel takes 340 px of the width
    expect(page.get_by_test_id("participants-panel")).to_be_visible()
    with_panel = page.evaluate(ratios)
    page.keyboard.press("p")
    assert len(before) == len(with_panel) == 3
    for ratio in before + with_panel:
        assert abs(ratio - 1.6) < 0.05, (before, with_panel)  # 16:10, not cropped to a strip
    # labels under the icons at a common width; a tooltip on hover/focus where there is no room
    bar = page.get_by_role("navigation", name="Call controls")
    for text in ("Mic on", "Camera on", "Share", "Chat", "Leave"):
        expect(bar.get_by_text(text, exact=True)).to_be_visible()
    page.set_viewport_size({"width": 500, "height": 800})
    try:
        expect(bar.get_by_text("Mic on", exact=True)).to_be_hidden()
        mic = bar.get_by_role("button", name="Microphone", exact=True)
        mic.hover()
        assert mic.evaluate("b => getComputedStyle(b, '::after').content") == '"Mic on"'
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_copying_the_room_link_says_it_worked(trio: list[Member], room: str) -> None:
    page = trio[1].page
    trio[1].context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status").filter(has_text="Link copied to the clipboard.")).to_be_visible(timeout=3000)
    assert page.evaluate("() => navigator.clipboard.readText()").endswith(f"/r/{room}")


# ---- media through the SFU -----------------------------------------------------------------------


def test_everyone_sees_two_playing_remote_videos(trio: list[Member]) -> None:
    for m in trio:
        try:
            wait_until(lambda m=m: len(playing_videos(m.page, remote_video_selector())) == 2, MEDIA_TIMEOUT, "2 remote videos play")
        except AssertionError as exc:
            raise AssertionError(media_failure(m, f"remote videos are not playing: {exc}")) from None
    # The fake microphones beep: someone gets the speaking highlight (video:active-speaker or RTP audio levels).
    for m in trio:
        wait_until(lambda m=m: m.page.locator("[data-testid=tile][data-speaking=true]").count() >= 1, 10, f"a speaker on {m.name}'s page")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "three-person-call.png"
    trio[0].page.screenshot(path=str(shot))
    # The README's screenshot: written when missing, refreshed on request (keeps `make test` from dirtying git).
    docs = ROOT / "docs" / "screenshot-call.png"
    if not docs.exists() or os.environ.get("SFU_UPDATE_SCREENSHOT") == "1":
        docs.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, docs)


def test_screen_share_takes_the_stage_and_leaves_it(trio: list[Member]) -> None:
    ada, grace, linus = trio
    share = linus.page.get_by_role("button", name="Share screen")
    share.click()
    expect(share).to_have_attribute("aria-pressed", "true", timeout=5000)
    stage = "[data-testid=screen-stage] video"
    for other in (ada, grace):
        try:
            wait_until(lambda other=other: len(playing_videos(other.page, stage)) == 1, MEDIA_TIMEOUT, "screen share plays on the stage")
        except AssertionError as exc:
            raise AssertionError(media_failure(other, f"the screen share is not playing: {exc}")) from None
        width = other.page.eval_on_selector(stage, "v => v.videoWidth")
        assert width >= 640  # the fake screen is 1280x720, not the 640x480 camera
    ARTIFACTS.mkdir(exist_ok=True)
    ada.page.screenshot(path=str(ARTIFACTS / "screen-share.png"))
    share.click()
    for other in (ada, grace):
        expect(other.page.get_by_test_id("screen-stage")).to_have_count(0, timeout=5000)
        # Back to the grid, still with two remote videos playing.
        wait_until(lambda other=other: len(playing_videos(other.page, remote_video_selector())) == 2, MEDIA_TIMEOUT, "grid videos play again")
    # A second share (the same transceiver, sending again) works too; this time stopped with the shortcut.
    linus.page.keyboard.press("s")
    try:
        wait_until(lambda: len(playing_videos(ada.page, stage)) == 1, MEDIA_TIMEOUT, "second screen share plays")
    except AssertionError as exc:
        raise AssertionError(media_failure(ada, f"the second screen share is not playing: {exc}")) from None
    linus.page.keyboard.press("s")
    expect(ada.page.get_by_test_id("screen-stage")).to_have_count(0, timeout=5000)


def test_listener_sees_and_hears_everyone(browser: Browser, web_server: ServerProcess, room: str, trio: list[Member]) -> None:
    context = new_context(browser)
    try:
        page = open_room(context, web_server.url, room, "Listener", listener=True)
        listener = Member("Listener", context, page)
        wait_until(lambda: len(tiles(page)) == 4, 10, "listener sees 4 tiles (3 people + self)")
        expect(page.get_by_role("button", name="Share screen")).to_be_disabled()
        try:
            wait_until(lambda: len(playing_videos(page, remote_video_selector())) == 3, MEDIA_TIMEOUT, "3 remote videos play")
        except AssertionError as exc:
            raise AssertionError(media_failure(listener, f"the listener does not see everyone: {exc}")) from None
        ids = {m.participant_id for m in trio}
        # Hearing: one <audio> per publisher, and audio packets from each keep arriving.
        expect(page.get_by_test_id("remote-audio")).to_have_count(3, timeout=5000)
        first = wait_until(lambda: (a := inbound_audio(page)) and set(a) >= ids and a, MEDIA_TIMEOUT, "audio from all 3")
        wait_until(lambda: all(inbound_audio(page).get(pid, 0) > first[pid] for pid in ids), 5, "audio keeps arriving")
        # The others see the listener's tile, with its microphone and camera off.
        lid = listener.participant_id
        for m in trio:
            tile = m.page.locator(f"[data-testid=tile][data-participant-id='{lid}']")
            expect(tile).to_have_attribute("data-video", "off", timeout=5000)
            expect(tile).to_have_attribute("data-audio", "off")
    finally:
        context.close()


def test_camera_off_shows_initials_and_on_brings_video_back(trio: list[Member]) -> None:
    ada, grace, linus = trio
    grace_id = grace.participant_id
    grace.page.get_by_role("button", name="Camera", exact=True).click()
    for other in (ada, linus):
        tile = other.page.locator(f"[data-testid=tile][data-participant-id='{grace_id}']")
        expect(tile).to_have_attribute("data-video", "off", timeout=2000)
        expect(tile.locator("video")).to_have_count(0)
        expect(tile).to_contain_text("G")
    # The camera is really off on Grace's side (its track stopped), not just hidden.
    assert grace.page.evaluate("() => window.__sfuCall.localTracks.camera") is None
    grace.page.keyboard.press("v")
    selector = f"[data-testid=tile][data-participant-id='{grace_id}'] video"
    for other in (ada, linus):
        try:
            wait_until(lambda other=other: len(playing_videos(other.page, selector)) == 1, MEDIA_TIMEOUT, "Grace's video is back")
        except AssertionError as exc:
            raise AssertionError(media_failure(other, f"video did not resume: {exc}")) from None


def test_settings_show_connection_and_per_track_stats(trio: list[Member]) -> None:
    page = trio[0].page
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("connection-state")).to_have_text("connected", timeout=5000)
    expect(dialog.get_by_label("Camera", exact=True)).to_be_visible()
    rows = dialog.get_by_test_id("stats-row")
    # 2 others x (audio + camera); bitrate appears from the second sample on.
    wait_until(lambda: rows.count() >= 4, 5, "4 received tracks listed")
    expect(rows.filter(has_text="Grace").filter(has_text="camera")).to_have_count(1)
    wait_until(lambda: any(" 0 kbit/s" not in t for t in rows.all_inner_texts()), 5, "a non-zero bitrate")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_dropped_connection_reconnects_and_rejoins(trio: list[Member]) -> None:
    ada, grace, linus = trio
    old_id = linus.participant_id
    # Kill the Socket.IO transport under the page, as a network drop would.
    linus.page.evaluate("() => window.__sfuCall.socket.io.engine.close()")
    expect(linus.page.get_by_test_id("reconnecting-banner")).to_be_visible(timeout=3000)
    linus.page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=15_000)
    new_id = wait_until(lambda: (pid := linus.participant_id) != old_id and pid, 10, "Linus has a new session")
    selector = f"[data-testid=tile][data-participant-id='{new_id}'] video"
    for other in (ada, grace):
        expect(other.page.locator(f"[data-testid=tile][data-participant-id='{old_id}']")).to_have_count(0, timeout=10_000)
        try:
            wait_until(lambda other=other: len(playing_videos(other.page, selector)) == 1, MEDIA_TIMEOUT, "Linus's video is back")
        except AssertionError as exc:
            raise AssertionError(media_failure(other, f"no video after Linus reconnected: {exc}")) from None
    wait_until(lambda: len(playing_videos(linus.page, remote_video_selector())) == 2, MEDIA_TIMEOUT, "Linus sees both again")


def test_joining_with_camera_off_then_turning_it_on(browser: Browser, web_server: ServerProcess, room: str, trio: list[Member]) -> None:
    ada = trio[0]
    context = new_context(browser)
    try:
        page = open_room(context, web_server.url, room, "Shy", camera_off=True, mic_muted=True)
        shy = Member("Shy", context, page)
        shy_id = shy.participant_id
        tile = ada.page.locator(f"[data-testid=tile][data-participant-id='{shy_id}']")
        expect(tile).to_have_attribute("data-video", "off", timeout=5000)
        expect(tile).to_have_attribute("data-audio", "off")
        expect(page.get_by_role("button", name="Microphone", exact=True)).to_have_attribute("aria-pressed", "false")
        # Chat history arrives on join.
        page.get_by_role("button", name="Chat", exact=True).click()
        expect(page.get_by_test_id("chat-text").first).to_have_text("<b>Hello</b> from Grace & co")
        # Turning the camera on adds a track: a client re-offer.
        page.get_by_role("button", name="Camera", exact=True).click()
        # "on" shows once Ada has the track: a re-offer and a server offer later (slow on a loaded machine)
        expect(tile).to_have_attribute("data-video", "on", timeout=MEDIA_TIMEOUT * 1000)
        selector = f"[data-testid=tile][data-participant-id='{shy_id}'] video"
        try:
            wait_until(lambda: len(playing_videos(ada.page, selector)) == 1, MEDIA_TIMEOUT, "Shy's video plays")
        except AssertionError as exc:
            raise AssertionError(media_failure(ada, f"the late camera does not play: {exc}")) from None
    finally:
        context.close()


def test_leaving_removes_the_tile_everywhere(trio: list[Member], web_server: ServerProcess) -> None:
    ada, grace, linus = trio
    grace_id = grace.participant_id
    grace.page.get_by_role("button", name="Leave call").click()
    expect(grace.page.get_by_role("status").filter(has_text="You left the call.")).to_be_visible(timeout=5000)
    for other in (ada, linus):
        expect(other.page.locator(f"[data-testid=tile][data-participant-id='{grace_id}']")).to_have_count(0, timeout=5000)
        wait_until(lambda other=other: len(tiles(other.page)) == 2, 5, "2 tiles left")
    # an ordinary leave is not a warning in the server's log
    assert "connection_failed" not in web_server.log() and "level=warning logger=sfu.participant" not in web_server.log()
