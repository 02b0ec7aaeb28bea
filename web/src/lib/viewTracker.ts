// Watches the call page's tiles (IntersectionObserver, ResizeObserver, and a MutationObserver for tiles
// that come and go) and reports the view (`computeView`) a few times a second at most.
import type { VideoSource, ViewTile } from "./protocol";
import { computeView, type TileGeometry } from "./view";

/** The attributes a tile element carries (VideoTile sets them). */
const TILE_SELECTOR = "[data-participant-id][data-view-source]";

interface TileInfo {
  participantId: string;
  source: VideoSource;
  self: boolean;
}

function infoOf(el: Element): TileInfo | null {
  const h = el as HTMLElement;
  const participantId = h.dataset["participantId"];
  if (!participantId) return null;
  return { participantId, source: h.dataset["viewSource"] === "screen" ? "screen" : "camera", self: h.dataset["self"] === "true" };
}

export class ViewTracker {
  private readonly tiles = new Map<Element, TileInfo>();
  private readonly intersecting = new WeakMap<Element, boolean>();
  private readonly io: IntersectionObserver | null;
  private readonly ro: ResizeObserver | null;
  private readonly mo: MutationObserver | null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly report: (view: ViewTile[]) => void,
    private readonly delayMs = 200,
  ) {
    this.io =
      typeof IntersectionObserver === "function"
        ? new IntersectionObserver((entries) => {
            for (const e of entries) this.intersecting.set(e.target, e.isIntersecting);
            this.schedule();
          })
        : null;
    this.ro = typeof ResizeObserver === "function" ? new ResizeObserver(() => this.schedule()) : null;
    this.mo = typeof MutationObserver === "function" ? new MutationObserver(() => this.sync()) : null;
    this.mo?.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-participant-id", "data-view-source"] });
    window.addEventListener("resize", this.schedule);
    this.watchPixelRatio();
    this.sync();
  }

  /** A window moved to a screen of another density changes devicePixelRatio without resizing. */
  private watchPixelRatio(): void {
    if (typeof window.matchMedia !== "function" || this.disposed) return;
    const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    const onChange = () => {
      query.removeEventListener?.("change", onChange);
      this.schedule();
      this.watchPixelRatio();
    };
    query.addEventListener?.("change", onChange);
    this.unwatchRatio = () => query.removeEventListener?.("change", onChange);
  }

  private unwatchRatio: () => void = () => undefined;

  /** Pick up tiles that appeared or left. */
  sync(): void {
    if (this.disposed) return;
    const now = new Set(this.root.querySelectorAll(TILE_SELECTOR));
    let changed = false;
    for (const el of [...this.tiles.keys()]) {
      if (now.has(el)) continue;
      this.tiles.delete(el);
      this.io?.unobserve(el);
      this.ro?.unobserve(el);
      changed = true;
    }
    for (const el of now) {
      const info = infoOf(el);
      if (!info) continue;
      const old = this.tiles.get(el);
      if (old && old.participantId === info.participantId && old.source === info.source && old.self === info.self) continue;
      this.tiles.set(el, info);
      if (!old) {
        this.io?.observe(el);
        this.ro?.observe(el);
      }
      changed = true;
    }
    if (changed) this.schedule();
  }

  /** Report soon: changes within `delayMs` of each other make one report. */
  readonly schedule = (): void => {
    if (this.disposed || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.delayMs);
  };

  /** The tiles as measured now. */
  measure(): TileGeometry[] {
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const out: TileGeometry[] = [];
    for (const [el, info] of this.tiles) {
      const r = el.getBoundingClientRect();
      const seen = this.intersecting.get(el);
      // Before the IntersectionObserver's first word (or without one): is the box inside the window?
      const inWindow = r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < vw && r.top < vh;
      out.push({ ...info, width: r.width, height: r.height, visible: (seen ?? inWindow) && r.width > 0 && r.height > 0 });
    }
    return out;
  }

  flush(): void {
    if (this.disposed) return;
    this.report(computeView(this.measure(), window.devicePixelRatio || 1));
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.io?.disconnect();
    this.ro?.disconnect();
    this.mo?.disconnect();
    window.removeEventListener("resize", this.schedule);
    this.unwatchRatio();
    this.tiles.clear();
  }
}
