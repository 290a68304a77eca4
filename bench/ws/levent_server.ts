/**
 * The WebSocket echo benchmark's levent server: every message back as it
 * came, on the runtime running this file. Prints the listening line.
 *
 *   deno run -A bench/ws/levent_server.ts [PORT]   (bun / node alike)
 */
import process from "node:process";
import { EventBase, HttpServer } from "../../mod.ts";
import { WebSocket } from "../../src/ws/mod.ts";

const base = new EventBase();
const http = new HttpServer(base);
const deflate = process.argv.includes("--deflate");
http.setCb("/", (req) => {
  const ws = WebSocket.upgrade(req, { perMessageDeflate: deflate, maxPayload: 64 << 20 });
  ws?.setMessageCb((w, data) => w.send(data));
});
const handle = await http.bind("127.0.0.1", Number(process.argv[2] ?? 0));
process.stdout.write(`listening on ws://127.0.0.1:${handle.address.port}\n`);
await base.dispatch();
