"""A python-socketio test client that records every server event and waits for them with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio
from support import ServerProcess, run_server

DEFAULT_TIMEOUT = 5.0


class Peer:
    """One Socket.IO connection; `events` keeps every (event, payload) it received, in order."""

    def __init__(self, url: str, auth: dict[str, Any] | None = None, transports: list[str] | None = None) -> None:
        self.url = url
        self.auth = auth
        self.transports = transports or ["websocket"]
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if len(args) == 1 else list(args)))
        self._changed.set()

    async def connect(self) -> Peer:
        await self.sio.connect(self.url, auth=self.auth, transports=self.transports, wait_timeout=5)
        sid = self.sio.get_sid("/")  # the namespace sid: the server's participantId (not the engine.io sid)
        assert sid is not None
        self.sid: str = sid
        return self

    async def call(self, event: str, *payload: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Emit with an ack and return the ack's value."""
        return await self.sio.call(event, payload[0] if len(payload) == 1 else (payload or None),
                                   timeout=timeout)

    async def emit(self, event: str, *payload: Any) -> None:
        """Emit without an ack."""
        if payload:
            await self.sio.emit(event, payload[0] if len(payload) == 1 else payload)
        else:
            await self.sio.emit(event)

    def received(self, event: str, where: Callable[[Any], bool] | None = None) -> list[Any]:
        return [data for name, data in self.events if name == event and (where is None or where(data))]

    async def wait_for(self, event: str, where: Callable[[Any], bool] | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Return the first matching event received so far or within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(event, where)
            if found:
                return found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} within {timeout}s; got {[n for n, _ in self.events]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def settle(seconds: float = 0.3) -> None:
    """Give in-flight broadcasts time to arrive before asserting that something did NOT arrive."""
    await asyncio.sleep(seconds)


class Peers:
    """Factory: `await peers(url, name=..., auth=...)` gives a connected Peer, closed after the test."""

    def __init__(self) -> None:
        self.made: list[Peer] = []

    async def __call__(self, url: str, name: str | None = None, auth: dict[str, Any] | None = None,
                       transports: list[str] | None = None) -> Peer:
        peer = Peer(url, auth if auth is not None else ({"name": name} if name else None), transports)
        self.made.append(peer)
        return await peer.connect()

    async def close_all(self) -> None:
        for peer in self.made:
            await peer.close()


@contextlib.asynccontextmanager
async def servers(peers: Peers, *arg_lists: list[str]) -> AsyncIterator[list[ServerProcess]]:
    """Start servers (in parallel), and at the end close the clients first, then stop the servers off
    the event loop, so a graceful stop never waits on a client whose loop is blocked."""
    stack = contextlib.ExitStack()
    try:
        started = await asyncio.gather(*(asyncio.to_thread(stack.enter_context, run_server(args))
                                         for args in arg_lists))
        yield list(started)
    finally:
        await peers.close_all()
        await asyncio.to_thread(stack.close)
