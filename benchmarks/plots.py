"""PNG plots of a results file: costs vs room size (one line per mode) and latency vs load."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"forward": "tab:green", "transcode": "tab:red", "mesh": "tab:blue"}
MODES_PLOTTED = ("forward", "transcode", "mesh")  # a run whose scenario is its mode: the classic bench


def _series(results: list[dict[str, Any]], field: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per mode: room sizes and the mean of `field` over repeats."""
    acc: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if r.get("failed") or r.get(field) is None:
            continue
        acc[r["mode"]][r["participants"]].append(float(r[field]))
    return {mode: (sorted(v), [sum(v[n]) / len(v[n]) for n in sorted(v)]) for mode, v in acc.items()}


def finish(fig: Any, ax: Any, ylabel: str, title: str, path: Path, log: bool = False) -> Path:
    """Labels, grid, legend and the PNG: the same for every plot against room size."""
    ax.set_xlabel("participants in the room")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _line_plot(results: list[dict[str, Any]], field: str, ylabel: str, title: str, path: Path,
               modes: tuple[str, ...] = ("forward", "transcode", "mesh"), log: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode, (xs, ys) in sorted(_series(results, field).items()):
        if mode in modes:
            ax.plot(xs, ys, marker="o", label=mode, color=COLORS.get(mode))
    return finish(fig, ax, ylabel, title, path, log=log)


def _latency_plot(results: list[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode in ("forward", "mesh"):
        rows = sorted((r["forwarded_pps"], r["latency_ms"]) for r in results
                      if not r.get("failed") and r["mode"] == mode and r.get("latency_ms"))
        if not rows:
            continue
        xs = [x for x, _ in rows]
        for pct, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
            ax.plot(xs, [lat[pct] for _, lat in rows], style, marker="o", color=COLORS[mode], label=f"{mode} {pct}")
    ax.set_xlabel("forwarded packets per second (all subscribers)")
    ax.set_ylabel("one-way latency, ms")
    ax.set_title("Forwarding latency vs load (transcode: payloads change, not measurable)")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


CLASSIC_PLOTS = ("cpu_per_packet.png", "cpu_per_stream.png", "upload_per_participant.png", "client_cpu.png", "latency.png")
ROOM_PLOTS = ("room_server_cpu.png", "room_rss.png", "room_downlink.png")


def _classic(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if not r.get("scenario") or r.get("scenario") in MODES_PLOTTED]


def plot_names(results: list[dict[str, Any]]) -> list[str]:
    """The files `write_plots` makes for these results (the report names them)."""
    from benchmarks.room_report import is_room_run

    rooms = list(ROOM_PLOTS) if any(is_room_run(r) for r in results) else []
    return rooms + (list(CLASSIC_PLOTS) if _classic(results) else [])


def write_plots(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    from benchmarks.room_report import write_room_plots

    out_dir.mkdir(parents=True, exist_ok=True)
    classic = _classic(results)
    if not classic:
        return write_room_plots(results, out_dir)
    return write_room_plots(results, out_dir) + [
        _line_plot(classic, "server_us_per_packet", "server CPU µs per forwarded packet",
                   "Server CPU per forwarded packet (log scale)", out_dir / "cpu_per_packet.png",
                   modes=("forward", "transcode"), log=True),
        _line_plot(classic, "server_cpu_pct_per_stream", "% of one core per subscriber stream",
                   "Server CPU per subscriber stream (log scale)", out_dir / "cpu_per_stream.png",
                   modes=("forward", "transcode"), log=True),
        _line_plot(classic, "upload_mbps_per_publisher", "Mbit/s uploaded by each participant",
                   "What each client uploads (mesh: once per other member)", out_dir / "upload_per_participant.png"),
        _line_plot(classic, "client_cpu_pct_per_participant", "% of one core per simulated client",
                   "What each client spends (generator CPU / participants)", out_dir / "client_cpu.png"),
        _latency_plot(classic, out_dir / "latency.png"),
    ]
