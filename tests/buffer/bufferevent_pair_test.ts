// BufferEvent.pair: two linked in-memory ends (libevent's bufferevent_pair.c).
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import { EV_READ, EV_WRITE, EventBase, ManualClock } from "../../src/event/mod.ts";
import { BufferError } from "../../src/buffer/buffer_error.ts";
import { EvBuffer } from "../../src/buffer/evbuffer.ts";
import {
  BEV_EVENT_EOF,
  BEV_EVENT_ERROR,
  BEV_EVENT_READING,
  BEV_EVENT_TIMEOUT,
  BEV_EVENT_WRITING,
  BufferEvent,
} from "../../src/buffer/bufferevent.ts";
import { within } from "../util.ts";

const platform = autoPlatform();
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Run the loop until it has nothing left to do, bounded. */
function run(base: EventBase): Promise<unknown> {
  return within(base.loop(), 5000, "the loop to finish");
}

test("bytes written to one end arrive in the other's input, moved without a copy", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const got: Uint8Array[] = [];
  let wrote = 0;
  b.setCallbacks((bev) => got.push(bev.read()), null, null);
  a.setCallbacks(null, () => wrote++, null);
  b.enable(EV_READ);
  const payload = new Uint8Array(1000).fill(7);
  a.write(payload);
  assert.equal(got.length, 0, "callbacks wait for the loop");
  await run(base);
  assert.equal(got.length, 1);
  assert.equal(got[0].length, 1000);
  assert.equal(got[0].buffer, payload.buffer, "the reader sees the writer's own bytes");
  assert.equal(wrote, 1, "the writer hears its output drained");
  assert.equal(a.output.length, 0);
});

test("nothing moves while the receiver has reading disabled; enabling it delivers", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  let reads = 0;
  b.setCallbacks(() => reads++, null, null);
  a.write("held back");
  await run(base);
  assert.equal(reads, 0);
  assert.equal(b.input.length, 0);
  assert.equal(a.output.length, 9);
  b.enable(EV_READ);
  await run(base);
  assert.equal(reads, 1);
  assert.equal(dec.decode(b.read()), "held back");
});

test("the receiver's read high watermark bounds its input; draining lets the rest flow", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  b.setWatermark(EV_READ, 0, 100);
  const seen: number[] = [];
  let total = "";
  b.setCallbacks(
    (bev) => {
      seen.push(bev.input.length);
      total += dec.decode(bev.read(30));
    },
    null,
    null,
  );
  b.enable(EV_READ);
  const text = "x".repeat(1000);
  a.write(text);
  await run(base);
  while (b.input.length > 0) total += dec.decode(b.read());
  assert.ok(seen.length > 1);
  assert.ok(Math.max(...seen) <= 100, `max input ${Math.max(...seen)}`);
  // Whatever the reader left behind, every byte arrives in order.
  assert.equal(total + dec.decode(a.output.pullup()), text);
});

test("a pair's input end and output start are frozen, as in libevent", () => {
  const base = new EventBase({ platform });
  const [a] = BufferEvent.pair(base);
  assert.throws(
    () => a.input.add(enc.encode("x")),
    (e: unknown) => e instanceof BufferError && e.code === "ERR_FROZEN",
  );
  a.write("y");
  assert.throws(() => a.output.drain(1), (e: unknown) => e instanceof BufferError && e.code === "ERR_FROZEN");
});

test("freeing one end hands its remaining output to the partner, then READING|EOF", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const order: string[] = [];
  b.setCallbacks(
    (bev) => order.push(`read ${dec.decode(bev.read())}`),
    null,
    (_bev, what) => order.push(`event ${what}`),
  );
  a.write("last words");
  // b is not reading, so the bytes are still in a's output when a is freed.
  a.free();
  await run(base);
  assert.deepEqual(order, ["read last words", `event ${BEV_EVENT_READING | BEV_EVENT_EOF}`]);
  assert.equal(b.getPartner(), null);
  assert.equal(b.state, "closed");
  assert.equal(a.state, "freed");
});

test("abort() on one end hands the partner nothing more and READING|ERROR with ECONNRESET, not EOF", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const order: string[] = [];
  b.setCallbacks(
    (bev) => order.push(`read ${dec.decode(bev.read())}`),
    null,
    (_bev, what) => order.push(`event ${what}`),
  );
  a.write("cut off");
  // b is not reading, so the bytes are still in a's output when a is aborted.
  a.abort();
  await run(base);
  assert.deepEqual(order, [`event ${BEV_EVENT_READING | BEV_EVENT_ERROR}`]);
  assert.equal((b.socketError as Error & { code?: string }).code, "ECONNRESET");
  assert.equal(b.state, "closed");
  assert.equal(b.getPartner(), null);
  assert.equal(a.state, "freed");
  assert.equal(a.output.length, 0);
  a.abort();
  a.free();
});

test("getPartner returns the other end", () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  assert.equal(a.getPartner(), b);
  assert.equal(b.getPartner(), a);
  assert.equal(a.getUnderlying(), null);
  assert.equal(a.socket, null);
});

test("flush finished moves bytes past the watermark and gives the partner EOF", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  b.setWatermark(EV_READ, 0, 4);
  const events: number[] = [];
  b.setCallbacks(null, null, (_bev, what) => events.push(what));
  b.enable(EV_READ);
  a.write("0123456789");
  a.flush(EV_WRITE, "finished");
  await run(base);
  assert.equal(dec.decode(b.read()), "0123456789");
  assert.deepEqual(events, [BEV_EVENT_READING | BEV_EVENT_EOF]);
});

test("callbacks are deferred: a write inside a read callback reaches the other end on a later turn", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  const log: string[] = [];
  let depth = 0;
  const echo = (bev: BufferEvent): void => {
    depth++;
    const text = dec.decode(bev.read());
    log.push(`${depth} ${text}`);
    if (text.length < 4) bev.write(text + "!");
    depth--;
  };
  a.setCallbacks(echo, null, null);
  b.setCallbacks(echo, null, null);
  a.enable(EV_READ);
  b.enable(EV_READ);
  a.write("a");
  await run(base);
  // Never nested: each callback ran at depth 1.
  assert.deepEqual(log, ["1 a", "1 a!", "1 a!!", "1 a!!!"]);
});

test("readBuffer and writeBuffer move whole buffers", async () => {
  const base = new EventBase({ platform });
  const [a, b] = BufferEvent.pair(base);
  b.enable(EV_READ);
  const src = new EvBuffer();
  src.addString("moved");
  a.writeBuffer(src);
  assert.equal(src.length, 0);
  await run(base);
  const dst = new EvBuffer();
  assert.equal(b.readBuffer(dst), 5);
  assert.equal(dec.decode(dst.pullup()), "moved");
});

test("a pair's read timeout fires after the given idle time on a manual clock", async () => {
  const clock = new ManualClock();
  const base = new EventBase({ platform, clock });
  const [a, b] = BufferEvent.pair(base);
  const events: number[] = [];
  b.setCallbacks((bev) => bev.read(), null, (_bev, what) => events.push(what));
  b.enable(EV_READ);
  b.setTimeouts(1000);
  const done = base.loop();
  clock.advance(600);
  a.write("activity");
  await new Promise((r) => setTimeout(r, 10));
  clock.advance(600);
  assert.deepEqual(events, [], "bytes at 600 ms pushed the deadline to 1600 ms");
  clock.advance(400);
  assert.deepEqual(events, [BEV_EVENT_READING | BEV_EVENT_TIMEOUT]);
  assert.equal(b.getEnabled() & EV_READ, 0, "a read timeout disables reading");
  await within(done, 5000, "the loop to finish");
});

test("a pair's write timeout fires when the partner does not read", async () => {
  const clock = new ManualClock();
  const base = new EventBase({ platform, clock });
  const [a] = BufferEvent.pair(base);
  const events: number[] = [];
  a.setCallbacks(null, null, (_bev, what) => events.push(what));
  a.setTimeouts(undefined, 500);
  a.write("nobody reads this");
  const done = base.loop();
  await new Promise((r) => setTimeout(r, 10));
  clock.advance(499);
  assert.deepEqual(events, []);
  clock.advance(1);
  assert.deepEqual(events, [BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT]);
  assert.equal(a.getEnabled() & EV_WRITE, 0);
  await within(done, 5000, "the loop to finish");
});

test("methods of a freed BufferEvent throw ERR_FREED naming them; free() again is harmless", () => {
  const base = new EventBase({ platform });
  const [a] = BufferEvent.pair(base);
  a.free();
  a.free();
  a.abort();
  for (
    const [op, call] of [["write", () => a.write("x")], ["enable", () => a.enable(EV_READ)], [
      "read",
      () => a.read(),
    ]] as const
  ) {
    assert.throws(call, { name: "LeventError", code: "ERR_FREED", message: `${op}: the BufferEvent was freed` });
  }
});

test("bad arguments are refused with errors naming them", () => {
  const base = new EventBase({ platform });
  const [a] = BufferEvent.pair(base);
  assert.throws(() => a.enable(0x40), /events/);
  assert.throws(() => a.setWatermark(EV_READ, 10, 5), /low/);
  assert.throws(() => a.setWatermark(EV_READ, -1, 5), /low/);
  assert.throws(() => a.setTimeouts(-5), /readMs/);
  assert.throws(() => a.read(1.5), /max/);
  assert.throws(() => a.write(42 as unknown as string), /data/);
  assert.throws(() => a.flush(EV_WRITE, "later" as "flush"), /mode/);
  assert.throws(() => BufferEvent.pair(base, { closeOnFree: 1 as unknown as boolean }), /closeOnFree/);
  assert.throws(() => a.setRateLimit(null), TypeError);
});

test("an argument of the wrong type is a TypeError and a number out of range a RangeError, both naming it", () => {
  const base = new EventBase({ platform });
  const [a] = BufferEvent.pair(base);
  const named = (kind: typeof TypeError, name: string) => (e: unknown) =>
    e instanceof kind && e.message.startsWith(`${name} must be`);
  assert.throws(() => a.enable("read" as unknown as number), named(TypeError, "events"));
  assert.throws(() => a.enable(0x40), named(RangeError, "events"));
  assert.throws(() => a.getWatermark(EV_READ | EV_WRITE), named(RangeError, "events"));
  assert.throws(() => a.setWatermark(EV_READ, "1" as unknown as number, 5), named(TypeError, "low"));
  assert.throws(() => a.setTimeouts(Infinity), named(RangeError, "readMs"));
  assert.throws(() => a.setTimeouts(0, "1" as unknown as number), named(TypeError, "writeMs"));
  assert.throws(() => a.flush(EV_WRITE, 1 as unknown as "flush"), named(TypeError, "mode"));
  assert.throws(() => a.setCallbacks(null, {} as unknown as null, null), named(TypeError, "writecb"));
  assert.throws(() => a.readBuffer(new Uint8Array(1) as unknown as EvBuffer), named(TypeError, "dst"));
  assert.throws(() => a.decrementReadLimit(NaN), named(RangeError, "n"));
  assert.throws(() => BufferEvent.pair({} as EventBase), named(TypeError, "base"));
  assert.throws(() => BufferEvent.pair(base, null as unknown as object), named(TypeError, "options"));
  assert.throws(
    () => BufferEvent.filter(a, null, null, { deferCallbacks: "yes" as unknown as boolean }),
    /deferCallbacks/,
  );
  assert.ok(a.getWatermark(EV_WRITE).high === 0, "a good argument still passes");
});
