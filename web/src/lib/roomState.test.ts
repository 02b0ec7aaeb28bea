import { describe, expect, it } from "vitest";
import type { ChatMessage, Participant, RoomState } from "./protocol";
import { callReducer, initialCallState, initials, orderedParticipants, screenSharer, type CallState } from "./roomState";

const person = (id: string, joinedAt: number, extra: Partial<Participant> = {}): Participant => ({
  participantId: id,
  userId: `u-${id}`,
  displayName: id.toUpperCase(),
  audio: true,
  video: true,
  screen: false,
  joinedAt,
  ...extra,
});

const roomState = (others: Participant[]): RoomState => ({
  roomId: "r1",
  topology: "sfu",
  you: { participantId: "me" },
  participants: others,
  iceServers: [{ urls: "stun:example.org" }],
});

const msg = (id: string, from: string, sentAt: number, roomId = "r1"): ChatMessage => ({
  roomId,
  messageId: id,
  clientMsgId: null,
  from: { participantId: from, userId: `u-${from}`, displayName: from },
  text: `text ${id}`,
  sentAt,
});

function joined(): CallState {
  return callReducer(initialCallState, {
    type: "room-state",
    state: roomState([person("b", 20), person("a", 10)]),
    self: person("me", 30),
  });
}

describe("callReducer", () => {
  it("room-state puts self first, then the others by join time", () => {
    const s = joined();
    expect(s.status).toBe("joined");
    expect(s.selfId).toBe("me");
    expect(orderedParticipants(s).map((p) => p.participantId)).toEqual(["me", "a", "b"]);
    expect(s.iceServers).toEqual([{ urls: "stun:example.org" }]);
  });

  it("user-joined adds once; user-left removes; other rooms are ignored", () => {
    let s = joined();
    s = callReducer(s, { type: "user-joined", event: { roomId: "r1", participant: person("c", 40) } });
    s = callReducer(s, { type: "user-joined", event: { roomId: "r1", participant: person("c", 40) } });
    s = callReducer(s, { type: "user-joined", event: { roomId: "other", participant: person("x", 50) } });
    expect(s.order).toEqual(["me", "a", "b", "c"]);
    s = callReducer(s, { type: "user-left", event: { roomId: "r1", participantId: "a" } });
    expect(s.order).toEqual(["me", "b", "c"]);
    expect(s.participants["a"]).toBeUndefined();
    const same = callReducer(s, { type: "user-left", event: { roomId: "r1", participantId: "nobody" } });
    expect(same).toBe(s);
    // We never remove ourselves on someone's say-so.
    expect(callReducer(s, { type: "user-left", event: { roomId: "r1", participantId: "me" } }).order).toContain("me");
  });

  it("media-state-changed updates exactly that participant", () => {
    let s = joined();
    s = callReducer(s, { type: "media-state", event: { roomId: "r1", participantId: "a", audio: false, video: true, screen: true } });
    expect(s.participants["a"]).toMatchObject({ audio: false, video: true, screen: true });
    expect(s.participants["b"]).toMatchObject({ audio: true, screen: false });
    expect(screenSharer(s)?.participantId).toBe("a");
  });

  it("active speaker follows the server and clears when that person leaves", () => {
    let s = joined();
    s = callReducer(s, { type: "active-speaker", event: { roomId: "r1", participantId: "b" } });
    expect(s.activeSpeaker).toBe("b");
    s = callReducer(s, { type: "active-speaker", event: { roomId: "r1", participantId: "ghost" } });
    expect(s.activeSpeaker).toBeNull();
    s = callReducer(s, { type: "active-speaker", event: { roomId: "r1", participantId: "b" } });
    s = callReducer(s, { type: "user-left", event: { roomId: "r1", participantId: "b" } });
    expect(s.activeSpeaker).toBeNull();
  });

  it("keeps recent speakers, most recent first, for the first page; media limits from the room state", () => {
    let s = callReducer(initialCallState, {
      type: "room-state",
      state: { ...roomState([person("b", 20), person("a", 10)]), media: { lastN: 4, audioLastN: 3, videoSlots: 6, audioSlots: 3 } },
      self: person("me", 30),
    });
    expect(s.media).toEqual({ lastN: 4, audioLastN: 3, videoSlots: 6, audioSlots: 3 });
    for (const id of ["a", "b", "a"]) s = callReducer(s, { type: "active-speaker", event: { roomId: "r1", participantId: id } });
    expect(s.recentSpeakers).toEqual(["a", "b"]);
    s = callReducer(s, { type: "user-left", event: { roomId: "r1", participantId: "a" } });
    expect(s.recentSpeakers).toEqual(["b"]);
    expect(joined().media).toBeNull(); // an older server: no limits, per-track m-lines
  });

  it("forwarding: what we get of each video, for this room only", () => {
    let s = joined();
    const videos = [{ participantId: "a", source: "camera" as const, state: "paused-bandwidth" as const }];
    s = callReducer(s, { type: "forwarding", event: { roomId: "other", videos }, now: 1 });
    expect(s.forwarding).toEqual({});
    s = callReducer(s, { type: "forwarding", event: { roomId: "r1", videos }, now: 2 });
    expect(s.forwarding["a:camera"]).toMatchObject({ state: "paused-bandwidth", since: 2 });
  });

  it("chat: history and live messages merge without duplicates, in time order; unread counts others only", () => {
    let s = joined();
    s = callReducer(s, { type: "chat-message", message: msg("m3", "a", 300) });
    s = callReducer(s, { type: "chat-history", messages: [msg("m1", "b", 100), msg("m3", "a", 300), msg("m2", "me", 200)] });
    expect(s.chat.map((m) => m.messageId)).toEqual(["m1", "m2", "m3"]);
    const before = s;
    s = callReducer(s, { type: "chat-message", message: msg("m3", "a", 300) });
    expect(s).toBe(before);
    expect(s.unread).toBe(1);
    s = callReducer(s, { type: "chat-message", message: msg("m4", "me", 400) });
    expect(s.unread).toBe(1);
    s = callReducer(s, { type: "chat-open", open: true });
    expect(s.unread).toBe(0);
    s = callReducer(s, { type: "chat-message", message: msg("m5", "a", 500) });
    expect(s.unread).toBe(0);
    s = callReducer(s, { type: "chat-message", message: msg("m6", "a", 600, "other-room") });
    expect(s.chat).toHaveLength(5);
  });

  it("presence list, online and offline", () => {
    let s = joined();
    s = callReducer(s, { type: "presence-list", users: [{ userId: "u1", displayName: "One" }] });
    s = callReducer(s, { type: "presence-online", user: { userId: "u2", displayName: "Two" } });
    expect(Object.keys(s.presence).sort()).toEqual(["u1", "u2"]);
    s = callReducer(s, { type: "presence-offline", user: { userId: "u1", displayName: "One" } });
    expect(Object.keys(s.presence)).toEqual(["u2"]);
  });

  it("connection status: reconnecting only from joined; left resets", () => {
    let s = callReducer(initialCallState, { type: "reconnecting" });
    expect(s.status).toBe("idle");
    s = callReducer(joined(), { type: "reconnecting" });
    expect(s.status).toBe("reconnecting");
    expect(callReducer(s, { type: "connecting" }).status).toBe("reconnecting");
    s = callReducer(s, { type: "left" });
    expect(s).toMatchObject({ status: "left", selfId: null, order: [] });
    expect(callReducer(s, { type: "failed", error: "room full" })).toMatchObject({ status: "failed", error: "room full" });
  });
});

describe("initials", () => {
  it("takes first and last initials", () => {
    expect(initials("ada lovelace")).toBe("AL");
    expect(initials("  Grace  ")).toBe("G");
    expect(initials("")).toBe("?");
    expect(initials("émile zola")).toBe("ÉZ");
  });

  it("media-status: kept by id even before the room-state, cleared by connected and by leaving", () => {
    let s = callReducer(initialCallState, {
      type: "media-status",
      event: { roomId: "r1", participantId: "a", status: "failed", reason: "refused" },
    });
    s = callReducer(s, { type: "room-state", state: roomState([person("a", 10), person("b", 20)]), self: person("me", 30) });
    expect(s.mediaStatus).toEqual({ a: { status: "failed", reason: "refused" } });
    s = callReducer(s, { type: "media-status", event: { roomId: "r1", participantId: "b", status: "connecting", reason: null } });
    s = callReducer(s, { type: "media-status", event: { roomId: "r1", participantId: "a", status: "connected", reason: null } });
    expect(s.mediaStatus).toEqual({ b: { status: "connecting", reason: null } });
    s = callReducer(s, { type: "user-left", event: { roomId: "r1", participantId: "b" } });
    expect(s.mediaStatus).toEqual({});
  });
});
