"""router.packet_history.PacketHistory: hits, overwrites, wraparound, clear."""

from __future__ import annotations

import pytest

from router.packet_history import PacketHistory


def test_store_and_get():
    h = PacketHistory(16)
    h.store(5, b"five")
    assert h.get(5) == b"five"
    assert h.get(6) is None
    assert h.get(5 + 16) is None  # same slot, different sequence


def test_overwritten_slot_misses():
    h = PacketHistory(16)
    h.store(5, b"old")
    h.store(21, b"new")
    assert h.get(5) is None
    assert h.get(21) == b"new"


def test_default_capacity_across_16_bit_wrap():
    h = PacketHistory()
    assert h.capacity == 1024
    seqs = [(65000 + i) & 0xFFFF for i in range(2000)]
    for s in seqs:
        h.store(s, s.to_bytes(2, "big"))
    for s in seqs[-1024:]:
        assert h.get(s) == s.to_bytes(2, "big")
    for s in seqs[:-1024]:
        assert h.get(s) is None


def test_capacity_not_dividing_seq_space():
    h = PacketHistory(1000)
    seqs = [(65300 + i) & 0xFFFF for i in range(900)]
    for s in seqs:
        h.store(s, bytes([s & 0xFF]))
    # wrap makes slots collide irregularly; whatever is returned must be the right packet
    for s in seqs:
        got = h.get(s)
        assert got is None or got == bytes([s & 0xFF])
    assert h.get(seqs[-1]) == bytes([seqs[-1] & 0xFF])


def test_clear():
    h = PacketHistory(8)
    h.store(1, b"x")
    h.clear()
    assert h.get(1) is None
    h.store(1, b"y")
    assert h.get(1) == b"y"


def test_invalid_capacity():
    with pytest.raises(ValueError):
        PacketHistory(0)


def test_each_packet_keeps_its_arrival_time_until_overwritten():
    h = PacketHistory(8)
    h.store(3, b"a", 10.5)
    h.store(4, b"b")
    assert h.stored_at(3) == 10.5 and h.stored_at(4) == 0.0 and h.stored_at(5) is None
    h.store(11, b"c", 12.0)  # same slot as 3
    assert h.stored_at(3) is None and h.stored_at(11) == 12.0
