"""Two server processes on one Redis: a browser that opens an SFU room on the wrong process follows the
server's `redirect` to the process that owns the room, and the call works there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from support import ServerProcess, run_server
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
