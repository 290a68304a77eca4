// WorkerGroup and WorkerContext: worker threads each running an EventBase.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { autoPlatform } from "../../adapters/auto.ts";
import { EventBase } from "../../src/event/mod.ts";
import { ThreadError, WorkerContext, WorkerGroup } from "../../src/thread/mod.ts";
import { exchange, within } from "../util.ts";

const platform = autoPlatform();
const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const WORKER = new URL(`./fixtures/group_worker${ext}`, import.meta.url);

/** Messages from a group's workers, with a wait for the next one that matches. */
class Messages {
  readonly all: { index: number; value: Record<string, unknown> }[] = [];
  #waiters: (() => void)[] = [];

  readonly onMessage = (index: number, value: unknown): void => {
    this.all.push({ index, value: value as Record<string, unknown> });
    for (const wake of this.#waiters.splice(0)) wake();
  };

  async until(what: string, match: (m: { index: number; value: Record<string, unknown> }) => boolean): Promise<void> {
    const deadline = Date.now() + 20000;
    while (!this.all.some(match)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), 20000, what);
    }
  }
}

/** Whether this runtime shares ports (Node before 22.12 / 23.1 does not). */
function sharesPorts(): boolean {
  if (platform.name !== "node") return true;
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

test("workers start with their index and the group's data, take messages, and report as events on the base", async () => {
  const base = new EventBase({ platform });
  const messages = new Messages();
  const group = WorkerGroup.start(WORKER, { count: 2, data: { tag: "x" }, base, onMessage: messages.onMessage });
  const loop = base.dispatch();
  try {
    const ready = await within(group.ready(), 30000, "ready") as { index: number; data: unknown; count: number }[];
    assert.deepEqual(ready.map((r) => [r.index, r.data, r.count]), [[0, { tag: "x" }, 2], [1, { tag: "x" }, 2]]);
    const ids = group.threadIds();
    assert.equal(new Set(ids).size, 2);
    assert.equal(group.count, 2);
    group.send(1, { echo: "to one" });
    await messages.until("the echo of worker 1", (m) => m.value.echo === "to one");
    assert.deepEqual(messages.all.filter((m) => m.value.echo === "to one").map((m) => m.index), [1]);
    group.broadcast({ echo: "to all" });
    await messages.until("both echoes", (m) => m.value.echo === "to all" && m.index === 0);
    await messages.until("both echoes", (m) => m.value.echo === "to all" && m.index === 1);
    // The worker ran onMessage on its loop, and the group's callback ran on ours.
    assert.ok(messages.all.every((m) => m.value.onLoop === true));
  } finally {
    await within(group.stop(), 20000, "stop");
  }
  assert.equal(group.state, "stopped");
  await within(loop, 5000, "the base's loop ends once the group has stopped");
  assert.throws(() => group.send(0, {}), (err: unknown) => err instanceof ThreadError && err.code === "ERR_STOPPED");
});

test("a crashing worker is reported through onCrash while the others keep working, and restart replaces it", async () => {
  const base = new EventBase({ platform });
  const messages = new Messages();
  const crashes: { index: number; error: ThreadError }[] = [];
  const group = WorkerGroup.start(WORKER, {
    count: 2,
    base,
    onMessage: messages.onMessage,
    onCrash: (index, error) => crashes.push({ index, error }),
    restart: true,
    restartDelayMs: 10,
  });
  const loop = base.dispatch();
  try {
    await within(group.ready(), 30000, "ready");
    const before = group.threadIds();
    group.send(1, { crash: "worker one fails" });
    const deadline = Date.now() + 20000;
    while (crashes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(crashes.length, 1);
    assert.equal(crashes[0].index, 1);
    assert.ok(crashes[0].error instanceof ThreadError);
    assert.equal(crashes[0].error.code, "ERR_WORKER_FAILED");
    assert.match(crashes[0].error.message, /worker one fails/);
    group.send(0, { echo: "still here" });
    await messages.until("worker 0 answering", (m) => m.index === 0 && m.value.echo === "still here");
    // The replacement at index 1 answers too, from another thread.
    while (Date.now() < deadline) {
      const ids = group.threadIds();
      if (ids[1] !== -1 && ids[1] !== before[1]) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(group.threadIds()[1], before[1]);
    assert.equal(group.threadIds()[0], before[0]);
    // Sent while the replacement still loads: it waits for it.
    group.send(1, { echo: "again" });
    await messages.until("the replacement's answer", (m) => m.index === 1 && m.value.echo === "again");
  } finally {
    await within(group.stop(), 20000, "stop");
  }
  await within(loop, 5000, "the loop's end");
  assert.equal(crashes.length, 1, "a graceful stop is no crash");
});

test("a worker that exits by itself is a crash too; without restart ready() rejects when it never got ready", async () => {
  const crashes: ThreadError[] = [];
  const group = WorkerGroup.start(WORKER, { count: 1, platform, onCrash: (_i, error) => crashes.push(error) });
  try {
    await within(group.ready(), 30000, "ready");
    group.send(0, { exit: 3 });
    const deadline = Date.now() + 20000;
    while (crashes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(crashes.length, 1);
    assert.match(crashes[0].message, /exited with code 3/);
    assert.deepEqual(group.threadIds(), [-1]);
  } finally {
    await within(group.stop(), 20000, "stop");
  }
  const failing = WorkerGroup.start(new URL(`./no_such_worker${ext}`, WORKER), { count: 1, platform });
  await assert.rejects(
    within(failing.ready(), 30000, "ready"),
    (err: unknown) => err instanceof ThreadError && err.code === "ERR_WORKER_FAILED",
  );
  await within(failing.stop(), 20000, "stop");
});

test("stop() runs each worker's onStop and waits for it; a worker that outlasts graceMs is terminated", async () => {
  const messages = new Messages();
  const group = WorkerGroup.start(WORKER, {
    count: 2,
    platform,
    data: { stopDelayMs: 200 },
    onMessage: messages.onMessage,
  });
  await within(group.ready(), 30000, "ready");
  const started = Date.now();
  await within(group.stop({ graceMs: 10000 }), 20000, "stop");
  assert.ok(Date.now() - started >= 150, "stop waited for the shutdowns");
  assert.deepEqual(messages.all.filter((m) => m.value.stopping === true).map((m) => m.index).sort(), [0, 1]);
  assert.equal(group.state, "stopped");
  assert.deepEqual(group.threadIds(), [-1, -1]);

  const hung = WorkerGroup.start(WORKER, { count: 1, platform, data: { hangOnStop: true } });
  await within(hung.ready(), 30000, "ready");
  await within(hung.stop({ graceMs: 100 }), 10000, "the stop of a worker whose shutdown hangs");
  assert.equal(hung.state, "stopped");
});

test("workers serve one port with reusePort: connections reach more than one, and a graceful stop loses no request in flight", async () => {
  const group = WorkerGroup.start(WORKER, { count: 1, platform, data: { httpPort: 0 } });
  const [first] = await within(group.ready(), 30000, "the first worker") as { port?: number; error?: string }[];
  if (!sharesPorts()) {
    assert.equal(first.error, "ERR_NOT_SUPPORTED");
    await group.stop();
    return;
  }
  assert.equal(first.error, undefined);
  const port = first.port!;
  await within(group.stop(), 20000, "stop");

  const servers = WorkerGroup.start(WORKER, { count: 2, platform, data: { httpPort: port } });
  try {
    const ready = await within(servers.ready(), 30000, "ready") as { port: number; threadId: number }[];
    assert.deepEqual(ready.map((r) => r.port), [port, port]);
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      const socket = await platform.connect({ host: "127.0.0.1", port });
      const reply = await exchange(socket, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.match(reply, /^HTTP\/1\.1 200 OK/);
      seen.add(reply.slice(reply.indexOf("\r\n\r\n") + 4));
    }
    assert.deepEqual([...seen].sort(), ready.map((r) => `thread ${r.threadId}`).sort());

    // Requests in flight on both workers when the stop begins: each is answered.
    const slow = await Promise.all(
      Array.from({ length: 8 }, () => platform.connect({ host: "127.0.0.1", port })),
    );
    const replies = slow.map((socket) =>
      exchange(socket, "GET /?ms=300 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", undefined, 20000)
    );
    await new Promise((r) => setTimeout(r, 100));
    const stopped = servers.stop({ graceMs: 5000 });
    for (const reply of await Promise.all(replies)) assert.match(reply, /^HTTP\/1\.1 200 OK[\s\S]*thread \d+$/);
    await within(stopped, 20000, "stop");
  } finally {
    await servers.stop();
  }
});

test("WorkerContext.attach on the main thread fails with ERR_NOT_A_WORKER", async () => {
  const base = new EventBase({ platform });
  await assert.rejects(
    WorkerContext.attach(base),
    (err: unknown) => err instanceof ThreadError && err.code === "ERR_NOT_A_WORKER",
  );
});

test("bad arguments get a TypeError or RangeError naming them", async () => {
  assert.throws(() => WorkerGroup.start(WORKER, { count: 0, platform }), (err: unknown) => {
    return err instanceof RangeError && /options\.count/.test(err.message);
  });
  assert.throws(() => WorkerGroup.start(42 as unknown as string, { count: 1, platform }), (err: unknown) => {
    return err instanceof TypeError && /moduleUrl/.test(err.message);
  });
  assert.throws(
    () => WorkerGroup.start(WORKER, { count: 1, platform, onCrash: 1 as unknown as () => void }),
    (err: unknown) => {
      return err instanceof TypeError && /options\.onCrash/.test(err.message);
    },
  );
  const group = WorkerGroup.start(WORKER, { count: 1, platform });
  try {
    assert.throws(() => group.send(1, {}), (err: unknown) => err instanceof RangeError && /index/.test(err.message));
    await assert.rejects(
      group.stop({ graceMs: -1 }),
      (err: unknown) => err instanceof RangeError && /options\.graceMs/.test(err.message),
    );
  } finally {
    await within(group.stop(), 20000, "stop");
  }
});
