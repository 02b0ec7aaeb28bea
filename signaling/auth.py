"""Connection auth (the original's auth middleware): HS256 JWT, or development mode without a secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from signaling.validation import ROOM_ID_RE, Invalid, clean_name, has_invisible, normalise_name

LEEWAY_SECONDS = 30
MAX_USER_ID = 128
MAX_GRANTED_ROOMS = 1000


class AuthError(Exception):
    """The connection is refused; the message is what the client sees in `connect_error`."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str | None  # the display name the identity carries (token `name` or dev `auth.name`)
    rooms: frozenset[str] | None  # None: every room ("*" or development mode)
    name_is_authoritative: bool  # the token's name wins over the join payload
    expires_at: float | None = None  # epoch seconds when the session ends (token exp + leeway)

    @property
    def display_name(self) -> str:
        """The name others see when nothing better is given: the identity's name, else the user id
        (normalised like a name: a token's `sub` may hold anything)."""
        return self.name or normalise_name(self.user_id) or "?"

    def may_join(self, room_id: str) -> bool:
        return self.rooms is None or room_id in self.rooms

    def sees(self, other_rooms: frozenset[str] | None) -> bool:
        """Presence visibility: either side has every room, or they share one."""
        return self.rooms is None or other_rooms is None or not self.rooms.isdisjoint(other_rooms)


def _clean_name(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return clean_name(value, "name")
    except Invalid as exc:
        raise AuthError(str(exc)) from None


def _clean_user_id(value: Any, what: str, visible: bool = False) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_USER_ID:
        raise AuthError(f"{what} must be a string of 1-{MAX_USER_ID} characters")
    if visible and has_invisible(value):  # shown as a name when there is none
        raise AuthError(f"{what} must not contain control or invisible characters")
    return value


def _rooms_claim(value: Any) -> frozenset[str] | None:
    if value == "*":
        return None
    if value is None:
        return frozenset()
    if not isinstance(value, list) or len(value) > MAX_GRANTED_ROOMS:
        raise AuthError('token claim "rooms" must be a list of room ids or "*"')
    if "*" in value:
        return None
    if not all(isinstance(r, str) and ROOM_ID_RE.fullmatch(r) for r in value):
        raise AuthError('token claim "rooms" holds an invalid room id')
    return frozenset(value)


def authenticate(auth: Any, secret: str | None, fallback_id: str) -> Identity:
    """Turn the client's `auth` object into an Identity or raise AuthError."""
    if auth is not None and not isinstance(auth, dict):
        raise AuthError("auth must be an object")
    auth = auth or {}
    if not secret:
        name = _clean_name(auth.get("name"))
        user_id = auth.get("userId")
        user_id = _clean_user_id(user_id, "userId", visible=True) if user_id is not None else (name or f"guest-{fallback_id}")
        return Identity(user_id=user_id, name=name, rooms=None, name_is_authoritative=False)
    token = auth.get("token")
    if not isinstance(token, str) or not token:
        raise AuthError("missing token")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=LEEWAY_SECONDS,
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidSignatureError:
        raise AuthError("invalid token signature") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    user_id = _clean_user_id(claims.get("sub"), "token claim sub")
    token_name = _clean_name(claims.get("name"))
    name = token_name if token_name is not None else _clean_name(auth.get("name"))
    return Identity(user_id=user_id, name=name, rooms=_rooms_claim(claims.get("rooms")),
                    name_is_authoritative=token_name is not None,
                    expires_at=float(claims["exp"]) + LEEWAY_SECONDS)
