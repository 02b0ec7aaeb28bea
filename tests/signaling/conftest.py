"""Fixtures for the signaling suite: real `python -m sfu --no-media` processes and connected clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sig_clients import Peers
from support import ServerProcess, run_server

GENEROUS = ["--max-sdp-bytes", "65536", "--rate-default", "1000/1000", "--rate-chat", "1000/1000", "--rate-join", "1000/1000",
            "--rate-ice", "1000/1000"]


@pytest.fixture(scope="session")
def dev_server() -> Iterator[ServerProcess]:
    """One development-mode server (no secret, in-memory state) shared by tests using unique room ids."""
    with run_server(["--no-media", *GENEROUS]) as server:
        yield server


@pytest.fixture
def room() -> str:
    return "r-" + uuid.uuid4().hex[:12]


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    made = Peers()
    yield made
    await made.close_all()
