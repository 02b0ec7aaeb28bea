"""Operational HTTP routes: `/healthz` (liveness and a summary), `/metrics` (Prometheus), and
`/client-config` (what the web page must know before trusting a server's answer)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sfu import __version__
from sfu.config import Settings

log = logging.getLogger("sfu.http")


def install_http_routes(app: web.Application, settings: Settings) -> None:
    async def healthz(request: web.Request) -> web.Response:
        hub = request.app.get("signaling")
        body: dict[str, Any] = {"status": "ok", "version": __version__, "rooms": 0, "connections": 0}
        if hub is not None:
            body.update(hub.health())
        media = request.app.get("media")
        try:
            body["media"] = media.stats() if media is not None else {}
        except Exception:  # a media fault must not hide liveness; report it as degraded
            log.exception("media stats failed")
            body["media"], body["status"] = {}, "degraded"
        return web.json_response(body)  # 200 even when degraded: the process itself is alive

    async def metrics(request: web.Request) -> web.Response:
        output = generate_latest(request.app["metrics_registry"])
        return web.Response(body=output, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def client_config(_request: web.Request) -> web.Response:
        """Origins the page may follow a `redirect` to besides its own host (`--redirect-origins`).

        The page asks the server that served it, not the one that sent the redirect."""
        body = {"redirectOrigins": list(settings.redirect_origins)}
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/client-config", client_config)
    app.router.add_get("/metrics", metrics)
