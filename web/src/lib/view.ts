// `video:set-view`: which of the others' videos the page shows and how big, in priority order.
import type { VideoSource, ViewTile } from "./protocol";

/** One tile on the page as measured in the browser. */
export interface TileGeometry {
  participantId: string;
  source: VideoSource;
  /** CSS pixels. */
  width: number;
  height: number;
  /** In the viewport (IntersectionObserver) and rendered at all. */
  visible: boolean;
  /** Our own tile (never part of the view). */
  self: boolean;
}

export const MAX_VIEW_TILES = 100; // the protocol's limit
const MAX_SIDE = 16384;

/**
 * The view to send: visible tiles of others, device pixels (CSS × devicePixelRatio, rounded), screen
 * shares first, then the largest tiles; one entry per video (the largest if a video shows twice).
 */
export function computeView(tiles: TileGeometry[], devicePixelRatio: number): ViewTile[] {
  const dpr = Number.isFinite(devicePixelRatio) && devicePixelRatio > 0 ? devicePixelRatio : 1;
  const best = new Map<string, { tile: ViewTile; order: number }>();
  tiles.forEach((t, order) => {
    if (t.self || !t.visible) return;
    const width = Math.min(MAX_SIDE, Math.max(0, Math.round(t.width * dpr)));
    const height = Math.min(MAX_SIDE, Math.max(0, Math.round(t.height * dpr)));
    if (width === 0 || height === 0) return;
    const key = `${t.participantId}:${t.source}`;
    const old = best.get(key);
    if (old && old.tile.width * old.tile.height >= width * height) return;
    best.set(key, { tile: { participantId: t.participantId, source: t.source, width, height }, order: old?.order ?? order });
  });
  return [...best.values()]
    .sort((a, b) => {
      const screen = Number(b.tile.source === "screen") - Number(a.tile.source === "screen");
      if (screen) return screen;
      const area = b.tile.width * b.tile.height - a.tile.width * a.tile.height;
      return area || a.order - b.order;
    })
    .slice(0, MAX_VIEW_TILES)
    .map((x) => x.tile);
}

/**
 * Two views the server would treat alike: the same videos in the same order, and sizes within a few
 * pixels (layout jitter of a pixel must not cost a message).
 */
export function sameView(a: ViewTile[] | null, b: ViewTile[] | null, tolerance = 4): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    return (
      x.participantId === y.participantId &&
      x.source === y.source &&
      Math.abs(x.width - y.width) <= tolerance &&
      Math.abs(x.height - y.height) <= tolerance
    );
  });
}
