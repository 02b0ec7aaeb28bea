"""`sfu/web_routes.py`: the built client at `/` and `/r/<roomId>`, hashed assets, the placeholder."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sfu.config import Settings
from sfu.web_routes import ASSET_CACHE, install_web_routes


def fake_build(root: Path) -> None:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/index-abc123.js"></script>')
    (root / "assets" / "index-abc123.js").write_text("console.log('hi')")
    (root / "assets" / "index-abc123.css").write_text("body{}")
    (root.parent / "secret.txt").write_text("not for the web")


async def client_for(root: Path) -> TestClient:
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)  # other modules' routes stay as they are
    install_web_routes(app, Settings(web_root=str(root)))
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_index_and_room_links_serve_the_app_uncached(tmp_path: Path) -> None:
    root = tmp_path / "app"
    fake_build(root)
    client = await client_for(root)
    try:
        for path in ("/", "/r/study-group_1", "/r/study-group_1/"):
            resp = await client.get(path)
            assert resp.status == 200, path
            assert resp.headers["Cache-Control"] == "no-cache"
            assert resp.headers["Content-Type"].startswith("text/html")
            assert '<div id="root">' in await resp.text()
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


async def test_hashed_assets_are_immutable_and_typed(tmp_path: Path) -> None:
    root = tmp_path / "app"
    fake_build(root)
    client = await client_for(root)
    try:
        resp = await client.get("/assets/index-abc123.js")
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == ASSET_CACHE == "public, max-age=31536000, immutable"
        assert resp.headers["Content-Type"].startswith("text/javascript")
        assert await resp.text() == "console.log('hi')"
        css = await client.get("/assets/index-abc123.css")
        assert css.headers["Content-Type"].startswith("text/css")
        for bad in ("/assets/missing.js", "/assets/%2e%2e/index.html", "/assets/..%2f..%2fsecret.txt", "/assets/"):
            resp = await client.get(bad)
            assert resp.status == 404, bad
            assert "not for the web" not in await resp.text()
    finally:
        await client.close()


async def test_placeholder_without_a_build_then_the_build_without_restart(tmp_path: Path) -> None:
    root = tmp_path / "app"
    client = await client_for(root)
    try:
        resp = await client.get("/r/room1")
        assert resp.status == 200
        text = await resp.text()
        assert "not built" in text and "npm run build" in text
        assert resp.headers["Cache-Control"] == "no-cache"
        fake_build(root)
        resp = await client.get("/")
        assert '<div id="root">' in await resp.text()
    finally:
        await client.close()


def test_default_root_is_sfu_static_app() -> None:
    from sfu.web_routes import DEFAULT_WEB_ROOT, web_root

    assert web_root(Settings()) == DEFAULT_WEB_ROOT
    assert DEFAULT_WEB_ROOT.parts[-3:] == ("sfu", "static", "app")


async def test_favicon_is_served_from_the_build(tmp_path: Path) -> None:
    root = tmp_path / "app"
    client = await client_for(root)
    try:
        assert (await client.get("/favicon.ico")).status == 404  # no build, no icon (and no crash)
        fake_build(root)
        (root / "favicon.ico").write_bytes(b"\x00\x00\x01\x00icon")
        resp = await client.get("/favicon.ico")
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/x-icon"
        assert resp.headers["Cache-Control"] == "public, max-age=86400"
        assert await resp.read() == b"\x00\x00\x01\x00icon"
    finally:
        await client.close()
