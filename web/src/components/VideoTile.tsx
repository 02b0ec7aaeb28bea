import { useEffect, useRef, useState } from "react";
import { tileDisplay, type TileDisplay } from "../lib/forwarding";
import type { ForwardingStateName, MediaConnectionStatus, Participant } from "../lib/protocol";
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
  /** What the server does with this video for us (`video:forwarding`); undefined: it has not said. */
  forwarding?: ForwardingStateName | undefined;
  /**
   * Frames received before this moment (performance.now() ms) are not this member's: the receive slot
   * changed hands, or the video resumes after a pause. Initials show until a newer frame arrives.
   */
  since?: number | undefined;
}

type FrameMetadata = { receiveTime?: number; presentationTime?: number };
type FrameCallbackVideo = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: (now: number, meta: FrameMetadata) => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

/**
 * Call `done` once the element shows a frame received at or after `since`. With requestVideoFrameCallback
 * (Chromium, Firefox 132+) each frame's receive time is checked, so a frame of the slot's previous owner
 * still in the jitter buffer never counts; without it, the first decoded frame after `since` does.
 */
export function watchFreshFrame(video: HTMLVideoElement, since: number, done: () => void): () => void {
  let stopped = false;
  const v = video as FrameCallbackVideo;
  if (typeof v.requestVideoFrameCallback === "function") {
    let handle = 0;
    const onFrame = (now: number, meta: FrameMetadata) => {
      if (stopped) return;
      const at = meta.receiveTime ?? meta.presentationTime ?? now;
      if (at >= since) done();
      else handle = v.requestVideoFrameCallback!(onFrame);
    };
    handle = v.requestVideoFrameCallback(onFrame);
    return () => {
      stopped = true;
      v.cancelVideoFrameCallback?.(handle);
    };
  }
  const check = () => {
    if (!stopped && video.videoWidth > 0 && video.readyState >= 2 && performance.now() >= since) done();
  };
  const events = ["resize", "loadeddata", "timeupdate", "playing"] as const;
  for (const e of events) video.addEventListener(e, check);
  return () => {
    stopped = true;
    for (const e of events) video.removeEventListener(e, check);
  };
}

/** A <video> bound to one track; always muted (audio plays through RemoteAudio, never our own). */
export function TrackVideo({
  track,
  mirrored,
  label,
  contain,
  hidden,
  since,
  onFreshFrame,
}: {
  track: MediaStreamTrack;
  mirrored: boolean;
  label: string;
  contain?: boolean;
  /** Kept playing but not shown (waiting for a fresh frame). */
  hidden?: boolean;
  since?: number | undefined;
  /** Called once a frame received at or after `since` shows (remote tiles). */
  onFreshFrame?: (() => void) | undefined;
}) {
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
  const notify = useRef(onFreshFrame);
  notify.current = onFreshFrame;
  const watching = Boolean(onFreshFrame);
  useEffect(() => {
    const v = ref.current;
    if (!v || !watching) return;
    return watchFreshFrame(v, since ?? -Infinity, () => notify.current?.());
  }, [track, since, watching]);
  return (
    <video
      ref={ref}
      className={`${styles.video} ${mirrored ? styles.mirrored : ""} ${contain ? styles.contain : ""} ${hidden ? styles.waiting : ""}`}
      muted
      autoPlay
      playsInline
      aria-label={label}
      aria-hidden={hidden ? true : undefined}
      data-track-id={track.id}
    />
  );
}

export function VideoTile({ participant, track, isSelf, speaking, variant = "camera", media, forwarding, since }: Props) {
  const name = participant.displayName || "Guest";
  const screen = variant === "screen";
  const label = isSelf ? `${name} (you)` : name;
  const failed = !screen && media?.status === "failed";
  let display: TileDisplay;
  if (screen) display = track ? "video" : "initials";
  else if (isSelf) display = track && participant.video ? "video" : "camera-off";
  else display = tileDisplay({ videoOn: participant.video, hasTrack: Boolean(track), forwarding });
  // Remote videos show from their first frame newer than `since` (never the slot's previous owner's).
  const frameKey = track ? `${track.id}@${since ?? ""}` : "";
  const [freshKey, setFreshKey] = useState<string | null>(null);
  const waitForFrame = !isSelf && display === "video";
  const fresh = !waitForFrame || freshKey === frameKey;
  const showVideo = display === "video" && track;
  return (
    <figure
      className={`${styles.tile} ${speaking ? styles.speaking : ""} ${screen ? styles.screen : ""}`}
      data-testid={screen ? "screen-tile" : "tile"}
      data-participant-id={participant.participantId}
      data-self={isSelf ? "true" : "false"}
      data-audio={participant.audio ? "on" : "off"}
      data-video={showVideo ? "on" : "off"}
      data-frame={showVideo ? (fresh ? "shown" : "waiting") : undefined}
      data-forwarding={isSelf ? undefined : (forwarding ?? undefined)}
      data-speaking={speaking ? "true" : "false"}
      data-media={screen ? undefined : (media?.status ?? "connected")}
      data-view-source={screen ? "screen" : "camera"}
      aria-label={screen ? `Screen shared by ${name}` : label}
    >
      {showVideo && track ? (
        <TrackVideo
          track={track}
          mirrored={isSelf && !screen}
          contain={screen}
          label={screen ? `Screen shared by ${name}` : `Video of ${label}`}
          hidden={!fresh}
          since={since}
          onFreshFrame={waitForFrame ? () => setFreshKey(frameKey) : undefined}
        />
      ) : null}
      {(!showVideo || !fresh) && (
        <div className={styles.avatar} aria-hidden="true" data-testid="avatar">
          <span>{screen ? "…" : initials(name)}</span>
        </div>
      )}
      {display === "paused" && (
        <span className={styles.paused} role="img" aria-label="Video paused to save bandwidth" title="Video paused to save bandwidth" data-testid="paused-bandwidth">
          <PauseIcon />
          <span>Paused to save bandwidth</span>
        </span>
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

export function PauseIcon() {
  return (
    <svg viewBox="0 0 24 24" width="12" height="12" aria-hidden="true" fill="currentColor">
      <rect x="6" y="5" width="4" height="14" rx="1" />
      <rect x="14" y="5" width="4" height="14" rx="1" />
    </svg>
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
