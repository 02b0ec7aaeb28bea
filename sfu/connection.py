"""A participant's one aiortc peer connection, with its packet path taken over by the router.

aiortc does ICE, DTLS, SRTP and SDP. In forwarding mode the connection replaces aiortc's media
handling on the bundled DTLS transport: decrypted RTP/RTCP go to a `PacketDemux` instead of
aiortc's receivers (which would depacketize and decode), and consumers send through `send_rtp`
(SRTP protect + the nominated ICE pair's socket, no task, no await). The private aiortc names
touched here are pinned by `aiortc~=1.16.0` and each is exercised by tests/sfu/test_aiortc_hooks.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters
from aiortc.rtp import RtcpSdesPacket, RtcpSourceInfo

from router.demux import PacketDemux
from router.downlink_estimator import DownlinkEstimator, SentPackets
from router.header_extensions import with_transport_sequence
from router.link import RetransmitBudget
from router.rtp_header import is_rtcp
from router.rtt import RttEstimator

log = logging.getLogger("sfu.connection")

# (protect, protect_rtcp, sendto, remote address) of the nominated ICE pair
_SendTarget = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes], Callable[[bytes, Any], None], Any]

RTCP_TICK = 0.25  # the report loop wakes this often (it also notices a newly nominated ICE pair)
REPORT_EVERY = 4  # receiver/sender reports and REMB every REPORT_EVERY ticks (about 1 s)
TRANSPORT_FEEDBACK_INTERVAL = 0.05  # transport-cc feedback to publishers (libwebrtc sends every 50-250 ms)


class NegotiatedTransceiver(RTCRtpTransceiver):
    """A transceiver whose payload types and extension IDs stay as first negotiated.

    aiortc's createOffer resets every transceiver to its default payload types and extension IDs;
    a browser then rejects the re-offer ("RTP extension ID reassignment not supported") or switches
    payload types mid-call. Writes are ignored once `lock_transceiver` ran.
    """

    @property  # type: ignore[override]
    def _codecs(self) -> list[RTCRtpCodecParameters]:
        return self.__dict__["_codecs"]

    @_codecs.setter
    def _codecs(self, value: list[RTCRtpCodecParameters]) -> None:
        if not self.__dict__.get("_sfu_locked"):
            self.__dict__["_codecs"] = value

    @property  # type: ignore[override]
    def _headerExtensions(self) -> list[RTCRtpHeaderExtensionParameters]:
        return self.__dict__["_headerExtensions"]

    @_headerExtensions.setter
    def _headerExtensions(self, value: list[RTCRtpHeaderExtensionParameters]) -> None:
        if not self.__dict__.get("_sfu_locked"):
            self.__dict__["_headerExtensions"] = value


def install_receive_fast_path() -> None:
    """Let SRTP datagrams skip aioice's queue and aiortc's receive task (process-wide, idempotent).

    aioice parses every datagram as STUN (an exception per media packet), queues it, and aiortc's
    DTLS task awaits it from the queue before decrypting. A connection that has set
    `sfu_fast_path` on its aioice Connection gets its RTP/RTCP (first byte 128..191, RFC 7983)
    handed over synchronously instead; STUN and DTLS take aioice's usual path, and anything else
    (an empty datagram, garbage from anywhere) is counted and dropped before it reaches aiortc.
    """
    if getattr(StunProtocol, "_sfu_fast_path", False):
        return
    original = StunProtocol.datagram_received

    def datagram_received(self: StunProtocol, data: bytes, addr: tuple[Any, ...]) -> None:
        first = data[0] if data else 255
        if 127 < first < 192:
            fast = getattr(self.receiver, "sfu_fast_path", None)
            if fast is not None:
                fast(data)
                return
        elif first > 63 or 3 < first < 20:
            # RFC 7983: neither STUN, DTLS nor RTP (an empty datagram would break aiortc's DTLS task)
            drop = getattr(self.receiver, "sfu_drop", None)
            if drop is not None:
                drop(data, addr)
            return
        original(self, data, addr)

    StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]
    StunProtocol._sfu_fast_path = True  # type: ignore[attr-defined]


def lock_transceiver(
    transceiver: RTCRtpTransceiver,
    codecs: list[RTCRtpCodecParameters] | None = None,
    extensions: list[RTCRtpHeaderExtensionParameters] | None = None,
) -> None:
    if codecs is not None:
        transceiver.__dict__["_codecs"] = codecs
    if extensions is not None:
        transceiver.__dict__["_headerExtensions"] = extensions
    transceiver.__class__ = NegotiatedTransceiver
    transceiver.__dict__["_sfu_locked"] = True


async def _ignore_receive(_parameters: Any) -> None:
    """Forwarding mode: aiortc's receiver would start a decoder thread; the router handles media."""


async def _ignore_send(_parameters: Any) -> None:
    """Forwarding mode: aiortc's sender would poll a track; consumers send instead."""


async def _ignore_stop() -> None:
    return None


class Connection:
    """One participant's RTCPeerConnection, the fast send path into it, and what is known of its path.

    It is the router's `Link` for this participant: producers send feedback to the publisher
    through it and consumers send media to the subscriber through it.
    """

    def __init__(
        self,
        participant_id: str,
        forwarding: bool,
        on_state: Callable[[str], Awaitable[None]],
        feedback_counts: dict[str, int] | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.forwarding = forwarding
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.rtt = RttEstimator()
        self.retransmit_budget = RetransmitBudget()
        self.demux = PacketDemux(self, feedback_counts)
        self.rtcp_ssrc = random.getrandbits(32) or 1
        self.cname = f"sfu-{participant_id[:12]}"
        self._dtls: RTCDtlsTransport | None = None
        self._target: _SendTarget | None = None
        self._pair: Any = None
        self._rtcp_task: asyncio.Task[None] | None = None
        self._on_state = on_state
        self._closed = False
        self.dropped_by_error = 0
        self.dropped_datagrams = 0
        self._dropped_logged_at = 0.0
        self.bytes_sent = 0
        self._bytes_sent_at_tick = 0
        self.send_rate_bps = 0.0
        self._feedback_at = 0.0
        self._transport_sequence_id: int | None = None  # the subscriber's ID for transport-wide sequence numbers
        self._transport_sequence = 0
        self._sent_packets: SentPackets | None = None  # send time and size by that number, for the estimator
        self.created_at = time.monotonic()
        self.pc.on("connectionstatechange", self._connection_state_changed)

    # --- aiortc hooks --------------------------------------------------------------------------------

    def attach(self) -> None:
        """Take over the media path of every transceiver and of the bundled transport (idempotent)."""
        if not self.forwarding:
            return
        for transceiver in self.pc.getTransceivers():
            receiver, sender = transceiver.receiver, transceiver.sender
            if not getattr(receiver, "_sfu_patched", False):
                receiver.receive = _ignore_receive  # type: ignore[method-assign]
                # never fed here: its 1000-bucket rate counter would only cost memory and GC time
                receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]
                receiver._sfu_patched = True  # type: ignore[attr-defined]
            if not getattr(sender, "_sfu_patched", False):
                sender.send = _ignore_send  # type: ignore[method-assign]
                sender.stop = _ignore_stop  # type: ignore[method-assign]
                sender._sfu_patched = True  # type: ignore[attr-defined]
        transceivers = self.pc.getTransceivers()
        if not transceivers:
            return
        dtls = transceivers[0].receiver.transport
        if dtls is self._dtls:
            return
        self._dtls = dtls
        self._target = None
        demux = self.demux

        async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
            demux.handle_rtp(data)

        async def handle_rtcp_data(data: bytes) -> None:
            demux.handle_rtcp(data)

        dtls._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]
        dtls._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]
        ice = dtls.transport._connection
        ice.sfu_fast_path = self._receive  # see install_receive_fast_path
        ice.sfu_drop = self._drop
        if self._rtcp_task is None:
            self._rtcp_task = asyncio.get_running_loop().create_task(self._run_rtcp())

    def _receive(self, data: bytes) -> None:
        """An SRTP/SRTCP datagram straight from the socket: decrypt and route it, no queue, no await."""
        dtls = self._dtls
        srtp = dtls._rx_srtp if dtls is not None else None
        if srtp is None:
            return  # before the DTLS handshake aiortc drops these too
        try:
            if is_rtcp(data):
                self.demux.handle_rtcp(srtp.unprotect_rtcp(data))
            else:
                self.demux.handle_rtp(srtp.unprotect(data))
        except pylibsrtp.Error:
            self._drop(data, None)  # not authentic, or replayed
        except Exception:  # noqa: BLE001 - one bad packet must not reach the event loop's handler
            self.dropped_by_error += 1
            if self.dropped_by_error == 1:
                log.exception("event=packet_path_error participant=%s", self.participant_id)

    def _drop(self, data: bytes, addr: Any) -> None:
        """Count a datagram that is not ours to handle; say so at most once a minute per connection."""
        self.dropped_datagrams += 1
        now = time.monotonic()
        if now - self._dropped_logged_at >= 60.0:
            self._dropped_logged_at = now
            log.info("event=datagrams_dropped participant=%s count=%d last_size=%d", self.participant_id,
                     self.dropped_datagrams, len(data))

    @property
    def dtls_state(self) -> str:
        return self._dtls.state if self._dtls is not None else "new"

    @property
    def ice_state(self) -> str:
        return str(self.pc.iceConnectionState)

    def _resolve_target(self) -> _SendTarget | None:
        """SRTP session and nominated ICE pair, looked up once instead of per packet."""
        dtls = self._dtls
        if dtls is None or self._closed:
            return None
        srtp = dtls._tx_srtp
        pair = dtls.transport._connection._nominated.get(1)
        if srtp is None or pair is None:
            return None
        self._pair = pair
        self._target = (srtp.protect, srtp.protect_rtcp, pair.protocol.transport.sendto, pair.remote_addr)
        return self._target

    def _follow_nominated_pair(self) -> None:
        """ICE may nominate another pair (a network change): send where it says, not where it said."""
        dtls = self._dtls
        if dtls is not None and self._target is not None and dtls.transport._connection._nominated.get(1) is not self._pair:
            self._target = None

    def enable_downlink_transport_cc(self, extension_id: int) -> None:
        """The subscriber negotiated transport-wide feedback: number what we send it and estimate its downlink."""
        if self._transport_sequence_id is None and 1 <= extension_id <= 14:
            self._transport_sequence_id = extension_id
            estimator = self.demux.downlink_estimator = DownlinkEstimator()
            self._sent_packets = estimator.sent

    def send_rtp(self, data: bytes) -> None:
        """SRTP-protect and send one packet now; dropped while the transport is not up."""
        target = self._target or self._resolve_target()
        if target is None:
            return
        extension_id = self._transport_sequence_id
        if extension_id is not None:
            sequence = self._transport_sequence
            data = with_transport_sequence(data, extension_id, sequence)
        try:
            target[2](target[0](data), target[3])
        except Exception:  # noqa: BLE001 - a closing socket or SRTP error loses one packet, not the call
            self._target = None
            return
        sent = self._sent_packets
        if sent is not None:
            self._transport_sequence = (sequence + 1) & 0xFFFF
            sent.record(sequence, time.monotonic_ns() // 1000, len(data))
        self.bytes_sent += len(data)

    def send_rtcp(self, data: bytes) -> bool:
        target = self._target or self._resolve_target()
        if target is None or not data:
            return False
        try:
            target[2](target[1](data), target[3])
        except Exception:  # noqa: BLE001
            self._target = None
            return False
        return True

    def tick_fast(self, now: float) -> None:
        """Every few tens of ms: re-request what publishers still owe us (packets, keyframes), tell them what
        arrived when."""
        now_ms = now * 1000.0
        # a keyframe request taken from the limiter must go out: wait until SRTP and the ICE pair are up
        ready = (self._target or self._resolve_target()) is not None
        for producer in self.demux.producers:
            producer.nack_tick(now_ms)
            if ready:
                plis = producer.keyframe_tick(now)
                if plis:
                    self.send_rtcp(plis)
        if now - self._feedback_at >= TRANSPORT_FEEDBACK_INTERVAL:
            self._feedback_at = now
            for packet in self.demux.transport_feedback():
                self.send_rtcp(packet)

    async def _run_rtcp(self) -> None:
        """About once a second: reports to publishers (RR, REMB) and translated SRs to this subscriber."""
        tick = 0
        last = time.monotonic()
        try:
            while not self._closed:
                await asyncio.sleep(RTCP_TICK * (0.8 + 0.4 * random.random()))
                tick += 1
                now = time.monotonic()
                full = tick % REPORT_EVERY == 0
                self._follow_nominated_pair()
                if full:
                    for producer in self.demux.producers:
                        self.send_rtcp(producer.rtcp_tick(now))
                    self._send_sender_reports(now)
                    elapsed = now - last
                    if elapsed > 0:
                        self.send_rate_bps = (self.bytes_sent - self._bytes_sent_at_tick) * 8 / elapsed
                        self.retransmit_budget.set_receive_rate(self.send_rate_bps)
                        for consumer in self.demux.consumers:
                            consumer.measure(elapsed)
                    self._bytes_sent_at_tick = self.bytes_sent
                    last = now
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - feedback must not die silently
            log.exception("event=rtcp_loop_failed participant=%s", self.participant_id)

    def _send_sender_reports(self, now: float) -> None:
        for consumer in self.demux.consumers:
            report = consumer.sender_report()
            if report is None:
                continue
            self.rtt.sr_sent(int.from_bytes(report[8:16], "big"), now)
            sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=consumer.ssrc, items=[(1, self.cname.encode())])])
            self.send_rtcp(report + bytes(sdes))

    # --- lifecycle -------------------------------------------------------------------------------------

    async def _connection_state_changed(self) -> None:
        state = self.pc.connectionState
        log.info("event=connection_state participant=%s state=%s", self.participant_id, state)
        if not self._closed:
            await self._on_state(state)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._target = None
        if self._rtcp_task is not None:
            self._rtcp_task.cancel()
            await asyncio.gather(self._rtcp_task, return_exceptions=True)
        try:
            await asyncio.wait_for(self.pc.close(), timeout=5)
        except Exception:  # noqa: BLE001 - closing must finish even if aiortc trips over itself
            log.warning("event=connection_close_failed participant=%s", self.participant_id, exc_info=True)
