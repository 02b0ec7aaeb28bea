"""Recent packets sent to one consumer, kept to answer its NACKs.

A fixed ring indexed by sequence number: storing is two list assignments and never allocates,
and a lookup checks the stored sequence so an overwritten slot is never mistaken for a hit.
"""

from __future__ import annotations

__all__ = ["PacketHistory"]


class PacketHistory:
    """Ring buffer of the last `capacity` packets by (16-bit) sequence number."""

    __slots__ = ("_capacity", "_sequences", "_packets")

    def __init__(self, capacity: int = 1024) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._capacity = capacity
        self._sequences: list[int] = [-1] * capacity
        self._packets: list[bytes | None] = [None] * capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    def store(self, sequence: int, packet: bytes) -> None:
        """Keep `packet` (pass immutable bytes: the ring holds a reference, not a copy)."""
        slot = sequence % self._capacity
        self._sequences[slot] = sequence
        self._packets[slot] = packet

    def get(self, sequence: int) -> bytes | None:
        """The packet stored under `sequence`, or None when it was never stored or overwritten."""
        slot = sequence % self._capacity
        if self._sequences[slot] != sequence:
            return None
        return self._packets[slot]

    def clear(self) -> None:
        """Forget everything (release the packets) while keeping the allocation."""
        cap = self._capacity
        self._sequences[:] = [-1] * cap
        self._packets[:] = [None] * cap
