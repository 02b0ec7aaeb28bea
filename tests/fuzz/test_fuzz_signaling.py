"""Fuzzing the signaling payload validation (signaling/validation.py) for every client event, plus the
name normalisation and development-mode auth built on it: any JSON a client can send is either
normalised or refused with `bad_request`, never another exception, and what is accepted is stable."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from harness import fuzz_target
from hypothesis import example, given
from hypothesis import strategies as st

from signaling.auth import AuthError, authenticate
from signaling.errors import SignalingError
from signaling.validation import (
    INVISIBLE_CATEGORIES,
    MAX_DISPLAY_NAME,
    ROOM_ID_RE,
    SCHEMAS,
    Invalid,
    Limits,
    clean_name,
    validate,
)

LIMITS = Limits(max_sdp_bytes=2048)
EVENTS = sorted(SCHEMAS)
# Text with what hostile clients favour: controls, bidi and zero-width characters, combining marks.
TRICKY = st.sampled_from(["\x00", "\r", "\n", "\x1b", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u0301",
                          "\ud800", " ", "\u00a0", "é", "\U0001f600", "\U000e0041"])
text = st.lists(st.one_of(st.characters(), TRICKY), max_size=80).map("".join) | st.sampled_from(["", "sfu", "x" * 70])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)
room_ids = st.from_regex(ROOM_ID_RE, fullmatch=True) | text
VALUE_FOR = {  # near-valid values per field name, mixed with anything at all
    "roomId": room_ids,
    "displayName": text,
    "audio": st.booleans(), "video": st.booleans(), "enabled": st.booleans(),
    "topology": st.sampled_from(["mesh", "sfu", "star", ""]),
    "to": st.sampled_from(["sfu", "p1"]) | text,
    "description": st.fixed_dictionaries({"type": st.sampled_from(["offer", "answer", "pranswer", "x"]), "sdp": text}),
    "candidate": st.none() | st.fixed_dictionaries(
        {"candidate": text}, optional={"sdpMid": st.none() | text, "sdpMLineIndex": st.none() | st.integers(-2, 2000),
                                       "usernameFragment": st.none() | text}),
    "tracks": st.lists(st.fixed_dictionaries({"mid": text, "source": st.sampled_from(["camera", "screen", "mic"])}),
                       max_size=10),
    "slots": st.lists(st.fixed_dictionaries({"mid": text, "kind": st.sampled_from(["audio", "video", "data"])}),
                      max_size=70),
    "tiles": st.lists(st.fixed_dictionaries({
        "participantId": text, "source": st.sampled_from(["camera", "screen", "microphone"]),
        "width": st.integers(-5, 20000) | json_values, "height": st.integers(-5, 20000)}), max_size=110),
    "text": text,
    "clientMsgId": text,
}
assert set(VALUE_FOR) >= {spec.name for fields in SCHEMAS.values() for spec in fields}, "a field without values"


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    event = draw(st.sampled_from(EVENTS))
    if draw(st.booleans()):
        return event, tuple(draw(st.lists(json_values, max_size=3)))
    fields = {spec.name: draw(VALUE_FOR[spec.name] | json_values) for spec in SCHEMAS[event] if draw(st.booleans())}
    fields.update(draw(st.dictionaries(text, json_values, max_size=2)))
    return event, (fields,)


def invisible(value: str) -> bool:
    return any(unicodedata.category(c) in INVISIBLE_CATEGORIES for c in value)


@fuzz_target
@given(payloads())
@example(("video:join-room", ({"roomId": "r", "displayName": "\u202e\u200b"},)))
@example(("video:offer", ({"roomId": "r", "to": "sfu", "description": {"type": "offer", "sdp": "\ud800" * 700}},)))
@example(("presence:list", (None,)))
def test_fuzz_validation(case: tuple[str, tuple[Any, ...]]) -> None:
    event, args = case
    try:
        out = validate(event, args, LIMITS)
    except SignalingError as exc:
        assert exc.code == "bad_request" and isinstance(exc.message, str)
        return
    names = {spec.name for spec in SCHEMAS[event]}
    assert set(out) <= names
    if "roomId" in out:
        assert ROOM_ID_RE.fullmatch(out["roomId"])
    if "displayName" in out:
        name = out["displayName"]
        assert 1 <= len(name) <= MAX_DISPLAY_NAME and not invisible(name) and name == name.strip()
        assert unicodedata.is_normalized("NFC", name)
    if "description" in out:
        assert len(out["description"]["sdp"].encode("utf-8", "surrogatepass")) <= LIMITS.max_sdp_bytes
    json.dumps(out)  # what handlers receive is plain JSON
    assert validate(event, (out,), LIMITS) == out, "normalising twice changes nothing"


@fuzz_target
@given(json_values | st.fixed_dictionaries({}, optional={"name": json_values | text, "userId": json_values | text}))
@example({"name": "\u200b\u200d"})
@example({"userId": "a\u202eb"})
def test_fuzz_names_and_dev_auth(auth: Any) -> None:
    try:
        identity = authenticate(auth, None, "abcdefgh")
    except AuthError as exc:
        assert isinstance(str(exc), str)
        return
    assert identity.rooms is None and identity.expires_at is None
    assert not invisible(identity.user_id) and not invisible(identity.display_name)
    if identity.name is not None:
        assert clean_name(identity.name, "name") == identity.name
    for raw in (auth.get("name"), auth.get("userId")) if isinstance(auth, dict) else ():
        try:
            once = clean_name(raw, "name")
        except Invalid:
            continue
        assert clean_name(once, "name") == once
