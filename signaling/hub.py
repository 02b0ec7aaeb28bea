"""The per-process signaling state: open sessions, the shared store, and how to reach clients.

Sessions are local (a connection's events always reach the process that holds it), so each
session is the authority on its own membership; the store carries what other processes and
other users need to see.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import socketio

from sfu.api import MediaBackend
from sfu.config import Settings
from signaling.auth import Identity
from signaling.logs import LogGate, log_event
from signaling.ratelimit import ConnectionLimiter
from signaling.rooms import presence_targets, sio_room
from signaling.store import Participant, Store, User

log = logging.getLogger("signaling")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Session:
    sid: str
    identity: Identity
    limiter: ConnectionLimiter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    room_id: str | None = None
    topology: str | None = None
    participant: Participant | None = None
    closed: bool = False
    expiry: asyncio.TimerHandle | None = None  # ends the session when its token expires

    @property
    def user(self) -> User:
        """The presence record of this connection's user."""
        rooms = None if self.identity.rooms is None else sorted(self.identity.rooms)
        return {"userId": self.identity.user_id, "displayName": self.identity.display_name,
                "rooms": rooms}


class Hub:
    def __init__(self, sio: socketio.AsyncServer, settings: Settings, store: Store, backend: MediaBackend) -> None:
        self.sio = sio
        self.settings = settings
        self.store = store
        self.backend = backend
        self.sessions: dict[str, Session] = {}
        self.log_gate = LogGate(settings.reject_log_interval)
        self.background: set[asyncio.Task[None]] = set()  # strong references to fire-and-forget tasks
        self.capacity = {"mesh": settings.max_participants_mesh, "sfu": settings.max_participants_sfu}

    # counts for /healthz and /metrics (this process only) ------------------------------------
    def local_rooms(self) -> int:
        return len({s.room_id for s in self.sessions.values() if s.room_id})

    def local_participants(self) -> int:
        return sum(1 for s in self.sessions.values() if s.room_id)

    def health(self) -> dict[str, Any]:
        return {"status": "ok" if self.store.healthy else "degraded", "rooms": self.local_rooms(),
                "connections": len(self.sessions), "participants": self.local_participants()}

    # emitting --------------------------------------------------------------------------------
    async def emit(self, event: str, data: dict[str, Any], to: str | list[str], skip_sid: str | None = None) -> None:
        """Emit, never raising: a lost notification must not fail the event that caused it."""
        try:
            await self.sio.emit(event, data, to=to, skip_sid=skip_sid)
        except Exception:
            log.exception("emit failed: %s", event)

    async def announce_left(self, room_id: str, participant_id: str) -> None:
        await self.emit("video:user-left", {"roomId": room_id, "participantId": participant_id}, to=sio_room(room_id))

    async def announce_presence(self, event: str, user: User, skip_sid: str | None = None) -> None:
        await self.emit(event, {"userId": user["userId"], "displayName": user["displayName"]},
                        to=presence_targets(user.get("rooms")), skip_sid=skip_sid)

    async def leave_current(self, session: Session, reason: str, announce: bool = True) -> None:
        """Take the session out of its room: store, Socket.IO room, media backend, then tell the room.

        Never raises: a store outage is repaired by the store's re-sync, a backend failure is logged.
        """
        room_id, topology, pid = session.room_id, session.topology, session.sid
        if room_id is None:
            return
        session.room_id = session.topology = session.participant = None
        try:
            await self.sio.leave_room(pid, sio_room(room_id))
        except Exception:
            log.exception("leave_room failed")
        try:
            await self.store.leave_room(room_id, pid)
        except Exception as exc:
            self.store.mark_unhealthy()
            log_event(log, "store_error", logging.WARNING, op="leave", error=type(exc).__name__)
        if topology == "sfu":
            try:
                await self.backend.leave(room_id, pid)
            except Exception:
                log.exception("media backend leave failed room=%s participant=%s", room_id, pid)
        if announce:
            await self.announce_left(room_id, pid)
        log_event(log, "leave", sid=pid, room=room_id, reason=reason)

    # StoreHooks: called by a multi-process store -----------------------------------------------
    def local_state(self) -> tuple[list[tuple[str, str, Participant]], list[tuple[User, str]]]:
        members = [(s.room_id, s.topology or "sfu", dict(s.participant))
                   for s in self.sessions.values() if s.room_id and s.participant]
        return members, [(s.user, s.sid) for s in self.sessions.values() if not s.closed]

    async def ghost_left(self, room_id: str, participant: Participant) -> None:
        log_event(log, "ghost_left", room=room_id, sid=participant.get("participantId"))
        await self.announce_left(room_id, participant["participantId"])

    async def ghost_offline(self, user: User) -> None:
        await self.announce_presence("presence:offline", user)

    async def revived_joined(self, room_id: str, participant: Participant) -> None:
        await self.emit("video:user-joined", {"roomId": room_id, "participant": participant}, to=sio_room(room_id),
                        skip_sid=participant["participantId"])

    async def revived_online(self, user: User, sid: str) -> None:
        await self.announce_presence("presence:online", user, skip_sid=sid)
