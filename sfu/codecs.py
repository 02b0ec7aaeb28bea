"""Which codecs and header extensions each m-line uses, decided once per room and per connection.

The first publisher fixes the room's video codec (VP8 preferred, H.264 when that is all it offers);
every later member must be able to receive it. Server-created m-lines reuse the payload types and
extension IDs the client itself used, so a browser's BUNDLE group never sees a reassignment.
"""

from __future__ import annotations

import copy

from aiortc.codecs import CODECS, HEADER_EXTENSIONS, is_rtx
from aiortc.rtcpeerconnection import find_common_codecs
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters
from aiortc.sdp import MediaDescription

from router.header_extensions import REPAIRED_RID_URI, RID_URI, TRANSPORT_CC_URI
from router.producer import CodecInfo
from sfu.api import MediaError

SUPPORTED_VIDEO = ("VP8", "H264")  # in order of preference
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
# What a publisher's m-line may carry toward us: the router reads the mid and rids (to bind
# streams) and audio levels (speakers); abs-send-time is forwarded for the subscribers' estimators.
# Transport-wide sequence numbers let the publisher's browser run its own congestion control on our
# feedback (router/twcc.py), as in a direct call.
PUBLISH_URIS = {
    "audio": (MID_URI, AUDIO_LEVEL_URI, TRANSPORT_CC_URI),
    "video": (MID_URI, ABS_SEND_TIME_URI, RID_URI, REPAIRED_RID_URI, TRANSPORT_CC_URI),
}
# Opus from publishers: in-band FEC (the receiver conceals loss better) and DTX (a silent member
# sends a packet every 400 ms instead of every 20 ms, which a 50-person room needs).
OPUS_PUBLISH_PARAMETERS: dict[str, int | str] = {"minptime": 10, "useinbandfec": 1, "usedtx": 1}
# Where a browser's congestion control starts (kbit/s): its default (300) takes many seconds to reach
# a simulcast top layer; transport-cc feedback brings it down at once if the uplink cannot carry it.
VIDEO_START_KBPS = 1000


def codec_name(codec: RTCRtpCodecParameters) -> str:
    return codec.mimeType.split("/", 1)[1].upper()


def common_codecs(media: MediaDescription) -> list[RTCRtpCodecParameters]:
    """What aiortc can negotiate from this m-line, with the client's payload types."""
    return find_common_codecs(CODECS[media.kind], media.rtp.codecs)


def choose_room_video_codec(offered: list[RTCRtpCodecParameters]) -> str | None:
    names = {codec_name(c) for c in offered if not is_rtx(c)}
    return next((name for name in SUPPORTED_VIDEO if name in names), None)


def restrict_to(codecs: list[RTCRtpCodecParameters], name: str) -> list[RTCRtpCodecParameters]:
    """Keep the first codec called `name` (video: first matching profile) and its RTX."""
    main = next((c for c in codecs if not is_rtx(c) and codec_name(c) == name), None)
    if main is None:
        return []
    rtx = next((c for c in codecs if is_rtx(c) and c.parameters.get("apt") == main.payloadType), None)
    return [main, rtx] if rtx is not None else [main]


def require_codec(codecs: list[RTCRtpCodecParameters], kind: str, room_video_codec: str | None) -> list[RTCRtpCodecParameters]:
    name = "OPUS" if kind == "audio" else room_video_codec
    if name is None:
        raise MediaError("conflict", "no supported video codec offered (the server supports VP8 and H264)")
    chosen = restrict_to(codecs, name)
    if not chosen:
        raise MediaError(
            "conflict",
            f"this room's {kind} codec is {'Opus' if kind == 'audio' else name}, which your client did not offer",
        )
    return chosen


def codec_info(codecs: list[RTCRtpCodecParameters]) -> CodecInfo:
    main = codecs[0]
    rtx = next((c for c in codecs if is_rtx(c)), None)
    return CodecInfo(
        mime_type=main.mimeType,
        clock_rate=main.clockRate,
        payload_type=main.payloadType,
        rtx_payload_type=rtx.payloadType if rtx is not None else None,
        channels=main.channels,
        fmtp=dict(main.parameters),
    )


def default_codecs(kind: str, name: str) -> list[RTCRtpCodecParameters]:
    """aiortc's own payload types, for a kind the client never offered."""
    return [copy.deepcopy(c) for c in restrict_to(CODECS[kind], name)]


def extension_ids(client_ids: dict[str, int], kind: str, transport_cc: bool = False) -> list[RTCRtpHeaderExtensionParameters]:
    """aiortc's extensions for `kind` with the client's IDs; a new ID only where the client had none.

    `transport_cc`: also transport-wide sequence numbers, when the client offered them with a one-byte
    ID (its ID, which is then the same on every m-line of the bundle).
    """
    used = set(client_ids.values())
    result: list[RTCRtpHeaderExtensionParameters] = []
    for ext in HEADER_EXTENSIONS[kind]:
        ext_id = client_ids.get(ext.uri)
        if ext_id is None:
            ext_id = next((i for i in range(1, 15) if i not in used), None)
            if ext_id is None:
                continue  # the client used every one-byte ID: this extension goes without
            used.add(ext_id)
        result.append(RTCRtpHeaderExtensionParameters(id=ext_id, uri=ext.uri))
    # only a one-byte ID: the server adds the element to blocks of either form (a two-byte-only ID, which
    # `extmap-allow-mixed` permits, would not fit a browser's one-byte blocks)
    if transport_cc and 1 <= client_ids.get(TRANSPORT_CC_URI, 0) <= 14:
        result.append(RTCRtpHeaderExtensionParameters(id=client_ids[TRANSPORT_CC_URI], uri=TRANSPORT_CC_URI))
    return result


def publish_extensions(offered: dict[str, int], kind: str, transport_cc: bool) -> list[RTCRtpHeaderExtensionParameters]:
    """The extensions we accept on a published m-line, with the publisher's own IDs."""
    return [RTCRtpHeaderExtensionParameters(id=offered[uri], uri=uri) for uri in PUBLISH_URIS[kind]
            if uri in offered and (transport_cc or uri != TRANSPORT_CC_URI)]


def with_publish_parameters(codecs: list[RTCRtpCodecParameters]) -> list[RTCRtpCodecParameters]:
    """Our answer's format parameters for what a participant publishes (Opus FEC/DTX, video start rate)."""
    out = [copy.deepcopy(c) for c in codecs]
    for codec in out:
        name = codec_name(codec)
        if name == "OPUS":
            codec.parameters = {**codec.parameters, **OPUS_PUBLISH_PARAMETERS}
        elif name in SUPPORTED_VIDEO:
            codec.parameters = {**codec.parameters, "x-google-start-bitrate": VIDEO_START_KBPS}
    return out


def with_transport_cc(codecs: list[RTCRtpCodecParameters], offered: MediaDescription) -> list[RTCRtpCodecParameters]:
    """Add `transport-cc` feedback to the codecs whose offer asked for it (aiortc drops it)."""
    wants = {c.payloadType for c in offered.rtp.codecs if any(f.type == "transport-cc" for f in c.rtcpFeedback)}
    out = [copy.deepcopy(c) for c in codecs]
    for codec in out:
        if codec.payloadType in wants and not is_rtx(codec):
            codec.rtcpFeedback = [*codec.rtcpFeedback, RTCRtcpFeedback(type="transport-cc")]
    return out
