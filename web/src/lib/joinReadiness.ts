// Whether the pre-join screen may hand its devices to the call yet, and what to say about missing ones.

/** A device on the pre-join screen: not wanted, being started, working, or refused/missing. */
export type DeviceStatus = "off" | "starting" | "ready" | "failed";

export interface DeviceState {
  status: DeviceStatus;
  error: string | null;
}

/** Devices Join still waits for (so a quick click does not join without a microphone that is on its way). */
export function waitingFor(microphone: DeviceState, camera: DeviceState): string[] {
  const names: string[] = [];
  if (microphone.status === "starting") names.push("microphone");
  if (camera.status === "starting") names.push("camera");
  return names;
}

export function waitingText(names: string[]): string {
  return names.length ? `Waiting for your ${names.join(" and ")}…` : "";
}

/** What the call page says after joining with less than was asked for (null: everything is there). */
export function joinNotes(microphone: DeviceState, camera: DeviceState, cameraWanted: boolean): string | null {
  const missing: string[] = [];
  if (microphone.status !== "ready") {
    missing.push(`without your microphone${microphone.error ? ` (${microphone.error})` : ""}`);
  }
  if (cameraWanted && camera.status !== "ready") {
    missing.push(`without your camera${camera.error ? ` (${camera.error})` : ""}`);
  }
  if (!missing.length) return null;
  return `You joined ${missing.join(" and ")}. Turn it on from the control bar when it is ready.`;
}
