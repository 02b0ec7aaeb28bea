// The call's state as the server tells it: a pure reducer, driven by signaling events.
import { applyForwarding, type ForwardingTable } from "./forwarding";
import type {
  ActiveSpeaker,
  ChatMessage,
  ForwardingEvent,
  MediaLimits,
  MediaStateChanged,
  MediaStatus,
  Participant,
  PresenceUser,
  RoomState,
  Topology,
  UserJoined,
  UserLeft,
} from "./protocol";

export type ConnectionStatus = "idle" | "connecting" | "joined" | "reconnecting" | "left" | "failed";

export interface CallState {
  roomId: string | null;
  topology: Topology | null;
  selfId: string | null;
  /** Everyone in the call, self included, in join order. */
  participants: Record<string, Participant>;
  order: string[];
  activeSpeaker: string | null;
  /** Dominant speakers so far, most recent first (at most RECENT_SPEAKERS): they go on the first page. */
  recentSpeakers: string[];
  /** Last-N limits of an SFU room with large-room support (`video:room-state` `media`). */
  media: MediaLimits | null;
  /** What we get of each other video (`video:forwarding`); empty until the server says. */
  forwarding: ForwardingTable;
  /** Members whose media is not (yet) connected, from `video:media-status`; absent = connected or unknown. */
  mediaStatus: Record<string, { status: MediaStatus["status"]; reason: string | null }>;
  chat: ChatMessage[];
  chatOpen: boolean;
  unread: number;
  presence: Record<string, PresenceUser>;
  status: ConnectionStatus;
  error: string | null;
  /** Media state of the last join, reused when rejoining after a reconnect. */
  iceServers: RTCIceServer[];
}

export const initialCallState: CallState = {
  roomId: null,
  topology: null,
  selfId: null,
  participants: {},
  order: [],
  activeSpeaker: null,
  recentSpeakers: [],
  media: null,
  forwarding: {},
  mediaStatus: {},
  chat: [],
  chatOpen: false,
  unread: 0,
  presence: {},
  status: "idle",
  error: null,
  iceServers: [],
};

export const CHAT_LIMIT = 500;
export const RECENT_SPEAKERS = 16;

export type CallAction =
  | { type: "connecting" }
  | { type: "room-state"; state: RoomState; self: Participant }
  | { type: "user-joined"; event: UserJoined }
  | { type: "user-left"; event: UserLeft }
  | { type: "media-state"; event: MediaStateChanged }
  | { type: "active-speaker"; event: ActiveSpeaker }
  | { type: "media-status"; event: MediaStatus }
  | { type: "forwarding"; event: ForwardingEvent; now: number }
  | { type: "chat-message"; message: ChatMessage }
  | { type: "chat-history"; messages: ChatMessage[] }
  | { type: "chat-open"; open: boolean }
  | { type: "presence-list"; users: PresenceUser[] }
  | { type: "presence-online"; user: PresenceUser }
  | { type: "presence-offline"; user: PresenceUser }
  | { type: "reconnecting" }
  | { type: "left" }
  | { type: "failed"; error: string };

function withParticipant(state: CallState, p: Participant): CallState {
  const exists = p.participantId in state.participants;
  return {
    ...state,
    participants: { ...state.participants, [p.participantId]: p },
    order: exists ? state.order : [...state.order, p.participantId],
  };
}

function mergeChat(existing: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  const seen = new Set(existing.map((m) => m.messageId));
  const merged = [...existing];
  for (const m of incoming) {
    if (seen.has(m.messageId)) continue;
    seen.add(m.messageId);
    merged.push(m);
  }
  merged.sort((a, b) => a.sentAt - b.sentAt);
  return merged.length > CHAT_LIMIT ? merged.slice(merged.length - CHAT_LIMIT) : merged;
}

export function callReducer(state: CallState, action: CallAction): CallState {
  switch (action.type) {
    case "connecting":
      return {
        ...state,
        status: state.status === "joined" || state.status === "reconnecting" ? "reconnecting" : "connecting",
        error: null,
      };
    case "room-state": {
      const { state: rs, self } = action;
      const participants: Record<string, Participant> = { [self.participantId]: self };
      const order = [self.participantId];
      const sorted = [...rs.participants].sort((a, b) => a.joinedAt - b.joinedAt);
      for (const p of sorted) {
        if (p.participantId === self.participantId) continue;
        participants[p.participantId] = p;
        order.push(p.participantId);
      }
      return {
        ...state,
        roomId: rs.roomId,
        topology: rs.topology,
        selfId: self.participantId,
        participants,
        order,
        activeSpeaker: null,
        recentSpeakers: [],
        media: rs.media ?? null,
        forwarding: {},
        iceServers: rs.iceServers ?? [],
        status: "joined",
        error: null,
      };
    }
    case "user-joined":
      if (action.event.roomId !== state.roomId) return state;
      return withParticipant(state, action.event.participant);
    case "user-left": {
      const { participantId, roomId } = action.event;
      if (roomId !== state.roomId || !(participantId in state.participants)) return state;
      if (participantId === state.selfId) return state;
      const participants = { ...state.participants };
      delete participants[participantId];
      const mediaStatus = { ...state.mediaStatus };
      delete mediaStatus[participantId];
      return {
        ...state,
        participants,
        order: state.order.filter((id) => id !== participantId),
        activeSpeaker: state.activeSpeaker === participantId ? null : state.activeSpeaker,
        recentSpeakers: state.recentSpeakers.filter((id) => id !== participantId),
        mediaStatus,
      };
    }
    case "media-state": {
      const e = action.event;
      const p = state.participants[e.participantId];
      if (e.roomId !== state.roomId || !p) return state;
      return {
        ...state,
        participants: { ...state.participants, [p.participantId]: { ...p, audio: e.audio, video: e.video, screen: e.screen } },
      };
    }
    case "active-speaker": {
      if (action.event.roomId !== state.roomId) return state;
      const id = action.event.participantId;
      const known = id && id in state.participants ? id : null;
      const recentSpeakers = known
        ? [known, ...state.recentSpeakers.filter((x) => x !== known)].slice(0, RECENT_SPEAKERS)
        : state.recentSpeakers;
      return { ...state, activeSpeaker: known, recentSpeakers };
    }
    case "forwarding": {
      if (action.event.roomId !== state.roomId || !Array.isArray(action.event.videos)) return state;
      return { ...state, forwarding: applyForwarding(state.forwarding, action.event.videos, action.now) };
    }
    case "media-status": {
      // May arrive before the join's room-state (the server tells a joiner right away): kept by id.
      const { participantId, status, reason } = action.event;
      const mediaStatus = { ...state.mediaStatus };
      if (status === "connected") delete mediaStatus[participantId];
      else mediaStatus[participantId] = { status, reason: reason ?? null };
      return { ...state, mediaStatus };
    }
    case "chat-message": {
      const m = action.message;
      if (m.roomId !== state.roomId) return state;
      const chat = mergeChat(state.chat, [m]);
      if (chat.length === state.chat.length && chat.every((x, i) => x === state.chat[i])) return state;
      const fromSelf = m.from.participantId === state.selfId;
      return { ...state, chat, unread: state.chatOpen || fromSelf ? state.unread : state.unread + 1 };
    }
    case "chat-history":
      return { ...state, chat: mergeChat(state.chat, action.messages.filter((m) => m.roomId === state.roomId)) };
    case "chat-open":
      return { ...state, chatOpen: action.open, unread: action.open ? 0 : state.unread };
    case "presence-list": {
      const presence: Record<string, PresenceUser> = {};
      for (const u of action.users) presence[u.userId] = u;
      return { ...state, presence };
    }
    case "presence-online":
      return { ...state, presence: { ...state.presence, [action.user.userId]: action.user } };
    case "presence-offline": {
      if (!(action.user.userId in state.presence)) return state;
      const presence = { ...state.presence };
      delete presence[action.user.userId];
      return { ...state, presence };
    }
    case "reconnecting":
      return state.status === "joined" ? { ...state, status: "reconnecting" } : state;
    case "left":
      return { ...initialCallState, status: "left" };
    case "failed":
      return { ...state, status: "failed", error: action.error };
  }
}

/** Participants in display order: self first, then by join time. */
export function orderedParticipants(state: CallState): Participant[] {
  return state.order.map((id) => state.participants[id]).filter((p): p is Participant => Boolean(p));
}

/** Who is sharing a screen (the first one to have started, in join order). */
export function screenSharer(state: CallState): Participant | null {
  return orderedParticipants(state).find((p) => p.screen) ?? null;
}

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "?";
  const first = words[0]!;
  const last = words.length > 1 ? words[words.length - 1]! : "";
  return (Array.from(first)[0] ?? "").toUpperCase() + (Array.from(last)[0] ?? "").toUpperCase();
}
