// Receive slots (docs/protocol.md, "Large rooms"): a fixed set of recvonly m-lines declared in the first
// offer; the server decides which participant each one carries and says so with `video:slots`, without
// renegotiating. This module keeps the table of what each slot carries and maps received tracks to people.
import type { MediaSource, ServerTrack, SlotAssignment, SlotDeclaration } from "./protocol";
import type { ReceivedTrack, RemoteMediaMap } from "./tracks";

export interface SlotEntry extends SlotAssignment {
  /** When this slot last changed hands (the clock of `now` given to applySlots: performance.now()). */
  since: number;
}

/** What each slot carries, by mid. */
export type SlotTable = Record<string, SlotEntry>;

/** How many slots of each kind to offer, from `video:room-state` `media` (clamped to the protocol's 64). */
export function slotCounts(media: { audioSlots: number; videoSlots: number } | undefined): { audio: number; video: number } {
  const clamp = (n: unknown) => (typeof n === "number" && Number.isFinite(n) ? Math.max(0, Math.min(64, Math.floor(n))) : 0);
  if (!media) return { audio: 0, video: 0 };
  const audio = clamp(media.audioSlots);
  const video = Math.min(clamp(media.videoSlots), 64 - audio);
  return { audio, video };
}

/** The offer's `slots` field: every recvonly slot transceiver with its mid (after setLocalDescription). */
export function slotDeclarations(transceivers: { mid: string | null; kind: string }[]): SlotDeclaration[] {
  const out: SlotDeclaration[] = [];
  for (const t of transceivers) {
    if (!t.mid || (t.kind !== "audio" && t.kind !== "video")) continue;
    out.push({ mid: t.mid, kind: t.kind });
  }
  return out;
}

/**
 * Apply a `video:slots` event. A slot whose participant or source changed gets `since = now`; one that
 * kept its source keeps its time (so its tile is not reset). Slots missing from the event keep their entry:
 * the server always sends the whole list, so this only matters for a malformed event.
 */
export function applySlots(prev: SlotTable, slots: SlotAssignment[], now: number): SlotTable {
  const next: SlotTable = { ...prev };
  for (const s of slots) {
    if (!s || typeof s.mid !== "string") continue;
    const participantId = typeof s.participantId === "string" ? s.participantId : null;
    const source = participantId ? (s.source ?? (s.kind === "audio" ? "microphone" : "camera")) : null;
    const old = prev[s.mid];
    const same = old && old.participantId === participantId && old.source === source && old.kind === s.kind;
    next[s.mid] = same ? old : { mid: s.mid, kind: s.kind, participantId, source, since: now };
  }
  return next;
}

/** The assigned slots in the shape of a server offer's `tracks` (statistics, debugging). */
export function slotsAsServerTracks(table: SlotTable): ServerTrack[] {
  const out: ServerTrack[] = [];
  for (const s of Object.values(table)) {
    if (!s.participantId || !s.source) continue;
    out.push({ mid: s.mid, participantId: s.participantId, kind: s.kind, source: s.source });
  }
  return out;
}

function roleOf(kind: string, source: MediaSource): "audio" | "camera" | "screen" | "screenAudio" {
  if (source === "screen") return kind === "audio" ? "screenAudio" : "screen";
  return kind === "audio" ? "audio" : "camera";
}

/**
 * Received tracks → participants, through the slot table: a track belongs to whoever its slot carries now.
 * Empty slots and our own id are left out. Video entries carry the time their slot last changed hands.
 */
export function mapSlotsToParticipants<T>(
  table: SlotTable,
  received: ReceivedTrack<T>[],
  selfId: string | null = null,
): RemoteMediaMap<T> {
  const result: RemoteMediaMap<T> = {};
  for (const r of received) {
    const slot = r.mid === null ? undefined : table[r.mid];
    if (!slot || !slot.participantId || !slot.source || slot.participantId === selfId) continue;
    if (slot.kind !== r.kind) continue;
    const media = (result[slot.participantId] ??= {});
    const role = roleOf(slot.kind, slot.source);
    media[role] = r.track;
    if (role === "camera") media.cameraSince = slot.since;
    if (role === "screen") media.screenSince = slot.since;
  }
  return result;
}
