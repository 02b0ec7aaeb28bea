// Tiny router: `/` (home) and `/r/<roomId>` (a room's pre-join screen, then the call).
import { ROOM_ID_RE } from "./protocol";

export type Route = { page: "home" } | { page: "room"; roomId: string; token: string | null };

export function parseRoute(pathname: string, search: string): Route {
  const m = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (m && m[1]) {
    let roomId = m[1];
    try {
      roomId = decodeURIComponent(roomId);
    } catch {
      /* keep raw */
    }
    if (ROOM_ID_RE.test(roomId)) {
      const token = new URLSearchParams(search).get("token");
      return { page: "room", roomId, token: token && token.trim() ? token.trim() : null };
    }
  }
  return { page: "home" };
}

export function roomPath(roomId: string, token: string | null = null): string {
  return `/r/${encodeURIComponent(roomId)}${token ? `?token=${encodeURIComponent(token)}` : ""}`;
}

type RouteWindow = Pick<Window, "location" | "history" | "sessionStorage">;

const tokenKey = (roomId: string) => `sfu.token:${roomId}`;

/**
 * The route of the address bar. A `?token=` is read once and then dropped from the URL (it would
 * otherwise stay in the history, in screenshots and in links people copy); it is kept for this tab
 * only (sessionStorage), so a reload of the room still has it.
 */
export function takeRoute(win: RouteWindow = window): Route {
  const route = parseRoute(win.location.pathname, win.location.search);
  if (route.page !== "room") return route;
  if (route.token) {
    try {
      win.sessionStorage.setItem(tokenKey(route.roomId), route.token);
    } catch {
      /* storage unavailable: the token lives in memory only */
    }
    const params = new URLSearchParams(win.location.search);
    params.delete("token");
    const query = params.toString();
    win.history.replaceState(win.history.state, "", `${win.location.pathname}${query ? `?${query}` : ""}${win.location.hash}`);
    return route;
  }
  let stored: string | null = null;
  try {
    stored = win.sessionStorage.getItem(tokenKey(route.roomId));
  } catch {
    /* storage unavailable */
  }
  return stored ? { ...route, token: stored } : route;
}
