// Types of the Socket.IO signaling contract (docs/protocol.md; issues 2 and 3).

export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "room_full"
  | "rate_limited"
  | "conflict"
  | "internal";

export interface ProtocolError {
  code: ErrorCode | string;
  message: string;
  /** With several server processes: where the room is served (a `conflict` to follow once). */
  redirect?: string;
}

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ProtocolError };

export type Topology = "mesh" | "sfu";
export type MediaSource = "microphone" | "camera" | "screen";

export interface Participant {
  participantId: string;
  userId: string;
  displayName: string;
  audio: boolean;
  video: boolean;
  screen: boolean;
  joinedAt: number;
}

/** SFU rooms: last-N limits and how many receive slots to offer (`video:room-state` `media`). */
export interface MediaLimits {
  lastN: number;
  audioLastN: number;
  videoSlots: number;
  audioSlots: number;
}

export interface RoomState {
  roomId: string;
  topology: Topology;
  you: { participantId: string };
  participants: Participant[];
  iceServers: RTCIceServer[];
  /** SFU rooms of a server with large-room support; absent: per-track m-lines only. */
  media?: MediaLimits;
}

export interface UserJoined {
  roomId: string;
  participant: Participant;
}

export interface UserLeft {
  roomId: string;
  participantId: string;
}

export interface MediaStateChanged {
  roomId: string;
  participantId: string;
  audio: boolean;
  video: boolean;
  screen: boolean;
}

/** `video:media-status`: whether a member's media connection to the server is up (SFU rooms). */
export type MediaConnectionStatus = "connecting" | "connected" | "failed";

export interface MediaStatus {
  roomId: string;
  participantId: string;
  status: MediaConnectionStatus;
  reason: string | null;
}

export interface ActiveSpeaker {
  roomId: string;
  participantId: string | null;
}

/** One m-line the server sends on (server offer `tracks`). */
export interface ServerTrack {
  mid: string;
  participantId: string;
  kind: "audio" | "video";
  source: MediaSource;
}

/** A receive slot declared in the client's first offer. */
export interface SlotDeclaration {
  mid: string;
  kind: "audio" | "video";
}

/** What one receive slot carries now (`video:slots`); null participant: an empty slot. */
export interface SlotAssignment {
  mid: string;
  kind: "audio" | "video";
  participantId: string | null;
  source: MediaSource | null;
}

export interface SlotsEvent {
  roomId: string;
  slots: SlotAssignment[];
}

export type VideoSource = "camera" | "screen";
/** `waiting`: it will be forwarded, but nothing arrives from its publisher yet (a camera just turned on). */
export type ForwardingStateName = "forwarded" | "paused-bandwidth" | "waiting" | "not-forwarded";

/** One of the others' videos as this subscriber gets it (`video:forwarding`). */
export interface ForwardedVideo {
  participantId: string;
  source: VideoSource;
  state: ForwardingStateName;
  width?: number;
  height?: number;
  layer?: number;
}

export interface ForwardingEvent {
  roomId: string;
  videos: ForwardedVideo[];
}

/** Dynacast: which simulcast layers of our camera some subscriber needs (`video:publisher-layers`). */
export interface PublisherLayers {
  roomId: string;
  source: MediaSource;
  mid: string;
  active: string[];
}

/** One tile of `video:set-view`: device pixels (CSS pixels × devicePixelRatio). */
export interface ViewTile {
  participantId: string;
  source: VideoSource;
  width: number;
  height: number;
}

/** One published track in a client offer. */
export interface PublishedTrack {
  mid: string;
  source: MediaSource;
}

export interface SessionDescription {
  type: "offer" | "answer";
  sdp: string;
}

export interface ServerOffer {
  roomId: string;
  from: string;
  description: SessionDescription;
  tracks?: ServerTrack[];
}

export interface ServerAnswer {
  roomId: string;
  from: string;
  description: SessionDescription;
  tracks?: { mid: string; kind?: string; source: MediaSource }[];
}

export interface ServerCandidate {
  roomId: string;
  from: string;
  candidate: RTCIceCandidateInit | null;
}

export interface ChatAuthor {
  participantId: string;
  userId: string;
  displayName: string;
}

export interface ChatMessage {
  roomId: string;
  messageId: string;
  clientMsgId: string | null;
  from: ChatAuthor;
  text: string;
  sentAt: number;
}

export interface PresenceUser {
  userId: string;
  displayName: string;
}

export interface ErrorEvent {
  event: string;
  code: string;
  message: string;
}

export const SFU_PEER = "sfu";

/** `<participantId>` or `<participantId>:screen` → {participantId, screen}. */
export function parseStreamId(streamId: string): { participantId: string; screen: boolean } {
  if (streamId.endsWith(":screen")) {
    return { participantId: streamId.slice(0, -":screen".length), screen: true };
  }
  return { participantId: streamId, screen: false };
}

export const ROOM_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Turn free text into a valid room id (letters, digits, `_`, `-`; at most 64). */
export function slugRoomId(text: string): string {
  return text
    .trim()
    .replace(/\s+/g, "-")
    .replace(/[^A-Za-z0-9_-]/g, "")
    .slice(0, 64);
}

/** Plain words for an error code, shown to people. */
export function describeError(error: ProtocolError | undefined | null): string {
  if (!error) return "Something went wrong.";
  const base: Record<string, string> = {
    bad_request: "The server did not understand the request.",
    unauthorized: "You are not signed in, or your link has expired.",
    forbidden: "You are not allowed to join this room.",
    not_found: "That room or person does not exist.",
    room_full: "The room is full.",
    rate_limited: "Too many requests; please wait a moment.",
    conflict: "The call could not be set up right now.",
    internal: "The server had a problem.",
  };
  const text = base[error.code] ?? "Something went wrong.";
  return error.message ? `${text} (${error.message})` : text;
}
