"""Shared state: room membership, presence and chat history, in memory or in Redis.

The two implementations have the same semantics so that handlers never know which one runs.
Entries are plain JSON-able dicts: a participant object, a presence user
`{userId, displayName, rooms}` (`rooms` a list or None for "every room"), a chat message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

Participant = dict[str, Any]
User = dict[str, Any]
Message = dict[str, Any]


class StoreHooks(Protocol):
    """What a multi-process store asks of the process: its own state, and how to announce changes
    it discovers (a dead process's ghosts, or this process's entries re-registered after an outage)."""

    def local_state(self) -> tuple[list[tuple[str, str, Participant]], list[tuple[User, str]]]:
        """(room_id, topology, participant) for each local member; (user, sid) for each connection."""
        ...

    async def ghost_left(self, room_id: str, participant: Participant) -> None: ...

    async def ghost_offline(self, user: User) -> None: ...

    async def revived_joined(self, room_id: str, participant: Participant) -> None: ...

    async def revived_online(self, user: User, sid: str) -> None: ...


class Store(Protocol):
    @property
    def healthy(self) -> bool: ...

    def mark_unhealthy(self) -> None: ...

    @property
    def peer_origins(self) -> frozenset[str]:
        """Origins of the deployment's live processes' public URLs (Redis mode; empty otherwise)."""
        ...

    def refresh_peer_origins(self) -> None:
        """Ask for `peer_origins` to be re-read soon (an origin was not in it)."""
        ...

    async def start(self, hooks: StoreHooks) -> None: ...

    async def close(self) -> None: ...

    async def join_room(
        self, room_id: str, participant: Participant, topology: str, capacity: Mapping[str, int]
    ) -> tuple[str, list[Participant]]:
        """Create the room if needed (fixing its topology), add the participant unless the room is
        full (raises SignalingError room_full); return the room's topology and the other members."""
        ...

    async def leave_room(self, room_id: str, participant_id: str) -> Participant | None:
        """Remove a member (returns it, or None if absent); the last one out ends the room."""
        ...

    async def room_topology(self, room_id: str) -> str | None: ...

    async def participants(self, room_id: str) -> list[Participant]: ...

    async def get_participant(self, room_id: str, participant_id: str) -> Participant | None: ...

    async def save_participant(self, room_id: str, participant: Participant) -> None: ...

    async def add_connection(self, user: User, sid: str) -> bool:
        """Record an open connection; True when the user just came online."""
        ...

    async def remove_connection(self, user_id: str, sid: str) -> User | None:
        """Forget a connection; returns the user when it was their last one (they went offline)."""
        ...

    async def online_users(self) -> list[User]: ...

    async def chat_append(
        self, room_id: str, dedupe_key: str | None, message: Message, limit: int
    ) -> tuple[Message, bool]:
        """Append unless `dedupe_key` was seen in this room; returns (the stored message, is_new)."""
        ...

    async def chat_history(self, room_id: str, limit: int) -> list[Message]: ...
