"""Prometheus metrics of the media side, registered in the app's own registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from router.demux import FEEDBACK_KINDS

TOTALS = (
    "forwarded_packets", "forwarded_bytes", "received_packets", "received_bytes",
    "keyframe_requests", "nacks_sent", "retransmissions", "layer_switches", "dropped_datagrams",
    "stream_stalls", "malformed_packets",
)


class SfuMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.negotiation_seconds = Histogram(
            "sfu_negotiation_seconds", "Offer to applied answer, by who offered", ["initiator"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=registry,
        )
        self.producers_created = Counter("sfu_producers_created", "Producers created", registry=registry)
        self.consumers_created = Counter("sfu_consumers_created", "Consumers created", registry=registry)
        self.ice_restarts = Counter("sfu_ice_restarts", "ICE restarts asked by clients", registry=registry)
        self.server_offers = Counter("sfu_server_offers", "Offers the server sent (renegotiations)",
                                     registry=registry)
        self.registry = registry
        # counts of closed producers/consumers, so exported counters never go down
        self.retired: dict[str, int] = dict.fromkeys(TOTALS, 0)
        self.retired_layers: dict[int, int] = {}  # forwarded packets by simulcast layer index
        self.feedback_received: dict[str, int] = dict.fromkeys(FEEDBACK_KINDS, 0)

    def watch(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Expose live figures read from the rooms at scrape time (no per-packet metric updates)."""
        self.registry.register(_SnapshotCollector(snapshot))


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        data = self._snapshot()
        states = GaugeMetricFamily("sfu_connections", "Media connections by ICE and DTLS state",
                                   labels=["ice_state", "dtls_state"])
        for (ice, dtls), count in data["connection_states"].items():
            states.add_metric([ice, dtls], count)
        yield states
        yield GaugeMetricFamily("sfu_rooms", "Rooms with media", value=data["rooms"])
        yield GaugeMetricFamily("sfu_producers", "Published tracks being forwarded", value=data["producers"])
        yield GaugeMetricFamily("sfu_consumers", "Subscriptions (subscriber, producer)", value=data["consumers"])
        yield GaugeMetricFamily("sfu_consumers_paused_for_bandwidth",
                                "Videos a subscriber should get but its bandwidth budget does not allow",
                                value=data["paused_for_bandwidth"])
        by_layer = CounterMetricFamily("sfu_forwarded_packets_by_layer",
                                       "RTP packets sent to subscribers, by simulcast layer (0 = lowest)",
                                       labels=["layer"])
        for index, count in sorted(data["layer_packets"].items()):
            by_layer.add_metric([str(index)], count)
        yield by_layer
        for name, help_text in (
            ("forwarded_packets", "RTP packets sent to subscribers"),
            ("forwarded_bytes", "RTP bytes sent to subscribers"),
            ("received_packets", "RTP packets received from publishers"),
            ("received_bytes", "RTP bytes received from publishers"),
            ("keyframe_requests", "PLIs sent to publishers"),
            ("nacks_sent", "NACKs sent to publishers"),
            ("retransmissions", "Packets resent to subscribers in answer to NACKs"),
            ("layer_switches", "Simulcast layer switches made by consumers"),
            ("dropped_datagrams", "UDP datagrams dropped as malformed, unauthentic or not ours"),
            ("stream_stalls", "Incoming streams that went silent for a second and came back"),
            ("malformed_packets", "RTP packets from publishers that did not parse (dropped)"),
        ):
            yield CounterMetricFamily(f"sfu_{name}", help_text, value=data["totals"][name])
        received = CounterMetricFamily("sfu_rtcp_feedback_received", "RTCP feedback from subscribers", labels=["type"])
        for kind, count in data["feedback_received"].items():
            received.add_metric([kind], count)
        yield received
