import { describe, expect, it } from "vitest";
import { Negotiator, type NegotiationHooks, type PeerLike } from "./negotiation";
import type { Ack, ProtocolError, PublishedTrack, ServerTrack, SessionDescription, SlotDeclaration } from "./protocol";

/** A strict signaling-state machine like the browser's, without implicit rollback. */
class FakePeer implements PeerLike {
  signalingState: RTCSignalingState = "stable";
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  pendingRemote: RTCSessionDescriptionInit | null = null;
  offers = 0;
  offerOptions: (RTCOfferOptions | undefined)[] = [];
  candidates: (RTCIceCandidateInit | undefined)[] = [];
  log: string[] = [];

  async createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
    this.offers += 1;
    this.offerOptions.push(options);
    return { type: "offer", sdp: `client-offer-${this.offers}` };
  }
  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    if (this.signalingState !== "have-remote-offer") throw new Error(`createAnswer in ${this.signalingState}`);
    return { type: "answer", sdp: `answer-to-${this.pendingRemote?.sdp}` };
  }
  async setLocalDescription(d?: RTCSessionDescriptionInit): Promise<void> {
    const type = d?.type;
    this.log.push(`local:${type}`);
    if (type === "rollback") {
      if (this.signalingState === "stable") throw new Error("rollback in stable");
      this.signalingState = "stable";
      this.pendingRemote = null;
      return;
    }
    if (type === "offer") {
      if (this.signalingState !== "stable") throw new Error(`local offer in ${this.signalingState}`);
      this.signalingState = "have-local-offer";
      this.localDescription = d!;
      return;
    }
    if (type === "answer") {
      if (this.signalingState !== "have-remote-offer") throw new Error(`local answer in ${this.signalingState}`);
      this.signalingState = "stable";
      this.localDescription = d!;
      this.remoteDescription = this.pendingRemote;
      return;
    }
    throw new Error(`bad type ${type}`);
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.log.push(`remote:${d.type}`);
    if (d.type === "offer") {
      if (this.signalingState !== "stable") throw new Error(`remote offer in ${this.signalingState}`);
      this.signalingState = "have-remote-offer";
      this.pendingRemote = d;
      this.remoteDescription = d;
      return;
    }
    if (d.type === "answer") {
      if (this.signalingState !== "have-local-offer") throw new Error(`remote answer in ${this.signalingState}`);
      this.signalingState = "stable";
      this.remoteDescription = d;
      return;
    }
    throw new Error("bad type");
  }
  async addIceCandidate(c?: RTCIceCandidateInit | null): Promise<void> {
    if (!this.remoteDescription) throw new Error("no remote description");
    this.candidates.push(c ?? undefined);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

class Harness {
  pc = new FakePeer();
  sent: {
    kind: "offer" | "answer";
    description: SessionDescription;
    tracks?: PublishedTrack[];
    slots?: SlotDeclaration[] | undefined;
    ack?: Deferred<Ack>;
  }[] = [];
  serverTracks: (ServerTrack[] | null)[] = [];
  errors: ProtocolError[] = [];
  timers: { fn: () => void; ms: number }[] = [];
  neg: Negotiator;

  constructor(retryDelaysMs = [100, 200], slots?: SlotDeclaration[]) {
    const hooks: NegotiationHooks = {
      sendOffer: (description, tracks, offeredSlots) => {
        const ack = deferred<Ack>();
        this.sent.push({ kind: "offer", description, tracks, slots: offeredSlots, ack });
        return ack.promise;
      },
      sendAnswer: (description) => {
        this.sent.push({ kind: "answer", description });
        return Promise.resolve({ ok: true });
      },
      describeTracks: () => [{ mid: "0", source: "microphone" }, { mid: "1", source: "camera" }],
      describeSlots: () => slots,
      onServerTracks: (t) => this.serverTracks.push(t),
      onError: (e) => this.errors.push(e),
    };
    this.neg = new Negotiator(this.pc, hooks, {
      retryDelaysMs,
      answerTimeoutMs: 10_000,
      setTimeout: (fn, ms) => {
        const t = { fn, ms };
        this.timers.push(t);
        return t;
      },
      clearTimeout: (h) => {
        this.timers = this.timers.filter((t) => t !== h);
      },
    });
  }

  /** Let queued promise callbacks run. */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      await this.neg.idle();
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  offers() {
    return this.sent.filter((s) => s.kind === "offer");
  }
  answers() {
    return this.sent.filter((s) => s.kind === "answer");
  }
  fireTimers(ms?: number) {
    const due = this.timers.filter((t) => ms === undefined || t.ms === ms);
    this.timers = this.timers.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
  }
}

const serverOffer = (n: number): SessionDescription => ({ type: "offer", sdp: `server-offer-${n}` });
const serverAnswer: SessionDescription = { type: "answer", sdp: "server-answer" };
const tracks: ServerTrack[] = [{ mid: "2", participantId: "p2", kind: "video", source: "camera" }];

describe("Negotiator", () => {
  it("offers first with the published tracks and applies the answer event", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    expect(h.offers()).toHaveLength(1);
    expect(h.offers()[0]!.tracks).toEqual([{ mid: "0", source: "microphone" }, { mid: "1", source: "camera" }]);
    expect(h.pc.signalingState).toBe("have-local-offer");
    h.offers()[0]!.ack!.resolve({ ok: true });
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.pc.signalingState).toBe("stable");
    expect(h.neg.state).toBe("idle");
    expect(h.errors).toEqual([]);
  });

  it("coalesces re-offer requests made while an offer is in flight", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.neg.requestOffer();
    h.neg.requestOffer();
    h.neg.requestOffer();
    await h.settle();
    expect(h.offers()).toHaveLength(1);
    h.offers()[0]!.ack!.resolve({ ok: true });
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.offers()).toHaveLength(2);
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.offers()).toHaveLength(2);
    expect(h.pc.signalingState).toBe("stable");
  });

  it("answers server offers in order and reports their tracks", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.neg.handleServerAnswer(serverAnswer);
    h.neg.handleServerOffer(serverOffer(1), tracks);
    h.neg.handleServerOffer(serverOffer(2), []);
    await h.settle();
    expect(h.answers().map((a) => a.description.sdp)).toEqual(["answer-to-server-offer-1", "answer-to-server-offer-2"]);
    expect(h.serverTracks).toEqual([tracks, []]);
    expect(h.pc.signalingState).toBe("stable");
  });

  it("glare, server offer first: rolls back, answers the server, then re-offers once", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    // A re-offer (say, a screen share) crosses a server offer.
    h.neg.requestOffer();
    await h.settle();
    expect(h.offers()).toHaveLength(2);
    h.neg.handleServerOffer(serverOffer(1), tracks);
    await h.settle();
    expect(h.pc.log).toContain("local:rollback");
    // Our answer went out, then our re-offer.
    expect(h.sent.map((s) => s.kind)).toEqual(["offer", "offer", "answer", "offer"]);
    // The crossed offer's `conflict` arrives late: ignored, no extra offer.
    h.offers()[1]!.ack!.resolve({ ok: false, error: { code: "conflict", message: "server offer pending" } });
    await h.settle();
    expect(h.offers()).toHaveLength(3);
    expect(h.pc.signalingState).toBe("have-local-offer");
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.pc.signalingState).toBe("stable");
    expect(h.errors).toEqual([]);
    expect(h.neg.counters.rollbacks).toBe(1);
  });

  it("glare, conflict first: rolls back and re-offers after answering the server", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.offers()[0]!.ack!.resolve({ ok: false, error: { code: "conflict", message: "server offer pending" } });
    await h.settle();
    expect(h.pc.signalingState).toBe("stable");
    expect(h.offers()).toHaveLength(1);
    h.neg.handleServerOffer(serverOffer(1), tracks);
    await h.settle();
    expect(h.sent.map((s) => s.kind)).toEqual(["offer", "answer", "offer"]);
    // The retry timer firing later finds the re-offer already out.
    h.fireTimers();
    await h.settle();
    expect(h.offers()).toHaveLength(2);
    expect(h.errors).toEqual([]);
  });

  it("retries a refused offer with backoff, then reports the error", async () => {
    const h = new Harness([100, 200]);
    h.neg.requestOffer();
    await h.settle();
    const refuse = async (i: number) => {
      h.offers()[i]!.ack!.resolve({ ok: false, error: { code: "conflict", message: "no media backend" } });
      await h.settle();
    };
    await refuse(0);
    h.fireTimers(100);
    await h.settle();
    expect(h.offers()).toHaveLength(2);
    await refuse(1);
    h.fireTimers(200);
    await h.settle();
    expect(h.offers()).toHaveLength(3);
    await refuse(2);
    expect(h.errors).toEqual([{ code: "conflict", message: "no media backend" }]);
    expect(h.pc.signalingState).toBe("stable");
  });

  it("does not retry a refusal that cannot succeed", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.offers()[0]!.ack!.resolve({ ok: false, error: { code: "forbidden", message: "not a member" } });
    await h.settle();
    expect(h.errors.map((e) => e.code)).toEqual(["forbidden"]);
    expect(h.timers.filter((t) => t.ms !== 10_000)).toEqual([]);
  });

  it("offers again when the answer never comes", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.offers()[0]!.ack!.resolve({ ok: true });
    h.fireTimers(10_000);
    await h.settle();
    h.fireTimers(100);
    await h.settle();
    expect(h.offers()).toHaveLength(2);
  });

  it("buffers server candidates until a remote description exists", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.neg.handleServerCandidate({ candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0" });
    h.neg.handleServerCandidate(null);
    await h.settle();
    expect(h.pc.candidates).toHaveLength(0);
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.pc.candidates).toHaveLength(1);
  });

  it("ignores an answer when no offer is pending, and everything after close", async () => {
    const h = new Harness();
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.pc.signalingState).toBe("stable");
    h.neg.close();
    h.neg.handleServerOffer(serverOffer(1), tracks);
    h.neg.requestOffer();
    await h.settle();
    expect(h.sent).toEqual([]);
  });

  it("sends no answer when the call is left while the answer is being made", async () => {
    const h = new Harness();
    h.neg.requestOffer();
    await h.settle();
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    // the page leaves while its peer connection is still creating the answer to a server offer
    const slow = deferred<void>();
    const createAnswer = h.pc.createAnswer.bind(h.pc);
    h.pc.createAnswer = async () => {
      await slow.promise;
      return createAnswer();
    };
    h.neg.handleServerOffer(serverOffer(1), tracks);
    await new Promise((r) => setTimeout(r, 0));
    h.neg.close();
    slow.resolve();
    await h.settle();
    expect(h.answers()).toEqual([]);
  });

  it("declares the receive slots with every offer in slot mode, and none otherwise", async () => {
    const slots: SlotDeclaration[] = [
      { mid: "2", kind: "audio" },
      { mid: "3", kind: "video" },
    ];
    const h = new Harness([100], slots);
    h.neg.requestOffer();
    await h.settle();
    expect(h.offers()[0]!.slots).toEqual(slots);
    const plain = new Harness();
    plain.neg.requestOffer();
    await plain.settle();
    expect(plain.offers()[0]!.slots).toBeUndefined();
  });

  it("an ICE restart offer carries iceRestart until one is answered, also after a refusal", async () => {
    const h = new Harness([100, 200]);
    h.neg.requestOffer();
    await h.settle();
    h.offers()[0]!.ack!.resolve({ ok: true });
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    expect(h.pc.offerOptions).toEqual([undefined]);
    h.neg.requestOffer({ iceRestart: true });
    await h.settle();
    expect(h.pc.offerOptions[1]).toEqual({ iceRestart: true });
    // refused (say, rate limited): the retry restarts ICE too
    h.offers()[1]!.ack!.resolve({ ok: false, error: { code: "rate_limited", message: "slow down" } });
    await h.settle();
    h.fireTimers(100);
    await h.settle();
    expect(h.pc.offerOptions[2]).toEqual({ iceRestart: true });
    h.offers()[2]!.ack!.resolve({ ok: true });
    h.neg.handleServerAnswer(serverAnswer);
    await h.settle();
    // answered: the next ordinary re-offer keeps the new credentials
    h.neg.requestOffer();
    await h.settle();
    expect(h.pc.offerOptions[3]).toBeUndefined();
    expect(h.errors).toEqual([]);
  });
});
