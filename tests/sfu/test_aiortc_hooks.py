"""Every private aiortc/aioice name the SFU relies on, checked directly so an upgrade fails here first."""

from __future__ import annotations

import inspect

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.codecs import CODECS
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

from sfu.connection import Connection, lock_transceiver


def test_dtls_transport_entry_points_exist_with_expected_signatures() -> None:
    assert list(inspect.signature(RTCDtlsTransport._handle_rtp_data).parameters) == ["self", "data", "arrival_time_ms"]
    assert list(inspect.signature(RTCDtlsTransport._handle_rtcp_data).parameters) == ["self", "data"]
    source = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "self._handle_rtp_data(" in source and "self._handle_rtcp_data(" in source
    setup = inspect.getsource(RTCDtlsTransport._setup_srtp)
    assert "self._tx_srtp" in setup and "allow_repeat_tx = True" in setup  # NACK answers resend sequence numbers


def test_ice_internals_used_by_the_send_path() -> None:
    assert "_connection" in inspect.getsource(RTCIceTransport.__init__)
    init = inspect.getsource(aioice.ice.Connection.__init__)
    assert "self._nominated" in init and "self._protocols" in init
    assert callable(aioice.ice.get_host_addresses)
    assert "get_host_addresses(" in inspect.getsource(aioice.ice.Connection.gather_candidates)
    assert list(inspect.signature(aioice.ice.Connection.get_component_candidates).parameters)[:3] == [
        "self", "component", "addresses"]


async def test_sender_fields_the_sdp_is_built_from() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        sender: RTCRtpSender = transceiver.sender
        sender._stream_id = "participant-1"
        sender._track_id = "track-1"
        offer = await pc.createOffer()
        assert f"a=ssrc:{sender._ssrc} " in offer.sdp
        assert "a=msid:participant-1 track-1" in offer.sdp
    finally:
        await pc.close()


async def test_create_offer_resets_codecs_unless_locked() -> None:
    """The trap from the design notes, and our guard against it."""
    pc = RTCPeerConnection()
    try:
        plain = pc.addTransceiver("video", direction="sendonly")
        locked = pc.addTransceiver("video", direction="sendonly")
        vp8 = [c for c in CODECS["video"] if c.mimeType == "video/VP8"][0]
        mine = type(vp8)(mimeType=vp8.mimeType, clockRate=vp8.clockRate, payloadType=120)
        plain._codecs = [mine]
        lock_transceiver(locked, codecs=[mine], extensions=[RTCRtpHeaderExtensionParameters(
            id=9, uri="urn:ietf:params:rtp-hdrext:sdes:mid")])
        offer = await pc.createOffer()
        sections = offer.sdp.split("m=video")[1:]
        assert "VP8/90000" in sections[0] and "a=rtpmap:120" not in sections[0]  # aiortc reset the plain one
        assert "a=rtpmap:120 VP8/90000" in sections[1] and "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid" in sections[1]
    finally:
        await pc.close()


async def test_forwarding_connection_neutralises_aiortc_media_loops() -> None:
    async def failed(_state: str) -> None:
        return None

    connection = Connection("p1", forwarding=True, on_state=failed)
    try:
        transceiver = connection.pc.addTransceiver("video", direction="sendonly")
        connection.attach()
        dtls = transceiver.receiver.transport
        assert dtls._handle_rtp_data.__name__ == "handle_rtp_data"
        assert dtls._handle_rtcp_data.__name__ == "handle_rtcp_data"
        # the sender never starts aiortc's polling loop, the receiver never starts a decoder thread
        await transceiver.sender.send(None)
        await transceiver.receiver.receive(None)
        assert transceiver.receiver._RTCRtpReceiver__decoder_thread is None
        connection.send_rtp(b"\x80" * 20)  # before DTLS: dropped, not raised
    finally:
        await connection.close()


def test_stun_protocol_hands_data_to_its_connection() -> None:
    """The receive fast path replaces StunProtocol.datagram_received and reads `self.receiver`."""
    assert list(inspect.signature(aioice.ice.StunProtocol.datagram_received).parameters)[:3] == [
        "self", "data", "addr"]
    source = inspect.getsource(aioice.ice.StunProtocol)
    assert "self.receiver = receiver" in source
    assert "self.receiver.data_received(" in source
