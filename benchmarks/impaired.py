"""Calls through a lossy network, measured the way a user sees them: Chromium, SFU next to a direct call.

`python -m benchmarks.impaired` (or `sfu-bench impaired`) re-runs itself in a private network namespace
(`benchmarks.netimpair`: NFQUEUE on that namespace's `lo`), starts the real server there, and for each
impairment opens two Chromium pages in an SFU call through the real web client, then two pages in a
direct `RTCPeerConnection` call (`impaired_web/direct.html`), one after the other, each under the same
per-browser loss and delay. Every page samples `getStats()` (`impaired_web/probe.js`); the figures are
computed per direction (A→B: A's outbound, B's inbound) over the same window, next to what the impairer
really did (hops seen, dropped, delay applied), so no figure can come from an impairment that did nothing.

Scenarios: `steady` (X% + Y ms for D seconds), `sigstop` (server paused 5 s, time until video moves
again, second stalls), `block` (page B's network cut for 8 s, UDP and its Socket.IO TCP).
Output: `<out>/impaired.json` and `<out>/impaired.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks import cpu
from benchmarks.netimpair import (
    ROOT,
    Impairer,
    Impairment,
    in_private_netns,
    netns_problem,
    reexec_in_private_netns,
    summarize,
)
from benchmarks.server import ServerHandle, start_server

WEB = Path(__file__).parent / "impaired_web"
SERVER_UDP = range(20000, 20200)  # below Linux's ephemeral range, where Chromium's ports come from
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    # Several pages share one browser: none of them may be throttled as a background page.
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
PAGES = ("A", "B")
Sample = dict[str, Any]


@dataclass
class Options:
    impairments: list[Impairment] = field(default_factory=lambda: [Impairment(0.03, 20.0)])
    scenarios: list[str] = field(default_factory=lambda: ["steady"])
    calls: list[str] = field(default_factory=lambda: ["sfu", "direct"])
    duration: float = 60.0
    warmup: float = 5.0
    stall_impairment: Impairment = field(default_factory=Impairment)
    pause: float = 5.0  # sigstop: how long the server stays stopped
    block: float = 8.0  # block: how long page B's network is cut
    observe: float = 12.0  # stall scenarios: seconds measured after the network or server returns
    stall_ms: float = 500.0  # a gap between decoded frames this long counts as a stall
    sample_ms: int = 500
    together: bool = False  # steady: SFU and direct call at the same time (fairer under others' load, but 2x ours)
    repeat: int = 1
    chromium: str = os.environ.get("SFU_TEST_CHROMIUM") or "/usr/bin/chromium"
    chromium_args: list[str] = field(default_factory=list)
    server_args: list[str] = field(default_factory=list)  # extra flags for the server (e.g. --ping-timeout 20)
    seed: int | None = None
    out: Path = Path("bench-results/impaired")


# ---- the lab: server, impairer, direct-call page, browser (all inside the private namespace) ----------


class Lab:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.server: ServerHandle | None = None
        self.impairer: Impairer | None = None
        self.browser: Any = None
        self.direct_url = ""
        self._stack: list[Callable[[], None]] = []

    def __enter__(self) -> Lab:
        try:
            self.server = start_server("forward", ["--udp-ports", f"{SERVER_UDP.start}-{SERVER_UDP.stop - 1}",
                                                   *self.opts.server_args])
            self._stack.append(self.server.stop)
            port = int(self.server.url.rsplit(":", 1)[1])
            self.impairer = Impairer(self.opts.impairments[0], SERVER_UDP, port, seed=self.opts.seed).__enter__()
            self._stack.append(self.impairer.__exit__)
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(WEB)))
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            self._stack.append(httpd.shutdown)
            self.direct_url = f"http://127.0.0.1:{httpd.server_address[1]}/direct.html"
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            self._stack.append(playwright.stop)
            self.browser = playwright.chromium.launch(executable_path=self.opts.chromium,
                                                      args=CHROMIUM_ARGS + self.opts.chromium_args)
            self._stack.append(self.browser.close)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        while self._stack:
            try:
                self._stack.pop()()
            except Exception:  # noqa: BLE001 - tear down the rest regardless
                pass

    @property
    def server_url(self) -> str:
        assert self.server is not None
        return self.server.url

    def new_page(self) -> tuple[Any, Any]:
        context = self.browser.new_context(permissions=["camera", "microphone"], viewport={"width": 800, "height": 600},
                                           # tiles of ~780x580 device pixels: an SFU viewer needs the top
                                           # simulcast layer, as the direct call sends its whole camera
                                           device_scale_factor=2)
        context.add_init_script(path=str(WEB / "probe.js"))
        return context, context.new_page()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


# ---- two kinds of call ---------------------------------------------------------------------------


@dataclass
class Call:
    kind: str  # "sfu" | "direct"
    contexts: list[Any]
    pages: list[Any]
    tcp_ports: list[set[int]]  # per page: its Socket.IO/HTTP connections to the server (SFU only)

    def close(self) -> None:
        for c in self.contexts:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass

    def participant_ids(self) -> list[str | None]:
        if self.kind != "sfu":
            return [None, None]
        return [p.evaluate("() => window.__sfuCall?.participantId ?? null") for p in self.pages]


def tcp_client_ports(server_port: int) -> set[int]:
    """Client-side ports of TCP connections to `server_port` in this namespace (/proc/net/tcp)."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        local, remote = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)
        if remote == server_port:
            ports.add(local)
    return ports


def open_sfu_call(lab: Lab) -> Call:
    """Two pages join one SFU room through the web client, as a user would (pre-join screen, Join)."""
    room = f"loss-{uuid.uuid4().hex[:8]}"
    call = Call("sfu", [], [], [])
    server_port = int(lab.server_url.rsplit(":", 1)[1])
    try:
        for name in PAGES:
            before = tcp_client_ports(server_port)
            context, page = lab.new_page()
            call.contexts.append(context)
            page.goto(f"{lab.server_url}/r/{room}")
            page.get_by_label("Your name").fill(name)
            page.wait_for_selector("video[aria-label='Your camera preview']", timeout=15_000)
            page.wait_for_function("() => !document.querySelector('button[aria-label=microphone i]').disabled")
            page.get_by_role("button", name="Join", exact=True).click()
            page.wait_for_selector("[data-testid=call-page][data-status=joined]", timeout=20_000)
            call.pages.append(page)
            call.tcp_ports.append(tcp_client_ports(server_port) - before)
    except BaseException:
        call.close()
        raise
    return call


def open_direct_call(lab: Lab) -> Call:
    """Two pages call each other directly; Playwright carries the offer and the answer."""
    call = Call("direct", [], [], [set(), set()])
    try:
        for _ in PAGES:
            context, page = lab.new_page()
            call.contexts.append(context)
            page.goto(lab.direct_url)
            page.evaluate("() => direct.setup()")
            call.pages.append(page)
        a, b = call.pages
        offer = a.evaluate("() => direct.offer()")
        answer = b.evaluate("o => direct.answer(o)", offer)
        a.evaluate("a => direct.accept(a)", answer)
    except BaseException:
        call.close()
        raise
    return call


OPENERS: dict[str, Callable[[Lab], Call]] = {"sfu": open_sfu_call, "direct": open_direct_call}


def wait_for_video(call: Call, began: float, timeout: float = 30.0) -> dict[str, float | None]:
    """Per direction, seconds from `began` until the receiving page decodes video (None: not within `timeout`).

    A direction that never starts is a result (a black tile), not a harness failure; only a call where
    no video flows at all raises."""
    started: dict[str, float | None] = {"A→B": None, "B→A": None}
    samples: list[Sample] = []
    while not samples or (time.monotonic() - began < timeout and None in started.values()):
        samples = [p.evaluate("() => __probe.sample()") for p in call.pages]
        for direction, s in zip(("B→A", "A→B"), samples, strict=True):  # page A receives B→A
            if started[direction] is None and (s.get("inVideo") or {}).get("framesDecoded", 0) > 5:
                started[direction] = round(time.monotonic() - began, 2)
        time.sleep(0.25)
    if all(v is None for v in started.values()):
        seen = {name: {k: (s.get("inVideo") or {}).get(k) for k in ("packetsReceived", "framesDecoded", "pliCount")}
                for name, s in zip(PAGES, samples, strict=True)}
        raise TimeoutError(f"{call.kind} call: no video either way within {timeout}s; inbound video: {seen}")
    return started


def now_ms() -> float:
    return time.time() * 1000


# ---- analysis --------------------------------------------------------------------------------------


def _window(samples: list[Sample], t0: float, t1: float) -> list[Sample]:
    return [s for s in samples if t0 <= s["t"] <= t1 and "pc" in s]


def _delta(first: Sample, last: Sample, part: str, key: str) -> float:
    return float((last.get(part) or {}).get(key, 0) or 0) - float((first.get(part) or {}).get(key, 0) or 0)


def _values(samples: list[Sample], part: str, key: str) -> list[float]:
    return [float(s[part][key]) for s in samples if isinstance((s.get(part) or {}).get(key), int | float)]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def direction_figures(sender: list[Sample], receiver: list[Sample], t0: float, t1: float) -> dict[str, Any]:
    """What a user on the receiving side saw of the sender's camera and microphone in [t0, t1]."""
    rx, tx = _window(receiver, t0, t1), _window(sender, t0, t1)
    if len(rx) < 2 or len(tx) < 2:
        return {"error": "too few samples"}
    r0, r1, s0, s1 = rx[0], rx[-1], tx[0], tx[-1]
    minutes = (r1["t"] - r0["t"]) / 60_000
    lost, received = _delta(r0, r1, "inVideo", "packetsLost"), _delta(r0, r1, "inVideo", "packetsReceived")
    samples_rx = _delta(r0, r1, "inAudio", "totalSamplesReceived")
    widths, heights = _values(rx, "inVideo", "frameWidth"), _values(rx, "inVideo", "frameHeight")
    target = _values(tx, "outVideo", "targetBitrate")
    rtt = _values(tx, "pair", "currentRoundTripTime")
    return {
        "no_video": float((r1.get("inVideo") or {}).get("framesDecoded", 0) or 0) <= 5,
        "seconds": round(minutes * 60, 1),
        "reconnected": r0["pc"] != r1["pc"] or s0["pc"] != s1["pc"],
        "freezes": _delta(r0, r1, "inVideo", "freezeCount"),
        "freezes_per_min": _delta(r0, r1, "inVideo", "freezeCount") / minutes,
        "frozen_s_per_min": _delta(r0, r1, "inVideo", "totalFreezesDuration") / minutes,
        "fps": _delta(r0, r1, "inVideo", "framesDecoded") / (minutes * 60),
        "received_fps": _delta(r0, r1, "inVideo", "framesReceived") / (minutes * 60),
        "frames_dropped": _delta(r0, r1, "inVideo", "framesDropped"),
        "width": statistics.median(widths) if widths else None,
        "height": statistics.median(heights) if heights else None,
        "min_height": min(heights) if heights else None,
        "audio_concealed": _delta(r0, r1, "inAudio", "concealedSamples") / samples_rx if samples_rx else None,
        "target_kbps": (_mean(target) or 0) / 1000 if target else None,
        "target_kbps_min": min(target) / 1000 if target else None,
        "target_kbps_end": target[-1] / 1000 if target else None,
        "available_kbps": (_mean(_values(tx, "pair", "availableOutgoingBitrate")) or 0) / 1000,
        "rtt_ms": 1000 * _mean(rtt) if rtt else None,
        "video_lost": lost,
        "video_received": received,
        "residual_loss": lost / (lost + received) if lost + received > 0 else 0.0,
        "nack_sent": _delta(r0, r1, "inVideo", "nackCount"),
        "pli_sent": _delta(r0, r1, "inVideo", "pliCount"),
        "nack_at_publisher": _delta(s0, s1, "outVideo", "nackCount"),
        "pli_at_publisher": _delta(s0, s1, "outVideo", "pliCount"),
        "rtx_sent": _delta(s0, s1, "outVideo", "retransmittedPacketsSent"),
        "sent_fps": _delta(s0, s1, "outVideo", "framesEncoded") / ((s1["t"] - s0["t"]) / 1000),
        "sent_height": statistics.median(_values(tx, "outVideo", "frameHeight") or [0]),
        "quality_limitation": (s1.get("outVideo") or {}).get("qualityLimitationReason"),
        "scalability_mode": (s1.get("outVideo") or {}).get("scalabilityMode"),
        "cpu_limited_share": _share(tx, lambda s: (s.get("outVideo") or {}).get("qualityLimitationReason") == "cpu"),
    }


def _share(samples: list[Sample], predicate: Callable[[Sample], bool]) -> float:
    return sum(map(predicate, samples)) / len(samples) if samples else 0.0


def page_ports(samples: list[Sample]) -> set[int]:
    ports: set[int] = set()
    for s in samples:
        ports.update(p for p in s.get("localPorts") or [] if p)
        if (s.get("pair") or {}).get("localPort"):
            ports.add(s["pair"]["localPort"])
    return ports


def impairment_figures(before: dict[str, Any], after: dict[str, Any], samples: list[list[Sample]],
                       t0: float, t1: float) -> dict[str, Any]:
    """What the impairer did in the window, per page and in total, and whether it saw every RTP packet."""
    all_ports = set().union(*(page_ports(page) for page in samples))
    out: dict[str, Any] = {"total": summarize(after, all_ports, since=before)}
    for name, page_samples in zip(PAGES, samples, strict=True):
        ports = page_ports(page_samples)
        up = summarize(_only(after, "up"), ports, _only(before, "up"))
        down = summarize(_only(after, "down"), ports, _only(before, "down"))
        win = _window(page_samples, t0, t1)
        rtp_sent = (win[-1].get("rtpSent", 0) - win[0].get("rtpSent", 0)) if len(win) >= 2 else 0
        out[name] = {"ports": sorted(ports), "up": up, "down": down, "rtp_sent": rtp_sent,
                     "coverage": up["hop_packets"] / rtp_sent if rtp_sent else None}
    out["kernel"] = after.get("kernel")
    out["enobufs"] = after.get("enobufs")
    late_n = after["late_n"] - before["late_n"]
    out["late_ms"] = (after["late_ms_sum"] - before["late_ms_sum"]) / late_n if late_n else 0.0
    out["priority"] = after.get("priority")
    return out


def _only(snapshot: dict[str, Any], direction: str) -> dict[str, Any]:
    return {"ports": {k: v for k, v in snapshot["ports"].items() if k.endswith("/" + direction)}}


def frame_steps(samples: list[Sample]) -> list[float]:
    """Times (ms) of samples at which the receiver had decoded new frames (a new connection counts from 0)."""
    times, prev_pc, prev = [], None, 0.0
    for s in samples:
        if "pc" not in s:
            continue
        frames = float((s.get("inVideo") or {}).get("framesDecoded", 0) or 0)
        if s["pc"] != prev_pc:
            prev_pc, prev = s["pc"], 0.0
        if frames > prev:
            times.append(s["t"])
        prev = frames
    return times


def recovery_figures(receiver: list[Sample], t_cut: float, t_back: float, t_end: float,
                     stall_ms: float) -> dict[str, Any]:
    """After the network or server came back at t_back: when video moved for good, and how often it stalled
    again after its first new frame (stale frames then a wait for a keyframe count as a second stall)."""
    steps = frame_steps(receiver)
    after = [t for t in steps if t > t_back]
    if not after:
        return {"first_frame_s": None, "video_back_s": None, "second_stalls": None, "longest_gap_after_s": None}
    gaps = [(a, b) for a, b in zip(after, after[1:], strict=False) if b - a >= stall_ms]
    if t_end - after[-1] >= stall_ms:  # still frozen when the observation ended
        gaps.append((after[-1], t_end))
    still_frozen = bool(gaps) and gaps[-1][1] == t_end
    return {
        "first_frame_s": (after[0] - t_back) / 1000,
        "video_back_s": None if still_frozen else ((gaps[-1][1] if gaps else after[0]) - t_back) / 1000,
        "second_stalls": len(gaps),
        "longest_gap_after_s": max((b - a for a, b in gaps), default=0.0) / 1000,
        "frames_during_cut": len([t for t in steps if t_cut <= t <= t_back]),
    }


# ---- scenarios -------------------------------------------------------------------------------------


def _start_sampling(call: Call, ms: int) -> None:
    for p in call.pages:
        p.evaluate("ms => __probe.start(ms)", ms)


def _take(call: Call) -> list[list[Sample]]:
    return [p.evaluate("() => __probe.take()") for p in call.pages]


def _events(call: Call) -> list[list[Any]]:
    return [p.evaluate("() => __probe.events") for p in call.pages]


@contextmanager
def _opened(lab: Lab, kind: str) -> Iterator[tuple[Call, dict[str, float | None]]]:
    """An open call and, per direction, the seconds from opening the pages to decoded video."""
    began = time.monotonic()
    call = OPENERS[kind](lab)
    try:
        yield call, wait_for_video(call, began)
    finally:
        call.close()


def measure_steady(lab: Lab, kinds: Sequence[str], imp: Impairment) -> list[dict[str, Any]]:
    """One measured window for every call in `kinds`, open at the same time (same load, same network)."""
    assert lab.impairer is not None
    lab.impairer.set(imp)
    with ExitStack() as stack:
        opened = [stack.enter_context(_opened(lab, kind)) for kind in kinds]
        for call, _ in opened:
            _start_sampling(call, lab.opts.sample_ms)
        time.sleep(lab.opts.warmup)
        own0, busy0, imp0, t0 = cpu.cpu_seconds(os.getpid()), cpu.machine_busy_seconds(), lab.impairer.stats(), now_ms()
        time.sleep(lab.opts.duration)
        t1, imp1, busy1, own1 = now_ms(), lab.impairer.stats(), cpu.machine_busy_seconds(), cpu.cpu_seconds(os.getpid())
        taken = [_take(call) for call, _ in opened]
    results = []
    for kind, (_, setup), samples in zip(kinds, opened, taken, strict=True):
        a, b = samples
        results.append({
            "scenario": "steady", "call": kind, "impairment": asdict(imp), "video_start_s": setup,
            "together": list(kinds), "machine_busy_cores": (busy1 - busy0) / ((t1 - t0) / 1000),
            "own_cpu_cores": (own1 - own0) / ((t1 - t0) / 1000),  # server, Chromium, impairer, this process
            "directions": {"A→B": direction_figures(a, b, t0, t1), "B→A": direction_figures(b, a, t0, t1)},
            "impairer": impairment_figures(imp0, imp1, samples, t0, t1),
        })
    return results


def measure_sigstop(lab: Lab, kind: str) -> dict[str, Any]:
    """Server stopped with SIGSTOP for `pause` s, then SIGCONT: time until every page's video moves again."""
    assert lab.impairer is not None and lab.server is not None
    lab.impairer.set(lab.opts.stall_impairment)
    with _opened(lab, kind) as (call, setup):
        _start_sampling(call, 100)
        time.sleep(3)
        t_cut = now_ms()
        os.kill(lab.server.pid, signal.SIGSTOP)
        try:
            time.sleep(lab.opts.pause)
        finally:
            os.kill(lab.server.pid, signal.SIGCONT)
        t_back = now_ms()
        time.sleep(lab.opts.observe)
        t_end = now_ms()
        a, b = _take(call)
    return {
        "scenario": "sigstop", "call": kind, "impairment": asdict(lab.opts.stall_impairment), "video_start_s": setup,
        "pause_s": lab.opts.pause,
        "directions": {"A→B": recovery_figures(b, t_cut, t_back, t_end, lab.opts.stall_ms),
                       "B→A": recovery_figures(a, t_cut, t_back, t_end, lab.opts.stall_ms)},
    }


def measure_block(lab: Lab, kind: str) -> dict[str, Any]:
    """Page B's network (its UDP ports, its TCP to the server, any port it opens meanwhile) cut for `block` s."""
    assert lab.impairer is not None
    lab.impairer.set(lab.opts.stall_impairment)
    with _opened(lab, kind) as (call, setup):
        _start_sampling(call, 100)
        time.sleep(3)
        ids_before = call.participant_ids()
        ports = page_ports([call.pages[1].evaluate("() => __probe.sample()")]) | call.tcp_ports[1]
        imp0 = lab.impairer.stats()
        t_cut = now_ms()
        lab.impairer.block(ports, lab.opts.block)
        time.sleep(lab.opts.block)
        t_back = now_ms()
        time.sleep(lab.opts.observe)
        t_end = now_ms()
        imp1 = lab.impairer.stats()
        a, b = _take(call)
        events = _events(call)
        ids_after = call.participant_ids()
    return {
        "scenario": "block", "call": kind, "impairment": asdict(lab.opts.stall_impairment), "video_start_s": setup,
        "block_s": lab.opts.block, "blocked_ports": sorted(ports),
        "blocked_packets": summarize(imp1, since=imp0)["blocked"],
        "left_room": [x != y for x, y in zip(ids_before, ids_after, strict=True)] if kind == "sfu" else None,
        "new_connections": [max((s.get("pcs", 0) for s in page), default=0) - 1 for page in (a, b)],
        "ice_events_B": [[round((t - t_cut) / 1000, 2), n, e] for t, n, e in events[1] if t >= t_cut],
        "directions": {"A→B": recovery_figures(b, t_cut, t_back, t_end, lab.opts.stall_ms),
                       "B→A": recovery_figures(a, t_cut, t_back, t_end, lab.opts.stall_ms)},
    }


def run(opts: Options, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every scenario and round: the calls back to back (or together), the order alternating between runs."""
    results: list[dict[str, Any]] = []
    with Lab(opts) as lab:
        for scenario in opts.scenarios:
            plans: list[tuple[list[str], Impairment, Callable[[], list[dict[str, Any]]]]] = []
            n = 0
            for rnd in range(opts.repeat):
                if scenario == "steady":
                    for imp in opts.impairments:
                        kinds = opts.calls if n % 2 == 0 else list(reversed(opts.calls))
                        n += 1
                        groups = [kinds] if opts.together else [[k] for k in kinds]
                        plans += [(g, imp, partial(measure_steady, lab, g, imp)) for g in groups]
                elif scenario == "sigstop" and "sfu" in opts.calls:
                    plans.append((["sfu"], opts.stall_impairment, partial(_one, measure_sigstop, lab, "sfu")))
                elif scenario == "block":
                    plans += [([k], opts.stall_impairment, partial(_one, measure_block, lab, k)) for k in opts.calls]
                for kinds, imp, plan in plans:
                    name = f"{scenario} {imp.label()} {'+'.join(kinds)} (round {rnd + 1})"
                    log(f"impaired: {name} ...")
                    try:
                        done = plan()
                    except Exception as exc:  # noqa: BLE001 - one failed run is a result; the others go on
                        done = [{"scenario": scenario, "call": k, "impairment": asdict(imp),
                                 "error": f"{type(exc).__name__}: {exc}"} for k in kinds]
                    for result in done:
                        result["round"] = rnd + 1
                        results.append(result)
                        log(f"impaired: {name}: {result['call']}: {_brief(result)}")
                plans = []
    return results


def _one(measure: Callable[[Lab, str], dict[str, Any]], lab: Lab, kind: str) -> list[dict[str, Any]]:
    return [measure(lab, kind)]


def _brief(r: dict[str, Any]) -> str:
    if "error" in r:
        return "ERROR " + r["error"]
    parts = []
    for d, f in r["directions"].items():
        if "freezes_per_min" in f:
            parts.append(f"{d} freezes/min {f['freezes_per_min']:.1f} fps {f['fps']:.1f} target {f['target_kbps'] or 0:.0f} kbps")
        else:
            parts.append(f"{d} video back {f.get('video_back_s')} s, second stalls {f.get('second_stalls')}")
    if "impairer" in r:
        parts.append(f"hop loss {100 * r['impairer']['total']['hop_loss']:.2f}% delay {r['impairer']['total']['hop_delay_ms']:.1f} ms")
    return "; ".join(parts)


# ---- report ----------------------------------------------------------------------------------------

STEADY_ROWS: list[tuple[str, str, str]] = [  # (label, key, format)
    ("freezes / min", "freezes_per_min", "{:.1f}"),
    ("frozen s / min", "frozen_s_per_min", "{:.1f}"),
    ("frames / s (decoded)", "fps", "{:.1f}"),
    ("frames / s (received complete)", "received_fps", "{:.1f}"),
    ("frames dropped by the receiver", "frames_dropped", "{:.0f}"),
    ("frames / s (encoded by the sender)", "sent_fps", "{:.1f}"),
    ("received height (median / min)", "height", "{:.0f}"),
    ("sent height (median)", "sent_height", "{:.0f}"),
    ("sender's scalability mode", "scalability_mode", "{}"),
    ("audio concealed", "audio_concealed", "{:.1%}"),
    ("publisher target kbit/s (mean)", "target_kbps", "{:.0f}"),
    ("publisher target kbit/s (min)", "target_kbps_min", "{:.0f}"),
    ("available outgoing kbit/s", "available_kbps", "{:.0f}"),
    ("RTT ms (publisher's pair)", "rtt_ms", "{:.0f}"),
    ("time the encoder said 'cpu'", "cpu_limited_share", "{:.0%}"),
    ("video packetsLost (receiver)", "video_lost", "{:.0f}"),
    ("video loss seen by receiver", "residual_loss", "{:.2%}"),
    ("NACKs sent by receiver", "nack_sent", "{:.0f}"),
    ("NACKs reaching publisher", "nack_at_publisher", "{:.0f}"),
    ("PLIs sent by receiver", "pli_sent", "{:.0f}"),
    ("PLIs reaching publisher", "pli_at_publisher", "{:.0f}"),
    ("RTX packets sent", "rtx_sent", "{:.0f}"),
]
RECOVERY_ROWS = [
    ("first frame after return, s", "first_frame_s", "{:.2f}"),
    ("moving for good after, s (— still frozen)", "video_back_s", "{:.2f}"),
    ("stalls after the first frame", "second_stalls", "{:.0f}"),
    ("longest of those, s", "longest_gap_after_s", "{:.2f}"),
]


def _fmt(fmt: str, v: Any) -> str:
    return "—" if v is None else fmt.format(v)


def _ratio(sfu: list[Any], direct: list[Any]) -> str:
    s = [v for v in sfu if isinstance(v, int | float)]
    d = [v for v in direct if isinstance(v, int | float)]
    if not s or not d:
        return "—"
    ms, md = statistics.fmean(s), statistics.fmean(d)
    if md == 0:
        return "=" if ms == 0 else "∞"
    return f"{ms / md:.2f}"


def markdown(results: list[dict[str, Any]], command: str) -> str:
    """One table per scenario (and impairment): rows are figures, columns call × direction, then SFU ÷ direct."""
    lines = ["# Impaired calls: SFU vs direct (Chromium, per direction)", "", f"`{command}`", ""]
    groups: dict[tuple[str, str], dict[int, dict[str, dict[str, Any]]]] = {}
    for r in results:
        key = (r["scenario"], Impairment(**r["impairment"]).label())
        groups.setdefault(key, {}).setdefault(r.get("round", 1), {})[r["call"]] = r
    for (scenario, label), rounds in groups.items():
        lines += [f"## {scenario} — {label} per hop", ""]
        mean = _mean_calls(rounds)
        if len(rounds) > 1 and mean:
            n = sum(not any("error" in r for r in calls.values()) for calls in rounds.values())
            lines += [f"Mean of the {n} rounds (of {len(rounds)}) where every call worked:", ""]
            lines += _table(scenario, mean) + [""]
        for rnd, calls in rounds.items():
            if len(rounds) > 1:
                lines += [f"Round {rnd}:", ""]
            lines += [f"{kind}: **failed**: {r['error']}" for kind, r in calls.items() if "error" in r]
            ok = {k: r for k, r in calls.items() if "error" not in r}
            if ok:
                lines += _table(scenario, ok) + [""] + [f"- {kind}: " + _notes(r) for kind, r in ok.items()]
            lines.append("")
    return "\n".join(lines)


def _table(scenario: str, ok: dict[str, dict[str, Any]]) -> list[str]:
    cols = [(k, d) for k in ("sfu", "direct") if k in ok for d in ok[k]["directions"]]
    both = {"sfu", "direct"} <= ok.keys()
    header = [f"{k} {d}" for k, d in cols] + (["SFU ÷ direct"] if both else [])
    lines = ["| | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    start = {k: r.get("video_start_s") or {} for k, r in ok.items()}
    cells = [_fmt("{:.1f}", start[k].get(d)) if start[k] else "—" for k, d in cols]
    if any(start.values()):
        lines.append("| video decoded after opening the pages, s | " + " | ".join(cells) + (" | |" if both else " |"))
    black = [ok[k]["directions"][d].get("no_video_rounds") for k, d in cols]
    if any(black):
        lines.append("| rounds without video (black tile; not in the means) | "
                     + " | ".join(str(b or 0) for b in black) + (" | |" if both else " |"))
    for label, key, fmt in STEADY_ROWS if scenario == "steady" else RECOVERY_ROWS:
        cells = [_fmt(fmt, ok[k]["directions"][d].get(key)) if not ok[k]["directions"][d].get("no_video")
                 else "no video" for k, d in cols]
        if key == "height":
            cells = [f"{c} / {_fmt('{:.0f}', ok[k]['directions'][d].get('min_height'))}"
                     for c, (k, d) in zip(cells, cols, strict=True)]
        if both:
            cells.append(_ratio([v.get(key) for v in ok["sfu"]["directions"].values() if not v.get("no_video")],
                                [v.get(key) for v in ok["direct"]["directions"].values() if not v.get("no_video")]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _mean_calls(rounds: dict[int, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per call and direction, the mean of every numeric figure over the rounds that succeeded."""
    out: dict[str, dict[str, Any]] = {}
    complete = [calls for calls in rounds.values() if not any("error" in r for r in calls.values())]
    for kind in ("sfu", "direct"):
        runs = [calls[kind] for calls in complete if kind in calls]
        if not runs:
            continue
        directions = {}
        for d in runs[0]["directions"]:
            rows = [r["directions"][d] for r in runs if not r["directions"][d].get("no_video")]
            keys = {k for row in rows for k, v in row.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            directions[d] = {k: _mean([row[k] for row in rows if isinstance(row.get(k), int | float)]) for k in keys}
            directions[d].update(no_video=not rows, no_video_rounds=len(runs) - len(rows))
        out[kind] = {"directions": directions}
    return out


def _notes(r: dict[str, Any]) -> str:
    starts = r.get("video_start_s") or {}
    notes = ["video decoded " + ", ".join(f"{d} after {v:.1f} s" if v is not None else f"**{d} never (black tile)**"
                                          for d, v in starts.items()) + " from opening the pages"]
    if "impairer" in r:
        imp = r["impairer"]
        t = imp["total"]
        notes.append(f"impairer: {t['hop_dropped']:.0f} of {t['hop_packets']:.0f} hop crossings dropped "
                     f"({t['hop_loss']:.2%}), mean delay {t['hop_delay_ms']:.1f} ms per hop "
                     f"(verdicts {imp['late_ms']:.2f} ms late on average)")
        cov = [imp[p]["coverage"] for p in PAGES if imp[p]["coverage"] is not None]
        if cov:
            notes.append(f"packets through the impairer ÷ RTP sent ≥ {min(cov):.2f}")
        notes.append(f"machine busy {r['machine_busy_cores']:.2f} cores, of which this measurement "
                     f"{r.get('own_cpu_cores', 0):.2f}")
        if any(d.get("reconnected") for d in r["directions"].values()):
            notes.append("**a page reconnected during the window**")
    if r["scenario"] == "block":
        notes.append(f"{r['blocked_packets']} packets blocked; left the room: {r['left_room']}; "
                     f"new connections per page: {r['new_connections']}")
    return "; ".join(notes)


# ---- command line ----------------------------------------------------------------------------------


def parse_impairment(text: str) -> Impairment:
    """`LOSS%:DELAY_MS[:JITTER_MS]`, e.g. `3:20` or `10:50:5`."""
    parts = [float(x) for x in text.split(":")]
    loss, delay, jitter = (parts + [0.0, 0.0])[:3]
    return Impairment(loss / 100, delay, jitter)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfu-bench impaired", description=__doc__.split("\n\n")[0])
    p.add_argument("--impair", action="append", type=parse_impairment, metavar="LOSS:DELAY[:JITTER]",
                   help="per-hop loss %% and delay ms (jitter ms); repeat for several (default 3:20)")
    p.add_argument("--scenario", default="steady", help="comma-separated: steady, sigstop, block (or all)")
    p.add_argument("--calls", default="sfu,direct", help="comma-separated: sfu, direct")
    p.add_argument("--duration", type=float, default=60.0, help="measured seconds per call (default 60)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after video flows (default 5)")
    p.add_argument("--stall-impair", type=parse_impairment, default=Impairment(),
                   help="impairment during sigstop/block (default none)")
    p.add_argument("--pause", type=float, default=5.0, help="sigstop: seconds stopped (default 5)")
    p.add_argument("--block", type=float, default=8.0, help="block: seconds cut (default 8)")
    p.add_argument("--observe", type=float, default=12.0, help="seconds observed after the return (default 12)")
    p.add_argument("--sample-ms", type=int, default=500, help="getStats interval, steady (default 500)")
    p.add_argument("--together", action="store_true",
                   help="steady: SFU and direct call at the same time, one window (default: back to back)")
    p.add_argument("--repeat", type=int, default=1, help="rounds (the call order alternates; default 1)")
    p.add_argument("--nice", type=int, default=0, help="nice increment for everything started (e.g. -5 as root)")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="first wait up to this long for the machine's other load to stop")
    p.add_argument("--chromium", default=Options.chromium)
    p.add_argument("--chromium-arg", action="append", default=[], help="extra Chromium flag (repeat)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra server flag (repeat; e.g. --server-arg=--ping-timeout=20)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the loss draws")
    p.add_argument("--out", type=Path, default=Path("bench-results/impaired"))
    return p


def options_from(args: argparse.Namespace) -> Options:
    scenarios = ["steady", "sigstop", "block"] if args.scenario == "all" else args.scenario.split(",")
    return Options(
        impairments=args.impair or [Impairment(0.03, 20.0)], scenarios=scenarios, calls=args.calls.split(","),
        duration=args.duration, warmup=args.warmup, stall_impairment=args.stall_impair, pause=args.pause,
        block=args.block, observe=args.observe, sample_ms=args.sample_ms, chromium=args.chromium,
        chromium_args=args.chromium_arg, server_args=args.server_arg, seed=args.seed, out=args.out, together=args.together,
        repeat=args.repeat,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    if not in_private_netns():
        problem = netns_problem()
        if problem:
            print(f"impaired: cannot run here: {problem}")
            return 2
        args.out.mkdir(parents=True, exist_ok=True)
        return reexec_in_private_netns(["-m", "benchmarks.impaired", *_with_out(argv, args.out.resolve())], cwd=ROOT)
    opts = options_from(args)
    opts.out.mkdir(parents=True, exist_ok=True)
    if args.nice:
        # inherited by the server, the impairer and Chromium; a session (autogroup) of its own so that the
        # nice counts against other sessions' load too (benchmarks/cpu.py, `prioritize`)
        cpu.prioritize(args.nice)
    if args.wait_idle > 0:
        cpu.wait_for_idle(args.wait_idle)
    results = run(opts)
    command = "sfu-bench impaired " + " ".join(argv)
    (opts.out / "impaired.json").write_text(json.dumps({"command": command, "machine": cpu.machine_info(),
                                                        "results": results}, indent=1))
    report = markdown(results, command)
    (opts.out / "impaired.md").write_text(report)
    print(report)
    return 1 if any("error" in r for r in results) else 0


def _with_out(argv: list[str], out: Path) -> list[str]:
    cleaned, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        cleaned.append(a)
    return [*cleaned, "--out", str(out)]


if __name__ == "__main__":
    raise SystemExit(main())
