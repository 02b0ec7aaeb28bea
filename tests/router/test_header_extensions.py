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
    # [pad][id1 len1 'A'][id15][0][id2 'B'][pad]: id 2 must not be seen. A parser that skips the id-15
    # byte, or reads it as an element with a one-byte value, would find 'B': these bytes tell them apart.
    block = bytes([0x00, 0x10, 0x41, 0xF0, 0x00, 0x20, 0x42, 0x00])
    data = b"\x90\x60" + bytes(10) + b"\xbe\xde\x00\x02" + block + b"pl"
    info = parse_rtp(data)
    assert find_extension(data, info, 1) == b"A"
    assert find_extension(data, info, 2) is None
    assert read_audio_level(data, info, 2) is None
    out = rewrite_extensions(data, info, {1: 3, 2: 4})
    assert out[16:24] == bytes([0x00, 0x30, 0x41, 0xF0, 0x00, 0x20, 0x42, 0x00])  # nothing after id 15 touched


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


def raw_packet(profile: int, block: bytes, payload: bytes = b"", csrcs: int = 0) -> bytes:
    """An RTP packet with a hand-made extension block (padded to 32 bits), for layouts no encoder writes."""
    block += bytes(-len(block) % 4)
    first = 0x90 | csrcs
    return bytes([first, 0x60]) + bytes(10) + bytes(4 * csrcs) + profile.to_bytes(2, "big") + \
        (len(block) // 4).to_bytes(2, "big") + block + payload


def test_padding_between_one_byte_elements_is_skipped_when_rewriting():
    # [id1 'A'][pad][pad][id2 'BC'][pad]: a rewrite must find both elements, and leave the padding alone
    data = raw_packet(0xBEDE, bytes([0x10, 0x41, 0x00, 0x00, 0x21, 0x42, 0x43, 0x00]), b"payload")
    out = rewrite_extensions(data, parse_rtp(data), {1: 5, 2: 6})
    assert out[16:24] == bytes([0x50, 0x41, 0x00, 0x00, 0x61, 0x42, 0x43, 0x00]) and out[24:] == b"payload"
    dropped = rewrite_extensions(data, parse_rtp(data), {2: 6})
    assert dropped[16:24] == bytes([0x00, 0x00, 0x00, 0x00, 0x61, 0x42, 0x43, 0x00])


def test_two_byte_blocks_padding_appbits_and_elements_ending_the_block():
    # [pad][id 7, len 2 'ab'][pad][pad][id 9, len 0][id 20, len 1 'z']: the last element ends the block
    block = bytes([0x00, 7, 2, 0x61, 0x62, 0x00, 0x00, 9, 0, 20, 1, 0x7A])
    for profile in (0x1000, 0x100F):  # the low four bits are application bits, not part of the profile
        data = raw_packet(profile, block)
        info = parse_rtp(data)
        assert info.extension_end == len(data)  # nothing after the block: a read past it would fail
        assert find_extension(data, info, 7) == b"ab"
        assert find_extension(data, info, 9) == b""
        assert find_extension(data, info, 20) == b"z"
        out = rewrite_extensions(data, info, {7: 1, 9: 2, 20: 3})
        out_info = parse_rtp(out)
        assert [find_extension(out, out_info, i) for i in (1, 2, 3)] == [b"ab", b"", b"z"]
    # a zero-length element as the block's last two bytes
    exact = raw_packet(0x1000, bytes([7, 1, 0x61, 0x00, 0x00, 0x00, 8, 0]))
    assert find_extension(exact, parse_rtp(exact), 8) == b""


def test_truncated_elements_at_the_end_of_a_packet_are_ignored_not_read_past():
    # no payload follows the block, so reading one byte too far raises instead of finding nothing
    two_byte = raw_packet(0x1000, bytes([7, 1, 0x61, 0x09]))  # id 9 with no length byte
    info = parse_rtp(two_byte)
    assert find_extension(two_byte, info, 7) == b"a" and find_extension(two_byte, info, 9) is None
    long_claim = raw_packet(0x1000, bytes([7, 3, 0x61, 0x62]))  # says 3 bytes, has 2
    assert find_extension(long_claim, parse_rtp(long_claim), 7) is None
    one_byte = raw_packet(0xBEDE, bytes([0x10, 0x61, 0x22, 0x62]))  # id 2 claims 3 bytes, 1 left
    info = parse_rtp(one_byte)
    assert find_extension(one_byte, info, 1) == b"a" and find_extension(one_byte, info, 2) is None
    assert rewrite_extensions(one_byte, info, {1: 3})[16:18] == bytes([0x30, 0x61])


def test_a_padding_only_probe_with_extensions_and_no_payload_is_read():
    # browsers' padding probes carry mid / rid / transport-wide sequence and not one payload byte
    data = build(payload_type=97, ids=CHROME, mid="1", transport_sequence_number=9, payload=b"", padding=0)
    info = parse_rtp(data)
    assert info.payload_start == info.payload_end == len(data)
    assert find_extension(data, info, 4) == b"1" and find_extension(data, info, 3) == b"\x00\x09"
    assert find_extension(data, info, 9) is None and read_audio_level(data, info, 9) is None
    out = rewrite_extensions(data, info, {3: 3})
    assert find_extension(out, parse_rtp(out), 3) == b"\x00\x09" and find_extension(out, parse_rtp(out), 4) is None


def test_find_returns_bytes_for_bytes_and_bytearray_input():
    data = build(ids=CHROME, mid="abc")
    info = parse_rtp(data)
    assert type(find_extension(data, info, 4)) is bytes
    assert type(find_extension(bytearray(data), info, 4)) is bytes  # not a view into a buffer that changes


def test_audio_level_voice_flag_boundary():
    for voiced, level in ((True, 0), (False, 0), (True, 127), (False, 1)):
        data = build(ids=CHROME, audio_level=(voiced, level))
        assert read_audio_level(data, parse_rtp(data), 1) == (voiced, level)


def test_reencoding_keeps_csrcs_and_the_payload_in_place():
    data = build(ids=CHROME, mid="0", abs_send_time=7, csrc=[0x01020304, 0x05060708], payload=b"frame", padding=2)
    out = rewrite_extensions(data, parse_rtp(data), {2: 16})  # ID 16 needs the two-byte form: re-encoded
    ref = RtpPacket.parse(bytes(out), ext_map({ABS_SEND_TIME: 16}))
    assert ref.csrc == [0x01020304, 0x05060708] and ref.payload == b"frame" and ref.padding_size == 2
    assert ref.extensions.abs_send_time == 7 and out[:2] == data[:2]
    nothing = rewrite_extensions(data, parse_rtp(data), {})
    assert RtpPacket.parse(bytes(nothing)).csrc == [0x01020304, 0x05060708] and not nothing[0] & 0x10


def test_one_byte_ids_up_to_14_are_patched_in_place_and_15_is_never_written():
    data = build(ids=CHROME, mid="0", abs_send_time=7, payload=b"p")
    info = parse_rtp(data)
    in_place = rewrite_extensions(data, info, {4: 14, 2: 2})
    assert len(in_place) == len(data) and find_extension(in_place, parse_rtp(in_place), 14) == b"0"
    assert [i for i, (a, b) in enumerate(zip(in_place, data, strict=True)) if a != b] == [
        next(i for i in range(16, len(data)) if data[i] >> 4 == 4 and data[i + 1] == ord("0"))]
    moved = rewrite_extensions(data, info, {4: 15, 2: 2})  # 15 is reserved in the one-byte form
    moved_info = parse_rtp(moved)
    assert moved_info.extension_profile == 0x1000 and find_extension(moved, moved_info, 15) == b"0"


def test_mapping_to_id_14_with_a_dropped_element_is_patched_in_place():
    data = build(ids=CHROME, mid="0", abs_send_time=7, transport_sequence_number=5, payload=b"p")
    out = rewrite_extensions(data, parse_rtp(data), {4: 14, 2: 2})  # TWCC dropped: zeroed in place
    assert len(out) == len(data)
    info = parse_rtp(out)
    assert find_extension(out, info, 14) == b"0" and find_extension(out, info, 3) is None


def test_a_transport_wide_sequence_number_is_added_to_any_packet_and_read_back_by_aiortc():
    from router.header_extensions import with_transport_sequence

    ours = {**AIORTC, TWCC: 7}
    cases = {
        "no block": build(sequence=5, payload=b"\x01\x02\x03"),
        "one-byte block": build(sequence=5, ids=AIORTC, mid="1", abs_send_time=0x123456, audio_level=(False, 3)),
        "padded block": build(sequence=5, ids=AIORTC, mid="12", padding=4),
        "with csrcs": build(sequence=5, ids=AIORTC, mid="1", csrc=[1, 2]),
    }
    for name, original in cases.items():
        stamped = with_transport_sequence(original, 7, 0xBEEF)
        before, after = RtpPacket.parse(original, ext_map(ours)), RtpPacket.parse(stamped, ext_map(ours))
        assert after.extensions.transport_sequence_number == 0xBEEF, name
        assert (after.extensions.mid, after.extensions.abs_send_time, after.extensions.audio_level) == (
            before.extensions.mid, before.extensions.abs_send_time, before.extensions.audio_level), name
        assert (after.payload, after.csrc, after.sequence_number, after.padding_size) == (
            before.payload, before.csrc, before.sequence_number, before.padding_size), name
        info = parse_rtp(stamped)
        assert find_extension(stamped, info, 7) == b"\xbe\xef", name
        assert len(stamped) == len(original) + (4 if original[0] & 0x10 else 8), name


def test_a_transport_wide_sequence_number_in_a_two_byte_block_and_an_unknown_profile():
    from router.header_extensions import with_transport_sequence

    two_byte = bytearray(build(sequence=5, payload=b"\xaa"))
    two_byte[0] |= 0x10
    two_byte[12:12] = bytes.fromhex("1000 0001 0301 0900")  # appbits 0; element id 3, 1 byte; padding
    stamped = with_transport_sequence(bytes(two_byte), 12, 0x0102)
    info = parse_rtp(stamped)
    assert find_extension(stamped, info, 3) == b"\x09" and find_extension(stamped, info, 12) == b"\x01\x02"
    assert stamped[-1:] == b"\xaa"
    unknown = bytearray(two_byte)
    unknown[12:14] = b"\x12\x34"
    assert with_transport_sequence(bytes(unknown), 12, 1) == bytes(unknown)
