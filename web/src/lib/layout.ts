// Grid layout: how many tiles fit a page, and how many columns they take.

/** Tiles per page for a viewport: 25 on large screens, fewer on small ones; at least 4. */
export function pageSizeFor(width: number, height: number): number {
  if (width < 600) return 6;
  if (width < 1000 || height < 600) return 12;
  if (width < 1600) return 16;
  return 25;
}

export function pageCount(items: number, pageSize: number): number {
  return Math.max(1, Math.ceil(items / Math.max(1, pageSize)));
}

/** The items on page `page` (clamped to the last page). */
export function pageItems<T>(items: T[], pageSize: number, page: number): { items: T[]; page: number; pages: number } {
  const pages = pageCount(items.length, pageSize);
  const p = Math.min(Math.max(0, page), pages - 1);
  return { items: items.slice(p * pageSize, (p + 1) * pageSize), page: p, pages };
}

/** Columns for n tiles in a box of the given aspect ratio (width / height), tiles near 16:10. */
export function gridColumns(n: number, aspect: number): number {
  if (n <= 1) return 1;
  let best = 1;
  let bestScore = -Infinity;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = aspect / cols;
    const tileH = 1 / rows;
    const size = Math.min(tileW, tileH * 1.6); // the tile's usable width at 16:10
    const waste = cols * rows - n;
    const score = size - waste * 0.001;
    if (score >= bestScore - 1e-9) {
      bestScore = score;
      best = cols;
    }
  }
  return best;
}

export interface PagingInput {
  /** Everyone in display order: ourselves first, then by join time. */
  order: string[];
  selfId: string | null;
  /** Whose camera is on (their tile is a video tile). */
  videoOn: (participantId: string) => boolean;
  /** The active speaker first, then recent speakers, most recent first: they go on the first page. */
  speakers: string[];
  /** Tiles a page holds (Infinity: no limit, as beside a screen share). */
  pageSize: number;
  /** The most remote cameras the server sends (`lastN`); 0: no limit. */
  lastN: number;
  /** The server's dominant speaker: always forwarded, so it takes one of `lastN` on every other page too. */
  activeSpeaker: string | null;
}

/**
 * Pages of tiles that never show more remote video tiles than the server sends (`lastN`): the first page
 * holds ourselves, the active and recent speakers, then the others in join order; later pages the rest.
 * A page keeps display order (ourselves, then join order), so a new speaker swaps in without shuffling.
 * Members whose camera is off fill any room left on a page (they cost no video).
 */
export function pageParticipants(input: PagingInput): string[][] {
  const { order, selfId, videoOn, speakers, lastN } = input;
  const pageSize = Math.max(1, input.pageSize);
  const isVideo = (id: string) => id !== selfId && videoOn(id);
  const present = new Set(order);
  const speakerTakesOne = input.activeSpeaker !== null && present.has(input.activeSpeaker) && isVideo(input.activeSpeaker);
  const remaining = new Set(order);
  const pages: string[][] = [];
  let first = true;
  while (remaining.size > 0) {
    let quota = Infinity;
    if (lastN > 0) quota = first ? lastN : Math.max(1, lastN - (speakerTakesOne ? 1 : 0));
    const priority = first ? [...(selfId !== null ? [selfId] : []), ...speakers, ...order] : order;
    const chosen = new Set<string>();
    let videos = 0;
    for (const id of priority) {
      if (chosen.size >= pageSize) break;
      if (!remaining.has(id) || chosen.has(id)) continue;
      const video = isVideo(id);
      if (video && videos >= quota) continue;
      chosen.add(id);
      if (video) videos += 1;
    }
    if (chosen.size === 0) chosen.add(remaining.values().next().value as string);
    pages.push(order.filter((id) => chosen.has(id)));
    for (const id of chosen) remaining.delete(id);
    first = false;
  }
  return pages.length > 0 ? pages : [[]];
}
