// The HTTP server's own cost per request, without the kernel: 64 in-memory
// connections (a fake platform socket each) send keep-alive GETs as fast as
// the server answers, like wrk -c64 but with no syscalls. Prints requests/s
// of JavaScript work, and on V8 (Node, Deno) the bytes the JavaScript heap allocated
// per request (garbage the collector must later sweep, on the same core);
// run under --cpu-prof to see where the time goes. The server is the
// HttpServer with a callback (`http`, a minimal GET; `browser`, the same
// server sent a browser-like GET with 10 header fields and a cookie),
// the same answer given a microtask later (`async`), serve() with a
// fetch-style handler (`serve`), or a Hono app on serve() (`hono`).
//
//   node bench/http/inproc.ts [REQUESTS] [http|browser|async|serve|hono]
import process from "node:process";
import v8 from "node:v8";
import { autoPlatform } from "../../adapters/auto.ts";
import { Hono } from "hono";
import { EventBase, HttpServer, type HttpServerRequest, Listener, serve } from "../../mod.ts";
import { browserGet } from "./browser_request.mjs";
import type { AcceptHandler, NetAddress, Platform, SocketHandlers, TcpSocket } from "../../src/platform.ts";

const TOTAL = Number(process.argv[2] ?? "300000");
const MODE = process.argv[3] ?? "http";
const CONNECTIONS = 64;
const REQUEST = new TextEncoder().encode(
  MODE === "browser" ? browserGet("/hello", "127.0.0.1:8080") : "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
);
const ADDR: NetAddress = { transport: "tcp", host: "127.0.0.1", port: 1, family: 4 };

let accept: AcceptHandler | undefined;
const real = autoPlatform();
const platform: Platform = {
  ...real,
  listen(_o, onAccept) {
    accept = onAccept;
    return Promise.resolve({ address: ADDR, close: () => Promise.resolve() });
  },
};

let sent = 0;
let answered = 0;
let bytes = 0;
let finish: () => void = () => {};
const done = new Promise<void>((r) => (finish = r));

class FakeSocket implements TcpSocket {
  remoteAddress = ADDR;
  localAddress = ADDR;
  bufferedAmount = 0;
  #h: SocketHandlers | undefined;
  start(h: SocketHandlers): void {
    this.#h = h;
    this.next();
  }
  next(): void {
    if (sent >= TOTAL) return;
    sent++;
    this.#h!.data(REQUEST, false);
  }
  write(b: Uint8Array): boolean {
    bytes += b.length;
    if (++answered === TOTAL) finish();
    else queueMicrotask(() => this.next());
    return true;
  }
  end(): void {}
  close(): void {}
  reset(): void {}
  pause(): void {}
  resume(): void {}
  setNoDelay(): void {}
}

const base = new EventBase({ platform });
const BODY = new TextEncoder().encode("Hello, World!");
let http: HttpServer;
let listener: Listener<unknown> | null = null;
if (MODE === "serve" || MODE === "hono") {
  const app = new Hono().get("/hello", (c) => c.text("Hello, World!"));
  const handler = MODE === "hono"
    ? app.fetch
    : () => new Response("Hello, World!", { headers: { "content-type": "text/plain" } });
  http = (await serve(handler, { base, hostname: "127.0.0.1", port: 0, onListen: () => {} })).server;
} else {
  http = new HttpServer(base);
  const answer = (req: HttpServerRequest): void => {
    req.outputHeaders.set("Content-Type", "text/plain");
    req.sendReply(200, "OK", BODY);
  };
  // `async`: the answer comes a microtask later, as from a handler that awaits.
  http.setGenCb(MODE === "async" ? (req) => void Promise.resolve(req).then(answer) : answer);
  listener = await Listener.bind(base, { host: "127.0.0.1", port: 0 }, null);
  http.acceptListener(listener);
}
const loop = base.dispatch();
/** Bytes allocated on the JavaScript heap so far, where the engine reports it (Node). */
const allocated = (): number =>
  real.name === "bun"
    ? NaN
    : (v8.getHeapStatistics() as { total_allocated_bytes?: number }).total_allocated_bytes ?? NaN;
const a0 = allocated();
const t0 = performance.now();
for (let i = 0; i < CONNECTIONS; i++) accept!(new FakeSocket());
await done;
const ms = performance.now() - t0;
const heapBytes = allocated() - a0;
console.log(
  JSON.stringify({
    runtime: real.name,
    mode: MODE,
    requests: TOTAL,
    ms: Math.round(ms),
    rps: Math.round(TOTAL / ms * 1000),
    bytesPerResponse: bytes / TOTAL,
    heapBytesPerRequest: Number.isNaN(heapBytes) ? undefined : Math.round(heapBytes / TOTAL),
  }),
);
http.free();
await listener?.free();
base.loopBreak();
await loop;
process.exit(0);
