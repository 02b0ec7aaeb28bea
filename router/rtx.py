"""RFC 4588 retransmission packets on raw bytes.

A NACKed packet is resent to a consumer on its RTX stream (own SSRC, payload type and sequence)
with the original sequence number (OSN) in front of the payload; the header, CSRCs and header
extensions are kept, RTP padding is dropped (it carries nothing a retransmission needs), as
aiortc's `wrap_rtx` / `unwrap_rtx` do on parsed packets.
"""

from __future__ import annotations

import struct

from router.rtp_header import RtpInfo

__all__ = ["unwrap_rtx", "wrap_rtx"]

_OSN = struct.Struct("!H")
_REWRITE = struct.Struct("!BH")
_SSRC = struct.Struct("!I")


def wrap_rtx(packet: bytes, info: RtpInfo, rtx_ssrc: int, rtx_payload_type: int, rtx_sequence: int) -> bytes:
    """Build the RTX packet for `packet` (as sent to the consumer) on the consumer's RTX stream."""
    start = info.payload_start
    out = bytearray(start + 2 + info.payload_end - start)
    out[:start] = packet[:start]
    _OSN.pack_into(out, start, info.sequence)
    out[start + 2 :] = packet[start : info.payload_end]
    out[0] &= 0xDF  # no padding
    _REWRITE.pack_into(out, 1, (out[1] & 0x80) | rtx_payload_type, rtx_sequence)
    _SSRC.pack_into(out, 8, rtx_ssrc)
    return bytes(out)


def unwrap_rtx(
    buf: bytes | bytearray | memoryview, info: RtpInfo, media_payload_type: int, media_ssrc: int
) -> bytearray:
    """Recover the original media packet (sequence from the OSN); ValueError without an OSN."""
    start = info.payload_start
    if info.payload_end - start < 2:
        raise ValueError("RTX packet has no original sequence number")
    (osn,) = _OSN.unpack_from(buf, start)
    out = bytearray(buf[:start])
    out += buf[start + 2 : info.payload_end]
    out[0] &= 0xDF
    _REWRITE.pack_into(out, 1, (out[1] & 0x80) | media_payload_type, osn)
    _SSRC.pack_into(out, 8, media_ssrc)
    return out
