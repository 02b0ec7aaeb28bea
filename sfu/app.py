"""The one place that wires signaling, the SFU and HTTP together into an aiohttp application."""

from __future__ import annotations

import socketio
from aiohttp import web
from prometheus_client import CollectorRegistry

from sfu.api import MediaBackend, NoMediaBackend
from sfu.config import Settings
from sfu.http import install_http_routes
from sfu.origins import OriginPolicy
from sfu.web_routes import install_web_routes
from signaling.notifier import SocketNotifier
from signaling.server import install_signaling


def build_media_backend(settings: Settings, notifier: SocketNotifier, registry: CollectorRegistry) -> MediaBackend:
    if not settings.media:
        return NoMediaBackend()
    from sfu.backend import SfuBackend  # aiortc is heavy; import only when media is on

    return SfuBackend(settings, notifier, registry)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_http_buffer_bytes)

    def peer_origins() -> frozenset[str]:
        hub = app.get("signaling")
        return hub.store.peer_origins if hub is not None else frozenset()

    def refresh_peer_origins() -> None:
        hub = app.get("signaling")
        if hub is not None:
            hub.store.refresh_peer_origins()

    client_manager = None
    if settings.redis_url:
        client_manager = socketio.AsyncRedisManager(
            settings.redis_url,
            channel=f"{settings.redis_prefix}socketio",  # deployments sharing one Redis stay apart
            redis_options={"socket_timeout": None},  # redis-py 8: listen() breaks with a timeout
        )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=client_manager,
        cors_allowed_origins=OriginPolicy(settings, peer_origins, refresh_peer_origins),
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        max_http_buffer_size=settings.max_http_buffer_bytes,
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app, socketio_path="socket.io")
    registry = CollectorRegistry()  # per app, so several apps in one test process don't collide
    notifier = SocketNotifier(sio)
    backend = build_media_backend(settings, notifier, registry)
    app["settings"] = settings
    app["metrics_registry"] = registry
    app["media"] = backend
    install_signaling(app, sio, settings, backend)
    install_http_routes(app, settings)
    install_web_routes(app, settings)

    async def close_media(_app: web.Application) -> None:
        await backend.close()

    app.on_shutdown.append(close_media)
    return app
