import { describe, expect, it } from "vitest";
import { IceRecovery, type RecoveryAction } from "./iceRecovery";

/** Timers under the test's control: `advance(ms)` runs whatever falls due. */
function clock() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    setTimeout: (fn: () => void, ms: number) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimeout: (h: unknown) => {
      timers = timers.filter((t) => t !== h);
    },
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}

function setup() {
  const c = clock();
  const actions: RecoveryAction[] = [];
  const r = new IceRecovery((a) => actions.push(a), { setTimeout: c.setTimeout, clearTimeout: c.clearTimeout });
  return { c, actions, r };
}

describe("IceRecovery", () => {
  it("restarts ICE at once when it fails", () => {
    const { actions, r } = setup();
    r.onState("connected");
    r.onState("failed");
    expect(actions).toEqual(["restart-ice"]);
    expect(r.restartInProgress).toBe(true);
  });

  it("gives a disconnected link 3 s, then restarts", () => {
    const { c, actions, r } = setup();
    r.onState("connected");
    r.onState("disconnected");
    c.advance(2900);
    expect(actions).toEqual([]);
    c.advance(200);
    expect(actions).toEqual(["restart-ice"]);
  });

  it("does nothing when a disconnection heals by itself", () => {
    const { c, actions, r } = setup();
    r.onState("disconnected");
    c.advance(2000);
    r.onState("connected");
    c.advance(20_000);
    expect(actions).toEqual([]);
  });

  it("a restart that reconnects is the end of it", () => {
    const { c, actions, r } = setup();
    r.onState("failed");
    r.onState("checking");
    c.advance(1500);
    r.onState("connected");
    c.advance(20_000);
    expect(actions).toEqual(["restart-ice"]);
    expect(r.counters).toEqual({ restarts: 1, newConnections: 0 });
    // a later outage is handled again
    r.onState("failed");
    expect(actions).toEqual(["restart-ice", "restart-ice"]);
  });

  it("falls back to a new peer connection when the restart has not reconnected within 8 s", () => {
    const { c, actions, r } = setup();
    r.onState("disconnected");
    c.advance(3000);
    r.onState("checking");
    r.onState("failed"); // the old path giving up meanwhile does not start a second restart
    c.advance(7900);
    expect(actions).toEqual(["restart-ice"]);
    c.advance(200);
    expect(actions).toEqual(["restart-ice", "new-connection"]);
    // this policy is done: the new connection has its own
    r.onState("failed");
    c.advance(20_000);
    expect(actions).toEqual(["restart-ice", "new-connection"]);
  });

  it("a requested restart follows the same rules; closing stops everything", () => {
    const { c, actions, r } = setup();
    r.restart();
    expect(actions).toEqual(["restart-ice"]);
    r.onState("closed");
    c.advance(20_000);
    expect(actions).toEqual(["restart-ice"]);
  });

  it("a restart during which the connection never left `connected` needs no new connection", () => {
    const c = clock();
    const actions: RecoveryAction[] = [];
    let state: RTCIceConnectionState = "connected";
    const r = new IceRecovery((a) => actions.push(a), { setTimeout: c.setTimeout, clearTimeout: c.clearTimeout, state: () => state });
    r.restart();
    c.advance(10_000);
    expect(actions).toEqual(["restart-ice"]);
    expect(r.restartInProgress).toBe(false);
    state = "disconnected";
    r.onState("disconnected");
    c.advance(3000);
    c.advance(8000);
    expect(actions).toEqual(["restart-ice", "restart-ice", "new-connection"]);
  });
});
