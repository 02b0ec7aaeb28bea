// Injected into every measured page before its own scripts: keeps every RTCPeerConnection the page
// creates (the web client hides its own), logs ICE/connection state changes, and samples getStats()
// on a timer so a run can be analysed afterwards with the page's own clock (Date.now()).
(() => {
  if (window.__probe) return;
  const Native = window.RTCPeerConnection;
  const pcs = [];
  const events = [];
  class ProbedPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      pcs.push(this);
      const n = pcs.length;
      events.push([Date.now(), n, "created"]);
      this.addEventListener("iceconnectionstatechange", () => events.push([Date.now(), n, "ice:" + this.iceConnectionState]));
      this.addEventListener("connectionstatechange", () => events.push([Date.now(), n, "pc:" + this.connectionState]));
    }
  }
  window.RTCPeerConnection = ProbedPeerConnection;

  const KEYS = {
    inVideo: ["framesDecoded", "framesReceived", "framesDropped", "keyFramesDecoded", "freezeCount", "totalFreezesDuration",
      "pauseCount", "totalPausesDuration", "framesPerSecond", "frameWidth", "frameHeight", "packetsLost", "packetsReceived",
      "nackCount", "pliCount", "firCount", "bytesReceived", "retransmittedPacketsReceived", "jitter"],
    inAudio: ["concealedSamples", "silentConcealedSamples", "totalSamplesReceived", "concealmentEvents", "packetsLost",
      "packetsReceived", "nackCount", "jitter", "bytesReceived"],
    outVideo: ["targetBitrate", "packetsSent", "retransmittedPacketsSent", "bytesSent", "nackCount", "pliCount", "firCount",
      "frameWidth", "frameHeight", "framesPerSecond", "framesEncoded", "keyFramesEncoded", "qualityLimitationReason",
      "scalabilityMode"],
    outAudio: ["targetBitrate", "packetsSent", "retransmittedPacketsSent", "bytesSent", "nackCount"],
    pair: ["availableOutgoingBitrate", "currentRoundTripTime", "requestsSent", "responsesReceived", "packetsSent",
      "packetsReceived", "bytesSent", "bytesReceived"],
  };
  const pick = (s, keys) => {
    const o = {};
    for (const k of keys) if (s && s[k] !== undefined) o[k] = s[k];
    return o;
  };
  const biggest = (list, kind, field) =>
    list.filter((s) => s.kind === kind).sort((a, b) => (b[field] ?? 0) - (a[field] ?? 0))[0];

  async function sample() {
    const live = pcs.filter((pc) => pc.connectionState !== "closed");
    const pc = live[live.length - 1];
    const out = { t: Date.now(), pcs: pcs.length };
    if (!pc) return out;
    out.pc = pcs.indexOf(pc) + 1;
    out.state = pc.connectionState;
    out.ice = pc.iceConnectionState;
    const report = await pc.getStats();
    const byType = {};
    report.forEach((s) => (byType[s.type] ||= []).push(s));
    const inbound = byType["inbound-rtp"] || [];
    const outbound = byType["outbound-rtp"] || [];
    out.inVideo = pick(biggest(inbound, "video", "bytesReceived"), KEYS.inVideo);
    out.inAudio = pick(biggest(inbound, "audio", "bytesReceived"), KEYS.inAudio);
    out.outVideo = pick(biggest(outbound, "video", "bytesSent"), KEYS.outVideo);
    // A simulcast camera has one outbound-rtp per layer: its encoder's target is their sum.
    const camera = biggest(outbound, "video", "bytesSent");
    const layers = camera ? outbound.filter((s) => s.kind === "video" && s.mediaSourceId === camera.mediaSourceId) : [];
    if (layers.length > 1) out.outVideo.targetBitrate = layers.reduce((n, s) => n + (s.targetBitrate ?? 0), 0);
    out.outAudio = pick(biggest(outbound, "audio", "bytesSent"), KEYS.outAudio);
    // Every RTP packet sent, all streams (RTX included): what the impairer must have seen at least.
    out.rtpSent = outbound.reduce((n, s) => n + (s.packetsSent ?? 0), 0);
    const transport = (byType["transport"] || [])[0];
    const pair = transport && report.get(transport.selectedCandidatePairId);
    if (pair) {
      out.pair = pick(pair, KEYS.pair);
      out.pair.localPort = report.get(pair.localCandidateId)?.port;
      out.pair.remotePort = report.get(pair.remoteCandidateId)?.port;
    }
    out.localPorts = (byType["local-candidate"] || []).map((c) => c.port);
    return out;
  }

  const samples = [];
  let running = false;
  async function loop(ms) {
    while (running) {
      try {
        samples.push(await sample());
      } catch (e) {
        samples.push({ t: Date.now(), error: String(e) });
      }
      await new Promise((r) => setTimeout(r, ms));
    }
  }
  window.__probe = {
    pcs, events, sample,
    start(ms) {
      if (running) return;
      running = true;
      void loop(ms);
    },
    stop() { running = false; },
    take() { return samples.splice(0); },
  };
})();
