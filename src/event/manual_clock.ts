/**
 * A clock whose time moves only when told to, for deterministic tests of
 * timers, timeouts and rate limits.
 *
 * @module
 */
import { checkMs } from "../check.ts";
import type { Clock, TimerHandle } from "../platform.ts";

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A {@linkcode Clock} driven by hand: `now()` stays put until
 * {@linkcode ManualClock.advance} moves it, firing due timers in order.
 *
 * @example
 * ```ts
 * import { EventBase, ManualClock } from "@levent/levent/event";
 * const clock = new ManualClock();
 * const base = new EventBase({ clock });
 * let fired = false;
 * base.once(null, 0, () => { fired = true; }, 1000);
 * const done = base.dispatch();
 * clock.advance(1000);
 * await done;
 * console.log(fired); // true
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  /** Start the clock at `start` milliseconds (default 0). */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current manual time. */
  now(): number {
    return this.#now;
  }

  /** Schedule `fn` at now + delayMs; it runs inside a later advance(). */
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return timer;
  }

  /** Cancel a pending timer. */
  clearTimer(handle: TimerHandle): void {
    const i = this.#timers.indexOf(handle as ManualTimer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** How many timers are pending. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Move time forward by `ms`, firing each timer that falls due, in deadline
   * order, with `now()` set to its deadline while it runs.
   *
   * @throws {TypeError} if `ms` is not a number
   * @throws {RangeError} if `ms` is negative or not finite
   */
  advance(ms: number): void {
    checkMs(ms, "ms");
    const end = this.#now + ms;
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.at > end) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
