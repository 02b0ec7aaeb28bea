"""Fuzzing the SDP a client offers: refused with bad_request, or accepted with every value in bounds.

Offers are built from a real browser-like offer with lines added, removed and corrupted, so the
fuzzer spends its time near the inputs that matter (extension ids, SSRCs, payload types, mids,
rids, candidates), not on text aiortc's parser rejects at the first line.
"""

from __future__ import annotations

from harness import fuzz_target
from hypothesis import example, given
from hypothesis import strategies as st

from sfu.api import MediaError
from sfu.sdp import CandidatePolicy, add_simulcast_to_answer, parse_offer

SESSION = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", "a=msid-semantic: WMS"]
TRANSPORT = ["a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuv",
             "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass", "a=rtcp-mux"]
AUDIO = ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendrecv", *TRANSPORT,
         "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
         "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1", "a=ssrc:1111 cname:x"]
VIDEO = ["m=video 9 UDP/TLS/RTP/SAVPF 96 97", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendonly", *TRANSPORT,
         "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
         "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
         "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
         "a=rid:q send", "a=rid:h send", "a=simulcast:send q;h",
         "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"]

LINES = st.one_of(
    st.builds(lambda i, u: f"a=extmap:{i} {u}", st.integers(-5, 300),
              st.sampled_from(["urn:ietf:params:rtp-hdrext:sdes:mid", "urn:x", "http://a b"])),
    st.builds(lambda s: f"a=ssrc:{s} cname:y", st.integers(-1, 2**40)),
    st.builds(lambda a, b: f"a=ssrc-group:FID {a} {b}", st.integers(-1, 2**33), st.integers(-1, 2**33)),
    st.builds(lambda p, n: f"a=rtpmap:{p} {n}/90000", st.integers(-1, 300), st.sampled_from(["VP8", "rtx", "H264"])),
    st.builds(lambda p, a: f"a=fmtp:{p} apt={a}", st.integers(0, 130), st.integers(-1, 300)),
    st.builds(lambda m: f"a=mid:{m}", st.text(max_size=40)),
    st.builds(lambda r, d: f"a=rid:{r} {d}", st.text(max_size=20), st.sampled_from(["send", "recv", "x"])),
    st.builds(lambda r: f"a=simulcast:send {r}", st.text(max_size=30)),
    st.builds(lambda h, p: f"a=candidate:1 1 udp 1 {h} {p} typ host", st.sampled_from(
        ["127.0.0.1", "10.0.0.1", "8.8.8.8", "0.0.0.0", "224.0.0.1", "::1", "x.local", "bad"]), st.integers(0, 70000)),
    st.sampled_from(["a=bundle-only", "a=extmap-allow-mixed", "a=recvonly", "m=video 0 UDP/TLS/RTP/SAVPF 96",
                     "a=rtcp-fb:96 transport-cc", "\x00", "a=group:BUNDLE 0"]),
    st.text(max_size=60),
)


@st.composite
def offers(draw: st.DrawFn) -> str:
    lines = [*SESSION, *AUDIO, *VIDEO]
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        index = draw(st.integers(0, len(lines) - 1))
        if action == "insert":
            lines.insert(index, draw(LINES))
        elif action == "delete" and len(lines) > 1:
            del lines[index]
        else:
            lines[index] = draw(LINES)
    return "\r\n".join(lines) + "\r\n"


@fuzz_target
@given(offers())
@example("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:300 urn:x\r\n")
def test_fuzz_offers_are_refused_cleanly_or_bounded(text: str) -> None:
    try:
        offer = parse_offer(text, CandidatePolicy(allow_loopback=True, max_candidates=4), max_sections=8)
    except MediaError as exc:
        assert exc.code == "bad_request" and exc.message
        return
    mids = [m.mid for m in offer.media]
    assert len(mids) == len(set(mids)) and len(offer.media) <= 8
    top = 255 if offer.two_byte_extensions else 14
    for media in offer.media:
        assert all(1 <= i <= top and i != 15 for i in media.extensions.values())
        assert all(0 <= c.payload_type <= 127 for c in media.codecs)
        for ssrc in (media.media_ssrc, media.rtx_ssrc):
            assert ssrc is None or 0 < ssrc < 2**32
        assert len(media.rids) <= 3 and len(set(media.rids)) == len(media.rids)
    candidates = [line for line in offer.sdp.split("\r\n") if line.startswith("a=candidate:")]
    assert offer.candidates_kept <= 4 and len(candidates) == offer.candidates_kept
    assert "\x00" not in offer.sdp
    add_simulcast_to_answer("a=mid:1\r\n", {m.mid: m.rids for m in offer.media if m.simulcast})
