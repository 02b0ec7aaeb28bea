// One Firefox and two Chromium pages in one SFU room, through the real call page, driven headless with
// puppeteer-core (Firefox over WebDriver BiDi, Chromium over CDP). Prints one JSON line of what each page
// saw; tests/web/test_web_firefox.py judges it. Every wait is bounded; the script exits on its own.
//
// Usage: node firefox_call.mjs <server url> <room> [firefox binary] [chromium binary]
import puppeteer from "puppeteer-core";

const [url, room, firefoxPath = "/usr/bin/firefox-esr", chromiumPath = "/usr/bin/chromium"] = process.argv.slice(2);
const WAIT_MS = 40_000;
const facts = { ok: false, steps: [], pages: {}, firefoxVersion: null, error: null };
const step = (name, extra = {}) => facts.steps.push({ name, at: Date.now(), ...extra });

const FIREFOX_PREFS = {
  "media.navigator.streams.fake": true, // fake camera and microphone
  "media.navigator.permission.disabled": true, // no prompts
  "media.peerconnection.ice.loopback": true, // offer 127.0.0.1 candidates
  "media.peerconnection.ice.obfuscate_host_addresses": false, // plain host candidates, no mDNS names
  "media.peerconnection.ice.force_interface": "lo", // keep media on 127.0.0.1
  "media.autoplay.default": 0, // remote <video>/<audio> may play
};
const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
  "--auto-select-desktop-capture-source=Entire screen", "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required", "--window-size=1280,800",
];

async function waitFor(what, fn, timeout = WAIT_MS, interval = 250) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = `error: ${err}`;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

async function join(page, name) {
  await page.goto(`${url}/r/${room}`);
  await page.waitForSelector("input[name=displayName]");
  await page.type("input[name=displayName]", name);
  await page.waitForSelector("video[aria-label='Your camera preview']", { timeout: WAIT_MS });
  await waitFor(`${name}'s microphone`, () =>
    page.evaluate(() => !document.querySelector("button[aria-label=Microphone]")?.disabled));
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=call-page][data-status=joined]", { timeout: WAIT_MS });
  return page.evaluate(() => window.__sfuCall.participantId);
}

const inbound = (page) => page.evaluate(async () => (window.__sfuCall ? window.__sfuCall.inboundStats() : []));
const tiles = (page) =>
  page.evaluate(() => [...document.querySelectorAll("[data-testid=tile]")].map((t) => ({
    id: t.dataset.participantId, self: t.dataset.self === "true", audio: t.dataset.audio, video: t.dataset.video,
    media: t.dataset.media,
  })));

/** Per remote participant: camera frames decoded and audio packets, sampled twice 1.5 s apart. */
async function mediaFrom(page, others) {
  const pick = (stats, pid, kind, source) =>
    stats.find((s) => s.participantId === pid && s.kind === kind && (source === null || s.source === source));
  const sample = async () => {
    const stats = await inbound(page);
    return Object.fromEntries(others.map((pid) => [pid, {
      frames: pick(stats, pid, "video", "camera")?.framesDecoded ?? 0,
      audioPackets: pick(stats, pid, "audio", "microphone")?.packetsReceived ?? 0,
      audioEnergy: pick(stats, pid, "audio", "microphone")?.audioEnergy ?? null,
    }]));
  };
  let last = null;
  await waitFor("every remote camera and microphone to arrive", async () => {
    last = await sample();
    return others.every((pid) => last[pid].frames > 10 && last[pid].audioPackets > 20);
  }).catch((err) => {
    throw new Error(`${err.message}; received: ${JSON.stringify(last)}`);
  });
  const first = await sample();
  await new Promise((r) => setTimeout(r, 1500));
  const second = await sample();
  return Object.fromEntries(others.map((pid) => [pid, { first: first[pid], second: second[pid] }]));
}

const browsers = [];
const pages = {};
/** What each page knows, for a failure message: its received tracks, tiles and negotiation trace. */
async function diagnose() {
  const out = {};
  for (const [name, page] of Object.entries(pages)) {
    try {
      out[name] = {
        inbound: await inbound(page),
        tiles: await tiles(page),
        trace: await page.evaluate(() => (window.__sfuCall ? window.__sfuCall.log.slice(-25) : [])),
      };
    } catch (err) {
      out[name] = { error: String(err) };
    }
  }
  return out;
}
try {
  const firefox = await puppeteer.launch({
    browser: "firefox", executablePath: firefoxPath, headless: true, defaultViewport: null,
    args: ["--window-size=1280,800"], extraPrefsFirefox: FIREFOX_PREFS, protocolTimeout: WAIT_MS * 2,
  });
  browsers.push(firefox);
  facts.firefoxVersion = await firefox.version();
  const chromium = await puppeteer.launch({
    browser: "chrome", executablePath: chromiumPath, headless: true, defaultViewport: null, args: CHROMIUM_ARGS,
    protocolTimeout: WAIT_MS * 2,
  });
  browsers.push(chromium);

  const ids = {};
  const order = [["ada", chromium], ["fox", firefox], ["bob", chromium]];
  for (const [name, browser] of order) {
    const context = browser === chromium ? await browser.createBrowserContext() : browser.defaultBrowserContext();
    const page = await context.newPage();
    page.on("pageerror", (err) => step("pageerror", { page: name, message: String(err) }));
    pages[name] = page;
    ids[name] = await join(page, name);
    step("joined", { page: name, participantId: ids[name] });
  }
  const names = Object.keys(pages);
  const othersOf = (name) => names.filter((n) => n !== name).map((n) => ids[n]);

  // 1. everyone sees and hears everyone
  for (const name of names) {
    const media = await mediaFrom(pages[name], othersOf(name));
    facts.pages[name] = {
      participantId: ids[name], media, tiles: await tiles(pages[name]),
      // what the page was told around the samples (slots, forwarding states, layers): for a stall
      trace: await pages[name].evaluate(() => (window.__sfuCall ? window.__sfuCall.log.slice(-30) : [])),
    };
    step("media", { page: name });
  }

  // 2. Firefox turns its camera off: the others see it (and the camera's light is really off)
  await pages.fox.click("button[aria-label=Camera]");
  const cameraOff = {};
  for (const name of ["ada", "bob"]) {
    cameraOff[name] = await waitFor(`${name} to see fox's camera off`, async () =>
      (await tiles(pages[name])).find((t) => t.id === ids.fox && t.video === "off"));
  }
  facts.cameraOff = {
    seen: cameraOff,
    foxLocalCamera: await pages.fox.evaluate(() => window.__sfuCall.localTracks.camera === null),
    foxPressed: await pages.fox.evaluate(() => document.querySelector("button[aria-label=Camera]").getAttribute("aria-pressed")),
  };
  step("camera off");
  // ... and on again: a new camera track on Firefox's same sender, and the video is back for the others
  await pages.fox.click("button[aria-label=Camera]");
  facts.cameraBack = {};
  for (const name of ["ada", "bob"]) {
    await waitFor(`${name} to see fox's camera on`, async () =>
      (await tiles(pages[name])).find((t) => t.id === ids.fox && t.video === "on"));
    const before = (await inbound(pages[name])).find((s) => s.participantId === ids.fox && s.source === "camera");
    const after = await waitFor(`fox's video to decode again on ${name}`, async () => {
      const now = (await inbound(pages[name])).find((s) => s.participantId === ids.fox && s.source === "camera");
      return now && before && now.framesDecoded > before.framesDecoded + 10 && now;
    });
    facts.cameraBack[name] = { before: before?.framesDecoded ?? null, after: after.framesDecoded };
  }
  step("camera on");

  // 3. A Chromium screen share plays on Firefox's stage (headless Firefox cannot capture a screen itself)
  await pages.ada.click("button[aria-label='Share screen']");
  const stage = await waitFor("ada's screen on fox's stage", () =>
    pages.fox.evaluate(async () => {
      const v = document.querySelector("[data-testid=screen-stage] video");
      if (!v) return null;
      const t0 = v.currentTime;
      await new Promise((r) => setTimeout(r, 500));
      return v.videoWidth > 0 && v.currentTime > t0 ? { width: v.videoWidth, height: v.videoHeight } : null;
    }));
  const screenStats = await waitFor("screen frames on fox", async () => {
    const s = (await inbound(pages.fox)).find((x) => x.participantId === ids.ada && x.source === "screen");
    return s && s.framesDecoded > 5 && s;
  });
  facts.screenOnFirefox = { ...stage, framesDecoded: screenStats.framesDecoded };
  await pages.ada.click("button[aria-label='Share screen']");
  await waitFor("the stage to close on fox", () =>
    pages.fox.evaluate(() => !document.querySelector("[data-testid=screen-stage]")));
  step("screen share");

  // 4. Firefox leaves: its tile goes away everywhere
  await pages.fox.click("button[aria-label='Leave call']");
  facts.afterLeave = {};
  for (const name of ["ada", "bob"]) {
    facts.afterLeave[name] = await waitFor(`fox's tile to leave ${name}'s page`, async () => {
      const t = await tiles(pages[name]);
      return !t.some((x) => x.id === ids.fox) && t;
    }, 10_000);
  }
  step("left");
  facts.ok = true;
} catch (err) {
  facts.error = String(err?.stack ?? err);
  facts.diagnosis = await diagnose();
} finally {
  for (const browser of browsers) await browser.close().catch(() => undefined);
}
console.log(JSON.stringify(facts));
process.exit(facts.ok ? 0 : 1);
