import type { ReactNode } from "react";
import styles from "./ControlBar.module.css";

export const SHORTCUTS = {
  microphone: "m",
  camera: "v",
  screen: "s",
  chat: "c",
  participants: "p",
  settings: ",",
  leave: "L",
} as const;

export type ControlAction = keyof typeof SHORTCUTS;

/** The action for a key press, or null. `leave` needs Shift+L so a stray "l" never hangs up. */
export function shortcutFor(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; shiftKey: boolean }): ControlAction | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (e.shiftKey) return e.key === "L" ? "leave" : null;
  const key = e.key.toLowerCase();
  for (const [action, k] of Object.entries(SHORTCUTS) as [ControlAction, string][]) {
    if (action !== "leave" && k === key) return action;
  }
  return null;
}

interface Props {
  audio: boolean;
  video: boolean;
  screen: boolean;
  listener: boolean;
  chatOpen: boolean;
  unread: number;
  participantsOpen: boolean;
  participantCount: number;
  busy: Partial<Record<ControlAction, boolean>>;
  onAction: (action: ControlAction) => void;
}

/**
 * A control: a stable accessible name (`label`), the state in `aria-pressed` for toggles, and a short
 * visible `text` (shown under the icon; on narrow screens a tooltip shows it on focus and hover).
 */
function Btn(props: {
  action: ControlAction;
  label: string;
  text: string;
  shortcut: string;
  pressed?: boolean;
  danger?: boolean;
  off?: boolean;
  disabled?: boolean;
  badge?: ReactNode;
  children: ReactNode;
  onAction: (a: ControlAction) => void;
}) {
  return (
    <button
      type="button"
      className={`${styles.button} ${props.off ? styles.off : ""} ${props.danger ? styles.danger : ""} ${props.pressed ? styles.active : ""}`}
      aria-label={props.label}
      aria-pressed={props.pressed}
      aria-keyshortcuts={props.shortcut}
      title={`${props.label} (${props.shortcut})`}
      disabled={props.disabled}
      data-action={props.action}
      data-tip={props.text}
      onClick={() => props.onAction(props.action)}
    >
      {props.children}
      <span className={styles.text} aria-hidden="true">
        {props.text}
      </span>
      {props.badge}
    </button>
  );
}

export function ControlBar(p: Props) {
  const canPublish = !p.listener;
  return (
    <nav className={styles.bar} aria-label="Call controls">
      <Btn
        action="microphone"
        label="Microphone"
        text={p.audio ? "Mic on" : "Mic off"}
        shortcut="M"
        pressed={p.audio}
        off={!p.audio}
        disabled={!canPublish || p.busy.microphone}
        onAction={p.onAction}
      >
        <Icon d={p.audio ? MIC : MIC_OFF} />
      </Btn>
      <Btn
        action="camera"
        label="Camera"
        text={p.video ? "Camera on" : "Camera off"}
        shortcut="V"
        pressed={p.video}
        off={!p.video}
        disabled={!canPublish || p.busy.camera}
        onAction={p.onAction}
      >
        <Icon d={p.video ? CAM : CAM_OFF} />
      </Btn>
      <Btn
        action="screen"
        label="Share screen"
        text={p.screen ? "Sharing" : "Share"}
        shortcut="S"
        pressed={p.screen}
        disabled={!canPublish || p.busy.screen}
        onAction={p.onAction}
      >
        <Icon d={SCREEN} />
      </Btn>
      <Btn action="settings" label="Settings" text="Settings" shortcut="," onAction={p.onAction}>
        <Icon d={GEAR} />
      </Btn>
      <Btn
        action="chat"
        label={p.unread > 0 ? `Chat, ${p.unread} unread` : "Chat"}
        text="Chat"
        shortcut="C"
        pressed={p.chatOpen}
        onAction={p.onAction}
        badge={p.unread > 0 ? <span className={styles.badge} data-testid="unread-count">{p.unread > 99 ? "99+" : p.unread}</span> : null}
      >
        <Icon d={CHAT} />
      </Btn>
      <Btn
        action="participants"
        label={`Participants (${p.participantCount})`}
        text="Participants"
        shortcut="P"
        pressed={p.participantsOpen}
        onAction={p.onAction}
        badge={<span className={styles.count}>{p.participantCount}</span>}
      >
        <Icon d={PEOPLE} />
      </Btn>
      <Btn action="leave" label="Leave call" text="Leave" shortcut="Shift+L" danger onAction={p.onAction}>
        <Icon d={HANGUP} />
      </Btn>
    </nav>
  );
}

function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
      <path d={d} />
    </svg>
  );
}

const MIC = "M12 2a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V5a3 3 0 0 1 3-3zM19 11a7 7 0 0 1-14 0M12 18v4";
const MIC_OFF = "M9 5a3 3 0 0 1 6 0v5M15 13a3 3 0 0 1-6-1V9M19 11a7 7 0 0 1-1.2 3.9M5 11a7 7 0 0 0 11 5.7M12 18v4M3 3l18 18";
const CAM = "M15 10l5-3v10l-5-3zM3 7h9a3 3 0 0 1 3 3v4a3 3 0 0 1-3 3H6a3 3 0 0 1-3-3z";
const CAM_OFF = "M15 10l5-3v10l-5-3M3 7h9a3 3 0 0 1 3 3v4M15 17H6a3 3 0 0 1-3-3V7M3 3l18 18";
const SCREEN = "M3 4h18v12H3zM8 20h8M12 16v4M12 13V7M9 10l3-3 3 3";
const GEAR = "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-2.9 1.2V21a2 2 0 0 1-4 0v-.1a1.7 1.7 0 0 0-2.9-1.2l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1A1.7 1.7 0 0 0 3 15H3a2 2 0 0 1 0-4h.1a1.7 1.7 0 0 0 1.2-2.9l-.1-.1A2 2 0 1 1 7 5.2l.1.1A1.7 1.7 0 0 0 10 4.1V4a2 2 0 0 1 4 0v.1a1.7 1.7 0 0 0 2.9 1.2l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0 1.2 2.9H21a2 2 0 0 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z";
const CHAT = "M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z";
const PEOPLE = "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8";
const HANGUP = "M10.7 13.3a16 16 0 0 0 3.4 2.6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.5 2.7.6a2 2 0 0 1 1.8 2V20a2 2 0 0 1-2.2 2A19.8 19.8 0 0 1 2 4.2 2 2 0 0 1 4 2h3.1a2 2 0 0 1 2 1.7c.1.9.3 1.8.6 2.7a2 2 0 0 1-.4 2.1L8 9.8M23 1L1 23";
