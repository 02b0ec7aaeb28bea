"""Several processes on one Redis: an SFU room's joins through another process are sent to its owner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import socketio
from sfu_client import SfuClient, frames, wait_until
from support import ServerProcess, run_server


@pytest.fixture(scope="module")
def two_processes(redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    prefix = f"test-redirect-{uuid.uuid4().hex[:8]}:"
    common = ["--redis-url", redis_url, "--redis-prefix", prefix, "--log-level", "WARNING"]
    with run_server(common) as first, run_server(common) as second:
        yield first, second


async def test_join_through_another_process_is_redirected_to_the_rooms_owner(
    two_processes: tuple[ServerProcess, ServerProcess],
) -> None:
    owner, other = two_processes
    room = f"redirect-{uuid.uuid4().hex[:8]}"
    alice = SfuClient(owner.url, room, "alice")
    stray = socketio.AsyncClient(reconnection=False)
    bob: SfuClient | None = None
    try:
        await alice.connect()
        await alice.join()
        await stray.connect(other.url, auth={"name": "bob"}, transports=["websocket"])
        refused = await stray.call("video:join-room", {"roomId": room}, timeout=10)
        assert refused["ok"] is False and refused["error"]["code"] == "conflict", refused
        assert refused["error"]["redirect"] == owner.url
        # following the redirect gives a real call with the members already there
        bob = SfuClient(refused["error"]["redirect"], room, "bob")
        await bob.connect()
        await bob.join()
        await wait_until(lambda: frames(bob, alice.pid) > 5 and frames(alice, bob.pid) > 5, timeout=15)
        # a mesh room is not tied to a process: no redirect there
        mesh = await stray.call("video:join-room", {"roomId": f"mesh-{room}", "topology": "mesh"}, timeout=10)
        assert mesh["ok"] is True
    finally:
        await stray.disconnect()
        await alice.close()
        if bob is not None:
            await bob.close()
