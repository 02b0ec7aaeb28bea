"""Hostile participants on the media side: their SDP, RTP and RTCP must not hurt anyone else.

Each attack comes from a real aiortc participant (crafted SDP through the real protocol, crafted
RTP/RTCP through its real SRTP session) while a victim in the same room keeps receiving another
member's video: the victim's frame rate during the attack is compared with its rate before it, and
the server's CPU and memory are sampled from /proc. Attacks are bounded in count and time.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from aiortc.rtp import RtpPacket
from sfu_client import SfuClient, frames, wait_until
from support import ServerProcess, cpu_seconds, healthz, metric, metrics_text, rss_mb, run_server

from router.rtcp_feedback import build_nack

SDP_TIMEOUT = 15


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with run_server(["--log-level", "INFO", "--media-timeout", "4"]) as srv:
        yield srv


@asynccontextmanager
async def room_with_victim(server: ServerProcess) -> AsyncIterator[tuple[str, SfuClient, SfuClient]]:
    """A publisher and a victim who watches it; the test adds the attacker."""
    room = f"hostile-{uuid.uuid4().hex[:8]}"
    publisher = SfuClient(server.url, room, "publisher")
    victim = SfuClient(server.url, room, "victim", publish=False)
    try:
        for client in (publisher, victim):
            await client.connect()
            await client.join()
        await wait_until(lambda: frames(victim, publisher.pid) > 20, timeout=30)
        yield room, publisher, victim
    finally:
        await asyncio.gather(publisher.close(), victim.close())


async def fps(victim: SfuClient, publisher: SfuClient, seconds: float) -> float:
    before = frames(victim, publisher.pid)
    await asyncio.sleep(seconds)
    return (frames(victim, publisher.pid) - before) / seconds


def with_lines(sdp: str, mid: str, *lines: str) -> str:
    """Add `lines` to the m-section whose mid is `mid`."""
    return sdp.replace(f"a=mid:{mid}\r\n", f"a=mid:{mid}\r\n" + "".join(f"{line}\r\n" for line in lines), 1)


async def hostile_offer(client: SfuClient, sdp: str) -> dict:
    return await client.call("video:offer", {"roomId": client.room, "to": "sfu",
                                             "description": {"type": "offer", "sdp": sdp}})


async def test_poisoned_offers_are_refused_before_anything_is_applied(server: ServerProcess) -> None:
    async with room_with_victim(server) as (room, publisher, victim):
        attacker = SfuClient(server.url, room, "attacker")
        try:
            await attacker.connect()
            await attacker.join(offer=False)
            for kind in ("audio", "video"):
                attacker.pc.addTransceiver(kind, direction="sendrecv")
            await attacker.pc.setLocalDescription(await attacker.pc.createOffer())
            good = attacker.pc.localDescription.sdp
            poisons = {
                "extension id 300": with_lines(good, "1", "a=extmap:300 urn:x"),
                "extension id -1": with_lines(good, "1", "a=extmap:-1 urn:y"),
                "SSRC beyond 32 bits": with_lines(good, "1", "a=ssrc:4294967296 cname:x"),
                "duplicate mid": good.replace("a=mid:1", "a=mid:0"),
                "NUL byte": good.replace("a=rtcp-mux", "a=rtcp-mux\x00", 1),
                "232 media sections": good + "".join(
                    f"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x{i}\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n"
                    for i in range(232)),
                "payload type 300": good.replace("a=rtpmap:", "a=rtpmap:300 VP8/90000\r\na=rtpmap:", 1),
            }
            rate_before = await fps(victim, publisher, 2.0)
            for name, sdp in poisons.items():
                ack = await hostile_offer(attacker, sdp)
                assert ack["ok"] is False and ack["error"]["code"] == "bad_request", (name, ack)
            status = [e for e in attacker.events["video:media-status"] if e["participantId"] == attacker.pid]
            assert not attacker.events["video:answer"], "a refused offer must leave nothing applied"
            # the refusals changed nothing for the others: the same offer, unpoisoned, still works
            ack = await hostile_offer(attacker, good)
            assert ack["ok"], ack
            rate_after = await fps(victim, publisher, 2.0)
            assert rate_after >= 0.6 * rate_before, (rate_before, rate_after)
            assert status  # the room was told the attacker has no media while it had none
        finally:
            await attacker.close()


async def trickling(server: ServerProcess, room: str, name: str) -> SfuClient:
    """A client whose offer carries no candidates and no end-of-candidates: the rest comes by trickle."""
    client = SfuClient(server.url, room, name)
    await client.connect()
    await client.join(offer=False)
    client.pc.addTransceiver("audio", direction="sendrecv")
    await client.pc.setLocalDescription(await client.pc.createOffer())
    sdp = re.sub(r"a=(candidate:[^\r\n]*|end-of-candidates)\r\n", "", client.pc.localDescription.sdp)
    ack = await hostile_offer(client, sdp)
    assert ack["ok"], ack
    return client


async def test_too_many_and_unreachable_candidates_are_not_checked(server: ServerProcess) -> None:
    room = f"cands-{uuid.uuid4().hex[:8]}"
    attacker = await trickling(server, room, "attacker")
    try:
        refused = 0
        for i in range(60):
            ack = await attacker.call("video:ice-candidate", {"roomId": room, "to": "sfu", "candidate": {
                "candidate": f"candidate:{i} 1 udp 2122260223 127.0.0.1 {20000 + i} typ host", "sdpMid": "0"}})
            refused += not ack["ok"]
        assert refused >= 60 - 32
        after_end = await attacker.call("video:ice-candidate", {"roomId": room, "to": "sfu", "candidate": None})
        late = await attacker.call("video:ice-candidate", {"roomId": room, "to": "sfu", "candidate": {
            "candidate": "candidate:99 1 udp 1 127.0.0.1 30999 typ host", "sdpMid": "0"}})
        assert after_end["ok"] and late["ok"] is False and "end-of-candidates" in late["error"]["message"]
        fresh = await trickling(server, room, "aiming")
        try:
            for target in ("8.8.8.8 53", "224.0.0.1 5000", "0.0.0.0 6000", "169.254.1.1 7000", "255.255.255.255 8000"):
                ack = await fresh.call("video:ice-candidate", {"roomId": room, "to": "sfu", "candidate": {
                    "candidate": f"candidate:9 1 udp 1 {target} typ host", "sdpMid": "0"}})
                # a client cannot aim the server's connectivity checks at a service port, a broadcast...
                assert ack["ok"] is True and "ignored" in ack, (target, ack)
            remote = fresh.pc.getTransceivers()[0]  # ...and the server holds none of them
            assert remote is not None
        finally:
            await fresh.close()
    finally:
        await attacker.close()


async def test_a_nack_flood_costs_a_bounded_amount_and_nobody_else_notices(server: ServerProcess) -> None:
    async with room_with_victim(server) as (room, publisher, victim):
        attacker = SfuClient(server.url, room, "attacker", publish=False)
        try:
            await attacker.connect()
            await attacker.join()
            await wait_until(lambda: len(attacker.rtp_log) >= 1 and frames(attacker, publisher.pid) > 5, timeout=20)
            ssrc = max(attacker.rtp_log, key=lambda s: len(attacker.rtp_log[s]))
            sent = [seq for seq, _ in attacker.rtp_log[ssrc]]
            rate_before = await fps(victim, publisher, 2.0)
            before = metric(metrics_text(server), "sfu_retransmissions_total")
            cpu_before, started = cpu_seconds(server.process.pid), time.monotonic()
            nack = build_nack(0xBAD, ssrc, sent[-300:])  # every packet it got, again and again
            flood = asyncio.get_running_loop().create_task(_repeat(attacker, nack, count=900, interval=0.003))
            rate_during = await fps(victim, publisher, 2.5)
            await flood
            cpu = (cpu_seconds(server.process.pid) - cpu_before) / (time.monotonic() - started)
            resent = metric(metrics_text(server), "sfu_retransmissions_total") - before
            # ~300 kbit/s received, half of that may be retransmitted: a few hundred packets, not 250,000
            assert resent < 2000, resent
            assert cpu < 0.9, cpu
            assert rate_during >= 0.6 * rate_before, (rate_before, rate_during)
        finally:
            await attacker.close()


async def test_sequence_jumps_cost_constant_time(server: ServerProcess) -> None:
    async with room_with_victim(server) as (room, publisher, victim):
        attacker = SfuClient(server.url, room, "attacker", publish=False)
        try:
            await attacker.connect()
            await attacker.join(offer=False)
            # a camera m-line whose sender has no track: every packet on its SSRC is the attacker's own
            video = attacker.pc.addTransceiver("video", direction="sendonly")
            await attacker.offer_initial_with([{"mid": "0", "source": "camera"}])
            await wait_until(lambda: attacker.pc.connectionState == "connected", timeout=15)
            rate_before = await fps(victim, publisher, 2.0)
            cpu_before, started = cpu_seconds(server.process.pid), time.monotonic()
            for i in range(120):  # 40 a second for 3 s, each a forward jump of 3,001 sequence numbers
                packet = RtpPacket(payload_type=video._codecs[0].payloadType, sequence_number=(i * 3001) & 0xFFFF,
                                   timestamp=i * 3000, ssrc=video.sender._ssrc, payload=b"\x10\x01" + bytes(100))
                await video.sender.transport._send_rtp(packet.serialize())
                await asyncio.sleep(0.025)
            cpu = (cpu_seconds(server.process.pid) - cpu_before) / (time.monotonic() - started)
            rate_during = await fps(victim, publisher, 1.5)
            assert cpu < 0.9, cpu
            assert rate_during >= 0.6 * rate_before, (rate_before, rate_during)
            assert metric(metrics_text(server), "sfu_received_packets_total") > 0
        finally:
            await attacker.close()


async def test_a_participant_that_never_connects_is_dropped_with_its_resources(server: ServerProcess) -> None:
    room = f"silent-{uuid.uuid4().hex[:8]}"
    ghosts = [SfuClient(server.url, room, f"ghost{i}") for i in range(5)]
    try:
        for ghost in ghosts:
            await ghost.connect()
            await ghost.join(offer=False)
        tasks_before = healthz(server)["media"]["tasks"]  # their websockets stay: the media is what must go
        for ghost in ghosts:
            ghost.pc.addTransceiver("audio", direction="sendrecv")
            await ghost.pc.setLocalDescription(await ghost.pc.createOffer())
            sdp = re.sub(r"a=candidate:[^\r\n]*\r\n", "", ghost.pc.localDescription.sdp)  # unreachable: no ICE
            ack = await hostile_offer(ghost, sdp)
            assert ack["ok"], ack
            await ghost.pc.close()  # and it never answers a connectivity check
        await asyncio.sleep(0.5)
        assert healthz(server)["media"]["connections"] == 5  # each holds an ICE agent, sockets, tasks
        await wait_until(lambda: healthz(server)["media"]["connections"] == 0, timeout=15)  # --media-timeout 4
        assert healthz(server)["media"]["tasks"] <= tasks_before + 2
        log = server.log()
        assert log.count("event=media_dropped") >= 5 and "reason=timeout" in log
    finally:
        await asyncio.gather(*(g.close() for g in ghosts))


async def test_garbage_datagrams_are_counted_not_logged_as_errors(server: ServerProcess) -> None:
    async with room_with_victim(server) as (_room, publisher, victim):
        port = victim.pc.getTransceivers()[0].receiver.transport.transport._connection._nominated[1].remote_addr[1]
        rss_before = rss_mb(server.process.pid)
        before = metric(metrics_text(server), "sfu_dropped_datagrams_total")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for payload in [b"", b"\xff" * 40, b"\x80" + bytes(30)] * 100:
                sock.sendto(payload, ("127.0.0.1", port))
        await asyncio.sleep(1.0)
        assert metric(metrics_text(server), "sfu_dropped_datagrams_total") - before >= 200
        assert "Traceback" not in server.log() and "level=error" not in server.log()
        assert rss_mb(server.process.pid) - rss_before < 20
        assert await fps(victim, publisher, 1.5) > 5


async def _repeat(client: SfuClient, data: bytes, count: int, interval: float) -> None:
    for _ in range(count):
        await client.send_rtcp(data)
        await asyncio.sleep(interval)
