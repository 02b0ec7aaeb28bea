import { useEffect, useRef } from "react";
import type { RemoteTracks } from "../lib/callClient";

/**
 * One hidden <audio> per received audio track (never our own), on the chosen speaker. Keyed by track: a
 * receive slot that changes hands keeps its element (no restart, no lost syllable), only its label moves.
 */
export function RemoteAudio({ remote, sinkId }: { remote: RemoteTracks; sinkId: string | null }) {
  return (
    <div hidden>
      {Object.entries(remote).map(([pid, media]) =>
        media.audio ? <AudioSink key={media.audio.id} participantId={pid} track={media.audio} sinkId={sinkId} /> : null,
      )}
    </div>
  );
}

type SinkAudio = HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };

function AudioSink({ participantId, track, sinkId }: { participantId: string; track: MediaStreamTrack; sinkId: string | null }) {
  const ref = useRef<SinkAudio>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = new MediaStream([track]);
    void el.play().catch(() => undefined);
    return () => {
      el.srcObject = null;
    };
  }, [track]);
  useEffect(() => {
    const el = ref.current;
    if (el?.setSinkId && sinkId !== null) void el.setSinkId(sinkId).catch(() => undefined);
  }, [sinkId]);
  return <audio ref={ref} autoPlay data-testid="remote-audio" data-participant-id={participantId} />;
}
