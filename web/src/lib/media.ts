// Local devices: getUserMedia with plain-words errors, device lists, level metering.

export interface DeviceChoice {
  cameraId: string | null;
  microphoneId: string | null;
  speakerId: string | null;
}

export interface DeviceLists {
  cameras: MediaDeviceInfo[];
  microphones: MediaDeviceInfo[];
  speakers: MediaDeviceInfo[];
}

export type MediaProblem = "denied" | "no-device" | "in-use" | "insecure" | "other";

export class MediaAccessError extends Error {
  constructor(
    readonly problem: MediaProblem,
    message: string,
  ) {
    super(message);
  }
}

/** 1280x720 where the camera allows: the camera is sent as simulcast, so viewers get 320, 640 or 1280 wide. */
export const VIDEO_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 24, max: 30 },
};

export function explainMediaError(err: unknown, what: string): MediaAccessError {
  const name = err instanceof DOMException || err instanceof Error ? err.name : "";
  if (typeof navigator === "undefined" || !navigator.mediaDevices) {
    return new MediaAccessError(
      "insecure",
      "This page cannot use a camera or microphone: open it over https:// or on localhost.",
    );
  }
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return new MediaAccessError(
        "denied",
        `Access to your ${what} was refused. Allow it in the browser's address bar (the camera icon), then try again — or join as a listener.`,
      );
    case "NotFoundError":
    case "OverconstrainedError":
      return new MediaAccessError("no-device", `No ${what} was found. Plug one in, or join without it.`);
    case "NotReadableError":
    case "AbortError":
      return new MediaAccessError(
        "in-use",
        `Your ${what} could not be started; another application may be using it.`,
      );
    default:
      return new MediaAccessError("other", `Your ${what} could not be started (${String(err)}).`);
  }
}

export async function getCamera(deviceId: string | null): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: deviceId ? { ...VIDEO_CONSTRAINTS, deviceId: { exact: deviceId } } : VIDEO_CONSTRAINTS,
    });
    const track = stream.getVideoTracks()[0];
    if (!track) throw new DOMException("no video track", "NotFoundError");
    track.contentHint = "motion";
    return track;
  } catch (err) {
    throw explainMediaError(err, "camera");
  }
}

export async function getMicrophone(deviceId: string | null): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
      },
    });
    const track = stream.getAudioTracks()[0];
    if (!track) throw new DOMException("no audio track", "NotFoundError");
    return track;
  } catch (err) {
    throw explainMediaError(err, "microphone");
  }
}

export async function getScreen(): Promise<MediaStreamTrack> {
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) throw new DOMException("no screen track", "NotFoundError");
    track.contentHint = "detail";
    return track;
  } catch (err) {
    const name = err instanceof DOMException ? err.name : "";
    if (name === "NotAllowedError") throw new MediaAccessError("denied", "Screen sharing was cancelled or refused.");
    throw new MediaAccessError("other", `Screen sharing could not start (${String(err)}).`);
  }
}

export async function listDevices(): Promise<DeviceLists> {
  if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], microphones: [], speakers: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === "videoinput" && d.deviceId),
    microphones: all.filter((d) => d.kind === "audioinput" && d.deviceId),
    speakers: all.filter((d) => d.kind === "audiooutput" && d.deviceId),
  };
}

export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

/** Root-mean-square level (0..1) of a time-domain byte buffer centred on 128. */
export function rmsLevel(samples: Uint8Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) {
    const v = (s - 128) / 128;
    sum += v * v;
  }
  return Math.min(1, Math.sqrt(sum / samples.length) * 2);
}

/** Calls `onLevel` about 15 times a second with the track's level; returns a stop function. */
export function meterTrack(track: MediaStreamTrack, onLevel: (level: number) => void): () => void {
  const AudioCtx = window.AudioContext;
  if (!AudioCtx) return () => undefined;
  const ctx = new AudioCtx();
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Uint8Array(analyser.fftSize);
  const timer = window.setInterval(() => {
    analyser.getByteTimeDomainData(buf);
    onLevel(track.enabled ? rmsLevel(buf) : 0);
  }, 66);
  return () => {
    window.clearInterval(timer);
    source.disconnect();
    void ctx.close();
  };
}

const STORAGE_KEY = "sfu.devices";

export function loadDeviceChoice(): DeviceChoice {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (raw) {
      const v = JSON.parse(raw) as Partial<DeviceChoice>;
      return {
        cameraId: typeof v.cameraId === "string" ? v.cameraId : null,
        microphoneId: typeof v.microphoneId === "string" ? v.microphoneId : null,
        speakerId: typeof v.speakerId === "string" ? v.speakerId : null,
      };
    }
  } catch {
    /* storage unavailable */
  }
  return { cameraId: null, microphoneId: null, speakerId: null };
}

export function saveDeviceChoice(choice: DeviceChoice): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(choice));
  } catch {
    /* storage unavailable */
  }
}
