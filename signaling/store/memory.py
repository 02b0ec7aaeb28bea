"""Single-process state in dictionaries: the default when no Redis is configured."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from signaling.errors import SignalingError
from signaling.store import Message, Participant, StoreHooks, User


@dataclass
class _Room:
    topology: str
    members: dict[str, Participant] = field(default_factory=dict)
    history: deque[tuple[str | None, Message]] = field(default_factory=deque)  # (dedupe key, message)
    dedupe: dict[str, Message] = field(default_factory=dict)  # only keys of messages still in history


class MemoryStore:
    def __init__(self) -> None:
        self.rooms: dict[str, _Room] = {}
        self.users: dict[str, User] = {}
        self.user_conns: dict[str, set[str]] = {}

    @property
    def healthy(self) -> bool:
        return True

    def mark_unhealthy(self) -> None:
        return None

    @property
    def peer_origins(self) -> frozenset[str]:
        return frozenset()

    def refresh_peer_origins(self) -> None:
        return None

    async def start(self, hooks: StoreHooks) -> None:
        return None

    async def close(self) -> None:
        return None

    async def join_room(
        self, room_id: str, participant: Participant, topology: str, capacity: Mapping[str, int]
    ) -> tuple[str, list[Participant]]:
        room = self.rooms.get(room_id) or _Room(topology)
        pid = participant["participantId"]
        if pid not in room.members and len(room.members) >= capacity[room.topology]:
            raise SignalingError("room_full", f"room is full ({capacity[room.topology]} participants)")
        self.rooms[room_id] = room
        room.members[pid] = dict(participant)
        return room.topology, [dict(p) for k, p in room.members.items() if k != pid]

    async def leave_room(self, room_id: str, participant_id: str) -> Participant | None:
        room = self.rooms.get(room_id)
        if room is None:
            return None
        gone = room.members.pop(participant_id, None)
        if not room.members:
            del self.rooms[room_id]
        return gone

    async def room_topology(self, room_id: str) -> str | None:
        room = self.rooms.get(room_id)
        return room.topology if room else None

    async def get_participant(self, room_id: str, participant_id: str) -> Participant | None:
        room = self.rooms.get(room_id)
        found = room.members.get(participant_id) if room else None
        return dict(found) if found else None

    async def participants(self, room_id: str) -> list[Participant]:
        room = self.rooms.get(room_id)
        return [dict(p) for p in room.members.values()] if room else []

    async def save_participant(self, room_id: str, participant: Participant) -> None:
        room = self.rooms.get(room_id)
        if room is not None and participant["participantId"] in room.members:
            room.members[participant["participantId"]] = dict(participant)

    async def add_connection(self, user: User, sid: str) -> bool:
        conns = self.user_conns.setdefault(user["userId"], set())
        self.users[user["userId"]] = dict(user)
        first = not conns
        conns.add(sid)
        return first

    async def remove_connection(self, user_id: str, sid: str) -> User | None:
        conns = self.user_conns.get(user_id)
        if not conns or sid not in conns:
            return None
        conns.discard(sid)
        if conns:
            return None
        del self.user_conns[user_id]
        return self.users.pop(user_id, None)

    async def online_users(self) -> list[User]:
        return [dict(u) for u in self.users.values()]

    async def chat_append(
        self, room_id: str, dedupe_key: str | None, message: Message, limit: int
    ) -> tuple[Message, bool]:
        room = self.rooms.get(room_id)
        if room is None:
            return message, True
        if dedupe_key is not None:
            if dedupe_key in room.dedupe:
                return room.dedupe[dedupe_key], False
            room.dedupe[dedupe_key] = message
        room.history.append((dedupe_key, message))
        while len(room.history) > limit:  # a retry can only be answered from the history: expire together
            old_key, _old = room.history.popleft()
            if old_key is not None:
                room.dedupe.pop(old_key, None)
        return message, True

    async def chat_history(self, room_id: str, limit: int) -> list[Message]:
        room = self.rooms.get(room_id)
        return [message for _key, message in room.history][-limit:] if room else []
