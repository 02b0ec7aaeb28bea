// Publishing the camera as simulcast (docs/protocol.md, "Simulcast" and "Layers nobody needs").

/** Rids lowest quality first, as the server expects. */
export const FULL_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/** A small capture (about 640x480): two layers, the full one at the middle layer's bitrate. */
export const SMALL_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: "q", scaleResolutionDownBy: 2, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 1, maxBitrate: 500_000 },
];

/** `scalabilityMode` is in the WebRTC spec but not yet in TypeScript's DOM types for encodings. */
export type Encoding = RTCRtpEncodingParameters & { scalabilityMode?: string };

/**
 * The encodings for a camera of this size: three layers from 960x540 up, two from 480x270 (the quarter
 * layer would be a postage stamp), none (one plain encoding) below. Unknown size: three.
 * `oneTemporalLayer`: ask for L1T1 on every layer. Chromium's default for simulcast VP8 is three temporal
 * layers (L1T3). The server forwards every frame and never thins a stream by temporal layer, and with three
 * a viewer that misses a packet drops that frame (and those that refer to it) instead of waiting for the
 * retransmission: at 3% loss per hop, about 90 dropped frames a minute and more freezes than a direct call,
 * which sends L1T1 (docs/benchmarks.md, "Temporal layers under loss"). Browsers list no scalability modes
 * in getCapabilities (Chromium 156), so the caller asks and, if refused, asks again without.
 */
export function cameraEncodings(width: number | undefined, height: number | undefined, oneTemporalLayer = false): Encoding[] | null {
  let layers: RTCRtpEncodingParameters[] | null = FULL_LAYERS;
  if (width && height) {
    const long = Math.max(width, height);
    const short = Math.min(width, height);
    layers = long >= 960 && short >= 540 ? FULL_LAYERS : long >= 480 && short >= 270 ? SMALL_LAYERS : null;
  }
  if (!layers) return null;
  return layers.map((e) => (oneTemporalLayer ? { ...e, scalabilityMode: "L1T1" } : { ...e }));
}


/**
 * Set `active` on each encoding from the server's list of needed rids. The lowest layer stays on whatever
 * the list says (a subscriber may start watching at any moment). Returns whether anything changed.
 */
export function applyActiveLayers(encodings: RTCRtpEncodingParameters[], active: string[]): boolean {
  const wanted = new Set(active);
  let changed = false;
  encodings.forEach((e, i) => {
    if (!e.rid) return;
    const on = i === 0 || wanted.has(e.rid);
    if ((e.active ?? true) !== on) {
      e.active = on;
      changed = true;
    }
  });
  return changed;
}

/**
 * Can this browser send simulcast the way we ask for it (`addTransceiver` with `sendEncodings` and rids)?
 * Chromium and Firefox can (Firefox offers the rid extensions without listing them in getCapabilities, so
 * that is no test); a browser that ignores the rids simply sends one layer.
 */
export function simulcastSupported(): boolean {
  return typeof RTCRtpSender !== "undefined" && typeof RTCRtpSender.prototype.setParameters === "function";
}
