"""sfu.forwarding: which simulcast layers a publisher must keep sending (dynacast)."""

from __future__ import annotations

from forwarding_build import DELTA, KEYFRAME, Wire, consumer_of, video_producer
from rtp_build import build

from sfu.forwarding import VideoPlan, forwarded_layers, needed_layers


def test_a_layer_a_consumer_still_forwards_during_a_switch_down_is_known():
    producer = video_producer(rids=("q", "h", "f"), media_ssrc=None, rtx_ssrc=None)
    for layer, ssrc in zip(producer.layers, (0x10, 0x20, 0x30), strict=True):
        layer.media_ssrc = ssrc
        layer.receive(build(sequence=1, timestamp=0, ssrc=ssrc, payload=KEYFRAME))
    consumer = consumer_of(producer, Wire(), layer=2)
    producer.layers[2].receive(build(sequence=2, timestamp=3000, ssrc=0x30, payload=KEYFRAME))
    assert consumer.layer is producer.layers[2]
    plan = VideoPlan(forwarded=[producer], layers={producer.id: 0}, wanted_layers={producer.id: 0})
    consumer.set_target(producer.layers[0])  # the tile got small: down to q at q's next keyframe
    assert needed_layers(producer, [plan], 10.0) == {0}  # no plan needs f any more...
    assert forwarded_layers(producer) == {2}  # ... but it is still what the subscriber sees
    producer.layers[0].receive(build(sequence=2, timestamp=3000, ssrc=0x10, payload=KEYFRAME))
    producer.layers[2].receive(build(sequence=3, timestamp=6000, ssrc=0x30, payload=DELTA))
    assert consumer.layer is producer.layers[0]
    assert forwarded_layers(producer) == {0}  # switched: f may stop
