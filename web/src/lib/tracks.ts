// Track-to-tile mapping: which received track belongs to whom, from the server's `tracks` and the msid.
import { parseStreamId, type MediaSource, type ServerTrack } from "./protocol";

/** A track the peer connection received (generic so tests need no real MediaStreamTrack). */
export interface ReceivedTrack<T> {
  mid: string | null;
  kind: string;
  streamIds: string[];
  track: T;
}

export interface RemoteMedia<T> {
  audio?: T;
  camera?: T;
  screen?: T;
  /** Screen-share audio, if a browser ever sends one. */
  screenAudio?: T;
  /**
   * Receive slots: when the slot carrying this camera / screen last changed hands (performance.now() ms).
   * A frame received before then is someone else's: the tile waits for a newer one.
   */
  cameraSince?: number;
  screenSince?: number;
}

export type RemoteMediaMap<T> = Record<string, RemoteMedia<T>>;

function slotFor(kind: string, source: MediaSource): "audio" | "camera" | "screen" | "screenAudio" {
  if (source === "screen") return kind === "audio" ? "screenAudio" : "screen";
  if (kind === "audio") return "audio";
  return "camera";
}

/**
 * Map received tracks to participants.
 *
 * - With a server `tracks` list (the normal case) only the mids it lists are live; a mid that left the
 *   list is an inactive m-line and is dropped. The list is the source of truth for participant and source.
 * - Without one (`serverTracks` null: a server that sent none), the msid stream id decides:
 *   `<participantId>` for microphone/camera, `<participantId>:screen` for a screen share.
 * - A listed mid whose msid disagrees with the list still follows the list.
 */
export function mapTracksToParticipants<T>(
  serverTracks: ServerTrack[] | null,
  received: ReceivedTrack<T>[],
  selfId: string | null = null,
): RemoteMediaMap<T> {
  const result: RemoteMediaMap<T> = {};
  const byMid = new Map<string, ServerTrack>();
  for (const t of serverTracks ?? []) byMid.set(t.mid, t);
  for (const r of received) {
    let participantId: string | null = null;
    let source: MediaSource | null = null;
    let kind = r.kind;
    if (serverTracks) {
      const listed = r.mid === null ? undefined : byMid.get(r.mid);
      if (!listed) continue;
      participantId = listed.participantId;
      source = listed.source;
      kind = listed.kind;
    } else {
      const streamId = r.streamIds[0];
      if (!streamId || streamId === "-") continue;
      const parsed = parseStreamId(streamId);
      participantId = parsed.participantId;
      source = parsed.screen ? "screen" : kind === "audio" ? "microphone" : "camera";
    }
    if (!participantId || participantId === selfId) continue;
    const media = (result[participantId] ??= {});
    media[slotFor(kind, source)] = r.track;
  }
  return result;
}

/** True when two maps hold the same tracks in the same slots (lets React skip a render). */
export function sameRemoteMedia<T>(a: RemoteMediaMap<T>, b: RemoteMediaMap<T>): boolean {
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  for (const k of ak) {
    const x = a[k];
    const y = b[k];
    if (!x || !y) return false;
    if (x.audio !== y.audio || x.camera !== y.camera || x.screen !== y.screen || x.screenAudio !== y.screenAudio) {
      return false;
    }
    if (x.cameraSince !== y.cameraSince || x.screenSince !== y.screenSince) return false;
  }
  return true;
}

/** The `tracks` a client offer announces: each sending transceiver's mid and what it carries. */
export function publishedTracks(
  transceivers: { mid: string | null; direction: string; source: MediaSource | undefined }[],
): { mid: string; source: MediaSource }[] {
  const out: { mid: string; source: MediaSource }[] = [];
  for (const t of transceivers) {
    if (!t.mid || !t.source) continue;
    if (t.direction !== "sendonly" && t.direction !== "sendrecv") continue;
    out.push({ mid: t.mid, source: t.source });
  }
  return out;
}
