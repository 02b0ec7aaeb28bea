"""A generator worker process: runs a share of the participants on its own event loop.

Several workers spread the generator over the machine's cores (aiortc is single-threaded per
loop). The runner drives every worker with the same few commands over a pipe: `go` starts the
joins, `settle` (before the warmup) parks the garbage collector, `mark_start` and `mark_end` bound
the measured window (counters are snapshotted, latency recording toggled), and `stop` leaves the
room and returns everything measured as one `final` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.cpu import self_cpu_seconds

PROGRESS_INTERVAL = 0.5


@dataclass
class WorkerSpec:
    index: int
    url: str
    room_id: str
    mode: str  # "sfu" or "mesh"
    preset: str
    participants: list[Any] = field(default_factory=list)  # ParticipantSpec
    sample_mask: int = 0
    cache_dir: str | None = None
    nice: int = 0
    room: Any = None  # RoomOptions: simulcast, slots, views, speakers (None: the classic participants)


def _patch_ice_to_loopback() -> None:
    """aioice skips 127.0.0.1 by default; the benchmark keeps every packet on loopback."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # type: ignore[assignment]


def main(conn: Connection, spec: WorkerSpec) -> None:
    """Process entry point (spawned by the runner)."""
    if spec.nice:
        from benchmarks.cpu import prioritize

        prioritize(spec.nice)
    logging.basicConfig(level=logging.ERROR)
    # engine.io logs every socket torn down at the end of a run as an error: not ours to report
    for name in ("engineio.client", "socketio.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    _patch_ice_to_loopback()
    from benchmarks import subscriber

    subscriber.install()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    try:
        asyncio.run(_run(conn, spec))
    except Exception as exc:  # noqa: BLE001 - report, never hang the runner
        with contextlib.suppress(Exception):
            conn.send(("fatal", {"worker": spec.index, "error": repr(exc)}))
    finally:
        conn.close()


def _snapshot(shared: Any) -> dict[str, Any]:
    return {"cpu_s": self_cpu_seconds(), "t_ns": time.monotonic_ns(),
            "streams": [c.snapshot() for _, c in shared.streams]}


async def _run(conn: Connection, spec: WorkerSpec) -> None:
    from pathlib import Path

    from benchmarks.clip import load_clip, load_simulcast
    from benchmarks.latency import Recorder
    from benchmarks.participant import MeshParticipant, Participant, SfuParticipant, SfuUnavailable, Shared
    from benchmarks.room_participant import RoomParticipant
    from benchmarks.subscriber import decode_sample

    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def read_commands() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = ("stop", None)
            loop.call_soon_threadsafe(commands.put_nowait, msg)
            if msg[0] == "stop":
                return

    threading.Thread(target=read_commands, daemon=True).start()
    clip = load_clip(spec.preset, Path(spec.cache_dir) if spec.cache_dir else None)
    shared = Shared(spec.url, spec.room_id, clip, Recorder(sample_mask=spec.sample_mask))
    layers = load_simulcast(Path(spec.cache_dir) if spec.cache_dir else None) if spec.room and spec.room.simulcast \
        else []
    participants: list[Participant] = []
    joins: dict[str, dict[str, Any]] = {}

    def make(pspec: Any) -> Participant:
        if spec.mode == "mesh":
            return MeshParticipant(pspec, shared)
        if spec.room is not None:
            return RoomParticipant(pspec, shared, spec.room, layers)
        return SfuParticipant(pspec, shared)

    async def start(pspec: Any) -> None:
        delay = pspec.join_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        p = make(pspec)
        participants.append(p)
        try:
            await p.start()
            joins[p.pid] = {"index": pspec.index, "join_ns": p.join_ns, "ready_ns": time.monotonic_ns(),
                            "publish": pspec.publish, "subscribe": pspec.subscribe, "camera": pspec.camera}
            conn.send(("joined", {"worker": spec.index, "index": pspec.index, "pid": p.pid, "join_ns": p.join_ns}))
        except SfuUnavailable as exc:
            conn.send(("sfu_unavailable", {"worker": spec.index, "error": str(exc)}))
        except Exception as exc:  # noqa: BLE001
            shared.errors.append(f"{pspec.name}: start: {exc!r}")
            conn.send(("error", {"worker": spec.index, "error": f"{pspec.name}: {exc!r}"}))

    async def progress() -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            video = [c for _, c in shared.streams if c.kind == "video"]
            conn.send(("progress", {
                "worker": spec.index, "video_ready": sum(1 for c in video if c.packets),
                "packets": sum(c.packets for _, c in shared.streams), "errors": len(shared.errors),
                "cpu_s": self_cpu_seconds(),
            }))

    conn.send(("loaded", {"worker": spec.index, "cpu_s": self_cpu_seconds()}))
    command, t0 = await commands.get()  # "go": the common time origin of every worker's joins
    if command != "go":
        return
    shared.origin = t0
    for pspec in spec.participants:
        pspec.join_at += t0
    starters = [asyncio.ensure_future(start(p)) for p in spec.participants]
    progress_task = asyncio.ensure_future(progress())
    marks: dict[str, dict[str, Any]] = {}
    while True:
        command, _arg = await commands.get()
        if command == "settle":
            # everyone is connected: move what exists out of the collector's sight so its full
            # passes (pauses of tens of ms that would show up as latency) stay out of the window
            gc.collect()
            gc.freeze()
        elif command == "mark_start":
            marks["start"] = _snapshot(shared)
            shared.recorder.recording = True
        elif command == "mark_end":
            shared.recorder.recording = False
            marks["end"] = _snapshot(shared)
        elif command == "stop":
            break
    shared.recorder.recording = False
    progress_task.cancel()
    for task in starters:
        task.cancel()
    for p in participants:
        if p.pid in joins:
            joins[p.pid]["report"] = p.report()
    decode = None
    sizes = [(c.preset.width, c.preset.height) for c in layers] or None
    for _, counter in shared.streams:
        if counter.sample is not None:
            decode = decode_sample(counter.sample, clip.preset.width, clip.preset.height, sizes=sizes)
    streams = [{"subscriber": sub, "publisher": c.publisher, "kind": c.kind, "first_ns": c.first_ns,
                "first_frames": c.first_frames, "final": c.snapshot()} for sub, c in shared.streams]
    final = {
        "worker": spec.index, "marks": marks, "streams": streams, "joins": joins,
        "sent": [{"publisher": pub, "packets": c.packets, "bytes": c.bytes} for pub, c in shared.sent],
        "recv_keys": shared.recorder.keys.tobytes(), "recv_times": shared.recorder.times.tobytes(),
        "send_keys": shared.recorder.send_keys.tobytes(), "send_times": shared.recorder.send_times.tobytes(),
        "decode": decode, "errors": shared.errors[:50],
    }
    conn.send(("final", final))
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(p.close() for p in participants), return_exceptions=True), 10)
