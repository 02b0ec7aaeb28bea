"""A producer with consumers whose sends are recorded, for the forwarding unit tests."""

from __future__ import annotations

from rtp_build import ABS_SEND_TIME, AUDIO_LEVEL, MID

from router.consumer import Consumer
from router.producer import CodecInfo, Producer

PUBLISHER_IDS = {MID: 4, ABS_SEND_TIME: 2, AUDIO_LEVEL: 1}
KEYFRAME = b"\x10\x00\x9d\x01\x2a" + bytes(40)  # VP8: start of partition 0, P bit 0
DELTA = b"\x10\x01\x00\x00\x00" + bytes(40)  # VP8: start of partition 0, P bit 1


class Wire:
    """Collects what a connection would have sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.sent.append(data)


def video_producer(rtcp: Wire | None = None, media_ssrc: int | None = 0x1111, kind: str = "video",
                   rtx_ssrc: int | None = 0x2222) -> Producer:
    codec = CodecInfo("video/VP8", 90000, 96, 97) if kind == "video" else CodecInfo("audio/opus", 48000, 111)
    return Producer("p1", "alice", kind, "camera" if kind == "video" else "microphone", codec, dict(PUBLISHER_IDS),
                    send_rtcp=rtcp or Wire(), rtcp_ssrc=0xAAAA, media_ssrc=media_ssrc, rtx_ssrc=rtx_ssrc)


def consumer_of(producer: Producer, wire: Wire, ssrc: int = 0x5000, id_map: dict[int, int] | None = None,
                active: bool = True) -> Consumer:
    consumer = Consumer("c1", producer, "bob", ssrc=ssrc, payload_type=100, send_rtp=wire, rtx_ssrc=ssrc + 1,
                        rtx_payload_type=101, extension_id_map=id_map)
    producer.add_consumer(consumer)
    if active:
        consumer.active = True
    return consumer
