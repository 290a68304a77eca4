import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/event/mod.ts";

test("ManualClock fires due timers in deadline order with now() at each deadline", () => {
  const clock = new ManualClock(1000);
  const seen: string[] = [];
  clock.setTimer(() => seen.push(`b@${clock.now()}`), 20);
  clock.setTimer(() => {
    seen.push(`a@${clock.now()}`);
    clock.setTimer(() => seen.push(`nested@${clock.now()}`), 5);
  }, 10);
  const cancelled = clock.setTimer(() => seen.push("cancelled"), 15);
  clock.clearTimer(cancelled);
  clock.advance(9);
  assert.deepEqual(seen, []);
  clock.advance(100);
  assert.deepEqual(seen, ["a@1010", "nested@1015", "b@1020"]);
  assert.equal(clock.now(), 1109);
  assert.equal(clock.pendingTimers, 0);
});

test("ManualClock.advance rejects a negative or non-finite step", () => {
  const clock = new ManualClock();
  assert.throws(() => clock.advance(-1), { name: "RangeError", message: /ms/ });
  assert.throws(() => clock.advance(Infinity), { name: "RangeError", message: /ms/ });
});
