import { useEffect, useRef, useState } from "react";
import type { InboundStat } from "../lib/callClient";
import { canChooseSpeaker, listDevices, type DeviceChoice, type DeviceLists } from "../lib/media";
import type { Participant } from "../lib/protocol";
import { DeviceSelect } from "./DeviceSelect";
import styles from "./SettingsModal.module.css";

interface Props {
  choice: DeviceChoice;
  listener: boolean;
  connectionState: string;
  participants: Record<string, Participant>;
  getStats: () => Promise<InboundStat[]>;
  onCamera: (deviceId: string) => Promise<string | null>;
  onMicrophone: (deviceId: string) => Promise<string | null>;
  onSpeaker: (deviceId: string) => void;
  onClose: () => void;
}

export function SettingsModal(p: Props) {
  const [devices, setDevices] = useState<DeviceLists>({ cameras: [], microphones: [], speakers: [] });
  const [stats, setStats] = useState<InboundStat[]>([]);
  const [error, setError] = useState<string | null>(null);
  const dialogRef = useRef<HTMLDivElement>(null);
  const { getStats, onClose } = p;

  useEffect(() => {
    void listDevices().then(setDevices);
  }, []);

  useEffect(() => {
    let alive = true;
    const tick = () =>
      void getStats()
        .then((s) => alive && setStats(s))
        .catch(() => undefined);
    tick();
    const timer = window.setInterval(tick, 1000);
    return () => {
      alive = false;
      window.clearInterval(timer);
    };
  }, [getStats]);

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    dialogRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      previous?.focus?.();
    };
  }, [onClose]);

  const run = (f: () => Promise<string | null>) => {
    setError(null);
    void f().then((e) => setError(e));
  };

  return (
    <div className={styles.backdrop} onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className={styles.dialog}
        role="dialog"
        aria-modal="true"
        aria-labelledby="settings-title"
        tabIndex={-1}
        ref={dialogRef}
        data-testid="settings-modal"
      >
        <header className={styles.header}>
          <h2 id="settings-title">Settings</h2>
          <button type="button" className={styles.close} aria-label="Close settings" title="Close settings (Esc)" onClick={onClose}>
            ×
          </button>
        </header>
        {error && <p className={styles.error} role="alert">{error}</p>}
        {!p.listener && (
          <section className={styles.section}>
            <h3>Devices</h3>
            <DeviceSelect label="Camera" devices={devices.cameras} value={p.choice.cameraId ?? ""} onChange={(id) => run(() => p.onCamera(id))} />
            <DeviceSelect
              label="Microphone"
              devices={devices.microphones}
              value={p.choice.microphoneId ?? ""}
              onChange={(id) => run(() => p.onMicrophone(id))}
            />
          </section>
        )}
        {canChooseSpeaker() && (
          <section className={styles.section}>
            <DeviceSelect label="Speaker" devices={devices.speakers} value={p.choice.speakerId ?? ""} onChange={(id) => p.onSpeaker(id)} />
          </section>
        )}
        <section className={styles.section}>
          <h3>Connection</h3>
          <p>
            State: <strong data-testid="connection-state">{p.connectionState}</strong>
          </p>
          <table className={styles.table}>
            <caption className="visually-hidden">Received tracks</caption>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col">Track</th>
                <th scope="col">Bitrate</th>
                <th scope="col">Loss</th>
                <th scope="col">Video</th>
              </tr>
            </thead>
            <tbody>
              {stats.length === 0 && (
                <tr>
                  <td colSpan={5}>Nothing received yet.</td>
                </tr>
              )}
              {stats.map((s) => (
                <tr key={`${s.mid}-${s.kind}`} data-testid="stats-row">
                  <td>{(s.participantId && p.participants[s.participantId]?.displayName) || "—"}</td>
                  <td>{s.source ?? s.kind}</td>
                  <td>{s.bitrateKbps} kbit/s</td>
                  <td>{s.lossPercent.toFixed(1)}%</td>
                  <td>{s.frameWidth ? `${s.frameWidth}px, ${s.framesDecoded ?? 0} frames` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
    </div>
  );
}
