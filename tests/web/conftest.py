"""The browser client suite: the built web client, one real server per module, headless Chromium.

Chromium recipe: ../shared/notes/environment.md (Debian `chromium` through Playwright's
`executable_path`, fake camera/microphone/screen, loopback ICE).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from support import ServerProcess, run_server
from web_support import ARTIFACTS, ensure_web_build, launch_chromium


@pytest.fixture(scope="session")
def web_build() -> None:
    """Build web/ into sfu/static/app when the build is missing or older than the sources."""
    ensure_web_build()


@pytest.fixture(scope="module")
def web_server(web_build: None) -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO"]) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[FAILED_KEY] = report.failed


FAILED_KEY = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test that uses the shared call fails, keep a screenshot of every page in test-artifacts/."""
    yield
    if not request.node.stash.get(FAILED_KEY, False) or "trio" not in request.fixturenames:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    for member in request.getfixturevalue("trio"):
        try:
            member.page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}-{member.name}.png"))
        except Exception:  # noqa: BLE001 - diagnostics only
            pass
