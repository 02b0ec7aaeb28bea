import type { Participant, PresenceUser } from "../lib/protocol";
import type { CallState } from "../lib/roomState";
import { CamOffIcon, MicOffIcon } from "./VideoTile";
import styles from "./SidePanel.module.css";

interface Props {
  participants: Participant[];
  selfId: string | null;
  presence: PresenceUser[];
  mediaStatus?: CallState["mediaStatus"];
  onClose: () => void;
}

export function ParticipantList({ participants, selfId, presence, mediaStatus = {}, onClose }: Props) {
  const inCall = new Set(participants.map((p) => p.userId));
  const elsewhere = presence.filter((u) => !inCall.has(u.userId));
  return (
    <aside className={styles.panel} aria-labelledby="people-title" data-testid="participants-panel">
      <header className={styles.header}>
        <h2 id="people-title">In the call ({participants.length})</h2>
        <button type="button" className={styles.close} aria-label="Close participants" title="Close participants (P)" onClick={onClose}>
          ×
        </button>
      </header>
      <ul className={styles.people}>
        {participants.map((p) => (
          <li key={p.participantId} className={styles.person} data-testid="participant" data-participant-id={p.participantId}>
            <span className={styles.personName}>
              {p.displayName || "Guest"}
              {p.participantId === selfId ? " (you)" : ""}
            </span>
            <span className={styles.states}>
              {p.screen && <span className={styles.pill}>Sharing</span>}
              {p.participantId !== selfId && mediaStatus[p.participantId]?.status === "failed" && (
                <span className={styles.pillWarn} title={mediaStatus[p.participantId]?.reason ?? undefined}>
                  No audio/video
                </span>
              )}
              {!p.audio && (
                <span role="img" aria-label="Microphone muted" title="Microphone muted">
                  <MicOffIcon />
                </span>
              )}
              {!p.video && (
                <span role="img" aria-label="Camera off" title="Camera off">
                  <CamOffIcon />
                </span>
              )}
            </span>
          </li>
        ))}
      </ul>
      <h3 className={styles.subhead}>Online elsewhere ({elsewhere.length})</h3>
      <ul className={styles.people}>
        {elsewhere.length === 0 && <li className={styles.empty}>Nobody else is online.</li>}
        {elsewhere.map((u) => (
          <li key={u.userId} className={styles.person} data-testid="online-user">
            <span className={styles.dot} aria-hidden="true" />
            <span className={styles.personName}>{u.displayName || u.userId}</span>
          </li>
        ))}
      </ul>
    </aside>
  );
}
