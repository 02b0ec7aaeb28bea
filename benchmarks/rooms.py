"""The large-room commands: `sfu-bench simulcast` (issue 8) and `sfu-bench large` (issue 9).

Each command measures both sides of its comparison in one invocation, on the same room shape, back
to back, so the ratios come from the same machine state:

- `simulcast`: every member publishes a simulcast camera; "all-full" (every subscriber gets every
  camera at its top layer on per-track m-lines, the server started with `--last-n 0
  --audio-last-n 0`: today's behaviour for clients that declare nothing) against "thumbnails"
  (receive slots and a view of one 1280x720 tile and eight 320x180 thumbnails, default limits).
- `large`: a study group at several sizes, half of it with cameras (simulcast), everyone with a
  microphone, a few loud speakers rotating; "last-n" (slots, the view, default `--last-n 9
  --audio-last-n 3`) at every size, "all-to-all" (per-track m-lines, no view, `--last-n 0
  --audio-last-n 0`) at growing sizes until a size does not fit (loss ≥ 0.5%, a saturated
  server, or streams missing).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks.runner import RunConfig

FIT_LOSS_PCT = 0.5
FIT_SERVER_CORES = 0.95


def add_room_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speakers", type=int, default=2, help="members loud at once, rotating (default 2)")
    p.add_argument("--speaker-period", type=float, default=4.0, help="seconds between speaker changes (default 4)")
    p.add_argument("--no-dtx", action="store_true", help="silent members send every 20 ms (default: DTX, one per 400 ms)")
    p.add_argument("--repeat", type=int, default=1, help="rounds of the whole comparison (order alternates)")
    p.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole command (default 1800)")


def _base(args: argparse.Namespace, n: int, scenario: str, **kw: Any) -> RunConfig:
    return RunConfig(
        mode="forward", participants=n, duration=args.duration, warmup=args.warmup, workers=args.workers,
        url=args.url, server_pid=args.server_pid, server_args=list(args.server_arg), join_interval=args.join_interval,
        latency_sample=args.latency_sample, nice=args.nice, scenario=scenario, simulcast=True,
        speakers=args.speakers, speaker_period=args.speaker_period, dtx=not args.no_dtx, **kw)


def simulcast_plan(args: argparse.Namespace) -> list[RunConfig]:
    n = args.participants or 10
    pair = [_base(args, n, "all-full", last_n=0, audio_last_n=0),
            _base(args, n, "thumbnails", slots=True, view=True)]
    plan = []
    for round_ in range(args.repeat):
        plan.extend(pair if round_ % 2 == 0 else pair[::-1])
    return plan


def cameras_for(args: argparse.Namespace, n: int) -> int:
    if args.cameras is not None:
        return min(n, args.cameras)
    return (n + 1) // 2


def large_sizes(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    top = args.participants or 50
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {top}) if args.sizes else \
        sorted({s for s in (10, 20, 30, 40) if s < top} | {top})
    full = sorted({int(s) for s in args.all_to_all_sizes.split(",") if s.strip()}) if args.all_to_all_sizes else \
        [s for s in sizes if s <= args.max_all_to_all]
    return sizes, full


def large_config(args: argparse.Namespace, n: int, scenario: str) -> RunConfig:
    if scenario == "all-to-all":
        return _base(args, n, scenario, cameras=cameras_for(args, n), last_n=0, audio_last_n=0)
    return _base(args, n, "last-n", cameras=cameras_for(args, n), slots=True, view=True)


def fits(result: dict[str, Any]) -> bool:
    """Whether a room of this size ran within what one process carries on this machine."""
    return bool(not result.get("failed") and result.get("ok") and result.get("loss_pct", 100) < FIT_LOSS_PCT
                and (result.get("server_cpu_cores") or 0) < FIT_SERVER_CORES)


def run_large(args: argparse.Namespace, run_one: Callable[[RunConfig, str], dict[str, Any]],
              say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Sizes ascending; at each size last-N and (while it still fits) all-to-all, order alternating."""
    sizes, full_sizes = large_sizes(args)
    deadline = time.monotonic() + args.budget
    results: list[dict[str, Any]] = []
    all_to_all_fits = True
    step = 0
    for _ in range(args.repeat):
        for n in sizes:
            scenarios = ["last-n"] + (["all-to-all"] if n in full_sizes and all_to_all_fits else [])
            if step % 2:
                scenarios.reverse()
            step += 1
            for scenario in scenarios:
                cfg = large_config(args, n, scenario)
                estimate = 20 + n * cfg.join_interval * 2 + cfg.warmup + cfg.duration
                if time.monotonic() + estimate > deadline:
                    say(f"budget: skipping {scenario} N={n} and what follows")
                    return results
                result = run_one(cfg, f"{scenario} N={n}")
                results.append(result)
                if scenario == "all-to-all" and not fits(result):
                    all_to_all_fits = False
                    say(f"all-to-all does not fit at N={n} (loss {result.get('loss_pct')}%, server "
                        f"{result.get('server_cpu_cores')} cores, ok={result.get('ok')}): larger sizes skipped")
    return results
