"""VP8 picture IDs and TL0PICIDX kept continuous across a consumer's source switches.

Each simulcast layer, and each publisher a receive slot carries, numbers its VP8 frames on its
own. A receiver uses these numbers to find lost frames and frame references; a jump at a switch
made Firefox ESR stop decoding a Chromium camera until the numbers caught up. Like the RTP sequence
numbers, they get an offset chosen at each switch, so the subscriber sees one stream. Only bytes of
the VP8 payload descriptor change (RFC 7741 section 4.2); the payload length never does.
"""

from __future__ import annotations

__all__ = ["Vp8Numbering", "descriptor_fields"]

_PID15 = 0x7FFF
_PID7 = 0x7F


def _payload_start(packet: bytes) -> int:
    """Where an RTP packet's payload starts (after CSRCs and the header extension), or -1."""
    start = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        if len(packet) < start + 4:
            return -1
        start += 4 + 4 * ((packet[start + 2] << 8) | packet[start + 3])
    return start if start < len(packet) else -1


def descriptor_fields(packet: bytes) -> tuple[int, bool, int] | None:
    """(picture ID position or -1, whether it has 15 bits, TL0PICIDX position or -1) in an RTP packet
    carrying VP8; None when the descriptor has neither or is cut short."""
    pos = _payload_start(packet)
    if pos < 0 or not packet[pos] & 0x80:  # no X byte: no picture ID, no TL0PICIDX
        return None
    n = len(packet)
    if pos + 1 >= n:
        return None
    x = packet[pos + 1]
    pos += 2
    pid_pos, wide = -1, False
    if x & 0x80:  # I
        if pos >= n:
            return None
        pid_pos, wide = pos, bool(packet[pos] & 0x80)
        pos += 2 if wide else 1
    tl0_pos = -1
    if x & 0x40:  # L
        tl0_pos = pos
        pos += 1
    if pid_pos < 0 and tl0_pos < 0 or pos > n:
        return None
    return pid_pos, wide, tl0_pos


def _picture_id(packet: bytes, pos: int, wide: bool) -> int:
    return ((packet[pos] & 0x7F) << 8 | packet[pos + 1]) if wide else packet[pos] & 0x7F


class Vp8Numbering:
    """One consumer's offsets. `switch` at the first packet of a new source, `rewrite` on every packet."""

    __slots__ = ("pid_offset", "tl0_offset", "_last_pid", "_last_tl0")

    def __init__(self) -> None:
        self.pid_offset = 0
        self.tl0_offset = 0
        self._last_pid: int | None = None  # the last numbers sent, after rewriting
        self._last_tl0: int | None = None

    def switch(self, packet: bytes) -> None:
        """`packet` starts a new source (a keyframe): its numbers follow the last ones sent."""
        fields = descriptor_fields(packet)
        if fields is None:
            return
        pid_pos, wide, tl0_pos = fields
        if pid_pos >= 0 and self._last_pid is not None:
            self.pid_offset = (self._last_pid + 1 - _picture_id(packet, pid_pos, wide)) & _PID15
        if tl0_pos >= 0 and self._last_tl0 is not None:
            self.tl0_offset = (self._last_tl0 + 1 - packet[tl0_pos]) & 0xFF

    def rewrite(self, packet: bytes) -> bytes:
        """`packet` with the current offsets applied; the numbers sent are remembered."""
        fields = descriptor_fields(packet)
        if fields is None:
            return packet
        pid_pos, wide, tl0_pos = fields
        if pid_pos >= 0:
            pid = _picture_id(packet, pid_pos, wide)
            self._last_pid = (pid + self.pid_offset) & (_PID15 if wide else _PID7)
        if tl0_pos >= 0:
            self._last_tl0 = (packet[tl0_pos] + self.tl0_offset) & 0xFF
        return apply_offsets(packet, fields, self.pid_offset, self.tl0_offset)


def apply_offsets(packet: bytes, fields: tuple[int, bool, int] | None, pid_offset: int, tl0_offset: int) -> bytes:
    """`packet` with its picture ID and TL0PICIDX moved by the offsets (a retransmission uses its run's)."""
    if fields is None or not pid_offset and not tl0_offset:
        return packet
    pid_pos, wide, tl0_pos = fields
    out = bytearray(packet)
    if pid_pos >= 0 and pid_offset:
        if wide:
            pid = (_picture_id(packet, pid_pos, True) + pid_offset) & _PID15
            out[pid_pos] = 0x80 | pid >> 8
            out[pid_pos + 1] = pid & 0xFF
        else:
            out[pid_pos] = (packet[pid_pos] + pid_offset) & _PID7
    if tl0_pos >= 0 and tl0_offset:
        out[tl0_pos] = (packet[tl0_pos] + tl0_offset) & 0xFF
    return bytes(out)
