// WorkQueue: a module's exported functions run on a pool of threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { ThreadError, WorkQueue } from "../../src/thread/mod.ts";
import { deferred, within } from "../util.ts";

const platform = autoPlatform();
const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const WORK = new URL(`./fixtures/work_functions${ext}`, import.meta.url);

function isThreadError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof ThreadError && err.code === code;
}

test("results arrive through the callback as events on the base, and through the Promise form", async () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK, { threads: 2 });
  try {
    const results: number[] = [];
    let offLoop = 0;
    for (let i = 0; i < 20; i++) {
      queue.run<number>("add", [i, 100], (err, result) => {
        if (!base.running) offLoop++;
        assert.equal(err, null);
        results.push(result!);
        if (results.length === 20) void queue.close();
      });
    }
    assert.equal(queue.queued + queue.running, 20);
    // The open queue keeps the loop alive; once closed, the loop ends.
    await within(base.dispatch(), 30000, "the results");
    assert.equal(offLoop, 0);
    assert.deepEqual(results.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 100));
  } finally {
    await queue.close();
  }
  const again = WorkQueue.start(base, WORK, { threads: 2 });
  const loop = base.dispatch();
  try {
    assert.equal(await again.run<number>("add", [2, 3]), 5);
    assert.deepEqual(await again.run("slow", [10, { a: [1] }]), { a: [1] });
  } finally {
    await again.close();
  }
  await within(loop, 5000, "the loop's end");
});

test("errors: what the function threw (name, message, code), and ERR_NO_SUCH_FUNCTION", async () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK);
  const loop = base.dispatch();
  try {
    await assert.rejects(queue.run("fail", ["bad input"]), (err: Error & { code?: string }) => {
      assert.equal(err.name, "TypeError");
      assert.equal(err.message, "bad input");
      assert.equal(err.code, "E_FIXTURE");
      return true;
    });
    await assert.rejects(queue.run("nope"), isThreadError("ERR_NO_SUCH_FUNCTION"));
    await assert.rejects(queue.run("notAFunction"), isThreadError("ERR_NO_SUCH_FUNCTION"));
    assert.equal(await queue.run("add", [1, 1]), 2, "the thread goes on after errors");
  } finally {
    await queue.close();
  }
  await within(loop, 5000, "the loop's end");
});

test("a full queue refuses with ERR_QUEUE_FULL until a task is taken; waitForSpace waits for it", async () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK, { threads: 1, maxQueued: 2 });
  const loop = base.dispatch();
  try {
    const first = queue.run("slow", [300, "first"]);
    const waiting = [queue.run("add", [1, 2]), queue.run("add", [3, 4])];
    assert.equal(queue.running, 1);
    assert.equal(queue.queued, 2);
    assert.equal(queue.full, true);
    assert.throws(() => queue.run("add", [0, 0], () => {}), isThreadError("ERR_QUEUE_FULL"));
    await assert.rejects(queue.run("add", [0, 0]), isThreadError("ERR_QUEUE_FULL"));
    let spaced = false;
    const space = queue.waitForSpace().then(() => spaced = true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(spaced, false);
    assert.equal(await first, "first");
    await within(space, 10000, "space");
    assert.equal(queue.full, false);
    assert.deepEqual(await Promise.all(waiting), [3, 7]);
  } finally {
    await queue.close();
  }
  await within(loop, 5000, "the loop's end");
});

test("a task not yet started can be cancelled (cancel() or its signal); a running one cannot", async () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK, { threads: 1 });
  const loop = base.dispatch();
  try {
    const running = deferred<unknown>();
    const runningTask = queue.run("slow", [200, "done"], (err, result) => running.resolve(err ?? result));
    const cancelled = deferred<Error | null>();
    const queuedTask = queue.run("add", [1, 1], (err) => cancelled.resolve(err));
    assert.equal(runningTask.state, "running");
    assert.equal(queuedTask.state, "queued");
    assert.equal(queuedTask.cancel(), true);
    assert.equal(queuedTask.cancel(), false);
    assert.equal(queuedTask.state, "cancelled");
    assert.equal(runningTask.cancel(), false);
    const controller = new AbortController();
    const aborted = queue.run("add", [2, 2], { signal: controller.signal });
    controller.abort(new Error("not needed"));
    await assert.rejects(aborted, isThreadError("ERR_CANCELLED"));
    assert.ok(isThreadError("ERR_CANCELLED")(await cancelled.promise));
    assert.equal(await running.promise, "done");
    assert.equal(runningTask.state, "done");
    const early = new AbortController();
    early.abort();
    await assert.rejects(queue.run("add", [1, 2], { signal: early.signal }), isThreadError("ERR_CANCELLED"));
  } finally {
    await queue.close();
  }
  await within(loop, 5000, "the loop's end");
});

test("ArrayBuffers move in and results move back; a thread that dies fails its task and is replaced", async () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK, { threads: 1 });
  const loop = base.dispatch();
  try {
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    const sum = queue.run("sum", [buffer], { transfer: [buffer] });
    assert.equal(buffer.byteLength, 0, "moved, not copied");
    assert.equal(await sum, 10);
    const bytes = await queue.run<Uint8Array>("bytes", [300]);
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(bytes.length, 300);
    assert.equal(bytes[299], 299 & 0xff);
    await assert.rejects(within(queue.run("crash"), 20000, "the crash"), (err: unknown) => {
      assert.ok(isThreadError("ERR_WORKER_FAILED")(err));
      return true;
    });
    assert.equal(await within(queue.run("add", [20, 22]), 20000, "the replacement thread"), 42);
  } finally {
    await queue.close();
  }
  await within(loop, 5000, "the loop's end");
});

test("close() fails what waits or runs with ERR_STOPPED; a module that cannot load fails with ERR_WORKER_FAILED", async () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK, { threads: 1 });
  const loop = base.dispatch();
  const running = queue.run("slow", [5000, "never"]);
  const waiting = queue.run("add", [1, 1]);
  const failures = [
    assert.rejects(running, isThreadError("ERR_STOPPED")),
    assert.rejects(waiting, isThreadError("ERR_STOPPED")),
  ];
  await new Promise((r) => setTimeout(r, 50));
  await queue.close();
  await Promise.all(failures);
  assert.throws(() => queue.run("add", [1, 1], () => {}), isThreadError("ERR_STOPPED"));
  await within(loop, 5000, "the loop's end");

  const broken = WorkQueue.start(base, new URL(`./no_such_module${ext}`, WORK));
  const loop2 = base.dispatch();
  await assert.rejects(within(broken.run("add", [1, 1]), 20000, "the failure"), isThreadError("ERR_WORKER_FAILED"));
  await assert.rejects(broken.run("add", [1, 1]), isThreadError("ERR_WORKER_FAILED"));
  await broken.close();
  await within(loop2, 5000, "the loop's end");
});

test("freeing the base closes its work queues: their threads end, and run() says ERR_STOPPED", () => {
  const base = new EventBase({ platform });
  const queue = WorkQueue.start(base, WORK, { threads: 2 });
  base.free();
  assert.throws(() => queue.run("add", [1, 1], () => {}), isThreadError("ERR_STOPPED"));
});

test("bad arguments get a TypeError or RangeError naming them", async () => {
  const base = new EventBase({ platform });
  assert.throws(() => WorkQueue.start(base, WORK, { threads: 0 }), (err: unknown) => {
    return err instanceof RangeError && /options\.threads/.test(err.message);
  });
  assert.throws(() => WorkQueue.start(base, WORK, { maxQueued: -1 }), (err: unknown) => {
    return err instanceof RangeError && /options\.maxQueued/.test(err.message);
  });
  assert.throws(() => WorkQueue.start(base, 7 as unknown as string), (err: unknown) => {
    return err instanceof TypeError && /moduleUrl/.test(err.message);
  });
  const queue = WorkQueue.start(base, WORK);
  try {
    assert.throws(
      () => queue.run("", [], () => {}),
      (err: unknown) => err instanceof TypeError && /name/.test(err.message),
    );
    await assert.rejects(
      queue.run("add", 5 as unknown as unknown[]),
      (err: unknown) => err instanceof TypeError && /args/.test(err.message),
    );
    await assert.rejects(
      queue.run("add", [], { signal: "x" as unknown as AbortSignal }),
      (err: unknown) => err instanceof TypeError && /options\.signal/.test(err.message),
    );
  } finally {
    await queue.close();
  }
});
