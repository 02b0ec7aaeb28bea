"""Headless Chromium for the SFU tests (Debian chromium, recipe from ../shared/notes/environment.md)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, async_playwright
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
