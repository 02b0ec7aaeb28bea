// The negotiation queue for one SFU connection (issue 3, "Exact rules"):
// - the client offers first, right after joining; the answer comes as a `video:answer` event;
// - the server re-offers whenever what we receive changes; we answer each of its offers in order;
// - one negotiation at a time: operations on the peer connection run one after another;
// - glare: a client offer that crosses a server offer is refused with `conflict`; we roll ours back,
//   answer the server's offer, then offer again.
import type { Ack, ProtocolError, PublishedTrack, ServerTrack, SessionDescription, SlotDeclaration } from "./protocol";

/** What the negotiator needs of an RTCPeerConnection (a fake one in tests). */
export interface PeerLike {
  readonly signalingState: RTCSignalingState;
  readonly remoteDescription: RTCSessionDescription | RTCSessionDescriptionInit | null;
  readonly localDescription: RTCSessionDescription | RTCSessionDescriptionInit | null;
  createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>;
  createAnswer(): Promise<RTCSessionDescriptionInit>;
  setLocalDescription(description?: RTCSessionDescriptionInit): Promise<void>;
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void>;
}

export interface NegotiationHooks {
  /** Send `video:offer`; resolves with its acknowledgement. `slots`: the receive slots, in slot mode. */
  sendOffer(description: SessionDescription, tracks: PublishedTrack[], slots?: SlotDeclaration[]): Promise<Ack>;
  /** Send `video:answer` to the server's offer. */
  sendAnswer(description: SessionDescription): Promise<Ack> | void;
  /** The tracks our current local offer publishes (read after setLocalDescription, when mids exist). */
  describeTracks(): PublishedTrack[];
  /** The receive slots the offer declares (slot mode; read after setLocalDescription); undefined: none. */
  describeSlots?(): SlotDeclaration[] | undefined;
  /** The server's view of what it sends us changed (after one of its offers was applied). */
  onServerTracks(tracks: ServerTrack[] | null): void;
  /** A negotiation that cannot succeed (shown to the user). */
  onError(error: ProtocolError): void;
  /** Called when a negotiation round finishes and nothing is queued. */
  onSettled?(): void;
  log?(message: string): void;
}

export interface NegotiatorOptions {
  /** Delays before re-offering after a refused offer; past the last, onError. */
  retryDelaysMs?: number[];
  /** How long to wait for the server's `video:answer` before offering again. */
  answerTimeoutMs?: number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
}

type Phase = "idle" | "offering" | "answering" | "closed";

const DEFAULT_RETRIES = [300, 700, 1500, 3000, 5000, 8000];

function toDescription(d: RTCSessionDescriptionInit | RTCSessionDescription | null): SessionDescription {
  if (!d || (d.type !== "offer" && d.type !== "answer") || typeof d.sdp !== "string") {
    throw new Error("no local description");
  }
  return { type: d.type, sdp: d.sdp };
}

export class Negotiator {
  private phase: Phase = "idle";
  private wantOffer = false;
  /** The next offers restart ICE until one of them is answered. */
  private iceRestart = false;
  private attempt = 0;
  private failures = 0;
  private chain: Promise<void> = Promise.resolve();
  private pendingCandidates: (RTCIceCandidateInit | null)[] = [];
  private retryTimer: unknown = null;
  private answerTimer: unknown = null;
  private readonly retryDelays: number[];
  private readonly answerTimeoutMs: number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  /** Counts, for tests and the settings modal. */
  readonly counters = { offersSent: 0, answersSent: 0, serverOffers: 0, conflicts: 0, rollbacks: 0 };

  constructor(
    private readonly pc: PeerLike,
    private readonly hooks: NegotiationHooks,
    options: NegotiatorOptions = {},
  ) {
    this.retryDelays = options.retryDelaysMs ?? DEFAULT_RETRIES;
    this.answerTimeoutMs = options.answerTimeoutMs ?? 10000;
    this.setTimer = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  get state(): Phase {
    return this.phase;
  }

  /** Resolves once every queued operation has run (tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Ask for a (re-)offer: the first one after joining, or after adding/removing a track. Coalesces.
   * `iceRestart`: the offer carries new ICE credentials (also after a rollback or a refusal, until answered).
   */
  requestOffer(options: { iceRestart?: boolean } = {}): void {
    if (options.iceRestart) this.iceRestart = true;
    this.wantOffer = true;
    this.failures = 0;
    this.run(() => this.pump());
  }

  handleServerOffer(description: SessionDescription, tracks: ServerTrack[] | undefined): void {
    this.run(async () => {
      if (this.phase === "closed") return;
      this.counters.serverOffers += 1;
      if (this.phase === "offering") {
        // Glare: the server will refuse our offer with `conflict`. Roll ours back, answer theirs, re-offer.
        this.hooks.log?.("glare: rolling back our offer to answer the server's");
        await this.rollback();
        this.wantOffer = true;
      }
      this.phase = "answering";
      try {
        await this.pc.setRemoteDescription(description);
        await this.flushCandidates();
        this.hooks.onServerTracks(tracks ?? null);
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        if (this.isClosed()) return; // we left meanwhile: an answer now would reach a connection that is gone
        this.counters.answersSent += 1;
        const sent = this.hooks.sendAnswer(toDescription(this.pc.localDescription ?? answer));
        if (sent) {
          void sent.then((ack) => {
            if (ack && !ack.ok) this.hooks.log?.(`answer refused: ${ack.error.code} ${ack.error.message}`);
          });
        }
      } catch (err) {
        this.hooks.log?.(`applying the server's offer failed: ${String(err)}`);
        if (this.pc.signalingState === "have-remote-offer") await this.rollback();
        this.hooks.onError({ code: "internal", message: `could not apply the server's offer: ${String(err)}` });
      } finally {
        if (this.phase === "answering") this.phase = "idle";
      }
      await this.pump();
    });
  }

  handleServerAnswer(description: SessionDescription): void {
    this.run(async () => {
      if (this.phase !== "offering" || this.pc.signalingState !== "have-local-offer") {
        this.hooks.log?.("ignoring an answer to an offer no longer pending");
        return;
      }
      this.clearAnswerTimer();
      try {
        await this.pc.setRemoteDescription(description);
        await this.flushCandidates();
        this.failures = 0;
        this.iceRestart = false;
      } catch (err) {
        this.hooks.log?.(`applying the server's answer failed: ${String(err)}`);
        await this.rollback();
        this.hooks.onError({ code: "internal", message: `could not apply the server's answer: ${String(err)}` });
      }
      this.phase = "idle";
      await this.pump();
    });
  }

  /** A trickled candidate from the server: applied once a remote description exists. */
  handleServerCandidate(candidate: RTCIceCandidateInit | null): void {
    this.run(async () => {
      if (this.phase === "closed") return;
      if (!this.pc.remoteDescription) {
        this.pendingCandidates.push(candidate);
        return;
      }
      await this.addCandidate(candidate);
    });
  }

  close(): void {
    this.phase = "closed";
    this.wantOffer = false;
    this.clearAnswerTimer();
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    this.retryTimer = null;
  }

  /** close() may run while an operation awaits the peer connection (a leave during a negotiation). */
  private isClosed(): boolean {
    return this.phase === "closed";
  }

  private run(op: () => Promise<void>): void {
    this.chain = this.chain.then(op).catch((err: unknown) => {
      this.hooks.log?.(`negotiation step failed: ${String(err)}`);
    });
  }

  private async pump(): Promise<void> {
    if (this.phase !== "idle" || !this.wantOffer) {
      if (this.phase === "idle" && !this.wantOffer) this.hooks.onSettled?.();
      return;
    }
    if (this.pc.signalingState !== "stable") return;
    this.wantOffer = false;
    this.phase = "offering";
    const attempt = ++this.attempt;
    let description: SessionDescription;
    let tracks: PublishedTrack[];
    let slots: SlotDeclaration[] | undefined;
    try {
      const offer = await this.pc.createOffer(this.iceRestart ? { iceRestart: true } : undefined);
      await this.pc.setLocalDescription(offer);
      if (this.isClosed()) return;
      description = toDescription(this.pc.localDescription ?? offer);
      tracks = this.hooks.describeTracks();
      slots = this.hooks.describeSlots?.();
    } catch (err) {
      this.phase = "idle";
      this.hooks.onError({ code: "internal", message: `could not create an offer: ${String(err)}` });
      return;
    }
    this.counters.offersSent += 1;
    this.startAnswerTimer(attempt);
    // Not awaited: the chain must stay free for a server offer that crosses ours.
    if (this.iceRestart) this.hooks.log?.("offer restarts ICE");
    this.hooks
      .sendOffer(description, tracks, slots)
      .then((ack) => {
        if (!ack.ok) this.run(() => this.offerRefused(attempt, ack.error));
      })
      .catch((err: unknown) => {
        this.run(() => this.offerRefused(attempt, { code: "internal", message: String(err) }));
      });
  }

  private async offerRefused(attempt: number, error: ProtocolError): Promise<void> {
    if (attempt !== this.attempt || this.phase === "closed") return; // a glare we already handled
    if (this.phase !== "offering") return;
    this.clearAnswerTimer();
    await this.rollback();
    this.phase = "idle";
    if (error.code === "conflict") this.counters.conflicts += 1;
    const retryable = error.code === "conflict" || error.code === "rate_limited" || error.code === "internal";
    if (!retryable || this.failures >= this.retryDelays.length) {
      this.hooks.onError(error);
      return;
    }
    // After glare the server's offer is on its way: answering it pumps our re-offer. If none comes
    // (a refusal for another reason), offer again after a delay.
    const delay = this.retryDelays[this.failures] ?? 1000;
    this.failures += 1;
    this.wantOffer = true;
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    this.retryTimer = this.setTimer(() => {
      this.retryTimer = null;
      this.run(() => this.pump());
    }, delay);
  }

  private startAnswerTimer(attempt: number): void {
    this.clearAnswerTimer();
    this.answerTimer = this.setTimer(() => {
      this.answerTimer = null;
      this.run(() => this.offerRefused(attempt, { code: "internal", message: "no answer from the server" }));
    }, this.answerTimeoutMs);
  }

  private clearAnswerTimer(): void {
    if (this.answerTimer !== null) this.clearTimer(this.answerTimer);
    this.answerTimer = null;
  }

  private async rollback(): Promise<void> {
    if (this.pc.signalingState === "stable") return;
    this.counters.rollbacks += 1;
    try {
      await this.pc.setLocalDescription({ type: "rollback" });
    } catch (err) {
      this.hooks.log?.(`rollback failed: ${String(err)}`);
    }
  }

  private async flushCandidates(): Promise<void> {
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of pending) await this.addCandidate(c);
  }

  private async addCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (!candidate || !candidate.candidate) return; // end-of-candidates: nothing to do
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      this.hooks.log?.(`ignored a server candidate: ${String(err)}`);
    }
  }
}
