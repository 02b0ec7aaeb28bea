"""Payload validation for every client event, as one table: event -> fields -> checker.

A checker takes the raw value and returns the normalised one or raises `Invalid`. Unknown keys
are ignored (forward compatibility); anything else that is off gets `bad_request`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signaling.errors import SignalingError

ROOM_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DISPLAY_NAME = 64
MAX_CLIENT_MSG_ID = 64
MAX_CHAT_TEXT = 2000
MAX_CANDIDATE_BYTES = 4096
MAX_PARTICIPANT_ID = 64
MAX_TRACKS = 8
MAX_SLOTS = 64
MAX_TILES = 100
MAX_TILE_PIXELS = 16384
MAX_MID = 32
TRACK_SOURCES = ("microphone", "camera", "screen")
SLOT_KINDS = ("audio", "video")
VIDEO_SOURCES = ("camera", "screen")
# Control, format (bidi overrides and isolates, zero-width), surrogate, private-use, unassigned and
# line/paragraph separator characters: invisible or reordering, so a name holding them can pass for
# another's (a right-to-left override, a zero-width space inside "Admin").
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_RAW_NAME = 4 * MAX_DISPLAY_NAME  # longer input is refused before any normalisation work


class Invalid(ValueError):
    """A field failed its check; the message names the problem, never echoes the value."""


@dataclass(frozen=True)
class Limits:
    max_sdp_bytes: int = 65536


Checker = Callable[[Any, Limits], Any]


@dataclass(frozen=True)
class Field:
    name: str
    check: Checker
    required: bool = True


def _str(value: Any, what: str, max_len: int, min_len: int = 1) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a string")
    if not min_len <= len(value) <= max_len:
        raise Invalid(f"{what} must be {min_len}-{max_len} characters")
    return value


def room_id(value: Any, _limits: Limits) -> str:
    if not isinstance(value, str) or not ROOM_ID_RE.fullmatch(value):
        raise Invalid("roomId must be 1-64 characters of [A-Za-z0-9_-]")
    return value


def has_invisible(text: str) -> bool:
    return any(unicodedata.category(c) in INVISIBLE_CATEGORIES for c in text)


def normalise_name(text: str) -> str:
    """A display name as others see it: invisible characters removed, NFC, whitespace runs as one
    space, trimmed. Removal comes before NFC so that a mark split off by a zero-width character
    still composes with its letter."""
    visible = "".join(c for c in text if unicodedata.category(c) not in INVISIBLE_CATEGORIES)
    return " ".join(unicodedata.normalize("NFC", visible).split())


def clean_name(value: Any, what: str) -> str:
    """Raise `Invalid` unless `value` is a string that is 1-64 characters once normalised."""
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a string")
    name = normalise_name(value) if len(value) <= MAX_RAW_NAME else ""
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise Invalid(f"{what} must be 1-{MAX_DISPLAY_NAME} visible characters")
    return name


def display_name(value: Any, _limits: Limits) -> str:
    return clean_name(value, "displayName")


def boolean(name: str) -> Checker:
    def check(value: Any, _limits: Limits) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be a boolean")
        return value

    return check


def one_of(name: str, *choices: str) -> Checker:
    def check(value: Any, _limits: Limits) -> str:
        if value not in choices or not isinstance(value, str):
            raise Invalid(f"{name} must be one of {', '.join(choices)}")
        return value

    return check


def target(value: Any, _limits: Limits) -> str:
    return _str(value, "to", MAX_PARTICIPANT_ID)


def description(*types: str) -> Checker:
    def check(value: Any, limits: Limits) -> dict[str, str]:
        if not isinstance(value, dict):
            raise Invalid("description must be an object {type, sdp}")
        if value.get("type") not in types or not isinstance(value.get("type"), str):
            raise Invalid(f"description.type must be one of {', '.join(types)}")
        sdp = value.get("sdp")
        if not isinstance(sdp, str) or not sdp:
            raise Invalid("description.sdp must be a non-empty string")
        if len(sdp) > limits.max_sdp_bytes or len(sdp.encode("utf-8", "surrogatepass")) > limits.max_sdp_bytes:
            raise Invalid(f"description.sdp exceeds {limits.max_sdp_bytes} bytes")
        return {"type": value["type"], "sdp": sdp}

    return check


def candidate(value: Any, _limits: Limits) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid("candidate must be null or an object")
    text = value.get("candidate")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_CANDIDATE_BYTES:
        raise Invalid(f"candidate.candidate must be a string of at most {MAX_CANDIDATE_BYTES} bytes")
    out: dict[str, Any] = {"candidate": text}
    mid = value.get("sdpMid")
    if mid is not None:
        out["sdpMid"] = _str(mid, "candidate.sdpMid", MAX_MID, 0)
    index = value.get("sdpMLineIndex")
    if index is not None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 1023:
            raise Invalid("candidate.sdpMLineIndex must be an integer 0-1023")
        out["sdpMLineIndex"] = index
    ufrag = value.get("usernameFragment")
    if ufrag is not None:
        out["usernameFragment"] = _str(ufrag, "candidate.usernameFragment", 256, 0)
    return out


def tracks(value: Any, _limits: Limits) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_TRACKS:
        raise Invalid(f"tracks must be a list of at most {MAX_TRACKS} entries")
    out = []
    for entry in value:
        if not isinstance(entry, dict):
            raise Invalid("each track must be an object {mid, source}")
        mid = _str(entry.get("mid"), "track.mid", MAX_MID)
        if entry.get("source") not in TRACK_SOURCES or not isinstance(entry.get("source"), str):
            raise Invalid(f"track.source must be one of {', '.join(TRACK_SOURCES)}")
        out.append({"mid": mid, "source": entry["source"]})
    return out


def slots(value: Any, _limits: Limits) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > MAX_SLOTS:
        raise Invalid(f"slots must be a list of at most {MAX_SLOTS} entries")
    out = []
    for entry in value:
        if not isinstance(entry, dict):
            raise Invalid("each slot must be an object {mid, kind}")
        mid = _str(entry.get("mid"), "slot.mid", MAX_MID)
        if entry.get("kind") not in SLOT_KINDS or not isinstance(entry.get("kind"), str):
            raise Invalid(f"slot.kind must be one of {', '.join(SLOT_KINDS)}")
        out.append({"mid": mid, "kind": entry["kind"]})
    return out


def _pixels(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TILE_PIXELS:
        raise Invalid(f"{what} must be an integer 0-{MAX_TILE_PIXELS}")
    return value


def tiles(value: Any, _limits: Limits) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_TILES:
        raise Invalid(f"tiles must be a list of at most {MAX_TILES} entries")
    out = []
    for entry in value:
        if not isinstance(entry, dict):
            raise Invalid("each tile must be an object {participantId, source, width, height}")
        participant = _str(entry.get("participantId"), "tile.participantId", MAX_PARTICIPANT_ID)
        if entry.get("source") not in VIDEO_SOURCES or not isinstance(entry.get("source"), str):
            raise Invalid(f"tile.source must be one of {', '.join(VIDEO_SOURCES)}")
        out.append({"participantId": participant, "source": entry["source"],
                    "width": _pixels(entry.get("width"), "tile.width"),
                    "height": _pixels(entry.get("height"), "tile.height")})
    return out


def chat_text(value: Any, _limits: Limits) -> str:
    if not isinstance(value, str):
        raise Invalid("text must be a string")
    trimmed = value.strip()
    if not 1 <= len(trimmed) <= MAX_CHAT_TEXT:  # len() counts code points
        raise Invalid(f"text must be 1-{MAX_CHAT_TEXT} characters after trimming")
    return trimmed


def client_msg_id(value: Any, _limits: Limits) -> str:
    return _str(value, "clientMsgId", MAX_CLIENT_MSG_ID)


ROOM = Field("roomId", room_id)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "video:join-room": (
        ROOM,
        Field("displayName", display_name, required=False),
        Field("audio", boolean("audio"), required=False),
        Field("video", boolean("video"), required=False),
        Field("topology", one_of("topology", "mesh", "sfu"), required=False),
    ),
    "video:leave-room": (ROOM,),
    "video:offer": (ROOM, Field("to", target), Field("description", description("offer")),
                    Field("tracks", tracks, required=False), Field("slots", slots, required=False)),
    "video:set-view": (ROOM, Field("tiles", tiles)),
    "video:answer": (ROOM, Field("to", target), Field("description", description("answer", "pranswer"))),
    "video:ice-candidate": (ROOM, Field("to", target), Field("candidate", candidate)),
    "video:toggle-audio": (ROOM, Field("enabled", boolean("enabled"))),
    "video:toggle-video": (ROOM, Field("enabled", boolean("enabled"))),
    "video:start-screen-share": (ROOM,),
    "video:stop-screen-share": (ROOM,),
    "chat:send": (ROOM, Field("text", chat_text), Field("clientMsgId", client_msg_id, required=False)),
    "chat:history": (ROOM,),
    "presence:list": (),
}

# Fields whose key must be present even though null is a valid value.
_NULLABLE = {"candidate"}


def validate(event: str, args: tuple[Any, ...], limits: Limits) -> dict[str, Any]:
    """Check the client's arguments for `event`; return the normalised payload or raise bad_request."""
    fields = SCHEMAS[event]
    if not fields and (not args or args[0] is None or args[0] == {}):
        return {}
    if len(args) != 1 or not isinstance(args[0], dict):
        raise SignalingError("bad_request", "payload must be one object")
    raw: dict[str, Any] = args[0]
    out: dict[str, Any] = {}
    for spec in fields:
        if spec.name not in raw or (raw[spec.name] is None and spec.name not in _NULLABLE):
            if spec.required:
                raise SignalingError("bad_request", f"{spec.name} is required")
            continue
        try:
            out[spec.name] = spec.check(raw[spec.name], limits)
        except Invalid as exc:
            raise SignalingError("bad_request", str(exc)) from None
    return out
