"""Facts read from a client's SDP: its m-lines, which of them publish what, its SSRCs and certificate."""

from __future__ import annotations

from aiortc.sdp import MediaDescription, SessionDescription

from sfu.api import MediaError


def parse_sdp(text: str) -> SessionDescription:
    try:
        parsed = SessionDescription.parse(text)
    except Exception as exc:
        raise MediaError("bad_request", f"unreadable SDP: {exc}") from exc
    if not parsed.media:
        raise MediaError("bad_request", "the SDP has no media sections")
    for media in parsed.media:
        if media.kind in ("audio", "video") and media.rtp.muxId is None:
            raise MediaError("bad_request", "every media section needs a mid (unified plan, BUNDLE)")
    return parsed


def assign_sources(
    parsed: SessionDescription, tracks: list[dict[str, str]] | None, current: dict[str, str]
) -> dict[str, str]:
    """mid → source for every m-line the client sends on (`current`: mid → source already published)."""
    declared = {t["mid"]: t["source"] for t in tracks or []}
    sending = [m for m in parsed.media if m.kind in ("audio", "video") and m.direction in ("sendonly", "sendrecv")
               and is_live(parsed, m)]
    sources: dict[str, str] = {}
    for media in sending:
        mid = media.rtp.muxId
        existing = current.get(mid)
        if mid in declared:
            source = declared[mid]
            if (source == "microphone") != (media.kind == "audio"):
                raise MediaError("bad_request", f"track {mid}: source {source} does not fit a {media.kind} m-line")
        elif existing is not None:
            source = existing
        elif media.kind == "audio":
            source = "microphone"
        else:
            taken = set(sources.values()) | set(current.values())
            source = "camera" if "camera" not in taken else "screen"
        if source in sources.values():
            raise MediaError("bad_request", f"two tracks claim source {source}")
        sources[mid] = source
    for mid in declared:
        if mid not in sources:
            raise MediaError("bad_request", f"tracks names mid {mid}, which is not a sending m-line of the offer")
    return sources


def bundled_mids(parsed: SessionDescription) -> set[str]:
    return {str(mid) for group in parsed.group if group.semantic == "BUNDLE" for mid in group.items}


def is_live(parsed: SessionDescription, media: MediaDescription) -> bool:
    """False only for a rejected (stopped) m-section.

    Port 0 alone does not mean rejected: with max-bundle, Firefox offers every bundled m-section after
    the first with port 0 and `a=bundle-only` (RFC 8843 §7.2), and those are live. A rejected section
    is also taken out of the BUNDLE group (§7.3.3), so port 0 outside the group is what rejects.
    (aiortc's parser drops `a=bundle-only`; the group membership carries the same fact.)
    """
    return media.port != 0 or media.rtp.muxId in bundled_mids(parsed)


def fingerprints(parsed: SessionDescription) -> set[str]:
    return {f"{fp.algorithm} {fp.value}".lower() for m in parsed.media if m.dtls is not None
            for fp in m.dtls.fingerprints}


def announced_ssrcs(media: MediaDescription) -> tuple[int | None, int | None]:
    for group in media.ssrc_group:
        if group.semantic == "FID" and len(group.items) >= 2:
            return int(group.items[0]), int(group.items[1])
    if len(media.ssrc) == 1:
        return media.ssrc[0].ssrc, None
    return None, None
