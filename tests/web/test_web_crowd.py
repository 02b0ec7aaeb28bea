"""A big room: the grid stays usable past 25 people (pages of tiles), with a screen-free crowd of
signaling-only participants (python-socketio clients) and one real browser."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, expect
from support import ServerProcess
from web_support import SignalingCrowd, new_context, open_room, tiles, wait_until


def test_thirty_people_page_through_a_usable_grid(browser: Browser, web_server: ServerProcess) -> None:
    room = f"crowd-{uuid.uuid4().hex[:6]}"
    with SignalingCrowd(web_server.url, room, 29):
        context = new_context(browser)  # 1280x800: 16 tiles a page
        try:
            page = open_room(context, web_server.url, room, "Host", listener=True)
            expect(page.get_by_test_id("participant-count")).to_have_text("30 in call", timeout=10_000)
            wait_until(lambda: len(tiles(page)) == 16, 5, "16 tiles on the first page")
            sizes = page.eval_on_selector_all("[data-testid=tile]", "els => els.map(e => [e.clientWidth, e.clientHeight])")
            assert all(w >= 200 and h >= 100 for w, h in sizes), sizes
            # Nobody's tile overlaps another.
            boxes = page.eval_on_selector_all(
                "[data-testid=tile]", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
            )
            for i, a in enumerate(boxes):
                for b in boxes[i + 1 :]:
                    assert a[2] <= b[0] + 1 or b[2] <= a[0] + 1 or a[3] <= b[1] + 1 or b[3] <= a[1] + 1, (a, b)
            pager = page.get_by_role("navigation", name="Pages of participants")
            expect(pager).to_contain_text("1 / 2")
            first_page = {t["id"] for t in tiles(page)}
            pager.get_by_role("button", name="Next page").click()
            expect(pager).to_contain_text("2 / 2")
            second_page = {t["id"] for t in tiles(page)}
            assert len(second_page) == 14 and not first_page & second_page
            # Everyone is in the participant list, which scrolls.
            page.keyboard.press("p")
            expect(page.get_by_test_id("participant")).to_have_count(30)
            # Camera-off tiles show initials, never a black box.
            expect(page.locator("[data-testid=tile]").first).to_contain_text("G")
        finally:
            context.close()
