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
