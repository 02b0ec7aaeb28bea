"""What a bench subscriber's page shows: the speaker in one large tile, eight others as thumbnails.

The same rule a study group's call page follows: the dominant speaker (from `video:active-speaker`)
fills the stage at 1280x720, the first eight other cameras in join order sit below it at 320x180
(the speaker's own tile when the speaker has no camera falls back to the first camera). The view
changes when members come and go or the speaker changes, and each change becomes one
`video:set-view` (`docs/protocol.md`, "Views"), in priority order, large tile first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

LARGE = (1280, 720)
THUMBNAIL = (320, 180)
THUMBNAILS = 8


@dataclass
class RoomView:
    """The room as one subscriber's page knows it, and the tiles that follow from it."""

    me: str
    members: list[str] = field(default_factory=list)  # join order
    cameras: set[str] = field(default_factory=set)
    speaker: str | None = None
    # when each participant first appeared in a view this page sent, and why: "join" for the first nine
    # other cameras (shown whoever speaks), "speaker" for a later camera brought in by speaking
    first_shown: dict[str, tuple[int, str]] = field(default_factory=dict)

    def load(self, participants: list[dict[str, Any]]) -> None:
        """The members of a `video:room-state`, oldest first."""
        for p in sorted(participants, key=lambda p: p.get("joinedAt") or 0):
            self.joined(p)

    def joined(self, participant: dict[str, Any]) -> None:
        pid = str(participant.get("participantId"))
        if pid not in self.members:
            self.members.append(pid)
        if participant.get("video"):
            self.cameras.add(pid)

    def left(self, pid: str) -> None:
        if pid in self.members:
            self.members.remove(pid)
        self.cameras.discard(pid)
        if self.speaker == pid:
            self.speaker = None

    def shown(self) -> tuple[str | None, list[str]]:
        """(large tile, thumbnails)."""
        others = [pid for pid in self.members if pid in self.cameras and pid != self.me]
        large = self.speaker if self.speaker in others else (others[0] if others else None)
        return large, [pid for pid in others if pid != large][:THUMBNAILS]

    def tiles(self) -> list[dict[str, Any]]:
        """The `tiles` of a `video:set-view`; records who enters the view and why."""
        large, thumbs = self.shown()
        regulars = [pid for pid in self.members if pid in self.cameras and pid != self.me][: 1 + THUMBNAILS]
        out = []
        for pid, (width, height) in ([(large, LARGE)] if large else []) + [(p, THUMBNAIL) for p in thumbs]:
            assert pid is not None
            self.first_shown.setdefault(pid, (time.monotonic_ns(), "join" if pid in regulars else "speaker"))
            out.append({"participantId": pid, "source": "camera", "width": width, "height": height})
        return out
