// When the media connection's network breaks: restart ICE on the same connection first (the server keeps
// the DTLS session, SSRCs and slots), and start a new RTCPeerConnection only if that does not bring it back.
// The page never leaves the room for this.

export type RecoveryAction = "restart-ice" | "new-connection";

export interface IceRecoveryOptions {
  /** How long `disconnected` may last before an ICE restart (a short outage often heals by itself). */
  disconnectedGraceMs?: number;
  /** How long an ICE restart has to reach `connected` before a new peer connection is made. */
  restartTimeoutMs?: number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  log?: (message: string) => void;
  /** The connection's ICE state now: a restart that kept the old path `connected` throughout is a success. */
  state?: () => RTCIceConnectionState;
}

type IceState = RTCIceConnectionState | "closed";

/**
 * The restart policy for one peer connection, driven by its `iceconnectionstatechange` events:
 * - `failed` → restart ICE at once; `disconnected` for more than `disconnectedGraceMs` → restart ICE;
 * - `connected` / `completed` → all is well: timers cleared;
 * - a restart that has not reached `connected` within `restartTimeoutMs` → a new peer connection
 *   (once; the new connection gets its own policy).
 */
export class IceRecovery {
  private graceTimer: unknown = null;
  private restartTimer: unknown = null;
  private restarting = false;
  private done = false;
  readonly counters = { restarts: 0, newConnections: 0 };
  private readonly grace: number;
  private readonly restartTimeout: number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(
    private readonly act: (action: RecoveryAction) => void,
    private readonly options: IceRecoveryOptions = {},
  ) {
    this.grace = options.disconnectedGraceMs ?? 3000;
    this.restartTimeout = options.restartTimeoutMs ?? 8000;
    this.setTimer = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  get restartInProgress(): boolean {
    return this.restarting;
  }

  onState(state: IceState): void {
    if (this.done) return;
    switch (state) {
      case "connected":
      case "completed":
        this.clearGrace();
        this.clearRestart();
        if (this.restarting) this.options.log?.("ICE restart: connected again");
        this.restarting = false;
        break;
      case "disconnected":
        if (this.restarting || this.graceTimer !== null) return;
        this.graceTimer = this.setTimer(() => {
          this.graceTimer = null;
          this.restart("disconnected for too long");
        }, this.grace);
        break;
      case "failed":
        this.clearGrace();
        if (!this.restarting) this.restart("ICE failed");
        break;
      case "closed":
        this.dispose();
        break;
      default:
        break; // new, checking: wait
    }
  }

  /** Restart now (a user or debugging request; also what the policy does). */
  restart(reason = "requested"): void {
    if (this.done) return;
    this.clearGrace();
    this.clearRestart();
    this.restarting = true;
    this.counters.restarts += 1;
    this.options.log?.(`ICE restart (${reason})`);
    this.act("restart-ice");
    this.restartTimer = this.setTimer(() => {
      this.restartTimer = null;
      if (!this.restarting || this.done) return;
      const now = this.options.state?.();
      if (now === "connected" || now === "completed") {
        // the browser may keep the old pair (and the state) through a restart: nothing to rebuild
        this.restarting = false;
        this.options.log?.("ICE restart: still connected");
        return;
      }
      this.options.log?.("ICE restart did not reconnect: new peer connection");
      this.counters.newConnections += 1;
      this.dispose();
      this.act("new-connection");
    }, this.restartTimeout);
  }

  dispose(): void {
    this.done = true;
    this.clearGrace();
    this.clearRestart();
  }

  private clearGrace(): void {
    if (this.graceTimer !== null) this.clearTimer(this.graceTimer);
    this.graceTimer = null;
  }

  private clearRestart(): void {
    if (this.restartTimer !== null) this.clearTimer(this.restartTimer);
    this.restartTimer = null;
  }
}
