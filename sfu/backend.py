"""The SFU media backend: rooms of participants whose tracks are forwarded to each other.

Implements `sfu.api.MediaBackend` for signaling. Rooms live in this process only (their packet
path is in memory); signaling makes sure a room's members reach the process that owns it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from typing import Any

from prometheus_client import CollectorRegistry

from sfu.api import MediaError, MediaSource, Notifier
from sfu.config import Settings
from sfu.connection import install_receive_fast_path
from sfu.ice import install_ice_policy
from sfu.media_status import MediaStatusBoard
from sfu.metrics import TOTALS, SfuMetrics
from sfu.participant import Participant
from sfu.room import Room

log = logging.getLogger("sfu.backend")

FAST_TICK = 0.02  # NACK retries: re-requests go out about once per round trip, so the clock must be finer
PAUSE_SECONDS = 2.0  # the fast clock late by this much: the process was paused, not merely busy


class SfuBackend:
    def __init__(self, settings: Settings, notifier: Notifier, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.notifier = notifier
        self.rooms: dict[str, Room] = {}
        self.metrics = SfuMetrics(registry)
        self.metrics.watch(self.snapshot)
        self.media_status = MediaStatusBoard(notifier)
        install_ice_policy(settings)
        if settings.forwarding == "forward":
            install_receive_fast_path()
        self._fast_task: asyncio.Task[None] | None = None

    async def _run_fast(self) -> None:
        """One clock for every connection's time-critical feedback (cheaper than a timer each)."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(FAST_TICK)
            now = time.monotonic()
            if now - last >= PAUSE_SECONDS:
                try:
                    self._resume_after_pause(now, now - last)
                except Exception:  # noqa: BLE001 - the clock must keep running
                    log.exception("event=resume_after_pause_failed")
            last = now
            for room in list(self.rooms.values()):
                for participant in list(room.participants.values()):
                    connection = participant.connection
                    if connection is not None:
                        try:
                            connection.tick_fast(now)
                        except Exception:  # noqa: BLE001 - one connection's fault must not stop the clock
                            log.exception("event=fast_tick_failed participant=%s", participant.id)

    def _resume_after_pause(self, now: float, paused_s: float) -> None:
        """The process did not run for seconds (stopped, a stuck host, a VM migration): its sockets hold
        stale packets, and some overflowed. Every video restarts at a keyframe asked for now, instead of
        showing stale frames and then waiting for the browsers' own keyframe requests (3 s in Chrome)."""
        log.warning("event=server_paused seconds=%.1f", paused_s)
        for room in list(self.rooms.values()):
            for participant in list(room.participants.values()):
                connection = participant.connection
                if connection is not None:
                    for producer in connection.demux.producers:
                        producer.restart(now)

    def _participant(self, room_id: str, participant_id: str) -> Participant:
        room = self.rooms.get(room_id)
        participant = room.participants.get(participant_id) if room is not None else None
        if participant is None:
            raise MediaError("not_found", "you are not in this room's media session")
        return participant

    async def join(self, room_id: str, participant_id: str, audio: bool = True, video: bool = True) -> None:
        if self._fast_task is None:
            self._fast_task = asyncio.get_running_loop().create_task(self._run_fast())
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id, self.notifier, self.settings)
            room.start()
        if participant_id not in room.participants:
            room.participants[participant_id] = Participant(room, participant_id, self.settings, self.metrics,
                                                            audio, video)
            others = [pid for pid in room.participants if pid != participant_id]
            await self.media_status.joined(room_id, participant_id, others)

    async def leave(self, room_id: str, participant_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        participant = room.participants.pop(participant_id, None)
        self.media_status.left(room_id, participant_id)
        if participant is not None:
            had_media = bool(participant.producers())
            await participant.close()
            if had_media:
                room.producers_changed(f"{participant_id} left")
        room.forget(participant_id)
        # several leaves may reach this point for one room: only the one that removes it closes it
        if not room.participants and self.rooms.get(room_id) is room:
            del self.rooms[room_id]
            await room.close()

    async def offer(
        self, room_id: str, participant_id: str, description: dict[str, str], tracks: list[dict[str, str]] | None,
        slots: list[dict[str, str]] | None = None,
    ) -> None:
        participant = self._participant(room_id, participant_id)
        try:
            await participant.handle_offer(description, tracks, slots)
        except MediaError as exc:
            pc = participant.connection.pc if participant.connection is not None else None
            glare = exc.code == "conflict" and participant.server_offer_pending
            await self.media_status.refused(room_id, participant_id, exc, glare, pc)
            raise
        if participant.connection is not None:
            await self.media_status.watch(room_id, participant_id, participant.connection.pc)

    async def set_view(self, room_id: str, participant_id: str, tiles: list[dict[str, Any]]) -> None:
        self._participant(room_id, participant_id).set_view(tiles)

    async def answer(self, room_id: str, participant_id: str, description: dict[str, str]) -> None:
        await self._participant(room_id, participant_id).handle_answer(description)

    async def ice_candidate(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> str | None:
        return await self._participant(room_id, participant_id).add_candidate(candidate)

    async def set_media_enabled(self, room_id: str, participant_id: str, source: MediaSource, enabled: bool) -> None:
        self._participant(room_id, participant_id).set_enabled(source, enabled)

    async def set_screen_share(self, room_id: str, participant_id: str, active: bool) -> None:
        participant = self._participant(room_id, participant_id)
        if not active and participant.stop_screen_share():
            participant.room.producers_changed(f"{participant_id} stopped sharing")

    def snapshot(self) -> dict[str, Any]:
        states: Counter[tuple[str, str]] = Counter()
        totals = dict(self.metrics.retired)
        layer_packets = dict(self.metrics.retired_layers)
        producers = consumers = paused = 0
        for room in self.rooms.values():
            paused += sum(1 for plan in room.plans.values() for layer in plan.layers.values() if layer is None)
            for participant in room.participants.values():
                connection = participant.connection
                if connection is None:
                    continue
                states[(connection.ice_state, connection.dtls_state)] += 1
                totals["dropped_datagrams"] += connection.dropped_datagrams
                for producer in participant.producers():
                    producers += 1
                    totals["received_packets"] += producer.packets_received
                    totals["received_bytes"] += producer.bytes_received
                    totals["keyframe_requests"] += producer.keyframe_requests_sent
                    totals["nacks_sent"] += producer.nacks_sent
                    totals["malformed_packets"] += producer.malformed
                    for layer in producer.layers:
                        layer_packets[layer.index] = layer_packets.get(layer.index, 0) + layer.forwarded
                        totals["stream_stalls"] += layer.stalls
                for consumer in connection.demux.consumers:
                    consumers += 1
                    totals["forwarded_packets"] += consumer.packets_sent
                    totals["forwarded_bytes"] += consumer.bytes_sent
                    totals["retransmissions"] += consumer.retransmissions
                    totals["layer_switches"] += consumer.layer_switches
        assert set(totals) == set(TOTALS)
        return {"rooms": len(self.rooms), "connection_states": dict(states), "producers": producers,
                "consumers": consumers, "paused_for_bandwidth": paused, "totals": totals,
                "layer_packets": layer_packets, "feedback_received": dict(self.metrics.feedback_received)}

    def stats(self) -> dict[str, Any]:
        snap = self.snapshot()
        return {
            "forwarding": self.settings.forwarding,
            "rooms": snap["rooms"],
            "connections": sum(snap["connection_states"].values()),
            "producers": snap["producers"],
            "consumers": snap["consumers"],
            "forwardedPackets": snap["totals"]["forwarded_packets"],
            # aiortc names its decoder threads "<kind>-decoder"; forwarding mode must have none
            "decoderThreads": sum(1 for t in threading.enumerate() if t.name.endswith("-decoder")),
            # every task of the process (signaling included): a leak of per-participant tasks shows here
            "tasks": len(asyncio.all_tasks()),
        }

    async def close(self) -> None:
        for room_id in list(self.rooms):
            room = self.rooms[room_id]
            for participant_id in list(room.participants):
                await self.leave(room_id, participant_id)
        await self.media_status.close()
