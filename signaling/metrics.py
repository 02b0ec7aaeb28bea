"""Prometheus metrics of the signaling layer, registered on the app's own registry."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class SignalingMetrics:
    def __init__(self, registry: CollectorRegistry, connections: Callable[[], float], rooms: Callable[[], float],
                 participants: Callable[[], float], redis_up: Callable[[], float]) -> None:
        self.handled = Counter("sfu_signaling_events_handled", "Client events handled successfully, by event",
                               ["event"], registry=registry)
        self.rejected = Counter("sfu_signaling_events_rejected", "Client events rejected, by event and error code",
                                ["event", "code"], registry=registry)
        gauges = {
            "sfu_signaling_connections": ("Open Socket.IO connections on this process", connections),
            "sfu_signaling_rooms": ("Rooms with at least one member connected to this process", rooms),
            "sfu_signaling_participants": ("Room members connected to this process", participants),
            "sfu_signaling_redis_up": ("1 when the state store is reachable (always 1 without Redis)", redis_up),
        }
        for name, (doc, fn) in gauges.items():
            Gauge(name, doc, registry=registry).set_function(fn)
