"""Firefox's offers, as Firefox 153 ESR really writes them (fixtures captured from headless firefox-esr).

With `bundlePolicy: "max-bundle"` Firefox offers every bundled m-section after the first with port 0 and
`a=bundle-only` (RFC 8843 §7.2). Those sections are live: the server must take their tracks, not refuse
the offer ("tracks names mid 1, which is not a sending m-line"). Its msid is `{uuid} {uuid}` (never a
participant id) and its video announces RTX with `a=ssrc-group:FID <media> <rtx>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiortc.sdp import SessionDescription
from prometheus_client import CollectorRegistry
from recording import RecordingNotifier

from sfu.api import MediaError
from sfu.backend import SfuBackend
from sfu.config import Settings
from sfu.sdp import CandidatePolicy, assign_sources, parse_offer


def parse_sdp(text: str):  # noqa: ANN201 - the typed offer, as the server reads it
    return parse_offer(text, CandidatePolicy(allow_loopback=True))

FIXTURES = Path(__file__).parent / "fixtures"
PUBLISHER = (FIXTURES / "firefox153-offer-publisher.sdp").read_text()
LISTENER = (FIXTURES / "firefox153-offer-listener.sdp").read_text()


def rejected_video(sdp: str) -> str:
    """The publisher offer with its video section rejected the RFC 8843 way: out of the group, no bundle-only."""
    return sdp.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0").replace("a=bundle-only\r\n", "").replace(
        "a=bundle-only\n", "")


def test_the_fixture_is_the_bundle_only_shape() -> None:
    offer = parse_sdp(PUBLISHER)
    audio, video = offer.parsed.media
    assert (audio.kind, audio.port != 0) == ("audio", True)
    assert (video.kind, video.port) == ("video", 0)
    assert "a=bundle-only" in PUBLISHER and "a=group:BUNDLE 0 1" in PUBLISHER
    assert [m.sends for m in offer.media] == [True, True] and offer.media[1].bundle_only


def test_declared_tracks_on_bundle_only_sections_are_accepted() -> None:
    tracks = [{"mid": "0", "source": "microphone"}, {"mid": "1", "source": "camera"}]
    assert assign_sources(parse_sdp(PUBLISHER), tracks, {}) == {"0": "microphone", "1": "camera"}


def test_undeclared_tracks_get_default_sources() -> None:
    assert assign_sources(parse_sdp(PUBLISHER), None, {}) == {"0": "microphone", "1": "camera"}


def test_a_listener_offer_publishes_nothing() -> None:
    offer = parse_sdp(LISTENER)
    assert [m.direction for m in offer.media] == ["recvonly", "recvonly"]
    assert [m.receives for m in offer.media] == [True, True]
    assert assign_sources(offer, [], {}) == {}


def test_a_really_rejected_section_still_does_not_publish() -> None:
    parsed = parse_sdp(rejected_video(PUBLISHER))
    assert not parsed.media[1].sends and not parsed.media[1].receives
    assert assign_sources(parsed, None, {}) == {"0": "microphone"}
    with pytest.raises(MediaError) as refused:
        assign_sources(parsed, [{"mid": "1", "source": "camera"}], {})
    assert refused.value.code == "bad_request" and "mid 1" in refused.value.message


def test_firefox_ssrcs_rtx_pairing_and_fingerprint() -> None:
    offer = parse_sdp(PUBLISHER)
    audio, video = offer.media
    assert (audio.media_ssrc, audio.rtx_ssrc) == (4045290555, None)
    assert (video.media_ssrc, video.rtx_ssrc) == (2990488879, 2987361043)  # ssrc-group:FID <media> <rtx>
    assert offer.fingerprints == {
        "sha-256 03:39:0a:34:50:3a:90:fc:d3:bc:c3:58:b0:06:75:7e:77:82:03:da:a3:7a:4e:10:cf:aa:96:fa:43:fe:e0:85"
    }
    # Firefox's msid names its own stream and track uuids, never a participant id
    assert re.fullmatch(r"\{[0-9a-f-]+\} \{[0-9a-f-]+\}", offer.section("1").msid or "")


def without_candidates(sdp: str) -> str:
    """The captured candidates name the capture machine's addresses; tests send nothing off 127.0.0.1."""
    return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith("a=candidate:"))


async def test_the_server_answers_firefox_with_both_tracks_published() -> None:
    notifier = RecordingNotifier()
    backend = SfuBackend(Settings(ice_hosts=("127.0.0.1",)), notifier, CollectorRegistry())
    try:
        await backend.join("room", "fox")
        tracks = [{"mid": "0", "source": "microphone"}, {"mid": "1", "source": "camera"}]
        await backend.offer("room", "fox", {"type": "offer", "sdp": without_candidates(PUBLISHER)}, tracks)
        answers = [p for pid, event, p in notifier.sent if event == "video:answer"]
        assert len(answers) == 1
        answer = answers[0]
        assert sorted((t["mid"], t["kind"], t["source"]) for t in answer["tracks"]) == [
            ("0", "audio", "microphone"), ("1", "video", "camera")]
        media = SessionDescription.parse(answer["description"]["sdp"]).media
        assert [(m.rtp.muxId, m.direction) for m in media] == [("0", "recvonly"), ("1", "recvonly")]
        # the server took Firefox's RTX pairing for the camera
        producer = next(p for p in backend.rooms["room"].producers() if p.source == "camera")
        layer = producer.layers[0]
        assert (producer.codec.mime_type, layer.media_ssrc, layer.rtx_ssrc) == ("video/VP8", 2990488879, 2987361043)
    finally:
        await backend.close()
