/**
 * The WebSocket session: the closing handshake from either side and its
 * timeout, ping/pong and the keepalive, backpressure on sending and
 * reading, a server shutdown's 1001, and each place libevent's evws falls
 * short (no pong, final continuation frames refused, close answered with
 * code 0, a session left open after a non-EOF error, a fixed 10 MiB frame
 * cap, no UTF-8 check, no client), where levent does the right thing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventBase } from "../../src/event/mod.ts";
import { HttpServer } from "../../src/http/mod.ts";
import { WebSocket } from "../../src/ws/mod.ts";
import { closePayload, platform, RawWsClient, startWsServer, upgradeRequest } from "./ws_helpers.ts";
import { deferred, sleep, within } from "../util.ts";

const TEXT = 0x1;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;
const dec = new TextDecoder();

/** A levent client connected to a levent server on one base; the server's sockets are in `server.sockets`. */
async function pair(serverOptions = {}, clientOptions = {}) {
  const s = await startWsServer(serverOptions);
  const base = new EventBase({ platform });
  const opening = WebSocket.connect(base, `ws://127.0.0.1:${s.port}/echo`, clientOptions);
  const loop = base.dispatch();
  const client = await within(opening, 5000, "open");
  return { s, base, client, loop };
}

test("a client's close: the server answers, closes TCP first, and both sides report the client's code, clean", async () => {
  const { s, client, loop } = await pair();
  try {
    const closed = deferred<[number, string, boolean]>();
    client.setCloseCb((_w, code, reason, clean) => closed.resolve([code, reason, clean]));
    client.close(1000, "see you");
    assert.equal(client.state, "closing");
    assert.equal(client.send("after close"), false, "nothing is sent after close()");
    assert.equal(client.ping("after close"), false);
    assert.deepEqual(await within(closed.promise, 5000, "close"), [1000, "", true]);
    assert.equal(client.state, "closed");
    // Closed, not freed: as a browser's WebSocket, nothing throws and nothing happens.
    assert.equal(client.sendBinary(new Uint8Array(3)), false);
    assert.equal(client.bufferedAmount, 0);
    client.close(1000);
    client.terminate();
    client.pause();
    client.resume();
    assert.equal(client.paused, false);
    assert.equal(client.state, "closed");
    await within(loop, 5000, "the client's loop ends");
    assert.deepEqual(s.closes, [{ code: 1000, reason: "see you", clean: true }]);
  } finally {
    await s.stop();
  }
});

test("EventBase.free() drops a WebSocket made on it (1006, the close callback runs); its calls then do nothing", async () => {
  const { s, base, client, loop } = await pair();
  try {
    const closed: Array<[number, boolean]> = [];
    client.setCloseCb((_w, code, _reason, clean) => closed.push([code, clean]));
    base.loopBreak();
    await within(loop, 5000, "the client's loop ends");
    base.free();
    assert.deepEqual(closed, [[1006, false]]);
    assert.equal(client.state, "closed");
    assert.equal(client.bufferEvent.state, "freed");
    assert.equal(client.send("after free"), false);
    client.close(1000);
    client.terminate();
    assert.equal(closed.length, 1, "the close callback runs once");
  } finally {
    await s.stop();
  }
});

test("a server's close: the client answers with the same code and the server closes TCP", async () => {
  const s = await startWsServer();
  try {
    const c = await RawWsClient.connect(s.port);
    s.sockets[0].close(4000, "bye now");
    const f = await c.next();
    assert.equal(f?.opcode, CLOSE);
    assert.equal((f!.payload[0] << 8) | f!.payload[1], 4000);
    assert.equal(dec.decode(f!.payload.subarray(2)), "bye now");
    c.send({ opcode: CLOSE, payload: closePayload(4000) });
    await within(c.ended, 5000, "the server closes TCP after the handshake");
    await sleep(20);
    assert.deepEqual(s.closes, [{ code: 4000, reason: "", clean: true }]);
  } finally {
    await s.stop();
  }
});

test("a peer that never answers a close is dropped after closeTimeoutMs, reported as 1006", async () => {
  const s = await startWsServer({ closeTimeoutMs: 200 });
  try {
    const c = await RawWsClient.connect(s.port);
    const t0 = Date.now();
    s.sockets[0].close(1000);
    assert.equal((await c.next())?.opcode, CLOSE);
    await within(c.ended, 5000, "the drop");
    assert.ok(Date.now() - t0 >= 190, "the close timeout was waited");
    await sleep(20);
    assert.deepEqual(s.closes, [{ code: 1006, reason: "", clean: false }]);
  } finally {
    await s.stop();
  }
});

test("close() refuses codes that may not be sent and reasons over 123 bytes", async () => {
  const { s, client, loop } = await pair();
  try {
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1.5]) {
      assert.throws(() => client.close(code), RangeError, `code ${code}`);
    }
    assert.throws(() => client.close(1000, "x".repeat(124)), RangeError);
    assert.throws(() => client.close(undefined, "a reason needs a code"), RangeError);
    client.close(1000, "x".repeat(123));
    await within(loop, 5000, "the loop");
  } finally {
    await s.stop();
  }
});

test("ping() gets the peer's pong; the keepalive pings on its interval and drops a peer that does not answer", async () => {
  const s = await startWsServer({ pingIntervalMs: 100 });
  try {
    // A raw client that answers pings: it stays.
    const alive = await RawWsClient.connect(s.port);
    for (let i = 0; i < 3; i++) {
      const f = await alive.next();
      assert.equal(f?.opcode, PING);
      alive.send({ opcode: PONG, payload: f!.payload });
    }
    assert.equal(alive.isEnded, false);
    // One that does not: dropped within two intervals.
    const dead = await RawWsClient.connect(s.port);
    assert.equal((await dead.next())?.opcode, PING);
    await within(dead.ended, 2000, "the silent peer to be dropped");
    alive.close();
    await sleep(50);
    assert.ok(s.closes.some((c) => c.code === 1006 && !c.clean));
  } finally {
    await s.stop();
  }
  const { s: s2, client, loop } = await pair();
  try {
    const pong = deferred<string>();
    client.setControlCbs(null, (_w, data) => pong.resolve(dec.decode(data)));
    assert.equal(client.ping("are you there"), true);
    assert.equal(await within(pong.promise, 5000, "the pong"), "are you there");
    assert.throws(() => client.ping(new Uint8Array(126)), RangeError);
    client.close(1000);
    await within(loop, 5000, "loop");
  } finally {
    await s2.stop();
  }
});

test("send() returns false past sendHighWaterMark and the drain callback says when to go on; pause() holds messages back", async () => {
  const base = new EventBase({ platform });
  const http = new HttpServer(base);
  let server: WebSocket | null = null;
  const ready = deferred();
  http.setCb("/big", (req) => {
    server = WebSocket.upgrade(req, { sendHighWaterMark: 1 << 20 });
    ready.resolve();
  });
  const handle = await http.bind("127.0.0.1", 0);
  const opening = WebSocket.connect(base, `ws://127.0.0.1:${handle.address.port}/big`);
  const loop = base.dispatch();
  try {
    const client = await within(opening, 5000, "open");
    await ready.promise;
    const ws = server as unknown as WebSocket;
    client.pause();
    assert.equal(client.paused, true);
    const chunk = new Uint8Array(256 * 1024);
    let sent = 0;
    while (ws.send(chunk)) sent++;
    sent++;
    assert.ok(ws.bufferedAmount > 1 << 20, `bufferedAmount ${ws.bufferedAmount}`);
    const drained = deferred();
    ws.setDrainCb(() => drained.resolve());
    let got = 0;
    client.setMessageCb(() => got++);
    await sleep(100);
    assert.equal(got, 0, "a paused connection delivers nothing");
    client.resume();
    await within(drained.promise, 10000, "the drain callback");
    await within(
      (async () => {
        while (got < sent) await sleep(5);
      })(),
      10000,
      "every message",
    );
    client.close(1000);
  } finally {
    http.free();
    await within(loop, 5000, "loop");
  }
});

test("a server shutdown closes open WebSockets with 1001 within the grace period, and the shutdown waits for the handshake", async () => {
  const s = await startWsServer();
  try {
    const c = await RawWsClient.connect(s.port);
    const done = s.http.shutdown({ graceMs: 2000 });
    const f = await c.next();
    assert.equal(f?.opcode, CLOSE);
    assert.equal((f!.payload[0] << 8) | f!.payload[1], 1001);
    let finished = false;
    void done.then(() => (finished = true));
    await sleep(50);
    assert.equal(finished, false, "the shutdown waits for the closing handshake");
    c.send({ opcode: CLOSE, payload: closePayload(1001) });
    await within(c.ended, 5000, "TCP close");
    await within(done, 5000, "the shutdown");
    assert.deepEqual(s.closes, [{ code: 1001, reason: "", clean: true }]);
  } finally {
    await s.stop();
  }
});

test("where libevent's evws falls short, levent does not", async () => {
  const s = await startWsServer({ maxPayload: 32 << 20 });
  try {
    // evws sends no pong: levent answers every ping.
    const c = await RawWsClient.connect(s.port);
    c.send({ opcode: PING, payload: "ping" });
    assert.equal((await c.next())?.opcode, PONG);
    // evws treats a final continuation frame (opcode 0, FIN) as an error: levent ends the message with it.
    c.send({ opcode: TEXT, payload: "a browser's ", fin: false });
    c.send({ opcode: 0, payload: "fragmented message", fin: true });
    assert.equal(dec.decode((await c.nextData())!.payload), "a browser's fragmented message");
    // evws caps frames at 10 MiB: levent's limit is maxPayload, here 32 MiB.
    const big = new Uint8Array(12 << 20).fill(0x62);
    c.send({ opcode: 0x2, payload: big });
    assert.equal((await c.nextData(30000))!.payload.length, big.length);
    // evws answers a close with code 0: levent echoes the peer's code.
    c.send({ opcode: CLOSE, payload: closePayload(3001) });
    assert.equal((await c.expectClose()).code, 3001);
    // evws validates no UTF-8: levent closes with 1007.
    const d = await RawWsClient.connect(s.port);
    d.send({ opcode: TEXT, payload: Uint8Array.of(0xff) });
    assert.equal((await d.expectClose()).code, 1007);
    // evws leaves a session open after a non-EOF error: levent's session ends and reports it.
    const e = await RawWsClient.connect(s.port);
    e.socket.reset();
    await sleep(100);
    assert.equal(s.sockets[2].state, "closed");
    assert.equal(s.closes.at(-1)?.code, 1006);
  } finally {
    await s.stop();
  }
  // evws has no client: levent's connects (tested in full elsewhere).
  const { s: s2, client, loop } = await pair();
  try {
    const echoed = deferred<string>();
    client.setMessageCb((_w, data) => echoed.resolve(String(data)));
    client.send("from the levent client");
    assert.equal(await within(echoed.promise, 5000, "echo"), "from the levent client");
    client.close(1000);
    await within(loop, 5000, "loop");
  } finally {
    await s2.stop();
  }
});

test("bad arguments to send(), the callbacks and options get TypeError or RangeError naming them", async () => {
  const { s, client, loop } = await pair();
  try {
    assert.throws(() => client.sendText(42 as unknown as string), /text must be a string/);
    assert.throws(() => client.sendBinary("x" as unknown as Uint8Array), /data must be a Uint8Array/);
    assert.throws(() => client.setMessageCb(5 as unknown as null), TypeError);
    assert.throws(() => client.setCloseCb("x" as unknown as null), TypeError);
    client.close(1000);
    await within(loop, 5000, "loop");
  } finally {
    await s.stop();
  }
  let caught: unknown = null;
  const t = await startWsServer({}, (http) => {
    http.setCb("/bad", (req) => {
      try {
        WebSocket.upgrade(req, { maxPayload: -1 });
      } catch (err) {
        caught = err;
        req.sendError(500);
      }
    });
  });
  try {
    const c = await RawWsClient.open(t.port, upgradeRequest("/bad"));
    assert.match(c.head, /^HTTP\/1\.1 500 /, "the request is still HTTP's to answer");
    assert.ok(caught instanceof RangeError);
    assert.match((caught as Error).message, /maxPayload/);
    c.close();
  } finally {
    await t.stop();
  }
  assert.throws(
    () => WebSocket.connect(new EventBase({ platform }), "ws://x/", { closeTimeoutMs: -5 }),
    /closeTimeoutMs/,
  );
});

test("a message callback that throws closes only its connection with 1011 and reports the error; the server goes on", async () => {
  const reported: unknown[] = [];
  const s = await startWsServer({}, (http) => {
    http.setCb("/boom", (req) => {
      const ws = WebSocket.upgrade(req);
      ws?.setErrorCb((_w, err) => reported.push(err));
      ws?.setMessageCb(() => {
        throw new Error("handler bug");
      });
    });
  });
  try {
    const bad = await RawWsClient.connect(s.port, "/boom");
    bad.send({ opcode: TEXT, payload: "trigger" });
    const f = await bad.next();
    assert.equal(f?.opcode, CLOSE);
    assert.equal((f!.payload[0] << 8) | f!.payload[1], 1011);
    assert.equal((reported[0] as Error).message, "handler bug");
    const good = await RawWsClient.connect(s.port);
    good.send({ opcode: TEXT, payload: "still serving" });
    assert.equal(dec.decode((await good.nextData())!.payload), "still serving");
    good.close();
    bad.close();
  } finally {
    await s.stop();
  }
});
