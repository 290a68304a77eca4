// Filter BufferEvents (libevent's bufferevent_filter.c): over pairs and over sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import { EV_READ, EV_WRITE, EventBase } from "../../src/event/mod.ts";
import type { EvBuffer } from "../../src/buffer/evbuffer.ts";
import {
  BEV_EVENT_CONNECTED,
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BufferEvent,
  type BufferEventFilter,
  type BufferEventFlushMode,
} from "../../src/buffer/bufferevent.ts";
import { concat, deferred, fillPattern, patternByte, sleep, within } from "../util.ts";

const platform = autoPlatform();
const dec = new TextDecoder();

function run(base: EventBase): Promise<unknown> {
  return within(base.loop(), 10000, "the loop to finish");
}

/** Upper-case ASCII letters, at most `limit` bytes at a time. */
const upper: BufferEventFilter = (src, dst, limit) => {
  const n = Math.min(src.length, limit);
  // A copy: the bytes in src are shared and must not be changed in place.
  const bytes = src.pullup(n).slice();
  for (let i = 0; i < n; i++) if (bytes[i] >= 97 && bytes[i] <= 122) bytes[i] -= 32;
  src.drain(n);
  dst.add(bytes);
  return "ok";
};

/** A raw-deflate output filter through the platform: each call ends on a byte boundary ("sync"). */
function deflater(counter: { out: number }): BufferEventFilter {
  const z = platform.compression.createDeflateRaw();
  return (src: EvBuffer, dst: EvBuffer, _limit: number, mode: BufferEventFlushMode) => {
    const bytes = src.pullup();
    src.drain(bytes.length);
    const out = z.process(bytes, mode === "finished" ? "finish" : "sync");
    counter.out += out.length;
    dst.add(out);
    return "ok";
  };
}

function inflater(): BufferEventFilter {
  const z = platform.compression.createInflateRaw();
  return (src, dst) => {
    if (src.length === 0) return "need_more";
    const bytes = src.pullup();
    src.drain(bytes.length);
    dst.add(z.process(bytes, "sync"));
    return "ok";
  };
}

test("an upper-casing filter works both ways over a socket", async () => {
  const base = new EventBase({ platform });
  const loop = base.loop({ noExitOnEmpty: true });
  let serverGot = "";
  const servers: BufferEvent[] = [];
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
    const bev = BufferEvent.socket(base, socket, { closeOnFree: true });
    servers.push(bev);
    bev.setCallbacks(
      (b) => {
        const text = dec.decode(b.read());
        serverGot += text;
        b.write(`${text} world`);
      },
      null,
      null,
    );
    bev.enable(EV_READ);
  });
  const sock = BufferEvent.socket(base, null, { closeOnFree: true });
  const client = BufferEvent.filter(sock, upper, upper, { closeOnFree: true });
  let clientGot = "";
  const events: number[] = [];
  client.setCallbacks((b) => clientGot += dec.decode(b.read()), null, (b, what) => {
    events.push(what);
    if (what & BEV_EVENT_CONNECTED) b.write("hello");
  });
  client.enable(EV_READ);
  sock.connect({ host: "127.0.0.1", port: listener.address.port });
  const start = Date.now();
  while (clientGot !== "HELLO WORLD" && Date.now() - start < 5000) await sleep(2);
  assert.equal(serverGot, "HELLO", "the output filter upper-cased on the way out");
  assert.equal(clientGot, "HELLO WORLD", "the input filter upper-cased on the way in");
  assert.deepEqual(events, [BEV_EVENT_CONNECTED], "the underlying's events reach the filter's callback");
  assert.equal(client.getUnderlying(), sock);
  client.free();
  assert.equal(sock.state, "freed", "closeOnFree frees the underlying BufferEvent");
  for (const bev of servers) bev.free();
  base.loopExit();
  await within(loop, 5000, "the loop to exit");
  await listener.close();
});

test("a deflate output filter and an inflate input filter round-trip a megabyte", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const counter = { out: 0 };
  const sender = BufferEvent.filter(a, null, deflater(counter));
  const receiver = BufferEvent.filter(b, inflater(), null);
  const size = 1 << 20;
  const piece = 64 * 1024;
  const chunks: Uint8Array[] = [];
  let received = 0;
  const log: string[] = [];
  receiver.setCallbacks(
    (r) => {
      const bytes = r.read();
      chunks.push(bytes.slice());
      received += bytes.length;
    },
    null,
    (_r, what) => log.push(`event ${what} after ${received}`),
  );
  receiver.enable(EV_READ);
  let sent = 0;
  sender.setCallbacks(null, (s) => {
    if (sent < size) {
      s.write(fillPattern(new Uint8Array(piece), sent));
      sent += piece;
    } else if (s.output.length === 0) {
      s.flush(EV_WRITE, "finished");
      sent++;
    }
  }, null);
  sender.write(fillPattern(new Uint8Array(piece), 0));
  sent = piece;
  await run(base);
  assert.equal(received, size);
  const all = concat(chunks);
  for (let i = 0; i < size; i++) {
    if (all[i] !== patternByte(i)) assert.fail(`byte ${i} differs`);
  }
  assert.ok(counter.out > 0 && counter.out < size, `compressed to ${counter.out} bytes`);
  assert.deepEqual(log, [`event ${BEV_EVENT_READING | BEV_EVENT_EOF} after ${size}`]);
});

test("a filter returning error raises READING|ERROR and stops reading", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const failing: BufferEventFilter = () => "error";
  const f = BufferEvent.filter(b, failing, null);
  const events: number[] = [];
  let reads = 0;
  f.setCallbacks(() => reads++, null, (_f, what) => events.push(what));
  f.enable(EV_READ);
  a.write("anything");
  await run(base);
  assert.deepEqual(events, [BEV_EVENT_READING | BEV_EVENT_ERROR]);
  assert.equal(reads, 0);
  assert.equal(f.getEnabled() & EV_READ, 0);
});

test("null filters pass bytes through unchanged in both directions", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const fa = BufferEvent.filter(a, null, null);
  const fb = BufferEvent.filter(b, null, null);
  let got = "";
  fb.setCallbacks(
    (f) => {
      got += dec.decode(f.read());
      if (got === "ping") f.write("pong");
    },
    null,
    null,
  );
  let back = "";
  fa.setCallbacks((f) => back += dec.decode(f.read()), null, null);
  fa.enable(EV_READ);
  fb.enable(EV_READ);
  fa.write("ping");
  await run(base);
  assert.equal(got, "ping");
  assert.equal(back, "pong");
});

test("the filter's read high watermark bounds its input and holds the underlying back", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const f = BufferEvent.filter(b, null, null);
  f.setWatermark(EV_READ, 0, 100);
  let max = 0;
  f.input.addCb((buf) => max = Math.max(max, buf.length));
  f.enable(EV_READ);
  a.write("z".repeat(10_000));
  await run(base);
  assert.equal(f.input.length, 100);
  assert.equal(b.input.length, 9900, "the pair had moved the rest before the filter filled up");
  // The full filter stops its underlying reading: new bytes stay with the sender.
  a.write("more");
  await run(base);
  assert.equal(b.input.length, 9900);
  assert.equal(a.output.length, 4);
  let total = "";
  f.setCallbacks((fb) => total += dec.decode(fb.read()), null, null);
  total += dec.decode(f.read());
  await run(base);
  assert.equal(total, "z".repeat(10_000) + "more");
  assert.ok(max <= 100, `filter input reached ${max}`);
});

test("without closeOnFree, freeing the filter hands the underlying back, callbacks cleared", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const f = BufferEvent.filter(b, upper, null);
  f.free();
  assert.equal(b.state, "open");
  let got = "";
  b.setCallbacks((bev) => got += dec.decode(bev.read()), null, null);
  a.write("plain");
  await run(base);
  assert.equal(got, "plain", "b reads again, unfiltered");
});

test("abort() on a filter with closeOnFree aborts the underlying BufferEvent; without it, it frees only itself", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const seen: number[] = [];
  b.setCallbacks(null, null, (_bev, what) => seen.push(what));
  const owning = BufferEvent.filter(a, null, upper, { closeOnFree: true });
  owning.write("never sent");
  owning.abort();
  assert.equal(owning.state, "freed");
  assert.equal(a.state, "freed", "the underlying was aborted with it");
  await run(base);
  assert.deepEqual(seen, [BEV_EVENT_READING | BEV_EVENT_ERROR]);
  assert.equal(b.input.length, 0);

  const [c, d] = BufferEvent.pair(base);
  const lending = BufferEvent.filter(c, null, upper);
  lending.abort();
  assert.equal(c.state, "open", "an underlying the filter does not own stays open");
  let got = "";
  d.setCallbacks((bev) => got += dec.decode(bev.read()), null, null);
  d.enable(EV_READ);
  c.write("still works");
  await run(base);
  assert.equal(got, "still works");
});

test("flush finished through an output filter ends its stream and the far side sees EOF", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const sender = BufferEvent.filter(a, null, upper);
  const receiver = BufferEvent.filter(b, null, null);
  const done = deferred<string>();
  let got = "";
  receiver.setCallbacks((r) => got += dec.decode(r.read()), null, (_r, what) => {
    if (what & BEV_EVENT_EOF) done.resolve(got);
  });
  receiver.enable(EV_READ);
  sender.write("the end");
  sender.flush(EV_WRITE, "finished");
  await run(base);
  assert.equal(await within(done.promise, 1000, "EOF"), "THE END");
});

test("filter() refuses bad arguments", () => {
  const base = new EventBase({ platform });
  const [a] = BufferEvent.pair(base);
  assert.throws(() => BufferEvent.filter(null as unknown as BufferEvent, null, null), /underlying/);
  assert.throws(() => BufferEvent.filter(a, 42 as unknown as BufferEventFilter, null), /inputFilter/);
  assert.throws(() => BufferEvent.filter(a, null, "x" as unknown as BufferEventFilter), /outputFilter/);
});
