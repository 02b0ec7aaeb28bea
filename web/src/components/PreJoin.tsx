import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { loadName, saveName } from "../lib/identity";
import {
  canChooseSpeaker,
  getCamera,
  getMicrophone,
  listDevices,
  loadDeviceChoice,
  MediaAccessError,
  meterTrack,
  saveDeviceChoice,
  type DeviceChoice,
  type DeviceLists,
} from "../lib/media";
import type { JoinOptions } from "../lib/callClient";
import { joinNotes, waitingFor, waitingText, type DeviceState } from "../lib/joinReadiness";
import { DeviceSelect } from "./DeviceSelect";
import styles from "./PreJoin.module.css";

/** What the pre-join screen decides: the call client's options, less what the page knows itself. */
export interface JoinChoice
  extends Pick<
    JoinOptions,
    "displayName" | "token" | "listener" | "microphone" | "camera" | "audioEnabled" | "videoEnabled"
  > {
  devices: DeviceChoice;
  /** Said on the call page when we joined with less than was asked for (e.g. no microphone yet). */
  note: string | null;
}

/** Longest Join waits for a device that is still starting before it joins with what it has. */
const DEVICE_WAIT_MS = 10_000;

interface Props {
  roomId: string;
  linkToken: string | null;
  connectError: string | null;
  notice: string | null;
  onJoin: (choice: JoinChoice) => void;
  onHome: () => void;
}

function problemText(err: unknown): string {
  return err instanceof MediaAccessError ? err.message : String(err);
}

export function PreJoin({ roomId, linkToken, connectError, notice, onJoin, onHome }: Props) {
  const [name, setName] = useState(loadName);
  const [token, setToken] = useState(linkToken ?? "");
  const [showToken, setShowToken] = useState(Boolean(connectError) && !linkToken);
  const [devices, setDevices] = useState<DeviceLists>({ cameras: [], microphones: [], speakers: [] });
  const [choice, setChoice] = useState<DeviceChoice>(loadDeviceChoice);
  const [camOn, setCamOn] = useState(true);
  const [micOn, setMicOn] = useState(true);
  const [camera, setCamera] = useState<MediaStreamTrack | null>(null);
  const [microphone, setMicrophone] = useState<MediaStreamTrack | null>(null);
  const [camError, setCamError] = useState<string | null>(null);
  const [micError, setMicError] = useState<string | null>(null);
  const [camStarting, setCamStarting] = useState(true);
  const [micStarting, setMicStarting] = useState(true);
  const [micAttempt, setMicAttempt] = useState(0);
  const [joining, setJoining] = useState(false);
  const [level, setLevel] = useState(0);
  const videoRef = useRef<HTMLVideoElement>(null);
  const handedOff = useRef(false);
  const tracksRef = useRef<{ camera: MediaStreamTrack | null; microphone: MediaStreamTrack | null }>({
    camera: null,
    microphone: null,
  });

  useEffect(() => {
    if (connectError) setShowToken(true);
  }, [connectError]);

  const refreshDevices = useCallback(() => {
    void listDevices().then(setDevices);
  }, []);

  // Camera preview: (re)acquired when turned on or when another camera is chosen.
  useEffect(() => {
    if (!camOn) {
      setCamera(null);
      setCamStarting(false);
      return;
    }
    setCamStarting(true);
    let cancelled = false;
    let got: MediaStreamTrack | null = null;
    getCamera(choice.cameraId)
      .catch((err: unknown) => (choice.cameraId ? getCamera(null) : Promise.reject(err)))
      .then((t) => {
        if (cancelled) {
          t.stop();
          return;
        }
        got = t;
        setCamera(t);
        setCamError(null);
        setCamStarting(false);
        refreshDevices();
      })
      .catch((err: unknown) => {
        if (!cancelled) {
          setCamError(problemText(err));
          setCamOn(false);
          setCamStarting(false);
        }
      });
    return () => {
      cancelled = true;
      if (got && !handedOff.current) got.stop();
    };
  }, [camOn, choice.cameraId, refreshDevices]);

  // Microphone: kept while on the page (muting only disables it), so the level meter works.
  useEffect(() => {
    let cancelled = false;
    let got: MediaStreamTrack | null = null;
    setMicStarting(true);
    getMicrophone(choice.microphoneId)
      .catch((err: unknown) => (choice.microphoneId ? getMicrophone(null) : Promise.reject(err)))
      .then((t) => {
        if (cancelled) {
          t.stop();
          return;
        }
        got = t;
        setMicrophone(t);
        setMicError(null);
        setMicStarting(false);
        refreshDevices();
      })
      .catch((err: unknown) => {
        if (!cancelled) {
          setMicError(problemText(err));
          setMicrophone(null);
          setMicStarting(false);
        }
      });
    return () => {
      cancelled = true;
      if (got && !handedOff.current) got.stop();
    };
  }, [choice.microphoneId, micAttempt, refreshDevices]);

  useEffect(() => {
    tracksRef.current = { camera, microphone };
  }, [camera, microphone]);

  useEffect(() => {
    if (microphone) microphone.enabled = micOn;
  }, [microphone, micOn]);

  useEffect(() => {
    if (!microphone) {
      setLevel(0);
      return;
    }
    return meterTrack(microphone, setLevel);
  }, [microphone]);

  useEffect(() => {
    const v = videoRef.current;
    if (!v) return;
    v.srcObject = camera ? new MediaStream([camera]) : null;
    if (camera) void v.play().catch(() => undefined);
  }, [camera]);

  useEffect(() => {
    refreshDevices();
    navigator.mediaDevices?.addEventListener?.("devicechange", refreshDevices);
    return () => navigator.mediaDevices?.removeEventListener?.("devicechange", refreshDevices);
  }, [refreshDevices]);

  const updateChoice = (patch: Partial<DeviceChoice>) => {
    setChoice((c) => {
      const next = { ...c, ...patch };
      saveDeviceChoice(next);
      return next;
    });
  };

  const micState: DeviceState = { status: micStarting ? "starting" : microphone ? "ready" : "failed", error: micError };
  const camState: DeviceState = {
    status: camStarting ? "starting" : camera ? "ready" : camOn || camError ? "failed" : "off",
    error: camError,
  };
  const waiting = waitingFor(micState, camState);

  const cleanName = name.trim().slice(0, 64);
  const join = (listener: boolean) => {
    if (!cleanName) return;
    saveName(cleanName);
    const { camera: cam, microphone: mic } = tracksRef.current;
    handedOff.current = !listener;
    if (listener) {
      cam?.stop();
      mic?.stop();
    }
    onJoin({
      displayName: cleanName,
      token: token.trim() || null,
      listener,
      microphone: listener ? null : mic,
      camera: listener || !camOn ? null : cam,
      audioEnabled: !listener && micOn && Boolean(mic),
      videoEnabled: !listener && camOn && Boolean(cam),
      devices: choice,
      note: listener ? null : joinNotes(micState, camState, camOn || Boolean(camError)),
    });
  };
  // Join clicked while the microphone or camera is still starting: join once they are there (or failed),
  // or after DEVICE_WAIT_MS with what there is.
  const joinRef = useRef(join);
  joinRef.current = join;
  useEffect(() => {
    if (!joining) return;
    if (waiting.length === 0) {
      setJoining(false);
      joinRef.current(false);
      return;
    }
    const timer = window.setTimeout(() => {
      setJoining(false);
      joinRef.current(false);
    }, DEVICE_WAIT_MS);
    return () => window.clearTimeout(timer);
  }, [joining, waiting.length]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!cleanName || joining) return;
    setJoining(true);
  };

  return (
    <main className={styles.page}>
      <form className={styles.card} onSubmit={submit} aria-labelledby="prejoin-title">
        <h1 id="prejoin-title" className={styles.title}>
          Ready to join <span data-testid="prejoin-room">{roomId}</span>?
        </h1>
        {notice && <p className={styles.notice} role="status">{notice}</p>}
        {connectError && (
          <p className={styles.error} role="alert" data-testid="connect-error">
            The server refused the connection: {connectError}
          </p>
        )}
        <div className={styles.layout}>
          <div className={styles.preview}>
            {camera ? (
              <video ref={videoRef} muted playsInline autoPlay aria-label="Your camera preview" />
            ) : (
              <div className={styles.previewOff} data-testid="preview-status">
                <video ref={videoRef} muted playsInline hidden />
                {camError ?? (camOn ? "Starting your camera…" : "Your camera is off.")}
              </div>
            )}
            <div className={styles.previewButtons}>
              <button
                type="button"
                className={styles.round}
                aria-pressed={micOn && Boolean(microphone)}
                aria-label="Microphone"
                title={micError ? "Microphone: try again" : micOn ? "Join with the microphone on" : "Join muted"}
                disabled={micStarting}
                onClick={() => {
                  if (!microphone) {
                    // refused or missing before: ask again
                    setMicOn(true);
                    setMicAttempt((n) => n + 1);
                  } else setMicOn((v) => !v);
                }}
              >
                {micStarting ? "Mic…" : !microphone ? "No mic" : micOn ? "Mic on" : "Mic muted"}
              </button>
              <button
                type="button"
                className={styles.round}
                aria-pressed={camOn}
                aria-label="Camera"
                title={camOn ? "Join with the camera on" : "Join with the camera off"}
                onClick={() => {
                  setCamError(null);
                  setCamOn((v) => !v);
                }}
              >
                {camOn ? "Camera on" : "Camera off"}
              </button>
            </div>
          </div>
          <div className={styles.side}>
            <label className={styles.field}>
              <span>Your name</span>
              <input
                name="displayName"
                value={name}
                onChange={(e) => setName(e.target.value)}
                maxLength={64}
                required
                autoFocus
                placeholder="Your name"
              />
            </label>
            <div className={styles.field}>
              <span id="mic-level-label">Microphone level</span>
              <div
                className={styles.meter}
                role="meter"
                aria-labelledby="mic-level-label"
                aria-valuemin={0}
                aria-valuemax={100}
                aria-valuenow={Math.round(level * 100)}
              >
                <div className={styles.meterFill} style={{ width: `${Math.round(level * 100)}%` }} />
              </div>
              {micError && <span role="alert">{micError}</span>}
            </div>
            <DeviceSelect
              label="Camera"
              devices={devices.cameras}
              value={choice.cameraId ?? camera?.getSettings().deviceId ?? ""}
              onChange={(id) => updateChoice({ cameraId: id })}
            />
            <DeviceSelect
              label="Microphone"
              devices={devices.microphones}
              value={choice.microphoneId ?? microphone?.getSettings().deviceId ?? ""}
              onChange={(id) => updateChoice({ microphoneId: id })}
            />
            {canChooseSpeaker() && (
              <DeviceSelect
                label="Speaker"
                devices={devices.speakers}
                value={choice.speakerId ?? ""}
                onChange={(id) => updateChoice({ speakerId: id })}
              />
            )}
            {showToken ? (
              <label className={styles.field}>
                <span>Access token</span>
                <textarea
                  name="token"
                  rows={2}
                  value={token}
                  onChange={(e) => setToken(e.target.value)}
                  placeholder="Paste the token from your invitation"
                />
              </label>
            ) : (
              <button type="button" className={styles.link} onClick={() => setShowToken(true)}>
                I have an access token
              </button>
            )}
            {joining && waiting.length > 0 && (
              <p className={styles.hint} role="status" data-testid="join-waiting">
                {waitingText(waiting)}
              </p>
            )}
            <div className={styles.actions}>
              <button className={styles.primary} type="submit" disabled={!cleanName || joining} aria-busy={joining}>
                {joining ? "Joining…" : "Join"}
              </button>
              <button className={styles.secondary} type="button" disabled={!cleanName} onClick={() => join(true)}>
                Join as listener
              </button>
            </div>
            <p className={styles.hint}>
              A listener hears and sees everyone without sending audio or video.{" "}
              <button type="button" className={styles.link} onClick={onHome}>
                Another room
              </button>
            </p>
          </div>
        </div>
      </form>
    </main>
  );
}
