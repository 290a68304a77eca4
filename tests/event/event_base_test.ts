import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import {
  EV_CLOSED,
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  EV_WRITE,
  Event,
  EventBase,
  EventError,
  ManualClock,
  PollableSocket,
} from "../../src/event/mod.ts";
import type { Platform, SignalName } from "../../src/platform.ts";
import { deferred, prng, within } from "../util.ts";

const platform = autoPlatform();

/** A base on the real platform whose timers run on a manual clock. */
function manualBase(): { base: EventBase; clock: ManualClock } {
  const clock = new ManualClock();
  return { base: new EventBase({ platform, clock }), clock };
}

test("one-shot timers fire in deadline order, ties in the order added, and dispatch ends when none are left", async () => {
  const { base, clock } = manualBase();
  const order: string[] = [];
  for (const [name, ms] of [["c", 30], ["a", 10], ["b1", 20], ["b2", 20]] as const) {
    new Event(base, null, 0, (_s, what) => {
      assert.equal(what, EV_TIMEOUT);
      order.push(`${name}@${base.now()}`);
    }).add(ms);
  }
  const result = base.loop();
  assert.equal(base.countEvents().added, 4);
  clock.advance(100);
  assert.equal(await within(result, 1000, "loop end"), 1);
  assert.deepEqual(order, ["a@10", "b1@20", "b2@20", "c@30"]);
  assert.equal(base.countEvents().added, 0);
  assert.equal(clock.pendingTimers, 0, "no runtime timer left armed");
});

test("a persistent timer re-arms every period until deleted", async () => {
  const { base, clock } = manualBase();
  const at: number[] = [];
  const tick = new Event(base, null, EV_PERSIST, () => {
    at.push(base.now());
    if (at.length === 3) tick.del();
  });
  tick.add(10);
  const done = base.dispatch();
  clock.advance(35);
  await within(done, 1000, "dispatch");
  assert.deepEqual(at, [10, 20, 30]);
  assert.equal(tick.pending(EV_TIMEOUT), 0);
});

test("active events run lowest priority number first, and lower priorities wait for the higher queue to empty", async () => {
  const { base } = manualBase();
  base.priorityInit(3);
  assert.equal(base.priorities, 3);
  assert.equal(base.defaultPriority, 1);
  const order: string[] = [];
  const mk = (name: string, priority: number, then?: () => void): Event => {
    const ev = new Event(base, null, 0, () => {
      order.push(name);
      then?.();
    });
    ev.prioritySet(priority);
    return ev;
  };
  const urgentLate = mk("p0-late", 0);
  const low = mk("p2", 2);
  const mid = mk("p1", 1);
  const urgent = mk("p0", 0, () => urgentLate.active(EV_TIMEOUT));
  low.active(EV_TIMEOUT);
  mid.active(EV_TIMEOUT);
  urgent.active(EV_TIMEOUT);
  assert.equal(await within(base.loop(), 1000, "loop"), 1);
  assert.deepEqual(order, ["p0", "p0-late", "p1", "p2"]);
});

test("loopExit with a delay ends the loop at that time, leaving other events pending", async () => {
  const { base, clock } = manualBase();
  let ticks = 0;
  const tick = new Event(base, null, EV_PERSIST, () => ticks++);
  tick.add(30);
  base.loopExit(100);
  const result = base.loop();
  clock.advance(99);
  assert.equal(base.running, true);
  clock.advance(1);
  assert.equal(await within(result, 1000, "loop"), 0);
  assert.equal(base.gotExit(), true);
  assert.equal(base.gotBreak(), false);
  assert.equal(ticks, 3);
  assert.ok(tick.pending(EV_TIMEOUT));
  tick.del();
});

test("loopBreak inside a callback stops before the next active event, which runs in the next loop", async () => {
  const { base } = manualBase();
  const order: string[] = [];
  const a = new Event(base, null, 0, () => order.push("a"));
  const b = new Event(base, null, 0, () => {
    order.push("b");
    base.loopBreak();
  });
  const c = new Event(base, null, 0, () => order.push("c"));
  a.active(EV_TIMEOUT);
  b.active(EV_TIMEOUT);
  c.active(EV_TIMEOUT);
  assert.equal(await within(base.loop(), 1000, "loop"), 0);
  assert.equal(base.gotBreak(), true);
  assert.deepEqual(order, ["a", "b"]);
  assert.equal(c.pending(EV_TIMEOUT), EV_TIMEOUT, "c is still active");
  assert.equal(await within(base.loop(), 1000, "second loop"), 1);
  assert.equal(base.gotBreak(), false);
  assert.deepEqual(order, ["a", "b", "c"]);
});

test("deleting an event from inside another's callback keeps it from running", async () => {
  const { base, clock } = manualBase();
  const ran: string[] = [];
  const second = new Event(base, null, 0, () => ran.push("second"));
  const first = new Event(base, null, 0, () => {
    ran.push("first");
    second.del();
  });
  first.add(10);
  second.add(10);
  const done = base.dispatch();
  clock.advance(10);
  await within(done, 1000, "dispatch");
  assert.deepEqual(ran, ["first"]);
});

test("100,000 timers added and half of them cancelled: exactly the rest fire, in deadline order", async () => {
  const { base, clock } = manualBase();
  const n = 100_000;
  const random = prng(12345);
  const fired: number[] = [];
  const deadlines = new Map<number, number>();
  const events: Event<number>[] = [];
  for (let i = 0; i < n; i++) {
    const ms = random(10_000);
    deadlines.set(i, ms);
    const ev = new Event(base, null, 0, (_s, _w, id) => fired.push(id), i);
    ev.add(ms);
    events.push(ev);
  }
  for (let i = 0; i < n; i += 2) events[i].del();
  assert.equal(base.countEvents().added, n / 2);
  const done = base.dispatch();
  clock.advance(10_000);
  await within(done, 5000, "dispatch");
  assert.equal(fired.length, n / 2);
  assert.ok(fired.every((id) => id % 2 === 1), "only the kept timers fire");
  for (let i = 1; i < fired.length; i++) {
    assert.ok(deadlines.get(fired[i - 1])! <= deadlines.get(fired[i])!, `order broken at ${i}`);
  }
});

test("once() runs its callback one time and leaves nothing pending; it refuses EV_PERSIST and EV_SIGNAL", async () => {
  const { base, clock } = manualBase();
  let calls = 0;
  base.once(
    null,
    0,
    (_s, what, arg) => {
      calls++;
      assert.equal(what, EV_TIMEOUT);
      assert.equal(arg, "payload");
    },
    5,
    "payload",
  );
  const done = base.dispatch();
  clock.advance(50);
  await within(done, 1000, "dispatch");
  assert.equal(calls, 1);
  assert.equal(base.countEvents().added, 0);
  assert.throws(() => base.once(null, EV_PERSIST, () => {}), TypeError);
  assert.throws(() => base.once("SIGINT", EV_SIGNAL, () => {}), TypeError);
});

test("defer() runs on the next iteration, after the callbacks already active", async () => {
  const { base } = manualBase();
  const order: string[] = [];
  const a = new Event(base, null, 0, () => {
    order.push("a");
    base.defer(() => order.push("deferred"));
  });
  const b = new Event(base, null, 0, () => order.push("b"));
  a.active(EV_TIMEOUT);
  b.active(EV_TIMEOUT);
  await within(base.loop(), 1000, "loop");
  assert.deepEqual(order, ["a", "b", "deferred"]);
});

test("loop({ nonblock }) runs only what is ready; loop({ once }) waits for one event, runs it and returns", async () => {
  const { base, clock } = manualBase();
  const ran: string[] = [];
  new Event(base, null, 0, () => ran.push("t10")).add(10);
  new Event(base, null, 0, () => ran.push("t20")).add(20);
  const ready = new Event(base, null, 0, () => ran.push("ready"));
  ready.active(EV_TIMEOUT);
  assert.equal(await within(base.loop({ nonblock: true }), 1000, "nonblock"), 0);
  assert.deepEqual(ran, ["ready"]);
  const once = base.loop({ once: true });
  clock.advance(15);
  assert.equal(await within(once, 1000, "once"), 0);
  assert.deepEqual(ran, ["ready", "t10"]);
  assert.equal(base.countEvents().added, 1);
  const rest = base.loop();
  clock.advance(10);
  assert.equal(await within(rest, 1000, "rest"), 1);
  assert.deepEqual(ran, ["ready", "t10", "t20"]);
});

test("noExitOnEmpty keeps the loop running with no events until loopBreak", async () => {
  const { base } = manualBase();
  const running = base.loop({ noExitOnEmpty: true });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(base.running, true);
  base.loopBreak();
  assert.equal(await within(running, 1000, "loop"), 0);
  assert.equal(base.gotBreak(), true);
});

test("passes that leave no timer due keep the armed runtime timer rather than setting one per pass", async () => {
  const manual = new ManualClock();
  let sets = 0;
  const clock = {
    now: () => manual.now(),
    setTimer: (fn: () => void, ms: number) => {
      sets++;
      return manual.setTimer(fn, ms);
    },
    clearTimer: (handle: unknown) => manual.clearTimer(handle as never),
  };
  const base = new EventBase({ platform, clock });
  // Pending with no timeout: the loop keeps a far keepalive timer armed.
  const idle = new Event(base, null, EV_PERSIST, () => {});
  idle.add();
  let runs = 0;
  const kick = new Event(base, null, 0, () => runs++);
  const loop = base.dispatch();
  for (let i = 0; i < 50; i++) {
    manual.advance(1);
    kick.active(EV_READ);
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal(runs, 50);
  assert.ok(sets <= 2, `the runtime timer was set ${sets} times over 50 passes`);
  idle.del();
  base.loopBreak();
  await within(loop, 1000, "loop");
});

test("a second loop while one runs rejects with ERR_LOOP_RUNNING", async () => {
  const { base, clock } = manualBase();
  new Event(base, null, 0, () => {}).add(10);
  const first = base.dispatch();
  await assert.rejects(base.dispatch(), (err: unknown) => err instanceof EventError && err.code === "ERR_LOOP_RUNNING");
  clock.advance(10);
  await within(first, 1000, "first loop");
});

test("a callback that throws rejects the loop with that error and stops it", async () => {
  const { base } = manualBase();
  const boom = new Error("boom");
  new Event(base, null, 0, () => {
    throw boom;
  }).active(EV_TIMEOUT);
  await assert.rejects(base.loop(), (err: unknown) => err === boom);
  assert.equal(base.running, false);
});

test("the cached time holds through an iteration until updateCacheTime", async () => {
  const { base, clock } = manualBase();
  let seen: number[] = [];
  new Event(base, null, 0, () => {
    const before = base.now();
    clock.advance(7);
    const cached = base.now();
    base.updateCacheTime();
    seen = [before, cached, base.now()];
  }).add(3);
  const done = base.dispatch();
  clock.advance(3);
  await within(done, 1000, "dispatch");
  assert.deepEqual(seen, [3, 3, 10]);
});

test("pending() reports the flags an event waits for; free() makes later add() throw", () => {
  const { base } = manualBase();
  const ev = new Event(base, null, 0, () => {});
  assert.equal(ev.pending(), 0);
  ev.add(100);
  assert.equal(ev.pending(), EV_TIMEOUT);
  assert.equal(ev.timeoutDeadline, 100);
  ev.add(40);
  assert.equal(ev.timeoutDeadline, 40, "adding again resets the timeout");
  ev.del();
  assert.equal(ev.pending(), 0);
  assert.equal(ev.timeoutDeadline, undefined);
  ev.free();
  assert.equal(ev.initialized, false);
  assert.throws(() => ev.add(1), { name: "LeventError", code: "ERR_FREED", message: "add: the Event was freed" });
});

test("dumpEvents lists inserted and active events", () => {
  const { base } = manualBase();
  const timer = new Event(base, null, EV_PERSIST, () => {});
  timer.add(25);
  const act = new Event(base, null, 0, () => {});
  act.active(EV_TIMEOUT);
  const dump = base.dumpEvents();
  assert.match(dump, /Inserted events: 1/);
  assert.match(dump, /Event\(timer, PERSIST, priority 0, due 25\.000\)/);
  assert.match(dump, /Active events: 1/);
  assert.match(dump, /\[0\] Event\(timer, 0, priority 0, active TIMEOUT\)/);
  timer.del();
  act.del();
  assert.equal(base.countEvents().active, 0);
});

test("bad arguments throw TypeError or RangeError naming the argument", () => {
  const { base } = manualBase();
  const cb = (): void => {};
  assert.throws(() => new Event(base, null, 0x1000, cb), { name: "RangeError", message: /events/ });
  assert.throws(() => new Event(base, null, 0, "nope" as unknown as () => void), {
    name: "TypeError",
    message: /callback/,
  });
  assert.throws(() => new Event(base, null, EV_READ, cb), { name: "TypeError", message: /source/ });
  assert.throws(() => new Event(base, null, EV_SIGNAL, cb), { name: "TypeError", message: /source/ });
  assert.throws(() => new Event({} as EventBase, null, 0, cb), { name: "TypeError", message: /base/ });
  const ev = new Event(base, null, 0, cb);
  assert.throws(() => ev.add(-1), { name: "RangeError", message: /timeoutMs/ });
  assert.throws(() => ev.add(Number.NaN), { name: "RangeError", message: /timeoutMs/ });
  assert.throws(() => ev.prioritySet(5), { name: "RangeError", message: /priority/ });
  assert.throws(() => base.priorityInit(0), { name: "RangeError", message: /n must/ });
  assert.throws(() => base.loopExit(-5), { name: "RangeError", message: /delayMs/ });
  ev.active(EV_TIMEOUT);
  assert.throws(
    () => base.priorityInit(4),
    (err: unknown) => err instanceof EventError && err.code === "ERR_EVENT_ACTIVE",
  );
  ev.del();
});

test("a signal event fires with EV_SIGNAL each time the signal arrives, until deleted", async () => {
  const base = new EventBase({ platform });
  const got = deferred();
  let calls = 0;
  const sig = new Event(base, "SIGUSR1", EV_SIGNAL | EV_PERSIST, (source, what) => {
    assert.equal(source, "SIGUSR1");
    assert.equal(what, EV_SIGNAL);
    if (++calls === 2) {
      sig.del();
      got.resolve();
    } else {
      process.kill(process.pid, "SIGUSR1");
    }
  });
  sig.add();
  const done = base.dispatch();
  process.kill(process.pid, "SIGUSR1");
  await within(got.promise, 5000, "two signals");
  await within(done, 5000, "dispatch");
  assert.equal(calls, 2);
});

test("a signal the runtime cannot deliver is refused by add() with ERR_SIGNAL_UNSUPPORTED naming it", async () => {
  const base = new EventBase({ platform });
  for (const name of ["SIGKILL", "SIGSTOP", "SIGFOO"]) {
    const ev = new Event(base, name as SignalName, EV_SIGNAL, () => {});
    assert.throws(() => ev.add(), (err: unknown) => {
      assert.ok(err instanceof EventError, `${name}: ${String(err)}`);
      assert.equal(err.code, "ERR_SIGNAL_UNSUPPORTED");
      assert.match(err.message, new RegExp(name));
      return true;
    });
    assert.equal(ev.pending(), 0);
  }
  assert.equal(base.countEvents().added, 0);
  // Nothing was left watching: the loop has nothing to wait for.
  assert.equal(await within(base.loop(), 1000, "loop"), 1);
});

test("a platform whose addSignalListener throws still gives ERR_SIGNAL_UNSUPPORTED, with the cause", () => {
  const raw = new Error("uv_signal_start EINVAL");
  const throwing: Platform = {
    ...platform,
    addSignalListener: () => {
      throw raw;
    },
  };
  const base = new EventBase({ platform: throwing });
  assert.throws(() => new Event(base, "SIGUSR2", EV_SIGNAL, () => {}).add(), (err: unknown) => {
    assert.ok(err instanceof EventError);
    assert.equal(err.code, "ERR_SIGNAL_UNSUPPORTED");
    assert.equal(err.cause, raw);
    return true;
  });
  assert.equal(base.countEvents().added, 0);
});

test("socket events: READ fires as data arrives, CLOSED when the peer closes, WRITE while the send queue is empty", async () => {
  const base = new EventBase({ platform });
  const enc = new TextEncoder();
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => {
    s.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
    s.write(enc.encode("hello "));
    s.write(enc.encode("world"));
    s.end();
  });
  const sock = new PollableSocket(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  const received: string[] = [];
  const seen: number[] = [];
  const dec = new TextDecoder();
  const reader = new Event(base, sock, EV_READ | EV_CLOSED | EV_PERSIST, (_s, what) => {
    seen.push(what);
    for (let chunk = sock.read(); chunk !== null; chunk = sock.read()) received.push(dec.decode(chunk));
    if (what & EV_CLOSED) {
      reader.del();
      sock.close();
    }
  });
  reader.add();
  let writable = 0;
  base.once(sock, EV_WRITE, (_s, what) => {
    writable = what;
  });
  await within(base.dispatch(), 5000, "dispatch");
  assert.equal(received.join(""), "hello world");
  assert.equal(writable, EV_WRITE);
  assert.ok(seen.some((w) => w & EV_CLOSED), `flags seen: ${seen}`);
  assert.ok(seen.every((w) => w & EV_READ), "EOF is readable too");
  await listener.close();
});

test("a READ event with a timeout reports EV_TIMEOUT when nothing arrives in time", async () => {
  const clock = new ManualClock();
  const base = new EventBase({ platform, clock });
  const listener = await platform.listen({ host: "127.0.0.1", port: 0 }, (s) => {
    s.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
  });
  const sock = new PollableSocket(await platform.connect({ host: "127.0.0.1", port: listener.address.port }));
  let what = 0;
  base.once(sock, EV_READ, (_s, w) => {
    what = w;
  }, 250);
  const done = base.dispatch();
  clock.advance(249);
  assert.equal(what, 0);
  clock.advance(1);
  await within(done, 1000, "dispatch");
  assert.equal(what, EV_TIMEOUT);
  sock.close();
  await listener.close();
});
