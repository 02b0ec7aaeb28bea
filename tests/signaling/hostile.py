"""Tools of the hostile-client suite: a raw Socket.IO client, server CPU/RSS sampling, and bystanders.

Every hostile test runs its attack inside `watch(server)`: two bystanders in a room of their own keep
chatting (each message timed from send to the other's receipt) while the server's RSS and CPU are
sampled from /proc. Afterwards the test asserts that the bystanders' messages all arrived with
normal latency and that the server stayed within bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
from support import ServerProcess, cpu_seconds, healthz, metric, metrics_text, rss_mb  # noqa: F401 - re-exported

MIN_EXCHANGES = 8
AuthFor = Callable[[str], dict[str, Any]]


class RawSocket:
    """A Socket.IO v5 client written by hand over one WebSocket, to send what real clients never do."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.sid = ""
        self.received: list[str] = []
        self.closed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, auth: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> RawSocket:
        self.session = aiohttp.ClientSession()
        try:
            self.ws = await self.session.ws_connect(self.url, headers=headers or {}, max_msg_size=0)
            opened = await self.ws.receive_str(timeout=10)
            assert opened.startswith("0"), opened
            await self.ws.send_str("40" + json.dumps(auth or {"name": "raw"}))
            while True:  # others' broadcasts (presence) may arrive before the CONNECT reply
                reply = await self.ws.receive_str(timeout=10)
                if reply.startswith("40{"):
                    break
                assert reply.startswith("42"), reply
                self.received.append(reply)
        except BaseException:
            await self.close()
            raise
        self.sid = json.loads(reply[2:])["sid"]
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    if msg.data == "2":
                        await self.ws.send_str("3")
                    else:
                        self.received.append(msg.data)
        finally:
            self.closed.set()

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


@dataclass
class Sample:
    at: float
    rss_mb: float
    cpu_s: float


@dataclass
class Watch:
    """What the bystanders and the /proc sampler saw during an attack."""

    server: ServerProcess
    latencies_ms: list[float] = field(default_factory=list)
    lost: int = 0
    samples: list[Sample] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> float:
        return max(s.rss_mb for s in self.samples) - self.samples[0].rss_mb

    @property
    def cpu_share(self) -> float:
        """Mean server CPU over the watch, in cores (1.0 = one core busy all the time)."""
        first, last = self.samples[0], self.samples[-1]
        return (last.cpu_s - first.cpu_s) / max(1e-6, last.at - first.at)

    def assert_unaffected(self, max_rss_growth_mb: float = 40.0, max_cpu: float = 0.9,
                          max_median_ms: float = 150.0, max_p95_ms: float = 750.0) -> None:
        """Bystanders got every message with normal latency; the server stayed within bounds.

        The margins are wide because this machine's two cores are shared with browser tests.
        """
        assert len(self.latencies_ms) >= MIN_EXCHANGES - self.lost, f"bystanders exchanged only {len(self.latencies_ms)} messages"
        assert self.lost == 0, f"{self.lost} bystander messages never arrived"
        ordered = sorted(self.latencies_ms)
        median, p95 = statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]
        assert median <= max_median_ms and p95 <= max_p95_ms, f"bystander latency median {median:.0f} ms, p95 {p95:.0f} ms"
        assert self.rss_growth_mb <= max_rss_growth_mb, f"server RSS grew by {self.rss_growth_mb:.0f} MB"
        assert self.cpu_share <= max_cpu, f"server used {self.cpu_share:.2f} cores on average"


async def _bystanders(url: str, result: Watch, stop: asyncio.Event, auth: AuthFor) -> None:
    room = "bystanders-" + uuid.uuid4().hex[:8]
    a = socketio.AsyncClient(reconnection=False)
    b = socketio.AsyncClient(reconnection=False)
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    async def on_message(message: dict[str, Any]) -> None:
        arrived[message["clientMsgId"]] = time.monotonic()
        got.set()

    b.on("chat:message", on_message)
    try:
        await a.connect(url, auth=auth("bystander-a"), transports=["websocket"], wait_timeout=5)
        await b.connect(url, auth=auth("bystander-b"), transports=["websocket"], wait_timeout=5)
        assert (await a.call("video:join-room", {"roomId": room, "topology": "mesh"}, timeout=5))["ok"]
        assert (await b.call("video:join-room", {"roomId": room}, timeout=5))["ok"]
        n = 0
        while not stop.is_set():
            n += 1
            key = f"m{n}"
            sent = time.monotonic()
            got.clear()
            await a.emit("chat:send", {"roomId": room, "text": "still here", "clientMsgId": key})
            deadline = sent + 3.0
            while key not in arrived and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(got.wait(), deadline - time.monotonic())
                got.clear()
            if key in arrived:
                result.latencies_ms.append((arrived[key] - sent) * 1000)
            else:
                result.lost += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
    finally:
        for client in (a, b):
            if client.connected:
                await client.disconnect()


async def _sampler(pid: int, result: Watch, stop: asyncio.Event) -> None:
    while True:
        result.samples.append(Sample(time.monotonic(), rss_mb(pid), cpu_seconds(pid)))
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


@contextlib.asynccontextmanager
async def watch(server: ServerProcess, auth: AuthFor | None = None) -> AsyncIterator[Watch]:
    """Run bystanders and the sampler around the body; the result is complete after the block.

    `auth(name)` gives a bystander's `auth` object (a token server needs tokens)."""
    result = Watch(server)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_bystanders(server.url, result, stop, auth or (lambda name: {"name": name}))),
             asyncio.create_task(_sampler(server.process.pid, result, stop))]
    await asyncio.sleep(0.5)  # bystanders joined and exchanging before the attack starts
    try:
        yield result
        await asyncio.sleep(0.5)  # and still exchanging after it, for at least MIN_EXCHANGES in all
        deadline = time.monotonic() + 10
        while len(result.latencies_ms) + result.lost < MIN_EXCHANGES and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
