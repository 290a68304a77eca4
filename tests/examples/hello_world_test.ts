import { test } from "node:test";
import assert from "node:assert/strict";
import { autoPlatform } from "../../adapters/auto.ts";
import { exchange, within } from "../util.ts";
import { cannotRunExamples, listeningPort, startExample } from "./spawn_example.ts";

const platform = autoPlatform();
const skip = cannotRunExamples();

/** Connect, read until the server closes, return the text. */
async function readAll(port: number): Promise<string> {
  return exchange(await platform.connect({ host: "127.0.0.1", port }));
}

test("hello-world greets each connection with Hello, World! and closes it; SIGTERM exits 0", { skip }, async () => {
  const ex = startExample("hello-world", ["--port", "0"]);
  try {
    const port = await listeningPort(ex);
    assert.match(ex.stdout(), /^listening on tcp:\/\/127\.0\.0\.1:\d+\n$/);
    const replies = await Promise.all([readAll(port), readAll(port), readAll(port)]);
    assert.deepEqual(replies, ["Hello, World!\n", "Hello, World!\n", "Hello, World!\n"]);
    ex.kill("SIGTERM");
    assert.equal(await within(ex.exited, 10000, "exit"), 0);
  } finally {
    ex.kill("SIGKILL");
  }
});

test("hello-world rejects an unknown flag and a bad port with one line on stderr and exit 2", { skip }, async () => {
  const unknown = startExample("hello-world", ["--bogus"]);
  assert.equal(await within(unknown.exited, 20000, "exit"), 2);
  assert.match(unknown.stderr(), /bogus/);
  assert.equal(unknown.stderr().trim().split("\n").length, 1);
  const badPort = startExample("hello-world", ["--port", "99999"]);
  assert.equal(await within(badPort.exited, 20000, "exit"), 2);
  assert.match(badPort.stderr(), /--port/);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`hello-world on ${signal} exits 0 within 5 s while a client that never reads nor closes stays connected`, {
    skip,
  }, async () => {
    const ex = startExample("hello-world", ["--port", "0"]);
    try {
      const port = await listeningPort(ex);
      const stuck = await platform.connect({ host: "127.0.0.1", port });
      stuck.start({ data() {}, end() {}, drain() {}, error() {}, close() {} });
      stuck.pause();
      const greeted = await readAll(port);
      assert.equal(greeted, "Hello, World!\n");
      const t0 = Date.now();
      ex.kill(signal);
      assert.equal(await within(ex.exited, 10000, "exit"), 0);
      const ms = Date.now() - t0;
      assert.ok(ms < 5000, `exited ${ms} ms after ${signal}`);
      stuck.close();
    } finally {
      ex.kill("SIGKILL");
    }
  });
}
