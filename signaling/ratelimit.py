"""Per-connection token buckets, one per event class (chat, join, ice, everything else)."""

from __future__ import annotations

import time

from sfu.config import RateLimit, Settings

CATEGORY_BY_EVENT: dict[str, str] = {
    "chat:send": "chat",
    "video:join-room": "join",
    "video:ice-candidate": "ice",
}


class TokenBucket:
    """Classic token bucket; `take` never blocks, so an excess event is refused, not delayed."""

    def __init__(self, limit: RateLimit) -> None:
        self.capacity = float(limit.burst)
        self.rate = float(limit.per_second)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ConnectionLimiter:
    """The buckets of one connection; created at connect, dropped at disconnect."""

    def __init__(self, settings: Settings) -> None:
        self.buckets = {
            "chat": TokenBucket(settings.rate_chat),
            "join": TokenBucket(settings.rate_join),
            "ice": TokenBucket(settings.rate_ice),
            "default": TokenBucket(settings.rate_default),
        }

    def allow(self, event: str) -> bool:
        return self.buckets[CATEGORY_BY_EVENT.get(event, "default")].take()
