"""`sfu-bench` / `python -m benchmarks`: one scenario, or a `sweep` over modes and room sizes.

Every run appends one line to `<out>/results.jsonl`; afterwards the table is printed and the
Markdown report and plots are rewritten from the runs of this invocation.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.clip import PRESETS
from benchmarks.cpu import wait_for_idle
from benchmarks.display import Display, NullDisplay
from benchmarks.plots import write_plots
from benchmarks.report import RESULTS_FILE, append_result, load_results, print_table, write_markdown
from benchmarks.rooms import add_room_options, run_large, simulcast_plan
from benchmarks.runner import MODES, RunConfig, run


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=10.0, help="measured window, seconds (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after everyone receives everyone (default 3)")
    p.add_argument("--preset", choices=sorted(name for name in PRESETS if not name.startswith("sim-")), default="1m",
                   help="video preset: 300k (320x240), 1m (640x480, default), 2.5m (1280x720)")
    p.add_argument("--workers", type=int, default=None, help="generator processes (default: max(2, cores))")
    p.add_argument("--url", default=None, help="benchmark an already-running server instead of starting one")
    p.add_argument("--server-pid", type=int, default=None, help="with --url: the server's pid, for its CPU and RSS")
    p.add_argument("--join-interval", type=float, default=0.25, help="seconds between joins (default 0.25)")
    p.add_argument("--latency-sample", type=int, default=1, help="time 1 packet in N (power of two, default 1)")
    p.add_argument("--server-arg", action="append", default=[], help="extra flag for the started server (repeat)")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder (default bench-results/)")
    p.add_argument("--quiet", action="store_true", help="no live progress display")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each run, wait up to this long for other load on the machine to stop")
    p.add_argument("--nice", type=int, default=0,
                   help="nice increment for the started server and the workers (e.g. -5 as root on a shared machine)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfu-bench", description="Benchmark the SFU: forward vs transcode vs mesh.")
    p.add_argument("--mode", choices=MODES, default="forward")
    p.add_argument("--participants", type=int, default=None, help="room size; everyone publishes and subscribes")
    p.add_argument("--publishers", type=int, default=None, help="webinar shape: publishing members")
    p.add_argument("--subscribers", type=int, default=None, help="webinar shape: receive-only members")
    _common(p)
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("sweep", help="run a matrix of modes x room sizes within a time budget")
    s.add_argument("--modes", default="forward,transcode,mesh", help="comma-separated (default all three)")
    s.add_argument("--sizes", default="2,4,8,12,16", help="room sizes (default 2,4,8,12,16)")
    s.add_argument("--repeat", type=int, default=1, help="runs per (mode, size) (default 1)")
    s.add_argument("--budget", type=float, default=900.0, help="seconds for the whole sweep (default 900)")
    s.add_argument("--max-transcode", type=int, default=8, help="largest transcode room (it saturates early)")
    s.add_argument("--max-mesh", type=int, default=8, help="largest mesh room (N*(N-1) connections)")
    _common(s)
    sim = sub.add_parser("simulcast", help="issue 8: simulcast cameras, all-full vs one large + eight thumbnails")
    sim.add_argument("--participants", type=int, default=10, help="room size, every member with a camera (default 10)")
    add_room_options(sim)
    _common(sim)
    big = sub.add_parser("large", help="issue 9: a study-group room (last-N, slots, views) vs all-to-all, by size")
    big.add_argument("--participants", type=int, default=50, help="the largest room (default 50)")
    big.add_argument("--cameras", type=int, default=None, help="members with a camera (default: half the room)")
    big.add_argument("--sizes", default=None, help="room sizes for last-N (default 10,20,30,40 and --participants)")
    big.add_argument("--all-to-all-sizes", default=None,
                     help="sizes to try all-to-all at (default: the sizes up to --max-all-to-all; stops at the first "
                          "that does not fit)")
    big.add_argument("--max-all-to-all", type=int, default=30, help="largest all-to-all room to try (default 30)")
    add_room_options(big)
    _common(big)
    sub.add_parser("impaired", add_help=False,
                   help="Chromium SFU call vs direct call under per-hop loss/delay (sfu-bench impaired --help)")
    r = sub.add_parser("report", help="rewrite the table, report.md and plots from <out>/results.jsonl")
    r.add_argument("--out", type=Path, default=Path("bench-results"), help="folder holding results.jsonl")
    return p


def _config(args: argparse.Namespace, mode: str, participants: int | None) -> RunConfig:
    return RunConfig(
        mode=mode, participants=participants, publishers=getattr(args, "publishers", None),
        subscribers=getattr(args, "subscribers", None), duration=args.duration, warmup=args.warmup,
        preset=args.preset, workers=args.workers, url=args.url, server_pid=args.server_pid,
        server_args=list(args.server_arg), join_interval=args.join_interval, latency_sample=args.latency_sample,
        nice=args.nice,
    )


def _run_one(cfg: RunConfig, display: Display, out: Path, name: str, wait_idle: float = 0.0) -> dict[str, Any]:
    display.new_run(name)
    if wait_idle > 0:
        display.phase("waiting for idle", 0)
        wait_for_idle(wait_idle)
    try:
        result = run(cfg, display)
    except Exception as exc:  # noqa: BLE001 - a failed run is a result too; the sweep goes on
        total, pubs, subs = cfg.shape()
        result = {"failed": True, "mode": cfg.mode, "participants": total, "publishers": pubs, "subscribers": subs,
                  "preset": cfg.preset, "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=5), "started_at": time.time()}
    append_result(out, result)
    return result


def _estimate(cfg: RunConfig, overhead: float) -> float:
    total, _, _ = cfg.shape()
    return overhead + total * cfg.join_interval + cfg.warmup + cfg.duration


def sweep_plan(args: argparse.Namespace) -> list[RunConfig]:
    """Sizes outermost, so every size is measured in every mode before the next size starts."""
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    plan = []
    for size in sizes:
        for _ in range(args.repeat):
            for mode in modes:
                if mode == "transcode" and size > args.max_transcode:
                    continue
                if mode == "mesh" and size > args.max_mesh:
                    continue
                plan.append(_config(args, mode, size))
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    rest = list(sys.argv[1:] if argv is None else argv)
    if rest[:1] == ["impaired"]:  # Chromium calls under loss and delay: its own options (benchmarks/impaired.py)
        from benchmarks.impaired import main as impaired_main

        return impaired_main(rest[1:])
    args = build_parser().parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 140)
    command = "sfu-bench " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    results: list[dict[str, Any]] = []
    if args.command == "report":
        results = load_results(args.out / RESULTS_FILE)
        if not results:
            console.print(f"[red]no results in {args.out / RESULTS_FILE}[/]")
            return 1
        print_table(results, console)
        write_markdown(results, args.out / "report.md", command)
        write_plots(results, args.out)
        return 0
    if args.command in ("simulcast", "large") and args.out == Path("bench-results"):
        args.out = Path("bench-results") / args.command
    display: Display = NullDisplay() if args.quiet else Display()
    with display:
        if args.command == "simulcast":
            plan = simulcast_plan(args)
            for i, cfg in enumerate(plan):
                results.append(_run_one(cfg, display, args.out, f"[{i + 1}/{len(plan)}] {cfg.scenario} N={cfg.participants}",
                                        args.wait_idle))
        elif args.command == "large":
            results = run_large(args, lambda cfg, name: _run_one(cfg, display, args.out, name, args.wait_idle),
                                lambda text: console.print(f"[yellow]{text}[/]"))
        elif args.command == "sweep":
            plan = sweep_plan(args)
            deadline = time.monotonic() + args.budget
            overhead = 8.0  # server + worker start and teardown; re-estimated from each run
            for i, cfg in enumerate(plan):
                if time.monotonic() + _estimate(cfg, overhead) > deadline:
                    console.print(f"[yellow]budget: skipping {len(plan) - i} remaining runs[/]")
                    break
                began = time.monotonic()
                results.append(_run_one(cfg, display, args.out, f"[{i + 1}/{len(plan)}] {cfg.mode} N={cfg.shape()[0]}",
                                        args.wait_idle))
                overhead = max(overhead, time.monotonic() - began - _estimate(cfg, 0))
        else:
            participants = args.participants
            if participants is None and args.publishers is None and args.subscribers is None:
                participants = 8
            cfg = _config(args, args.mode, participants)
            results.append(_run_one(cfg, display, args.out, f"{cfg.mode} N={cfg.shape()[0]}", args.wait_idle))
    print_table(results, console)
    for r in results:
        if r.get("failed"):
            console.print(f"[red]{r['mode']} N={r['participants']} failed:[/] {r['error']}")
        elif r.get("errors"):
            console.print(f"[yellow]{r['mode']} N={r['participants']}: {len(r['errors'])} errors, first: "
                          f"{r['errors'][0]}[/]")
    report = write_markdown(results, args.out / "report.md", command)
    plots = write_plots(results, args.out)
    console.print(f"results: {args.out / 'results.jsonl'}  report: {report}  plots: {', '.join(p.name for p in plots)}")
    return 0 if results and all(not r.get("failed") and r.get("ok") for r in results) else 1
