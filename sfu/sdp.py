"""A client's SDP, parsed and validated once, before anything is applied.

`parse_offer` turns an offer into one typed `ClientOffer` that the rest of the server reads; aiortc
is handed a sanitized copy of the text only after every value that can reach shared state has
been checked (extension IDs, payload types, SSRCs, mids, rids, candidates). What aiortc's SDP
handling lacks is owned here too: RFC 8843 `bundle-only` sections (Firefox), `a=rid` and
`a=simulcast` (RFC 8851/8853: aiortc drops both), and the matching lines in our answer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiortc.sdp import MediaDescription, SessionDescription

from sfu.api import MediaError

MID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
RID_RE = re.compile(r"[A-Za-z0-9_\-]{1,16}")
# Anything below 0x20 except TAB/CR/LF, and DEL: SDP is text, such bytes only smuggle.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SSRC_LINES_PER_SECTION = 16
MAX_SIMULCAST_LAYERS = 3

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"


@dataclass(frozen=True)
class CandidatePolicy:
    """Which remote ICE candidate addresses the server may send connectivity checks to.

    A client names the addresses; without this, the server would probe any address a hostile
    client lists (its own loopback, the operator's private network).
    """

    allow_loopback: bool = False
    allow_private: bool = True
    allow_mdns: bool = True
    max_candidates: int = 32

    @classmethod
    def for_hosts(cls, ice_hosts: Iterable[str], max_candidates: int = 32) -> CandidatePolicy:
        addresses = []
        for host in ice_hosts:
            try:
                addresses.append(ipaddress.ip_address(host))
            except ValueError:
                continue
        if not addresses:  # gathering on every non-loopback interface: LANs are normal
            return cls(allow_loopback=False, allow_private=True, allow_mdns=True, max_candidates=max_candidates)
        loopback = any(a.is_loopback for a in addresses)
        private = any(a.is_private and not a.is_loopback for a in addresses)
        # a server on loopback is reached only from this machine, whose other interfaces (private
        # addresses) its local clients may also offer and check from
        return cls(
            allow_loopback=loopback,
            allow_private=private or loopback,
            allow_mdns=private,
            max_candidates=max_candidates,
        )

    def allows(self, candidate_value: str) -> bool:
        """`candidate_value`: the text after `candidate:` (foundation component transport ...)."""
        parts = candidate_value.split()
        if len(parts) < 8 or parts[6] != "typ" or parts[2].lower() != "udp":
            return False
        address, port_text = parts[4], parts[5]
        if not port_text.isdigit() or not 1024 <= int(port_text) <= 65535:
            return False
        if address.endswith(".local"):
            return self.allow_mdns and bool(re.fullmatch(r"[A-Za-z0-9\-]{1,64}\.local", address))
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
            return False
        if ip.is_loopback:
            return self.allow_loopback
        if ip.is_link_local:
            return False
        if ip.is_private:
            return self.allow_private
        return ip.is_global


@dataclass(frozen=True)
class OfferedCodec:
    payload_type: int
    name: str  # upper case, e.g. "VP8", "OPUS", "RTX"
    clock_rate: int
    apt: int | None = None  # RTX: the payload type it repairs


@dataclass(frozen=True)
class OfferedMedia:
    """One m-section of a client's offer, as the server understands it."""

    index: int
    mid: str
    kind: str  # "audio" | "video" | "application"
    direction: str
    sends: bool  # the client sends media on it (a live send direction)
    receives: bool
    codecs: tuple[OfferedCodec, ...] = ()
    extensions: dict[str, int] = field(default_factory=dict)  # uri -> id
    media_ssrc: int | None = None
    rtx_ssrc: int | None = None
    rids: tuple[str, ...] = ()  # simulcast send layers, in the client's a=simulcast order
    bundle_only: bool = False

    @property
    def simulcast(self) -> bool:
        return len(self.rids) > 1


@dataclass(frozen=True)
class ClientOffer:
    """Everything the server reads from a client's offer; `sdp` is the text aiortc may apply."""

    sdp: str
    media: tuple[OfferedMedia, ...]
    fingerprints: frozenset[str]
    parsed: SessionDescription
    candidates_kept: int = 0
    candidates_dropped: int = 0
    two_byte_extensions: bool = False

    def by_mid(self, mid: str) -> OfferedMedia | None:
        return next((m for m in self.media if m.mid == mid), None)

    def section(self, mid: str) -> MediaDescription:
        return next(m for m in self.parsed.media if m.rtp.muxId == mid)

    @property
    def sending(self) -> list[OfferedMedia]:
        return [m for m in self.media if m.kind in ("audio", "video") and m.sends]


# --- raw text ---------------------------------------------------------------------------------


@dataclass
class _RawSection:
    lines: list[str]
    rids: list[tuple[str, str]] = field(default_factory=list)  # (rid, direction)
    simulcast_send: list[str] = field(default_factory=list)
    bundle_only: bool = False
    allow_mixed: bool = False


def _split(text: str) -> tuple[list[str], list[_RawSection]]:
    session: list[str] = []
    sections: list[_RawSection] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        if line.startswith("m="):
            sections.append(_RawSection(lines=[line]))
        elif sections:
            sections[-1].lines.append(line)
        else:
            session.append(line)
    return session, sections


def _read_raw(section: _RawSection) -> None:
    for line in section.lines[1:]:
        if line == "a=bundle-only":
            section.bundle_only = True
        elif line == "a=extmap-allow-mixed":
            section.allow_mixed = True
        elif line.startswith("a=rid:"):
            parts = line[6:].split()
            if len(parts) < 2 or parts[1] not in ("send", "recv") or not RID_RE.fullmatch(parts[0]):
                raise MediaError("bad_request", "malformed a=rid line")
            section.rids.append((parts[0], parts[1]))
        elif line.startswith("a=simulcast:"):
            parts = line[len("a=simulcast:"):].split()
            for i in range(0, len(parts) - 1, 2):
                if parts[i] == "send":
                    for entry in parts[i + 1].split(";"):
                        first = entry.split(",")[0].lstrip("~")
                        if first:
                            section.simulcast_send.append(first)


def _sanitize_candidates(
    session: list[str], sections: list[_RawSection], policy: CandidatePolicy
) -> tuple[str, int, int]:
    kept = dropped = 0
    out = [line for line in session if not line.startswith("a=candidate:")]  # only media sections have them
    dropped = len(session) - len(out)
    for section in sections:
        for line in section.lines:
            if line.startswith("a=candidate:"):
                if kept < policy.max_candidates and policy.allows(line[len("a=candidate:"):]):
                    kept += 1
                else:
                    dropped += 1
                    continue
            out.append(line)
    return "\r\n".join(out) + "\r\n", kept, dropped


# --- validation ---------------------------------------------------------------------------------


def _bad(message: str) -> MediaError:
    return MediaError("bad_request", message)


def _check_extensions(media: MediaDescription, two_byte: bool, uri_ids: dict[str, int], id_uris: dict[int, str]) -> dict[str, int]:
    top = 255 if two_byte else 14
    out: dict[str, int] = {}
    for ext in media.rtp.headerExtensions:
        if not 1 <= ext.id <= top or ext.id == 15:
            raise _bad(f"header extension id {ext.id} is out of range 1-{top}")
        if len(ext.uri) > 256 or not ext.uri.isprintable():
            raise _bad("header extension URI is malformed")
        if ext.uri in out and out[ext.uri] != ext.id:
            raise _bad("one header extension URI has two ids")
        # one BUNDLE group shares one id space: an id names one URI everywhere
        if id_uris.setdefault(ext.id, ext.uri) != ext.uri or uri_ids.setdefault(ext.uri, ext.id) != ext.id:
            raise _bad(f"header extension id {ext.id} names two URIs in one BUNDLE group")
        out[ext.uri] = ext.id
    return out


def _check_codecs(media: MediaDescription) -> tuple[OfferedCodec, ...]:
    codecs: list[OfferedCodec] = []
    seen: set[int] = set()
    for pt in media.fmt:
        if not isinstance(pt, int) or not 0 <= pt <= 127:
            raise _bad("payload types must be 0-127")
    for codec in media.rtp.codecs:
        pt = codec.payloadType
        if pt is None or not 0 <= pt <= 127 or pt in seen:
            raise _bad(f"payload type {pt} is out of range or repeated")
        if not 1000 <= codec.clockRate <= 192000:
            raise _bad(f"payload type {pt} has an implausible clock rate")
        seen.add(pt)
        name = codec.mimeType.split("/", 1)[-1].upper()
        apt = codec.parameters.get("apt") if name == "RTX" else None
        codecs.append(OfferedCodec(pt, name, codec.clockRate, apt if isinstance(apt, int) else None))
    for offered in codecs:
        if offered.name == "RTX" and offered.apt not in seen:
            raise _bad(f"RTX payload type {offered.payload_type} repairs no offered payload type")
    return tuple(codecs)


def _check_ssrcs(media: MediaDescription) -> tuple[int | None, int | None]:
    if len(media.ssrc) > MAX_SSRC_LINES_PER_SECTION:
        raise _bad("too many a=ssrc lines")
    for info in media.ssrc:
        if not 0 < info.ssrc < 1 << 32:
            raise _bad("SSRC values must be 32-bit")
    for group in media.ssrc_group:
        for item in group.items:
            if not isinstance(item, int) or not 0 < item < 1 << 32:
                raise _bad("SSRC values must be 32-bit")
    for group in media.ssrc_group:
        if group.semantic == "FID" and len(group.items) >= 2:
            media_ssrc, rtx_ssrc = int(group.items[0]), int(group.items[1])
            if media_ssrc == rtx_ssrc:
                raise _bad("an RTX SSRC must differ from its media SSRC")
            return media_ssrc, rtx_ssrc
    if len(media.ssrc) == 1:
        return media.ssrc[0].ssrc, None
    return None, None


def _rids(raw: _RawSection, kind: str, sends: bool) -> tuple[str, ...]:
    send_rids = [rid for rid, direction in raw.rids if direction == "send"]
    if len(set(send_rids)) != len(send_rids):
        raise _bad("a=rid ids must be unique")
    if not raw.simulcast_send or not sends or kind != "video":
        return ()
    order = [rid for rid in raw.simulcast_send if rid in send_rids]
    if len(set(order)) != len(order):
        raise _bad("a=simulcast names a rid twice")
    if len(order) > MAX_SIMULCAST_LAYERS:
        raise _bad(f"at most {MAX_SIMULCAST_LAYERS} simulcast layers")
    return tuple(order)


def parse_offer(text: str, policy: CandidatePolicy | None = None, max_sections: int = 128) -> ClientOffer:
    """Parse and validate a client's offer; MediaError("bad_request") names the first problem."""
    if _CONTROL_RE.search(text):
        raise _bad("the SDP contains control characters")
    policy = policy or CandidatePolicy()
    session, sections = _split(text)
    if not sections:
        raise _bad("the SDP has no media sections")
    if len(sections) > max_sections:
        raise _bad(f"at most {max_sections} media sections per connection")
    for raw in sections:
        _read_raw(raw)
    sanitized, kept, dropped = _sanitize_candidates(session, sections, policy)
    try:
        parsed = SessionDescription.parse(sanitized)
    except Exception as exc:  # aiortc raises whatever its parser trips on (ValueError, AssertionError, ...)
        raise _bad(f"unreadable SDP: {type(exc).__name__}") from exc
    if len(parsed.media) != len(sections):
        raise _bad("unreadable SDP: media sections")
    two_byte = any(line == "a=extmap-allow-mixed" for line in session) or any(r.allow_mixed for r in sections)
    bundle = next((g for g in parsed.group if g.semantic == "BUNDLE"), None)
    bundled = set(map(str, bundle.items)) if bundle is not None else set()
    mids: set[str] = set()
    uri_ids: dict[str, int] = {}
    id_uris: dict[int, str] = {}
    media_out: list[OfferedMedia] = []
    for index, (media, raw) in enumerate(zip(parsed.media, sections, strict=True)):
        mid = media.rtp.muxId
        if mid is None:
            if media.kind in ("audio", "video"):
                raise _bad("every media section needs a mid (unified plan, BUNDLE)")
            continue
        if not MID_RE.fullmatch(mid):
            raise _bad("a mid must be 1-32 characters of [A-Za-z0-9_.-]")
        if mid in mids:
            raise _bad(f"mid {mid} appears twice")
        mids.add(mid)
        if media.kind not in ("audio", "video"):
            media_out.append(OfferedMedia(index, mid, media.kind, media.direction or "sendrecv", False, False))
            continue
        direction = media.direction or "sendrecv"
        # RFC 8843: with BUNDLE, a port-0 section is live when bundle-only (Firefox's max-bundle offers) or
        # still in the group (aiortc's parser drops a=bundle-only); a rejected one leaves the group
        live = media.port != 0 or raw.bundle_only or mid in bundled
        if live and mid not in bundled:
            raise _bad("every media section must be in one BUNDLE group")
        sends = live and direction in ("sendonly", "sendrecv")
        media_ssrc, rtx_ssrc = _check_ssrcs(media)
        media_out.append(OfferedMedia(
            index=index,
            mid=mid,
            kind=media.kind,
            direction=direction,
            sends=sends,
            receives=live and direction in ("recvonly", "sendrecv"),
            codecs=_check_codecs(media),
            extensions=_check_extensions(media, two_byte, uri_ids, id_uris),
            media_ssrc=media_ssrc,
            rtx_ssrc=rtx_ssrc,
            rids=_rids(raw, media.kind, sends),
            bundle_only=raw.bundle_only,
        ))
    prints = frozenset(f"{fp.algorithm} {fp.value}".lower() for m in parsed.media if m.dtls is not None
                       for fp in m.dtls.fingerprints)
    if not prints:
        raise _bad("the SDP has no DTLS fingerprint")
    return ClientOffer(sdp=sanitized, media=tuple(media_out), fingerprints=prints, parsed=parsed,
                       candidates_kept=kept, candidates_dropped=dropped, two_byte_extensions=two_byte)


def fingerprints_of(text: str) -> frozenset[str]:
    """DTLS fingerprints of an SDP the server applied earlier (already validated)."""
    parsed = SessionDescription.parse(text)
    return frozenset(f"{fp.algorithm} {fp.value}".lower() for m in parsed.media if m.dtls is not None
                     for fp in m.dtls.fingerprints)


def offer_ice_credentials(text: str) -> tuple[str | None, str | None]:
    """(ufrag, pwd) of an SDP the server applied earlier: a change is an ICE restart."""
    media = SessionDescription.parse(text).media
    if not media or media[0].ice is None:
        return None, None
    return media[0].ice.usernameFragment, media[0].ice.password


# --- tracks -----------------------------------------------------------------------------------------


def assign_sources(offer: ClientOffer, tracks: list[dict[str, str]] | None, current: dict[str, str]) -> dict[str, str]:
    """mid → source for every m-line the client sends on (`current`: mid → source already published)."""
    declared = {t["mid"]: t["source"] for t in tracks or []}
    sources: dict[str, str] = {}
    for media in offer.sending:
        mid = media.mid
        existing = current.get(mid)
        if mid in declared:
            source = declared[mid]
            if (source == "microphone") != (media.kind == "audio"):
                raise _bad(f"track {mid}: source {source} does not fit a {media.kind} m-line")
        elif existing is not None:
            source = existing
        elif media.kind == "audio":
            source = "microphone"
        else:
            taken = set(sources.values()) | set(current.values())
            source = "camera" if "camera" not in taken else "screen"
        if source in sources.values():
            raise _bad(f"two tracks claim source {source}")
        sources[mid] = source
    for mid in declared:
        if mid not in sources:
            raise _bad(f"tracks names mid {mid}, which is not a sending m-line of the offer")
    return sources


# --- our answer -----------------------------------------------------------------------------------


def add_simulcast_to_answer(answer: str, layers_by_mid: dict[str, tuple[str, ...]]) -> str:
    """Write `a=rid:<rid> recv` and `a=simulcast:recv` into our answer's sections (aiortc cannot).

    A browser sends its simulcast layers only when the answer accepts them this way.
    """
    if not layers_by_mid:
        return answer
    out: list[str] = []
    for line in answer.split("\r\n"):
        out.append(line)
        if line.startswith("a=mid:"):
            rids = layers_by_mid.get(line[len("a=mid:"):])
            if rids:
                out.extend(f"a=rid:{rid} recv" for rid in rids)
                out.append("a=simulcast:recv " + ";".join(rids))
    return "\r\n".join(out)
