"""The server's own counters from `GET /metrics`, read at the run's phase boundaries.

What subscribers count is the benchmark's figure; the server's counters (offers it sent, packets it
forwarded per simulcast layer, layer switches, keyframe requests) say why, and cost one HTTP
request at each boundary, outside the measured window's packet path.
"""

from __future__ import annotations

import re
import urllib.request

_LINE = re.compile(r"^(sfu_[a-z_]+)(\{[^}]*\})?\s+([0-9.eE+\-]+|NaN|\+Inf)$")


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """`sfu_*` samples of a server's /metrics, keyed `name` or `name{labels}`; {} when unreachable."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as resp:
            text = resp.read().decode("utf-8", "replace")
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            name, labels, value = match.groups()
            try:
                out[name + (labels or "")] = float(value)
            except ValueError:
                continue
    return out


def delta(after: dict[str, float], before: dict[str, float], key: str) -> float | None:
    """`after[key] - before[key]` (a missing `before` counts as 0: a fresh server); None if not exported."""
    if key not in after:
        return None
    return after[key] - before.get(key, 0.0)


OFFERS = "sfu_server_offers_total"
LAYER_PACKETS = 'sfu_forwarded_packets_by_layer_total{layer="%d"}'
LAYER_SWITCHES = "sfu_layer_switches_total"
KEYFRAME_REQUESTS = "sfu_keyframe_requests_total"
FORWARDED = "sfu_forwarded_packets_total"
