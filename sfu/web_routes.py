"""Serves the browser client built from `web/` (Vite): `/`, `/r/<roomId>` and its hashed assets.

- `/` and `/r/{room_id}` answer `index.html` with `Cache-Control: no-cache`, so a new build is picked up
  at once; the page itself reads the room id from the path.
- `/assets/...` are content-hashed by Vite, so they are cached for a year as `immutable`.
- `/favicon.ico` (from `web/public/`) is cached for a day; browsers ask for it on every site.
- Without a build (no `index.html`), both routes answer a placeholder page that says how to build it.
  The build folder is looked up per request, so building while the server runs needs no restart.

`/healthz`, `/metrics` and `/socket.io` belong to other modules and are not touched here.
"""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path

from aiohttp import web

from sfu.config import Settings

DEFAULT_WEB_ROOT = Path(__file__).resolve().parent / "static" / "app"
INDEX_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
ICON_CACHE = "public, max-age=86400"

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>SFU: web client not built</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}
code{{background:#eee;padding:.1rem .3rem;border-radius:4px}}</style></head>
<body><h1>The SFU server is running</h1>
<p>The browser client is not built yet, so there is no call page to show.</p>
<p>Build it with <code>make run</code> (it builds the client when it is missing), or by hand:
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>. Then reload this page; no restart is needed.</p>
<p>Looked for <code>{index}</code>.</p>
<p>Signaling (<code>/socket.io</code>), <a href="/healthz">/healthz</a> and <a href="/metrics">/metrics</a> work without it.</p>
</body></html>
"""

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/css", ".css")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("font/woff2", ".woff2")


def web_root(settings: Settings) -> Path:
    """The folder holding the built client: `settings.web_root`, else `sfu/static/app`."""
    return Path(settings.web_root).resolve() if settings.web_root else DEFAULT_WEB_ROOT


def _asset_path(root: Path, relative: str) -> Path | None:
    """The file under `root/assets` named by `relative`, or None (missing, a folder, or outside it)."""
    assets = (root / "assets").resolve()
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    candidate = (assets / relative).resolve()
    if not candidate.is_relative_to(assets) or not candidate.is_file():
        return None
    return candidate


def install_web_routes(app: web.Application, settings: Settings) -> None:
    root = web_root(settings)

    async def index(_request: web.Request) -> web.StreamResponse:
        page = root / "index.html"
        if not page.is_file():
            body = PLACEHOLDER.format(index=html.escape(str(page)))
            return web.Response(text=body, content_type="text/html", headers={"Cache-Control": INDEX_CACHE})
        return web.FileResponse(page, headers={"Cache-Control": INDEX_CACHE, "Content-Type": "text/html; charset=utf-8"})

    async def asset(request: web.Request) -> web.StreamResponse:
        path = _asset_path(root, request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text="no such asset", headers={"Cache-Control": "no-store"})
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return web.FileResponse(path, headers={"Cache-Control": ASSET_CACHE, "Content-Type": content_type})

    async def favicon(_request: web.Request) -> web.StreamResponse:
        icon = root / "favicon.ico"
        if not icon.is_file():
            raise web.HTTPNotFound(text="no favicon", headers={"Cache-Control": "no-store"})
        return web.FileResponse(icon, headers={"Cache-Control": ICON_CACHE, "Content-Type": "image/x-icon"})

    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/r/{room_id}", index)
    app.router.add_get("/r/{room_id}/", index)
    app.router.add_get("/assets/{path:.+}", asset)
