import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { ChatMessage, Participant } from "../lib/protocol";
import { ChatPanel } from "./ChatPanel";
import { ControlBar, shortcutFor } from "./ControlBar";
import { ParticipantList } from "./ParticipantList";
import { VideoTile } from "./VideoTile";

const person = (id: string, extra: Partial<Participant> = {}): Participant => ({
  participantId: id,
  userId: `u-${id}`,
  displayName: `Person ${id}`,
  audio: true,
  video: true,
  screen: false,
  joinedAt: 1,
  ...extra,
});

const barProps = {
  audio: true,
  video: true,
  screen: false,
  listener: false,
  chatOpen: false,
  unread: 0,
  participantsOpen: false,
  participantCount: 3,
  busy: {},
};

describe("ControlBar", () => {
  it("is a row of labelled buttons with visible labels and shortcuts in their tooltips", () => {
    const onAction = vi.fn();
    render(<ControlBar {...barProps} onAction={onAction} />);
    const buttons = screen.getAllByRole("button");
    expect(buttons.map((b) => b.getAttribute("aria-label"))).toEqual([
      "Microphone",
      "Camera",
      "Share screen",
      "Settings",
      "Chat",
      "Participants (3)",
      "Leave call",
    ]);
    expect(buttons.map((b) => b.textContent)).toEqual(["Mic on", "Camera on", "Share", "Settings", "Chat", "Participants3", "Leave"]);
    for (const b of buttons) {
      expect(b.tagName).toBe("BUTTON");
      expect(b.getAttribute("title")).toMatch(/^.+ \(.+\)$/);
      // the visible words are part of the accessible name (WCAG 2.5.3), and shown as a tooltip on narrow screens
      const text = b.getAttribute("data-tip") ?? "";
      expect(text).not.toBe("");
      expect(b.getAttribute("aria-label")!.toLowerCase()).toContain(text.toLowerCase().split(" ")[0]!.slice(0, 3));
    }
    fireEvent.click(screen.getByRole("button", { name: "Microphone" }));
    fireEvent.click(screen.getByRole("button", { name: "Leave call" }));
    expect(onAction.mock.calls).toEqual([["microphone"], ["leave"]]);
  });

  it("keeps its names and carries state in aria-pressed: muted, camera off, sharing, unread chat, listener", () => {
    const { rerender } = render(<ControlBar {...barProps} onAction={() => undefined} />);
    const pressed = (name: string) => screen.getByRole("button", { name }).getAttribute("aria-pressed");
    expect([pressed("Microphone"), pressed("Camera"), pressed("Share screen")]).toEqual(["true", "true", "false"]);
    rerender(<ControlBar {...barProps} audio={false} video={false} screen unread={4} onAction={() => undefined} />);
    expect([pressed("Microphone"), pressed("Camera"), pressed("Share screen")]).toEqual(["false", "false", "true"]);
    expect(screen.getByRole("button", { name: "Chat, 4 unread" })).toBeTruthy();
    expect(screen.getByTestId("unread-count").textContent).toBe("4");
    // muted without a microphone yet: the button stays usable (it asks for the microphone)
    expect((screen.getByRole("button", { name: "Microphone" }) as HTMLButtonElement).disabled).toBe(false);
    rerender(<ControlBar {...barProps} listener onAction={() => undefined} />);
    expect((screen.getByRole("button", { name: "Share screen" }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Microphone" }) as HTMLButtonElement).disabled).toBe(true);
  });
});

describe("shortcutFor", () => {
  const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean; shiftKey: boolean }> = {}) =>
    shortcutFor({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });
  it("maps single keys, needs Shift for leave, ignores modified keys", () => {
    expect(key("m")).toBe("microphone");
    expect(key("M")).toBe("microphone");
    expect(key("v")).toBe("camera");
    expect(key("s")).toBe("screen");
    expect(key("c")).toBe("chat");
    expect(key("p")).toBe("participants");
    expect(key(",")).toBe("settings");
    expect(key("l")).toBeNull();
    expect(key("L", { shiftKey: true })).toBe("leave");
    expect(key("m", { ctrlKey: true })).toBeNull();
    expect(key("x")).toBeNull();
  });
});

describe("VideoTile", () => {
  it("shows initials instead of a black box when the camera is off, and the muted state", () => {
    render(<VideoTile participant={person("a", { displayName: "Ada Lovelace", audio: false, video: false })} track={null} isSelf={false} speaking={false} />);
    const tile = screen.getByTestId("tile");
    expect(tile.getAttribute("data-video")).toBe("off");
    expect(tile.getAttribute("data-audio")).toBe("off");
    expect(tile.textContent).toContain("AL");
    expect(screen.getByRole("img", { name: "Microphone muted" })).toBeTruthy();
    expect(screen.getByRole("img", { name: "Camera off" })).toBeTruthy();
    expect(tile.querySelector("video")).toBeNull();
  });

  it("tells everyone when a member's media never connected", () => {
    const { rerender } = render(
      <VideoTile participant={person("b", { displayName: "Bea" })} track={null} isSelf={false} speaking={false}
        media={{ status: "failed", reason: "the server refused its offer: no codec" }} />,
    );
    const tile = screen.getByTestId("tile");
    expect(tile.getAttribute("data-media")).toBe("failed");
    expect(screen.getByTestId("media-failed").textContent).toContain("No audio or video");
    expect(screen.getByTestId("media-failed").textContent).toContain("no codec");
    rerender(<VideoTile participant={person("b", { displayName: "Bea" })} track={null} isSelf={false} speaking={false} />);
    expect(screen.getByTestId("tile").getAttribute("data-media")).toBe("connected");
    expect(screen.queryByTestId("media-failed")).toBeNull();
  });

  it("marks the speaker and names our own tile", () => {
    render(<VideoTile participant={person("me", { displayName: "Me" })} track={null} isSelf speaking />);
    const tile = screen.getByTestId("tile");
    expect(tile.getAttribute("data-speaking")).toBe("true");
    expect(tile.getAttribute("aria-label")).toBe("Me (you)");
  });
});

describe("VideoTile in a large room", () => {
  type FrameCb = (now: number, meta: { receiveTime?: number }) => void;
  const fakeTrack = (id: string) => ({ id, kind: "video" }) as unknown as MediaStreamTrack;
  let frameCallbacks: FrameCb[] = [];
  function withFakeVideo() {
    frameCallbacks = [];
    vi.stubGlobal("MediaStream", class { constructor(public tracks: unknown[]) {} });
    const proto = HTMLMediaElement.prototype as unknown as Record<string, unknown>;
    proto["play"] = () => Promise.resolve();
    (HTMLVideoElement.prototype as unknown as Record<string, unknown>)["requestVideoFrameCallback"] = (cb: FrameCb) => {
      frameCallbacks.push(cb);
      return frameCallbacks.length;
    };
    (HTMLVideoElement.prototype as unknown as Record<string, unknown>)["cancelVideoFrameCallback"] = () => undefined;
  }
  function frame(receiveTime: number) {
    const pending = frameCallbacks;
    frameCallbacks = [];
    act(() => pending.forEach((cb) => cb(receiveTime, { receiveTime })));
  }

  it("shows the avatar with a 'paused to save bandwidth' mark, not a frozen frame", () => {
    withFakeVideo();
    render(<VideoTile participant={person("p", { displayName: "Pat Doe" })} track={fakeTrack("t1")} isSelf={false} speaking={false} forwarding="paused-bandwidth" />);
    const tile = screen.getByTestId("tile");
    expect(tile.getAttribute("data-forwarding")).toBe("paused-bandwidth");
    expect(tile.querySelector("video")).toBeNull();
    expect(tile.textContent).toContain("PD");
    expect(screen.getByRole("img", { name: "Video paused to save bandwidth" })).toBeTruthy();
    expect(tile.querySelector("[data-testid=media-failed]")).toBeNull();
  });

  it("shows initials, without any error wording, for a video the server does not send us", () => {
    withFakeVideo();
    render(<VideoTile participant={person("n", { displayName: "Nia" })} track={null} isSelf={false} speaking={false} forwarding="not-forwarded" />);
    const tile = screen.getByTestId("tile");
    expect(tile.getAttribute("data-video")).toBe("off");
    expect(tile.textContent).toBe("NNia");
    expect(screen.queryByTestId("paused-bandwidth")).toBeNull();
    expect(screen.queryByRole("img", { name: "Camera off" })).toBeNull();
  });

  it("keeps the initials over a slot's video until a frame received after the slot changed hands", () => {
    withFakeVideo();
    const p = person("c", { displayName: "Cy" });
    const { rerender } = render(<VideoTile participant={p} track={fakeTrack("slot-5")} isSelf={false} speaking={false} since={1000} />);
    const tile = screen.getByTestId("tile");
    expect(tile.getAttribute("data-video")).toBe("on");
    expect(tile.getAttribute("data-frame")).toBe("waiting");
    expect(screen.getByTestId("avatar")).toBeTruthy();
    frame(990); // the previous owner's frame, still in the jitter buffer
    expect(tile.getAttribute("data-frame")).toBe("waiting");
    frame(1010);
    expect(tile.getAttribute("data-frame")).toBe("shown");
    expect(screen.queryByTestId("avatar")).toBeNull();
    // paused for bandwidth, then resumed: initials again until a newer frame
    rerender(<VideoTile participant={p} track={fakeTrack("slot-5")} isSelf={false} speaking={false} since={1000} forwarding="paused-bandwidth" />);
    expect(tile.querySelector("video")).toBeNull();
    rerender(<VideoTile participant={p} track={fakeTrack("slot-5")} isSelf={false} speaking={false} since={5000} forwarding="forwarded" />);
    expect(tile.getAttribute("data-frame")).toBe("waiting");
    frame(5001);
    expect(tile.getAttribute("data-frame")).toBe("shown");
  });
});

describe("ChatPanel", () => {
  const message = (text: string): ChatMessage => ({
    roomId: "r",
    messageId: "m1",
    clientMsgId: "c1",
    from: { participantId: "x", userId: "u-x", displayName: "<i>Mallory</i>" },
    text,
    sentAt: Date.now(),
  });

  it("renders text as text, never as HTML", () => {
    const { container } = render(
      <ChatPanel messages={[message('<img src=x onerror="alert(1)"><b>bold</b>')]} selfId="me" onSend={async () => null} onClose={() => undefined} />,
    );
    expect(screen.getByTestId("chat-text").textContent).toBe('<img src=x onerror="alert(1)"><b>bold</b>');
    expect(container.querySelector("img, b, i")).toBeNull();
    expect(container.textContent).toContain("<i>Mallory</i>");
  });

  it("sends trimmed text on Enter with a fresh clientMsgId and clears the box", async () => {
    const onSend = vi.fn(async () => null);
    render(<ChatPanel messages={[]} selfId="me" onSend={onSend} onClose={() => undefined} />);
    const box = screen.getByLabelText("Message");
    fireEvent.change(box, { target: { value: "  hello  " } });
    fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(onSend).toHaveBeenCalledTimes(1));
    const [text, id] = onSend.mock.calls[0] as unknown as [string, string];
    expect(text).toBe("hello");
    expect(id).toMatch(/.{8,}/);
    await waitFor(() => expect((box as HTMLTextAreaElement).value).toBe(""));
  });

  it("keeps the text and says why when sending fails", async () => {
    render(
      <ChatPanel messages={[]} selfId="me" onSend={async () => ({ code: "rate_limited", message: "slow down" })} onClose={() => undefined} />,
    );
    const box = screen.getByLabelText("Message");
    fireEvent.change(box, { target: { value: "hi" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Too many requests");
    expect((box as HTMLTextAreaElement).value).toBe("hi");
  });
});

describe("ParticipantList", () => {
  it("lists who is in the call with their media state, and who is online elsewhere", () => {
    render(
      <ParticipantList
        participants={[person("me", { displayName: "Me" }), person("b", { displayName: "Bea", audio: false, screen: true })]}
        selfId="me"
        presence={[
          { userId: "u-b", displayName: "Bea" },
          { userId: "u-z", displayName: "Zed" },
        ]}
        onClose={() => undefined}
      />,
    );
    const rows = screen.getAllByTestId("participant");
    expect(rows.map((r) => r.textContent)).toEqual(["Me (you)", "BeaSharing"]);
    expect(screen.getAllByRole("img", { name: "Microphone muted" })).toHaveLength(1);
    expect(screen.getAllByTestId("online-user").map((r) => r.textContent)).toEqual(["Zed"]);
  });
});
