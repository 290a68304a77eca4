import { test } from "node:test";
import assert from "node:assert/strict";
import { type TimerEntry, TimerQueue } from "../../src/event/timer_queue.ts";
import { prng } from "../util.ts";

interface Timer extends TimerEntry {
  id: number;
}

function timer(id: number): Timer {
  return { id, deadline: 0, seq: 0, timerList: null, timerPrev: null, timerNext: null };
}

test("TimerQueue releases timers in (deadline, insertion) order under random schedules, cancels and pops, matching a sorted model", () => {
  const random = prng(99);
  const q = new TimerQueue<Timer>();
  const pool = Array.from({ length: 300 }, (_, i) => timer(i));
  const model = new Set<Timer>();
  let now = 0;
  for (let step = 0; step < 30_000; step++) {
    const op = random(10);
    const t = pool[random(pool.length)];
    if (op < 4) {
      // Few durations, as in real use, so lists hold many timers; sometimes
      // an earlier-than-tail deadline, as a persistent timer keeping cadence.
      const duration = [5, 10, 50, 1000][random(4)];
      const deadline = op === 0 ? now + random(duration + 1) : now + duration;
      q.schedule(t, duration, deadline);
      model.add(t);
    } else if (op < 7) {
      q.unschedule(t);
      model.delete(t);
      assert.equal(q.has(t), false);
    } else {
      now += random(20);
      const expected = [...model].filter((m) => m.deadline <= now).sort((a, b) =>
        a.deadline - b.deadline || a.seq - b.seq
      );
      for (const e of expected) {
        assert.equal(q.popDue(now), e);
        model.delete(e);
      }
      assert.equal(q.popDue(now), undefined);
    }
    assert.equal(q.size, model.size);
    const min = Math.min(...[...model].map((m) => m.deadline));
    assert.equal(q.earliest(), model.size === 0 ? Infinity : min);
  }
  assert.equal(q.entries().length, model.size);
});

test("TimerQueue keeps equal-duration timers first in, first out, and cancelling a head leaves the next one due", () => {
  const q = new TimerQueue<Timer>();
  const [a, b, c] = [timer(1), timer(2), timer(3)];
  q.schedule(a, 100, 100);
  q.schedule(b, 100, 100);
  q.schedule(c, 100, 150);
  assert.equal(q.earliest(), 100);
  q.unschedule(a);
  assert.equal(q.earliest(), 100);
  assert.equal(q.popDue(99), undefined);
  assert.equal(q.popDue(100), b);
  assert.equal(q.earliest(), 150);
  q.unschedule(c);
  assert.equal(q.earliest(), Infinity);
  assert.equal(q.popDue(1e9), undefined);
  assert.equal(q.size, 0);
});
