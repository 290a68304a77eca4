/**
 * Interop with the `ws` npm package as the peer on both sides, with and
 * without permessage-deflate (RFC 7692), across the parameter combinations
 * of the Autobahn suite's compression groups (12.x, 13.x). On Bun, `ws`
 * resolves to Bun's own implementation: a second real peer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import WS, { WebSocketServer } from "ws";
import { EventBase } from "../../src/event/mod.ts";
import { type PerMessageDeflateOptions, WebSocket } from "../../src/ws/mod.ts";
import { platform, startWsServer } from "./ws_helpers.ts";
import { deferred, fillPattern, within } from "../util.ts";

/** Messages of every size class: empty, small, around the 125/126 and 64 KiB edges, text and binary. */
function corpus(): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = ["", "hello", "é€😀 κόσμε", "x".repeat(125), "y".repeat(126), "z".repeat(5000)];
  for (const n of [0, 1, 127, 4096, 65535, 65536, 300_000]) out.push(fillPattern(new Uint8Array(n), n));
  out.push(JSON.stringify({ list: Array.from({ length: 2000 }, (_, i) => ({ i, name: `item ${i}` })) }));
  return out;
}

function same(got: WS.RawData | string | Uint8Array, isBinary: boolean, want: string | Uint8Array): void {
  if (typeof want === "string") {
    assert.equal(isBinary, false);
    assert.equal(typeof got === "string" ? got : new TextDecoder().decode(got as Uint8Array), want);
  } else {
    assert.equal(isBinary, true);
    assert.deepEqual(new Uint8Array(got as Uint8Array), want);
  }
}

for (const deflate of [false, true]) {
  test(`a ws client talks to a levent server ${deflate ? "with" : "without"} permessage-deflate: every message echoes back exact, and close codes pass both ways`, async () => {
    const s = await startWsServer({ perMessageDeflate: deflate });
    try {
      const client = new WS(`ws://127.0.0.1:${s.port}/echo`, { perMessageDeflate: deflate });
      const open = deferred();
      client.on("open", () => open.resolve());
      client.on("error", (err) => open.reject(err));
      await within(open.promise, 5000, "open");
      if (deflate) assert.match(client.extensions, /permessage-deflate/);
      else assert.equal(client.extensions, "");
      for (const msg of corpus()) {
        const got = deferred<[WS.RawData, boolean]>();
        client.once("message", (data, isBinary) => got.resolve([data, isBinary]));
        client.send(msg, { binary: typeof msg !== "string" });
        const [data, isBinary] = await within(got.promise, 5000, "the echo");
        same(data, isBinary, msg);
      }
      const closed = deferred<[number, string]>();
      client.on("close", (code, reason) => closed.resolve([code, reason.toString()]));
      client.close(4321, "done here");
      const [code] = await within(closed.promise, 5000, "close");
      assert.equal(code, 4321);
      await within(
        (async () => {
          while (s.closes.length === 0) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        "the server's close callback",
      );
      assert.deepEqual(s.closes[0], { code: 4321, reason: "done here", clean: true });
    } finally {
      await s.stop();
    }
  });
}

/** Run a levent client against a ws server echo with the given settings; check every message. */
async function clientAgainstWs(
  serverDeflate: WS.PerMessageDeflateOptions | boolean,
  clientDeflate: PerMessageDeflateOptions | boolean,
  expectExtension: RegExp | null,
): Promise<void> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: serverDeflate });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (sock) => sock.on("message", (data, isBinary) => sock.send(data, { binary: isBinary })));
  const base = new EventBase({ platform });
  try {
    const port = (wss.address() as { port: number }).port;
    const opening = WebSocket.connect(base, `ws://127.0.0.1:${port}/`, { perMessageDeflate: clientDeflate });
    const loop = base.dispatch();
    const ws = await within(opening, 5000, "open");
    if (expectExtension === null) assert.equal(ws.extensions, "");
    else assert.match(ws.extensions, expectExtension);
    const msgs = corpus();
    const received: (string | Uint8Array)[] = [];
    const done = deferred();
    ws.setMessageCb((_w, data) => {
      received.push(data);
      if (received.length === msgs.length) done.resolve();
    });
    for (const m of msgs) ws.send(m);
    await within(done.promise, 10000, "every echo");
    for (let i = 0; i < msgs.length; i++) same(received[i], typeof received[i] !== "string", msgs[i]);
    const closed = deferred<[number, boolean]>();
    ws.setCloseCb((_w, code, _reason, clean) => closed.resolve([code, clean]));
    ws.close(1000, "bye");
    assert.deepEqual(await within(closed.promise, 5000, "close"), [1000, true]);
    await within(loop, 5000, "the loop to end");
  } finally {
    await new Promise((r) => wss.close(r));
  }
}

test("a levent client talks to a ws server without permessage-deflate", async () => {
  await clientAgainstWs(false, false, null);
});

test("a levent client declines nothing it offered: a ws server without the extension leaves it off", async () => {
  await clientAgainstWs(false, true, null);
});

test("12.x/13.x: a levent client and a ws server compress with each combination of context takeover and window bits", async () => {
  const combos: [WS.PerMessageDeflateOptions, PerMessageDeflateOptions, RegExp][] = [
    [{ threshold: 0 }, { threshold: 0 }, /^permessage-deflate/],
    [{ threshold: 0, serverNoContextTakeover: true }, { threshold: 0 }, /server_no_context_takeover/],
    [{ threshold: 0, clientNoContextTakeover: true }, { threshold: 0 }, /client_no_context_takeover/],
    [
      { threshold: 0 },
      { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
      /server_no_context_takeover/,
    ],
    [{ threshold: 0, serverMaxWindowBits: 9 }, { threshold: 0 }, /server_max_window_bits=9/],
    [{ threshold: 0, clientMaxWindowBits: 9 }, { threshold: 0 }, /client_max_window_bits=9/],
    [{ threshold: 0 }, { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 11 }, /server_max_window_bits=10/],
  ];
  for (const [server, client, ext] of combos) await clientAgainstWs(server, client, ext);
});

test("12.x/13.x: a ws client and a levent server compress with each combination of context takeover and window bits", async () => {
  const combos: [PerMessageDeflateOptions, WS.PerMessageDeflateOptions][] = [
    [{ threshold: 0 }, { threshold: 0 }],
    [{ threshold: 0, serverNoContextTakeover: true }, { threshold: 0 }],
    [{ threshold: 0, clientNoContextTakeover: true }, { threshold: 0 }],
    [{ threshold: 0 }, { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }],
    [{ threshold: 0, serverMaxWindowBits: 9 }, { threshold: 0 }],
    [{ threshold: 0 }, { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9 }],
  ];
  for (const [server, client] of combos) {
    const s = await startWsServer({ perMessageDeflate: server });
    try {
      const ws = new WS(`ws://127.0.0.1:${s.port}/echo`, { perMessageDeflate: client });
      const open = deferred();
      ws.on("open", () => open.resolve());
      ws.on("error", (err) => open.reject(err));
      await within(open.promise, 5000, "open");
      assert.match(ws.extensions, /permessage-deflate/);
      for (const msg of corpus()) {
        const got = deferred<[WS.RawData, boolean]>();
        ws.once("message", (data, isBinary) => got.resolve([data, isBinary]));
        ws.send(msg, { binary: typeof msg !== "string" });
        const [data, isBinary] = await within(got.promise, 5000, "the echo");
        same(data, isBinary, msg);
      }
      ws.close();
    } finally {
      await s.stop();
    }
  }
});

test("a compressed message that inflates past maxPayload is close 1009, however small on the wire", async () => {
  const s = await startWsServer({ perMessageDeflate: true, maxPayload: 1 << 20 });
  try {
    const ws = new WS(`ws://127.0.0.1:${s.port}/echo`, { perMessageDeflate: { threshold: 0 } });
    const open = deferred();
    ws.on("open", () => open.resolve());
    await within(open.promise, 5000, "open");
    const closed = deferred<number>();
    ws.on("close", (code) => closed.resolve(code));
    // 16 MiB of zeros compresses to about 16 KiB.
    ws.send(new Uint8Array(16 << 20));
    assert.equal(await within(closed.promise, 10000, "close"), 1009);
  } finally {
    await s.stop();
  }
});
