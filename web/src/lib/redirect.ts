// Whether the page may follow a server's `redirect` (an SFU room served by another process).
// The page connects there with the user's token, so it only goes to its own host (any port, same or
// upgraded scheme) or to an origin the server that served the page lists in `/client-config`.

export interface ClientConfig {
  redirectOrigins: string[];
}

/** `https://*.example.com` matches any subdomain of example.com over https (not example.com itself). */
function originMatches(origin: string, pattern: string): boolean {
  const wildcard = /^(https?):\/\/\*\.([^/]+)$/.exec(pattern);
  if (!wildcard) return origin === pattern.toLowerCase();
  const [, scheme = "", suffix = ""] = wildcard;
  const url = new URL(origin);
  return url.protocol === `${scheme}:` && url.host.endsWith(`.${suffix.toLowerCase()}`);
}

export function redirectAllowed(target: string, pageUrl: string, trusted: readonly string[]): boolean {
  let url: URL;
  let page: URL;
  try {
    url = new URL(target);
    page = new URL(pageUrl);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  if (url.username || url.password) return false;
  if (url.hostname === page.hostname && (url.protocol === page.protocol || url.protocol === "https:")) return true;
  return trusted.some((pattern) => originMatches(url.origin, pattern));
}

/** The trusted origins from the server that served this page; none when it cannot say. */
export async function loadRedirectOrigins(pageOrigin: string, fetchFn: typeof fetch = fetch): Promise<string[]> {
  try {
    const res = await fetchFn(`${pageOrigin}/client-config`, { cache: "no-store" });
    if (!res.ok) return [];
    const body = (await res.json()) as Partial<ClientConfig>;
    return Array.isArray(body.redirectOrigins) ? body.redirectOrigins.filter((o) => typeof o === "string") : [];
  } catch {
    return [];
  }
}
