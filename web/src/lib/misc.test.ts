import { describe, expect, it, vi } from "vitest";
import { copyMessage, copyText } from "./clipboard";
import { joinNotes, waitingFor, waitingText } from "./joinReadiness";
import { gridColumns, pageItems, pageSizeFor } from "./layout";
import { rmsLevel } from "./media";
import { describeError, slugRoomId } from "./protocol";
import { parseRoute, roomPath, takeRoute } from "./route";

describe("routes", () => {
  it("parses / and /r/<room> with an optional token", () => {
    expect(parseRoute("/", "")).toEqual({ page: "home" });
    expect(parseRoute("/r/study-1", "")).toEqual({ page: "room", roomId: "study-1", token: null });
    expect(parseRoute("/r/study-1/", "?token=abc.def")).toEqual({ page: "room", roomId: "study-1", token: "abc.def" });
    expect(parseRoute("/r/bad%20room", "")).toEqual({ page: "home" });
    expect(parseRoute(`/r/${"x".repeat(65)}`, "")).toEqual({ page: "home" });
    expect(roomPath("a_b", "t k")).toBe("/r/a_b?token=t%20k");
  });

  it("turns free text into a room id", () => {
    expect(slugRoomId("  Linear algebra 101! ")).toBe("Linear-algebra-101");
    expect(slugRoomId("ünïcode")).toBe("ncode");
    expect(slugRoomId("x".repeat(100))).toHaveLength(64);
  });

  it("describes errors in words", () => {
    expect(describeError({ code: "room_full", message: "" })).toBe("The room is full.");
    expect(describeError({ code: "forbidden", message: "token" })).toContain("not allowed");
    expect(describeError(null)).toBe("Something went wrong.");
  });
});

describe("layout", () => {
  it("pages tiles", () => {
    const items = Array.from({ length: 30 }, (_, i) => i);
    expect(pageItems(items, 25, 0).items).toHaveLength(25);
    expect(pageItems(items, 25, 1)).toMatchObject({ items: [25, 26, 27, 28, 29], page: 1, pages: 2 });
    expect(pageItems(items, 25, 9).page).toBe(1);
    expect(pageItems([], 25, 0)).toMatchObject({ items: [], page: 0, pages: 1 });
  });

  it("chooses page sizes and columns that keep tiles usable", () => {
    expect(pageSizeFor(400, 800)).toBe(6);
    expect(pageSizeFor(1920, 1080)).toBe(25);
    expect(gridColumns(1, 1.6)).toBe(1);
    expect(gridColumns(2, 1.6)).toBe(2);
    expect(gridColumns(4, 1.6)).toBe(2);
    expect(gridColumns(25, 1.6)).toBe(5);
    expect(gridColumns(3, 0.6)).toBe(1); // a tall phone screen stacks
  });
});

describe("rmsLevel", () => {
  it("is 0 for silence and grows with amplitude", () => {
    expect(rmsLevel(new Uint8Array(64).fill(128))).toBe(0);
    const loud = Uint8Array.from({ length: 64 }, (_, i) => (i % 2 ? 228 : 28));
    expect(rmsLevel(loud)).toBeGreaterThan(0.5);
    expect(rmsLevel(new Uint8Array())).toBe(0);
  });
});

describe("takeRoute", () => {
  function fakeWindow(url: string) {
    const u = new URL(url);
    const store = new Map<string, string>();
    const replaced: string[] = [];
    const win = {
      location: { pathname: u.pathname, search: u.search, hash: u.hash },
      history: { state: null, replaceState: (_s: unknown, _t: string, to: string) => replaced.push(to) },
      sessionStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) },
    };
    return { win: win as unknown as Parameters<typeof takeRoute>[0], replaced, store };
  }

  it("drops ?token= from the address bar and keeps it for this tab", () => {
    const first = fakeWindow("https://sfu.example/r/study?token=abc.def&lang=en#x");
    expect(takeRoute(first.win)).toEqual({ page: "room", roomId: "study", token: "abc.def" });
    expect(first.replaced).toEqual(["/r/study?lang=en#x"]);
    const reload = fakeWindow("https://sfu.example/r/study");
    reload.store.set("sfu.token:study", "abc.def");
    expect(takeRoute(reload.win)).toEqual({ page: "room", roomId: "study", token: "abc.def" });
    expect(reload.replaced).toEqual([]);
    const other = fakeWindow("https://sfu.example/r/other");
    expect(takeRoute(other.win)).toEqual({ page: "room", roomId: "other", token: null });
  });
});

describe("copying the room link", () => {
  it("uses the Clipboard API, falls back to the legacy copy, and says which", async () => {
    const writeText = vi.fn(async () => undefined);
    expect(await copyText("http://x/r/a", { clipboard: { writeText }, legacyCopy: () => false })).toBe(true);
    expect(writeText).toHaveBeenCalledWith("http://x/r/a");
    const refused = { writeText: vi.fn(async () => Promise.reject(new Error("NotAllowedError"))) };
    const legacy = vi.fn(() => true);
    expect(await copyText("l", { clipboard: refused, legacyCopy: legacy })).toBe(true);
    expect(legacy).toHaveBeenCalledWith("l");
    expect(await copyText("l", { clipboard: refused, legacyCopy: () => false })).toBe(false);
    expect(await copyText("l", {})).toBe(false);
    expect(copyMessage(true, "l")).toBe("Link copied to the clipboard.");
    expect(copyMessage(false, "http://x/r/a")).toContain("http://x/r/a");
  });
});

describe("joining while devices start", () => {
  const ready = { status: "ready" as const, error: null };
  const starting = { status: "starting" as const, error: null };
  const off = { status: "off" as const, error: null };
  it("waits for a microphone or camera that is still starting", () => {
    expect(waitingFor(starting, starting)).toEqual(["microphone", "camera"]);
    expect(waitingFor(ready, starting)).toEqual(["camera"]);
    expect(waitingFor(ready, off)).toEqual([]);
    expect(waitingText(["microphone", "camera"])).toBe("Waiting for your microphone and camera…");
    expect(waitingText([])).toBe("");
  });
  it("says what the call joined without", () => {
    expect(joinNotes(ready, ready, true)).toBeNull();
    expect(joinNotes(ready, off, false)).toBeNull();
    const denied = { status: "failed" as const, error: "Access to your microphone was refused." };
    expect(joinNotes(denied, ready, true)).toContain("without your microphone (Access to your microphone was refused.)");
    expect(joinNotes(denied, { status: "failed", error: null }, true)).toContain("microphone (Access to your microphone was refused.) and without your camera");
  });
});
