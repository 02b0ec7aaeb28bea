import { useState, type FormEvent } from "react";
import { loadName, saveName } from "../lib/identity";
import { slugRoomId } from "../lib/protocol";
import styles from "./PreJoin.module.css";

export function Home({ onEnter }: { onEnter: (roomId: string) => void }) {
  const [room, setRoom] = useState("");
  const [name, setName] = useState(loadName);
  const roomId = slugRoomId(room);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!roomId) return;
    if (name.trim()) saveName(name.trim().slice(0, 64));
    onEnter(roomId);
  };
  return (
    <main className={styles.page}>
      <form className={styles.card} onSubmit={submit} aria-labelledby="home-title">
        <h1 id="home-title" className={styles.title}>Join a study call</h1>
        <label className={styles.field}>
          <span>Room name</span>
          <input
            name="room"
            value={room}
            onChange={(e) => setRoom(e.target.value)}
            placeholder="e.g. algebra-group"
            maxLength={64}
            required
            autoFocus
          />
        </label>
        {room && roomId !== room.trim() && (
          <p className={styles.hint}>The room link will be /r/{roomId || "…"}</p>
        )}
        <label className={styles.field}>
          <span>Your name</span>
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} maxLength={64} placeholder="Your name" />
        </label>
        <button className={styles.primary} type="submit" disabled={!roomId}>
          Continue
        </button>
      </form>
    </main>
  );
}
