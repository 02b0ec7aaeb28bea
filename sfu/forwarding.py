"""What each subscriber is sent: the room-level rules applied to one participant at a time.

For every subscriber: which cameras (last-N: its view first, then speakers, then the longest in
the room; the dominant speaker always), which microphones (the loudest few), which layer of each
video (its tiles' sizes, then its bandwidth budget), and onto which receive slot each source goes.
The client is told what changed (`video:slots` before any packet of a new source reaches a slot,
`video:forwarding` for videos it does not get), and publishers are told which simulcast layers
nobody needs (`video:publisher-layers`), so their browsers stop encoding them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from router.allocation import VideoDemand
from router.layer import Layer
from router.producer import Producer
from router.selection import assign_slots, audio_set, video_set

if TYPE_CHECKING:
    from sfu.participant import Participant, ViewTile
    from sfu.room import Room

log = logging.getLogger(__name__)

THUMBNAIL = (320, 180)  # the size assumed for a video a page shows without having said how big
DEFAULT_TOP = (1280, 720)  # the size assumed for a simulcast's top layer before a keyframe told us
LOSSY = 0.02  # a subscriber reporting this share of packets lost may have videos paused for bandwidth


@dataclass
class VideoPlan:
    """One subscriber's video decisions, kept to tell the client and the publishers."""

    forwarded: list[Producer] = field(default_factory=list)
    layers: dict[str, int | None] = field(default_factory=dict)  # producer id -> layer index, None = paused
    wanted_layers: dict[str, int] = field(default_factory=dict)  # producer id -> layer its tile needs


def layer_sizes(producer: Producer) -> list[tuple[int, int]]:
    """Each layer's picture size: measured from keyframes, else scaled from the top layer's."""
    count = len(producer.layers)
    top = next(((layer.width, layer.height) for layer in reversed(producer.layers) if layer.width), None)
    top_index = next((layer.index for layer in reversed(producer.layers) if layer.width), count - 1)
    if top is None:
        top = DEFAULT_TOP
    sizes = []
    for layer in producer.layers:
        if layer.width:
            sizes.append((layer.width, layer.height))
        else:
            scale = 2 ** (top_index - layer.index)
            sizes.append((max(1, int(top[0] / scale)), max(1, int(top[1] / scale))))
    return sizes


def desired_layer(producer: Producer, tile: tuple[int, int] | None) -> int:
    """The smallest layer at least as big as the tile (the biggest when none is); no tile: the top."""
    top = len(producer.layers) - 1
    if tile is None:
        return top
    for index, (width, height) in enumerate(layer_sizes(producer)):
        if width >= tile[0] and height >= tile[1]:
            return index
    return top


def _layer_rate(layer: Layer, now: float) -> float | None:
    if not layer.active(now):
        return None
    return layer.bitrate_bps


def plan_video(room: Room, subscriber: Participant, now: float) -> VideoPlan:
    cameras: dict[str, Producer] = {}
    screens: list[Producer] = []
    for producer in room.producers():
        if producer.kind != "video" or producer.paused or producer.participant_id == subscriber.id:
            continue
        if producer.source == "screen":
            screens.append(producer)
        else:
            cameras.setdefault(producer.participant_id, producer)
    view = subscriber.view
    tiles: dict[tuple[str, str], ViewTile] = {(t.participant_id, t.source): t for t in view or ()}
    visible = [t.participant_id for t in view if t.source == "camera"] if view is not None else None
    dominant = room.active_speaker if room.active_speaker != subscriber.id else None
    chosen = video_set(room.settings.last_n, cameras, dominant, visible, room.recent_speakers, room.participants)
    forwarded = [*screens, *(cameras[pid] for pid in chosen)]

    def size_of(producer: Producer) -> tuple[int, int] | None:
        tile = tiles.get((producer.participant_id, producer.source))
        if tile is not None:
            return (tile.width, tile.height)
        return THUMBNAIL if view is not None else None

    def priority(item: tuple[int, Producer]) -> tuple[int, int, int]:
        order, producer = item
        size = size_of(producer)
        area = size[0] * size[1] if size is not None else 1 << 30
        return (0 if producer.source == "screen" else 1, -area, order)

    ordered = [p for _, p in sorted(enumerate(forwarded), key=priority)]
    plan = VideoPlan(forwarded=ordered)
    demands = []
    for producer in ordered:
        want = desired_layer(producer, size_of(producer))
        plan.wanted_layers[producer.id] = want
        demands.append(VideoDemand(producer.id, [_layer_rate(layer, now) for layer in producer.layers], want))
    budget = None
    connection = subscriber.connection
    if connection is not None:
        estimate, congested = connection.demux.subscriber_estimate(now)
        events = subscriber.downlink.congestion_events
        budget = subscriber.downlink.budget(estimate, congested, now)
        if subscriber.downlink.congestion_events != events:
            estimator = connection.demux.downlink_estimator
            log.info("event=downlink_congestion participant=%s estimate_kbps=%d sent_kbps=%d hold_s=%.0f source=%s "
                     "overuses=%d loss_decreases=%d", subscriber.id, (estimate or 0) / 1000,
                     connection.demux.sent_bps() / 1000, subscriber.downlink.hold_s,
                     "transport-cc" if estimator is not None and estimator.feedbacks else "remb",
                     estimator.overuses if estimator is not None else 0,
                     estimator.loss_decreases if estimator is not None else 0)
    losing = connection is not None and connection.demux.receiver_loss(now) >= LOSSY
    plan.layers = {str(k): v for k, v in subscriber.allocator.allocate(demands, budget, now, losing).items()}
    return plan


def plan_audio(room: Room, subscriber: Participant) -> list[Producer]:
    eligible = {p.participant_id: p for p in room.producers()
                if p.kind == "audio" and not p.paused and p.participant_id != subscriber.id}
    chosen = audio_set(room.settings.audio_last_n, subscriber.id, room.loudest_ranking, eligible, room.loudness,
                       subscriber.heard)
    dominant = room.active_speaker
    limit = room.settings.audio_last_n
    if limit and dominant in eligible and dominant not in chosen:
        chosen = [dominant, *chosen[: limit - 1]]
    subscriber.heard = chosen
    return [eligible[pid] for pid in chosen]


async def apply_plan(room: Room, subscriber: Participant, audio: list[Producer], video: VideoPlan | None) -> None:
    """Point the subscriber's consumers at what the plan says; slot changes are told first."""
    if subscriber.connection is None or not subscriber.client_offered:
        return
    if subscriber.slots:
        await _apply_slots(room, subscriber, audio, video)
    else:
        _apply_tracks(subscriber, audio, video)
    if video is not None:
        await _tell_forwarding(room, subscriber, video)


def _target(producer: Producer, index: int | None) -> Layer | None:
    if index is None or index >= len(producer.layers):
        return None
    return producer.layers[index]


def _apply_tracks(subscriber: Participant, audio: list[Producer], video: VideoPlan | None) -> None:
    hear = {p.id for p in audio}
    for sub in subscriber.subscriptions.values():
        consumer = sub.consumer
        if consumer is None or consumer.producer is None:
            continue
        producer = consumer.producer
        if producer.kind == "audio":
            consumer.set_target(producer.layers[0] if producer.id in hear else None)
        elif video is not None:
            consumer.set_target(_target(producer, video.layers.get(producer.id)))


async def _apply_slots(room: Room, subscriber: Participant, audio: list[Producer], video: VideoPlan | None) -> None:
    changed = False
    targets: list[tuple[Any, Layer | None]] = []
    for kind, wanted in (("audio", audio), ("video", video.forwarded if video is not None else None)):
        if wanted is None:
            continue
        slots = [slot for slot in subscriber.slots if slot.kind == kind]
        by_id = {p.id: p for p in wanted}
        current = [slot.producer.id if slot.producer is not None and not slot.producer.closed else None
                   for slot in slots]
        assigned = assign_slots(current, list(by_id))
        for slot, producer_id in zip(slots, assigned, strict=True):
            producer = by_id.get(producer_id) if producer_id is not None else None
            if producer is not slot.producer:
                slot.consumer.set_producer(producer)
                changed = True
            if producer is None:
                continue
            if kind == "audio":
                targets.append((slot.consumer, producer.layers[0]))
            else:
                assert video is not None
                targets.append((slot.consumer, _target(producer, video.layers.get(producer.id))))
    slots_state = [
        {"mid": slot.mid, "kind": slot.kind,
         "participantId": slot.producer.participant_id if slot.producer is not None else None,
         "source": slot.producer.source if slot.producer is not None else None}
        for slot in subscriber.slots
    ]
    if changed or slots_state != subscriber.told_slots:
        subscriber.told_slots = slots_state
        await room.notifier.to_participant(subscriber.id, "video:slots", {"roomId": room.id, "slots": slots_state})
    for consumer, layer in targets:
        if consumer.producer is not None and (layer is None or layer.producer is consumer.producer):
            consumer.set_target(layer)


async def _tell_forwarding(room: Room, subscriber: Participant, video: VideoPlan) -> None:
    """Which of the others' videos this subscriber gets, and why not: pages show a paused tile
    (bandwidth) or initials (not among the last N) instead of a frozen frame."""
    now = time.monotonic()
    in_slot = {slot.producer.id for slot in subscriber.slots if slot.producer is not None} if subscriber.slots else None
    forwarded = {p.id for p in video.forwarded}
    states = []
    for producer in room.producers():
        if producer.kind != "video" or producer.paused or producer.participant_id == subscriber.id:
            continue
        layer = _target(producer, video.layers.get(producer.id))
        if producer.id not in forwarded or (in_slot is not None and producer.id not in in_slot):
            state = "not-forwarded"
        elif layer is None and not any(candidate.active(now) for candidate in producer.layers):
            state = "waiting"  # nothing arrives from the publisher yet (just started, or stalled)
        elif layer is None:
            state = "paused-bandwidth"
        else:
            state = "forwarded"
        entry: dict[str, Any] = {"participantId": producer.participant_id, "source": producer.source, "state": state}
        if layer is not None:
            sizes = layer_sizes(producer)
            entry["width"], entry["height"] = sizes[layer.index]
            entry["layer"] = layer.index
        states.append(entry)
    states.sort(key=lambda e: (e["participantId"], e["source"]))
    if states != subscriber.told_forwarding:
        subscriber.told_forwarding = states
        await room.notifier.to_participant(subscriber.id, "video:forwarding", {"roomId": room.id, "videos": states})


def forwarded_layers(producer: Producer) -> set[int]:
    """The layers some consumer still forwards. They stay on even when no plan needs them any more: a
    switch down waits for the target's keyframe, and a layer switched off before it comes leaves the
    subscriber with nothing."""
    return {layer.index for layer in producer.layers if layer.consumers}


def needed_layers(producer: Producer, plans: Iterable[VideoPlan], now: float) -> set[int]:
    """The layers of a simulcast producer that some subscriber gets, or whose tile needs one that is
    not being sent (the lowest always stays on, so a newly shown video starts within a round trip)."""
    needed = {0}
    for plan in plans:
        index = plan.layers.get(producer.id)
        if index is not None:
            needed.add(index)
        want = plan.wanted_layers.get(producer.id)
        if want is not None and want > (index if index is not None else -1) and not producer.layers[want].active(now):
            # the layer its tile needs is off: turn it on, and keep the ones between as stand-ins
            needed.update(range((index if index is not None else 0) + 1, want + 1))
    return needed
