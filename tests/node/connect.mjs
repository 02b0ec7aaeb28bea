// Connects once with the given auth object and reports how it went, as JSON.
// Usage: node connect.mjs <url> '<auth json>' [roomId]
// Prints {connected: true, join?: <ack>} or {connected: false, error: <connect_error message>}.
import { io } from "socket.io-client";

const [url, authJson, roomId] = process.argv.slice(2);
const socket = io(url, { auth: JSON.parse(authJson), reconnection: false, forceNew: true, transports: ["websocket"] });
const timer = setTimeout(() => { console.log(JSON.stringify({ connected: false, error: "timeout" })); process.exit(2); }, 5000);
socket.on("connect_error", (err) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ connected: false, error: err.message }));
  socket.close();
  process.exit(0);
});
socket.on("connect", async () => {
  const result = { connected: true };
  if (roomId) result.join = await socket.timeout(5000).emitWithAck("video:join-room", { roomId });
  clearTimeout(timer);
  console.log(JSON.stringify(result));
  socket.close();
  process.exit(0);
});
