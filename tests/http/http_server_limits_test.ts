/**
 * HttpServer under clients that push: pipelined requests from a client that
 * never reads, bodies over the buffered-body bound, and what a shutdown does
 * to connections taken over by another protocol.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EV_READ } from "../../src/event/mod.ts";
import type { BufferEvent } from "../../src/buffer/mod.ts";
import { deferred, sleep, within } from "../util.ts";
import { get, platform, RawClient, startServer } from "./server_helpers.ts";

const KIB = 1024;

test("a client that pipelines requests and never reads stops being read once its unsent answers pile up", async () => {
  let handled = 0;
  const body = "x".repeat(4 * KIB);
  const s = await startServer((server) => {
    server.setCb("/hello", (req) => {
      handled++;
      req.sendReply(200, "OK", body);
    });
  });
  try {
    let received = 0;
    const socket = await within(platform.connect({ host: "127.0.0.1", port: s.port }), 5000, "connect");
    socket.start({ data: (bytes) => void (received += bytes.length), end() {}, drain() {}, error() {}, close() {} });
    socket.pause(); // never read: the answers stay in the kernel's and the server's buffers
    const n = 40_000;
    const one = new TextEncoder().encode(get("/hello"));
    const batch = new Uint8Array(one.length * 1000);
    for (let i = 0; i < 1000; i++) batch.set(one, i * one.length);
    for (let i = 0; i < n / 1000; i++) socket.write(batch);
    // Wait for the server to stop: the count settles.
    let last = -1;
    for (let i = 0; i < 100 && handled !== last; i++) {
      last = handled;
      await sleep(200);
    }
    assert.equal(handled, last, "the server stopped handling requests");
    assert.ok(handled > 0 && handled < n / 2, `handled ${handled} of ${n} pipelined requests`);
    // Reading resumes as the client reads: every request is answered in the end.
    socket.resume();
    await within(
      (async () => {
        while (handled < n) await sleep(20);
      })(),
      60000,
      "every request answered",
    );
    await within(
      (async () => {
        while (received < n * (body.length + 80)) await sleep(20);
      })(),
      60000,
      "every answer received",
    );
    socket.close();
  } finally {
    await s.stop();
  }
});

test("a body read whole is limited to 8 MiB by default: a larger Content-Length gets 413 before a byte is read", async () => {
  let called = false;
  const s = await startServer((server) => {
    server.setCb("/upload", (req) => {
      called = true;
      req.sendReply(200, "OK", String(req.inputBuffer.length));
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${8 * KIB * KIB + 1}\r\n\r\n`);
    const [r] = await c.responses(1);
    assert.equal(r.status, 413);
    await c.waitEnd();
    assert.equal(called, false);
    // Exactly 8 MiB is allowed.
    const ok = await RawClient.connect(s.port);
    ok.send(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${8 * KIB * KIB}\r\n\r\n`);
    await ok.sendAll(new Uint8Array(8 * KIB * KIB));
    const [r2] = await ok.responses(1, [], 20000);
    assert.equal(r2.status, 200);
    assert.equal(r2.body, String(8 * KIB * KIB));
    ok.close();
  } finally {
    await s.stop();
  }
});

test("a chunked body read whole gets 413 once it passes 8 MiB, and a streamed body has no default limit", async () => {
  let streamed = 0;
  const s = await startServer((server) => {
    server.setCb("/whole", (req) => req.sendReply(200, "OK", String(req.inputBuffer.length)));
    server.setCb("/stream", (req) => {
      req.setBodyCb((r) => {
        streamed += r.inputBuffer.length;
        r.inputBuffer.drain(r.inputBuffer.length);
        if (r.bodyState === "complete") r.sendReply(200, "OK", String(streamed));
      });
    }, { streamBody: true });
  });
  const chunk = new Uint8Array(KIB * KIB);
  const sizeLine = new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`);
  const crlf = new TextEncoder().encode("\r\n");
  try {
    const c = await RawClient.connect(s.port);
    c.send("POST /whole HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (let i = 0; i < 9 && !c.isEnded; i++) {
      c.socket.write(sizeLine);
      c.socket.write(chunk);
      c.socket.write(crlf);
      await sleep(5);
    }
    const [r] = await c.responses(1, [], 20000);
    assert.equal(r.status, 413);
    await c.waitEnd();

    const d = await RawClient.connect(s.port);
    d.send(`POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: ${16 * KIB * KIB}\r\n\r\n`);
    for (let i = 0; i < 16; i++) await d.sendAll(chunk);
    const [r2] = await d.responses(1, [], 20000);
    assert.equal(r2.status, 200);
    assert.equal(r2.body, String(16 * KIB * KIB));
    d.close();
  } finally {
    await s.stop();
  }
});

test("setMaxBodySize replaces the default: a larger buffered body is read, and streamed bodies are limited too", async () => {
  const s = await startServer((server) => {
    server.setMaxBodySize(Infinity);
    server.setCb("/whole", (req) => req.sendReply(200, "OK", String(req.inputBuffer.length)));
  });
  const t = await startServer((server) => {
    server.setMaxBodySize(10);
    server.setCb("/stream", (req) => req.setBodyCb(() => {}), { streamBody: true });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send(`POST /whole HTTP/1.1\r\nHost: t\r\nContent-Length: ${9 * KIB * KIB}\r\n\r\n`);
    await c.sendAll(new Uint8Array(9 * KIB * KIB));
    const [r] = await c.responses(1, [], 20000);
    assert.equal(r.body, String(9 * KIB * KIB));
    c.close();
    const d = await RawClient.connect(t.port);
    d.send("POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n0123456789a");
    const [r2] = await d.responses(1);
    assert.equal(r2.status, 413);
    d.close();
  } finally {
    await s.stop();
    await t.stop();
  }
});

test("shutdown tells a taken-over connection through its onShutdown hook and waits until it is freed", async () => {
  const taken = deferred<BufferEvent>();
  const s = await startServer((server) => {
    server.setCb("/up", (req) => {
      const bev = req.takeOver({
        onShutdown: (b) => {
          // Say goodbye in the new protocol, then let go once it is written.
          b.write("bye\n");
          b.setCallbacks(null, (w) => w.free(), null);
        },
      });
      bev.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: line\r\nConnection: Upgrade\r\n\r\n");
      bev.enable(EV_READ);
      taken.resolve(bev);
    });
  });
  try {
    const c = await RawClient.connect(s.port);
    c.send("GET /up HTTP/1.1\r\nHost: t\r\nUpgrade: line\r\nConnection: Upgrade\r\n\r\n");
    const bev = await within(taken.promise, 5000, "the upgrade");
    await c.waitFor((t) => t.includes("\r\n\r\n"));
    assert.equal(s.server.connectionCount, 0);
    await within(s.server.shutdown({ graceMs: 5000 }), 5000, "shutdown");
    assert.equal(bev.state, "freed");
    await c.waitFor((t) => t.endsWith("bye\n"));
    await c.waitEnd();
  } finally {
    await s.stop();
  }
});

test("shutdown frees a taken-over connection without a hook at once, and drops one whose hook never lets go at the grace period's end", async () => {
  const bevs: BufferEvent[] = [];
  const s = await startServer((server) => {
    server.setCb("/plain", (req) => {
      const bev = req.takeOver();
      bev.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
      bevs.push(bev);
    });
    server.setCb("/stubborn", (req) => {
      const bev = req.takeOver({ onShutdown: () => {} });
      bev.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
      bevs.push(bev);
    });
  });
  try {
    const a = await RawClient.connect(s.port);
    a.send("GET /plain HTTP/1.1\r\nHost: t\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
    await a.waitFor((t) => t.includes("\r\n\r\n"));
    const b = await RawClient.connect(s.port);
    b.send("GET /stubborn HTTP/1.1\r\nHost: t\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n");
    await b.waitFor((t) => t.includes("\r\n\r\n"));
    const t0 = Date.now();
    const done = s.server.shutdown({ graceMs: 300 });
    await a.waitEnd(2000);
    assert.ok(Date.now() - t0 < 250, "the hookless one closed at once");
    assert.equal(b.isEnded, false);
    await within(done, 5000, "shutdown");
    assert.ok(Date.now() - t0 >= 290, "the stubborn one had the grace period");
    await b.waitEnd();
    assert.deepEqual(bevs.map((v) => v.state), ["freed", "freed"]);
  } finally {
    await s.stop();
  }
});
