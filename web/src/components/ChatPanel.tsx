import { useEffect, useRef, useState, type FormEvent } from "react";
import { randomId } from "../lib/identity";
import type { ChatMessage, ProtocolError } from "../lib/protocol";
import { describeError } from "../lib/protocol";
import styles from "./SidePanel.module.css";

interface Props {
  messages: ChatMessage[];
  selfId: string | null;
  onSend: (text: string, clientMsgId: string) => Promise<ProtocolError | null>;
  onClose: () => void;
}

const MAX_CHARS = 2000;

function time(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function ChatPanel({ messages, selfId, onSend, onClose }: Props) {
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const listRef = useRef<HTMLOListElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);
  useEffect(() => inputRef.current?.focus(), []);

  const trimmed = text.trim();
  const length = Array.from(trimmed).length;
  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    if (!trimmed || length > MAX_CHARS || sending) return;
    setSending(true);
    setError(null);
    const err = await onSend(trimmed, randomId());
    setSending(false);
    if (err) setError(`Not sent: ${describeError(err)}`);
    else setText("");
    inputRef.current?.focus();
  };

  return (
    <aside className={styles.panel} aria-labelledby="chat-title" data-testid="chat-panel">
      <header className={styles.header}>
        <h2 id="chat-title">Chat</h2>
        <button type="button" className={styles.close} aria-label="Close chat" title="Close chat (C)" onClick={onClose}>
          ×
        </button>
      </header>
      <ol className={styles.messages} ref={listRef} aria-live="polite" aria-relevant="additions">
        {messages.length === 0 && <li className={styles.empty}>No messages yet.</li>}
        {messages.map((m) => (
          <li key={m.messageId} className={styles.message} data-testid="chat-message" data-self={m.from.participantId === selfId ? "true" : "false"}>
            <div className={styles.meta}>
              <span className={styles.author}>{m.from.participantId === selfId ? "You" : m.from.displayName || "Guest"}</span>
              <time dateTime={new Date(m.sentAt).toISOString()}>{time(m.sentAt)}</time>
            </div>
            <p className={styles.text} data-testid="chat-text">{m.text}</p>
          </li>
        ))}
      </ol>
      <form className={styles.composer} onSubmit={send}>
        {error && <p className={styles.error} role="alert">{error}</p>}
        <label className="visually-hidden" htmlFor="chat-input">Message</label>
        <textarea
          id="chat-input"
          ref={inputRef}
          rows={2}
          value={text}
          placeholder="Write a message (Enter to send)"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <div className={styles.row}>
          <span className={length > MAX_CHARS ? styles.over : styles.hint}>{length > MAX_CHARS - 200 ? `${length}/${MAX_CHARS}` : ""}</span>
          <button type="submit" className={styles.send} disabled={!trimmed || length > MAX_CHARS || sending}>
            Send
          </button>
        </div>
      </form>
    </aside>
  );
}
