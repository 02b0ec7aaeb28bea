"""Joining before the devices are ready, or without any: the call still works, and the devices can come later.

Real headless Chromium with its fake camera and microphone against a real server. To model a slow or an
absent device, each page's `getUserMedia` is wrapped by an init script (`window.__gum`): it can wait
before asking Chromium for the real fake device, or refuse with `NotFoundError` as a machine without a
camera or microphone does. Whether sound arrives is judged by the listener's `totalAudioEnergy` growing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support import ServerProcess
from web_support import debug_dump, hears, new_context, open_room, playing_videos, wait_until

GUM_WRAPPER = """(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const real = devices.getUserMedia.bind(devices);
  window.__gum = { delayMs: %(delay)d, deny: %(deny)s };
  devices.getUserMedia = async (constraints) => {
    const cfg = window.__gum;
    if (cfg.delayMs) await new Promise((r) => setTimeout(r, cfg.delayMs));
    if (cfg.deny) throw new DOMException("Requested device not found", "NotFoundError");
    return real(constraints);
  };
})();"""


@pytest.fixture()
def room() -> str:
    return f"join-{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def wrapped_page(browser: Browser, contexts: list[BrowserContext], delay_ms: int, deny: bool) -> Page:
    context = new_context(browser)
    contexts.append(context)
    context.add_init_script(GUM_WRAPPER % {"delay": delay_ms, "deny": "true" if deny else "false"})
    return context.new_page()


def pid_of(page: Page) -> str:
    return str(page.evaluate("() => window.__sfuCall.participantId"))


def test_join_clicked_at_once_waits_for_the_devices_and_the_mic_is_heard(
    browser: Browser, web_server: ServerProcess, room: str, contexts: list[BrowserContext]
) -> None:
    hearer_context = new_context(browser)
    contexts.append(hearer_context)
    hearer = open_room(hearer_context, web_server.url, room, "Hearer")
    page = wrapped_page(browser, contexts, delay_ms=1500, deny=False)
    page.goto(f"{web_server.url}/r/{room}")
    page.get_by_label("Your name").fill("Quick")
    page.get_by_role("button", name="Join", exact=True).click()  # long before the microphone is there
    expect(page.get_by_test_id("join-waiting")).to_have_text("Waiting for your microphone and camera…")
    page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=15_000)
    mic = page.get_by_role("button", name="Microphone", exact=True)
    expect(mic).to_be_enabled()
    expect(mic).to_have_attribute("aria-pressed", "true")
    quick = pid_of(page)
    try:
        hears(hearer, quick)
        mic.click()  # mute, then unmute: still heard
        expect(mic).to_have_attribute("aria-pressed", "false")
        mic.click()
        expect(mic).to_have_attribute("aria-pressed", "true")
        hears(hearer, quick)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{debug_dump(page)}") from None
    selector = f"[data-testid=tile][data-participant-id='{quick}'] video"
    wait_until(lambda: len(playing_videos(hearer, selector)) == 1, 20, "the quick joiner's camera plays")


def test_joined_without_devices_receives_everyone_then_turns_them_on(
    browser: Browser, web_server: ServerProcess, room: str, contexts: list[BrowserContext]
) -> None:
    host_context = new_context(browser)
    contexts.append(host_context)
    host = open_room(host_context, web_server.url, room, "Host")
    host_id = pid_of(host)
    page = wrapped_page(browser, contexts, delay_ms=0, deny=True)
    page.goto(f"{web_server.url}/r/{room}")
    page.get_by_label("Your name").fill("Deviceless")
    expect(page.get_by_role("button", name="Camera", exact=True)).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="Join", exact=True).click()
    page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="You joined without your microphone")).to_be_visible()
    me = pid_of(page)
    # it sends nothing, yet receives the others as a listener does
    try:
        wait_until(lambda: len(playing_videos(page, "[data-testid=tile][data-self=false] video")) == 1, 20,
                   "the host's video plays on the deviceless page")
        hears(page, host_id)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{debug_dump(page)}") from None
    tile = host.locator(f"[data-testid=tile][data-participant-id='{me}']")
    expect(tile).to_have_attribute("data-audio", "off")
    expect(tile).to_have_attribute("data-video", "off")
    expect(tile).to_have_attribute("data-media", "connected", timeout=10_000)
    # the devices appear: the page asks for them when the buttons are pressed, and re-offers
    page.evaluate("() => { window.__gum.deny = false; }")
    page.get_by_role("button", name="Microphone", exact=True).click()
    expect(page.get_by_role("button", name="Microphone", exact=True)).to_have_attribute("aria-pressed", "true", timeout=10_000)
    expect(tile).to_have_attribute("data-audio", "on", timeout=5000)
    hears(host, me)
    page.get_by_role("button", name="Camera", exact=True).click()
    expect(tile).to_have_attribute("data-video", "on", timeout=10_000)
    wait_until(lambda: len(playing_videos(host, f"[data-testid=tile][data-participant-id='{me}'] video")) == 1, 20,
               "the late camera plays on the host's page")
