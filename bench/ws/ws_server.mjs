// The WebSocket echo benchmark's peer on Node: the `ws` package.
//   node bench/ws/ws_server.mjs [PORT] [--deflate]
import process from "node:process";
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  perMessageDeflate: process.argv.includes("--deflate"),
  maxPayload: 64 << 20,
});
wss.on("listening", () => process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}\n`));
wss.on("connection", (s) => s.on("message", (data, isBinary) => s.send(data, { binary: isBinary })));
