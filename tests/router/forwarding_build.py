"""Producers and consumers wired to recording links, for the forwarding unit tests.

A `Wire` link records the bytes a connection would have sent (after the router, before SRTP), so
the tests assert on real packets: the router's whole job is which bytes go where.
"""

from __future__ import annotations

from rtp_build import ABS_SEND_TIME, AUDIO_LEVEL, MID, RID

from router.consumer import Consumer
from router.link import RetransmitBudget
from router.producer import CodecInfo, Producer
from router.rtt import RttEstimator

PUBLISHER_IDS = {MID: 4, ABS_SEND_TIME: 2, AUDIO_LEVEL: 1, RID: 10}
KEYFRAME = b"\x10\x00\x00\x00\x9d\x01\x2a\x80\x02\xe0\x01" + bytes(40)  # VP8 keyframe start, 640x480
DELTA = b"\x10\x01\x00\x00\x00" + bytes(40)  # VP8: start of partition 0, P bit 1
VP8 = CodecInfo("video/VP8", 90000, 96, 97)
OPUS = CodecInfo("audio/opus", 48000, 111)


class Wire:
    """A `Link` that records what the connection would have sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.rtcp: list[bytes] = []
        self.rtt = RttEstimator()
        self.retransmit_budget = RetransmitBudget()
        self.up = True  # False: the transport is not connected yet (nothing can be sent)

    def send_rtp(self, data: bytes) -> None:
        self.sent.append(data)

    def send_rtcp(self, data: bytes) -> bool:
        self.rtcp.append(data)
        return self.up




def video_producer(link: Wire | None = None, media_ssrc: int | None = 0x1111, kind: str = "video",
                   rtx_ssrc: int | None = 0x2222, rids: tuple[str, ...] = ()) -> Producer:
    codec = VP8 if kind == "video" else OPUS
    return Producer("p1", "alice", kind, "camera" if kind == "video" else "microphone", codec, dict(PUBLISHER_IDS),
                    link=link or Wire(), rtcp_ssrc=0xAAAA, rids=rids, media_ssrc=media_ssrc, rtx_ssrc=rtx_ssrc)


def simulcast_producer() -> Producer:
    """Three layers q/h/f with media SSRCs 0x10/0x20/0x30 and RTX SSRCs one above."""
    producer = video_producer(rids=("q", "h", "f"), media_ssrc=None, rtx_ssrc=None)
    for layer, ssrc in zip(producer.layers, (0x10, 0x20, 0x30), strict=True):
        layer.media_ssrc = ssrc
        layer.rtx_ssrc = ssrc + 1
    return producer


def consumer_of(producer: Producer | None, wire: Wire, ssrc: int = 0x5000, extensions: dict[str, int] | None = None,
                active: bool = True, layer: int | None = 0, kind: str = "video") -> Consumer:
    """A consumer forwarding `layer` of `producer` (None: nothing yet), accepted by its subscriber."""
    consumer = Consumer("c1", producer, "bob", ssrc=ssrc, payload_type=100, link=wire,
                        clock_rate=90000 if kind == "video" else 48000, kind=kind, rtx_ssrc=ssrc + 1,
                        rtx_payload_type=101, extensions=dict(PUBLISHER_IDS) if extensions is None else extensions)
    if producer is not None and layer is not None:
        consumer.set_target(producer.layers[layer])
    if active:
        consumer.activate()
    return consumer
