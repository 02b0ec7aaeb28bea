"""One-way forwarding latency: time each RTP payload out of a publisher and into a subscriber.

The SFU forwards payloads untouched, so a payload's CRC-32 (plus who sent it) identifies it on both
sides. Publishers and subscribers live in different worker processes; both stamp with
`time.monotonic_ns()` (CLOCK_MONOTONIC, one clock for the whole machine on Linux), keep records
during the measured window, and the runner joins them afterwards (`match`). In transcode mode
payloads are re-encoded, nothing matches, and latency is reported as not available.
"""

from __future__ import annotations

import time
import zlib
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc.rtp import is_rtcp

MAX_LATENCY_NS = 2_000_000_000  # a match further apart than this is a repeat of the looping clip


@dataclass
class Recorder:
    """Shared per worker: whether the measured window is open, and the latency records."""

    recording: bool = False
    sample_mask: int = 0  # record latency for packets whose crc & mask == 0
    keys: array = field(default_factory=lambda: array("Q"))  # received: (sender << 32) | crc32(payload)
    times: array = field(default_factory=lambda: array("q"))  # received: monotonic ns
    send_keys: array = field(default_factory=lambda: array("Q"))
    send_times: array = field(default_factory=lambda: array("q"))


@dataclass
class SendCounter:
    """What one publisher connection uploaded (RTP only) while the window was open."""

    packets: int = 0
    bytes: int = 0


def rtp_payload_offset(data: bytes) -> int:
    """Where the payload starts in a serialized RTP packet (fixed header, CSRCs, extension)."""
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        offset += 4 + 4 * ((data[offset + 2] << 8) | data[offset + 3])
    return offset


def hook_sender(dtls_transport: Any, label_hi: int, recorder: Recorder, counter: SendCounter) -> None:
    """Wrap a publisher connection's `RTCDtlsTransport._send_rtp` (pre-SRTP bytes) to stamp payloads."""
    original: Callable[[bytes], Awaitable[None]] = dtls_transport._send_rtp
    if getattr(original, "_bench_hooked", False):
        return
    hi = label_hi << 32

    async def send_rtp(data: bytes) -> None:
        if recorder.recording and not is_rtcp(data):
            counter.packets += 1
            counter.bytes += len(data)
            crc = zlib.crc32(memoryview(data)[rtp_payload_offset(data):])
            if not crc & recorder.sample_mask:
                recorder.send_keys.append(hi | crc)
                recorder.send_times.append(time.monotonic_ns())
        await original(data)

    send_rtp._bench_hooked = True  # type: ignore[attr-defined]
    dtls_transport._send_rtp = send_rtp


def match(send_keys: np.ndarray, send_times: np.ndarray, recv_keys: np.ndarray,
          recv_times: np.ndarray) -> np.ndarray:
    """Latencies (ns) of received records matched to the latest earlier send with the same key."""
    if len(send_keys) == 0 or len(recv_keys) == 0:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((send_times, send_keys))
    keys, times = send_keys[order], send_times[order]
    idx = np.searchsorted(keys, recv_keys, side="right") - 1
    valid = idx >= 0
    idx = np.where(valid, idx, 0)
    valid &= keys[idx] == recv_keys
    lat = recv_times - times[idx]
    # the same payload sent again later (the clip loops): step back to the send before the receive
    for i in np.nonzero(valid & (lat < 0))[0]:
        j = idx[i]
        while j > 0 and keys[j - 1] == recv_keys[i] and times[j] > recv_times[i]:
            j -= 1
        lat[i] = recv_times[i] - times[j]
    valid &= (lat >= 0) & (lat < MAX_LATENCY_NS)
    return lat[valid]


def percentiles_ms(latencies_ns: np.ndarray) -> dict[str, float] | None:
    if len(latencies_ns) == 0:
        return None
    p50, p95, p99 = np.percentile(latencies_ns, [50, 95, 99]) / 1e6
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3),
            "max": round(float(latencies_ns.max()) / 1e6, 3), "samples": int(len(latencies_ns))}
