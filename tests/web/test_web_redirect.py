"""Two server processes on one Redis: a browser that opens an SFU room on the wrong process follows the
server's `redirect` to the process that owns the room, and the call works there. A redirect to another
host is followed only when the server that served the page lists that origin (`--redirect-origins`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
from support import ServerProcess, free_port, run_server
from web_support import new_context, open_room, playing_videos, wait_until

REMOTE_VIDEOS = "[data-testid=tile][data-self=false] video"


@pytest.fixture(scope="module")
def two_processes(web_build: None, redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    prefix = f"test-web-redirect-{uuid.uuid4().hex[:8]}:"
    common = ["--redis-url", redis_url, "--redis-prefix", prefix, "--log-level", "WARNING"]
    with run_server(common) as first, run_server(common) as second:
        yield first, second


def test_browser_follows_the_redirect_to_the_rooms_process(
    browser: Browser, two_processes: tuple[ServerProcess, ServerProcess]
) -> None:
    owner, other = two_processes
    room = f"redirect-{uuid.uuid4().hex[:6]}"
    first_context, second_context = new_context(browser), new_context(browser)
    try:
        ada = open_room(first_context, owner.url, room, "Ada")
        grace = open_room(second_context, other.url, room, "Grace")  # opened on the other process
        log = grace.evaluate("() => window.__sfuCall.log.join('\\n')")
        assert f"room served at {owner.url}" in log, log
        for page in (ada, grace):
            assert wait_until(lambda p=page: len(playing_videos(p, REMOTE_VIDEOS)) == 1, 20, "remote video plays")
    finally:
        first_context.close()
        second_context.close()


@pytest.fixture(scope="module")
def other_host(web_build: None, redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess, ServerProcess]]:
    """An owner that announces itself as `localhost` (another host name for the page at 127.0.0.1), a
    process that does not trust it, and one that lists it in --redirect-origins."""
    prefix = f"test-web-redirect-{uuid.uuid4().hex[:8]}:"
    common = ["--redis-url", redis_url, "--redis-prefix", prefix, "--log-level", "WARNING"]
    port = free_port()
    owner_url = f"http://localhost:{port}"
    with run_server([*common, "--public-url", owner_url], port=port) as owner, run_server(common) as untrusting, \
            run_server([*common, "--redirect-origins", owner_url]) as trusting:
        yield owner, untrusting, trusting


def test_browser_follows_another_host_only_when_trusted(
    browser: Browser, other_host: tuple[ServerProcess, ServerProcess, ServerProcess]
) -> None:
    owner, untrusting, trusting = other_host
    room = f"redirect-{uuid.uuid4().hex[:6]}"
    contexts = [new_context(browser) for _ in range(3)]
    try:
        open_room(contexts[0], owner.url, room, "Ada", listener=True)
        refused = contexts[1].new_page()
        refused.goto(f"{untrusting.url}/r/{room}")
        refused.get_by_label("Your name").fill("Eve")
        refused.get_by_role("button", name="Join as listener").click()
        alert = refused.get_by_role("alert").filter(has_text="Could not join")
        expect(alert).to_contain_text("does not trust", timeout=15_000)
        log = refused.evaluate("() => window.__sfuCall?.log.join('\\n') ?? ''")
        assert "moving there" not in log, log
        followed = open_room(contexts[2], trusting.url, room, "Grace", listener=True)
        assert followed.evaluate("() => window.__sfuCall.log.join('\\n')").count(f"room served at http://localhost:{owner.port}") == 1
    finally:
        for context in contexts:
            context.close()
