"""The seam between signaling and media.

Signaling validates every client event and owns room membership; it hands the media part of
SFU-room events to a `MediaBackend` and gives the backend a `Notifier` to reach clients. Keeping
this seam small lets signaling run (and be tested) without any media, and lets the media side
stay free of Socket.IO.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

ErrorCode = Literal[
    "bad_request", "unauthorized", "forbidden", "not_found", "room_full", "rate_limited", "conflict", "internal"
]
MediaSource = Literal["microphone", "camera", "screen"]


class MediaError(Exception):
    """A refusal the client should see as `{ok: false, error: {code, message}}`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


class Notifier(Protocol):
    """How the media side reaches clients (implemented by signaling)."""

    async def to_participant(self, participant_id: str, event: str, payload: dict[str, Any]) -> None: ...

    async def to_room(self, room_id: str, event: str, payload: dict[str, Any]) -> None: ...


class MediaBackend(Protocol):
    """What signaling asks of the media side for rooms whose topology is "sfu".

    Every method may raise `MediaError`; anything else is reported to the client as `internal`.
    `description` and `candidate` arrive already validated for shape and size.
    """

    async def join(self, room_id: str, participant_id: str, audio: bool = True, video: bool = True) -> None:
        """`audio`/`video`: the joiner's initial microphone/camera state; muted media is never forwarded."""
        ...

    async def leave(self, room_id: str, participant_id: str) -> None: ...

    async def offer(
        self, room_id: str, participant_id: str, description: dict[str, str], tracks: list[dict[str, str]] | None,
        slots: list[dict[str, str]] | None = None,
    ) -> None: ...

    async def set_view(self, room_id: str, participant_id: str, tiles: list[dict[str, Any]]) -> None:
        """What the participant's page shows (`video:set-view`), already validated."""
        ...

    async def answer(self, room_id: str, participant_id: str, description: dict[str, str]) -> None: ...

    async def ice_candidate(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> str | None:
        """None, or why a well-formed candidate is not used (a transport or address the server never checks)."""
        ...

    async def set_media_enabled(self, room_id: str, participant_id: str, source: MediaSource, enabled: bool) -> None: ...

    async def set_screen_share(self, room_id: str, participant_id: str, active: bool) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class NoMediaBackend:
    """Used when the SFU is disabled: SFU rooms keep their signaling, media events get `conflict`."""

    async def join(self, room_id: str, participant_id: str, audio: bool = True, video: bool = True) -> None:
        return None

    async def leave(self, room_id: str, participant_id: str) -> None:
        return None

    async def offer(
        self, room_id: str, participant_id: str, description: dict[str, str], tracks: list[dict[str, str]] | None,
        slots: list[dict[str, str]] | None = None,
    ) -> None:
        raise MediaError("conflict", "this server has no media backend; use a mesh room")

    async def set_view(self, room_id: str, participant_id: str, tiles: list[dict[str, Any]]) -> None:
        return None

    async def answer(self, room_id: str, participant_id: str, description: dict[str, str]) -> None:
        raise MediaError("conflict", "this server has no media backend; use a mesh room")

    async def ice_candidate(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> str | None:
        raise MediaError("conflict", "this server has no media backend; use a mesh room")

    async def set_media_enabled(self, room_id: str, participant_id: str, source: MediaSource, enabled: bool) -> None:
        return None

    async def set_screen_share(self, room_id: str, participant_id: str, active: bool) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        return None
