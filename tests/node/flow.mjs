// The original mesh flow driven by the npm socket.io-client: two clients, every step asserted.
// Usage: node flow.mjs <url> <roomId> [transport] [bobUrl]
//   transport: websocket | polling | default; bobUrl: a second server process for bob (Redis mode)
// Prints one JSON object with what each client received; exits non-zero on the first failed check.
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const [url, roomId, transport = "default", bobUrl = url] = process.argv.slice(2);
const transports = transport === "default" ? undefined : [transport];

function client(name, serverUrl) {
  const socket = io(serverUrl, { auth: { name }, transports, reconnection: false, forceNew: true });
  const seen = [];
  socket.onAny((event, payload) => seen.push([event, payload]));
  const waitFor = (event, where = () => true, ms = 5000) =>
    new Promise((resolve, reject) => {
      const found = seen.find(([e, p]) => e === event && where(p));
      if (found) return resolve(found[1]);
      const timer = setTimeout(() => reject(new Error(`${name}: no ${event} within ${ms} ms`)), ms);
      const listener = (e, p) => {
        if (e === event && where(p)) { clearTimeout(timer); socket.offAny(listener); resolve(p); }
      };
      socket.onAny(listener);
    });
  const connected = new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
  const call = (event, payload) => socket.timeout(5000).emitWithAck(event, payload);
  return { socket, seen, waitFor, connected, call };
}

const alice = client("alice", url);
const bob = client("bob", bobUrl);
await Promise.all([alice.connected, bob.connected]);

const aJoin = await alice.call("video:join-room", { roomId, topology: "mesh", audio: true, video: true });
assert.equal(aJoin.ok, true);
assert.equal(aJoin.topology, "mesh");
assert.deepEqual(aJoin.participants, []);
assert.equal(aJoin.you.participantId, alice.socket.id);
await alice.waitFor("video:room-state", (p) => p.roomId === roomId);

const bJoin = await bob.call("video:join-room", { roomId, topology: "sfu", displayName: "Bob B." });
assert.equal(bJoin.ok, true);
assert.equal(bJoin.topology, "mesh", "a later joiner's topology is ignored");
assert.deepEqual(bJoin.participants.map((p) => p.participantId), [alice.socket.id]);
const joined = await alice.waitFor("video:user-joined");
assert.equal(joined.participant.participantId, bob.socket.id);
assert.equal(joined.participant.displayName, "Bob B.");
assert.equal(typeof joined.participant.joinedAt, "number");

const sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=NODE-SECRET-SDP\r\n";
assert.deepEqual(await bob.call("video:offer", { roomId, to: alice.socket.id, description: { type: "offer", sdp } }), { ok: true });
const offer = await alice.waitFor("video:offer");
assert.deepEqual(offer, { roomId, from: bob.socket.id, description: { type: "offer", sdp } });

assert.deepEqual(await alice.call("video:answer", { roomId, to: bob.socket.id, description: { type: "answer", sdp } }), { ok: true });
const answer = await bob.waitFor("video:answer");
assert.equal(answer.from, alice.socket.id);

const candidate = { candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", sdpMid: "0", sdpMLineIndex: 0 };
assert.equal((await bob.call("video:ice-candidate", { roomId, to: alice.socket.id, candidate })).ok, true);
assert.equal((await bob.call("video:ice-candidate", { roomId, to: alice.socket.id, candidate: null })).ok, true);
await alice.waitFor("video:ice-candidate", (p) => p.candidate === null);
const ice = alice.seen.filter(([e]) => e === "video:ice-candidate").map(([, p]) => p.candidate);
assert.deepEqual(ice, [candidate, null]);

const toggled = await alice.call("video:toggle-audio", { roomId, enabled: false });
assert.equal(toggled.ok, true);
for (const who of [alice, bob]) {
  const change = await who.waitFor("video:media-state-changed", (p) => p.audio === false);
  assert.deepEqual(change, { roomId, participantId: alice.socket.id, audio: false, video: true, screen: false });
}
assert.equal((await bob.call("video:toggle-video", { roomId, enabled: false })).ok, true);
assert.equal((await bob.call("video:start-screen-share", { roomId })).ok, true);
await alice.waitFor("video:media-state-changed", (p) => p.participantId === bob.socket.id && p.screen === true);
assert.equal((await bob.call("video:stop-screen-share", { roomId })).ok, true);
await alice.waitFor("video:media-state-changed", (p) => p.participantId === bob.socket.id && p.screen === false && p.video === false);

const sent = await alice.call("chat:send", { roomId, text: "  NODE-SECRET-CHAT  ", clientMsgId: "m1" });
assert.equal(sent.ok, true);
assert.equal(sent.message.text, "NODE-SECRET-CHAT");
const retry = await alice.call("chat:send", { roomId, text: "NODE-SECRET-CHAT", clientMsgId: "m1" });
assert.deepEqual(retry.message, sent.message, "a retry returns the original message");
const message = await bob.waitFor("chat:message");
assert.deepEqual(message, sent.message);
const history = await bob.call("chat:history", { roomId });
assert.deepEqual(history.messages, [sent.message]);

const users = await bob.call("presence:list");
assert.deepEqual(users.users.map((u) => u.userId).filter((u) => u === "alice" || u === "bob").sort(), ["alice", "bob"]);

// A rejected event without an ack produces an `error` event with the same code.
bob.socket.emit("chat:send", { roomId, text: "" });
const err = await bob.waitFor("error");
assert.deepEqual([err.event, err.code], ["chat:send", "bad_request"]);

assert.deepEqual(await bob.call("video:leave-room", { roomId }), { ok: true });
const left = await alice.waitFor("video:user-left");
assert.deepEqual(left, { roomId, participantId: bob.socket.id });

const count = (c, e) => c.seen.filter(([name]) => name === e).length;
const summary = {
  transport: alice.socket.io.engine.transport.name,
  alice: { chatMessages: count(alice, "chat:message"), mediaChanges: count(alice, "video:media-state-changed") },
  bob: { chatMessages: count(bob, "chat:message"), offers: count(bob, "video:offer") },
};
alice.socket.close();
bob.socket.close();
console.log(JSON.stringify(summary));
process.exit(0); // a closed polling transport may still hold a pending long-poll request open
