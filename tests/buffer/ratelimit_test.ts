// Rate limits (libevent's bufferevent_ratelim.c): token buckets per BufferEvent and per group,
// checked exactly on a manual clock while the bytes travel over real loopback sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import type { TcpListener } from "../../src/platform.ts";
import { EV_READ, EventBase, ManualClock } from "../../src/event/mod.ts";
import { BEV_EVENT_CONNECTED, BufferEvent } from "../../src/buffer/bufferevent.ts";
import { RateLimitGroup, TokenBucketConfig, type TokenBucketOptions } from "../../src/buffer/bufferevent_ratelim.ts";
import { fillPattern, patternByte, sleep, within } from "../util.ts";

const platform = autoPlatform();

/** Wait (bounded, real time) until `cond` holds, then a little longer so stray bytes would show. */
async function settle(cond: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > 5000) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
  await sleep(30);
}

interface Link {
  /** The accepted side. */
  readonly server: BufferEvent;
  /** The connecting side. */
  readonly client: BufferEvent;
}

/** A manual-clock base with its loop running, and loopback connections on it. */
interface Rig {
  readonly base: EventBase;
  readonly clock: ManualClock;
  /** Connect a client BufferEvent to a server BufferEvent, both on `base`. */
  link(): Promise<Link>;
  /** A group on `base`, freed with the rig. */
  group(cfg: TokenBucketConfig): RateLimitGroup;
}

/** Run `fn` with a rig, then free everything it made, even when an assertion failed. */
async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const clock = new ManualClock();
  const base = new EventBase({ platform, clock });
  const loop = base.loop({ noExitOnEmpty: true });
  const bevs: BufferEvent[] = [];
  const groups: RateLimitGroup[] = [];
  const accepted: BufferEvent[] = [];
  let listener: TcpListener | null = null;
  const rig: Rig = {
    base,
    clock,
    async link(): Promise<Link> {
      listener ??= await platform.listen({ host: "127.0.0.1", port: 0 }, (socket) => {
        const bev = BufferEvent.socket(base, socket, { closeOnFree: true });
        bevs.push(bev);
        accepted.push(bev);
      });
      const before = accepted.length;
      const client = BufferEvent.socket(base, null, { closeOnFree: true });
      bevs.push(client);
      let connected = false;
      client.setCallbacks(null, null, (_b, what) => {
        if (what & BEV_EVENT_CONNECTED) connected = true;
      });
      client.connect({ host: "127.0.0.1", port: listener.address.port });
      await settle(() => connected && accepted.length > before, "the connection");
      return { server: accepted[before], client };
    },
    group(cfg: TokenBucketConfig): RateLimitGroup {
      const group = new RateLimitGroup(base, cfg);
      groups.push(group);
      return group;
    },
  };
  try {
    await fn(rig);
  } finally {
    for (const bev of bevs) bev.free();
    for (const group of groups) group.free();
    if (listener !== null) await (listener as TcpListener).close();
    base.loopExit();
    await within(loop, 5000, "the loop to exit");
  }
}

function checkPattern(bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== patternByte(offset + i)) assert.fail(`byte ${offset + i} differs`);
  }
}

const BIG = 1 << 30;

test("a read limit lets exactly readRate bytes into input per tick", () =>
  withRig(async ({ clock, link }) => {
    const { server, client } = await link();
    server.setRateLimit(new TokenBucketConfig({ readRate: 1000, writeRate: BIG }));
    server.enable(EV_READ);
    client.write(fillPattern(new Uint8Array(5000), 0));
    await settle(() => server.input.length === 1000, "the first tick's bytes");
    assert.equal(server.input.length, 1000);
    assert.equal(server.getReadLimit(), 0);
    assert.equal(server.getMaxToRead(), 0);
    for (let tick = 2; tick <= 5; tick++) {
      clock.advance(1000);
      await settle(() => server.input.length === tick * 1000, `tick ${tick}`);
      assert.equal(server.input.length, tick * 1000, `after tick ${tick}`);
    }
    clock.advance(1000);
    await sleep(20);
    assert.equal(server.input.length, 5000);
    checkPattern(server.read(), 0);
  }));

test("a write limit sends exactly writeRate bytes per tick", () =>
  withRig(async ({ clock, link }) => {
    const { server, client } = await link();
    server.enable(EV_READ);
    client.setRateLimit(new TokenBucketConfig({ readRate: BIG, writeRate: 1000 }));
    client.write(fillPattern(new Uint8Array(5000), 0));
    await settle(() => client.output.length === 4000, "the first tick's write");
    assert.equal(client.getWriteLimit(), 0);
    for (let tick = 2; tick <= 5; tick++) {
      clock.advance(1000);
      assert.equal(client.output.length, 5000 - tick * 1000, `after tick ${tick}`);
    }
    await settle(() => server.input.length === 5000, "every byte at the reader");
    checkPattern(server.read(), 0);
  }));

test("idle ticks fill the bucket up to the burst, never beyond", () =>
  withRig(async ({ clock, link }) => {
    const { server, client } = await link();
    server.setRateLimit(new TokenBucketConfig({ readRate: 1000, readBurst: 3000, writeRate: BIG }));
    server.enable(EV_READ);
    clock.advance(5000);
    assert.equal(server.getReadLimit(), 3000);
    client.write(fillPattern(new Uint8Array(10_000), 0));
    await settle(() => server.input.length === 3000, "the burst");
    clock.advance(1000);
    await settle(() => server.input.length === 4000, "the next tick");
    assert.equal(server.input.length, 4000);
  }));

test("a group's members share one bucket: together they read exactly its rate per tick", () =>
  withRig(async ({ clock, link, group: makeGroup }) => {
    const one = await link();
    const two = await link();
    const group = makeGroup(new TokenBucketConfig({ readRate: 1000, writeRate: BIG }));
    for (const { server } of [one, two]) {
      server.addToRateLimitGroup(group);
      server.enable(EV_READ);
    }
    assert.equal(group.size, 2);
    one.client.write(fillPattern(new Uint8Array(3000), 0));
    two.client.write(fillPattern(new Uint8Array(3000), 0));
    const sum = (): number => one.server.input.length + two.server.input.length;
    await settle(() => sum() === 1000, "the first tick");
    assert.equal(sum(), 1000);
    assert.equal(group.getTotals().read, 1000);
    for (let tick = 2; tick <= 6; tick++) {
      clock.advance(1000);
      await settle(() => sum() === tick * 1000, `tick ${tick}`);
      assert.equal(sum(), tick * 1000, `after tick ${tick}`);
      assert.equal(group.getTotals().read, tick * 1000);
      if (tick === 2) {
        assert.ok(one.server.input.length > 0 && two.server.input.length > 0, "both members made progress");
      }
    }
    checkPattern(one.server.read(), 0);
    checkPattern(two.server.read(), 0);
    group.resetTotals();
    assert.deepEqual(group.getTotals(), { read: 0, written: 0 });
    group.free();
    assert.equal(group.size, 0);
  }));

test("a group's members together write exactly its rate per tick", () =>
  withRig(async ({ clock, link, group: makeGroup }) => {
    const one = await link();
    const two = await link();
    const group = makeGroup(new TokenBucketConfig({ readRate: BIG, writeRate: 1000 }));
    for (const { client, server } of [one, two]) {
      client.addToRateLimitGroup(group);
      server.enable(EV_READ);
    }
    one.client.write(new Uint8Array(3000));
    two.client.write(new Uint8Array(3000));
    const left = (): number => one.client.output.length + two.client.output.length;
    await settle(() => left() === 5000, "the first tick's writes");
    for (let tick = 2; tick <= 6; tick++) {
      clock.advance(1000);
      assert.equal(left(), 6000 - tick * 1000, `after tick ${tick}`);
    }
    assert.equal(group.getTotals().written, 6000);
    await settle(() => one.server.input.length + two.server.input.length === 6000, "every byte at the readers");
    one.client.removeFromRateLimitGroup();
    assert.equal(group.size, 1);
  }));

test("setRateLimit(null) lifts the limit and the waiting bytes flow at once", () =>
  withRig(async ({ link }) => {
    const { server, client } = await link();
    server.setRateLimit(new TokenBucketConfig({ readRate: 1000, writeRate: BIG }));
    server.enable(EV_READ);
    client.write(fillPattern(new Uint8Array(50_000), 0));
    await settle(() => server.input.length === 1000, "the first tick");
    server.setRateLimit(null);
    await settle(() => server.input.length === 50_000, "the rest without a limit");
    assert.equal(server.getReadLimit(), Infinity);
    assert.equal(server.getMaxToRead(), Infinity);
    checkPattern(server.read(), 0);
  }));

test("limits can be read and decremented by hand, for the bucket and for the group", () => {
  const clock = new ManualClock();
  const base = new EventBase({ platform, clock });
  const bev = BufferEvent.socket(base, null);
  assert.equal(bev.getReadLimit(), Infinity);
  assert.equal(bev.getMaxToWrite(), Infinity);
  assert.throws(() => bev.decrementReadLimit(1), TypeError);
  bev.setRateLimit(new TokenBucketConfig({ readRate: 1000, writeRate: 500, writeBurst: 800 }));
  assert.equal(bev.getReadLimit(), 1000);
  assert.equal(bev.getWriteLimit(), 500);
  bev.decrementReadLimit(400);
  bev.decrementWriteLimit(-100);
  assert.equal(bev.getReadLimit(), 600);
  assert.equal(bev.getWriteLimit(), 600);
  clock.advance(1000);
  assert.equal(bev.getReadLimit(), 1000, "refilled up to the burst (= rate)");
  assert.equal(bev.getWriteLimit(), 800, "refilled up to the write burst");
  const group = new RateLimitGroup(base, new TokenBucketConfig({ readRate: 300, writeRate: 300 }));
  bev.addToRateLimitGroup(group);
  assert.equal(bev.getMaxToRead(), 300, "the group's share is the smaller budget");
  group.decrementReadLimit(300);
  assert.equal(group.getReadLimit(), 0);
  assert.equal(bev.getMaxToRead(), 0);
  group.decrementReadLimit(-50);
  assert.equal(bev.getMaxToRead(), 50);
  group.setMinShare(10);
  assert.throws(() => group.setMinShare(0), /n must be/);
  assert.throws(() => bev.decrementReadLimit(0.5), RangeError);
  bev.free();
  group.free();
  assert.throws(() => BufferEvent.socket(base, null).addToRateLimitGroup(group), /freed/);
});

test("a BufferEvent goes back to no limits when its last one is lifted, and a failed join keeps its group", () => {
  const clock = new ManualClock();
  const base = new EventBase({ platform, clock });
  const bev = BufferEvent.socket(base, null);
  const cfg = new TokenBucketConfig({ readRate: 1000, writeRate: 1000 });
  const group = new RateLimitGroup(base, new TokenBucketConfig({ readRate: 200, writeRate: 200 }));
  bev.setRateLimit(cfg);
  bev.addToRateLimitGroup(group);
  bev.setRateLimit(null);
  assert.equal(bev.getReadLimit(), Infinity, "no bucket of its own");
  assert.equal(bev.getMaxToRead(), 200, "the group still limits");
  assert.throws(() => bev.decrementReadLimit(1), /no rate limit/);
  const freed = new RateLimitGroup(base, cfg);
  freed.free();
  assert.throws(() => bev.addToRateLimitGroup(freed), {
    name: "LeventError",
    code: "ERR_FREED",
    message: "addToRateLimitGroup: the RateLimitGroup was freed",
  });
  assert.equal(group.size, 1, "still in its group");
  assert.equal(bev.getMaxToWrite(), 200);
  bev.removeFromRateLimitGroup();
  assert.equal(group.size, 0);
  assert.equal(bev.getMaxToRead(), Infinity);
  assert.equal(bev.getMaxToWrite(), Infinity);
  bev.addToRateLimitGroup(group);
  group.free();
  assert.equal(group.size, 0, "freeing the group removes its members");
  assert.equal(bev.getMaxToRead(), Infinity);
  bev.setRateLimit(cfg);
  bev.free();
  assert.equal(bev.getReadLimit(), Infinity, "a freed BufferEvent has no limits left");
});

test("a bad token bucket config is a RangeError naming the field", () => {
  const ok: TokenBucketOptions = { readRate: 10, writeRate: 10 };
  assert.throws(
    () => new TokenBucketConfig({ ...ok, readRate: 0 }),
    (e: unknown) => e instanceof RangeError && /readRate/.test(e.message),
  );
  assert.throws(
    () => new TokenBucketConfig({ ...ok, writeRate: 1.5 }),
    (e: unknown) => e instanceof RangeError && /writeRate/.test(e.message),
  );
  assert.throws(
    () => new TokenBucketConfig({ ...ok, readBurst: 5 }),
    (e: unknown) => e instanceof RangeError && /readBurst/.test(e.message),
  );
  assert.throws(
    () => new TokenBucketConfig({ ...ok, writeBurst: 9 }),
    (e: unknown) => e instanceof RangeError && /writeBurst/.test(e.message),
  );
  assert.throws(
    () => new TokenBucketConfig({ ...ok, tickMs: 0 }),
    (e: unknown) => e instanceof RangeError && /tickMs/.test(e.message),
  );
  assert.throws(() => new TokenBucketConfig(null as unknown as TokenBucketOptions), TypeError);
  const cfg = new TokenBucketConfig({ readRate: 10, writeRate: 20, writeBurst: 40, tickMs: 250 });
  assert.deepEqual(
    [cfg.readRate, cfg.readBurst, cfg.writeRate, cfg.writeBurst, cfg.tickMs],
    [10, 10, 20, 40, 250],
  );
});

test("rate limits are for socket BufferEvents", () => {
  const base = new EventBase({ platform });
  const [a] = BufferEvent.pair(base);
  const cfg = new TokenBucketConfig({ readRate: 10, writeRate: 10 });
  assert.throws(() => a.setRateLimit(cfg), TypeError);
  assert.throws(() => a.addToRateLimitGroup(new RateLimitGroup(base, cfg)), TypeError);
  const other = new EventBase({ platform });
  const bev = BufferEvent.socket(base, null);
  assert.throws(() => bev.addToRateLimitGroup(new RateLimitGroup(other, cfg)), /base/);
  assert.throws(() => bev.setRateLimit({} as TokenBucketConfig), TypeError);
});
