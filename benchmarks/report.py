"""Results as JSON lines, a terminal table (rich) and a Markdown report with the goals checked."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.plots import plot_names
from benchmarks.room_report import COLUMNS as ROOM_COLUMNS
from benchmarks.room_report import is_room_run, large_goals, room_sections, simulcast_summary

RESULTS_FILE = "results.jsonl"

# (header, formatter) for the table and the report: one place decides what a reader sees
COLUMNS: list[tuple[str, Any]] = [
    ("mode", lambda r: r["mode"]),
    ("N", lambda r: _shape(r)),
    ("preset", lambda r: r["preset"]),
    ("fwd pkt/s", lambda r: f"{r['forwarded_pps']:,.0f}"),
    ("Mbit/s", lambda r: f"{r['forwarded_mbps']:.1f}"),
    ("srv CPU", lambda r: _pct(r.get("server_cpu_cores"))),
    ("µs/pkt", lambda r: _num(r.get("server_us_per_packet")) if r.get("server_media") else "n/a"),
    ("pkt/s/core", lambda r: _int(r.get("server_pps_per_core")) if r.get("server_media") else "n/a"),
    ("CPU/stream", lambda r: _pct_raw(r.get("server_cpu_pct_per_stream")) if r.get("server_media") else "n/a"),
    ("video kbps", lambda r: f"{r['video_kbps_per_stream']:.0f}"),
    ("upload Mbit/s", lambda r: f"{r['upload_mbps_per_publisher']:.2f}"),
    ("loss %", lambda r: f"{r['loss_pct']:.3f}"),
    ("lat p50/p95/p99 ms", lambda r: _lat(r.get("latency_ms"))),
    ("1st media ms", lambda r: _num((r.get("join_to_first_media_ms") or {}).get("p50"), 0)),
    ("RSS MB/part.", lambda r: _num(r.get("server_rss_mb_per_participant"), 1)),
    ("gen CPU", lambda r: _pct(r.get("generator_cpu_cores"))),
    ("other CPU", lambda r: _pct(r.get("other_cpu_cores"))),
    ("decode", lambda r: "ok" if (r.get("decode_check") or {}).get("ok") else "FAIL"),
]


def _shape(r: dict[str, Any]) -> str:
    if r["publishers"] == r["subscribers"] == r["participants"]:
        return str(r["participants"])
    return f"{r['publishers']}p+{r['subscribers']}s"


def _num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def _int(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _pct(cores: float | None) -> str:
    return "—" if cores is None else f"{100 * cores:.0f}%"


def _pct_raw(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:.2f}%"


def _lat(lat: dict[str, float] | None) -> str:
    if not lat:
        return "n/a"
    return "/".join(f"{lat[k]:.1f}" if lat[k] < 100 else f"{lat[k]:.0f}" for k in ("p50", "p95", "p99"))


def append_result(out_dir: Path, result: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_FILE
    with path.open("a") as f:
        f.write(json.dumps(result, default=str) + "\n")
    return path


def load_results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


TERMINAL_COLUMNS = ("mode", "N", "fwd pkt/s", "Mbit/s", "srv CPU", "µs/pkt", "CPU/stream", "loss %",
                    "lat p50/p95/p99 ms", "1st media ms", "gen CPU", "other CPU", "decode")


def print_table(results: list[dict[str, Any]], console: Console | None = None) -> None:
    """The key columns (the Markdown report has them all)."""
    console = console or Console(width=None if sys.stdout.isatty() else 140)
    if results and all(is_room_run(r) or r.get("scenario", r.get("mode")) not in ("forward", "transcode", "mesh")
                       for r in results):
        _print_room_table(results, console)
        return
    columns = [(h, f) for h, f in COLUMNS if h in TERMINAL_COLUMNS]
    table = Table(title="sfu-bench results", show_lines=False)
    for header, _ in columns:
        table.add_column(header, justify="left" if header == "mode" else "right")
    for r in results:
        if r.get("failed"):
            table.add_row(r.get("mode", "?"), str(r.get("participants", "?")),
                          f"[red]failed: {str(r.get('error', ''))[:70]}[/]", *[""] * (len(columns) - 3))
            continue
        table.add_row(*[str(fmt(r)) for _, fmt in columns])
    console.print(table)


def _print_room_table(results: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="sfu-bench large-room results")
    for header, _ in ROOM_COLUMNS:
        table.add_column(header, justify="left" if header == "scenario" else "right")
    for r in results:
        if is_room_run(r):
            table.add_row(*[str(fmt(r)) for _, fmt in ROOM_COLUMNS])
        else:
            table.add_row(str(r.get("scenario")), str(r.get("participants")),
                          f"[red]failed: {str(r.get('error', ''))[:70]}[/]", *[""] * (len(ROOM_COLUMNS) - 3))
    console.print(table)
    for line in simulcast_summary(results) + large_goals(results):
        console.print(line)


def _markdown_table(results: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        if r.get("failed"):
            lines.append(f"| {r.get('mode')} | {r.get('participants')} | failed: {r.get('error', '')[:120]} |")
        else:
            lines.append("| " + " | ".join(str(fmt(r)) for _, fmt in COLUMNS) + " |")
    return lines


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def comparisons(results: list[dict[str, Any]]) -> list[str]:
    """Transcode/forward ratios of server CPU per subscriber stream (and per packet) at equal size and preset.

    A transcoding server that runs out of CPU drops frames and re-encodes fewer bits, which makes
    its cost per stream look smaller than it is: such rows are flagged.
    """
    groups: dict[tuple[int, str, str], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if not r.get("failed") and r.get("server_cpu_pct_per_stream") is not None:
            groups[(r["participants"], r["preset"], _shape(r))][r["mode"]].append(r)
    lines = []
    for (_n, preset, shape), modes in sorted(groups.items()):
        fwd_runs, tr_runs = modes.get("forward", []), modes.get("transcode", [])
        fwd = _mean([r["server_cpu_pct_per_stream"] for r in fwd_runs])
        tr = _mean([r["server_cpu_pct_per_stream"] for r in tr_runs])
        if not (fwd and tr):
            continue
        fwd_us = _mean([r.get("server_us_per_packet") for r in fwd_runs])
        tr_us = _mean([r.get("server_us_per_packet") for r in tr_runs])
        line = (f"- {shape} participants, preset {preset}: transcode spends **{tr / fwd:.0f}x** the server CPU per "
                f"subscriber stream of forward ({tr:.2f}% vs {fwd:.3f}% of a core)")
        if fwd_us and tr_us:
            line += f", {tr_us / fwd_us:.0f}x per packet ({tr_us:,.0f} vs {fwd_us:.1f} µs)"
        kbps = _mean([r.get("video_kbps_per_stream") for r in tr_runs]) or 0
        clip = _mean([r.get("clip_video_kbps") for r in fwd_runs]) or 0
        if clip and kbps < 0.5 * clip:
            line += (f"; the transcoder was saturated (video re-encoded at {kbps:.0f} kbit/s per stream), "
                     "so its cost per stream is understated")
        lines.append(line + ".")
    return lines


def goals(results: list[dict[str, Any]]) -> list[str]:
    """The issue's performance goals, checked against whichever runs measured them."""
    lines = []
    fwd8 = [r for r in results if not r.get("failed") and r["mode"] == "forward" and r["participants"] == 8
            and r["publishers"] == 8 and r["preset"] == "1m"]
    if fwd8:
        r = min(fwd8, key=lambda r: r.get("server_us_per_packet") or 1e9)
        lat = r.get("latency_ms") or {}
        us = r.get("server_us_per_packet")
        lines.append(f"- Forward, 8 participants, 1 Mbit/s: {us} µs per forwarded packet (goal ≤ 15: "
                     f"{'met' if us is not None and us <= 15 else 'not met'}), loss {r['loss_pct']:.3f}% (goal < 0.1%: "
                     f"{'met' if r['loss_pct'] < 0.1 else 'not met'}), p99 latency {lat.get('p99', 'n/a')} ms "
                     f"(goal < 5: {'met' if lat and lat['p99'] < 5 else 'not met'}).")
    big = [r for r in results if not r.get("failed") and r["mode"] == "forward" and r["participants"] >= 25
           and r["preset"] == "300k"]
    if big:
        r = big[-1]
        lines.append(f"- Forward, {r['participants']} participants at 300 kbit/s: server {_pct(r['server_cpu_cores'])} "
                     f"of one core, loss {r['loss_pct']:.3f}% (goal: ≤ 100% of a core and < 0.5% loss: "
                     f"{'met' if (r['server_cpu_cores'] or 9) <= 1 and r['loss_pct'] < 0.5 else 'not met'}); "
                     f"the generator used {_pct(r['generator_cpu_cores'])} "
                     f"({r['generator_cpu_pct_of_machine']}% of the machine), other programs "
                     f"{_pct(r.get('other_cpu_cores'))}; latency as the generator saw it {_lat(r.get('latency_ms'))} ms "
                     "(p50/p95/p99: a saturated generator queues packets in its own sockets).")
    return lines


def write_markdown(results: list[dict[str, Any]], path: Path, command: str = "") -> Path:
    ok = [r for r in results if not r.get("failed")]
    machine = ok[0]["machine"] if ok else {}
    lines = [
        "# sfu-bench report", "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (f" by `{command}`" if command else "") + ".",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, Python {machine.get('python', '?')}, "
        f"aiortc {machine.get('aiortc', '?')}. Generator and server share this machine.", "",
        *_markdown_table(results), "",
    ]
    comp = comparisons(results)
    if comp:
        lines += ["## Forward vs transcode", "", *comp, ""]
    gl = goals(results)
    if gl:
        lines += ["## Goals", "", *gl, ""]
    lines += room_sections(results)
    lines += ["Figures are defined in `docs/benchmarks.md`. Plots: "
              + ", ".join(f"`{name}`" for name in plot_names(results)) + ".", ""]
    path.write_text("\n".join(lines))
    return path
