"""Headless Chromium for the SFU tests (Debian chromium, recipe from ../shared/notes/environment.md)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright
from support import ROOT, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
]
PAGE_DIR = Path(__file__).parent / "page"
SOCKET_IO_ESM = ROOT / "tests/node/node_modules/socket.io-client/dist/socket.io.esm.min.js"


@asynccontextmanager
async def serve_test_page() -> AsyncIterator[str]:
    """Serve the minimal test page (and the npm socket.io-client bundle) from 127.0.0.1."""
    app = web.Application()

    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE_DIR / "index.html")

    async def bundle(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(SOCKET_IO_ESM, headers={"Content-Type": "text/javascript"})

    app.router.add_get("/", page)
    app.router.add_get("/socket.io.esm.min.js", bundle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_test_pages(browser: Browser, page_url: str, server_url: str, room: str,
                          names: list[tuple[str, str]]) -> tuple[list[Page], list[str]]:
    """One started test page per (name, extra query string), each in a context of its own: (pages, ids)."""
    pages, ids = [], []
    for name, extra in names:
        context = await browser.new_context(permissions=["camera", "microphone"])
        page = await context.new_page()
        await page.goto(f"{page_url}/?server={server_url}&room={room}&name={name}&slots=1{extra}")
        await page.wait_for_function("window.pageReady === true")
        ids.append(await page.evaluate("window.start()"))
        pages.append(page)
    return pages, ids


async def decoded_from(page: Page, participant_id: str) -> int:
    """Video frames the page has decoded from one participant (its inbound-rtp `framesDecoded`)."""
    stats = await page.evaluate("window.inbound()")
    return sum(s["framesDecoded"] for s in stats if s["kind"] == "video" and s["participantId"] == participant_id)
