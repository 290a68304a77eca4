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
// Names, not `export *`: what the module's files share among themselves
// stays out of the public API.
export { LeventError, type LeventErrorOptions } from "../errors.ts";
export {
  EV_ALL_FLAGS,
  EV_CLOSED,
  EV_ET,
  EV_IO_FLAGS,
  EV_PERSIST,
  EV_READ,
  EV_SIGNAL,
  EV_TIMEOUT,
  EV_WRITE,
  flagNames,
} from "./flags.ts";
export { EventError, type EventErrorCode } from "./event_error.ts";
export {
  Event,
  EventBase,
  type EventBaseOptions,
  type EventCallback,
  type EventCounts,
  type EventSource,
  type LoopOptions,
  type LoopResult,
} from "./event_base.ts";
export { ManualClock } from "./manual_clock.ts";
export { type Pollable, PollableSocket, type PollableSocketOptions, type PollListener } from "./pollable.ts";
export { getDefaultPlatform, setDefaultPlatform } from "./default_platform.ts";
