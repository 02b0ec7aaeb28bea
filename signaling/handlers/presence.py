"""`presence:*`: who is online, filtered to the users the asker may see (shared room, or "*")."""

from __future__ import annotations

from typing import Any

from signaling.hub import Hub, Session


async def list_users(hub: Hub, session: Session, _p: dict[str, Any]) -> dict[str, Any]:
    users = []
    for user in await hub.store.online_users():
        rooms = user.get("rooms")
        if user["userId"] == session.identity.user_id or session.identity.sees(
                None if rooms is None else frozenset(rooms)):
            users.append({"userId": user["userId"], "displayName": user["displayName"]})
    return {"users": sorted(users, key=lambda u: u["userId"])}


HANDLERS = {"presence:list": list_users}
