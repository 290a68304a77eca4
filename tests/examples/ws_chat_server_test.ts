/**
 * examples/ws-chat-server.ts run as a process (EXAMPLES.md): the page at
 * `/`, the broadcast at `/ws`, the exact echo at `/echo` with
 * permessage-deflate when offered, 426/400 for bad handshakes, and SIGINT
 * or SIGTERM with each kind of client connected (open WebSockets get 1001;
 * exit 0 within 5 s whatever the clients do).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import WS from "ws";
import { deferred, fillPattern, within } from "../util.ts";
import { closePayload, RawWsClient, upgradeRequest } from "../ws/ws_helpers.ts";
import { cannotRunExamples, listeningPort, type RunningExample, startExample } from "./spawn_example.ts";

const skip = cannotRunExamples();

async function withChat(fn: (port: number, ex: RunningExample) => Promise<void>): Promise<void> {
  const ex = startExample("ws-chat-server", ["--port", "0"]);
  try {
    const port = await listeningPort(ex);
    assert.match(ex.stdout(), /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    await fn(port, ex);
  } finally {
    ex.kill("SIGKILL");
  }
}

function open(url: string, options: WS.ClientOptions = {}): Promise<WS> {
  const ws = new WS(url, options);
  const ready = deferred<WS>();
  ws.on("open", () => ready.resolve(ws));
  ws.on("error", (err) => ready.reject(err));
  return within(ready.promise, 5000, `open ${url}`);
}

function nextMessage(ws: WS): Promise<[string | Uint8Array, boolean]> {
  const got = deferred<[string | Uint8Array, boolean]>();
  ws.once(
    "message",
    (data, isBinary) => got.resolve([isBinary ? new Uint8Array(data as Uint8Array) : String(data), isBinary]),
  );
  return within(got.promise, 5000, "a message");
}

test("ws-chat-server serves a self-contained chat page at / that connects to /ws", { skip }, async () => {
  await withChat(async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const page = await res.text();
    assert.match(page, /new WebSocket\(/);
    assert.match(page, /\/ws"/);
    assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=|https?:\/\//, "no outside script or network");
    assert.match(page, /textContent/, "messages are shown as text, not HTML");
  });
});

test("ws-chat-server broadcasts every text message on /ws to everyone, the sender included", { skip }, async () => {
  await withChat(async (port) => {
    const a = await open(`ws://127.0.0.1:${port}/ws`);
    const b = await open(`ws://127.0.0.1:${port}/ws`);
    const toA = nextMessage(a);
    const toB = nextMessage(b);
    a.send("hello from a");
    assert.deepEqual(await toA, ["hello from a", false]);
    assert.deepEqual(await toB, ["hello from a", false]);
    a.close();
    b.close();
  });
});

test("ws-chat-server echoes /echo exactly, text as text and binary as binary, with permessage-deflate when offered", {
  skip,
}, async () => {
  await withChat(async (port) => {
    for (const deflate of [true, false]) {
      const ws = await open(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: deflate });
      if (deflate) assert.match(ws.extensions, /permessage-deflate/);
      else assert.equal(ws.extensions, "");
      for (const msg of ["text é€😀", "t".repeat(100_000), fillPattern(new Uint8Array(70_000), 5), new Uint8Array(0)]) {
        const echoed = nextMessage(ws);
        ws.send(msg, { binary: typeof msg !== "string" });
        const [data, isBinary] = await echoed;
        assert.equal(isBinary, typeof msg !== "string");
        assert.deepEqual(data, msg);
      }
      ws.close();
    }
  });
});

test(
  "ws-chat-server answers an unsupported Sec-WebSocket-Version with 426 and Sec-WebSocket-Version: 13, other bad handshakes with 400",
  { skip },
  async () => {
    await withChat(async (port) => {
      const v8 = await RawWsClient.open(port, upgradeRequest("/ws").replace("Version: 13", "Version: 8"));
      assert.match(v8.head, /^HTTP\/1\.1 426 /);
      assert.match(v8.head, /\r\nSec-WebSocket-Version: 13\r\n/);
      v8.close();
      const noKey = await RawWsClient.open(port, upgradeRequest("/ws").replace(/Sec-WebSocket-Key: .*\r\n/, ""));
      assert.match(noKey.head, /^HTTP\/1\.1 400 /);
      noKey.close();
      const plain = await fetch(`http://127.0.0.1:${port}/echo`);
      assert.equal(plain.status, 400);
      await plain.body?.cancel();
    });
  },
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(
    `ws-chat-server on ${signal} closes open WebSockets with 1001, finishes the handshakes, and exits 0 within 5 s`,
    {
      skip,
    },
    async () => {
      await withChat(async (port, ex) => {
        // A well-behaved WebSocket client, one that never answers the close, an idle HTTP keep-alive, a half-sent head.
        const polite = await open(`ws://127.0.0.1:${port}/ws`);
        const politeClosed = deferred<number>();
        polite.on("close", (code) => politeClosed.resolve(code));
        const rude = await RawWsClient.connect(port, "/echo");
        const idle = await fetch(`http://127.0.0.1:${port}/`);
        await idle.text();
        const partial = await RawWsClient.open(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Half").catch(() => null);
        const t0 = Date.now();
        ex.kill(signal);
        assert.equal(await within(politeClosed.promise, 5000, "the polite client's close"), 1001);
        const f = await rude.next();
        assert.equal(f?.opcode, 0x8);
        assert.equal((f!.payload[0] << 8) | f!.payload[1], 1001);
        // The rude client never answers: it is dropped when the grace period ends.
        const status = await within(ex.exited, 10000, "exit");
        const ms = Date.now() - t0;
        assert.equal(status, 0, ex.stderr());
        assert.ok(ms < 5000, `exited ${ms} ms after ${signal}`);
        partial?.close();
        rude.close();
      });
    },
  );
}

test("ws-chat-server closes a chat client that sends binary with 1003", { skip }, async () => {
  await withChat(async (port) => {
    const c = await RawWsClient.connect(port, "/ws");
    c.send({ opcode: 0x2, payload: Uint8Array.of(1, 2, 3) });
    const f = await c.next();
    assert.equal(f?.opcode, 0x8);
    assert.equal((f!.payload[0] << 8) | f!.payload[1], 1003);
    c.send({ opcode: 0x8, payload: closePayload(1003) });
    await within(c.ended, 5000, "the server closes TCP after the handshake");
    // A well-behaved close still works after.
    const d = await RawWsClient.connect(port, "/ws");
    d.send({ opcode: 0x8, payload: closePayload(1000) });
    assert.equal((await d.expectClose()).code, 1000);
  });
});
