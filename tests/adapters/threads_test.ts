// The threads part of the adapter contract (src/platform.ts Threads): every
// adapter passes it unchanged, on the runtime's own workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import type { Platform, WorkerHandlers, WorkerThread } from "../../src/platform.ts";
import { deferred, within } from "../util.ts";

const platform: Platform = autoPlatform();
const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const ECHO = new URL(`../thread/fixtures/echo_worker${ext}`, import.meta.url);

/** A worker whose messages, errors and exit are recorded; `next()` waits for the next message. */
class Recorder implements WorkerHandlers {
  readonly messages: unknown[] = [];
  readonly errors: Error[] = [];
  readonly exited = deferred<number>();
  exits = 0;
  #read = 0;
  #waiters: (() => void)[] = [];

  message(value: unknown): void {
    this.messages.push(value);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  error(err: Error): void {
    this.errors.push(err);
  }

  exit(code: number): void {
    this.exits++;
    this.exited.resolve(code);
  }

  async next(what: string): Promise<unknown> {
    while (this.#read >= this.messages.length) {
      const arrived = new Promise<void>((resolve) => this.#waiters.push(resolve));
      await within(arrived, 20000, what);
    }
    return this.messages[this.#read++];
  }
}

function startEcho(data: unknown, recorder: Recorder): WorkerThread {
  return platform.threads.start(ECHO, { data, name: "echo" }, recorder);
}

test("a worker starts from a module URL, gets its initial data, and answers messages in order", async () => {
  const r = new Recorder();
  const worker = startEcho({ greeting: "hi", bytes: new Uint8Array([1, 2, 3]) }, r);
  try {
    // Posted before the worker's module listens: none is lost.
    for (let i = 0; i < 50; i++) worker.post({ echo: i });
    const hello = await r.next("the greeting") as { hello: { greeting: string; bytes: Uint8Array }; threadId: number };
    assert.equal(hello.hello.greeting, "hi");
    assert.deepEqual([...hello.hello.bytes], [1, 2, 3]);
    assert.equal(hello.threadId, worker.threadId);
    assert.equal((hello as unknown as { isMainThread: boolean }).isMainThread, false);
    for (let i = 0; i < 50; i++) assert.deepEqual(await r.next(`echo ${i}`), { echo: i });
  } finally {
    await worker.terminate();
  }
  assert.equal(await within(r.exited.promise, 10000, "exit"), 1);
  assert.equal(r.exits, 1);
});

test("ArrayBuffers in the transfer list move both ways instead of being copied", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  try {
    await r.next("the greeting");
    const buffer = new Uint8Array([5, 6, 7]).buffer;
    worker.post({ bytes: buffer }, [buffer]);
    assert.equal(buffer.byteLength, 0, "the sender's buffer is detached");
    const back = await r.next("the sum") as { sum: number; buffer: ArrayBuffer };
    assert.equal(back.sum, 18);
    assert.deepEqual([...new Uint8Array(back.buffer)], [5, 6, 7]);
    assert.deepEqual(await r.next("detached"), { detached: true });
  } finally {
    await worker.terminate();
  }
});

test("an ArrayBuffer posted before the worker listens moves at once too", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  try {
    const buffer = new Uint8Array([1, 2]).buffer;
    worker.post({ bytes: buffer }, [buffer]);
    assert.equal(buffer.byteLength, 0, "the sender's buffer is detached at once");
    await r.next("the greeting");
    assert.equal((await r.next("the sum") as { sum: number }).sum, 3);
  } finally {
    await worker.terminate();
  }
});

test("a worker's exit(code) reaches the exit handler once, after what it posted before", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  await r.next("the greeting");
  worker.post({ exit: 7, before: ["a", "b"] });
  assert.equal(await within(r.exited.promise, 20000, "exit"), 7);
  assert.deepEqual(r.messages.slice(1), ["a", "b"]);
  await worker.terminate();
  assert.equal(r.exits, 1);
  assert.deepEqual(r.errors, []);
});

test("an uncaught error in a worker reaches the error handler, then exit with code 1", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  await r.next("the greeting");
  worker.post({ throw: "boom in the worker" });
  assert.equal(await within(r.exited.promise, 20000, "exit"), 1);
  assert.equal(r.errors.length, 1);
  assert.ok(r.errors[0] instanceof Error);
  assert.match(r.errors[0].message, /boom in the worker/);
  await worker.terminate();
  assert.equal(r.exits, 1);
});

test("a module that cannot be loaded is reported as an error, then exit", async () => {
  const r = new Recorder();
  const worker = platform.threads.start(new URL(`./no_such_worker${ext}`, ECHO), {}, r);
  try {
    assert.equal(await within(r.exited.promise, 20000, "exit"), 1);
    assert.equal(r.errors.length, 1);
  } finally {
    await worker.terminate();
  }
});

test("terminate() ends a running worker: exit with code 1, and posting after it does nothing", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  await r.next("the greeting");
  await worker.terminate();
  assert.equal(await within(r.exited.promise, 10000, "exit"), 1);
  worker.post({ echo: "late" });
  await worker.terminate();
  assert.equal(r.exits, 1);
});

test("close() stops the handlers without stopping the worker", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  try {
    await r.next("the greeting");
    worker.close();
    worker.post({ echo: "unheard" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(r.messages.length, 1);
  } finally {
    await worker.terminate();
  }
  assert.equal(r.exits, 0);
});

test("message ports made by createPorts carry messages between threads, in order", async () => {
  const r = new Recorder();
  const worker = startEcho(null, r);
  const [mine, theirs] = platform.threads.createPorts();
  const got: unknown[] = [];
  const all = deferred<void>();
  const link = platform.threads.openPort(mine, (value) => {
    got.push(value);
    if (got.length === 20) all.resolve();
  });
  try {
    await r.next("the greeting");
    worker.post({ port: theirs }, [theirs]);
    assert.deepEqual(await r.next("opened"), { opened: true });
    for (let i = 0; i < 20; i++) link.post(i);
    await within(all.promise, 20000, "the answers on the port");
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => ({ back: i })));
  } finally {
    link.close();
    await worker.terminate();
  }
});

test("on the main thread workerSelf() is null and isMainThread is true", async () => {
  assert.equal(platform.threads.isMainThread, true);
  assert.equal(await platform.threads.workerSelf(), null);
});

test("bad arguments: a module URL that is no URL, a port that is no port (TypeError, EINVAL)", () => {
  const r = new Recorder();
  assert.throws(() => platform.threads.start("not a url", {}, r), (err: Error & { code?: string }) => {
    assert.ok(err instanceof TypeError);
    assert.equal(err.code, "EINVAL");
    return true;
  });
  assert.throws(() => platform.threads.openPort({}, () => {}), (err: Error & { code?: string }) => {
    assert.ok(err instanceof TypeError);
    assert.equal(err.code, "EINVAL");
    return true;
  });
});
