import { useEffect, useRef } from "react";
import type { MediaConnectionStatus, Participant } from "../lib/protocol";
import { initials } from "../lib/roomState";
import styles from "./VideoTile.module.css";

interface Props {
  participant: Participant;
  track: MediaStreamTrack | null;
  isSelf: boolean;
  speaking: boolean;
  /** "screen": a screen share on the stage (never mirrored, contained not cropped). */
  variant?: "camera" | "screen";
  /** The member's media connection when it is not up (`video:media-status`); undefined = connected. */
  media?: { status: MediaConnectionStatus; reason: string | null } | undefined;
}

/** A <video> bound to one track; always muted (audio plays through RemoteAudio, never our own). */
export function TrackVideo({ track, mirrored, label, contain }: { track: MediaStreamTrack; mirrored: boolean; label: string; contain?: boolean }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const v = ref.current;
    if (!v) return;
    v.srcObject = new MediaStream([track]);
    void v.play().catch(() => undefined);
    return () => {
      v.srcObject = null;
    };
  }, [track]);
  return (
    <video
      ref={ref}
      className={`${styles.video} ${mirrored ? styles.mirrored : ""} ${contain ? styles.contain : ""}`}
      muted
      autoPlay
      playsInline
      aria-label={label}
      data-track-id={track.id}
    />
  );
}

export function VideoTile({ participant, track, isSelf, speaking, variant = "camera", media }: Props) {
  const name = participant.displayName || "Guest";
  const screen = variant === "screen";
  const showVideo = Boolean(track) && (screen || participant.video);
  const label = isSelf ? `${name} (you)` : name;
  const failed = !screen && media?.status === "failed";
  return (
    <figure
      className={`${styles.tile} ${speaking ? styles.speaking : ""} ${screen ? styles.screen : ""}`}
      data-testid={screen ? "screen-tile" : "tile"}
      data-participant-id={participant.participantId}
      data-self={isSelf ? "true" : "false"}
      data-audio={participant.audio ? "on" : "off"}
      data-video={showVideo ? "on" : "off"}
      data-speaking={speaking ? "true" : "false"}
      data-media={screen ? undefined : (media?.status ?? "connected")}
      aria-label={screen ? `Screen shared by ${name}` : label}
    >
      {showVideo && track ? (
        <TrackVideo
          track={track}
          mirrored={isSelf && !screen}
          contain={screen}
          label={screen ? `Screen shared by ${name}` : `Video of ${label}`}
        />
      ) : (
        <div className={styles.avatar} aria-hidden="true">
          <span>{screen ? "…" : initials(name)}</span>
        </div>
      )}
      {failed && (
        <div className={styles.mediaFailed} role="status" data-testid="media-failed" title={media?.reason ?? undefined}>
          <strong>No audio or video</strong>
          <span>{name}'s media did not connect{media?.reason ? `: ${media.reason}` : "."}</span>
        </div>
      )}
      <figcaption className={styles.caption}>
        {!screen && !participant.audio && (
          <span className={styles.badge} role="img" aria-label="Microphone muted" data-testid="muted-badge" title="Microphone muted">
            <MicOffIcon />
          </span>
        )}
        {!screen && !participant.video && (
          <span className={styles.badge} role="img" aria-label="Camera off" title="Camera off">
            <CamOffIcon />
          </span>
        )}
        <span className={styles.name}>{screen ? `${name}'s screen` : label}</span>
      </figcaption>
    </figure>
  );
}

export function MicOffIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2">
      <path d="M9 5a3 3 0 0 1 6 0v5m0 3a3 3 0 0 1-6-1V9" />
      <path d="M19 11a7 7 0 0 1-1.2 3.9M5 11a7 7 0 0 0 11 5.7M12 18v3" />
      <path d="M3 3l18 18" />
    </svg>
  );
}

export function CamOffIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2">
      <path d="M15 10l5-3v10l-5-3M3 7h9a3 3 0 0 1 3 3v4M15 17H6a3 3 0 0 1-3-3V7" />
      <path d="M3 3l18 18" />
    </svg>
  );
}
