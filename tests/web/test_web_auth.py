"""The browser client against a token-protected server: the token from the link or the paste box, and the
server's `connect_error` reason shown in words. Signaling only; no media needed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import jwt
import pytest
from playwright.sync_api import Browser, Page, expect
from support import ServerProcess, run_server
from web_support import new_context

SECRET = "web-client-test-secret-of-at-least-32-bytes"


def token(sub: str, name: str, rooms: list[str] | str, exp_in: float = 3600) -> str:
    claims = {"sub": sub, "name": name, "rooms": rooms, "exp": int(time.time() + exp_in)}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def auth_server(web_build: None) -> Iterator[ServerProcess]:
    with run_server(env={"SFU_JWT_SECRET": SECRET}) as server:
        yield server


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = new_context(browser)
    try:
        yield context.new_page()
    finally:
        context.close()


def join(page: Page) -> None:
    page.get_by_label("Your name").fill("Tester")
    page.get_by_role("button", name="Join as listener").click()


def test_missing_token_shows_the_reason_and_a_paste_box(page: Page, auth_server: ServerProcess) -> None:
    room = f"auth-{uuid.uuid4().hex[:6]}"
    page.goto(f"{auth_server.url}/r/{room}")
    join(page)
    error = page.get_by_test_id("connect-error")
    expect(error).to_contain_text("The server refused the connection", timeout=10_000)
    expect(error).to_contain_text("token")
    # The paste box is open; a valid pasted token gets us in.
    page.get_by_label("Access token").fill(token("u-paste", "Pasted Person", [room]))
    join(page)
    page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=10_000)
    # The token's name wins over what was typed.
    expect(page.locator("[data-testid=tile][data-self=true]")).to_have_attribute("aria-label", "Pasted Person (you)")


def test_expired_token_is_explained(page: Page, auth_server: ServerProcess) -> None:
    room = f"auth-{uuid.uuid4().hex[:6]}"
    page.goto(f"{auth_server.url}/r/{room}?token={token('u-old', 'Old', [room], exp_in=-600)}")
    join(page)
    expect(page.get_by_test_id("connect-error")).to_contain_text("expired", timeout=10_000)


def test_token_in_the_link_joins_and_a_room_it_does_not_grant_is_refused(page: Page, auth_server: ServerProcess) -> None:
    room = f"auth-{uuid.uuid4().hex[:6]}"
    page.goto(f"{auth_server.url}/r/{room}?token={token('u-link', 'Linked', [room])}&lang=en")
    page.wait_for_function("() => location.search === '?lang=en'", timeout=10_000)  # the token leaves the bar
    join(page)
    page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=10_000)
    assert page.url == f"{auth_server.url}/r/{room}?lang=en"
    page.get_by_role("button", name="Leave call").click()
    page.goto(f"{auth_server.url}/r/other-room?token={token('u-link', 'Linked', [room])}")
    join(page)
    alert = page.get_by_role("alert").filter(has_text="Could not join")
    expect(alert).to_contain_text("not allowed", timeout=10_000)
