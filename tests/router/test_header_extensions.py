"""router.header_extensions against blocks written by aiortc's HeaderExtensionsMap."""

from __future__ import annotations

from aiortc.rtp import RtpPacket
from rtp_build import ABS_SEND_TIME, AUDIO_LEVEL, MID, RID, TOFFSET, TWCC, build, ext_map

from router.header_extensions import find_extension, forward_id_map, read_audio_level, rewrite_extensions
from router.rtp_header import parse_rtp

CHROME = {AUDIO_LEVEL: 1, ABS_SEND_TIME: 2, TWCC: 3, MID: 4}
AIORTC = {MID: 1, ABS_SEND_TIME: 2, AUDIO_LEVEL: 3}


def test_forward_map_is_none_when_the_block_can_pass_unchanged():
    plain = {ABS_SEND_TIME: 2, AUDIO_LEVEL: 1}
    assert forward_id_map(plain, dict(plain)) is None
    assert forward_id_map({}, CHROME) is None


def test_forward_map_remaps_and_drops_what_names_the_publishers_side():
    # the mid and transport-wide sequence numbers describe the publisher's transport: dropped
    assert forward_id_map(CHROME, AIORTC) == {1: 3, 2: 2}
    assert forward_id_map({MID: 4, RID: 10, ABS_SEND_TIME: 2}, {ABS_SEND_TIME: 2, MID: 4}) == {2: 2}
    assert forward_id_map({ABS_SEND_TIME: 3}, {ABS_SEND_TIME: 5}) == {3: 5}
    assert forward_id_map({TOFFSET: 3}, {}) == {}


def test_find_and_audio_level_one_byte():
    data = build(ids=CHROME, mid="audio0", abs_send_time=0xABCDEF, audio_level=(True, 42),
                 transport_sequence_number=513, padding=3)
    info = parse_rtp(data)
    assert find_extension(data, info, 4) == b"audio0"
    assert find_extension(data, info, 2) == b"\xab\xcd\xef"
    assert find_extension(data, info, 3) == b"\x02\x01"
    assert find_extension(data, info, 9) is None
    assert read_audio_level(data, info, 1) == (True, 42)
    assert read_audio_level(data, info, 9) is None
    mv = find_extension(memoryview(data), info, 4)
    assert isinstance(mv, memoryview) and bytes(mv) == b"audio0"
    assert find_extension(bytearray(data), info, 4) == b"audio0"


def test_audio_level_unvoiced_and_no_extension():
    data = build(ids=CHROME, audio_level=(False, 127))
    assert read_audio_level(data, parse_rtp(data), 1) == (False, 127)
    plain = build()
    assert read_audio_level(plain, parse_rtp(plain), 1) is None
    assert find_extension(plain, parse_rtp(plain), 1) is None


def test_two_byte_form():
    ids = {MID: 20, AUDIO_LEVEL: 1, ABS_SEND_TIME: 5}  # ID 20 forces the two-byte form
    data = build(ids=ids, mid="m", audio_level=(True, 7), abs_send_time=1)
    info = parse_rtp(data)
    assert info.extension_profile == 0x1000
    assert find_extension(data, info, 20) == b"m"
    assert read_audio_level(data, info, 1) == (True, 7)
    assert find_extension(data, info, 5) == b"\x00\x00\x01"


def test_rewrite_patch_in_place_roundtrip():
    data = build(ids=CHROME, mid="0", abs_send_time=77, audio_level=(True, 10), marker=1,
                 csrc=[5], padding=4, payload=b"opus-payload")
    info = parse_rtp(data)
    id_map = {1: 3, 2: 2, 3: 5, 4: 1}  # CHROME's IDs to {AUDIO_LEVEL: 3, ABS_SEND_TIME: 2, TWCC: 5, MID: 1}
    out = rewrite_extensions(data, info, id_map)
    assert len(out) == len(data)
    ref = RtpPacket.parse(bytes(out), ext_map({AUDIO_LEVEL: 3, ABS_SEND_TIME: 2, TWCC: 5, MID: 1}))
    assert ref.extensions.mid == "0"
    assert ref.extensions.abs_send_time == 77
    assert ref.extensions.audio_level == (True, 10)
    assert ref.payload == b"opus-payload" and ref.padding_size == 4 and ref.csrc == [5]
    assert ref.marker == 1


def test_rewrite_drops_unmapped_and_repads():
    data = build(ids=CHROME, mid="video1", abs_send_time=99, transport_sequence_number=7,
                 payload=b"vp8")
    info = parse_rtp(data)
    out = rewrite_extensions(data, info, {4: 9, 2: 2})  # TWCC dropped
    oinfo = parse_rtp(out)
    assert (oinfo.extension_end - oinfo.extension_start) % 4 == 0
    ref = RtpPacket.parse(bytes(out), ext_map({MID: 9, ABS_SEND_TIME: 2, TWCC: 3}))
    assert ref.extensions.mid == "video1"
    assert ref.extensions.abs_send_time == 99
    assert ref.extensions.transport_sequence_number is None
    assert ref.payload == b"vp8"
    assert find_extension(out, oinfo, 3) is None


def test_rewrite_nothing_left_clears_x_bit():
    data = build(ids=CHROME, transport_sequence_number=1, padding=2, payload=b"xyz")
    out = rewrite_extensions(data, parse_rtp(data), {4: 1})
    assert not out[0] & 0x10 and out[0] & 0x20
    info = parse_rtp(out)
    assert info.extension_profile == 0 and info.payload_start == 12
    assert out[info.payload_start : info.payload_end] == b"xyz"


def test_rewrite_one_byte_to_two_byte_when_id_too_large():
    data = build(ids=CHROME, mid="0", audio_level=(False, 50))
    out = rewrite_extensions(data, parse_rtp(data), {4: 16, 1: 1})
    info = parse_rtp(out)
    assert info.extension_profile == 0x1000
    assert find_extension(out, info, 16) == b"0"
    assert read_audio_level(out, info, 1) == (False, 50)


def test_rewrite_two_byte_to_one_byte():
    ids = {MID: 20, AUDIO_LEVEL: 1}
    data = build(ids=ids, mid="ab", audio_level=(True, 3), payload=b"p")
    out = rewrite_extensions(data, parse_rtp(data), {20: 4, 1: 1})
    ref = RtpPacket.parse(bytes(out), ext_map({MID: 4, AUDIO_LEVEL: 1}))
    assert parse_rtp(out).extension_profile == 0xBEDE
    assert ref.extensions.mid == "ab" and ref.extensions.audio_level == (True, 3)
    # IDs that still need the two-byte form
    out2 = rewrite_extensions(data, parse_rtp(data), {20: 30, 1: 2})
    assert parse_rtp(out2).extension_profile == 0x1000
    ref2 = RtpPacket.parse(bytes(out2), ext_map({MID: 30, AUDIO_LEVEL: 2}))
    assert ref2.extensions.mid == "ab" and ref2.extensions.audio_level == (True, 3)


def test_rewrite_without_extension_copies():
    data = build(payload=b"abc")
    out = rewrite_extensions(data, parse_rtp(data), {1: 2})
    assert out == data and isinstance(out, bytearray)


def test_one_byte_id_15_stops_parsing_and_padding_skipped():
    # header + BEDE block: [pad][id1 len1 'A'][id15 ...][id2 ...] (id 2 must not be seen)
    block = bytes([0x00, 0x10, 0x41, 0xF0, 0x20, 0x42, 0x00, 0x00])
    data = b"\x90\x60" + bytes(10) + b"\xbe\xde\x00\x02" + block + b"pl"
    info = parse_rtp(data)
    assert find_extension(data, info, 1) == b"A"
    assert find_extension(data, info, 2) is None


def test_rewrite_stops_at_one_byte_id_15_and_leaves_what_follows_untouched():
    # [id1 len1 'A'][id15][id2 len1 'B'][pad]: RFC 8285 says nothing after id 15 is an element
    block = bytes([0x10, 0x41, 0xF0, 0x20, 0x42, 0x00, 0x00, 0x00])
    data = b"\x90\x60" + bytes(10) + b"\xbe\xde\x00\x02" + block + b"pl"
    out = rewrite_extensions(data, parse_rtp(data), {1: 3, 2: 4})
    assert out[16:24] == bytes([0x30, 0x41, 0xF0, 0x20, 0x42, 0x00, 0x00, 0x00])
    dropped = rewrite_extensions(data, parse_rtp(data), {2: 4})  # only the unseen element is mapped
    assert not dropped[0] & 0x10 and bytes(dropped) == bytes([0x80]) + data[1:12] + b"pl"  # no element left


def test_malformed_element_length_is_ignored():
    block = bytes([0x1F, 0x41, 0x42, 0x43])  # id 1 claims 16 bytes, only 3 in block
    data = b"\x90\x60" + bytes(10) + b"\xbe\xde\x00\x01" + block
    info = parse_rtp(data)
    assert find_extension(data, info, 1) is None
    assert read_audio_level(data, info, 1) is None


def test_rid_two_byte_zero_length_element():
    ids = {RID: 3, MID: 4}
    data = build(ids=ids, rtp_stream_id="h", mid="0")
    info = parse_rtp(data)
    assert find_extension(data, info, 3) == b"h"
    # a zero-length element forces the two-byte form
    block = bytes([7, 0, 4, 1, ord("0"), 0, 0, 0])
    raw = b"\x90\x60" + bytes(10) + b"\x10\x00\x00\x02" + block
    rinfo = parse_rtp(raw)
    assert find_extension(raw, rinfo, 7) == b""
    assert find_extension(raw, rinfo, 4) == b"0"
    assert read_audio_level(raw, rinfo, 7) is None


def test_dropped_one_byte_elements_become_padding_in_place():
    data = build(ids=CHROME, mid="12", abs_send_time=0x010203, payload=b"payload")
    info = parse_rtp(data)
    out = rewrite_extensions(data, info, {CHROME[ABS_SEND_TIME]: 5})
    assert len(out) == len(data)  # nothing moved: the mid element is now zero padding
    out_info = parse_rtp(out)
    assert find_extension(out, out_info, 5) == bytes([1, 2, 3])
    assert find_extension(out, out_info, CHROME[MID]) is None
    parsed = RtpPacket.parse(bytes(out), ext_map({ABS_SEND_TIME: 5}))
    assert parsed.extensions.abs_send_time == 0x010203 and parsed.payload == b"payload"
