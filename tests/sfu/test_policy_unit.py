"""Unit tests for the SFU's pure decisions: codecs, extension IDs, track sources, ICE settings."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac

import aioice.ice
import pytest
from aiortc.codecs import CODECS

from router.header_extensions import forward_id_map
from sfu import codecs as policy
from sfu.api import MediaError
from sfu.config import Settings, load_settings, parse_port_range
from sfu.ice import announce_addresses, install_ice_policy
from sfu.sdp import ClientOffer, assign_sources, parse_offer
from signaling.ice import ice_servers

VIDEO = list(CODECS["video"])


def sdp(*sections: str) -> ClientOffer:
    head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE " + " ".join(
        str(i) for i in range(len(sections))) + "\r\n"
    body = ""
    for mid, section in enumerate(sections):
        kind, direction = section.split(":")
        fmt = "111" if kind == "audio" else "96 97"
        body += f"m={kind} 9 UDP/TLS/RTP/SAVPF {fmt}\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na={direction}\r\n"
        body += "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 " + ":".join(["AA"] * 32)
        body += "\r\na=setup:actpass\r\na=rtcp-mux\r\n"
        if kind == "audio":
            body += "a=rtpmap:111 opus/48000/2\r\n"
        else:
            body += "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
    return parse_offer(head + body)


def test_room_video_codec_prefers_vp8_then_h264() -> None:
    assert policy.choose_room_video_codec(VIDEO) == "VP8"
    assert policy.choose_room_video_codec([c for c in VIDEO if c.mimeType != "video/VP8"]) == "H264"
    assert policy.choose_room_video_codec([]) is None


def test_restrict_keeps_codec_and_its_rtx() -> None:
    chosen = policy.restrict_to(VIDEO, "VP8")
    assert [c.mimeType for c in chosen] == ["video/VP8", "video/rtx"]
    assert chosen[1].parameters["apt"] == chosen[0].payloadType


def test_restrict_pairs_each_codec_with_the_rtx_whose_apt_names_it() -> None:
    """An RTX payload type announced for another codec would make retransmissions undecodable."""
    h264 = policy.restrict_to(VIDEO, "H264")
    assert [(c.mimeType, c.payloadType) for c in h264] == [("video/H264", 99), ("video/rtx", 100)]
    assert h264[1].parameters["apt"] == 99
    # Chrome's order can list RTX before its codec, and another codec's RTX first
    chrome = [VIDEO[5], VIDEO[3], VIDEO[1], VIDEO[4], VIDEO[0], VIDEO[2]]
    assert [c.payloadType for c in policy.restrict_to(chrome, "VP8")] == [97, 98]
    assert [c.payloadType for c in policy.restrict_to(chrome, "H264")] == [101, 102]
    # a codec whose RTX was not offered goes without one, never with a stranger's
    assert [c.payloadType for c in policy.restrict_to([VIDEO[0], VIDEO[3], VIDEO[2]], "VP8")] == [97]
    assert policy.codec_info(policy.restrict_to(chrome, "H264")).rtx_payload_type == 102
    assert policy.restrict_to(VIDEO, "VP9") == []


def test_member_without_room_codec_gets_conflict_naming_it() -> None:
    with pytest.raises(MediaError) as err:
        policy.require_codec([c for c in VIDEO if c.mimeType != "video/H264"], "video", "H264")
    assert err.value.code == "conflict" and "H264" in err.value.message


def test_server_mlines_reuse_client_extension_ids() -> None:
    client = {"urn:ietf:params:rtp-hdrext:sdes:mid": 4, "urn:ietf:params:rtp-hdrext:ssrc-audio-level": 1}
    exts = {e.uri: e.id for e in policy.extension_ids(client, "video")}
    assert exts["urn:ietf:params:rtp-hdrext:sdes:mid"] == 4
    assert exts["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] not in (1, 4)  # a free ID


def test_transport_wide_sequence_numbers_on_subscriber_mlines_only_when_offered_and_enabled() -> None:
    twcc = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    client = {"urn:ietf:params:rtp-hdrext:sdes:mid": 4, twcc: 3}
    for kind in ("audio", "video"):
        assert {e.uri: e.id for e in policy.extension_ids(client, kind, transport_cc=True)}[twcc] == 3  # the client's ID
        assert twcc not in {e.uri for e in policy.extension_ids(client, kind)}
        assert twcc not in {e.uri for e in policy.extension_ids({"urn:ietf:params:rtp-hdrext:sdes:mid": 4}, kind, True)}
    for two_byte_only in (15, 200):  # extmap-allow-mixed permits these; they would not fit a one-byte block
        assert twcc not in {e.uri for e in policy.extension_ids({twcc: two_byte_only}, "video", True)}
    assert load_settings([]).downlink_transport_cc is True
    assert load_settings(["--no-downlink-transport-cc"]).downlink_transport_cc is False


def test_forwarded_map_drops_mid_and_remaps() -> None:
    mid, abs_time = "urn:ietf:params:rtp-hdrext:sdes:mid", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    assert forward_id_map({mid: 1, abs_time: 3}, {mid: 4, abs_time: 2}) == {3: 2}
    assert forward_id_map({abs_time: 3}, {abs_time: 3}) is None


def test_sources_default_rule_and_declared_tracks() -> None:
    parsed = sdp("audio:sendrecv", "video:sendrecv", "video:sendonly")
    assert assign_sources(parsed, None, {}) == {"0": "microphone", "1": "camera", "2": "screen"}
    declared = [{"mid": "1", "source": "screen"}, {"mid": "2", "source": "camera"}]
    assert assign_sources(parsed, declared, {}) == {"0": "microphone", "1": "screen", "2": "camera"}
    with pytest.raises(MediaError):
        assign_sources(parsed, [{"mid": "0", "source": "camera"}], {})
    with pytest.raises(MediaError):
        assign_sources(parsed, [{"mid": "7", "source": "screen"}], {})
    assert assign_sources(sdp("audio:recvonly", "video:recvonly"), None, {}) == {}


def test_announce_rewrites_host_candidates_only() -> None:
    text = ("a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n"
            "a=candidate:2 1 udp 1694498815 1.2.3.4 40000 typ srflx raddr 10.0.0.5 rport 40000\r\n")
    out = announce_addresses(text, "203.0.113.7")
    assert "203.0.113.7 40000 typ host" in out and "1.2.3.4 40000 typ srflx" in out
    assert announce_addresses(text, None) == text


def test_turn_credentials_follow_the_coturn_rest_scheme() -> None:
    settings = Settings(turn_urls=("turn:turn.example:3478",), turn_secret="s3cret", stun_urls=("stun:s:3478",))
    servers = ice_servers(settings, "user-1")
    assert servers[0] == {"urls": ["stun:s:3478"]}
    turn = servers[1]
    expiry, user = turn["username"].split(":")
    assert user == "user-1" and int(expiry) > 0
    expected = base64.b64encode(hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected


def test_settings_parse_flags() -> None:
    settings = load_settings(["--ice-host", "127.0.0.1, 10.0.0.2", "--udp-ports", "40000-40010",
                              "--forwarding", "transcode", "--announce-ip", "203.0.113.7"])
    assert settings.ice_hosts == ("127.0.0.1", "10.0.0.2")
    assert settings.udp_ports == (40000, 40010) and settings.forwarding == "transcode"
    with pytest.raises(argparse.ArgumentTypeError):
        parse_port_range("50-10")


async def test_ice_policy_gathers_on_configured_host_and_port_range() -> None:
    original = (aioice.ice.get_host_addresses, aioice.ice.Connection.get_component_candidates)
    try:
        install_ice_policy(Settings(ice_hosts=("127.0.0.1",), udp_ports=(47000, 47020)))
        connection = aioice.ice.Connection(ice_controlling=True)
        await connection.gather_candidates()
        candidates = connection.local_candidates
        assert candidates and all(c.host == "127.0.0.1" and 47000 <= c.port <= 47020 for c in candidates)
        await connection.close()
        await asyncio.sleep(0)
    finally:
        aioice.ice.get_host_addresses, aioice.ice.Connection.get_component_candidates = original


def test_reoffer_keeps_sources_already_published() -> None:
    parsed = sdp("audio:sendrecv", "video:sendrecv", "video:sendonly")
    assert assign_sources(parsed, None, {"2": "camera"}) == {"0": "microphone", "1": "screen", "2": "camera"}
