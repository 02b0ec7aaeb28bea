// Large rooms in the client: receive slots, forwarding states, views, last-N paging, simulcast layers.
import { describe, expect, it } from "vitest";
import { applyForwarding, forwardingKey, freshSince, tileDisplay, type ForwardingTable } from "./forwarding";
import { pageParticipants, type PagingInput } from "./layout";
import { applyActiveLayers, cameraEncodings } from "./simulcast";
import { applySlots, mapSlotsToParticipants, slotCounts, slotDeclarations, slotsAsServerTracks, type SlotTable } from "./slots";
import type { ReceivedTrack } from "./tracks";
import { computeView, sameView, type TileGeometry } from "./view";

const rx = (mid: string, kind: string, track: string): ReceivedTrack<string> => ({ mid, kind, streamIds: [`slot-${mid}`], track });

describe("receive slots", () => {
  it("offers the server's counts, within the protocol's 64", () => {
    expect(slotCounts({ audioSlots: 3, videoSlots: 11 })).toEqual({ audio: 3, video: 11 });
    expect(slotCounts(undefined)).toEqual({ audio: 0, video: 0 });
    expect(slotCounts({ audioSlots: 49, videoSlots: 51 })).toEqual({ audio: 49, video: 15 });
    expect(slotCounts({ audioSlots: -1, videoSlots: Number.NaN })).toEqual({ audio: 0, video: 0 });
  });

  it("declares every slot transceiver that has a mid", () => {
    expect(
      slotDeclarations([
        { mid: "2", kind: "audio" },
        { mid: null, kind: "video" },
        { mid: "3", kind: "video" },
      ]),
    ).toEqual([
      { mid: "2", kind: "audio" },
      { mid: "3", kind: "video" },
    ]);
  });

  it("maps each slot's track to whoever it carries now, and notes when a video slot changed hands", () => {
    let table: SlotTable = {};
    table = applySlots(
      table,
      [
        { mid: "2", kind: "audio", participantId: "alice", source: "microphone" },
        { mid: "3", kind: "video", participantId: "alice", source: "camera" },
        { mid: "4", kind: "video", participantId: null, source: null },
        { mid: "5", kind: "video", participantId: "bob", source: "screen" },
      ],
      1000,
    );
    const received = [rx("2", "audio", "A2"), rx("3", "video", "V3"), rx("4", "video", "V4"), rx("5", "video", "V5")];
    expect(mapSlotsToParticipants(table, received, "me")).toEqual({
      alice: { audio: "A2", camera: "V3", cameraSince: 1000 },
      bob: { screen: "V5", screenSince: 1000 },
    });
    expect(slotsAsServerTracks(table).map((t) => `${t.mid}:${t.participantId}:${t.source}`)).toEqual([
      "2:alice:microphone",
      "3:alice:camera",
      "5:bob:screen",
    ]);
    // slot 3 goes to carol: the same track now belongs to carol, from a new moment; alice keeps her audio
    const next = applySlots(
      table,
      [
        { mid: "2", kind: "audio", participantId: "alice", source: "microphone" },
        { mid: "3", kind: "video", participantId: "carol", source: "camera" },
        { mid: "4", kind: "video", participantId: null, source: null },
        { mid: "5", kind: "video", participantId: "bob", source: "screen" },
      ],
      2000,
    );
    expect(next["2"]).toBe(table["2"]); // unchanged slots keep their entry (and time)
    expect(mapSlotsToParticipants(next, received, "me")).toEqual({
      alice: { audio: "A2" },
      carol: { camera: "V3", cameraSince: 2000 },
      bob: { screen: "V5", screenSince: 1000 },
    });
  });

  it("leaves out ourselves, unknown mids and a track of the wrong kind", () => {
    const table = applySlots(
      {},
      [
        { mid: "2", kind: "video", participantId: "me", source: "camera" },
        { mid: "3", kind: "video", participantId: "bob", source: "camera" },
      ],
      5,
    );
    expect(mapSlotsToParticipants(table, [rx("2", "video", "V2"), rx("3", "audio", "A3"), rx("9", "video", "V9")], "me")).toEqual({});
  });
});

describe("forwarding states", () => {
  it("keeps the time of a state while it lasts (a layer switch is not a restart) and drops what is gone", () => {
    let t: ForwardingTable = applyForwarding(
      {},
      [
        { participantId: "a", source: "camera", state: "forwarded", width: 320, height: 180, layer: 0 },
        { participantId: "b", source: "camera", state: "not-forwarded" },
      ],
      100,
    );
    expect(t[forwardingKey("a", "camera")]).toEqual({ state: "forwarded", width: 320, height: 180, layer: 0, since: 100 });
    t = applyForwarding(t, [{ participantId: "a", source: "camera", state: "forwarded", width: 1280, height: 720, layer: 2 }], 200);
    expect(t[forwardingKey("a", "camera")]!.since).toBe(100);
    expect(t[forwardingKey("b", "camera")]).toBeUndefined();
    t = applyForwarding(t, [{ participantId: "a", source: "camera", state: "paused-bandwidth" }], 300);
    expect(t[forwardingKey("a", "camera")]).toMatchObject({ state: "paused-bandwidth", since: 300, layer: null });
    t = applyForwarding(t, [{ participantId: "a", source: "camera", state: "forwarded", layer: 0 }], 400);
    expect(t[forwardingKey("a", "camera")]!.since).toBe(400);
    // nonsense entries are ignored
    const bad = [{ participantId: 7, source: "camera", state: "forwarded" }, { participantId: "x", source: "camera", state: "??" }];
    expect(applyForwarding({}, bad as never, 1)).toEqual({});
  });

  it("decides what a tile shows", () => {
    expect(tileDisplay({ videoOn: false, hasTrack: true, forwarding: "forwarded" })).toBe("camera-off");
    expect(tileDisplay({ videoOn: true, hasTrack: true, forwarding: "paused-bandwidth" })).toBe("paused");
    expect(tileDisplay({ videoOn: true, hasTrack: false, forwarding: "paused-bandwidth" })).toBe("paused");
    expect(tileDisplay({ videoOn: true, hasTrack: true, forwarding: "not-forwarded" })).toBe("initials");
    expect(tileDisplay({ videoOn: true, hasTrack: false, forwarding: undefined })).toBe("initials");
    expect(tileDisplay({ videoOn: true, hasTrack: true, forwarding: undefined })).toBe("video");
    expect(tileDisplay({ videoOn: true, hasTrack: true, forwarding: "forwarded" })).toBe("video");
    // a camera just turned on: its track plays under the initials until the first frame
    expect(tileDisplay({ videoOn: true, hasTrack: true, forwarding: "waiting" })).toBe("video");
    const waiting = applyForwarding({}, [{ participantId: "a", source: "camera", state: "waiting" }], 10);
    const moving = applyForwarding(waiting, [{ participantId: "a", source: "camera", state: "forwarded", layer: 1 }], 20);
    expect(waiting[forwardingKey("a", "camera")]?.state).toBe("waiting");
    expect(freshSince(undefined, moving[forwardingKey("a", "camera")])).toBe(20);
  });

  it("a frame counts from the later of a slot change and a resume", () => {
    const f = (state: "forwarded" | "paused-bandwidth", since: number) => ({ state, width: null, height: null, layer: null, since });
    expect(freshSince(undefined, undefined)).toBeUndefined();
    expect(freshSince(50, undefined)).toBe(50);
    expect(freshSince(50, f("forwarded", 80))).toBe(80);
    expect(freshSince(90, f("forwarded", 80))).toBe(90);
    expect(freshSince(undefined, f("forwarded", 80))).toBe(80);
    expect(freshSince(50, f("paused-bandwidth", 80))).toBe(50);
  });
});

describe("view", () => {
  const g = (participantId: string, width: number, height: number, extra: Partial<TileGeometry> = {}): TileGeometry => ({
    participantId,
    source: "camera",
    width,
    height,
    visible: true,
    self: false,
    ...extra,
  });

  it("lists visible tiles of others in device pixels: screen shares first, then the largest", () => {
    const view = computeView(
      [
        g("me", 600, 375, { self: true }),
        g("a", 200.4, 125.2),
        g("b", 600, 375),
        g("c", 600, 375, { visible: false }),
        g("d", 0, 0),
        g("e", 900, 500, { source: "screen" }),
        g("f", 200, 125),
      ],
      2,
    );
    expect(view).toEqual([
      { participantId: "e", source: "screen", width: 1800, height: 1000 },
      { participantId: "b", source: "camera", width: 1200, height: 750 },
      { participantId: "a", source: "camera", width: 401, height: 250 },
      { participantId: "f", source: "camera", width: 400, height: 250 },
    ]);
  });

  it("counts a video shown twice once, at its larger size; clamps; at most 100 tiles", () => {
    expect(computeView([g("a", 100, 60), g("a", 300, 180)], 1)).toEqual([{ participantId: "a", source: "camera", width: 300, height: 180 }]);
    expect(computeView([g("a", 20000, 20000)], 1)[0]).toMatchObject({ width: 16384, height: 16384 });
    expect(computeView([g("a", 100, 60)], Number.NaN)[0]).toMatchObject({ width: 100, height: 60 });
    const many = Array.from({ length: 120 }, (_, i) => g(`p${i}`, 100, 60));
    expect(computeView(many, 1)).toHaveLength(100);
  });

  it("treats a pixel of layout jitter as the same view", () => {
    const a = [{ participantId: "a", source: "camera" as const, width: 400, height: 250 }];
    expect(sameView(a, [{ ...a[0]!, width: 402 }])).toBe(true);
    expect(sameView(a, [{ ...a[0]!, width: 420 }])).toBe(false);
    expect(sameView(a, [])).toBe(false);
    expect(sameView(null, a)).toBe(false);
    expect(sameView(null, null)).toBe(true);
  });
});

describe("pages with last-N", () => {
  const people = (n: number) => ["me", ...Array.from({ length: n }, (_, i) => `p${i + 1}`)];
  const base = (over: Partial<PagingInput>): PagingInput => ({
    order: people(10),
    selfId: "me",
    videoOn: () => true,
    speakers: [],
    pageSize: 25,
    lastN: 4,
    activeSpeaker: null,
    ...over,
  });
  const remoteVideos = (page: string[], on: (id: string) => boolean = () => true) => page.filter((id) => id !== "me" && on(id)).length;

  it("never puts more remote cameras on a page than lastN", () => {
    const pages = pageParticipants(base({}));
    expect(pages[0]).toEqual(["me", "p1", "p2", "p3", "p4"]);
    expect(pages.every((p) => remoteVideos(p) <= 4)).toBe(true);
    expect(pages.flat().sort()).toEqual(people(10).sort());
  });

  it("puts the active and recent speakers on the first page, in join order", () => {
    const pages = pageParticipants(base({ speakers: ["p9", "p7"], activeSpeaker: "p9" }));
    expect(pages[0]).toEqual(["me", "p1", "p2", "p7", "p9"]);
    // the dominant speaker is always forwarded: later pages leave it one place
    expect(pages.slice(1).every((p) => remoteVideos(p) <= 3)).toBe(true);
  });

  it("fills a page with members whose camera is off (they cost no video)", () => {
    const off = new Set(["p2", "p8", "p9", "p10"]);
    const on = (id: string) => !off.has(id);
    const pages = pageParticipants(base({ videoOn: on, pageSize: 8 }));
    expect(pages[0]).toEqual(["me", "p1", "p2", "p3", "p4", "p5", "p8", "p9"]);
    expect(remoteVideos(pages[0]!, on)).toBe(4);
  });

  it("without a limit (lastN 0) pages only by size, as a crowd of 30 on 16-tile pages", () => {
    const pages = pageParticipants(base({ order: people(29), lastN: 0, pageSize: 16, videoOn: () => false }));
    expect(pages.map((p) => p.length)).toEqual([16, 14]);
    expect(pageParticipants(base({ order: [], selfId: null }))).toEqual([[]]);
  });
});

describe("simulcast", () => {
  it("three layers for 720p, two for a small camera, one for a tiny one", () => {
    expect(cameraEncodings(1280, 720)!.map((e) => [e.rid, e.scaleResolutionDownBy])).toEqual([
      ["q", 4],
      ["h", 2],
      ["f", 1],
    ]);
    expect(cameraEncodings(640, 480)!.map((e) => e.rid)).toEqual(["q", "h"]);
    expect(cameraEncodings(320, 240)).toBeNull();
    expect(cameraEncodings(undefined, undefined)).toHaveLength(3);
    expect(cameraEncodings(1280, 720)!.every((e) => e.scalabilityMode === undefined)).toBe(true);
    expect(cameraEncodings(1280, 720, true)!.map((e) => e.scalabilityMode)).toEqual(["L1T1", "L1T1", "L1T1"]);
    expect(cameraEncodings(640, 480, true)!.map((e) => [e.rid, e.scalabilityMode])).toEqual([
      ["q", "L1T1"],
      ["h", "L1T1"],
    ]);
    expect(cameraEncodings(320, 240, true)).toBeNull();
  });

  it("switches encodings on and off as the server asks, never the lowest", () => {
    const enc = cameraEncodings(1280, 720)!;
    expect(applyActiveLayers(enc, ["q", "h"])).toBe(true);
    expect(enc.map((e) => e.active ?? true)).toEqual([true, true, false]);
    expect(applyActiveLayers(enc, ["q", "h"])).toBe(false);
    applyActiveLayers(enc, []);
    expect(enc.map((e) => e.active ?? true)).toEqual([true, false, false]);
    applyActiveLayers(enc, ["q", "h", "f"]);
    expect(enc.map((e) => e.active ?? true)).toEqual([true, true, true]);
  });
});
