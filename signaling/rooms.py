"""Names of the Socket.IO rooms signaling uses, in one place (handlers and the notifier agree)."""

from __future__ import annotations

from collections.abc import Iterable

EVERYONE = "_presence:everyone"  # every connection: receives presence of users with every room
ALL_ROOMS = "_presence:all"  # connections whose identity has every room: receive all presence


def sio_room(room_id: str) -> str:
    """The Socket.IO room of a call room (prefixed so no client-chosen id collides with ours)."""
    return f"room:{room_id}"


def presence_room(room_id: str) -> str:
    return f"_presence:room:{room_id}"


def presence_listener_rooms(rooms: Iterable[str] | None) -> list[str]:
    """Rooms a connection enters to hear the presence it may see."""
    if rooms is None:
        return [EVERYONE, ALL_ROOMS]
    return [EVERYONE, *(presence_room(r) for r in rooms)]


def presence_targets(rooms: Iterable[str] | None) -> list[str]:
    """Rooms that must hear a user's online/offline: those who share a room, or see everything."""
    if rooms is None:
        return [EVERYONE]
    return [ALL_ROOMS, *(presence_room(r) for r in rooms)]
