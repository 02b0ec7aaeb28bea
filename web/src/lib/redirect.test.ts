import { describe, expect, it, vi } from "vitest";
import { loadRedirectOrigins, redirectAllowed } from "./redirect";

const PAGE = "https://sfu.example.com/r/study?x=1";

describe("redirectAllowed", () => {
  it("follows the page's own host on any port, same or upgraded scheme", () => {
    expect(redirectAllowed("https://sfu.example.com:8443", PAGE, [])).toBe(true);
    expect(redirectAllowed("https://sfu.example.com/", PAGE, [])).toBe(true);
    expect(redirectAllowed("http://127.0.0.1:9001", "http://127.0.0.1:9000/r/a", [])).toBe(true);
    expect(redirectAllowed("https://127.0.0.1:9001", "http://127.0.0.1:9000/r/a", [])).toBe(true);
  });

  it("refuses other hosts, downgrades, other schemes and credentials", () => {
    expect(redirectAllowed("https://evil.example", PAGE, [])).toBe(false);
    expect(redirectAllowed("https://sfu.example.com.evil.example", PAGE, [])).toBe(false);
    expect(redirectAllowed("http://sfu.example.com", PAGE, [])).toBe(false);
    expect(redirectAllowed("javascript:alert(1)", PAGE, [])).toBe(false);
    expect(redirectAllowed("data:text/html,hi", PAGE, [])).toBe(false);
    expect(redirectAllowed("https://user:pw@sfu.example.com", PAGE, [])).toBe(false);
    expect(redirectAllowed("not a url", PAGE, [])).toBe(false);
    expect(redirectAllowed("//evil.example", PAGE, [])).toBe(false);
  });

  it("follows origins the server lists, exactly or by subdomain wildcard", () => {
    const trusted = ["https://sfu2.example.net", "https://*.calls.example.org"];
    expect(redirectAllowed("https://sfu2.example.net/", PAGE, trusted)).toBe(true);
    expect(redirectAllowed("https://SFU2.example.net", PAGE, trusted)).toBe(true);
    expect(redirectAllowed("https://sfu2.example.net:444", PAGE, trusted)).toBe(false);
    expect(redirectAllowed("http://sfu2.example.net", PAGE, trusted)).toBe(false);
    expect(redirectAllowed("https://a.calls.example.org", PAGE, trusted)).toBe(true);
    expect(redirectAllowed("https://calls.example.org", PAGE, trusted)).toBe(false);
    expect(redirectAllowed("https://evilcalls.example.org", PAGE, trusted)).toBe(false);
  });
});

describe("loadRedirectOrigins", () => {
  it("reads /client-config from the page's origin and tolerates failures", async () => {
    const ok = vi.fn(async () => new Response(JSON.stringify({ redirectOrigins: ["https://a.example", 5] })));
    expect(await loadRedirectOrigins("https://sfu.example.com", ok as unknown as typeof fetch)).toEqual(["https://a.example"]);
    expect(ok).toHaveBeenCalledWith("https://sfu.example.com/client-config", { cache: "no-store" });
    const down = vi.fn(async () => new Response("no", { status: 404 }));
    expect(await loadRedirectOrigins("https://x", down as unknown as typeof fetch)).toEqual([]);
    const broken = vi.fn(async () => {
      throw new TypeError("network");
    });
    expect(await loadRedirectOrigins("https://x", broken as unknown as typeof fetch)).toEqual([]);
  });
});
