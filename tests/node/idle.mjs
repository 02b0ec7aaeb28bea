// Connects, joins a mesh room, prints {"participantId": ...} and then stays idle until killed.
// The test freezes this process (SIGSTOP) to make a silent drop: no close, no pongs.
// Usage: node idle.mjs <url> <roomId>
import { io } from "socket.io-client";

const [url, roomId] = process.argv.slice(2);
const socket = io(url, { auth: { name: "idle" }, reconnection: false, transports: ["websocket"] });
socket.on("connect", async () => {
  const ack = await socket.timeout(5000).emitWithAck("video:join-room", { roomId, topology: "mesh" });
  console.log(JSON.stringify({ participantId: socket.id, ok: ack.ok }));
});
socket.on("connect_error", (err) => { console.log(JSON.stringify({ error: err.message })); process.exit(1); });
