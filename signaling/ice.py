"""The `iceServers` list handed to clients in `video:room-state` (STUN, and TURN with coturn REST credentials)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from sfu.config import Settings


def ice_servers(settings: Settings, user_id: str) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls:
        entry: dict[str, Any] = {"urls": list(settings.turn_urls)}
        if settings.turn_secret:
            # coturn `use-auth-secret`: username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username))
            username = f"{int(time.time()) + settings.turn_ttl}:{user_id}"
            digest = hmac.new(settings.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
            entry.update(username=username, credential=base64.b64encode(digest).decode())
        servers.append(entry)
    return servers
