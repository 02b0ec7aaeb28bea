"""Builds real RTP packets with aiortc's own serializer, so the router is tested against a real encoder."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
TOFFSET = "urn:ietf:params:rtp-hdrext:toffset"
TWCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"


def ext_map(ids: dict[str, int]) -> HeaderExtensionsMap:
    params = RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for u, i in ids.items()]
    )
    m = HeaderExtensionsMap()
    m.configure(params)
    return m


def build(
    *,
    payload_type: int = 96,
    marker: int = 0,
    sequence: int = 1000,
    timestamp: int = 123456,
    ssrc: int = 0x11223344,
    payload: bytes = b"\x10\x00\x9d\x01\x2a" + bytes(range(40)),
    csrc: list[int] | None = None,
    padding: int = 0,
    ids: dict[str, int] | None = None,
    mid: str | None = None,
    abs_send_time: int | None = None,
    audio_level: tuple[bool, int] | None = None,
    transport_sequence_number: int | None = None,
    rtp_stream_id: str | None = None,
) -> bytes:
    pkt = RtpPacket(payload_type=payload_type, marker=marker, sequence_number=sequence,
                    timestamp=timestamp, ssrc=ssrc, payload=payload)
    pkt.csrc = list(csrc or [])
    pkt.padding_size = padding
    pkt.extensions.mid = mid
    pkt.extensions.abs_send_time = abs_send_time
    pkt.extensions.audio_level = audio_level
    pkt.extensions.transport_sequence_number = transport_sequence_number
    pkt.extensions.rtp_stream_id = rtp_stream_id
    return pkt.serialize(ext_map(ids or {}))
