"""Membership checks shared by the handlers (the contract's "identity and membership" step)."""

from __future__ import annotations

from signaling.errors import SignalingError
from signaling.hub import Hub, Session


async def require_member(hub: Hub, session: Session, room_id: str) -> str:
    """Return the room's topology if the sender is a member; else not_found (no such room) or forbidden.

    With a token secret every non-member gets `forbidden`, whether the room exists or not: rooms are
    private to the users their tokens grant, so the answer must not tell which ones exist.
    """
    if session.room_id == room_id and session.topology:
        return session.topology
    if hub.settings.jwt_secret is None and await hub.store.room_topology(room_id) is None:
        raise SignalingError("not_found", "no such room")
    raise SignalingError("forbidden", "you are not a member of this room")
