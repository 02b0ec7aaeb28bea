import { useCallback, useEffect, useMemo, useReducer, useRef, useState, type CSSProperties } from "react";
import { CallClient, type LocalTracks, type RemoteTracks } from "../lib/callClient";
import { copyMessage, copyText } from "../lib/clipboard";
import { userId } from "../lib/identity";
import { forwardingKey, freshSince } from "../lib/forwarding";
import { gridColumns, pageParticipants, pageSizeFor } from "../lib/layout";
import { getMicrophone, MediaAccessError, saveDeviceChoice, type DeviceChoice } from "../lib/media";
import type { Participant } from "../lib/protocol";
import { callReducer, initialCallState, orderedParticipants } from "../lib/roomState";
import { ViewTracker } from "../lib/viewTracker";
import { ChatPanel } from "./ChatPanel";
import { ControlBar, shortcutFor, type ControlAction } from "./ControlBar";
import { ParticipantList } from "./ParticipantList";
import type { JoinChoice } from "./PreJoin";
import { RemoteAudio } from "./RemoteAudio";
import { SettingsModal } from "./SettingsModal";
import styles from "./VideoCallPage.module.css";
import { VideoTile } from "./VideoTile";

interface Props {
  roomId: string;
  choice: JoinChoice;
  onLeave: () => void;
  onConnectError: (message: string) => void;
}

declare global {
  interface Window {
    /** The running call, for debugging in the console and for the end-to-end tests. */
    __sfuCall?: CallClient;
  }
}

function useViewport(): { width: number; height: number } {
  const [size, setSize] = useState({ width: window.innerWidth, height: window.innerHeight });
  useEffect(() => {
    const onResize = () => setSize({ width: window.innerWidth, height: window.innerHeight });
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  }, []);
  return size;
}

/** Columns and rows of the grid; the CSS sizes each tile to the largest 16:10 box its cell holds. */
function gridStyle(columns: number, rows: number): CSSProperties {
  return {
    gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
    gridTemplateRows: `repeat(${rows}, minmax(0, 1fr))`,
    ["--cols" as string]: columns,
    ["--rows" as string]: rows,
  };
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

export function VideoCallPage({ roomId, choice, onLeave, onConnectError }: Props) {
  const [state, dispatch] = useReducer(callReducer, initialCallState);
  const [remote, setRemote] = useState<RemoteTracks>({});
  const [local, setLocal] = useState<LocalTracks>({ microphone: choice.microphone, camera: choice.camera, screen: null });
  const [pcState, setPcState] = useState<string>("none");
  const [mediaProblem, setMediaProblem] = useState<string | null>(null);
  const [toast, setToast] = useState<string | null>(choice.note);
  const [panel, setPanel] = useState<"chat" | "participants" | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [busy, setBusy] = useState<Partial<Record<ControlAction, boolean>>>({});
  const [devices, setDevices] = useState<DeviceChoice>(choice.devices);
  const [page, setPage] = useState(0);
  const [loudest, setLoudest] = useState<string | null>(null);
  const [videoArea, setVideoArea] = useState<HTMLElement | null>(null);
  const clientRef = useRef<CallClient | null>(null);
  const callbacks = useRef({ onLeave, onConnectError });
  callbacks.current = { onLeave, onConnectError };
  const viewport = useViewport();

  useEffect(() => {
    const client = new CallClient(
      {
        serverUrl: window.location.origin,
        roomId,
        displayName: choice.displayName,
        userId: userId(),
        token: choice.token,
        listener: choice.listener,
        microphone: choice.microphone,
        camera: choice.camera,
        audioEnabled: choice.audioEnabled,
        videoEnabled: choice.videoEnabled,
        cameraId: choice.devices.cameraId,
        microphoneId: choice.devices.microphoneId,
      },
      {
        dispatch,
        onRemoteTracks: setRemote,
        onLocalTracks: setLocal,
        onMediaProblem: setMediaProblem,
        onConnectionState: setPcState,
        onConnectError: (message) => {
          client.dispose();
          callbacks.current.onConnectError(message);
        },
      },
    );
    clientRef.current = client;
    window.__sfuCall = client;
    client.start();
    const onUnload = () => client.dispose();
    window.addEventListener("pagehide", onUnload);
    return () => {
      window.removeEventListener("pagehide", onUnload);
      client.dispose();
      if (window.__sfuCall === client) delete window.__sfuCall;
      clientRef.current = null;
    };
  }, [roomId, choice]);

  // The view: which of the others' tiles are on screen and how big (video:set-view), so the server sends
  // each video at the size it is shown and nothing for tiles off the page or scrolled away.
  useEffect(() => {
    if (!videoArea) return;
    const tracker = new ViewTracker(videoArea, (view) => clientRef.current?.setView(view));
    return () => tracker.dispose();
  }, [videoArea]);

  // Speaking highlight fallback from RTP audio levels, until the server has named an active speaker.
  useEffect(() => {
    if (state.activeSpeaker) return;
    const timer = window.setInterval(() => setLoudest(clientRef.current?.loudestRemote() ?? null), 150);
    return () => window.clearInterval(timer);
  }, [state.activeSpeaker]);

  useEffect(() => {
    if (!toast) return;
    const t = window.setTimeout(() => setToast(null), 8000);
    return () => window.clearTimeout(t);
  }, [toast]);

  const participants = orderedParticipants(state);
  const self = state.selfId ? state.participants[state.selfId] : undefined;
  const speaking = state.activeSpeaker ?? loudest;

  const leave = useCallback(async () => {
    const client = clientRef.current;
    if (client) await client.leave();
    callbacks.current.onLeave();
  }, []);

  const withBusy = useCallback(async (action: ControlAction, f: (c: CallClient) => Promise<string | null>) => {
    const client = clientRef.current;
    if (!client) return;
    setBusy((b) => ({ ...b, [action]: true }));
    try {
      const err = await f(client);
      if (err) setToast(err);
    } finally {
      setBusy((b) => ({ ...b, [action]: false }));
    }
  }, []);

  const selfRef = useRef(self);
  selfRef.current = self;
  const onAction = useCallback(
    (action: ControlAction) => {
      const me = selfRef.current;
      switch (action) {
        case "microphone":
          if (me) void withBusy(action, (c) => c.setAudioEnabled(!me.audio));
          break;
        case "camera":
          if (me) void withBusy(action, (c) => c.setVideoEnabled(!me.video));
          break;
        case "screen":
          if (me) void withBusy(action, (c) => (me.screen ? c.stopScreenShare() : c.startScreenShare()));
          break;
        case "chat":
          setPanel((p) => {
            const next = p === "chat" ? null : "chat";
            dispatch({ type: "chat-open", open: next === "chat" });
            return next;
          });
          break;
        case "participants":
          setPanel((p) => {
            if (p === "chat") dispatch({ type: "chat-open", open: false });
            return p === "participants" ? null : "participants";
          });
          break;
        case "settings":
          setSettingsOpen((o) => !o);
          break;
        case "leave":
          void leave();
          break;
      }
    },
    [leave, withBusy],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (settingsOpen || isTyping(e.target) || e.repeat) return;
      const action = shortcutFor(e);
      if (!action) return;
      e.preventDefault();
      onAction(action);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onAction, settingsOpen]);

  const getStats = useCallback(() => clientRef.current?.inboundStats() ?? Promise.resolve([]), []);
  const closeSettings = useCallback(() => setSettingsOpen(false), []);
  const updateDevices = (patch: Partial<DeviceChoice>) =>
    setDevices((d) => {
      const next = { ...d, ...patch };
      saveDeviceChoice(next);
      return next;
    });

  const trackFor = (p: Participant): MediaStreamTrack | null =>
    p.participantId === state.selfId ? local.camera : (remote[p.participantId]?.camera ?? null);

  // Screen shares: ours (local preview) or the others' (received).
  const screens = useMemo(() => {
    const list: { participant: Participant; track: MediaStreamTrack | null }[] = [];
    for (const p of participants) {
      const track = p.participantId === state.selfId ? local.screen : (remote[p.participantId]?.screen ?? null);
      if (track || p.screen) {
        if (track) list.push({ participant: p, track });
        else if (p.participantId !== state.selfId) list.push({ participant: p, track: null });
      }
    }
    return list;
  }, [participants, remote, local.screen, state.selfId]);
  const stage = screens.find((s) => s.track) ?? screens[0] ?? null;

  if (state.status === "failed") {
    return (
      <main className={styles.failed}>
        <div className={styles.failedCard} role="alert">
          <h1>Could not join {roomId}</h1>
          <p>{state.error}</p>
          <button type="button" className={styles.primary} onClick={() => void leave()}>
            Back
          </button>
        </div>
      </main>
    );
  }

  // Pages never hold more remote video tiles than the server sends (lastN); speakers go on the first page.
  const lastN = state.media?.lastN ?? 0;
  const pages = pageParticipants({
    order: state.order,
    selfId: state.selfId,
    videoOn: (id) => Boolean(state.participants[id]?.video),
    speakers: state.recentSpeakers,
    pageSize: stage ? Infinity : pageSizeFor(viewport.width, viewport.height),
    lastN,
    activeSpeaker: state.activeSpeaker,
  });
  const pageIndex = Math.min(Math.max(0, page), pages.length - 1);
  const pageMembers = (pages[pageIndex] ?? [])
    .map((id) => state.participants[id])
    .filter((p): p is Participant => Boolean(p));
  const paged = { items: pageMembers, page: pageIndex, pages: pages.length };
  const columns = gridColumns(paged.items.length, Math.max(0.5, (viewport.width - (panel ? 340 : 0)) / Math.max(200, viewport.height - 80)));

  const tiles = paged.items.map((p) => {
    const isSelf = p.participantId === state.selfId;
    const fwd = isSelf ? undefined : state.forwarding[forwardingKey(p.participantId, "camera")];
    return (
      <VideoTile
        key={p.participantId}
        participant={p}
        track={trackFor(p)}
        isSelf={isSelf}
        speaking={speaking === p.participantId && p.audio}
        media={isSelf ? undefined : state.mediaStatus[p.participantId]}
        forwarding={fwd?.state}
        since={isSelf ? undefined : freshSince(remote[p.participantId]?.cameraSince, fwd)}
      />
    );
  });
  const stageSince = stage && stage.participant.participantId !== state.selfId
    ? freshSince(remote[stage.participant.participantId]?.screenSince, state.forwarding[forwardingKey(stage.participant.participantId, "screen")])
    : undefined;
  const pager = paged.pages > 1 && (
    <nav className={styles.pager} aria-label="Pages of participants">
      <button type="button" onClick={() => setPage(paged.page - 1)} disabled={paged.page === 0} aria-label="Previous page">
        ‹
      </button>
      <span>
        {paged.page + 1} / {paged.pages}
      </span>
      <button type="button" onClick={() => setPage(paged.page + 1)} disabled={paged.page >= paged.pages - 1} aria-label="Next page">
        ›
      </button>
    </nav>
  );

  return (
    <div className={styles.page} data-testid="call-page" data-status={state.status} data-pc-state={pcState}>
      <header className={styles.top}>
        <h1 className={styles.room}>
          <span className="visually-hidden">Room </span>
          {roomId}
        </h1>
        <span className={styles.count} data-testid="participant-count">
          {participants.length} in call
        </span>
        <button
          type="button"
          className={styles.copy}
          onClick={() => {
            const link = `${window.location.origin}/r/${encodeURIComponent(roomId)}`;
            void copyText(link).then((ok) => setToast(copyMessage(ok, link)));
          }}
        >
          Copy link
        </button>
      </header>
      {(state.status === "connecting" || state.status === "reconnecting") && (
        <div className={styles.banner} role="status" data-testid="reconnecting-banner">
          {state.status === "connecting" ? "Connecting…" : "Connection lost — reconnecting…"}
        </div>
      )}
      {(pcState === "disconnected" || pcState === "failed") && !mediaProblem && state.status === "joined" && (
        <div className={styles.banner} role="status" data-testid="media-reconnecting">
          Network trouble — reconnecting audio and video…
        </div>
      )}
      {mediaProblem && (
        <div className={`${styles.banner} ${styles.warn}`} role="alert" data-testid="media-problem">
          {mediaProblem}
        </div>
      )}
      {choice.listener && <div className={styles.listenerNote}>You joined as a listener: others cannot see or hear you.</div>}
      <div className={styles.body}>
        <main className={styles.main} aria-label="Video" ref={setVideoArea}>
          {stage ? (
            <div className={styles.stageLayout}>
              <section className={styles.stage} data-testid="screen-stage" aria-label="Shared screen">
                {stage.track ? (
                  <VideoTile
                    participant={stage.participant}
                    track={stage.track}
                    isSelf={stage.participant.participantId === state.selfId}
                    speaking={false}
                    variant="screen"
                    since={stageSince}
                  />
                ) : (
                  <p className={styles.waiting}>{stage.participant.displayName} is starting to share…</p>
                )}
              </section>
              <div className={styles.strip}>{tiles}</div>
            </div>
          ) : (
            <div className={styles.grid} style={gridStyle(columns, Math.max(1, Math.ceil(paged.items.length / columns)))} data-testid="grid">
              {tiles}
            </div>
          )}
          {pager}
        </main>
        {panel === "chat" && (
          <ChatPanel
            messages={state.chat}
            selfId={state.selfId}
            onSend={(text, id) => clientRef.current?.sendChat(text, id) ?? Promise.resolve({ code: "internal", message: "not connected" })}
            onClose={() => onAction("chat")}
          />
        )}
        {panel === "participants" && (
          <ParticipantList participants={participants} selfId={state.selfId} presence={Object.values(state.presence)} mediaStatus={state.mediaStatus} onClose={() => onAction("participants")} />
        )}
      </div>
      <RemoteAudio remote={remote} sinkId={devices.speakerId} />
      {toast && (
        <div className={styles.toast} role="status">
          {toast}
        </div>
      )}
      <ControlBar
        audio={self?.audio ?? false}
        video={self?.video ?? false}
        screen={self?.screen ?? false}
        listener={choice.listener}
        chatOpen={panel === "chat"}
        unread={state.unread}
        participantsOpen={panel === "participants"}
        participantCount={participants.length}
        busy={busy}
        onAction={onAction}
      />
      {settingsOpen && (
        <SettingsModal
          choice={{
            cameraId: devices.cameraId ?? local.camera?.getSettings().deviceId ?? null,
            microphoneId: devices.microphoneId ?? local.microphone?.getSettings().deviceId ?? null,
            speakerId: devices.speakerId,
          }}
          listener={choice.listener}
          connectionState={pcState}
          participants={state.participants}
          getStats={getStats}
          onClose={closeSettings}
          onCamera={async (id) => {
            updateDevices({ cameraId: id });
            return (await clientRef.current?.switchCamera(id)) ?? null;
          }}
          onMicrophone={async (id) => {
            updateDevices({ microphoneId: id });
            try {
              const track = await getMicrophone(id);
              await clientRef.current?.switchMicrophone(track, id);
              return null;
            } catch (err) {
              return err instanceof MediaAccessError ? err.message : String(err);
            }
          }}
          onSpeaker={(id) => updateDevices({ speakerId: id })}
        />
      )}
    </div>
  );
}
