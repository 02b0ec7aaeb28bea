"""Fuzzing the RTP packet path of router/: header parsing and rewriting, header extensions, RTX,
keyframe detection. Every input a network peer can send must give a result or a ValueError, and
what is rebuilt must parse back to what was meant."""

from __future__ import annotations

from harness import fuzz_target
from hypothesis import example, given
from hypothesis import strategies as st
from rtp_strategies import Built, flips, mutated, rtp_packets, u16, u32

from router.header_extensions import find_extension, read_audio_level, rewrite_extensions
from router.keyframes import is_keyframe
from router.rtp_header import parse_rtp, rewrite_rtp, rewritten_rtp
from router.rtx import unwrap_rtx, wrap_rtx

# valid packets, noise, noise that starts like RTP version 2 (plain noise rarely does), valid packets hit
packets_or_noise = st.one_of(
    rtp_packets(), st.binary(max_size=400),
    st.builds(lambda b0, rest: bytes((b0,)) + rest, st.integers(0x80, 0xBF), st.binary(min_size=11, max_size=400)),
    st.builds(mutated, rtp_packets().map(lambda b: b.data), flips))


def check_info(buf: bytes) -> None:
    """Parse `buf`; when it parses, every offset must lie inside it and in order."""
    try:
        info = parse_rtp(buf)
    except ValueError:
        return
    assert buf[0] >> 6 == 2
    assert 12 <= info.extension_start <= info.extension_end == info.payload_start <= info.payload_end <= len(buf)
    assert 0 <= info.payload_type <= 127 and 0 <= info.sequence <= 0xFFFF
    if buf[0] & 0x10:  # the profile is the 16 bits before the block (0 is a value like any other)
        assert info.extension_profile == int.from_bytes(buf[info.extension_start - 4 : info.extension_start - 2], "big")
    else:
        assert info.extension_profile == 0 and info.extension_start == info.extension_end


@fuzz_target
@given(packets_or_noise, st.integers(0, 127), u16, u32, u32)
@example(b"\x80" + bytes(11), 0, 0, 0, 0)
@example(b"\xb0" + bytes(11) + b"\xbe\xde\xff\xff", 96, 1, 2, 3)  # extension longer than the packet
@example(b"\xa0" + bytes(11) + b"\x00", 96, 1, 2, 3)  # padding count 0
def test_fuzz_rtp_header(packet: Built | bytes, pt: int, seq: int, ts: int, ssrc: int) -> None:
    if isinstance(packet, bytes):
        check_info(packet)
        return
    info = parse_rtp(packet.data)
    assert (info.payload_type, info.marker, info.sequence, info.timestamp, info.ssrc) == (
        packet.payload_type, packet.marker, packet.sequence, packet.timestamp, packet.ssrc)
    assert info.extension_profile == packet.profile and info.extension_start == packet.extension_start
    assert packet.data[info.payload_start:info.payload_end] == packet.payload
    out = rewritten_rtp(packet.data, pt, seq, ts, ssrc)
    again = parse_rtp(out)
    assert (again.payload_type, again.marker, again.sequence, again.timestamp, again.ssrc) == (pt, packet.marker, seq, ts, ssrc)
    assert out[12:] == packet.data[12:] and out[0] == packet.data[0]
    in_place = bytearray(packet.data)
    rewrite_rtp(in_place, pt, seq, ts, ssrc)
    assert bytes(in_place) == out


injective_maps = st.dictionaries(st.integers(1, 255), st.integers(1, 255), max_size=8).filter(
    lambda m: len(set(m.values())) == len(m))


@fuzz_target
@given(packets_or_noise, injective_maps, st.integers(0, 256))
def test_fuzz_header_extensions(packet: Built | bytes, id_map: dict[int, int], probe: int) -> None:
    data = packet.data if isinstance(packet, Built) else packet
    try:
        info = parse_rtp(data)
    except ValueError:
        return
    for view in (data, memoryview(data)):  # lookups never raise, on bytes or views
        find_extension(view, info, probe)
        level = read_audio_level(view, info, probe)
        assert level is None or (isinstance(level[0], bool) and 0 <= level[1] <= 127)
    out = rewrite_extensions(data, info, id_map)  # any parsed packet, any map of valid SDP ids
    new = parse_rtp(bytes(out))
    assert bytes(out[new.payload_start:new.payload_end]) == data[info.payload_start:info.payload_end]
    if isinstance(packet, Built) and packet.profile and packet.elements:
        for pub_id, con_id in id_map.items():
            first = next((value for ext_id, value in packet.elements if ext_id == pub_id), None)
            if first is not None and con_id != 15:
                found = find_extension(bytes(out), new, con_id)
                others = [v for e, v in packet.elements if id_map.get(e) == con_id]
                assert found is not None and bytes(found) in others, (pub_id, con_id)


@fuzz_target
@given(packets_or_noise, st.integers(0, 127), u32, u16, st.integers(0, 127), u32)
def test_fuzz_rtx(packet: Built | bytes, rtx_pt: int, rtx_ssrc: int, rtx_seq: int, media_pt: int, media_ssrc: int) -> None:
    data = packet.data if isinstance(packet, Built) else packet
    try:
        info = parse_rtp(data)
    except ValueError:
        return
    try:  # any parsed packet taken for an RTX packet: a media packet, or ValueError without an OSN
        media = unwrap_rtx(data, info, media_pt, media_ssrc)
        parsed = parse_rtp(bytes(media))
        assert (parsed.payload_type, parsed.ssrc) == (media_pt, media_ssrc)
    except ValueError:
        assert info.payload_end - info.payload_start < 2
    rtx = wrap_rtx(data, info, rtx_ssrc, rtx_pt, rtx_seq)
    rtx_info = parse_rtp(rtx)
    assert (rtx_info.payload_type, rtx_info.ssrc, rtx_info.sequence) == (rtx_pt, rtx_ssrc, rtx_seq)
    back = unwrap_rtx(rtx, rtx_info, info.payload_type, info.ssrc)
    restored = parse_rtp(bytes(back))
    assert (restored.sequence, restored.payload_type, restored.ssrc, restored.timestamp) == (
        info.sequence, info.payload_type, info.ssrc, info.timestamp)
    assert bytes(back[restored.payload_start:restored.payload_end]) == data[info.payload_start:info.payload_end]


MIMES = st.sampled_from(["video/vp8", "video/VP8", "video/h264", "video/H264", "audio/opus", "video/vp9"]) | st.text(max_size=20)


@fuzz_target
@given(MIMES, st.binary(max_size=64) | st.lists(st.integers(0, 255), max_size=64).map(bytes))
@example("video/h264", bytes((24, 0, 0)))  # STAP-A with a zero-length unit
@example("video/vp8", bytes((0x90, 0x80)))  # X and I set, picture id missing
def test_fuzz_keyframes(mime: str, payload: bytes) -> None:
    result = is_keyframe(mime, payload)
    assert isinstance(result, bool)
    assert is_keyframe(mime, memoryview(payload)) is result
