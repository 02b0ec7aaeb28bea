"""`video:*` events: joining and leaving rooms, negotiation (mesh relay or the SFU), media toggles."""

from __future__ import annotations

import logging
from typing import Any

from signaling.errors import SignalingError
from signaling.handlers.common import require_member
from signaling.hub import Hub, Session, now_ms
from signaling.ice import ice_servers
from signaling.logs import log_event
from signaling.rooms import sio_room

log = logging.getLogger("signaling")


def _room_state(hub: Hub, session: Session, room_id: str, topology: str, others: list[dict[str, Any]]) -> dict[str, Any]:
    assert session.participant is not None
    state = {"roomId": room_id, "topology": topology, "you": dict(session.participant), "participants": others,
             "iceServers": ice_servers(hub.settings, session.identity.user_id)}
    if topology == "sfu":
        state["media"] = hub.settings.media_limits()
    return state



async def join_room(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    room_id: str = p["roomId"]
    identity = session.identity
    if not identity.may_join(room_id):
        raise SignalingError("forbidden", "your token does not grant this room")
    if session.room_id == room_id and session.topology:  # already there: the current state, no announcement
        others = [x for x in await hub.store.participants(room_id) if x["participantId"] != session.sid]
        state = _room_state(hub, session, room_id, session.topology, others)
        await hub.emit("video:room-state", state, to=session.sid)
        return state
    if identity.name_is_authoritative:
        name = identity.name
    else:
        name = p.get("displayName") or identity.display_name
    participant = {"participantId": session.sid, "userId": identity.user_id, "displayName": name,
                   "audio": p.get("audio", True), "video": p.get("video", True), "screen": False,
                   "joinedAt": now_ms()}
    topology, others = await hub.store.join_room(room_id, participant, p.get("topology", "sfu"), hub.capacity)
    await hub.leave_current(session, "switched_room")  # joining a second room leaves the first
    session.room_id, session.topology, session.participant = room_id, topology, participant
    await hub.sio.enter_room(session.sid, sio_room(room_id))
    if topology == "sfu":
        try:
            await hub.backend.join(room_id, session.sid, audio=participant["audio"], video=participant["video"])
        except Exception:
            await hub.leave_current(session, "media_join_failed", announce=False)  # nobody heard the join
            raise
    log_event(log, "join", sid=session.sid, room=room_id, topology=topology, user=identity.user_id,
              members=len(others) + 1)
    await hub.emit("video:user-joined", {"roomId": room_id, "participant": participant}, to=sio_room(room_id),
                   skip_sid=session.sid)
    state = _room_state(hub, session, room_id, topology, others)
    await hub.emit("video:room-state", state, to=session.sid)
    return state


async def leave_room(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    if session.room_id == p["roomId"]:
        await hub.leave_current(session, "leave")
    return {}


def _negotiation(event: str, field: str) -> Any:
    """offer / answer / ice-candidate: relay to `to` in mesh rooms, hand to the media backend in SFU rooms."""

    async def handle(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
        room_id, to = p["roomId"], p["to"]
        topology = await require_member(hub, session, room_id)
        if topology == "sfu":
            if to != "sfu":
                if await hub.store.get_participant(room_id, to) is not None:
                    raise SignalingError("bad_request", 'sfu rooms negotiate with the server: use to="sfu"')
                raise SignalingError("not_found", "to is not in this room")
            if event == "video:offer":
                await hub.backend.offer(room_id, session.sid, p["description"], p.get("tracks"), p.get("slots"))
            elif event == "video:answer":
                await hub.backend.answer(room_id, session.sid, p["description"])
            else:
                ignored = await hub.backend.ice_candidate(room_id, session.sid, p["candidate"])
                if ignored:
                    return {"ignored": ignored}
            return {}
        if await hub.store.get_participant(room_id, to) is None:
            raise SignalingError("not_found", "to is not in this room")
        await hub.emit(event, {"roomId": room_id, "from": session.sid, field: p[field]}, to=to)
        return {}

    return handle


async def _set_media(hub: Hub, session: Session, room_id: str, key: str, value: bool) -> dict[str, Any]:
    topology = await require_member(hub, session, room_id)
    assert session.participant is not None
    if topology == "sfu":
        if key == "screen":
            await hub.backend.set_screen_share(room_id, session.sid, value)
        else:
            await hub.backend.set_media_enabled(room_id, session.sid, "microphone" if key == "audio" else "camera",
                                                value)
    session.participant[key] = value
    await hub.store.save_participant(room_id, session.participant)
    state = {"roomId": room_id, "participantId": session.sid, "audio": session.participant["audio"],
             "video": session.participant["video"], "screen": session.participant["screen"]}
    await hub.emit("video:media-state-changed", state, to=sio_room(room_id))
    return state


async def toggle_audio(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    return await _set_media(hub, session, p["roomId"], "audio", p["enabled"])


async def toggle_video(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    return await _set_media(hub, session, p["roomId"], "video", p["enabled"])


async def set_view(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    """What the page shows and how big: the SFU forwards the videos shown, at the layer that fits."""
    topology = await require_member(hub, session, p["roomId"])
    if topology != "sfu":
        raise SignalingError("bad_request", "views are for sfu rooms")
    await hub.backend.set_view(p["roomId"], session.sid, p["tiles"])
    return {}


async def start_screen_share(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    return await _set_media(hub, session, p["roomId"], "screen", True)


async def stop_screen_share(hub: Hub, session: Session, p: dict[str, Any]) -> dict[str, Any]:
    return await _set_media(hub, session, p["roomId"], "screen", False)


HANDLERS = {
    "video:join-room": join_room,
    "video:leave-room": leave_room,
    "video:offer": _negotiation("video:offer", "description"),
    "video:answer": _negotiation("video:answer", "description"),
    "video:ice-candidate": _negotiation("video:ice-candidate", "candidate"),
    "video:toggle-audio": toggle_audio,
    "video:toggle-video": toggle_video,
    "video:start-screen-share": start_screen_share,
    "video:stop-screen-share": stop_screen_share,
    "video:set-view": set_view,
}
