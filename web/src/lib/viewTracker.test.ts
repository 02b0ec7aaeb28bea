import { afterEach, describe, expect, it, vi } from "vitest";
import type { ViewTile } from "./protocol";
import { ViewTracker } from "./viewTracker";

function tile(id: string, width: number, height: number, extra: Record<string, string> = {}): HTMLElement {
  const el = document.createElement("figure");
  el.dataset["participantId"] = id;
  el.dataset["viewSource"] = extra["source"] ?? "camera";
  el.dataset["self"] = extra["self"] ?? "false";
  el.getBoundingClientRect = () => ({ width, height, left: 0, top: 0, right: width, bottom: height, x: 0, y: 0, toJSON: () => ({}) }) as DOMRect;
  return el;
}

const flushMutations = () => new Promise((r) => setTimeout(r, 0));

describe("ViewTracker (jsdom: no IntersectionObserver, so boxes inside the window count as visible)", () => {
  afterEach(() => vi.useRealTimers());

  it("reports the tiles as they come and go, at most once per delay", async () => {
    const root = document.createElement("main");
    document.body.append(root);
    const reports: ViewTile[][] = [];
    const tracker = new ViewTracker(root, (v) => reports.push(v), 50);
    root.append(tile("me", 300, 180, { self: "true" }), tile("a", 300, 180), tile("b", 600, 360));
    await flushMutations();
    await new Promise((r) => setTimeout(r, 80));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.map((t) => `${t.participantId}:${t.width}x${t.height}`)).toEqual(["b:600x360", "a:300x180"]);
    root.querySelector("[data-participant-id=b]")!.remove();
    root.append(tile("c", 0, 0)); // not rendered: not in the view
    await flushMutations();
    await new Promise((r) => setTimeout(r, 80));
    expect(reports.at(-1)!.map((t) => t.participantId)).toEqual(["a"]);
    tracker.dispose();
    root.append(tile("d", 300, 180));
    await flushMutations();
    await new Promise((r) => setTimeout(r, 80));
    expect(reports).toHaveLength(2);
    root.remove();
  });
});
