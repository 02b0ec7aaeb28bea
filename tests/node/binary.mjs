// Sends an event with a Buffer (a Socket.IO binary attachment) and reports the ack, as JSON.
// Usage: node binary.mjs <url> <roomId>
// Prints {ack: <the ack>, after: <the ack of a normal event sent next>, reservedThrows: bool}.
import { io } from "socket.io-client";

const [url, roomId] = process.argv.slice(2);
const socket = io(url, { auth: { name: "npm-binary" }, reconnection: false, forceNew: true, transports: ["websocket"] });
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "timeout" })); process.exit(2); }, 8000);
socket.on("connect_error", (err) => { console.log(JSON.stringify({ error: err.message })); process.exit(1); });
socket.on("connect", async () => {
  const ack = await socket.timeout(5000).emitWithAck("chat:send", { roomId, text: Buffer.from("binary text") });
  const after = await socket.timeout(5000).emitWithAck("presence:list");
  let reservedThrows = false;
  try {
    socket.emit("disconnect");
  } catch {
    reservedThrows = true; // the npm client refuses reserved names itself; raw clients do not
  }
  clearTimeout(timer);
  console.log(JSON.stringify({ ack, after: { ok: after.ok }, reservedThrows, connected: socket.connected }));
  socket.close();
  process.exit(0);
});
