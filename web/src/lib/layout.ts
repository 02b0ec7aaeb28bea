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
