"""Keyframe detection on RTP payloads, without decoding.

A consumer that starts, resumes or switches source must not be sent delta frames it cannot
decode; it waits for the first packet that starts a keyframe. Only a few payload bytes are read.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["is_keyframe", "vp8_keyframe_size"]

_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28


def _vp8_frame_start(payload: bytes | memoryview) -> int | None:
    """Offset of the VP8 frame header when this packet starts a frame (S=1, partition 0), else None."""
    n = len(payload)
    if n < 1:
        return None
    b = payload[0]
    if not b & 0x10 or b & 0x0F:  # S bit clear, or not partition 0
        return None
    pos = 1
    if b & 0x80:  # X: extended control bits
        if n < 2:
            return None
        x = payload[1]
        pos = 2
        if x & 0x80:  # I: picture ID, 7 or 15 bits (M flag)
            if n <= pos:
                return None
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            pos += 1
        if x & 0x30:  # T or K share one byte
            pos += 1
    return pos if n > pos else None


def _vp8(payload: bytes | memoryview) -> bool:
    """RFC 7741: a keyframe starts partition 0 (S=1, PID=0) with P=0 in the VP8 payload header."""
    pos = _vp8_frame_start(payload)
    return pos is not None and not payload[pos] & 0x01


def vp8_keyframe_size(payload: bytes | memoryview) -> tuple[int, int] | None:
    """(width, height) from the first packet of a VP8 keyframe (RFC 6386 9.1), else None.

    Simulcast layers are told apart by size: a subscriber gets the smallest layer that fills its tile.
    """
    pos = _vp8_frame_start(payload)
    if pos is None or payload[pos] & 0x01 or len(payload) < pos + 10:
        return None
    if bytes(payload[pos + 3 : pos + 6]) != b"\x9d\x01\x2a":
        return None
    width = (payload[pos + 6] | payload[pos + 7] << 8) & 0x3FFF
    height = (payload[pos + 8] | payload[pos + 9] << 8) & 0x3FFF
    return (width, height) if width and height else None


def _h264(payload: bytes | memoryview) -> bool:
    """RFC 6184: IDR slice or SPS, alone, inside a STAP-A, or starting an FU-A."""
    n = len(payload)
    if n < 1:
        return False
    nal = payload[0] & 0x1F
    if nal == _H264_IDR or nal == _H264_SPS:
        return True
    if nal == _H264_STAP_A:
        pos = 1
        while pos + 2 < n:
            size = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if size == 0 or pos + size > n:
                return False
            inner = payload[pos] & 0x1F
            if inner == _H264_IDR or inner == _H264_SPS:
                return True
            pos += size
        return False
    if nal == _H264_FU_A:
        if n < 2:
            return False
        fu = payload[1]
        return bool(fu & 0x80) and (fu & 0x1F) in (_H264_IDR, _H264_SPS)
    return False


_CHECKS: dict[str, Callable[[bytes | memoryview], bool]] = {
    "video/vp8": _vp8,
    "video/h264": _h264,
}


def is_keyframe(codec_mime: str, payload: bytes | memoryview) -> bool:
    """True when `payload` (the RTP payload, after header and extensions) starts a keyframe.

    Audio is always True (every packet decodes on its own). An unknown video codec is also
    True: forwarding a few undecodable frames is better than a consumer waiting forever.
    """
    check = _CHECKS.get(codec_mime) or _CHECKS.get(codec_mime.lower())
    if check is None:
        return True
    return check(payload)
