import { describe, expect, it } from "vitest";
import type { ServerTrack } from "./protocol";
import { parseStreamId } from "./protocol";
import { mapTracksToParticipants, publishedTracks, sameRemoteMedia, type ReceivedTrack } from "./tracks";

const rx = (mid: string | null, kind: string, streamId: string, track: string): ReceivedTrack<string> => ({
  mid,
  kind,
  streamIds: [streamId],
  track,
});

describe("mapTracksToParticipants", () => {
  const serverTracks: ServerTrack[] = [
    { mid: "2", participantId: "alice", kind: "audio", source: "microphone" },
    { mid: "3", participantId: "alice", kind: "video", source: "camera" },
    { mid: "4", participantId: "bob", kind: "video", source: "camera" },
    { mid: "5", participantId: "alice", kind: "video", source: "screen" },
  ];

  it("maps by the server's tracks list", () => {
    const map = mapTracksToParticipants(serverTracks, [
      rx("2", "audio", "alice", "A-mic"),
      rx("3", "video", "alice", "A-cam"),
      rx("4", "video", "bob", "B-cam"),
      rx("5", "video", "alice:screen", "A-screen"),
    ]);
    expect(map).toEqual({ alice: { audio: "A-mic", camera: "A-cam", screen: "A-screen" }, bob: { camera: "B-cam" } });
  });

  it("drops mids that left the list (inactive m-lines) and our own sending mids", () => {
    const map = mapTracksToParticipants(serverTracks.slice(0, 2), [
      rx("0", "audio", "local", "my-mic"),
      rx("2", "audio", "alice", "A-mic"),
      rx("4", "video", "bob", "B-cam"),
      rx(null, "video", "bob", "no-mid"),
    ]);
    expect(map).toEqual({ alice: { audio: "A-mic" } });
  });

  it("the list wins over a disagreeing msid", () => {
    const map = mapTracksToParticipants([{ mid: "7", participantId: "carol", kind: "video", source: "camera" }], [
      rx("7", "video", "someone-else", "C-cam"),
    ]);
    expect(map).toEqual({ carol: { camera: "C-cam" } });
  });

  it("falls back to the msid without a list: <pid> and <pid>:screen", () => {
    const map = mapTracksToParticipants(null, [
      rx("2", "audio", "alice", "A-mic"),
      rx("3", "video", "alice", "A-cam"),
      rx("5", "video", "alice:screen", "A-screen"),
      rx("6", "video", "-", "no-stream"),
      { mid: "8", kind: "video", streamIds: [], track: "nothing" },
    ]);
    expect(map).toEqual({ alice: { audio: "A-mic", camera: "A-cam", screen: "A-screen" } });
  });

  it("never maps a track to ourselves", () => {
    const map = mapTracksToParticipants([{ mid: "2", participantId: "me", kind: "audio", source: "microphone" }], [
      rx("2", "audio", "me", "echo"),
    ], "me");
    expect(map).toEqual({});
  });

  it("sameRemoteMedia compares slot by slot", () => {
    const a = { alice: { audio: "1", camera: "2" } };
    expect(sameRemoteMedia(a, { alice: { audio: "1", camera: "2" } })).toBe(true);
    expect(sameRemoteMedia(a, { alice: { audio: "1" } })).toBe(false);
    expect(sameRemoteMedia(a, { bob: { audio: "1", camera: "2" } })).toBe(false);
    expect(sameRemoteMedia({}, {})).toBe(true);
  });
});

describe("publishedTracks", () => {
  it("lists sending transceivers with a mid and a source", () => {
    expect(
      publishedTracks([
        { mid: "0", direction: "sendonly", source: "microphone" },
        { mid: "1", direction: "sendrecv", source: "camera" },
        { mid: "2", direction: "inactive", source: "screen" },
        { mid: "3", direction: "recvonly", source: undefined },
        { mid: null, direction: "sendonly", source: "screen" },
      ]),
    ).toEqual([
      { mid: "0", source: "microphone" },
      { mid: "1", source: "camera" },
    ]);
  });
});

describe("parseStreamId", () => {
  it("splits the screen suffix", () => {
    expect(parseStreamId("abc")).toEqual({ participantId: "abc", screen: false });
    expect(parseStreamId("abc:screen")).toEqual({ participantId: "abc", screen: true });
  });
});
