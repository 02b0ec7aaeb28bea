"""The optional transcoding mode (aiortc MediaRelay: decode once, re-encode per subscriber)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from sfu_client import joined, wait_until
from support import ServerProcess, run_server


@pytest.fixture(scope="module")
def transcode_server() -> Iterator[ServerProcess]:
    with run_server(["--forwarding", "transcode", "--log-level", "WARNING"]) as server:
        yield server


async def test_transcode_mode_relays_decoded_media(transcode_server: ServerProcess) -> None:
    async with joined(transcode_server.url, "alice", "bob") as (alice, bob):

        def both_see_video() -> bool:
            return all((v := c.video_from(o.pid)) is not None and len(v.counters) >= 2
                       for c, o in ((alice, bob), (bob, alice)))

        await wait_until(both_see_video, timeout=40)
        # re-encoded frames still carry the sender's counter
        assert max(alice.video_from(bob.pid).psnr) > 20  # type: ignore[union-attr]
        with urllib.request.urlopen(f"{transcode_server.url}/healthz", timeout=5) as resp:
            media = json.loads(resp.read())["media"]
        assert media["forwarding"] == "transcode"
        assert media["decoderThreads"] > 0, "transcoding decodes: the decoder-thread probe must see it"
