// What this subscriber gets of each other video (`video:forwarding`), and what a tile shows for it.
import type { ForwardedVideo, ForwardingStateName, VideoSource } from "./protocol";

export interface VideoForwarding {
  state: ForwardingStateName;
  width: number | null;
  height: number | null;
  layer: number | null;
  /** When this video last changed state (performance.now() ms): a resumed video waits for a new frame. */
  since: number;
}

/** By `forwardingKey(participantId, source)`. */
export type ForwardingTable = Record<string, VideoForwarding>;

const STATES: ForwardingStateName[] = ["forwarded", "paused-bandwidth", "waiting", "not-forwarded"];

export function forwardingKey(participantId: string, source: VideoSource): string {
  return `${participantId}:${source}`;
}

/**
 * Apply a `video:forwarding` event (the whole list each time). An entry keeps its `since` while its state
 * stays the same (a layer switch is not a new start); a video missing from the list is dropped.
 */
export function applyForwarding(prev: ForwardingTable, videos: ForwardedVideo[], now: number): ForwardingTable {
  const next: ForwardingTable = {};
  for (const v of videos) {
    if (!v || typeof v.participantId !== "string" || !STATES.includes(v.state)) continue;
    const source: VideoSource = v.source === "screen" ? "screen" : "camera";
    const key = forwardingKey(v.participantId, source);
    const old = prev[key];
    next[key] = {
      state: v.state,
      width: typeof v.width === "number" ? v.width : null,
      height: typeof v.height === "number" ? v.height : null,
      layer: typeof v.layer === "number" ? v.layer : null,
      since: old && old.state === v.state ? old.since : now,
    };
  }
  return next;
}

/** What a remote camera tile shows. */
export type TileDisplay =
  /** the member's camera is off: initials and the camera-off badge */
  | "camera-off"
  /** the server pauses this video to fit our bandwidth: initials with a "paused to save bandwidth" mark */
  | "paused"
  /** not sent to us (not among the last N, not in our view, no slot yet): initials, no wording */
  | "initials"
  /** a track: its video (with initials over it until a frame newer than `since` arrives; also while `waiting`) */
  | "video";

export function tileDisplay(input: {
  videoOn: boolean;
  hasTrack: boolean;
  forwarding: ForwardingStateName | undefined;
}): TileDisplay {
  if (!input.videoOn) return "camera-off";
  if (input.forwarding === "paused-bandwidth") return "paused";
  if (input.forwarding === "not-forwarded" || !input.hasTrack) return "initials";
  return "video";
}

/** The moment from which a frame counts as this tile's own: the later of its slot change and its resume. */
export function freshSince(slotSince: number | undefined, forwarding: VideoForwarding | undefined): number | undefined {
  const f = forwarding && forwarding.state === "forwarded" ? forwarding.since : undefined;
  if (slotSince === undefined) return f;
  if (f === undefined) return slotSince;
  return Math.max(slotSince, f);
}
