"""`install_signaling`: builds the store and hub, registers every handler and the lifecycle hooks."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import socketio
from aiohttp import web

from sfu.api import MediaBackend
from sfu.config import Settings
from signaling.dispatch import Dispatcher, register, track_ack_requests
from signaling.guard import Guard
from signaling.handlers import chat, presence, video
from signaling.handlers.connection import connect, disconnect
from signaling.hub import Hub
from signaling.metrics import SignalingMetrics
from signaling.store import Store
from signaling.store.memory import MemoryStore

HUB_KEY = "signaling"
log = logging.getLogger("signaling")


def build_store(settings: Settings) -> Store:
    if not settings.redis_url:
        return MemoryStore()
    from signaling.store.redis_store import RedisStore

    return RedisStore(settings.redis_url, settings.redis_prefix, settings.instance_id or uuid.uuid4().hex[:12],
                      heartbeat_ttl=settings.heartbeat_ttl, heartbeat_interval=settings.heartbeat_interval,
                      public_url=settings.public_url or f"http://{settings.host}:{settings.port}")


def install_signaling(app: web.Application, sio: socketio.AsyncServer, settings: Settings,
                      backend: MediaBackend) -> Hub:
    """Wire the Socket.IO protocol of docs/protocol.md onto `sio`; the hub is kept in `app["signaling"]`."""
    store = build_store(settings)
    hub = Hub(sio, settings, store, backend)
    metrics = SignalingMetrics(
        app["metrics_registry"], connections=lambda: len(hub.sessions), rooms=hub.local_rooms,
        participants=hub.local_participants, redis_up=lambda: 1.0 if store.healthy else 0.0,
    )
    dispatcher = Dispatcher(hub, metrics, hub.log_gate)
    track_ack_requests(sio)
    Guard(sio, hub, metrics, hub.log_gate).install()
    # python-socketio gives its logger a private stderr handler; route it through ours instead.
    for handler in list(sio.logger.handlers):
        sio.logger.removeHandler(handler)
    sio.logger.propagate = True
    register(sio, dispatcher, {**video.HANDLERS, **chat.HANDLERS, **presence.HANDLERS})

    async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await connect(hub, sid, environ, auth)

    async def on_disconnect(sid: str, reason: Any = None) -> None:
        await disconnect(hub, sid, reason)

    sio.on("connect", on_connect)
    sio.on("disconnect", on_disconnect)

    async def start(_app: web.Application) -> None:
        await store.start(hub)

    async def drain(_app: web.Application) -> None:
        """Graceful stop: close every connection (each leaves its room, so other processes hear
        `video:user-left` now instead of after the heartbeat TTL), then stop Socket.IO's tasks."""
        for sid in list(hub.sessions):
            try:
                await sio.disconnect(sid)
            except Exception:
                log.exception("disconnect at shutdown failed")
        await sio.shutdown()

    async def stop(_app: web.Application) -> None:
        await store.close()

    app.on_startup.append(start)
    app.on_shutdown.append(drain)
    app.on_cleanup.append(stop)
    app[HUB_KEY] = hub
    return hub
