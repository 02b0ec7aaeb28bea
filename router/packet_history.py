"""Recent packets of one stream, kept to answer NACKs.

A fixed ring indexed by sequence number: storing is three list assignments and never allocates,
and a lookup checks the stored sequence so an overwritten slot is never mistaken for a hit. Each
packet keeps its arrival time: a retransmission that old is no use to anyone.
"""

from __future__ import annotations

__all__ = ["PacketHistory"]


class PacketHistory:
    """Ring buffer of the last `capacity` packets by (16-bit) sequence number."""

    __slots__ = ("_capacity", "_sequences", "_packets", "_times")

    def __init__(self, capacity: int = 1024) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._capacity = capacity
        self._sequences: list[int] = [-1] * capacity
        self._packets: list[bytes | None] = [None] * capacity
        self._times: list[float] = [0.0] * capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    def store(self, sequence: int, packet: bytes, at: float = 0.0) -> None:
        """Keep `packet` (pass immutable bytes: the ring holds a reference, not a copy), arrived `at`."""
        slot = sequence % self._capacity
        self._sequences[slot] = sequence
        self._packets[slot] = packet
        self._times[slot] = at

    def get(self, sequence: int) -> bytes | None:
        """The packet stored under `sequence`, or None when it was never stored or overwritten."""
        slot = sequence % self._capacity
        if self._sequences[slot] != sequence:
            return None
        return self._packets[slot]

    def stored_at(self, sequence: int) -> float | None:
        """When the packet under `sequence` was stored, or None when it is not held."""
        slot = sequence % self._capacity
        if self._sequences[slot] != sequence:
            return None
        return self._times[slot]

    def clear(self) -> None:
        """Forget everything (release the packets) while keeping the allocation."""
        cap = self._capacity
        self._sequences[:] = [-1] * cap
        self._packets[:] = [None] * cap
