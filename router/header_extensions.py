"""RTP header extensions (RFC 8285) for forwarding: ID remapping, lookup, audio level.

Publishers (browsers) pick their own extension IDs; each consumer negotiated its own. A block
is passed through untouched when the IDs agree (`forward_id_map` returns None) and otherwise
rewritten per consumer. Elements are located by offset, without copying them; re-encoding a
block whose shape changes uses aiortc's `pack_header_extensions`. aiortc's
`unpack_header_extensions` is not used for reading: it copies every value and does not stop at
the reserved one-byte ID 15 as RFC 8285 section 4.2 requires.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from aiortc.rtp import pack_header_extensions

from router.rtp_header import RtpInfo

__all__ = ["find_extension", "forward_id_map", "read_audio_level", "rewrite_extensions", "with_transport_sequence"]

ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000  # low 4 bits are "appbits"

_EXT_HEADER = struct.Struct("!HH")
_ONE_BYTE_ELEMENT = struct.Struct("!BHB")
_TWO_BYTE_ELEMENT = struct.Struct("!BBH")

Buffer = bytes | bytearray | memoryview


MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
# Named for the publisher's side of the path only: the mid names the publisher's m-line (subscribers
# demultiplex by SSRC), rids name simulcast layers (a consumer's stream is one stream), and
# transport-wide sequence numbers count the publisher's transport, not the subscriber's.
NOT_FORWARDED = frozenset({MID_URI, RID_URI, REPAIRED_RID_URI, TRANSPORT_CC_URI})


def forward_id_map(publisher: dict[str, int], consumer: dict[str, int]) -> dict[int, int] | None:
    """Publisher ID -> consumer ID for the extensions forwarded; None when the block can pass unchanged."""
    mapping = {pid: consumer[uri] for uri, pid in publisher.items() if uri not in NOT_FORWARDED and uri in consumer}
    if len(mapping) == len(publisher) and all(k == v for k, v in mapping.items()):
        return None
    return mapping


def _elements(buf: Buffer, info: RtpInfo) -> Iterator[tuple[int, int, int]]:
    """Yield (id, value_start, value_end) for each element; stop quietly at malformed data."""
    profile = info.extension_profile
    pos = info.extension_start
    end = info.extension_end
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            b = buf[pos]
            if b == 0:
                pos += 1
                continue
            ext_id = b >> 4
            if ext_id == 15:
                return
            start = pos + 1
            pos = start + (b & 0x0F) + 1
            if pos > end:
                return
            yield ext_id, start, pos
    elif profile & 0xFFF0 == TWO_BYTE_PROFILE:
        while pos < end:
            ext_id = buf[pos]
            if ext_id == 0:
                pos += 1
                continue
            if pos + 2 > end:
                return
            start = pos + 2
            pos = start + buf[pos + 1]
            if pos > end:
                return
            yield ext_id, start, pos


def _locate(buf: Buffer, info: RtpInfo, ext_id: int) -> tuple[int, int] | None:
    """(value_start, value_end) of `ext_id`; the loop of `_elements` inlined (per audio packet)."""
    profile = info.extension_profile
    pos = info.extension_start
    end = info.extension_end
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            b = buf[pos]
            if b == 0:
                pos += 1
                continue
            x_id = b >> 4
            if x_id == 15:
                return None
            start = pos + 1
            pos = start + (b & 0x0F) + 1
            if pos > end:
                return None
            if x_id == ext_id:
                return start, pos
        return None
    for x_id, start, stop in _elements(buf, info):
        if x_id == ext_id:
            return start, stop
    return None


def find_extension(buf: Buffer, info: RtpInfo, ext_id: int) -> memoryview | bytes | None:
    """The value of extension `ext_id`, or None when absent (a memoryview for memoryview input)."""
    if info.extension_start == info.extension_end:
        return None
    where = _locate(buf, info, ext_id)
    if where is None:
        return None
    value = buf[where[0] : where[1]]
    return bytes(value) if isinstance(value, bytearray) else value


def read_audio_level(buf: Buffer, info: RtpInfo, ext_id: int) -> tuple[bool, int] | None:
    """RFC 6464 audio level: (voice activity flag, level 0..127 meaning -dBov), or None."""
    if info.extension_start == info.extension_end:
        return None
    where = _locate(buf, info, ext_id)
    if where is None or where[0] == where[1]:
        return None
    b = buf[where[0]]
    return b >= 0x80, b & 0x7F


def rewrite_extensions(buf: bytes | bytearray, info: RtpInfo, id_map: dict[int, int]) -> bytearray:
    """Return a copy of the packet with extension IDs remapped and unmapped elements dropped.

    One-byte blocks (what browsers send) are patched in the copy: IDs rewritten in place, dropped
    elements overwritten with zero bytes, which RFC 8285 defines as padding, so nothing moves.
    Anything else is re-encoded, re-padded to 32 bits (X bit cleared when nothing is left), in the
    one-byte form whenever it fits, since a consumer may not have negotiated two-byte headers.
    """
    csrc_end = 12 + ((buf[0] & 0x0F) << 2)
    if not buf[0] & 0x10:
        return bytearray(buf)
    elements = list(_elements(buf, info))
    if info.extension_profile == ONE_BYTE_PROFILE and any(x_id in id_map for x_id, _, _ in elements):
        for x_id, _, _ in elements:
            new_id = id_map.get(x_id)
            if new_id is not None and new_id > 14:
                break
        else:
            out = bytearray(buf)
            for x_id, start, stop in elements:
                new_id = id_map.get(x_id)
                if new_id is None:
                    out[start - 1 : stop] = bytes(stop - start + 1)
                else:
                    out[start - 1] = (new_id << 4) | (out[start - 1] & 0x0F)
            return out
    kept = [(id_map[x_id], bytes(buf[s:e])) for x_id, s, e in elements if x_id in id_map]
    profile, value = pack_header_extensions(kept)
    out = bytearray(buf[:csrc_end])
    if value:
        out += _EXT_HEADER.pack(profile, len(value) >> 2)
        out += value
    else:
        out[0] &= 0xEF
    out += buf[info.payload_start :]
    return out


def with_transport_sequence(packet: bytes, ext_id: int, sequence: int) -> bytes:
    """A copy of `packet` carrying a transport-wide sequence number (extension `ext_id`, 1..14).

    The element is appended to the block, after any padding (RFC 8285 allows padding bytes
    between elements), and the block re-padded: one copy, no re-encoding, per packet sent to a
    subscriber that gives transport-wide feedback. A block of an unknown profile is left alone.
    Forwarded packets never carry this extension already: `NOT_FORWARDED` drops the publisher's.
    """
    b0 = packet[0]
    pos = 12 + ((b0 & 0x0F) << 2)
    sequence &= 0xFFFF
    if not b0 & 0x10:
        return b"".join((bytes((b0 | 0x10,)), packet[1:pos], _EXT_HEADER.pack(ONE_BYTE_PROFILE, 1),
                         _ONE_BYTE_ELEMENT.pack((ext_id << 4) | 1, sequence, 0), packet[pos:]))
    profile, words = _EXT_HEADER.unpack_from(packet, pos)
    end = pos + 4 + (words << 2)
    if profile == ONE_BYTE_PROFILE:
        element = _ONE_BYTE_ELEMENT.pack((ext_id << 4) | 1, sequence, 0)  # id/length, value, one padding byte
    elif profile & 0xFFF0 == TWO_BYTE_PROFILE:
        element = _TWO_BYTE_ELEMENT.pack(ext_id, 2, sequence)
    else:
        return packet
    return packet[:pos] + _EXT_HEADER.pack(profile, words + 1) + packet[pos + 4 : end] + element + packet[end:]
