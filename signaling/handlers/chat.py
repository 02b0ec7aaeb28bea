"""`chat:*` events: room chat with idempotent retries (same user, room and clientMsgId) and history."""

from __future__ import annotations

import uuid
from typing import Any

from signaling.handlers.common import require_member
from signaling.hub import Hub, Session, now_ms
from signaling.rooms import sio_room


async def send(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    room_id = p["roomId"]
    await require_member(hub, session, room_id)
    assert session.participant is not None
    client_msg_id = p.get("clientMsgId")
    message = {"roomId": room_id, "messageId": uuid.uuid4().hex, "clientMsgId": client_msg_id,
               "from": {"participantId": session.sid, "userId": session.identity.user_id,
                        "displayName": session.participant["displayName"]},
               "text": p["text"], "sentAt": now_ms()}
    dedupe_key = f"{session.identity.user_id}\n{client_msg_id}" if client_msg_id is not None else None
    stored, is_new = await hub.store.chat_append(room_id, dedupe_key, message, hub.settings.chat_history_size)
    if is_new:
        await hub.emit("chat:message", stored, to=sio_room(room_id))
    return {"message": stored}


async def history(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    room_id = p["roomId"]
    await require_member(hub, session, room_id)
    return {"messages": await hub.store.chat_history(room_id, hub.settings.chat_history_size)}


HANDLERS = {"chat:send": send, "chat:history": history}
