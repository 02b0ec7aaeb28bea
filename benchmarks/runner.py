"""One benchmark run: start the server, spread participants over workers, measure a window, aggregate.

Phases: start server → spawn workers → joins (staggered) → wait until every subscriber gets every
publisher's video → warmup → measured window (bounded by `mark_start`/`mark_end` sent to every
worker while the runner samples the server's /proc) → stop → aggregate into one flat result dict.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from benchmarks import cpu
from benchmarks import metrics as server_metrics
from benchmarks.clip import FPS, PRESETS, load_clip, load_simulcast
from benchmarks.display import Display, NullDisplay
from benchmarks.latency import match, percentiles_ms
from benchmarks.participant import ParticipantSpec
from benchmarks.room_figures import room_figures
from benchmarks.room_participant import RoomOptions
from benchmarks.server import ServerHandle, start_server
from benchmarks.view import THUMBNAILS
from benchmarks.worker import WorkerSpec
from benchmarks.worker import main as worker_main

MODES = ("forward", "transcode", "mesh")


@dataclass
class RunConfig:
    mode: str = "forward"
    participants: int | None = 4  # everyone publishes and subscribes
    publishers: int | None = None  # webinar shape: publish only ...
    subscribers: int | None = None  # ... and receive only
    duration: float = 10.0
    warmup: float = 3.0
    preset: str = "1m"
    workers: int | None = None
    url: str | None = None  # an already-running server (then server_pid for its CPU, if local)
    server_pid: int | None = None
    server_args: list[str] = field(default_factory=list)
    join_interval: float = 0.25
    ready_timeout: float | None = None
    latency_sample: int = 1  # record latency for 1 packet in N (a power of two)
    cache_dir: str | None = None
    label: str = ""
    nice: int = 0  # scheduling priority of the started server and the workers (negative: root only)
    # large rooms (issues 8 and 9); the defaults keep the classic bench
    scenario: str = ""  # a name for reports and plots: "all-full", "thumbnails", "last-n", "all-to-all"
    simulcast: bool = False  # cameras send three layers (q, h, f) with rids
    cameras: int | None = None  # publishers with a camera (default: every publisher); the others: microphone only
    slots: bool = False  # subscribers declare receive slots (room-state.media) instead of per-track m-lines
    view: bool = False  # subscribers send video:set-view: the speaker large, eight thumbnails
    speakers: int = 0  # members loud at once, rotating (0: no audio levels)
    speaker_period: float = 4.0
    dtx: bool = False  # silent members send one audio packet per 400 ms (Opus DTX)
    last_n: int | None = None  # the server's --last-n (None: its default)
    audio_last_n: int | None = None  # the server's --audio-last-n (None: its default)

    def room_options(self) -> RoomOptions | None:
        """What the large-room participants need to know; None keeps the classic participants."""
        if not (self.simulcast or self.slots or self.view or self.speakers or self.cameras is not None):
            return None
        return RoomOptions(simulcast=self.simulcast, slots=self.slots, view=self.view, speakers=self.speakers,
                           speaker_period=self.speaker_period, dtx=self.dtx, members=self.shape()[0])

    def all_server_args(self) -> list[str]:
        args = list(self.server_args)
        if self.last_n is not None:
            args += ["--last-n", str(self.last_n)]
        if self.audio_last_n is not None:
            args += ["--audio-last-n", str(self.audio_last_n)]
        return args

    def video_cap(self) -> int:
        """The most cameras one subscriber should receive (0: no cap)."""
        last_n = 9 if self.last_n is None else self.last_n  # the server's default
        caps = [c for c in (last_n, 1 + THUMBNAILS if self.view else 0) if c > 0]
        return min(caps) if caps else 0

    def shape(self) -> tuple[int, int, int]:
        """(total participants, publishers, subscribers); publish+subscribe members count in both."""
        if self.publishers is not None or self.subscribers is not None:
            p, s = self.publishers or 0, self.subscribers or 0
            return p + s, p, s
        n = self.participants or 2
        return n, n, n


def _has_camera(i: int, pubs: int, cameras: int | None) -> bool:
    """Spread `cameras` evenly over the `pubs` publishers (join order), so cameras and voices interleave."""
    if cameras is None or cameras >= pubs:
        return True
    return (i + 1) * cameras // pubs != i * cameras // pubs


def _participant_specs(cfg: RunConfig) -> list[ParticipantSpec]:
    total, pubs, subs = cfg.shape()
    both = cfg.publishers is None and cfg.subscribers is None
    specs = []
    for i in range(total):
        publish = both or i < pubs
        subscribe = both or i >= pubs
        specs.append(ParticipantSpec(index=i, name=f"bench-{i}", publish=publish, subscribe=subscribe,
                                     join_at=i * cfg.join_interval, camera=_has_camera(i, pubs, cfg.cameras)))
    decoder = next((s for s in specs if s.subscribe), None)
    if decoder is not None:
        decoder.decode = True
    return specs


def expected_video(cfg: RunConfig, specs: list[ParticipantSpec]) -> int:
    """Video streams that should flow: per subscriber, the other cameras, at most the cap (last-N, view)."""
    cameras = [s for s in specs if s.publish and s.camera]
    cap = cfg.video_cap()
    total = 0
    for s in specs:
        if s.subscribe:
            others = len(cameras) - (1 if s.publish and s.camera else 0)
            total += min(cap, others) if cap else others
    return total


def default_workers(total: int) -> int:
    return max(1, min(total, max(2, os.cpu_count() or 2)))


class _Workers:
    """The worker processes and their pipes, with the latest progress of each."""

    def __init__(self, cfg: RunConfig, url: str, room: str) -> None:
        specs = _participant_specs(cfg)
        count = min(cfg.workers or default_workers(len(specs)), len(specs))
        ctx = mp.get_context("spawn")  # no inherited event loops, threads or rich consoles
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.progress: dict[int, dict[str, Any]] = {}
        self.finals: dict[int, dict[str, Any]] = {}
        self.joined: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.sfu_unavailable: str | None = None
        self.loaded: set[int] = set()
        mode = "mesh" if cfg.mode == "mesh" else "sfu"
        for w in range(count):
            mine = specs[w::count]
            spec = WorkerSpec(index=w, url=url, room_id=room, mode=mode, preset=cfg.preset, participants=mine,
                              sample_mask=max(1, cfg.latency_sample) - 1, cache_dir=cfg.cache_dir,
                              nice=cfg.nice, room=cfg.room_options())
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, spec), name=f"bench-worker-{w}", daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.specs = specs

    def broadcast(self, command: str, arg: Any = None) -> None:
        for conn in self.conns:
            try:
                conn.send((command, arg))
            except (BrokenPipeError, OSError):
                pass

    def pump(self, timeout: float) -> None:
        """Handle every message that arrives within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            live = [c for c in self.conns if not c.closed]
            if not live:
                time.sleep(max(0.0, remaining))
                return
            for conn in wait(live, timeout=max(0.0, remaining)):
                try:
                    kind, data = conn.recv()
                except (EOFError, OSError):
                    conn.close()
                    continue
                self._handle(kind, data)
            if remaining <= 0:
                return

    def _handle(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "progress":
            self.progress[data["worker"]] = data
        elif kind == "loaded":
            self.loaded.add(data["worker"])
            self.progress[data["worker"]] = {"cpu_s": data.get("cpu_s", 0.0)}  # CPU spent before the joins
        elif kind == "joined":
            self.joined[data["pid"]] = data
        elif kind == "final":
            self.finals[data["worker"]] = data
        elif kind == "sfu_unavailable":
            self.sfu_unavailable = data["error"]
        elif kind in ("error", "fatal"):
            self.errors.append(f"worker {data.get('worker')}: {data.get('error')}")

    def total(self, key: str) -> float:
        return sum(p.get(key, 0) for p in self.progress.values())

    def close(self) -> None:
        for proc in self.procs:
            proc.join(timeout=15)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def _server_sample(pid: int | None) -> tuple[float | None, int | None]:
    if pid is None:
        return None, None
    return cpu.cpu_seconds(pid), cpu.rss_bytes(pid)


def run(cfg: RunConfig, display: Display | None = None) -> dict[str, Any]:
    """Run one scenario and return its result (see docs/benchmarks.md for every field)."""
    display = display or NullDisplay()
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    total, pubs, subs = cfg.shape()
    if cfg.mode == "mesh" and not (pubs == subs == total):
        raise ValueError("mesh mode runs --participants N only (everyone publishes and subscribes)")
    started = time.time()
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 2)
        mark = now

    if cfg.slots and (cfg.last_n == 0 or cfg.audio_last_n == 0):
        raise ValueError("receive slots need --last-n and --audio-last-n > 0 (a limit of 0 means one slot per member)")
    display.phase("preparing clip", 0)
    clip = load_clip(cfg.preset)
    if cfg.simulcast:
        load_simulcast()  # encoded once (about a minute) before any worker needs it
    server: ServerHandle | None = None
    url, server_pid = cfg.url, cfg.server_pid
    if url is None:
        display.phase("starting server", 0)
        server = start_server(cfg.mode, cfg.all_server_args(), nice=cfg.nice)
        url, server_pid = server.url, server.pid
    lap("server_start_s")
    room = f"bench-{secrets.token_hex(4)}"
    workers: _Workers | None = None
    scrapes: dict[str, dict[str, float]] = {}
    try:
        _, rss_before = _server_sample(server_pid)
        scrapes["before"] = server_metrics.scrape(url) if cfg.mode != "mesh" else {}
        workers = _Workers(cfg, url, room)
        display.phase("starting workers", 0)
        deadline = time.monotonic() + 60
        while len(workers.loaded) < len(workers.conns) and time.monotonic() < deadline and not workers.errors:
            workers.pump(0.2)
        lap("workers_start_s")
        join_server_cpu0, _ = _server_sample(server_pid)
        join_busy0 = cpu.machine_busy_seconds()
        join_drops0 = cpu.udp_drops(cpu.process_tree(server_pid)) if server_pid else 0
        join_gen0 = workers.total("cpu_s") + cpu.self_cpu_seconds()
        t0 = time.monotonic()
        workers.broadcast("go", t0)
        expected_total = expected_video(cfg, workers.specs)
        ready_timeout = cfg.ready_timeout or (20 + total * cfg.join_interval * 2)
        deadline = t0 + total * cfg.join_interval + ready_timeout
        progress: list[tuple[float, int, int]] = []  # (seconds since go, joined, video streams flowing)
        while time.monotonic() < deadline:
            workers.pump(0.25)
            ready = workers.total("video_ready")
            elapsed = time.monotonic() - t0
            if not progress or elapsed - progress[-1][0] >= 2.0:
                progress.append((round(elapsed, 1), len(workers.joined), int(ready)))
            display.phase("joining", min(1.0, ready / max(1, expected_total)),
                          f"{len(workers.joined)}/{total} joined, {int(ready)}/{expected_total} video streams")
            if workers.sfu_unavailable or (ready >= expected_total and len(workers.joined) == total):
                break
            if len(workers.errors) >= total:
                break
        ready_s = time.monotonic() - t0
        join_server_cpu1, _ = _server_sample(server_pid)
        join_phase = {
            "seconds": round(ready_s, 2),
            "server_cpu_cores": round((join_server_cpu1 - join_server_cpu0) / ready_s, 3)
            if join_server_cpu0 is not None and join_server_cpu1 is not None else None,
            "generator_cpu_cores": round((workers.total("cpu_s") + cpu.self_cpu_seconds() - join_gen0) / ready_s, 3),
            "machine_busy_cores": round((cpu.machine_busy_seconds() - join_busy0) / ready_s, 3),
            "udp_drops_server": (cpu.udp_drops(cpu.process_tree(server_pid)) - join_drops0) if server_pid else None,
            "expected_video_streams": expected_total, "progress": progress,
        }
        lap("join_s")
        if workers.sfu_unavailable:
            raise RuntimeError(f"SFU media not available on this server: {workers.sfu_unavailable}")
        scrapes["joined"] = server_metrics.scrape(url) if cfg.mode != "mesh" else {}
        workers.broadcast("settle")
        _wait(workers, display, "warmup", cfg.warmup, server_pid)
        scrapes["start"] = server_metrics.scrape(url) if cfg.mode != "mesh" else {}
        gen_pids = [p.pid for p in workers.procs]
        server_pids = cpu.process_tree(server_pid) if server_pid else []
        drops0 = cpu.udp_drops(server_pids), cpu.udp_drops(gen_pids)
        # the /proc scans above take a while on a busy machine: sample CPU right at the window's edges
        gen_cpu0 = cpu.self_cpu_seconds()
        busy0 = cpu.machine_busy_seconds()
        cpu0, _ = _server_sample(server_pid)
        t_start = time.monotonic_ns()
        workers.broadcast("mark_start")
        _wait(workers, display, "measuring", cfg.duration, server_pid)
        workers.broadcast("mark_end")
        cpu1, rss_end = _server_sample(server_pid)
        t_end = time.monotonic_ns()
        gen_cpu1 = cpu.self_cpu_seconds()
        busy1 = cpu.machine_busy_seconds()
        drops1 = cpu.udp_drops(server_pids), cpu.udp_drops(gen_pids)
        scrapes["end"] = server_metrics.scrape(url) if cfg.mode != "mesh" else {}
        lap("warmup_and_window_s")
        workers.broadcast("stop")
        display.phase("collecting", 1.0)
        deadline = time.monotonic() + 60
        while len(workers.finals) < len(workers.conns) and time.monotonic() < deadline:
            if all(not p.is_alive() for p in workers.procs):
                workers.pump(0.1)
                break
            workers.pump(0.2)
        window = (t_end - t_start) / 1e9
        result = _aggregate(cfg, workers, window, clip.video_bps)
        result.update(_server_figures(result, cpu0, cpu1, rss_before, rss_end, window, total, cfg.mode))
        if cfg.room_options() is not None:
            result.update(room_figures(cfg, list(workers.finals.values()), window, scrapes))
        result["generator_cpu_s"] = round(result.pop("_worker_cpu_s") + gen_cpu1 - gen_cpu0, 3)
        result["generator_cpu_cores"] = round(result["generator_cpu_s"] / window, 3)
        result["generator_cpu_pct_of_machine"] = round(100 * result["generator_cpu_cores"] / (os.cpu_count() or 1), 1)
        # what one simulated client spent (in mesh mode: the cost the SFU takes off every browser)
        result["client_cpu_pct_per_participant"] = round(100 * result["generator_cpu_cores"] / total, 2)
        result["ready_s"] = round(ready_s, 2)
        result["join_phase"] = join_phase
        other = (busy1 - busy0) - result["generator_cpu_s"] - (result["server_cpu_s"] or 0)
        result["other_cpu_cores"] = round(max(0.0, other) / window, 3)  # load from outside the benchmark
        result["loadavg_1m"] = round(os.getloadavg()[0], 2)
        # receive-buffer drops in the window, by side (a socket closed meanwhile takes its count along)
        result["udp_drops_server"] = max(0, drops1[0] - drops0[0]) if server_pids else None
        result["udp_drops_generator"] = max(0, drops1[1] - drops0[1])
        lap("collect_s")
    finally:
        if workers is not None:
            workers.broadcast("stop")
            workers.close()
        if server is not None:
            server.stop()
    lap("teardown_s")
    result["timings"] = timings
    result.update({
        "mode": cfg.mode, "participants": total, "publishers": pubs, "subscribers": subs,
        "preset": cfg.preset, "resolution": f"{PRESETS[cfg.preset].width}x{PRESETS[cfg.preset].height}",
        "clip_video_kbps": round(clip.video_bps / 1000, 1), "fps": FPS, "warmup_s": cfg.warmup,
        "duration_s": round(window, 3), "workers": len(workers.conns) if workers else 0,
        "server": "external" if cfg.url else "started", "started_at": started, "label": cfg.label,
        "scenario": cfg.scenario or cfg.mode, "server_args": cfg.all_server_args(),
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("server_args",)},
        "machine": cpu.machine_info(), "wall_s": round(time.time() - started, 1),
    })
    result["errors"] = (workers.errors if workers else []) + result.get("errors", [])
    if workers is not None and len(workers.finals) < len(workers.conns):
        result["errors"].insert(0, f"{len(workers.conns) - len(workers.finals)} worker(s) sent no results")
    result["ok"] = bool(result["forwarded_packets"] > 0 and result["streams_receiving"] >= result["expected_streams"]
                        and (result["decode_check"] or {}).get("ok"))
    return result


def _wait(workers: _Workers, display: Display, phase: str, seconds: float, server_pid: int | None) -> None:
    end = time.monotonic() + seconds
    last_cpu, last_t = _server_sample(server_pid)[0], time.monotonic()
    last_packets = workers.total("packets")
    while (now := time.monotonic()) < end:
        workers.pump(min(0.5, end - now))
        now = time.monotonic()
        server_cpu, _ = _server_sample(server_pid)
        packets = workers.total("packets")
        dt = max(1e-3, now - last_t)
        stats = f"{(packets - last_packets) / dt:,.0f} pkt/s received"
        if server_cpu is not None and last_cpu is not None:
            stats += f", server {100 * (server_cpu - last_cpu) / dt:.0f}% CPU"
        last_cpu, last_t, last_packets = server_cpu, now, packets
        display.phase(phase, 1 - max(0.0, end - now) / max(seconds, 1e-3), stats)


def _aggregate(cfg: RunConfig, workers: _Workers, window: float, clip_bps: float) -> dict[str, Any]:
    joins: dict[str, int] = {}
    for final in workers.finals.values():
        joins.update({pid: j["join_ns"] for pid, j in final["joins"].items()})
    totals = {"audio": [0, 0], "video": [0, 0]}
    expected = lost = rtx = 0
    video_streams = 0
    first_media_ms: list[float] = []
    worker_cpu = 0.0
    send_keys, send_times, recv_keys, recv_times = [], [], [], []
    decode: dict[str, Any] | None = None
    errors: list[str] = []
    sent_bytes: dict[str, int] = {}
    for final in workers.finals.values():
        marks = final["marks"]
        start_streams = marks.get("start", {}).get("streams", [])
        end_streams = marks.get("end", {}).get("streams", [])
        worker_cpu += marks.get("end", {}).get("cpu_s", 0) - marks.get("start", {}).get("cpu_s", 0)
        for i, stream in enumerate(final["streams"]):
            if i >= len(end_streams):
                continue
            end = end_streams[i]
            start = start_streams[i] if i < len(start_streams) else {"packets": 0, "bytes": 0, "ext_max": -1, "rtx": 0}
            packets = end["packets"] - start["packets"]
            if start["ext_max"] >= 0:
                exp = end["ext_max"] - start["ext_max"]
            elif end["ext_max"] >= 0:
                exp = end["ext_max"] - end["ext_first"] + 1
            else:
                exp = 0
            kind = stream["kind"] if stream["kind"] in totals else "video"
            totals[kind][0] += packets
            totals[kind][1] += end["bytes"] - start["bytes"]
            expected += exp
            lost += max(0, exp - packets)
            rtx += end["rtx"] - start.get("rtx", 0)
            if kind == "video" and packets > 0:
                video_streams += 1
            if kind == "video" and stream["first_ns"] and stream["publisher"]:  # not a receive slot
                origin = max(joins.get(stream["subscriber"], 0), joins.get(stream["publisher"], 0))
                if origin:
                    first_media_ms.append((stream["first_ns"] - origin) / 1e6)
        for sent in final["sent"]:
            sent_bytes[sent["publisher"]] = sent_bytes.get(sent["publisher"], 0) + sent["bytes"]
        send_keys.append(np.frombuffer(final["send_keys"], dtype=np.uint64))
        send_times.append(np.frombuffer(final["send_times"], dtype=np.int64))
        recv_keys.append(np.frombuffer(final["recv_keys"], dtype=np.uint64))
        recv_times.append(np.frombuffer(final["recv_times"], dtype=np.int64))
        if final.get("decode") is not None:
            decode = final["decode"]
        errors.extend(final.get("errors", []))
    rk = np.concatenate(recv_keys) if recv_keys else np.empty(0, np.uint64)
    lat = match(np.concatenate(send_keys) if send_keys else np.empty(0, np.uint64),
                np.concatenate(send_times) if send_times else np.empty(0, np.int64),
                rk, np.concatenate(recv_times) if recv_times else np.empty(0, np.int64))
    forwarded = totals["audio"][0] + totals["video"][0]
    forwarded_bytes = totals["audio"][1] + totals["video"][1]
    expected_streams = expected_video(cfg, workers.specs)
    uploads = [b * 8 / window / 1e6 for b in sent_bytes.values()]
    fm = np.array(first_media_ms) if first_media_ms else None
    return {
        "forwarded_packets": forwarded,
        "forwarded_pps": round(forwarded / window, 1),
        "forwarded_mbps": round(forwarded_bytes * 8 / window / 1e6, 3),
        "audio_packets": totals["audio"][0], "video_packets": totals["video"][0], "rtx_packets": rtx,
        "subscriber_streams": video_streams, "streams_receiving": video_streams, "expected_streams": expected_streams,
        "video_kbps_per_stream": round(totals["video"][1] * 8 / window / 1000 / max(1, video_streams), 1),
        "upload_mbps_per_publisher": round(float(np.mean(uploads)), 3) if uploads else 0.0,
        "expected_packets": expected, "lost_packets": lost,
        "loss_pct": round(100 * lost / expected, 4) if expected else 0.0,
        "latency_ms": percentiles_ms(lat),
        "latency_matched_pct": round(100 * len(lat) / len(rk), 1) if len(rk) else 0.0,
        "join_to_first_media_ms": ({"p50": round(float(np.median(fm)), 1), "max": round(float(fm.max()), 1)}
                                   if fm is not None else None),
        "decode_check": decode, "_worker_cpu_s": worker_cpu, "errors": errors[:50],
    }


def _server_figures(result: dict[str, Any], cpu0: float | None, cpu1: float | None, rss_before: int | None,
                    rss_end: int | None, window: float, total: int, mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {"server_media": mode != "mesh"}
    if cpu0 is None or cpu1 is None:
        out.update({"server_cpu_s": None, "server_cpu_cores": None, "server_us_per_packet": None,
                    "server_pps_per_core": None, "server_cpu_pct_per_stream": None, "server_rss_mb": None,
                    "server_rss_mb_per_participant": None})
        return out
    cpu_s = cpu1 - cpu0
    forwarded = result["forwarded_packets"]
    streams = result["subscriber_streams"]
    out.update({
        "server_cpu_s": round(cpu_s, 3),
        "server_cpu_cores": round(cpu_s / window, 3),
        "server_us_per_packet": round(cpu_s * 1e6 / forwarded, 2) if forwarded else None,
        "server_pps_per_core": round(forwarded / cpu_s) if cpu_s > 0 else None,
        "server_cpu_pct_per_stream": round(100 * cpu_s / window / streams, 3) if streams else None,
        "server_rss_mb": round((rss_end or 0) / 2**20, 1),
        "server_rss_mb_per_participant": (round(((rss_end or 0) - (rss_before or 0)) / 2**20 / total, 2)
                                          if rss_before else None),
    })
    return out
