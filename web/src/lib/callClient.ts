// One call: a Socket.IO connection, one RTCPeerConnection to the SFU, local media and the negotiation queue.
// React components observe it through the callbacks; all server state goes through the room reducer.
import { io, type Socket } from "socket.io-client";
import { IceRecovery } from "./iceRecovery";
import { getCamera, getMicrophone, getScreen, MediaAccessError } from "./media";
import { Negotiator } from "./negotiation";
import type {
  Ack,
  ActiveSpeaker,
  ChatMessage,
  ErrorEvent,
  ForwardingEvent,
  MediaLimits,
  MediaSource,
  MediaStateChanged,
  MediaStatus,
  Participant,
  PresenceUser,
  ProtocolError,
  PublisherLayers,
  RoomState,
  ServerAnswer,
  ServerCandidate,
  ServerOffer,
  ServerTrack,
  SlotsEvent,
  UserJoined,
  UserLeft,
  ViewTile,
} from "./protocol";
import { describeError, SFU_PEER } from "./protocol";
import { loadRedirectOrigins, redirectAllowed } from "./redirect";
import type { CallAction } from "./roomState";
import { applyActiveLayers, cameraEncodings, simulcastSupported } from "./simulcast";
import { applySlots, mapSlotsToParticipants, slotCounts, slotDeclarations, slotsAsServerTracks, type SlotTable } from "./slots";
import { mapTracksToParticipants, publishedTracks, sameRemoteMedia, type ReceivedTrack, type RemoteMediaMap } from "./tracks";
import { sameView } from "./view";

export type RemoteTracks = RemoteMediaMap<MediaStreamTrack>;

export interface JoinOptions {
  serverUrl: string;
  roomId: string;
  displayName: string;
  userId: string;
  token: string | null;
  listener: boolean;
  /** Local tracks from the pre-join screen (null when absent). */
  microphone: MediaStreamTrack | null;
  camera: MediaStreamTrack | null;
  audioEnabled: boolean;
  videoEnabled: boolean;
  cameraId: string | null;
  microphoneId: string | null;
}

export interface CallCallbacks {
  dispatch(action: CallAction): void;
  onRemoteTracks(tracks: RemoteTracks): void;
  onLocalTracks(local: LocalTracks): void;
  onMediaProblem(message: string | null): void;
  onConnectionState(state: RTCPeerConnectionState | "none"): void;
  onConnectError(message: string): void;
}

export interface LocalTracks {
  microphone: MediaStreamTrack | null;
  camera: MediaStreamTrack | null;
  screen: MediaStreamTrack | null;
}

export interface InboundStat {
  mid: string | null;
  kind: string;
  participantId: string | null;
  source: MediaSource | null;
  bitrateKbps: number;
  packetsReceived: number;
  packetsLost: number;
  lossPercent: number;
  framesDecoded: number | null;
  frameWidth: number | null;
  frameHeight: number | null;
  /** Video: freezes the receiver counted so far (Chromium); null where the browser does not say. */
  freezeCount: number | null;
  keyFramesDecoded: number | null;
  jitterMs: number | null;
  /** Audio: the sum of squared levels received so far (`totalAudioEnergy`); grows while someone is heard. */
  audioEnergy: number | null;
}

const ACK_TIMEOUT_MS = 8000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout")), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export class CallClient {
  socket: Socket;
  private redirected = false;
  private pc: RTCPeerConnection | null = null;
  private negotiator: Negotiator | null = null;
  private sources = new Map<RTCRtpTransceiver, MediaSource>();
  private transceivers: Partial<Record<MediaSource, RTCRtpTransceiver>> = {};
  /** recvonly transceivers of a kind we do not send (yet): a later microphone or camera takes one over. */
  private spare: Partial<Record<"audio" | "video", RTCRtpTransceiver>> = {};
  private received: ReceivedTrack<MediaStreamTrack>[] = [];
  private serverTracks: ServerTrack[] | null = [];
  private remote: RemoteTracks = {};
  private local: LocalTracks;
  private joined = false;
  private leaving = false;
  private selfId: string | null = null;
  private audioEnabled: boolean;
  private videoEnabled: boolean;
  private screenActive = false;
  private statsPrev = new Map<string, { bytes: number; at: number }>();
  private levels = new Map<string, number>();
  /** Receive mode of the current peer connection: slots (large-room servers) or per-track m-lines. */
  private mode: "slots" | "tracks" = "tracks";
  private media: MediaLimits | null = null;
  private slotTransceivers: RTCRtpTransceiver[] = [];
  private slotTable: SlotTable = {};
  /** `video:slots` before this peer connection's first offer belong to the previous one. */
  private offeredOnThisPeer = false;
  private recovery: IceRecovery | null = null;
  private pcGeneration = 0;
  private iceRestartsTotal = 0;
  private view: ViewTile[] | null = null;
  private sentView: ViewTile[] | null = null;
  private readonly simulcast: boolean;
  private degradation: RTCDegradationPreference | null = null;
  private cameraLayers: string[] | null = null;
  readonly log: string[] = [];

  constructor(
    private readonly opts: JoinOptions,
    private readonly cb: CallCallbacks,
  ) {
    this.local = { microphone: opts.microphone, camera: opts.camera, screen: null };
    this.audioEnabled = opts.audioEnabled && !!opts.microphone;
    this.videoEnabled = opts.videoEnabled && !!opts.camera;
    if (opts.microphone) opts.microphone.enabled = this.audioEnabled;
    this.simulcast = simulcastSupported();
    this.socket = this.openSocket(opts.serverUrl);
    this.bindSocket();
  }

  private openSocket(url: string): Socket {
    return io(url, {
      path: "/socket.io",
      auth: this.opts.token ? { token: this.opts.token } : { name: this.opts.displayName, userId: this.opts.userId },
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      autoConnect: false,
    });
  }

  /** The room is served by another server process (several processes on one Redis): move there, once,
   * if it is this page's host or an origin the page's server trusts (the token goes along). */
  private async followRedirect(url: string): Promise<void> {
    this.redirected = true;
    const trusted = await loadRedirectOrigins(this.opts.serverUrl);
    if (this.leaving) return;
    if (!redirectAllowed(url, this.opts.serverUrl, trusted)) {
      this.trace(`redirect to ${url} refused: neither this page's host nor a trusted origin`);
      const message = "the room is served by a server this page does not trust";
      this.cb.dispatch({ type: "failed", error: describeError({ code: "conflict", message }) });
      return;
    }
    this.trace(`room served at ${url}: moving there`);
    const old = this.socket;
    old.removeAllListeners();
    old.disconnect();
    this.socket = this.openSocket(url);
    this.bindSocket();
    this.socket.connect();
  }

  get roomId(): string {
    return this.opts.roomId;
  }

  get participantId(): string | null {
    return this.selfId;
  }

  get peerConnection(): RTCPeerConnection | null {
    return this.pc;
  }

  get negotiationCounters(): Negotiator["counters"] | null {
    return this.negotiator?.counters ?? null;
  }

  start(): void {
    this.cb.dispatch({ type: "connecting" });
    this.socket.connect();
  }

  private trace(message: string): void {
    const line = `${new Date().toISOString().slice(11, 23)} ${message}`;
    this.log.push(line);
    if (this.log.length > 300) this.log.shift();
  }

  private async request<T extends object = object>(event: string, payload: unknown, timeoutMs = ACK_TIMEOUT_MS): Promise<Ack<T>> {
    try {
      return (await this.socket.timeout(timeoutMs).emitWithAck(event, payload)) as Ack<T>;
    } catch (err) {
      return { ok: false, error: { code: "internal", message: `no reply to ${event} (${String(err)})` } };
    }
  }

  private bindSocket(): void {
    const s = this.socket;
    s.on("connect", () => {
      this.trace(`socket connected ${s.id ?? ""}`);
      void this.joinRoom();
    });
    s.on("connect_error", (err: Error & { data?: unknown }) => {
      this.trace(`connect_error ${err.message}`);
      // The server refused us (auth): socket.io will not retry by itself; tell the user in words.
      if (!s.active) this.cb.onConnectError(err.message || "The server refused the connection.");
      else if (this.joined) this.cb.dispatch({ type: "reconnecting" });
    });
    s.on("disconnect", (reason) => {
      this.trace(`socket disconnected: ${reason}`);
      if (this.leaving) return;
      this.cb.dispatch({ type: "reconnecting" });
      this.teardownPeer();
      if (reason === "io server disconnect") s.connect();
    });
    s.on("video:room-state", (rs: RoomState) => {
      if (rs.roomId === this.opts.roomId && this.selfId === rs.you?.participantId) this.applyRoomState(rs);
    });
    s.on("video:user-joined", (e: UserJoined) => this.cb.dispatch({ type: "user-joined", event: e }));
    s.on("video:user-left", (e: UserLeft) => this.cb.dispatch({ type: "user-left", event: e }));
    s.on("video:media-state-changed", (e: MediaStateChanged) => this.cb.dispatch({ type: "media-state", event: e }));
    s.on("video:active-speaker", (e: ActiveSpeaker) => this.cb.dispatch({ type: "active-speaker", event: e }));
    s.on("video:media-status", (e: MediaStatus) => {
      if (e?.roomId === this.opts.roomId) this.cb.dispatch({ type: "media-status", event: e });
    });
    s.on("video:offer", (e: ServerOffer) => {
      if (e.roomId !== this.opts.roomId || !this.negotiator) return;
      this.trace(`server offer (${e.tracks?.length ?? 0} tracks)`);
      this.negotiator.handleServerOffer(e.description, e.tracks);
    });
    s.on("video:slots", (e: SlotsEvent) => this.onSlots(e));
    s.on("video:forwarding", (e: ForwardingEvent) => {
      if (e?.roomId !== this.opts.roomId || !Array.isArray(e.videos)) return;
      this.trace(`forwarding ${e.videos.map((v) => `${String(v.participantId).slice(0, 4)}:${v.source}:${v.state}${v.layer !== undefined ? `@${v.layer}` : ""}`).join(" ")}`);
      this.cb.dispatch({ type: "forwarding", event: e, now: performance.now() });
    });
    s.on("video:publisher-layers", (e: PublisherLayers) => {
      if (e?.roomId === this.opts.roomId) void this.applyPublisherLayers(e);
    });
    s.on("video:answer", (e: ServerAnswer) => {
      if (e.roomId !== this.opts.roomId || !this.negotiator) return;
      this.trace("server answer");
      this.negotiator.handleServerAnswer(e.description);
    });
    s.on("video:ice-candidate", (e: ServerCandidate) => {
      if (e.roomId !== this.opts.roomId || !this.negotiator) return;
      this.negotiator.handleServerCandidate(e.candidate);
    });
    s.on("chat:message", (m: ChatMessage) => this.cb.dispatch({ type: "chat-message", message: m }));
    s.on("presence:online", (u: PresenceUser) => this.cb.dispatch({ type: "presence-online", user: u }));
    s.on("presence:offline", (u: PresenceUser) => this.cb.dispatch({ type: "presence-offline", user: u }));
    s.on("error", (e: ErrorEvent) => this.trace(`server error event ${e?.event} ${e?.code} ${e?.message}`));
  }

  private selfParticipant(): Participant {
    return {
      participantId: this.selfId ?? "self",
      userId: this.opts.userId,
      displayName: this.opts.displayName,
      audio: this.audioEnabled,
      video: this.videoEnabled,
      screen: this.screenActive,
      joinedAt: Date.now(),
    };
  }

  private applyRoomState(rs: RoomState): void {
    // `you` holds at least our participantId; this server sends our whole participant object.
    const fromServer = rs.participants.find((p) => p.participantId === rs.you.participantId);
    const you: Partial<Participant> = rs.you;
    const self: Participant = fromServer ?? { ...this.selfParticipant(), ...you, participantId: rs.you.participantId };
    this.cb.dispatch({ type: "room-state", state: rs, self });
  }

  private async joinRoom(): Promise<void> {
    const ack = await this.request<RoomState>("video:join-room", {
      roomId: this.opts.roomId,
      displayName: this.opts.displayName,
      audio: this.audioEnabled,
      video: this.videoEnabled,
      topology: "sfu",
    });
    if (!ack.ok) {
      if (ack.error.code === "conflict" && ack.error.redirect && !this.redirected) {
        void this.followRedirect(ack.error.redirect);
        return;
      }
      this.cb.dispatch({ type: "failed", error: describeError(ack.error) });
      return;
    }
    const rs: RoomState = ack;
    this.selfId = rs.you.participantId;
    this.media = rs.media ?? null;
    this.joined = true;
    this.sentView = null;
    this.trace(`joined ${rs.roomId} as ${this.selfId} (${rs.topology})`);
    this.applyRoomState(rs);
    void this.loadChatAndPresence();
    if (rs.topology !== "sfu") {
      this.cb.onMediaProblem("This room was opened as a peer-to-peer (mesh) room; this page only joins SFU rooms. Chat still works.");
      return;
    }
    if (this.screenActive) {
      // We were sharing before a reconnect: tell the new session.
      void this.request("video:start-screen-share", { roomId: this.opts.roomId });
    }
    this.createPeer(rs.iceServers ?? []);
  }

  private async loadChatAndPresence(): Promise<void> {
    const history = await this.request<{ messages: ChatMessage[] }>("chat:history", { roomId: this.opts.roomId });
    if (history.ok && Array.isArray(history.messages)) this.cb.dispatch({ type: "chat-history", messages: history.messages });
    const presence = await this.request<{ users: PresenceUser[] }>("presence:list", {});
    if (presence.ok && Array.isArray(presence.users)) this.cb.dispatch({ type: "presence-list", users: presence.users });
  }

  // ---- WebRTC -------------------------------------------------------------------------------------

  /**
   * A new RTCPeerConnection for this room session: on joining, and when an ICE restart did not bring the
   * old one back (the server sees the new DTLS fingerprint and starts afresh; we stay in the room).
   */
  private createPeer(iceServers: RTCIceServer[]): void {
    this.teardownPeer();
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    this.pc = pc;
    this.pcGeneration += 1;
    this.sources = new Map();
    this.transceivers = {};
    this.spare = {};
    this.received = [];
    this.serverTracks = [];
    this.slotTransceivers = [];
    this.slotTable = {};
    this.offeredOnThisPeer = false;
    this.setRemote({});
    const counts = slotCounts(this.media ?? undefined);
    // Receive slots when the server offers them and they fit one offer; otherwise per-track m-lines (an
    // older server, or a room without a video limit whose slot counts pass the protocol's 64).
    this.mode = counts.audio + counts.video > 0 && this.slotsFit() ? "slots" : "tracks";
    const stream = new MediaStream();
    if (!this.opts.listener) {
      if (this.local.microphone) this.addSender("microphone", this.local.microphone, [stream]);
      const camera = this.local.camera && this.videoEnabled ? this.local.camera : null;
      if (this.media && this.simulcast) {
        // The camera's simulcast m-line is in the first offer even while the camera is off: the answer then
        // negotiates the rid header extension, which a browser will not add to a later offer of a bundle
        // that did without it. Turning the camera on is then replaceTrack + toggle-video, no renegotiation.
        this.addCameraTransceiver(pc, camera, [stream]);
      } else if (camera) {
        this.addSender("camera", camera, [stream]);
      }
      if (this.local.screen) this.addSender("screen", this.local.screen, [new MediaStream()]);
    }
    if (this.mode === "slots") {
      // Receive slots: what each one carries comes from `video:slots`, with no renegotiation per join.
      for (let i = 0; i < counts.audio; i++) this.slotTransceivers.push(pc.addTransceiver("audio", { direction: "recvonly" }));
      for (let i = 0; i < counts.video; i++) this.slotTransceivers.push(pc.addTransceiver("video", { direction: "recvonly" }));
    } else {
      // A kind we do not send still gets a recvonly m-line: an offer needs one, and it tells the server our
      // codecs for that kind. So a listener, or someone without camera and microphone, receives everyone.
      for (const kind of ["audio", "video"] as const) {
        if (!pc.getTransceivers().some((t) => t.receiver.track.kind === kind)) {
          this.spare[kind] = pc.addTransceiver(kind, { direction: "recvonly" });
        }
      }
    }
    this.trace(`peer ${this.pcGeneration} created (${this.mode === "slots" ? `${counts.audio} audio + ${counts.video} video slots` : "per-track"})`);
    pc.onicecandidate = (ev) => {
      void this.request("video:ice-candidate", {
        roomId: this.opts.roomId,
        to: SFU_PEER,
        candidate: ev.candidate ? ev.candidate.toJSON() : null,
      });
    };
    pc.ontrack = (ev) => {
      const track = ev.track;
      const entry: ReceivedTrack<MediaStreamTrack> = {
        mid: ev.transceiver.mid,
        kind: track.kind,
        streamIds: ev.streams.map((st) => st.id),
        track,
      };
      this.received = [...this.received.filter((r) => r.track !== track), entry];
      track.addEventListener("ended", () => {
        this.received = this.received.filter((r) => r.track !== track);
        this.remap();
      });
      this.remap();
    };
    const recovery = new IceRecovery(
      (action) => {
        if (this.pc !== pc || this.leaving) return;
        if (action === "restart-ice") {
          // New ICE credentials on the same connection: DTLS, SSRCs, slots and the room session stay.
          pc.restartIce?.();
          this.negotiator?.requestOffer({ iceRestart: true });
        } else {
          this.trace("media connection lost: starting a new peer connection in the same room");
          this.createPeer(iceServers);
        }
      },
      { log: (m) => this.trace(m), state: () => pc.iceConnectionState },
    );
    this.recovery = recovery;
    pc.oniceconnectionstatechange = () => {
      this.trace(`ice ${pc.iceConnectionState}`);
      recovery.onState(pc.iceConnectionState);
    };
    pc.onconnectionstatechange = () => {
      const st = pc.connectionState;
      this.trace(`pc ${st}`);
      this.cb.onConnectionState(st);
      // DTLS failing on a working ICE path: an ICE restart cannot help; a new connection can.
      if (st === "failed" && pc.iceConnectionState !== "failed" && this.pc === pc && !this.leaving) {
        this.trace("DTLS failed: starting a new peer connection in the same room");
        this.createPeer(iceServers);
      }
    };
    this.negotiator = new Negotiator(pc, {
      sendOffer: (description, tracks, slots) => {
        this.offeredOnThisPeer = true;
        return this.request("video:offer", {
          roomId: this.opts.roomId,
          to: SFU_PEER,
          description,
          tracks,
          ...(slots && slots.length > 0 ? { slots } : {}),
        });
      },
      sendAnswer: (description) => this.request("video:answer", { roomId: this.opts.roomId, to: SFU_PEER, description }),
      describeTracks: () =>
        publishedTracks(
          pc.getTransceivers().map((t) => ({ mid: t.mid, direction: t.direction, source: this.sources.get(t) })),
        ),
      // Every offer repeats the slots (the server ignores slots it already has); the first one declares them.
      describeSlots: () =>
        this.mode === "slots"
          ? slotDeclarations(this.slotTransceivers.map((t) => ({ mid: t.mid, kind: t.receiver.track.kind })))
          : undefined,
      onServerTracks: (tracks) => {
        if (this.mode === "slots") return; // slots say who is where; a server offer changes nothing of it
        this.serverTracks = tracks;
        // Transceivers may have been re-targeted; refresh mids of what we received.
        this.received = this.received.map((r) => {
          const t = pc.getTransceivers().find((x) => x.receiver.track === r.track);
          return t ? { ...r, mid: t.mid } : r;
        });
        this.remap();
      },
      onError: (error: ProtocolError) => {
        this.trace(`negotiation error ${error.code} ${error.message}`);
        this.cb.onMediaProblem(`Audio and video are not connected: ${describeError(error)}`);
      },
      onSettled: () => this.cb.onMediaProblem(null),
      log: (m) => this.trace(m),
    });
    this.cb.onConnectionState(pc.connectionState);
    this.negotiator.requestOffer();
    // The server keeps our view across connections, but say it again on a new session.
    this.sentView = null;
    this.flushView();
  }

  /** The server's slot counts fit the protocol's limit of 64 slots in one offer. */
  private slotsFit(): boolean {
    const m = this.media;
    return !!m && m.audioSlots + m.videoSlots <= 64;
  }

  private addSender(source: MediaSource, track: MediaStreamTrack, streams: MediaStream[]): RTCRtpTransceiver {
    const pc = this.pc!;
    const existing = this.transceivers[source];
    if (existing && existing.currentDirection !== "stopped") {
      void existing.sender.replaceTrack(track);
      existing.direction = "sendonly";
      return existing;
    }
    const kind = track.kind === "audio" ? "audio" : "video";
    const spare = source !== "screen" ? this.spare[kind] : undefined;
    let t: RTCRtpTransceiver;
    if (spare && spare.currentDirection !== "stopped") {
      // Our recvonly m-line of this kind starts sending: no new m-line, the server sees the same mid publish.
      delete this.spare[kind];
      t = spare;
      t.direction = "sendonly";
      void t.sender.replaceTrack(track);
      (t.sender as RTCRtpSender & { setStreams?: (...s: MediaStream[]) => void }).setStreams?.(...streams);
    } else if (source === "camera" && this.simulcast && this.media) {
      return this.addCameraTransceiver(pc, track, streams);
    } else {
      // A screen share is one layer (contentHint "detail": sharp text before frame rate).
      t = pc.addTransceiver(track, { direction: "sendonly", streams });
    }
    if (source === "camera") preferCodecs(t);
    this.sources.set(t, source);
    this.transceivers[source] = t;
    return t;
  }

  /**
   * The camera in two or three qualities (rids lowest first), so each viewer gets what its tile needs.
   * `track` may be null (camera off at joining): the m-line is negotiated now and sends once a track is set.
   */
  private addCameraTransceiver(pc: RTCPeerConnection, track: MediaStreamTrack | null, streams: MediaStream[]): RTCRtpTransceiver {
    const settings = track?.getSettings() ?? {};
    let t: RTCRtpTransceiver | null = null;
    // one temporal layer per layer where the browser takes it (a refused mode is tried again without it)
    for (const oneTemporalLayer of [true, false]) {
      const encodings = cameraEncodings(settings.width, settings.height, oneTemporalLayer);
      if (!encodings || t) break;
      try {
        t = pc.addTransceiver(track ?? "video", { direction: "sendonly", streams, sendEncodings: encodings });
        this.trace(
          `camera simulcast ${settings.width ?? "?"}x${settings.height ?? "?"}: ${encodings.map((e) => e.rid).join(",")}` +
            (oneTemporalLayer ? " L1T1" : ""),
        );
      } catch (err) {
        this.trace(`simulcast refused (${String(err)})${oneTemporalLayer ? ": trying without L1T1" : ": one layer"}`);
      }
    }
    t ??= pc.addTransceiver(track ?? "video", { direction: "sendonly", streams });
    preferCodecs(t);
    this.sources.set(t, "camera");
    this.transceivers.camera = t;
    if (this.degradation) void this.setDegradationPreference(this.degradation);
    return t;
  }

  /** Dynacast: the server says which of our camera's layers anyone needs; stop encoding the others. */
  private async applyPublisherLayers(e: PublisherLayers): Promise<void> {
    if (e.source !== "camera" || !Array.isArray(e.active)) return;
    const t = this.transceivers.camera;
    if (!t || (e.mid && t.mid && e.mid !== t.mid)) return;
    this.cameraLayers = e.active;
    const params = t.sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    if (!applyActiveLayers(params.encodings, e.active)) return;
    try {
      await t.sender.setParameters(params);
      this.trace(`camera layers: ${params.encodings.filter((x) => x.active !== false).map((x) => x.rid).join(",")}`);
    } catch (err) {
      this.trace(`setting camera layers failed: ${String(err)}`);
    }
  }

  /**
   * Keep resolution rather than frame rate when the encoder is short of CPU (a debugging and test knob:
   * on a busy machine Chromium otherwise shrinks every simulcast layer).
   */
  async setDegradationPreference(preference: RTCDegradationPreference): Promise<boolean> {
    this.degradation = preference;
    const t = this.transceivers.camera;
    if (!t) return false;
    try {
      const params = t.sender.getParameters() as RTCRtpSendParameters & { degradationPreference?: RTCDegradationPreference };
      params.degradationPreference = preference;
      await t.sender.setParameters(params);
      return true;
    } catch (err) {
      this.trace(`degradationPreference refused: ${String(err)}`);
      return false;
    }
  }

  private onSlots(e: SlotsEvent): void {
    if (e.roomId !== this.opts.roomId || !Array.isArray(e.slots) || this.mode !== "slots" || !this.offeredOnThisPeer) return;
    this.slotTable = applySlots(this.slotTable, e.slots, performance.now());
    this.trace(`slots ${e.slots.filter((x) => x.participantId).map((x) => `${x.mid}=${String(x.participantId).slice(0, 4)}:${x.source}`).join(" ")}`);
    this.serverTracks = slotsAsServerTracks(this.slotTable);
    this.remap();
  }

  private remap(): void {
    if (this.mode === "slots") this.setRemote(mapSlotsToParticipants(this.slotTable, this.received, this.selfId));
    else this.setRemote(mapTracksToParticipants(this.serverTracks, this.received, this.selfId));
  }

  private setRemote(next: RemoteTracks): void {
    if (sameRemoteMedia(this.remote, next)) return;
    this.remote = next;
    this.cb.onRemoteTracks(next);
  }

  private teardownPeer(): void {
    this.negotiator?.close();
    this.negotiator = null;
    this.iceRestartsTotal += this.recovery?.counters.restarts ?? 0;
    this.recovery?.dispose();
    this.recovery = null;
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.oniceconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
      this.cb.onConnectionState("none");
    }
    this.setRemote({});
  }

  /** Restart ICE now (debugging and tests; the page does it by itself when the network breaks). */
  restartIce(): boolean {
    if (!this.recovery) return false;
    this.recovery.restart("requested");
    return true;
  }

  /** How often the media connection was restarted or rebuilt (tests, debugging). */
  get recoveryCounters(): { peerConnections: number; iceRestarts: number } {
    return { peerConnections: this.pcGeneration, iceRestarts: this.iceRestartsTotal + (this.recovery?.counters.restarts ?? 0) };
  }

  /** The selected ICE candidate pair's id and our ICE username fragment (tests, debugging). */
  async transportInfo(): Promise<{ pair: string | null; ufrag: string | null; iceState: string | null }> {
    const pc = this.pc;
    if (!pc) return { pair: null, ufrag: null, iceState: null };
    let pair: string | null = null;
    (await pc.getStats()).forEach((s: Record<string, unknown>) => {
      if (s["type"] === "transport" && typeof s["selectedCandidatePairId"] === "string") pair = s["selectedCandidatePairId"];
      if (pair === null && s["type"] === "candidate-pair" && s["selected"] === true) pair = String(s["id"]);
    });
    const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? "")?.[1] ?? null;
    return { pair, ufrag, iceState: pc.iceConnectionState };
  }

  // ---- Views ------------------------------------------------------------------------------------

  /** What the page shows of the others (`video:set-view`); sent when it differs from what was sent. */
  setView(tiles: ViewTile[]): void {
    this.view = tiles;
    this.flushView();
  }

  private flushView(): void {
    const view = this.view;
    // Views exist on servers with large-room support (they say `media` in the room state), slots or not.
    if (!view || !this.joined || !this.media || !this.socket.connected || sameView(view, this.sentView)) return;
    this.sentView = view;
    void this.request("video:set-view", { roomId: this.opts.roomId, tiles: view }).then((ack) => {
      if (!ack.ok) {
        this.trace(`view refused: ${ack.error.code} ${ack.error.message}`);
        if (this.sentView === view) this.sentView = null;
      }
    });
  }

  get currentView(): ViewTile[] | null {
    return this.sentView;
  }

  get slots(): SlotTable {
    return this.slotTable;
  }

  get receiveMode(): "slots" | "tracks" {
    return this.mode;
  }

  get publishedCameraLayers(): string[] | null {
    return this.cameraLayers;
  }

  // ---- Controls ---------------------------------------------------------------------------------

  async setAudioEnabled(enabled: boolean): Promise<string | null> {
    if (this.opts.listener) return "Listeners do not send audio.";
    if (enabled && !this.local.microphone) {
      // Joined without a microphone (none yet, refused, or still starting): ask for it now and publish it.
      const id = this.opts.microphoneId;
      let track: MediaStreamTrack;
      try {
        track = await getMicrophone(id).catch((err: unknown) => (id ? getMicrophone(null) : Promise.reject(err)));
      } catch (err) {
        return err instanceof MediaAccessError ? err.message : String(err);
      }
      this.local.microphone = track;
      if (this.pc) {
        this.addSender("microphone", track, [new MediaStream()]);
        this.negotiator?.requestOffer();
      }
      this.cb.onLocalTracks({ ...this.local });
    }
    if (!this.local.microphone) return "No microphone is connected.";
    const ack = await this.request("video:toggle-audio", { roomId: this.opts.roomId, enabled });
    if (!ack.ok) return describeError(ack.error);
    this.audioEnabled = enabled;
    this.local.microphone.enabled = enabled;
    return null;
  }

  async setVideoEnabled(enabled: boolean): Promise<string | null> {
    if (this.opts.listener) return "Listeners do not send video.";
    if (enabled) {
      const id = this.opts.cameraId;
      let track: MediaStreamTrack;
      try {
        track = await getCamera(id).catch((err: unknown) => (id ? getCamera(null) : Promise.reject(err)));
      } catch (err) {
        return err instanceof MediaAccessError ? err.message : String(err);
      }
      this.local.camera?.stop();
      this.local.camera = track;
      const hadSender = !!this.transceivers.camera;
      if (this.pc) {
        this.addSender("camera", track, [new MediaStream()]);
        if (!hadSender) this.negotiator?.requestOffer();
      }
      this.cb.onLocalTracks({ ...this.local });
      const ack = await this.request("video:toggle-video", { roomId: this.opts.roomId, enabled: true });
      if (!ack.ok) return describeError(ack.error);
      this.videoEnabled = true;
      return null;
    }
    const ack = await this.request("video:toggle-video", { roomId: this.opts.roomId, enabled: false });
    if (!ack.ok) return describeError(ack.error);
    this.videoEnabled = false;
    // Turn the camera off for real (its light too); the sender keeps its m-line for a quick return.
    const t = this.transceivers.camera;
    if (t) await t.sender.replaceTrack(null);
    this.local.camera?.stop();
    this.local.camera = null;
    this.cb.onLocalTracks({ ...this.local });
    return null;
  }

  async startScreenShare(): Promise<string | null> {
    if (this.opts.listener) return "Listeners cannot share their screen.";
    if (this.screenActive) return null;
    let track: MediaStreamTrack;
    try {
      track = await getScreen();
    } catch (err) {
      return err instanceof MediaAccessError ? err.message : String(err);
    }
    const ack = await this.request("video:start-screen-share", { roomId: this.opts.roomId });
    if (!ack.ok) {
      track.stop();
      return describeError(ack.error);
    }
    this.screenActive = true;
    this.local.screen = track;
    track.addEventListener("ended", () => void this.stopScreenShare());
    if (this.pc) {
      const t = this.addSender("screen", track, [new MediaStream()]);
      const withStreams = t.sender as RTCRtpSender & { setStreams?: (...s: MediaStream[]) => void };
      withStreams.setStreams?.(new MediaStream());
      this.negotiator?.requestOffer();
    }
    this.cb.onLocalTracks({ ...this.local });
    return null;
  }

  async stopScreenShare(): Promise<string | null> {
    if (!this.screenActive) return null;
    this.screenActive = false;
    const track = this.local.screen;
    this.local.screen = null;
    const t = this.transceivers.screen;
    if (t && this.pc) {
      await t.sender.replaceTrack(null);
      t.direction = "inactive";
      this.negotiator?.requestOffer();
    }
    track?.stop();
    this.cb.onLocalTracks({ ...this.local });
    const ack = await this.request("video:stop-screen-share", { roomId: this.opts.roomId });
    return ack.ok ? null : describeError(ack.error);
  }

  async switchCamera(deviceId: string): Promise<string | null> {
    this.opts.cameraId = deviceId;
    if (!this.videoEnabled || this.opts.listener) return null;
    let track: MediaStreamTrack;
    try {
      track = await getCamera(deviceId);
    } catch (err) {
      return err instanceof MediaAccessError ? err.message : String(err);
    }
    const old = this.local.camera;
    this.local.camera = track;
    await this.transceivers.camera?.sender.replaceTrack(track);
    old?.stop();
    this.cb.onLocalTracks({ ...this.local });
    return null;
  }

  async switchMicrophone(track: MediaStreamTrack, deviceId: string): Promise<void> {
    this.opts.microphoneId = deviceId;
    const old = this.local.microphone;
    track.enabled = this.audioEnabled;
    this.local.microphone = track;
    if (this.transceivers.microphone) await this.transceivers.microphone.sender.replaceTrack(track);
    else if (this.pc && !this.opts.listener) {
      this.addSender("microphone", track, [new MediaStream()]);
      this.negotiator?.requestOffer();
    }
    old?.stop();
    this.cb.onLocalTracks({ ...this.local });
  }

  async sendChat(text: string, clientMsgId: string): Promise<ProtocolError | null> {
    // Retries reuse the clientMsgId, so the server delivers the message once.
    let last: ProtocolError | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      const ack = await this.request<{ message: ChatMessage }>("chat:send", { roomId: this.opts.roomId, text, clientMsgId });
      if (ack.ok) {
        if (ack.message) this.cb.dispatch({ type: "chat-message", message: ack.message });
        return null;
      }
      last = ack.error;
      if (ack.error.code !== "internal" && ack.error.code !== "rate_limited") break;
      await new Promise((r) => setTimeout(r, 600 * (attempt + 1)));
    }
    return last;
  }

  async leave(): Promise<void> {
    this.leaving = true;
    this.teardownPeer();
    if (this.socket.connected) {
      await withTimeout(this.request("video:leave-room", { roomId: this.opts.roomId }, 2000), 2500).catch(() => undefined);
    }
    this.socket.disconnect();
    this.releaseLocal();
    this.cb.dispatch({ type: "left" });
  }

  releaseLocal(): void {
    this.local.microphone?.stop();
    this.local.camera?.stop();
    this.local.screen?.stop();
  }

  /** Destroy without ceremony (component unmount). */
  dispose(): void {
    this.leaving = true;
    this.teardownPeer();
    this.socket.disconnect();
    this.releaseLocal();
  }

  get localTracks(): LocalTracks {
    return { ...this.local };
  }

  get remoteTracks(): RemoteTracks {
    return this.remote;
  }

  /**
   * Per received track the server lists: bitrate, loss, frames and audio energy. Stats come from each
   * receiver's own getStats(), so no browser-specific field (Chrome's `mid`, Firefox's ids) is needed
   * to tell whose track a report belongs to. `allSlots`: also receive slots that carry nobody now (their
   * counters tell whether anything still arrives on them).
   */
  async inboundStats(options: { allSlots?: boolean } = {}): Promise<InboundStat[]> {
    const pc = this.pc;
    if (!pc) return [];
    const byMid = new Map((this.serverTracks ?? []).map((t) => [t.mid, t]));
    const slotMids = new Set(this.slotTransceivers.map((t) => t.mid));
    const out: InboundStat[] = [];
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid;
      const listed = mid ? byMid.get(mid) : undefined;
      if (!listed && !(options.allSlots && mid && slotMids.has(mid))) continue;
      const kind = listed?.kind ?? transceiver.receiver.track.kind;
      const report = await transceiver.receiver.getStats();
      const now = performance.now();
      report.forEach((s: Record<string, unknown>) => {
        if (s["type"] !== "inbound-rtp") return;
        const id = `${mid ?? ""}:${String(s["id"])}`;
        const bytes = Number(s["bytesReceived"] ?? 0);
        const prev = this.statsPrev.get(id);
        this.statsPrev.set(id, { bytes, at: now });
        const bitrate = prev && now > prev.at ? ((bytes - prev.bytes) * 8) / (now - prev.at) : 0;
        const received = Number(s["packetsReceived"] ?? 0);
        const lost = Math.max(0, Number(s["packetsLost"] ?? 0));
        const num = (key: string): number | null => (typeof s[key] === "number" ? (s[key] as number) : null);
        out.push({
          mid,
          kind,
          participantId: listed?.participantId ?? null,
          source: listed?.source ?? null,
          bitrateKbps: Math.max(0, Math.round(bitrate)),
          packetsReceived: received,
          packetsLost: lost,
          lossPercent: received + lost > 0 ? (100 * lost) / (received + lost) : 0,
          framesDecoded: num("framesDecoded"),
          frameWidth: num("frameWidth"),
          frameHeight: num("frameHeight"),
          freezeCount: num("freezeCount"),
          keyFramesDecoded: num("keyFramesDecoded"),
          jitterMs: num("jitter") === null ? null : Math.round((num("jitter") ?? 0) * 1000),
          audioEnergy: num("totalAudioEnergy"),
        });
      });
    }
    return out;
  }

  /** Our camera's outbound layers (rid, bytes sent, frame size, active): dynacast in tests and debugging. */
  async outboundStats(): Promise<{ rid: string | null; bytesSent: number; frameWidth: number | null; active: boolean | null }[]> {
    const t = this.transceivers.camera;
    if (!t) return [];
    const out: { rid: string | null; bytesSent: number; frameWidth: number | null; active: boolean | null }[] = [];
    (await t.sender.getStats()).forEach((s: Record<string, unknown>) => {
      if (s["type"] !== "outbound-rtp") return;
      out.push({
        rid: typeof s["rid"] === "string" ? s["rid"] : null,
        bytesSent: Number(s["bytesSent"] ?? 0),
        frameWidth: typeof s["frameWidth"] === "number" ? s["frameWidth"] : null,
        active: typeof s["active"] === "boolean" ? s["active"] : null,
      });
    });
    return out;
  }

  /**
   * Loudest remote participant from RTP audio levels (`getSynchronizationSources()`), the fallback for a
   * server that has not named an active speaker. Levels decay instead of dropping at once, so short
   * syllables (or the fake microphone's beeps) between two polls still count.
   */
  loudestRemote(threshold = 0.02): string | null {
    const pc = this.pc;
    if (!pc) return null;
    let best: string | null = null;
    let bestLevel = threshold;
    const receivers = pc.getReceivers();
    for (const [pid, media] of Object.entries(this.remote)) {
      if (!media.audio) continue;
      const receiver = receivers.find((r) => r.track === media.audio);
      const now = receiver?.getSynchronizationSources?.()[0]?.audioLevel ?? 0;
      const level = Math.max(now, (this.levels.get(pid) ?? 0) * 0.85);
      this.levels.set(pid, level);
      if (level > bestLevel) {
        best = pid;
        bestLevel = level;
      }
    }
    return best;
  }
}

/** Prefer VP8 (the SFU's preferred codec) on a video transceiver, keeping the rest as fallbacks. */
function preferCodecs(t: RTCRtpTransceiver): void {
  try {
    const caps = RTCRtpReceiver.getCapabilities?.("video");
    if (!caps || !t.setCodecPreferences) return;
    const vp8 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === "video/vp8");
    const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== "video/vp8");
    if (vp8.length) t.setCodecPreferences([...vp8, ...rest]);
  } catch {
    /* keep the browser's order */
  }
}
