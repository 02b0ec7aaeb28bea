"""Logs under hostile input: client-controlled strings are escaped (no raw CR, LF, ESC or bidi
characters in a line, in both formats), and a flood of bad input writes a bounded number of lines
while /metrics still counts every rejection."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Iterator

import jwt
import pytest
from hostile import metric, metrics_text, watch
from sig_clients import Peers, settle
from sig_node import run_node
from support import ServerProcess, run_server

SECRET = "logs-secret-" + "0123456789abcdef" * 4
HOSTILE = "x\r\x1b[2K\u202eforged\u2066\x85\u2028end"  # no space, quote or "=": kv once let it through raw
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def bad_chars(text: str) -> list[str]:
    """Characters that must never reach a log file raw: every control, format or line separator
    except the newline that ends each line."""
    return sorted({repr(c) for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})


@pytest.fixture(scope="module", params=["kv", "json"])
def log_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with run_server(["--no-media", "--log-format", request.param, "--rate-chat", "1000/1000",
                     "--rate-default", "1000/1000"], env={"SFU_JWT_SECRET": SECRET}) as s:
        yield s


def token(sub: str) -> str:
    return jwt.encode({"sub": sub, "rooms": "*", "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")


def by_token(name: str) -> dict[str, str]:
    return {"token": token(name)}


def lines_of(server: ServerProcess) -> list[str]:
    return server.log().split("\n")


async def test_client_strings_are_escaped(log_server, peers: Peers, room) -> None:
    # the token's `sub` is logged as `user=` by connect, join and disconnect; a client's event name
    a = await peers(log_server.url, auth={"token": token("u" + HOSTILE)})
    assert (await a.call("video:join-room", {"roomId": room, "topology": "mesh"}))["ok"]
    await a.call("evil\r\n" + HOSTILE, {"roomId": room})
    run_node("connect.mjs", log_server.url, json.dumps({"token": HOSTILE}))
    await a.close()
    await settle()
    text = log_server.log()
    assert bad_chars(text) == []
    assert not BIDI.search(text)
    for line in lines_of(log_server):
        if not line.strip() or line.startswith("Call page: http://127.0.0.1:"):
            continue  # the operator's URL line on stdout, written by the server itself
        if line.startswith("{"):
            json.loads(line)
        elif line.startswith("Call page: "):
            # the operator's line (sfu/__main__.py, key=value logs only): our own URL, nothing a client sent
            assert line == f"Call page: {log_server.url}/  (Ctrl+C stops the server)", line
        else:
            assert line.startswith(("ts=", "  | ")), f"a line that is not a record: {line!r}"
    assert "forged" in text, "the value is kept, escaped"


async def test_a_flood_of_bad_input_is_logged_at_most_once_per_interval(log_server, peers: Peers, room) -> None:
    before = metrics_text(log_server)
    async with watch(log_server, auth=by_token) as seen:
        flooder = await peers(log_server.url, auth=by_token("flooder"))
        for _ in range(300):
            await flooder.emit("chat:send", {"roomId": room, "text": ""})
        await flooder.wait_for("error", lambda _e: len(flooder.received("error")) == 300, timeout=15)
    seen.assert_unaffected()
    after = metrics_text(log_server)
    rejected = "sfu_signaling_events_rejected_total"
    assert metric(after, rejected, event="chat:send", code="bad_request") - metric(
        before, rejected, event="chat:send", code="bad_request") == 300
    mine = [line for line in lines_of(log_server) if flooder.sid in line and "rejected" in line]
    assert 1 <= len(mine) <= 2, mine
