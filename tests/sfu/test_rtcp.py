"""RTCP through the SFU, watched from a real aiortc subscriber's transport."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

from aiortc import clock
from aiortc.rtp import RTCP_PSFB_APP, RtcpPacket, RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket, unpack_remb_fci
from sfu_client import SfuClient, joined, wait_until
from support import ServerProcess

from router.rtp_header import parse_rtp


class TransportTap:
    """Records the subscriber's incoming sender reports and RTP timestamps per SSRC."""

    def __init__(self, client: SfuClient) -> None:
        self.reports: dict[int, list[tuple[int, int, float]]] = {}
        self.rtp: dict[int, tuple[int, float]] = {}
        self.feedback: list[Any] = []
        dtls = client.pc.getTransceivers()[0].receiver.transport
        original_rtp, original_rtcp = dtls._handle_rtp_data, dtls._handle_rtcp_data

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            info = parse_rtp(data)
            self.rtp[info.ssrc] = (info.timestamp, time.time())
            await original_rtp(data, arrival_time_ms)

        async def on_rtcp(data: bytes) -> None:
            for packet in RtcpPacket.parse(data):
                self.feedback.append(packet)
                if isinstance(packet, RtcpSrPacket):
                    info = packet.sender_info
                    self.reports.setdefault(packet.ssrc, []).append(
                        (info.ntp_timestamp, info.rtp_timestamp, time.monotonic()))
            await original_rtcp(data)

        dtls._handle_rtp_data = on_rtp
        dtls._handle_rtcp_data = on_rtcp


def metric_values(server: ServerProcess) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def consumer_ssrcs(client: SfuClient, publisher: str) -> dict[str, int]:
    found: dict[str, int] = {}
    offer: dict[str, Any] = client.events["video:offer"][-1]
    mids = {t["mid"]: t for t in offer["tracks"] if t["participantId"] == publisher}
    section = ""
    for block in offer["description"]["sdp"].split("m=")[1:]:
        mid = next((line[6:].strip() for line in block.splitlines() if line.startswith("a=mid:")), None)
        if mid in mids:
            section = block
            ssrc = next(int(line.split()[0][7:]) for line in section.splitlines() if line.startswith("a=ssrc:"))
            found[mids[mid]["kind"]] = ssrc
    return found


async def test_subscribers_get_translated_sender_reports(sfu_server: ServerProcess) -> None:
    async with joined(sfu_server.url, "alice", "bob") as (alice, bob):
        tap = TransportTap(bob)
        await wait_until(lambda: (v := bob.video_from(alice.pid)) is not None and v.frames > 5)
        ssrcs = consumer_ssrcs(bob, alice.pid)
        assert set(ssrcs) == {"audio", "video"}
        await wait_until(lambda: all(len(tap.reports.get(s, [])) >= 2 for s in ssrcs.values()), timeout=10)
        for kind, ssrc in ssrcs.items():
            ntp, rtp_ts, _received = tap.reports[ssrc][-1]
            # the NTP time is the publisher's wall clock (same machine here): close to now
            sr_time = clock.datetime_from_ntp(ntp).timestamp()
            assert abs(sr_time - time.time()) < 5, kind
            # the RTP time is in the consumer's timestamp space: what the stream's own timestamps say
            # for that wall-clock instant (both clocks are this machine's)
            last_ts, last_at = tap.rtp[ssrc]
            rate = 90000 if kind == "video" else 48000
            expected = (last_ts + (sr_time - last_at) * rate) % 2**32
            drift = min(abs(rtp_ts - expected), 2**32 - abs(rtp_ts - expected))
            assert drift < rate * 0.2, (kind, drift / rate)


async def test_keyframe_request_reaches_the_publisher(sfu_server: ServerProcess) -> None:
    async with joined(sfu_server.url, "alice", "bob") as (alice, bob):
        requests: list[float] = []
        video_sender = next(t.sender for t in alice.pc.getTransceivers() if t.kind == "video")
        original = video_sender._send_keyframe

        def record() -> None:
            requests.append(time.monotonic())
            original()

        video_sender._send_keyframe = record
        await wait_until(lambda: (v := bob.video_from(alice.pid)) is not None and v.frames > 5)
        requests.clear()
        # bob's decoder asks for keyframes: many PLIs in a burst reach alice at most about twice a second
        bob_video = next(t.receiver for t in bob.pc.getTransceivers()
                         if t.kind == "video" and t.mid in {m for m, i in bob.tracks_by_mid.items()
                                                           if i["participantId"] == alice.pid})
        for _ in range(20):
            await bob_video._send_rtcp_pli(consumer_ssrcs(bob, alice.pid)["video"])
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.2)
        # 3.2 s of PLIs every 100 ms: a keyframe every 0.5 s at most (KEYFRAME_REQUEST_INTERVAL)
        assert 1 <= len(requests) <= 7, requests
        assert all(b - a >= 0.4 for a, b in zip(requests, requests[1:], strict=False)), requests
        metrics = metric_values(sfu_server)
        assert metrics['sfu_rtcp_feedback_received_total{type="pli"}'] >= 20
        assert metrics["sfu_keyframe_requests_total"] >= 1 and metrics["sfu_forwarded_packets_total"] > 0
        assert metrics['sfu_negotiation_seconds_count{initiator="server"}'] >= 2
        assert metrics['sfu_connections{dtls_state="connected",ice_state="completed"}'] == 2


async def test_nack_is_answered_from_history_over_rtx(sfu_server: ServerProcess) -> None:
    async with joined(sfu_server.url, "alice", "bob") as (alice, bob):
        tap = TransportTap(bob)
        retransmitted: list[bytes] = []
        dtls = bob.pc.getTransceivers()[0].receiver.transport
        recording = dtls._handle_rtp_data

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            retransmitted.append(data)
            await recording(data, arrival_time_ms)

        dtls._handle_rtp_data = on_rtp
        await wait_until(lambda: (v := bob.video_from(alice.pid)) is not None and v.frames > 5)
        video_ssrc = consumer_ssrcs(bob, alice.pid)["video"]
        offer_sdp = bob.events["video:offer"][-1]["description"]["sdp"]
        rtx_ssrc = next(int(line.split()[2]) for line in offer_sdp.splitlines()
                        if line.startswith("a=ssrc-group:FID") and int(line.split()[1]) == video_ssrc)
        await wait_until(lambda: video_ssrc in tap.rtp)
        wanted = [s for s in (parse_rtp(p) for p in retransmitted) if s.ssrc == video_ssrc][-3].sequence
        retransmitted.clear()
        receiver = next(t.receiver for t in bob.pc.getTransceivers() if t.kind == "video" and t.currentDirection)
        await receiver._send_rtcp_nack(video_ssrc, [wanted])

        def answered() -> bool:
            for data in retransmitted:
                info = parse_rtp(data)
                if info.ssrc == rtx_ssrc and int.from_bytes(data[info.payload_start:info.payload_start + 2]) == wanted:
                    return True
            return False

        await wait_until(answered, timeout=3)


async def test_publisher_keeps_getting_receiver_reports_and_remb(sfu_server: ServerProcess) -> None:
    async with joined(sfu_server.url, "alice", "bob") as (alice, bob):
        tap = TransportTap(alice)
        video_ssrc = next(t.sender._ssrc for t in alice.pc.getTransceivers() if t.kind == "video")

        def got_feedback() -> bool:
            rr = any(isinstance(p, RtcpRrPacket) and any(r.ssrc == video_ssrc for r in p.reports) for p in tap.feedback)
            remb = any(isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_APP
                       and video_ssrc in unpack_remb_fci(p.fci)[1] for p in tap.feedback)
            return rr and remb

        await wait_until(got_feedback, timeout=10)
