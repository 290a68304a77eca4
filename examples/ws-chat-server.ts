/**
 * ws-chat-server: libevent's sample/ws-chat-server.c in levent. Serves a
 * chat page at `/` (one self-contained HTML page whose script uses the
 * browser's WebSocket), a broadcast chat at `/ws` (every text message goes
 * to everyone connected, the sender included) and an exact echo at `/echo`
 * (text back as text, binary as binary). permessage-deflate is negotiated
 * when a client offers it.
 *
 *   deno run -A examples/ws-chat-server.ts [--host 127.0.0.1] [--port 8080]
 *   bun examples/ws-chat-server.ts [--port 8080]
 *   node examples/ws-chat-server.ts [--port 8080]
 *
 * Prints `listening on http://HOST:PORT` once bound; SIGINT or SIGTERM
 * closes every WebSocket with 1001 (going away), waits for their closing
 * handshakes (at most 4.5 s) and exits 0.
 *
 * @module
 */
import { EventBase, HttpServer } from "../mod.ts";
import { CLOSE_UNSUPPORTED_DATA, WebSocket } from "../src/ws/mod.ts";
import { announce, exitWhenDone, log, onStopSignal, parseCli, portFlag } from "./lib/cli.ts";

const USAGE = `usage: ws-chat-server.ts [--host H] [--port P]

A WebSocket chat on H:P (default 127.0.0.1:8080; port 0 picks one):
  GET /      the chat page (open it in a browser)
  /ws        the chat: every text message is sent to everyone connected
  /echo      echoes every message, text as text and binary as binary
permessage-deflate is used when the client offers it. Prints
"listening on http://HOST:PORT" once bound; SIGINT or SIGTERM closes every
WebSocket with 1001 and exits 0.`;

const { values } = parseCli({ host: { type: "string" }, port: { type: "string" } }, false, USAGE);
const host = values.host ?? "127.0.0.1";
const port = portFlag(values.port, 8080);

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>levent chat</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 2em auto; max-width: 40em; }
  #log { border: 1px solid #ccc; height: 20em; overflow-y: auto; padding: .5em; white-space: pre-wrap; }
  #msg { width: 100%; box-sizing: border-box; font: inherit; padding: .4em; margin-top: .5em; }
</style>
</head>
<body>
<h1>levent chat</h1>
<div id="log" aria-live="polite"></div>
<input id="msg" autocomplete="off" placeholder="Type a message and press Enter" autofocus>
<script>
  const log = document.getElementById("log");
  const input = document.getElementById("msg");
  const show = (text) => {
    const line = document.createElement("div");
    line.textContent = text;
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
  };
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => show("(connected)");
  ws.onmessage = (ev) => show(String(ev.data));
  ws.onclose = (ev) => show("(disconnected: " + ev.code + ")");
  input.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || input.value === "") return;
    ws.send(input.value);
    input.value = "";
  });
</script>
</body>
</html>
`;

const base = new EventBase();
const http = new HttpServer(base, { headerTimeoutMs: 30000 });
const chatters = new Set<WebSocket>();

http.setCb("/", (req) => {
  if (req.method !== "GET" && req.method !== "HEAD") {
    req.outputHeaders.set("Allow", "GET, HEAD");
    req.sendError(405);
    return;
  }
  req.outputHeaders.set("Content-Type", "text/html; charset=utf-8");
  req.sendReply(200, "OK", PAGE);
});

// evws_new_session() on /ws: the chat.
http.setCb("/ws", (req) => {
  const ws = WebSocket.upgrade(req, { perMessageDeflate: true });
  if (ws === null) return; // a bad handshake was answered (400, or 426 with Sec-WebSocket-Version: 13)
  chatters.add(ws);
  ws.setMessageCb((from, data) => {
    if (typeof data !== "string") {
      from.close(CLOSE_UNSUPPORTED_DATA, "the chat takes text only");
      return;
    }
    for (const peer of chatters) peer.sendText(data);
  });
  ws.setCloseCb((gone) => chatters.delete(gone));
});

// /echo: every message back as it came.
http.setCb("/echo", (req) => {
  const ws = WebSocket.upgrade(req, { perMessageDeflate: true, maxPayload: 64 * 1024 * 1024 });
  ws?.setMessageCb((w, data) => w.send(data));
});

let handle;
try {
  handle = await http.bind(host, port);
} catch (err) {
  log(`could not listen on ${host}:${port}: ${(err as Error).message}`);
  exitWhenDone(1);
}
if (handle !== undefined) {
  announce("http", handle.address.host, handle.address.port);
  // Open WebSockets get 1001 and their closing handshakes run within the grace period.
  onStopSignal(base, () => void http.shutdown({ graceMs: 4500 }));
  await base.dispatch();
  exitWhenDone(0);
}
