import { test } from "node:test";
import assert from "node:assert/strict";
import { LeventError } from "../src/errors.ts";
import { BufferError, EvBuffer } from "../src/buffer/mod.ts";
import { EventBase, EventError, ManualClock } from "../src/event/mod.ts";
import { HttpError } from "../src/http/mod.ts";

test("LeventError carries a code, a message, a name and an optional cause", () => {
  const plain = new LeventError("ERR_SOMETHING", "something went wrong");
  assert.ok(plain instanceof Error);
  assert.equal(plain.name, "LeventError");
  assert.equal(plain.code, "ERR_SOMETHING");
  assert.equal(plain.message, "something went wrong");
  assert.equal("cause" in plain, false);
  const root = new Error("ECONNRESET");
  const caused = new LeventError("ERR_SOMETHING", "wrapped", { cause: root });
  assert.equal(caused.cause, root);
});

test("every module's error class is a LeventError with its own name and code", () => {
  const cause = new Error("underneath");
  const errors: [LeventError, string, string][] = [
    [new EventError("ERR_LOOP_RUNNING", "running", { cause }), "EventError", "ERR_LOOP_RUNNING"],
    [new BufferError("ERR_FROZEN", "frozen", { cause }), "BufferError", "ERR_FROZEN"],
    [new HttpError("ERR_CONNECT", "refused", 502, { cause }), "HttpError", "ERR_CONNECT"],
  ];
  for (const [err, name, code] of errors) {
    assert.ok(err instanceof LeventError, name);
    assert.ok(err instanceof Error, name);
    assert.equal(err.name, name);
    assert.equal(err.code, code);
    assert.equal(err.cause, cause);
  }
  assert.equal((errors[2][0] as HttpError).status, 502);
  assert.equal(new HttpError("ERR_BODY_TOO_LARGE", "big").status, 413);
});

test("errors the library raises are LeventErrors a caller can branch on by code", async () => {
  const buf = new EvBuffer();
  buf.freeze(true);
  assert.throws(() => buf.drain(1), (e: unknown) => e instanceof LeventError && e.code === "ERR_FROZEN");
  const base = new EventBase({ clock: new ManualClock() });
  base.free();
  await assert.rejects(base.dispatch(), (e: unknown) => e instanceof LeventError && e.code === "ERR_BASE_FREED");
});
