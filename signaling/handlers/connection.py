"""Connect (auth, presence online), disconnect (leave the room, presence offline), and the end of a
session whose token expires.

Identity is fixed at connection: these run only for python-socketio's own lifecycle calls (the
guard refuses clients' `connect`/`disconnect` events), and each checks that it is one all the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import socketio

from signaling.auth import AuthError, authenticate
from signaling.hub import Hub, Session
from signaling.logs import log_event
from signaling.ratelimit import ConnectionLimiter
from signaling.rooms import presence_listener_rooms

log = logging.getLogger("signaling")


EXPIRED = {"code": "token_expired", "message": "your token expired; connect again with a new one"}
MAX_TIMER_SECONDS = 86400.0  # far expiries are re-checked daily (event loops cap timer delays)


async def connect(hub: Hub, sid: str, environ: dict[str, Any], auth: Any) -> None:
    if sid in hub.sessions or not isinstance(environ, dict):  # not python-socketio's connect: ignore
        log_event(log, "connect_ignored", logging.WARNING, sid=sid)
        return
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
    if identity.expires_at is not None:
        _schedule_expiry(hub, session)
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
    if hub.sio.manager.is_connected(sid, "/"):  # python-socketio marks a real disconnect first
        log_event(log, "disconnect_ignored", logging.WARNING, sid=sid)
        return
    if session.expiry is not None:
        session.expiry.cancel()
    hub.log_gate.forget(sid)
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


def _schedule_expiry(hub: Hub, session: Session) -> None:
    assert session.identity.expires_at is not None
    delay = min(MAX_TIMER_SECONDS, max(0.0, session.identity.expires_at - time.time()))

    def fire() -> None:
        task = asyncio.create_task(_expire(hub, session))
        hub.background.add(task)
        task.add_done_callback(hub.background.discard)

    session.expiry = asyncio.get_running_loop().call_later(delay, fire)


async def _expire(hub: Hub, session: Session) -> None:
    """Tell the client why (`session:expired`), then disconnect it: its token no longer vouches for it.

    A client that reconnects with the same token is refused with `token expired`."""
    if session.closed or hub.sessions.get(session.sid) is not session:
        return
    assert session.identity.expires_at is not None
    if time.time() < session.identity.expires_at:
        _schedule_expiry(hub, session)
        return
    log_event(log, "session_expired", sid=session.sid, user=session.identity.user_id)
    await hub.emit("session:expired", dict(EXPIRED), to=session.sid)
    try:
        await hub.sio.disconnect(session.sid)
    except Exception:
        log.exception("disconnect of an expired session failed")
