"""`/healthz` and `/metrics` of a signaling-only server."""

from __future__ import annotations

import json
import urllib.request

from support import ServerProcess


def get(server: ServerProcess, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(server.url + path, timeout=5) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            if line.split("{")[0].split(" ")[0] == name:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_healthz_and_metrics(dev_server, peers, room) -> None:
    _, _, before = get(dev_server, "/metrics")
    a = await peers(dev_server.url, name="metrics-a")
    b = await peers(dev_server.url, name="metrics-b")
    await a.call("video:join-room", {"roomId": room, "topology": "mesh"})
    await b.call("video:join-room", {"roomId": room})
    await a.call("chat:send", {"roomId": room, "text": ""})
    await a.call("chat:send", {"roomId": room + "-nope", "text": "x"})

    status, ctype, body = get(dev_server, "/healthz")
    health = json.loads(body)
    assert status == 200 and ctype.startswith("application/json")
    assert health["status"] == "ok" and health["version"] == "0.1.0" and health["media"] == {}
    assert health["rooms"] >= 1 and health["connections"] >= 2

    status, ctype, after = get(dev_server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert metric(after, "sfu_signaling_connections") >= 2
    assert metric(after, "sfu_signaling_participants") >= 2
    assert metric(after, "sfu_signaling_rooms") >= 1
    handled = "sfu_signaling_events_handled_total"
    rejected = "sfu_signaling_events_rejected_total"
    assert metric(after, handled, event="video:join-room") - metric(before, handled, event="video:join-room") == 2
    for code in ("bad_request", "not_found"):
        delta = metric(after, rejected, event="chat:send", code=code) - metric(before, rejected, event="chat:send",
                                                                                code=code)
        assert delta == 1, code
