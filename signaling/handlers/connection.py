"""Connect (auth, presence online) and disconnect (leave the room, presence offline)."""

from __future__ import annotations

import logging
from typing import Any

import socketio

from signaling.auth import AuthError, authenticate
from signaling.hub import Hub, Session
from signaling.logs import log_event
from signaling.ratelimit import ConnectionLimiter
from signaling.rooms import presence_listener_rooms

log = logging.getLogger("signaling")


async def connect(hub: Hub, sid: str, environ: dict[str, Any], auth: Any) -> None:
    request = environ.get("aiohttp.request")
    peer = getattr(request, "remote", None) or environ.get("REMOTE_ADDR")
    if len(hub.sessions) >= hub.settings.max_connections:
        log_event(log, "connect_refused", sid=sid, reason="server_full", peer=peer)
        raise socketio.exceptions.ConnectionRefusedError("server full")
    try:
        identity = authenticate(auth, hub.settings.jwt_secret, sid[:8])
    except AuthError as exc:
        log_event(log, "connect_refused", sid=sid, reason=str(exc), peer=peer)
        raise socketio.exceptions.ConnectionRefusedError(str(exc)) from None
    session = Session(sid=sid, identity=identity, limiter=ConnectionLimiter(hub.settings))
    hub.sessions[sid] = session
    for room in presence_listener_rooms(identity.rooms):
        await hub.sio.enter_room(sid, room)
    log_event(log, "connect", sid=sid, user=identity.user_id, peer=peer)
    try:
        came_online = await hub.store.add_connection(session.user, sid)
    except Exception as exc:  # Redis away: the store's re-sync registers this connection later
        hub.store.mark_unhealthy()
        log_event(log, "store_error", logging.WARNING, op="connect", error=type(exc).__name__)
        return
    if came_online:
        await hub.announce_presence("presence:online", session.user, skip_sid=sid)


async def disconnect(hub: Hub, sid: str, reason: Any = None) -> None:
    session = hub.sessions.get(sid)
    if session is None:
        return
    async with session.lock:
        session.closed = True
        await hub.leave_current(session, "disconnect")
        hub.sessions.pop(sid, None)
        try:
            went_offline = await hub.store.remove_connection(session.identity.user_id, sid)
        except Exception as exc:
            hub.store.mark_unhealthy()
            log_event(log, "store_error", logging.WARNING, op="disconnect", error=type(exc).__name__)
            went_offline = None
    if went_offline is not None:
        await hub.announce_presence("presence:offline", went_offline)
    log_event(log, "disconnect", sid=sid, user=session.identity.user_id, reason=str(reason or ""))
