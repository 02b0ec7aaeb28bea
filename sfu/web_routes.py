"""Serves the browser client: `/`, `/r/<roomId>` and its static assets (placeholder until web/ is built)."""

from __future__ import annotations

from aiohttp import web

from sfu.config import Settings

PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>SFU</title></head>
<body><h1>SFU signaling server</h1><p>The web client is not built yet.</p></body></html>"""


def install_web_routes(app: web.Application, settings: Settings) -> None:
    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=PLACEHOLDER, content_type="text/html")

    app.router.add_get("/", index)
    app.router.add_get("/r/{room_id}", index)
