/**
 * The event loop: libevent's event.h. {@linkcode EventBase} runs timers,
 * signals and I/O readiness events by priority.
 *
 * @example
 * ```ts
 * import { EventBase, EV_PERSIST, Event } from "@levent/levent/event";
 * const base = new EventBase();
 * let n = 0;
 * const ev = new Event(base, null, EV_PERSIST, () => { if (++n === 3) ev.del(); });
 * ev.add(5);
 * await base.dispatch();
 * ```
 *
 * @module
 */
export * from "./flags.ts";
export * from "./event_error.ts";
export { LeventError, type LeventErrorOptions } from "../errors.ts";
export * from "./event_base.ts";
export * from "./manual_clock.ts";
export * from "./pollable.ts";
export * from "./default_platform.ts";
export type { HeapEntry } from "./min_heap.ts";
export type { TimerEntry, TimerList } from "./timer_queue.ts";
